"""A load generator for ``busyhour serve``: simulated callers and agents over the client library.

One generator owns some queues and their member agents (on one or more
modules: each queue lives on one server, and requests go to the module of
their queue). It logs its agents in ready, then runs ticks: each tick sends
every request that is due, as one pipeline per module (one frame per request,
or one array frame with ``frames="batched"``), and handles the replies:

* arrive → the reply's ``CALL_OFFERED`` (or, for a call that had to wait, a
  later reply's) starts the ring delay; then accept;
* accept → ``CALL_CONNECTED`` starts the talk time; then release;
* release → ``CALL_ENDED`` plus the agent's ``AGENT_STATE`` leaving BUSY.

Callers arrive closed-loop (a new call as soon as fewer than ``busy_share``
of a queue's members have a call: as fast as the server answers) or at a
fixed rate. A call not offered in its arrive's reply waited for an agent;
the generator counts those (``waited``) and keeps the latencies of the calls
offered at once apart (``latencies_now_ms``). The run is bounded by its
call count and ``max_seconds``; after that it only drains (``drain_s``).

What the generator counts is what a PBX adapter would see (docs/performance.md
defines the ratios): requests answered with an error or never answered;
calls ended that it did not end itself; releases after which the agent was
not freed; calls connected out of calls arrived.
"""

from __future__ import annotations

import os
import random
import time
from array import array
from collections import deque
from dataclasses import dataclass, field

import zmq

from busyhour.client import RouterClient

MAX_TICK_REQUESTS = 10_000  # requests per module per tick (one batch frame at most)
GONE_CODES = ("unknown_id", "state")  # the call is no longer there: ended without the generator


@dataclass(frozen=True)
class LoadSpec:
    name: str  # routing-id prefix, unique per generator
    modules: tuple[str, ...]  # command addresses, one per module
    queues: tuple[tuple[str, int, tuple[str, ...]], ...]  # (queue, module index, member agents)
    calls: int
    call_base: int  # call ids are call_base, call_base + 1, …
    max_seconds: float
    rate_per_s: float | None = None  # None: closed loop
    ring_delay_s: float = 0.0
    talk_s: float = 0.0
    frames: str = "single"
    timeout_s: float = 2.0
    retries: int = 5
    drain_s: float = 10.0
    garbage_share: float = 0.0  # share of frames followed by a frame of random bytes (fault soak)
    seed: int = 1
    busy_share: float = 1.0  # closed loop: calls in flight per queue at most this share of its members (≥ 1)


@dataclass
class LoadResult:
    name: str
    calls_arrived: int = 0  # arrive answered ok
    lifecycles: int = 0  # released with the agent freed
    lifecycles_by_module: list[int] = field(default_factory=list)
    requests: int = 0
    failed_requests: int = 0  # answered ok=false, or never answered
    unanswered: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    premature: int = 0  # calls ended without the generator asking
    releases: int = 0
    release_failures: int = 0
    connected: int = 0
    unfinished: int = 0  # calls still in flight when the drain ended
    frames: int = 0
    garbage_frames: int = 0
    reconnects: int = 0
    resends: int = 0
    first_send_s: float = 0.0
    last_done_s: float = 0.0
    waited: int = 0  # calls not offered in their arrive's reply (no agent free then)
    latencies_ms: bytes = b""  # float32 array: arrive sent → CALL_OFFERED received
    latencies_now_ms: bytes = b""  # float32 array: the same, for calls offered in their arrive's reply
    acked_calls: bytes = b""  # int64 array: calls whose arrive was answered ok


