"""The server's engine host: applies protocol commands to the one router, with no I/O.

The loop (``loop.py``) owns sockets and the clock; the journal owns files.
This module sits between them and the engine and is pure: given a time and
the requests drained in one wake-up, it returns the replies, the events and
the journal record, always the same for the same inputs.

Specification
-------------
* **One wake-up, one time.** :meth:`Host.step` first fires the engine's timers
  due at ``now`` (``advance``), then applies every request in arrival order at
  that same ``now``. Timer events belong to no request.
* **Idempotency.** An engine operation is remembered under (client routing id,
  request id) with its packed reply, for the last ``idem_capacity`` operations
  (FIFO eviction). A repeat gets the remembered bytes and is not applied.
  Queries are answered afresh and never remembered.
* **Journal record.** ``["b", now, cmds, seq_after]`` with every engine
  operation applied (remembered repeats and protocol refusals excluded), or
  ``["a", now, [], seq_after]`` when only timers fired. :meth:`replay` applies
  a record exactly as :meth:`step` did, so replaying a journal rebuilds the
  same engine, the same idempotency table and the same next ``seq``.
* **Refusals change nothing.** A request the protocol refuses never reaches
  the engine. A request the engine refuses raises before changing state
  (docs/router-api.md); its implicit advance is empty because :meth:`step`
  advanced first.

Cost: O(requests + events) Python work per wake-up on top of the engine.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import pickle
from collections import deque
from typing import Any, Callable, NamedTuple

import msgpack

from .. import views
from ..codes import EventKind
from ..config import RouterConfig
from ..engine import Router
from ..errors import OfferError, RouterError, StateError, UnknownIdError
from ..events import Event
from . import protocol as P

log = logging.getLogger("busyhour.server")

SNAPSHOT_FORMAT = 2  # 2: the kept events as plain tuples (kind as int); format 1 snapshots still load
SNAPSHOT_FORMATS = (1, 2)


class Work(NamedTuple):
    """The requests of one received frame: reply envelope, client identity, decoded items, batch or not."""

    envelope: list[bytes]
    client: bytes
    items: list
    batch: bool


class Outcome(NamedTuple):
    """What one wake-up produced: reply frames, events in seq order, journal payload (or None)."""

    replies: list[tuple[list[bytes], bytes]]
    events: list[Event]
    record: bytes | None
    ops: list[tuple[str, str]]  # (op, status) per request, for metrics; status "ok" or an error code
    applied: int  # engine requests applied (the journal record's commands)
    rows: list[list]  # the events as wire rows (protocol.event_row), built once for replies and stream


class ReplayError(Exception):
    """A journal record does not reproduce what the live server recorded."""


def _error_code(exc: Exception) -> str:
    if isinstance(exc, UnknownIdError):
        return P.UNKNOWN_ID
    if isinstance(exc, OfferError):
        return P.OFFER
    if isinstance(exc, StateError):
        return P.STATE
    return P.BAD_REQUEST


class Host:
    """One engine, its idempotency table and its recent events."""

    def __init__(self, config: RouterConfig, *, idem_capacity: int = 1_000_000, ring_capacity: int = 1_000_000):
        self.router = Router(config)
        self.config = config
        self.idem_capacity = int(idem_capacity)
        self.ring_capacity = int(ring_capacity)
        self._idem: dict[tuple[bytes, Any], bytes] = {}
        self._idem_order: deque = deque()
        self._ring: list[Event] = []
        self.last_seq = 0
        self.time_s = 0.0
        self.history: Callable[[int, int], list[Event]] | None = None  # older events, from the journal
        self._apply = {
            "arrive": self._arrive, "accept": lambda r, t, f: r.offer_accept(t, f["call"], f["agent"]),
            "reject": lambda r, t, f: r.offer_reject(t, f["call"], f["agent"], busy=f.get("busy", False)),
            "release": lambda r, t, f: r.call_release(t, f["call"], wrap_up_s=f.get("wrap_up_s")),
            "abandon": lambda r, t, f: r.call_abandon(t, f["call"]),
            "transfer": lambda r, t, f: r.transfer(t, f["call"], queue=f.get("queue"), agent=f.get("agent"),
                                                   context=f.get("context")),
            "callback": lambda r, t, f: r.request_callback(t, f["call"], f["number"]),
            "login": lambda r, t, f: r.agent_login(t, f["agent"], ready=f.get("ready", False)),
            "logout": lambda r, t, f: r.agent_logout(t, f["agent"]),
            "ready": lambda r, t, f: r.agent_ready(t, f["agent"]),
            "not_ready": lambda r, t, f: r.agent_not_ready(t, f["agent"], f.get("reason", "break")),
        }
        self._query = {
            "ping": self._ping, "agent": lambda f: views.agent_view(self.router, f["agent"])._asdict(),
            "call": lambda f: views.call_view(self.router, f["call"])._asdict(),
            "queue": lambda f: views.queue_view(self.router, f["queue"])._asdict(),
            "position": lambda f: self.router.position(f["call"])._asdict(),
            "stats": self._stats, "snapshot": self._snapshot, "events_since": self._events_since,
        }
        self.boot = ""
        self.epoch_unix_s = 0.0

    # ------------------------------------------------------------ engine operations
    @staticmethod
    def _arrive(r: Router, t: float, f: dict) -> list[Event]:
        return r.call_arrive(t, f["call"], f["queue"], priority=f.get("priority", 0), skills=f.get("skills"),
                             channel=f.get("channel", "voice"), preferred_agent=f.get("preferred_agent"),
                             preferred_fallback_s=f.get("preferred_fallback_s"), context=f.get("context"))

    def _engine(self, now: float, client: bytes, rid: Any, op: str,
                fields: dict) -> tuple[list[Event], str, bytes, list[list]]:
        """Apply one engine op, note its events and remember its reply under (client, rid):
        (events, status, reply, rows), status "ok" or the error code (a refusal changes nothing: no events)."""
        try:
            events = self._apply[op](self.router, now, fields)
        except RouterError as exc:
            status = _error_code(exc)
            events, rows, reply = [], [], P.error_reply(rid, status, str(exc))
        else:
            rows = [P.event_row(e) for e in events]
            status, reply = "ok", P.ok_reply_rows(rid, rows)
            self._note(events)
        self._remember((client, rid), reply)
        return events, status, reply, rows

    def _remember(self, key: tuple[bytes, Any], reply: bytes) -> None:
        if key in self._idem:
            return
        self._idem[key] = reply
        self._idem_order.append(key)
        while len(self._idem_order) > self.idem_capacity:
            self._idem.pop(self._idem_order.popleft(), None)

    def _note(self, events: list[Event]) -> None:
        if not events:
            return
        self._ring.extend(events)
        self.last_seq = events[-1].seq
        if len(self._ring) > 2 * self.ring_capacity:
            del self._ring[: len(self._ring) - self.ring_capacity]

    def step(self, now: float, works: list[Work]) -> Outcome:
        """Advance to ``now``, then answer every request of ``works`` in order."""
        self.time_s = now
        all_events = self.router.advance(now)
        self._note(all_events)
        all_rows = [P.event_row(e) for e in all_events]
        replies: list[tuple[list[bytes], bytes]] = []
        cmds: list[list] = []
        ops: list[tuple[str, str]] = []
        idem, engine = self._idem, self._engine
        error_reply, queries, refused = P.error_reply, P.QUERY_OPS, P.Refused
        for w in works:
            parts = []
            client = w.client
            for item in w.items:
                if type(item) is refused:
                    parts.append(error_reply(item.rid, item.code, item.message))
                    ops.append(("?", item.code))
                    continue
                op = item.op
                if op in queries:
                    parts.append(self._answer(item))
                    ops.append((op, "query"))
                    continue
                key = (client, item.rid)
                seen = idem.get(key)
                if seen is not None:
                    parts.append(seen)
                    ops.append((op, "repeat"))
                    continue
                events, status, reply, rows = engine(now, client, item.rid, op, item.fields)
                all_events.extend(events)
                all_rows.extend(rows)
                cmds.append([client, item.rid, op, item.fields])
                parts.append(reply)
                ops.append((op, status))
            replies.append((w.envelope, parts[0] if not w.batch else P.join_replies(parts, True)))
        record = None
        if cmds or all_events:
            record = P.pack(["b" if cmds else "a", now, cmds, self.last_seq])
        return Outcome(replies, all_events, record, ops, len(cmds), all_rows)

    def replay(self, payload: bytes) -> list[Event]:
        """Apply one journal record as :meth:`step` did; return its events."""
        try:
            kind, now, cmds, seq_after = msgpack.unpackb(payload, raw=False, strict_map_key=False)
        except Exception as exc:
            raise ReplayError(f"journal record is not a server record ({type(exc).__name__})") from None
        self.time_s = now
        events = self.router.advance(now)
        self._note(events)
        for client, rid, op, fields in cmds:
            events.extend(self._engine(now, bytes(client), rid, op, fields)[0])
        if self.last_seq != seq_after:
            raise ReplayError(f"replaying the record at time {now!r} gave last seq {self.last_seq}, "
                              f"the journal says {seq_after}: the journal was written by a different engine "
                              "or configuration")
        return events

    # ------------------------------------------------------------ queries
    def _answer(self, cmd: P.Command) -> bytes:
        try:
            return P.ok_reply(cmd.rid, [], self._query[cmd.op](cmd.fields))
        except P.ProtocolError as exc:
            return P.error_reply(cmd.rid, exc.code, exc.message)
        except RouterError as exc:
            return P.error_reply(cmd.rid, _error_code(exc), str(exc))

    def _ping(self, _f: dict) -> dict:
        return {"time_s": self.time_s, "epoch_unix_s": self.epoch_unix_s, "seq": self.last_seq, "boot": self.boot}

    def _stats(self, _f: dict) -> dict:
        s = self.router.stats()
        return {"now_s": s.now_s, "queues": [dataclasses.asdict(q) for q in s.queues],
                "intervals": [dataclasses.asdict(i) for i in s.intervals],
                "agents": [dataclasses.asdict(a) for a in s.agents]}

    def _snapshot(self, _f: dict) -> dict:
        return {"seq": self.last_seq, "time_s": self.time_s,
                "agents": [a._asdict() for a in views.all_agents(self.router)],
                "calls": [c._asdict() for c in views.live_calls(self.router)]}

    def _events_since(self, f: dict) -> dict:
        events, more = self.events_since(f["seq"], f.get("limit", P.MAX_EVENTS_PER_REPLY))
        return {"events": [P.event_row(e) for e in events], "last_seq": self.last_seq, "more": more}

    def events_since(self, seq: int, limit: int = P.MAX_EVENTS_PER_REPLY) -> tuple[list[Event], bool]:
        """Events with seq > ``seq`` (at most ``limit``), and whether more follow."""
        if seq >= self.last_seq:
            return [], False
        first = self.oldest_kept_seq
        if seq + 1 >= first:
            lo = seq + 1 - first
            out = self._ring[lo: lo + limit]
        elif self.history is not None:
            out = self.history(seq, min(limit, first - seq - 1))
        else:
            raise P.ProtocolError(P.GONE, f"events after seq {seq} are no longer kept (oldest kept: {first}); "
                                          "resynchronise with 'snapshot'")
        return out, (out[-1].seq if out else seq) < self.last_seq

    @property
    def oldest_kept_seq(self) -> int:
        return self._ring[0].seq if self._ring else self.last_seq + 1

    # ------------------------------------------------------------ snapshots and digests
    def snapshot_meta(self, record: int) -> dict:
        arrived, ended = self.router.counts
        return {"record": record, "time_s": self.time_s, "seq": self.last_seq, "calls_live": arrived - ended,
                "agents": len(self.config.agents)}

    def to_blob(self, keep_events: int = 100_000) -> bytes:
        """The engine, idempotency table and the most recent events, as bytes (trusted files only)."""
        ring = self._ring[-keep_events:] if keep_events else []
        kind = int  # events as plain tuples: pickling an enum member per event took ~6 µs, tuples ~0.3 µs
        state = {"format": SNAPSHOT_FORMAT, "router": self.router, "idem": list(self._idem.items()),
                 "ring": [(e[0], e[1], kind(e[2]), *e[3:]) for e in ring], "last_seq": self.last_seq,
                 "time_s": self.time_s}
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def load_blob(self, blob: bytes) -> None:
        """Replace this host's state by a :meth:`to_blob` snapshot."""
        state = pickle.loads(blob)
        if not isinstance(state, dict) or state.get("format") not in SNAPSHOT_FORMATS:
            raise ReplayError("snapshot was written by an incompatible version of busyhour")
        self.router = state["router"]
        self._idem, self._idem_order = {}, deque()
        for key, reply in state["idem"]:
            self._remember(key, reply)
        self._ring = [Event(r[0], r[1], EventKind(r[2]), *r[3:]) for r in state["ring"]]
        self.last_seq = state["last_seq"]
        self.time_s = state["time_s"]

    def digest(self) -> str:
        """sha256 of everything observable: counts, clock, deadline, agents, live calls, statistics, seq."""
        r = self.router
        state = [list(r.counts), r.now, r.next_deadline(), self.last_seq,
                 [list(a) for a in views.all_agents(r)], [list(c) for c in views.live_calls(r)], self._stats({})]
        return hashlib.sha256(msgpack.packb(state, default=repr, strict_types=False)).hexdigest()
