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
* **One batch.** The engine operations of a wake-up are applied as one batch
  (one run of the compiled core; engines.py), cut only where a query or a
  resend of an operation of the same batch must see the operations before it,
  and around a ``reload``, which is applied alone (reloads.py). The result is
  the one request-by-request application gives.
* **Configuration.** :attr:`Host.config_track` is the configuration running:
  the startup one, then each successful reload's text and sha256;
  snapshots carry it.
* **Idempotency.** An engine operation is remembered (idem.py) under (client,
  request id) with its packed reply, for the last ``idem_capacity`` operations
  (FIFO eviction); the client is the request's ``client`` name as UTF-8 bytes,
  or else the frame's routing id (one namespace: protocol.py ``_client``). A
  repeat gets the remembered bytes and is not applied, whichever connection
  it came on. Queries are answered afresh and never remembered.
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
from typing import Any, Callable, NamedTuple

import msgpack

from ..codes import EventKind
from ..config import RouterConfig
from ..errors import OfferError, RouterError, StateError, UnknownIdError
from ..events import Event
from . import protocol as P
from .engines import PythonEngine, make_engine
from .idem import Remembered
from .reloads import ConfigTrack, apply_reload, ok_reply as reload_reply, text_sha256

log = logging.getLogger("busyhour.server")
_KIND_BY_NAME = {k.name: k for k in EventKind}

SNAPSHOT_FORMAT = 4  # 4: the configuration running; 3: the engine (either kind); 2: the kept events as plain
SNAPSHOT_FORMATS = (1, 2, 3, 4)  # tuples; 1 and 2 hold a Router


class Work(NamedTuple):
    """The requests of one received frame: reply envelope, client identity, decoded items, batch or not."""

    envelope: list[bytes]
    client: bytes
    items: list
    batch: bool


class Outcome(NamedTuple):
    """What one wake-up produced: reply frames, events in seq order, journal payload (or None)."""

    replies: list[tuple[list[bytes], bytes]]
    rows: list[tuple]  # the events as wire rows (protocol.event_row): the engines' form, for replies, stream, ring
    record: bytes | None
    ops: list[tuple[str, str]]  # (op, status) per request, for metrics; status "ok" or an error code
    applied: int  # engine requests applied (the journal record's commands)


class ReplayError(Exception):
    """A journal record does not reproduce what the live server recorded."""


def as_event(row: tuple) -> Event:
    """The ``Event`` record of a wire row (protocol.event_row's inverse)."""
    return Event(row[0], row[1], _KIND_BY_NAME[row[2]], *row[3:])


def _error_code(exc: Exception) -> str:
    if isinstance(exc, UnknownIdError):
        return P.UNKNOWN_ID
    if isinstance(exc, OfferError):
        return P.OFFER
    if isinstance(exc, StateError):
        return P.STATE
    return P.BAD_REQUEST


#: Requests that change the engine's tables (each copies tables that grow with the queues or agents: ms each at
#: thousands) taken per wake-up; later ones are refused ``too_large`` (not remembered: a resend is judged
#: afresh), so one frame of thousands cannot stop routing for a minute (docs/protocol.md, Limits).
STRUCTURAL_OPS = frozenset(("queue_add", "queue_remove", "agent_add", "agent_remove"))
MAX_STRUCTURAL_PER_WAKE = 100


