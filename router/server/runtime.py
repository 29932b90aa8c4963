"""What the server loop runs with: its options, its clock, and how the garbage collector is kept quiet."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass
from pathlib import Path


class ServerError(Exception):
    """The server cannot start or carry on; the message says why."""


class StartupError(ServerError):
    """The server cannot start because of what it was given or where it runs: an endpoint the OS refuses, a
    journal folder that cannot be used, keys, a journal written by another configuration or engine.
    ``busyhour serve`` exits 2 with the message (1 stays for internal errors and failures while serving)."""


@dataclass
class ServerOptions:
    config: Path
    bind: str = "tcp://127.0.0.1:5570"
    pub: str = "tcp://127.0.0.1:5571"
    journal: Path | None = None
    fsync: str = "batch"
    metrics: tuple[str, int] | None = None
    curve_keys: Path | None = None
    insecure: bool = False
    max_frame_bytes: int = 1 << 20
    idem_capacity: int = 1_000_000
    ring_capacity: int = 1_000_000
    snapshot_every: int = 200_000  # engine requests between snapshots
    snapshot_interval_s: float = 300.0  # ... or this long, if any engine request came in
    hwm: int = 100_000
    engine: str = "auto"  # auto | compiled | python (server/engines.py)
    keep_snapshots: int = 2  # snapshots kept; the journal is kept from the oldest of them


class Clock:
    """Server time: seconds since the epoch, monotonic within a run, never before ``floor_s``."""

    def __init__(self, epoch_unix_s: float, floor_s: float):
        self._t0 = max(floor_s, time.time() - epoch_unix_s)
        self._m0 = time.monotonic()

    def now(self) -> float:
        return self._t0 + (time.monotonic() - self._m0)


GC_GEN0_THRESHOLD = 20_000  # allocations between young collections (CPython's default, 700, collects ~30× as often)


def quiet_gc() -> None:
    """Keep the cyclic garbage collector off the long-lived heap.

    What exists when the loop starts (imported modules, the configuration, the
    recovered engine) is moved out of the collector's reach (``gc.freeze``):
    without that, each full collection walked every object of numba, typer and
    the engine, pausing the loop for up to a few hundred ms. Objects still die
    by reference counting; the collector keeps running for what the loop
    allocates, less often."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)
