"""Event-stream bookkeeping without I/O: gap detection, gap filling plans and de-duplication.

One :class:`StreamTracker` per subscription. For each stream message the
driver (blocking or asyncio) asks :meth:`StreamTracker.gap`; when it returns
a range it fetches ``events_since`` pages over that range and hands them to
:meth:`StreamTracker.take_fill`, then hands the message itself to
:meth:`StreamTracker.take_message`. Both return only events not delivered
before.

Invariants:

1. On topic ``all`` the delivered seqs are exactly ``start+1, start+2, …``
   (gap-free, ascending, each once): a message whose first seq is not the
   last delivered + 1 opens a gap that is filled first.
2. On other topics (``agent:<id>``, ``queue:<name>``) a gap is a ``tseq``
   that is not the previous + 1 (a restarted server counts from 1 again), or
   a first message that starts after the subscription's start; the fill is
   ``events_since`` filtered to the events naming that agent or queue. Each
   seq is delivered once (a bounded memory of recent seqs drops duplicates
   between overlapping topics and fills).
3. A periodic :meth:`StreamTracker.check` (one ``ping``) fills what the
   messages cannot reveal: a loss just before the stream went quiet, and a
   restart (a new ``boot``) hidden by a ``tseq`` that happened to continue.
4. Nothing at or before the subscription's start seq is delivered.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

from .records import Event, events_from_wire

CHECK_EVERY_S = 1.0  # a subscription pings the server this often (StreamTracker.check)
SEEN_MEMORY = 200_000  # recent seqs remembered per subscription to drop duplicates (non-"all" topics)
ALL = "all"


def _matches(topic: str, ev: Event) -> bool:
    if topic == ALL:
        return True
    kind, _, name = topic.partition(":")
    if kind == "agent":
        return ev.agent is not None and str(ev.agent) == name
    if kind == "queue":
        return ev.queue == name
    return False


def check_topics(topics: Iterable[str]) -> tuple[str, ...]:
    out = tuple(topics)
    if not out:
        raise ValueError("subscribe to at least one topic: 'all', 'agent:<id>' or 'queue:<name>'")
    for t in out:
        if not isinstance(t, str) or not (t == ALL or t.startswith(("agent:", "queue:")) and len(t) > 6):
            raise ValueError(f"topic must be 'all', 'agent:<id>' or 'queue:<name>', got {t!r}")
    if ALL in out:  # 'all' carries every event: other topics would only duplicate it
        return (ALL,)
    return tuple(dict.fromkeys(out))


def check_since(since: object) -> None:
    if since is not None and (isinstance(since, bool) or not isinstance(since, int) or since < 0):
        raise ValueError(f"since must be an event seq ≥ 0 (or None: from now), got {since!r}")


class StreamTracker:
    """Gap detection and de-duplication for one subscription (see the module docstring)."""

    def __init__(self, topics: Iterable[str], start_seq: int):
        self.topics = check_topics(topics)
        self.start_seq = int(start_seq)  # nothing at or before this seq is delivered
        self.last_seq = int(start_seq)  # topic "all": the last seq delivered
        self.watermark = {t: int(start_seq) for t in self.topics}  # per topic: complete up to this seq
        self.tseq: dict[str, int | None] = {t: None for t in self.topics}
        self.confirmed = dict(self.watermark)  # per topic: complete up to here as of the last check
        self.boot: Any = None
        self._seen: set[int] = set()
        self._order: deque[int] = deque()
        self.gaps_filled = 0
        self.duplicates_dropped = 0

    def _remember(self, seq: int) -> bool:
        if seq in self._seen:
            self.duplicates_dropped += 1
            return False
        self._seen.add(seq)
        self._order.append(seq)
        if len(self._order) > SEEN_MEMORY:
            self._seen.discard(self._order.popleft())
        return True

    def gap(self, topic: str, msg: dict[str, Any]) -> tuple[int, int] | None:
        """The range ``(after_seq, upto_seq)`` to fill before ``msg``, or None when nothing was missed."""
        seq0 = int(msg.get("seq0", 0))
        if topic == ALL:
            return (self.last_seq, seq0 - 1) if seq0 > self.last_seq + 1 else None
        last_t = self.tseq.get(topic)
        wm = self.watermark.get(topic, self.last_seq)
        if last_t is not None and msg.get("tseq") == last_t + 1:
            return None
        return (wm, seq0 - 1) if seq0 > wm + 1 else None

    def take_fill(self, topic: str, events: Iterable[Event], upto_seq: int) -> list[Event]:
        """Events of an ``events_since`` fill up to ``upto_seq`` not delivered before, in seq order."""
        out: list[Event] = []
        if topic == ALL:
            for ev in events:
                if self.last_seq < ev.seq <= upto_seq:
                    out.append(ev)
                    self.last_seq = ev.seq
            self.gaps_filled += 1
            return out
        for ev in events:
            if self.start_seq < ev.seq <= upto_seq and _matches(topic, ev) and self._remember(ev.seq):
                out.append(ev)
        self.watermark[topic] = max(self.watermark.get(topic, 0), upto_seq)
        self.gaps_filled += 1
        return out

    def take_message(self, topic: str, msg: dict[str, Any]) -> list[Event]:
        """The message's events not delivered before (call after filling its gap, if any)."""
        events = events_from_wire(msg.get("events"))
        out: list[Event] = []
        if topic == ALL:
            for ev in events:
                if ev.seq > self.last_seq:
                    out.append(ev)
                    self.last_seq = ev.seq
                else:
                    self.duplicates_dropped += 1
            return out
        for ev in events:
            if ev.seq > self.start_seq and self._remember(ev.seq):
                out.append(ev)
        tseq = msg.get("tseq")
        self.tseq[topic] = tseq if isinstance(tseq, int) else None
        self.watermark[topic] = max(self.watermark.get(topic, 0), int(msg.get("seq1", 0)))
        return out

    def check(self, boot: Any, server_seq: int) -> list[tuple[str, int, int]]:
        """Fills ``(topic, after_seq, upto_seq)`` needed, given the server's ``boot`` and last seq (a ``ping``).

        Called every ``CHECK_EVERY_S``, whatever the traffic. It catches two
        things the messages cannot show: events lost just before the stream
        went quiet, and, on topics other than ``all``, a restart whose first
        messages were lost while the next ones happened to continue the old
        ``tseq`` count. A changed ``boot`` refills every topic from the point
        the previous check confirmed."""
        restarted = self.boot is not None and boot != self.boot
        self.boot = boot
        if self.topics == (ALL,):
            return [(ALL, self.last_seq, server_seq)] if server_seq > self.last_seq else []
        if restarted:
            for t in self.topics:
                self.tseq[t] = None
                self.watermark[t] = self.confirmed[t]
        plans = [(t, wm, server_seq) for t, wm in self.watermark.items() if server_seq > wm]
        self.confirmed = {t: max(wm, server_seq) for t, wm in self.watermark.items()}
        return plans

    def initial(self, events: Iterable[Event]) -> list[Event]:
        """The catch-up fill of a subscription that starts in the past (``since``)."""
        if self.topics == (ALL,):
            return self.take_fill(ALL, events, 1 << 62)
        events = list(events)
        out = [ev for ev in events if ev.seq > self.start_seq and any(_matches(t, ev) for t in self.topics)
               and self._remember(ev.seq)]
        last = events[-1].seq if events else self.last_seq
        for t in self.topics:
            self.watermark[t] = max(self.watermark[t], last)
        return out


def parse_message(parts: list[bytes], topics: tuple[str, ...]) -> tuple[str, dict[str, Any]] | None:
    """(topic, payload map) of a two-part stream message, or None when it is not one of ours.

    ZeroMQ subscriptions match by prefix (``agent:17`` also matches
    ``agent:170``), so the topic frame must equal a subscribed topic."""
    import msgpack

    if len(parts) != 2:
        return None
    try:
        topic = parts[0].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if topic not in topics:
        return None
    try:
        msg = msgpack.unpackb(parts[1], raw=False, strict_map_key=False)
    except Exception:  # msgpack raises several unrelated types on garbage
        return None
    return (topic, msg) if isinstance(msg, dict) else None