class Host:
    """One engine, its idempotency table and its recent events."""

    def __init__(self, config: RouterConfig, *, engine: str = "auto", idem_capacity: int = 1_000_000,
                 ring_capacity: int = 1_000_000, config_text: str | None = None):
        self.engine = make_engine(config, engine)
        self.config = config  # the startup configuration
        self.config_track = ConfigTrack(config_text, None if config_text is None else text_sha256(config_text))
        self.reload_refusal: str | None = None  # why reloads are refused (a journal that cannot keep them), or None
        self.idem_capacity = int(idem_capacity)
        self.ring_capacity = int(ring_capacity)
        self._idem = Remembered(self.idem_capacity)
        self._ring: list[tuple] = []  # recent events as their wire rows (protocol.event_row): see _note
        self.last_seq = 0
        self.time_s = 0.0
        self.history: Callable[[int, int], list[Event]] | None = None  # older events, from the journal
        self._query = {
            "ping": self._ping, "agent": lambda f: self.engine.agent_view(f["agent"])._asdict(),
            "call": lambda f: self.engine.call_view(f["call"])._asdict(),
            "queue": lambda f: self.engine.queue_view(f["queue"])._asdict(),
            "position": lambda f: self.engine.position(f["call"])._asdict(),
            "stats": self._stats, "snapshot": self._snapshot, "events_since": self._events_since,
        }
        self.boot = ""
        self.epoch_unix_s = 0.0

    # ------------------------------------------------------------ engine operations
    def _apply(self, now: float, batch: list[tuple[tuple[bytes, Any], str, dict]]
               ) -> list[tuple[list[tuple], str, bytes]]:
        """Apply engine ops in order, note their events and remember each reply under (client, rid):
        per op (event rows, status, reply), status "ok" or the error code (a refusal: no events)."""
        if len(batch) == 1 and batch[0][1] == "reload":
            return [self._reload(now, *batch[0])]
        out = []
        results = self.engine.apply(now, [(op, fields) for _, op, fields in batch])
        for (key, _op, _f), (rows, exc) in zip(batch, results):
            if exc is None:
                status, reply = "ok", P.ok_reply_rows(key[1], rows)
                self._note(rows)
            else:
                status = _error_code(exc)
                reply = P.error_reply(key[1], status, str(exc))
            self._idem.add(key, reply)
            out.append((rows, status, reply))
        return out

    def _reload_refusal(self, cmd: P.Command, taken: list[int]) -> tuple[str, str] | None:
        """(code, message) refusing a reload before it reaches the engine (not remembered: a retry is judged
        afresh), or None. ``taken``: the text already taken by this wake-up's reloads, updated."""
        if self.reload_refusal is not None:
            return P.BAD_REQUEST, self.reload_refusal
        size = len(cmd.fields["config"])
        if taken[0] and taken[0] + size > P.MAX_CONFIG_BYTES:  # one journal record must hold them all
            return P.TOO_LARGE, (f"reloads in one wake-up hold at most {P.MAX_CONFIG_BYTES:,} characters of "
                                 "configuration; send this one again")
        taken[0] += size
        return None

    def _reload(self, now: float, key: tuple[bytes, Any], _op: str, fields: dict
                ) -> tuple[list[tuple], str, bytes]:
        """One ``reload`` (reloads.apply_reload), remembered like the other operations."""
        try:
            rows, summary = apply_reload(self.engine, now, fields["config"])
        except RouterError as exc:
            status, rows, reply = _error_code(exc), [], P.error_reply(key[1], _error_code(exc), str(exc))
        else:
            status, reply = "ok", reload_reply(key[1], rows, summary)
            self._note(rows)
            self.config_track = ConfigTrack(fields["config"], summary.config_sha256, now)
        self._idem.add(key, reply)
        return rows, status, reply

    def _note(self, rows: list[tuple]) -> None:
        """Keep events in the ring as their wire rows: a tuple of numbers and strings leaves the garbage
        collector's lists at its first young collection, an ``Event`` (it holds an ``EventKind``) never does.
        With a million kept events, each full collection walked them all: pauses of 50-300 ms."""
        if not rows:
            return
        self._ring.extend(rows)
        self.last_seq = rows[-1][0]
        if len(self._ring) > 2 * self.ring_capacity:
            del self._ring[: len(self._ring) - self.ring_capacity]

    def step(self, now: float, works: list[Work]) -> Outcome:
        """Advance to ``now``, then answer every request of ``works`` in order: the engine ops between
        two queries (or a repeat of an op not yet applied) are applied as one batch."""
        self.time_s = now
        all_rows = self.engine.advance(now)
        self._note(all_rows)
        replies: list[tuple[list[bytes], Any]] = []
        cmds: list[list] = []
        ops: list[tuple[str, str]] = []
        batch: list[tuple[tuple[bytes, Any], str, dict]] = []
        where: list[tuple[list, int, int]] = []  # per batched op: its reply list, index there, index in ops
        batched: set[tuple[bytes, Any]] = set()
        idem, queries, refused = self._idem, P.QUERY_OPS, P.Refused
        reload_chars = [0]  # configuration text taken by this wake-up's reloads
        structural = 0  # STRUCTURAL_OPS taken by this wake-up

        def flush() -> None:
            if not batch:
                return
            for (key, op, fields), (parts, pi, oi), (rows, status, reply) in zip(batch, where, self._apply(now, batch)):
                all_rows.extend(rows)
                cmds.append([key[0], key[1], op, fields])
                parts[pi] = reply
                ops[oi] = (op, status)
            batch.clear()
            where.clear()
            batched.clear()

        for w in works:
            parts: list = []
            client = w.client
            for item in w.items:
                if type(item) is refused:
                    parts.append(P.error_reply(item.rid, item.code, item.message))
                    ops.append(("?", item.code))
                    continue
                op = item.op
                if op in queries:
                    flush()
                    parts.append(self._answer(item))
                    ops.append((op, "query"))
                    continue
                key = (client if item.client is None else item.client, item.rid)
                if key in batched:
                    flush()  # a resend of an op in this batch: answered from the idempotency table
                seen = idem.get(key)
                if seen is not None:
                    parts.append(seen)
                    ops.append((op, "repeat"))
                    continue
                if op in STRUCTURAL_OPS:
                    if structural >= MAX_STRUCTURAL_PER_WAKE:
                        parts.append(P.error_reply(item.rid, P.TOO_LARGE, (
                            f"at most {MAX_STRUCTURAL_PER_WAKE} of {', '.join(sorted(STRUCTURAL_OPS))} are taken "
                            "in one wake-up; send this one again")))
                        ops.append((op, P.TOO_LARGE))
                        continue
                    structural += 1
                if op == "reload":  # applied alone, after the batch before it
                    flush()
                    refusal = self._reload_refusal(item, reload_chars)
                    if refusal is not None:
                        parts.append(P.error_reply(item.rid, *refusal))
                        ops.append((op, refusal[0]))
                        continue
                batch.append((key, op, item.fields))
                batched.add(key)
                where.append((parts, len(parts), len(ops)))
                parts.append(None)
                ops.append((op, ""))
                if op == "reload":
                    flush()
            replies.append((w.envelope, parts))
        flush()
        replies = [(env, parts[0] if not w.batch else P.join_replies(parts, True))
                   for (env, parts), w in zip(replies, works)]
        record = None
        if cmds or all_rows:
            record = P.pack(["b" if cmds else "a", now, cmds, self.last_seq])
        return Outcome(replies, all_rows, record, ops, len(cmds))

    def replay(self, payload: bytes) -> list[Event]:
        """Apply one journal record as :meth:`step` did; return its events."""
        try:
            kind, now, cmds, seq_after = msgpack.unpackb(payload, raw=False, strict_map_key=False)
        except Exception as exc:
            raise ReplayError(f"journal record is not a server record ({type(exc).__name__})") from None
        self.time_s = now
        rows = self.engine.advance(now)
        self._note(rows)
        runs: list[list] = []  # the batches step applied: a reload alone, the operations between reloads together
        for client, rid, op, fields in cmds:
            if not runs or op == "reload" or runs[-1][-1][1] == "reload":
                runs.append([])
            runs[-1].append(((bytes(client), rid), op, fields))
        for run in runs:
            rows.extend(r for applied in self._apply(now, run) for r in applied[0])
        if self.last_seq != seq_after:
            raise ReplayError(f"replaying the record at time {now!r} gave last seq {self.last_seq}, "
                              f"the journal says {seq_after}: the journal was written by a different engine "
                              "or configuration")
        return [as_event(r) for r in rows]

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
        s = self.engine.stats()
        return {"now_s": s.now_s, "queues": [dataclasses.asdict(q) for q in s.queues],
                "intervals": [dataclasses.asdict(i) for i in s.intervals],
                "agents": [dataclasses.asdict(a) for a in s.agents]}

    def _snapshot(self, _f: dict) -> dict:
        return {"seq": self.last_seq, "time_s": self.time_s,
                "agents": [a._asdict() for a in self.engine.all_agents()],
                "calls": [c._asdict() for c in self.engine.live_calls()]}

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
            out = [as_event(r) for r in self._ring[lo: lo + limit]]
        elif self.history is not None:
            out = self.history(seq, min(limit, first - seq - 1))
        else:
            raise P.ProtocolError(P.GONE, f"events after seq {seq} are no longer kept (oldest kept: {first}); "
                                          "resynchronise with 'snapshot'")
        return out, (out[-1].seq if out else seq) < self.last_seq

    @property
    def oldest_kept_seq(self) -> int:
        return self._ring[0][0] if self._ring else self.last_seq + 1

    # ------------------------------------------------------------ snapshots and digests
    def snapshot_meta(self, record: int) -> dict:
        arrived, ended = self.engine.counts
        return {"record": record, "time_s": self.time_s, "seq": self.last_seq, "calls_live": arrived - ended,
                "agents": len(self.engine.config.agents), "config_sha256": self.config_track.sha256}

    def to_blob(self, keep_events: int = 100_000) -> bytes:
        """The engine, idempotency table and the most recent events, as bytes (trusted files only)."""
        ring = self._ring[-keep_events:] if keep_events else []
        kind = _KIND_BY_NAME  # the format's plain tuples hold the kind as an int
        state = {"format": SNAPSHOT_FORMAT, "engine": self.engine, "idem": list(self._idem.items()),
                 "ring": [(r[0], r[1], int(kind[r[2]]), *r[3:]) for r in ring], "last_seq": self.last_seq,
                 "time_s": self.time_s, "config": tuple(self.config_track)}
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def load_blob(self, blob: bytes) -> None:
        """Replace this host's state by a :meth:`to_blob` snapshot."""
        state = pickle.loads(blob)
        if not isinstance(state, dict) or state.get("format") not in SNAPSHOT_FORMATS:
            raise ReplayError("snapshot was written by an incompatible version of busyhour")
        self.engine = state["engine"] if "engine" in state else PythonEngine(self.config, state["router"])
        self._idem = Remembered(self.idem_capacity)
        for key, reply in state["idem"]:
            self._idem.add(key, reply)
        self._ring = [(r[0], r[1], P.KIND_NAMES[int(r[2])], *r[3:]) for r in state["ring"]]  # format 1: Events
        self.last_seq = state["last_seq"]
        self.time_s = state["time_s"]
        if "config" in state:  # format 4; before it no reload was served: the startup configuration runs
            self.config_track = ConfigTrack(*state["config"])

    def digest(self) -> str:
        """sha256 of everything observable: counts, clock, deadline, seq, the configuration's sha256, agents, live
        calls, statistics."""
        r = self.engine
        state = [list(r.counts), r.now, r.next_deadline(), self.last_seq, self.config_track.sha256,
                 [list(a) for a in r.all_agents()], [list(c) for c in r.live_calls()], self._stats({})]
        return hashlib.sha256(msgpack.packb(state, default=repr, strict_types=False)).hexdigest()