class Generator:
    """The state of one generator (see the module docstring)."""

    def __init__(self, spec: LoadSpec):
        if spec.frames not in ("single", "batched"):
            raise ValueError(f"frames must be 'single' or 'batched', got {spec.frames!r}")
        self.spec = spec
        self.clients = [RouterClient(addr, identity=f"{spec.name}-m{m}", timeout_s=spec.timeout_s,
                                     retries=spec.retries) for m, addr in enumerate(spec.modules)]
        self.rng = random.Random(spec.seed)
        self.res = LoadResult(spec.name, lifecycles_by_module=[0] * len(spec.modules))
        self.in_flight = [0] * len(spec.queues)
        self.caps = [max(1, int(spec.busy_share * len(m))) for _, _, m in spec.queues]
        self.accepts: deque = deque()  # (due_s, call, agent, queue index)
        self.releases: deque = deque()
        self.waiting: dict[int, tuple[float, int]] = {}  # call -> (sent_s, queue index), not offered yet
        self.latencies = array("f")
        self.latencies_now = array("f")
        self.acked = array("q")
        self.next_call = 0
        self.rr = 0
        self.garbage: list[zmq.Socket] = []
        if spec.garbage_share > 0:
            self._ctx = zmq.Context()
            for addr in spec.modules:
                s = self._ctx.socket(zmq.DEALER)
                s.setsockopt(zmq.LINGER, 0)
                s.connect(addr)
                self.garbage.append(s)

    def login(self) -> None:
        """Log every member in, ready (an agent already logged in is fine: a second run on the same server)."""
        for m, client in enumerate(self.clients):
            agents = [a for _, qm, members in self.spec.queues if qm == m for a in members]
            for reply in client.pipeline([("login", {"agent": a, "ready": True}) for a in dict.fromkeys(agents)],
                                         batched=True):
                if not reply.ok and reply.error_code != "state":
                    raise RuntimeError(f"login failed: {reply.error_code}: {reply.error_message}")

    # ------------------------------------------------------------ one tick
    def _due(self, now: float, t0: float, arrivals_open: bool) -> tuple[list[list], list[list]]:
        spec = self.spec
        reqs: list[list] = [[] for _ in spec.modules]
        metas: list[list] = [[] for _ in spec.modules]
        queues = spec.queues
        budget = MAX_TICK_REQUESTS
        while self.accepts and self.accepts[0][0] <= now and budget:
            _, call, agent, qi = self.accepts.popleft()
            m = queues[qi][1]
            reqs[m].append(("accept", {"call": call, "agent": agent}))
            metas[m].append((1, call, qi, agent))
            budget -= 1
        while self.releases and self.releases[0][0] <= now and budget:
            _, call, agent, qi = self.releases.popleft()
            m = queues[qi][1]
            reqs[m].append(("release", {"call": call}))
            metas[m].append((2, call, qi, agent))
            budget -= 1
        if arrivals_open and self.next_call < spec.calls:
            if spec.rate_per_s is None:
                allowed = spec.calls - self.next_call
            else:
                allowed = min(spec.calls, int((now - t0) * spec.rate_per_s) + 1) - self.next_call
            nq, tried = len(queues), 0
            while allowed > 0 and budget and tried < nq:
                qi = self.rr
                self.rr = (qi + 1) % nq
                if spec.rate_per_s is None and self.in_flight[qi] >= self.caps[qi]:
                    tried += 1
                    continue
                tried = 0
                call = spec.call_base + self.next_call
                self.next_call += 1
                self.in_flight[qi] += 1
                m = queues[qi][1]
                reqs[m].append(("arrive", {"call": call, "queue": queues[qi][0]}))
                metas[m].append((0, call, qi, None))
                allowed -= 1
                budget -= 1
        return reqs, metas

    def _offered(self, call: int, agent: str, sent_s: float, got_s: float, qi: int) -> None:
        self.latencies.append((got_s - sent_s) * 1000.0)
        self.accepts.append((got_s + self.spec.ring_delay_s, call, agent, qi))

    def _handle(self, m: int, replies: list, metas: list, sent_s: float) -> None:
        res, waiting = self.res, self.waiting
        for reply, (kind, call, qi, agent) in zip(replies, metas):
            res.requests += 1
            got = reply.received_s
            if not reply.ok:
                res.failed_requests += 1
                code = reply.error_code or "?"
                res.errors[code] = res.errors.get(code, 0) + 1
                if code == "unavailable":
                    res.unanswered += 1
                if kind == 0:
                    self.in_flight[qi] -= 1
                    continue
                if code in GONE_CODES:
                    res.premature += 1
                if kind == 2:
                    res.releases += 1
                    res.release_failures += 1
                self.in_flight[qi] -= 1
                res.last_done_s = got
                continue
            freed = ended = False
            for e in reply.events:
                k = e.kind
                if k == "CALL_OFFERED":
                    if e.call == call and kind == 0:
                        self._offered(call, e.agent, sent_s, got, qi)
                        self.latencies_now.append((got - sent_s) * 1000.0)
                        kind = -1  # offered at once
                    else:
                        w = waiting.pop(e.call, None)
                        if w is not None:
                            self._offered(e.call, e.agent, w[0], got, w[1])
                elif k == "CALL_ENDED":
                    if e.call == call and kind == 2:
                        ended = e.detail == "completed"
                    else:
                        res.premature += 1
                elif k == "AGENT_STATE" and kind == 2 and e.agent == agent and e.detail in ("AVAILABLE", "WRAP_UP"):
                    freed = True
            if kind == 0:  # arrived and waits for an agent
                waiting[call] = (sent_s, qi)
                res.waited += 1
            if kind in (0, -1):
                res.calls_arrived += 1
                self.acked.append(call)
            elif kind == 1:
                res.connected += 1
                self.releases.append((got + self.spec.talk_s, call, agent, qi))
            elif kind == 2:
                res.releases += 1
                self.in_flight[qi] -= 1
                res.last_done_s = got
                if ended and freed:
                    res.lifecycles += 1
                    res.lifecycles_by_module[m] += 1
                else:
                    res.release_failures += 1

    def _send_garbage(self, frames: int) -> None:
        share = self.spec.garbage_share
        for sock in self.garbage:
            n = sum(1 for _ in range(frames) if self.rng.random() < share) if frames < 1000 else \
                int(frames * share + self.rng.random())
            for _ in range(n):
                try:
                    sock.send(os.urandom(self.rng.randint(1, 64)), zmq.NOBLOCK)
                except zmq.Again:  # its queue is full (the server is not reading): injected faults never stall the run
                    break
                self.res.garbage_frames += 1
            try:
                while True:
                    sock.recv(zmq.NOBLOCK)  # the server's bad_frame replies: read and dropped
            except zmq.Again:
                pass

    def busy(self) -> bool:
        return bool(self.accepts or self.releases or self.waiting or any(self.in_flight))

    def run(self, start_at: float | None = None) -> LoadResult:
        spec = self.spec
        if start_at is not None:
            time.sleep(max(0.0, start_at - time.monotonic()))
        t0 = time.monotonic()
        self.res.first_send_s = t0
        stop_arrivals = t0 + spec.max_seconds
        hard_stop = stop_arrivals + spec.drain_s
        batched = spec.frames == "batched"
        while True:
            now = time.monotonic()
            if now >= hard_stop:
                break
            reqs, metas = self._due(now, t0, now < stop_arrivals)
            if not any(reqs):
                if not self.busy() and (self.next_call >= spec.calls or now >= stop_arrivals):
                    break
                time.sleep(0.0002)
                continue
            sent = [(m, self.clients[m].send(r, batched=batched)) for m, r in enumerate(reqs) if r]
            for m, p in sent:
                self.res.frames += len(p.frames)
                if self.garbage:
                    self._send_garbage(len(p.frames))
            for m, p in sent:
                self._handle(m, self.clients[m].collect(p, partial=True), metas[m], p.sent_s)
        self.res.unfinished = sum(self.in_flight)
        self.res.reconnects = sum(c.reconnects for c in self.clients)
        self.res.resends = sum(c.resends for c in self.clients)
        self.res.latencies_ms = self.latencies.tobytes()
        self.res.latencies_now_ms = self.latencies_now.tobytes()
        self.res.acked_calls = self.acked.tobytes()
        return self.res

    def close(self) -> None:
        for c in self.clients:
            c.close()
        for s in self.garbage:
            s.close(0)
        if self.garbage:
            self._ctx.term()


def child_main() -> int:
    """``python -m busyhour.bench.loadgen``: one generator process, driven over stdin/stdout.

    stdin: a pickled :class:`LoadSpec` (base64, one line), then the start
    time (``time.monotonic()`` seconds, one line). stdout: ``ready`` once
    the agents are logged in, then the pickled :class:`LoadResult` (base64,
    one line), or ``error: <message>``."""
    import base64
    import pickle
    import sys

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    try:
        spec = pickle.loads(base64.b64decode(sys.stdin.readline()))
        gen = Generator(spec)
        gen.login()
        say("ready")
        start_at = float(sys.stdin.readline())
        result = gen.run(start_at)
        gen.close()
        say(base64.b64encode(pickle.dumps(result)).decode("ascii"))
        return 0
    except Exception as exc:  # reported to the parent, which fails the run with this message
        say(f"error: {type(exc).__name__}: {exc}")
        return 1


if __name__ == "__main__":  # run as a module: use the importable copy, so results unpickle in the parent
    from busyhour.bench.loadgen import child_main as _main

    raise SystemExit(_main())
