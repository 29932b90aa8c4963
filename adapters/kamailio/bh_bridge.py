"""The adapter's bridge: the one Kamailio process that talks to ``busyhour serve``.

Runs in Kamailio's ``rtimer`` process (every 20 ms, set in kamailio.cfg). SIP workers never
wait on the router: they hand SIP facts (``arrive``, ``answered``, ``failed``,
``cancel``, ``bye``) to the bridge over a ZeroMQ PUSH socket and return. The
bridge

* turns facts into protocol-v1 requests on one DEALER (routing id
  ``kamailio-<pid>``, request ids ``<start ms>.<n>``, unique across restarts),
  resends unanswered ones with the same id every ``request_timeout_s`` (the
  server applies a request once), gives up on an ``arrive`` after
  ``arrive_timeout_s`` (caller gets 503, an ``abandon`` follows);
* follows the event stream (SUB, topic ``all``): ``CALL_OFFERED`` -> relay the
  held INVITE to the agent; ``OFFER_EXPIRED``/``OFFER_WITHDRAWN`` -> cancel
  that branch; ``CALL_ENDED`` -> final response (:data:`bh_sync.FINAL`); gaps,
  restarts and the periodic reconcile are :mod:`bh_sync`;
* keeps the shared "router up" flag that workers read before taking a call.

Decisions come out as :attr:`Bridge.actions` tuples that the native cfg loop
executes (``t_continue``/``t_cancel_callid`` must run natively):
``("offer", ti, tl, uri)``, ``("final", ti, tl, code, reason)``,
``("cancel", call_id, cseq)``. A call is one of: ``held`` (suspended, waiting
for a decision), ``ringing`` (relayed to ``agent``), ``connected``. A decision
that arrives while a branch is still being torn down waits in ``pending``
until the worker reports the call held again.

Rules that keep SIP and the engine in step (docs/adapters.md, "Races"):

* every fact carrying a transaction (``arrive``, ``failed``) gets a final
  response if the bridge will not hold it: a second INVITE with a Call-ID it
  holds gets 482, a ``failed`` branch of a call it no longer holds 487 (the
  caller ended it) or 480;
* ``bye`` ends a connected call (``release``); on a held or ringing call it is
  a BYE in an early dialog and ends the attempt like a CANCEL (``abandon``,
  the branch cancelled, 487). The cfg sends the ``answered`` fact again
  before the ``bye`` of a dialog whose 2xx it saw, from the same process, so
  a ``bye`` never overtakes its ``answered``;
* a call that talks in SIP while the engine does not count it (the engine
  refused ``accept``, or the agent's 200 crossed the caller's CANCEL) is
  *off book*: its engine call is abandoned and its agent set ``not_ready``
  (reason :data:`OFF_BOOK`) until the BYE, then ``ready`` again unless
  someone changed the agent's state meanwhile; a BYE that has not come
  within ``adapter.off_queue_call_max_s`` counts as come (logged);
* a refused ``release`` abandons the call; refused requests are logged
  (:meth:`Bridge.warn`, at most :data:`WARN_PER_MIN` lines a minute).

Facts from different workers may arrive out of order: a CANCEL or BYE
before its INVITE's fact (the arrive is dropped; after a BYE the INVITE gets
487). The bridge (this module and :mod:`bh_sync`) imports zmq, nothing from
busyhour.
"""

from __future__ import annotations

import collections
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq

try:
    from bh_sync import ENDED_ELSEWHERE, UNAVAILABLE, LineLimit, Sync
except ImportError:     # loaded by file path (tests): its folder is not on sys.path
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))
    from bh_sync import ENDED_ELSEWHERE, UNAVAILABLE, LineLimit, Sync
from bh_config import ADAPTER_TIMINGS, TIMINGS  # noqa: E402 (found as bh_sync was)

TERMINATED = (487, "Request Terminated")
DUPLICATE = (482, "Duplicate Call-ID")
ARRIVE_ERRORS = {"unknown_id": (404, "Unknown Queue, Skill Or Agent"), "bad_request": (400, "Bad Queue Request"),
                 "state": DUPLICATE}
