"""The journal's small types: the fsync policy (``--fsync``), a commit's timing, what recovery found.

Kept apart from journal.py so the CLI can check ``--fsync`` without the journal itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .journal_recovery import JournalRecords

FSYNC_POLICIES = ("always", "batch", "interval:MS", "never")
MAX_INTERVAL_MS = 60_000


@dataclass(frozen=True)
class FsyncPolicy:
    """When a commit calls fsync: ``mode`` in always | batch | interval | never; ``interval_ms`` for interval."""

    mode: str
    interval_ms: int = 0

    def __str__(self) -> str:
        return f"interval:{self.interval_ms}" if self.mode == "interval" else self.mode


def parse_fsync(text: str) -> FsyncPolicy:
    """``always``, ``batch``, ``interval:MS`` (MS an integer 1..60000) or ``never``; ValueError otherwise."""
    if isinstance(text, FsyncPolicy):
        return text
    t = str(text).strip().lower()
    if t in ("always", "batch", "never"):
        return FsyncPolicy(t)
    if t.startswith("interval:"):
        ms = t.split(":", 1)[1]
        if ms.isdigit() and 1 <= int(ms) <= MAX_INTERVAL_MS:
            return FsyncPolicy("interval", int(ms))
    raise ValueError(f"fsync policy must be always, batch, interval:MS (MS an integer 1..{MAX_INTERVAL_MS}) "
                     f"or never, got {text!r}")


class CommitTiming(NamedTuple):
    """One commit: records and bytes written, seconds in write() and in fsync() (0 when none ran)."""

    records: int
    bytes: int
    write_s: float
    fsync_s: float


class Recovery(NamedTuple):
    """What :meth:`Journal.open` found. ``header`` None: a new journal (nothing to replay). ``records``: those
    after the snapshot, already checked, read from disk one at a time as they are iterated (replay them before
    the journal is snapshotted)."""

    header: dict | None
    snapshot_meta: dict | None
    snapshot_blob: bytes | None
    records: JournalRecords
    torn: str | None
