"""Protocol v1, the server's side of encoding: replies, event rows, event-stream topics and frames.

docs/protocol.md is the contract; protocol.py decodes and validates requests and re-exports these.
Replies are packed once and kept as bytes (a batch reply is an array header followed by the packed
replies, so remembered replies are reused byte for byte).
"""

from __future__ import annotations

from typing import Any, Hashable

import msgspec

from ..events import Event
from ..fast_events import KIND_NAMES  # by the kind's code; protocol re-exports it


def event_row(e: Event) -> tuple:
    """An event as the eight-value wire array (a tuple of plain values: msgpack packs it as an array, and the
    host keeps it as it is for ``events_since``, where the garbage collector soon stops tracking it)."""
    return (e.seq, e.time_s, KIND_NAMES[e.kind], e.call_id, e.agent_id, e.queue, e.detail, e.value)


#: msgspec's encoder writes the bytes ``msgpack.packb(obj, use_bin_type=True)`` writes for the values the server
#: packs (None, bool, int, float, str, bytes, lists, tuples, maps: tests/server/test_decode_fast.py), 2-6 times
#: faster (docs/performance.md, "Decoding requests").
pack = msgspec.msgpack.Encoder().encode


def ok_reply(rid: Any, events: list[Event], result: Any = None) -> bytes:
    body = {"id": rid, "ok": True, "events": [event_row(e) for e in events]}
    if result is not None:
        body["result"] = result
    return pack(body)


_OK_HEAD = b"\x83\xa2id"  # a 3-entry map and its first key: the bytes ok_reply packs before the id
_OK_TAIL = b"\xa2ok\xc3\xa6events"


def ok_reply_rows(rid: Any, rows: list[list]) -> bytes:
    """``ok_reply(rid, events)`` for events already turned into rows: the same bytes, one pack call less."""
    return _OK_HEAD + pack(rid) + _OK_TAIL + pack(rows)


def error_reply(rid: Any, code: str, message: str) -> bytes:
    return pack({"id": rid, "ok": False, "error": {"code": code, "message": message}})


def join_replies(parts: list[bytes], batch: bool) -> bytes:
    """One reply frame: the single packed reply, or an array of them (no re-encoding)."""
    if not batch:
        return parts[0]
    n = len(parts)
    head = bytes([0x90 | n]) if n < 16 else (b"\xdc" + n.to_bytes(2, "big") if n < 65536
                                            else b"\xdd" + n.to_bytes(4, "big"))
    return head + b"".join(parts)


def topic_of_agent(agent: Hashable) -> bytes:
    return b"agent:" + str(agent).encode()


def topic_of_queue(queue: str) -> bytes:
    return b"queue:" + queue.encode()


_TOPICS: dict[tuple[int, Hashable], bytes] = {}  # ids come from the configuration: bounded by its size


def _topic(kind: int, name: Hashable) -> bytes:
    key = (kind, name)
    t = _TOPICS.get(key)
    if t is None:
        t = _TOPICS[key] = topic_of_agent(name) if kind == 0 else topic_of_queue(name)
    return t


def stream_frames(rows: list[tuple], tseq: dict[bytes, int], boot: str = "", *,
                  wanted: "Interest | None" = None) -> list[tuple[bytes, bytes]]:
    """The event-stream messages for one wake-up's events (wire rows, :func:`event_row`): ``all`` plus one
    per agent and queue named.

    ``tseq`` counts messages sent per topic (updated in place); ``boot`` names the server run; ``wanted``
    limits the messages to topics some subscriber asked for (None: every topic)."""
    if not rows:
        return []
    groups: dict[bytes, list] = {}
    if wanted is None or wanted(b"all"):
        groups[b"all"] = rows
    if wanted is None or wanted.per_topic:
        for row in rows:
            for kind, name in ((0, row[4]), (1, row[5])):
                if name is not None:
                    t = _topic(kind, name)
                    g = groups.get(t)
                    if g is None:
                        if wanted is not None and not wanted(t):
                            continue
                        groups[t] = [row]
                    else:
                        g.append(row)
    seq0, seq1 = rows[0][0], rows[-1][0]
    out = []
    for topic, grp in groups.items():
        n = tseq.get(topic, 0) + 1
        tseq[topic] = n
        out.append((topic, pack({"seq0": seq0, "seq1": seq1, "tseq": n, "boot": boot, "events": grp})))
    return out


class Interest:
    """Which topics have a subscriber, from the subscriptions an XPUB socket reports (ZeroMQ prefix matching).

    :meth:`update` takes one XPUB message (``\\x01`` + prefix: subscribe, ``\\x00`` + prefix: the last
    subscriber of that prefix left); calling the object with a topic says whether any prefix matches it.
    ``per_topic`` is false while no subscription can match an ``agent:``/``queue:`` topic, so the stream
    skips grouping events by topic. Cost: O(subscriptions) per new topic, then a dict lookup."""

    def __init__(self) -> None:
        self.prefixes: set[bytes] = set()
        self.per_topic = False
        self._cache: dict[bytes, bool] = {}

    def update(self, message: bytes) -> None:
        if not message or message[0] not in (0, 1):
            return  # not a subscription message: ignored
        if message[0] == 1:
            self.prefixes.add(message[1:])
        else:
            self.prefixes.discard(message[1:])
        self._cache.clear()
        self.per_topic = any(p.startswith((b"agent:", b"queue:")) or b"agent:".startswith(p)
                             or b"queue:".startswith(p) for p in self.prefixes)

    def __call__(self, topic: bytes) -> bool:
        hit = self._cache.get(topic)
        if hit is None:
            hit = self._cache[topic] = any(topic.startswith(p) for p in self.prefixes)
        return hit