#: the not_ready reason of an agent talking on a call the engine does not count
OFF_BOOK = "off-queue-call"
#: refused requests logged per minute; the rest are counted in one line
WARN_PER_MIN = 30
#: seconds a CANCEL/BYE of an unknown call, or a call the caller ended, is remembered
REMEMBER_S = 60.0


@dataclass
class HeldCall:
    """What the bridge knows about one of its calls."""

    ti: int
    tl: int
    cseq: str
    phase: str = "held"
    agent: Any = None
    cancelling: bool = False
    pending: tuple | None = None
    arrive_n: int = 0           # number of its arrive request (bh_sync.reconcile)


@dataclass
class Pending:
    """An engine request sent and not yet answered."""

    req: dict
    first_s: float
    sent_s: float
    n: int = 0


@dataclass
class Bridge(Sync):
    """Router client + decision logic. ``cfg`` is the adapter's TOML config (docs/adapters.md)."""

    cfg: dict
    calls: dict = field(default_factory=dict)
    actions: collections.deque = field(default_factory=collections.deque)

    def __post_init__(self) -> None:
        r, a = self.cfg.get("router", {}), self.cfg.get("adapter", {})
        self.request_timeout_s = _number(r, "request_timeout_ms", TIMINGS) / 1000
        self.arrive_timeout_s = _number(r, "arrive_timeout_ms", TIMINGS) / 1000
        self.down_after_s = _number(r, "down_after_ms", TIMINGS) / 1000
        self.hold_when_down_s = _number(r, "hold_when_down_s", TIMINGS)
        self.name = str(a.get("name", "kamailio"))
        self.off_book_max_s = _number(a, "off_queue_call_max_s", ADAPTER_TIMINGS)
        self.reconcile_s = _number(a, "reconcile_s", ADAPTER_TIMINGS)
        self.agents = {str(k): str(v) for k, v in self.cfg.get("agents", {}).items()}
        self.pending: dict[str, Pending] = {}
        self.outbox: list[dict] = []
        self.n = 0
        self.prefix = f"{int(time.time() * 1000):x}."
        self.last_seq = -1          # -1: not synchronised yet (no ping answered)
        self.boot = None
        self.behind_seq: int | None = None
        self.resyncing = False
        self.stash: list = []       # stream messages held back during a resync
        self.last_heard_s = -1e18
        self.down_since_s: float | None = None
        self.ping_sent_s = -1e18
        self.sock = self.sub = self.pull = None
        self.client: str | None = None  # the requests' `client` name (the routing id), once open()
        self.now_s = 0.0
        self.warnings: list[str] = []   # one line per refused engine request; the handler logs them
        self.cancelled: dict = {}       # call id -> (time, "cancel"|"bye"): for calls not (yet) known
        self.ended: dict = {}           # call id -> (time, agent): attempts the caller ended (CANCEL, early BYE)
        self.off_book: dict = {}        # call id -> (agent, since when): talking in SIP, not counted by the
                                        # engine; oldest first
        self.agent_state: dict = {}     # agent (of off_book) -> its last AGENT_STATE detail
        self.reconciled_s = -1e18
        self.warn_limit = LineLimit(WARN_PER_MIN, 60.0, "{} more refused requests in the last minute")

    # ---------------------------------------------------------------- I/O
    def open(self) -> None:
        """Create this process's sockets (after Kamailio forked it). If any step fails (e.g. ``adapter.ipc`` cannot
        be bound), what was created is closed again and the error raised: never a half-open bridge."""
        ctx = zmq.Context()
        try:
            self._open(ctx)
        except BaseException:
            for s in (self.sock, self.sub, self.pull):
                if s is not None:
                    s.close(linger=0)
            self.sock = self.sub = self.pull = None
            ctx.term()
            raise

    def _open(self, ctx) -> None:
        self.sock = ctx.socket(zmq.DEALER)
        self.client = f"kamailio-{os.getpid()}"  # also each request's `client`: a resend on any connection is known
        self.sock.setsockopt(zmq.ROUTING_ID, self.client.encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 100)
        self.sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        self.sub = ctx.socket(zmq.SUB)
        for s in (self.sock, self.sub) if self.cfg["router"].get("curve") else ():  # bh_config read the keys
            s.curve_publickey, s.curve_secretkey, s.curve_serverkey = self.cfg["router"]["curve"]
        self.sock.connect(self.cfg["router"]["commands"])
        self.sub.setsockopt(zmq.LINGER, 0)
        self.sub.setsockopt(zmq.RCVHWM, 0)
        self.sub.setsockopt(zmq.RECONNECT_IVL, 100)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"all")
        self.sub.connect(self.cfg["router"]["events"])
        self.pull = ctx.socket(zmq.PULL)
        self.pull.setsockopt(zmq.LINGER, 0)
        self.pull.bind(self.cfg["adapter"]["ipc"])

    def tick(self, now_s: float) -> None:
        """Drain every socket, run timers, send what is due. Never blocks."""
        self.now_s = now_s
        for raw in _drain(self.pull, 5000):
            self.on_fact(msgpack.unpackb(raw[0], raw=False), now_s)
        for frames in _drain(self.sock, 5000):
            rep = msgpack.unpackb(frames[-1], raw=False)
            self.last_heard_s = now_s
            for one in rep if isinstance(rep, list) else [rep]:
                self.on_reply(one, now_s)
        for frames in _drain(self.sub, 5000):
            if frames[0] == b"all" and len(frames) == 2:
                self.on_stream(msgpack.unpackb(frames[1], raw=False))
        self.timers(now_s)
        self.flush(now_s)

    def request(self, op: str, now_s: float, **fields: Any) -> str:
        """Queue one request for this tick's batch; returns its id."""
        self.n += 1
        rid = f"{self.prefix}{self.n:x}"
        req = {"v": 1, "id": rid, "op": op, **fields}
        if self.client is not None:
            req["client"] = self.client
        self.pending[rid] = Pending(req, now_s, -1e18, self.n)
        self.outbox.append(req)
        return rid

    def flush(self, now_s: float) -> None:
        due = self.outbox
        self.outbox = []
        for p in self.pending.values():
            if p.sent_s >= 0 and now_s - p.sent_s >= self.request_timeout_s:
                due.append(p.req)
        if not due:
            return
        try:
            self.sock.send(msgpack.packb(due if len(due) > 1 else due[0]), zmq.NOBLOCK)
        except zmq.Again:
            return      # resent next tick (sent_s stays old)
        for req in due:
            self.pending[req["id"]].sent_s = now_s

    # ------------------------------------------------------------ timers
    def up(self, now_s: float) -> bool:
        return now_s - self.last_heard_s < self.down_after_s and self.last_seq >= 0

    def timers(self, now_s: float) -> None:
        if now_s - self.ping_sent_s >= self.down_after_s / 3:
            self.ping_sent_s = now_s
            self.request("ping", now_s)
        for rid, p in list(self.pending.items()):
            op = p.req["op"]
            if op in ("ping", "events_since", "snapshot") and now_s - p.first_s > self.down_after_s:
                del self.pending[rid]
                if op != "ping":
                    self.resyncing = False    # asked again after the next ping
            elif op == "arrive" and now_s - p.first_s > self.arrive_timeout_s:
                del self.pending[rid]
                self.give_up(p.req["call"], now_s)
            elif now_s - p.first_s > 600:
                del self.pending[rid]
        self.cancelled, self.ended = _recent(self.cancelled, now_s), _recent(self.ended, now_s)
        while self.off_book:            # a BYE that never came (lost, or a phone that died) frees the agent
            call_id, (agent, since_s) = next(iter(self.off_book.items()))
            if now_s - since_s < self.off_book_max_s:
                break
            self.warn(f"call {call_id!r}: no BYE within {self.off_book_max_s:g} s of going outside the engine; "
                      f"agent {agent!r} is on book again")
            self.back_on_book(call_id)
        if self.up(now_s):
            self.down_since_s = None
        elif self.down_since_s is None:
            self.down_since_s = now_s
        elif now_s - self.down_since_s > self.hold_when_down_s:
            for call_id, c in list(self.calls.items()):
                if c.phase == "held":
                    self.give_up(call_id, now_s)

    def give_up(self, call_id: Any, now_s: float) -> None:
        """The router cannot decide in time: 503 to the caller, and make sure the engine forgets the call."""
        c = self.calls.pop(call_id, None)
        if c is not None and c.phase == "held":
            self.actions.append(("final", c.ti, c.tl) + UNAVAILABLE)
        self.request("abandon", now_s, call=call_id)

    def warn(self, line: str) -> None:
        """One line for the handler to log; at most WARN_PER_MIN a minute, the rest counted."""
        self.warnings.extend(self.warn_limit.lines(line, self.now_s))

    # ------------------------------------------------------- SIP facts
    def on_fact(self, f: dict, now_s: float) -> None:
        kind, call_id = f.get("k"), f.get("c")
        c = self.calls.get(call_id)
        if kind == "arrive":
            gone = self.cancelled.pop(call_id, None)
            if gone is not None:        # its CANCEL or BYE overtook it (two workers): the caller is gone
                if gone[1] == "bye":    # (a CANCEL's 487 came from tm)
                    self.actions.append(("final", f["ti"], f["tl"]) + TERMINATED)
                return
            if c is not None:           # a second INVITE with this Call-ID: the first call goes on
                self.actions.append(("final", f["ti"], f["tl"]) + DUPLICATE)
                self.warn(f"arrive {call_id!r} refused: a call with this Call-ID is already held ({c.phase})")
                return
            extra = {k: f[k] for k in ("priority", "skills", "preferred_agent") if k in f}
            self.request("arrive", now_s, call=call_id, queue=f["q"], context={"kamailio": self.name}, **extra)
            self.calls[call_id] = HeldCall(f["ti"], f["tl"], f["cseq"], arrive_n=self.n)
        elif kind == "answered":
            if c is not None and c.phase == "ringing":
                c.phase = "connected"
                self.request("accept", now_s, call=call_id, agent=c.agent)
            elif c is None and call_id in self.ended and call_id not in self.off_book:
                self.go_off_book(call_id, self.ended[call_id][1], "answered after the caller cancelled")
        elif kind == "failed":
            if c is None:               # a branch of a call we no longer hold: answer the caller now
                code = TERMINATED if call_id in self.ended else ENDED_ELSEWHERE
                self.actions.append(("final", f["ti"], f["tl"]) + code)
                return
            c.ti, c.tl, c.phase = f["ti"], f["tl"], "held"
            if not c.cancelling and f["code"] != 408:     # 408: nobody answered; the lease expires by itself
                self.request("reject", now_s, call=call_id, agent=c.agent, busy=f["code"] == 486)
            c.cancelling = False
            if c.pending is not None:
                todo, c.pending = c.pending, None
                self.decide(call_id, c, todo)
        elif kind in ("cancel", "bye") and c is None:
            if kind == "bye" and call_id in self.off_book:
                self.back_on_book(call_id)
            elif len(self.cancelled) < 100_000 and call_id not in self.ended:
                self.cancelled[call_id] = (now_s, kind)      # an arrive may still be on its way
        elif c.phase == "connected":    # a CANCEL after the 2xx changes nothing (RFC 3261 s9.1)
            if kind == "bye":
                del self.calls[call_id]
                self.request("release", now_s, call=call_id)
        elif kind in ("cancel", "bye"):  # a CANCEL, or a BYE in an early dialog (RFC 3261 s15): same end
            del self.calls[call_id]
            self.request("abandon", now_s, call=call_id)
            if len(self.ended) < 100_000:
                self.ended[call_id] = (now_s, c.agent if c.phase == "ringing" else None)
            if kind == "bye" and c.phase == "held":
                self.actions.append(("final", c.ti, c.tl) + TERMINATED)
            elif kind == "bye" and not c.cancelling:     # ringing: its failed fact then gets 487
                self.actions.append(("cancel", call_id, c.cseq))

    def go_off_book(self, call_id: Any, agent: Any, why: str) -> None:
        """The call talks in SIP without the engine: keep it, end its engine call, agent not ready till BYE."""
        if call_id not in self.ended:   # (a call the caller ended is abandoned already)
            self.request("abandon", self.now_s, call=call_id)
        if agent is None or len(self.off_book) >= 100_000:
            return
        self.off_book.pop(call_id, None)    # (at the end: the entries stay oldest first)
        self.off_book[call_id] = (agent, self.now_s)
        self.agent_state.setdefault(agent, None)
        self.request("not_ready", self.now_s, agent=agent, reason=OFF_BOOK)
        self.warn(f"call {call_id!r} talks to agent {agent!r} outside the engine ({why}): "
                  f"agent not ready ({OFF_BOOK}) until the call's BYE, at most {self.off_book_max_s:g} s")

    def back_on_book(self, call_id: Any) -> None:
        agent, _ = self.off_book.pop(call_id)
        if any(other == agent for other, _ in self.off_book.values()):
            return                      # still on another such call
        if self.agent_state.pop(agent, None) == f"NOT_READY:{OFF_BOOK}":
            self.request("ready", self.now_s, agent=agent)

    # ----------------------------------------------------------- replies
    def on_reply(self, rep: dict, now_s: float) -> None:
        p = self.pending.pop(rep.get("id"), None)
        if p is None:
            return      # a duplicate reply to a resent request
        op, call_id = p.req["op"], p.req.get("call")
        if op in ("events_since", "snapshot"):
            self.on_sync_reply(op, rep, p.n, now_s)
            return
        if op == "ping" and rep.get("ok"):
            self.on_ping(rep["result"], now_s)
        if rep.get("ok") or op == "ping":
            return
        err = rep.get("error") or {}
        code = err.get("code")
        self.warn(f"{op} {call_id if call_id is not None else p.req.get('agent')!r} refused: "
                  f"{code}: {err.get('message')}")
        c = self.calls.get(call_id)
        if op == "arrive" and c is not None and c.arrive_n == p.n:
            del self.calls[call_id]
            self.actions.append(("final", c.ti, c.tl) + ARRIVE_ERRORS.get(code, UNAVAILABLE))
        elif op == "accept" and c is not None and c.phase == "connected":
            del self.calls[call_id]     # the caller talks to the agent: keep the call, put the engine right
            self.go_off_book(call_id, c.agent, "the engine refused accept")
        elif op == "release" and code == "state":
            self.request("abandon", now_s, call=call_id)

    def decide(self, call_id: Any, c: HeldCall, todo: tuple) -> None:
        if c.phase != "held":
            c.pending = todo        # applied when the worker reports the call held again
            return
        if todo[0] == "final":
            del self.calls[call_id]
            self.actions.append(("final", c.ti, c.tl, todo[1], todo[2]))
            return
        uri = self.agents.get(str(todo[1]))
        if uri is None:                 # an agent without a SIP URI: decline for it, keep the caller
            self.request("reject", self.now_s, call=call_id, agent=todo[1])
            return
        c.phase, c.agent = "ringing", todo[1]
        self.actions.append(("offer", c.ti, c.tl, uri))


def _number(table: dict, key: str, limits: dict) -> float:
    """``table[key]``, or its default from bh_config's ``limits`` (a table load_config did not fill: tests)."""
    return float(table.get(key, limits[key][0]))


def _recent(seen: dict, now_s: float) -> dict:
    """``seen`` (call id -> (time, …), oldest first) without the entries older than REMEMBER_S."""
    if seen and now_s - next(iter(seen.values()))[0] > REMEMBER_S:
        return {k: t for k, t in seen.items() if now_s - t[0] <= REMEMBER_S}
    return seen


def _drain(sock, limit: int):
    for _ in range(limit):
        try:
            yield sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return
