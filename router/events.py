"""The router's output: typed, sequence-numbered event records."""

from __future__ import annotations

from typing import Hashable, NamedTuple

from .codes import EventKind


class Event(NamedTuple):
    """One decision or state change.

    ``seq`` is gap-free and starts at 1; ``time_s`` is when it happened (a
    timer's own deadline for timer-fired events). ``call_id``/``agent_id`` are
    the caller's external ids, ``queue`` the queue name, or ``None``.
    ``detail`` and ``value`` depend on ``kind`` (see docs/router-api.md).
    """

    seq: int
    time_s: float
    kind: EventKind
    call_id: Hashable | None
    agent_id: Hashable | None
    queue: str | None
    detail: str
    value: float

    def as_tuple(self) -> tuple:
        """Plain tuple (kind as int) for msgpack/journal encoding."""
        return (self.seq, self.time_s, int(self.kind), self.call_id, self.agent_id,
                self.queue, self.detail, self.value)
