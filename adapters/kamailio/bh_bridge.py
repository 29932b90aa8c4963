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
  that branch; ``CALL_ENDED exited:/rejected:`` -> final response
  (:data:`FINAL`);
* detects gaps (seq), a restarted server (new ``boot`` in ``ping``) and fills
  them with ``events_since``, or ``snapshot`` when the server answers
  ``gone``;
* keeps the shared "router up" flag that workers read before taking a call.

Decisions come out as :attr:`Bridge.actions` tuples that the native cfg loop
executes (``t_continue``/``t_cancel_callid`` must run natively):
``("offer", ti, tl, uri)``, ``("final", ti, tl, code, reason)``,
``("cancel", call_id, cseq)``. A call is one of: ``held`` (suspended, waiting
for a decision), ``ringing`` (relayed to ``agent``), ``connected``. A decision
that arrives while a branch is still being torn down waits in ``pending``
until the worker reports the call held again. Facts from different workers
may arrive out of order: a BYE before its 200's fact (``accept`` is sent
first), a CANCEL before its INVITE's fact (the arrive is dropped); a
retransmitted BYE or CANCEL of a call already ended is ignored. Only this
module imports zmq on the bridge side; it imports nothing from busyhour.
"""

from __future__ import annotations

import collections
import os
import time
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq

#: CALL_ENDED detail -> (SIP code, reason phrase) for the caller; anything else exited/rejected -> 503.
FINAL = {
    "rejected:queue-full": (486, "Queue Full"),
    "rejected:no-agents": (480, "No Agents"),
    "exited:no-agents": (480, "No Agents"),
    "exited:timeout": (480, "Queue Timeout"),
}
UNAVAILABLE = (503, "Routing Unavailable")
ENDED_ELSEWHERE = (480, "Call Ended")
ARRIVE_ERRORS = {"unknown_id": (404, "Unknown Queue, Skill Or Agent"), "bad_request": (400, "Bad Queue Request")}


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
    arrived: bool = False


@dataclass
class Pending:
    """An engine request sent and not yet answered."""

    req: dict
    first_s: float
    sent_s: float


@dataclass
class Bridge:
    """Router client + decision logic. ``cfg`` is the adapter's TOML config (docs/adapters.md)."""

    cfg: dict
    calls: dict = field(default_factory=dict)
    actions: collections.deque = field(default_factory=collections.deque)

    def __post_init__(self) -> None:
        r = self.cfg.get("router", {})
        self.request_timeout_s = float(r.get("request_timeout_ms", 1000)) / 1000
        self.arrive_timeout_s = float(r.get("arrive_timeout_ms", 2000)) / 1000
        self.down_after_s = float(r.get("down_after_ms", 1500)) / 1000
        self.hold_when_down_s = float(r.get("hold_when_down_s", 60))
        self.name = str(self.cfg.get("adapter", {}).get("name", "kamailio"))
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
        self.cancelled: dict = {}       # call id -> time: CANCELs for calls not (yet) known

    # ---------------------------------------------------------------- I/O
    def open(self) -> None:
        """Create this process's sockets (after Kamailio forked it)."""
        ctx = zmq.Context()
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
        self.pending[rid] = Pending(req, now_s, -1e18)
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
        if self.cancelled and now_s - next(iter(self.cancelled.values())) > 60:
            self.cancelled = {k: t for k, t in self.cancelled.items() if now_s - t <= 60}
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

    # ------------------------------------------------------- SIP facts
    def on_fact(self, f: dict, now_s: float) -> None:
        kind, call_id = f.get("k"), f.get("c")
        c = self.calls.get(call_id)
        if kind == "arrive":
            if self.cancelled.pop(call_id, None) is not None:
                return                  # its CANCEL overtook it (two workers): the caller is gone
            self.calls[call_id] = HeldCall(f["ti"], f["tl"], f["cseq"])
            extra = {k: f[k] for k in ("priority", "skills", "preferred_agent") if k in f}
            self.request("arrive", now_s, call=call_id, queue=f["q"], context={"kamailio": self.name}, **extra)
        elif kind == "answered":
            if c is not None and c.phase == "ringing":
                c.phase = "connected"
                self.request("accept", now_s, call=call_id, agent=c.agent)
        elif kind == "failed":
            if c is None:
                return
            c.ti, c.tl, c.phase = f["ti"], f["tl"], "held"
            if not c.cancelling and f["code"] != 408:     # 408: nobody answered; the lease expires by itself
                self.request("reject", now_s, call=call_id, agent=c.agent, busy=f["code"] == 486)
            c.cancelling = False
            if c.pending is not None:
                todo, c.pending = c.pending, None
                self.decide(call_id, c, todo)
        elif kind == "cancel" and c is None and len(self.cancelled) < 100_000:
            self.cancelled[call_id] = now_s      # an arrive may still be on its way
        elif kind in ("cancel", "bye") and self.calls.pop(call_id, None) is not None:
            # unknown calls (a retransmission, or a call from before this Kamailio started, which the
            # start-up snapshot already abandoned) are not ours to end
            if kind == "bye" and c.phase == "ringing":     # the BYE overtook the 200's fact (two workers)
                self.request("accept", now_s, call=call_id, agent=c.agent)
            self.request("abandon" if kind == "cancel" else "release", now_s, call=call_id)

    # ----------------------------------------------------------- replies
    def on_reply(self, rep: dict, now_s: float) -> None:
        p = self.pending.pop(rep.get("id"), None)
        if p is None:
            return      # a duplicate reply to a resent request
        op = p.req["op"]
        if op == "ping" and rep.get("ok"):
            res = rep["result"]
            if self.last_seq < 0:                       # first contact: look for leftovers
                self.last_seq, self.boot = int(res["seq"]), res["boot"]
                self.resyncing = True
                self.request("snapshot", now_s)
            elif int(res["seq"]) < self.last_seq:     # a different journal: our seqs mean nothing there
                self.boot, self.last_seq, self.stash = res["boot"], int(res["seq"]), []
                self.resyncing = True
                self.request("snapshot", now_s)
            elif res["boot"] != self.boot:                 # restarted from its journal: fill the gap
                self.boot = res["boot"]
                self.resync(now_s)
            elif int(res["seq"]) > self.last_seq:          # behind; resync if still behind at the next ping
                if self.behind_seq is not None and self.last_seq < self.behind_seq:
                    self.resync(now_s)
                self.behind_seq = int(res["seq"])
            else:
                self.behind_seq = None
        elif op == "events_since":
            self.resyncing = False
            if rep.get("ok"):
                res = rep["result"]
                self.apply(res["events"])
                if res.get("more"):
                    self.resync(now_s)
                else:
                    self.replay_stash()
            elif rep["error"]["code"] == "gone":
                self.resyncing = True
                self.request("snapshot", now_s)
        elif op == "snapshot":
            self.resyncing = False      # on an error the next ping asks again
            if rep.get("ok"):
                self.reconcile(rep["result"])
                self.replay_stash()
        elif op == "arrive" and not rep.get("ok"):
            c = self.calls.pop(p.req["call"], None)
            if c is not None:
                code = ARRIVE_ERRORS.get(rep["error"]["code"], UNAVAILABLE)
                self.actions.append(("final", c.ti, c.tl) + code)
        elif op in ("accept", "reject", "release", "abandon") and not rep.get("ok") and len(self.warnings) < 1000:
            err = rep.get("error") or {}
            self.warnings.append(f"{op} {p.req.get('call')!r} refused: {err.get('code')}: {err.get('message')}")

    def resync(self, now_s: float) -> None:
        if not self.resyncing:
            self.resyncing = True
            self.request("events_since", now_s, seq=self.last_seq)

    # ------------------------------------------------------------ events
    def on_stream(self, msg: dict) -> None:
        if self.last_seq < 0 or self.resyncing:
            self.stash.append(msg)
        elif msg["seq0"] > self.last_seq + 1:
            self.stash.append(msg)
            self.resync(self.now_s)
        else:
            self.apply(msg["events"])

    def replay_stash(self) -> None:
        stash, self.stash = self.stash, []
        for msg in stash:
            self.on_stream(msg)

    def apply(self, events: list) -> None:
        for ev in events:
            if ev[0] <= self.last_seq:
                continue
            self.last_seq = ev[0]
            self.on_event(ev[2], ev[3], ev[4], ev[6])

    def on_event(self, kind: str, call_id: Any, agent: Any, detail: str) -> None:
        c = self.calls.get(call_id)
        if c is None:
            return      # not a call this Kamailio holds
        if kind == "CALL_OFFERED":
            self.decide(call_id, c, ("offer", agent))
        elif kind in ("OFFER_EXPIRED", "OFFER_WITHDRAWN"):
            if c.phase == "ringing" and c.agent == agent and not c.cancelling:
                c.cancelling = True
                self.actions.append(("cancel", call_id, c.cseq))
            elif c.pending and c.pending[0] == "offer" and c.pending[1] == agent:
                c.pending = None
        elif kind == "CALL_ENDED":
            if detail.startswith("exited:") or detail.startswith("rejected:"):
                self.decide(call_id, c, ("final",) + FINAL.get(detail, UNAVAILABLE))
            elif c.phase == "connected":
                del self.calls[call_id]     # ended elsewhere (e.g. released by another client)
            else:                           # abandoned by another client while we hold the caller
                self.decide(call_id, c, ("final",) + ENDED_ELSEWHERE)

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

    def reconcile(self, snap: dict) -> None:
        """Compare our calls with the server's live calls (``snapshot``) and act on the difference.

        Live calls marked with this adapter's name that it does not hold are
        leftovers of an earlier run of this Kamailio: their callers are gone,
        so they are abandoned."""
        self.last_seq = max(self.last_seq, int(snap["seq"]))
        live = {c["call"]: c for c in snap["calls"]}
        for call_id, s in live.items():
            if call_id not in self.calls and (s.get("context") or {}).get("kamailio") == self.name:
                self.request("abandon", self.now_s, call=call_id)
        for call_id, c in list(self.calls.items()):
            s = live.get(call_id)
            if s is None:
                if c.phase == "held":
                    self.decide(call_id, c, ("final",) + UNAVAILABLE)
                else:
                    self.calls.pop(call_id)
            elif s["state"] == "OFFERED" and c.phase == "held":
                ringing = s.get("ringing") or [s.get("agent")]
                self.decide(call_id, c, ("offer", ringing[0]))


def _drain(sock, limit: int):
    for _ in range(limit):
        try:
            yield sock.recv_multipart(zmq.NOBLOCK)
        except zmq.Again:
            return
