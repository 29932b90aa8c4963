"""Compiled-core throughput: full call lifecycles per second through ``Router.submit``.

The same lifecycle and floor as router_bench.py (arrive → offer → accept →
release → wrap-up end, ~90 % occupancy, the same configurations), driven the
way a PBX adapter or the ZeroMQ server feeds the engine at high rates: every
poll hands over the commands that arrived since the last one. Each batch
holds the answers to the offers of the previous batch, then ``batch``
pairs (release the oldest connected call, a new call arrives) spaced
``dt_s`` apart in time; a batch spans at most 2 s of traffic, so an offer
is answered within 2 s. The driver reacts to events with numpy only: it
answers the offers it finds among them, and takes a call as connected once
its answer's row succeeded (status 0, as docs/router-api.md promises).

Decision latency is measured apart: a call arriving alone in a one-row
batch (``submit`` of one row: what a command sent on its own costs).
"""

from __future__ import annotations

import time

import numpy as np

from busyhour.router import EventKind
from busyhour.router.core_layout import OK, OP_ACCEPT, OP_ARRIVE, OP_DTYPE, OP_LOGIN, OP_RELEASE
from busyhour.router.fast import Router

from .router_bench import RouterBenchResult, Workload, WORKLOADS, build_config

_OFFERED = int(EventKind.CALL_OFFERED)


class _Fifo:
    """Connected call ids, oldest first, in one buffer: taking from the front moves an index and appending
    writes after the end, so a batch copies what it adds, not the whole floor (a concatenation per batch
    copied ~9,000 ids at 10K agents). When the end is reached the live ids move to the front, or into a buffer
    twice their number when they fill more than half of it."""

    def __init__(self, capacity: int):
        self.buf = np.empty(max(capacity, 16), dtype=np.int64)
        self.lo = self.hi = 0

    @property
    def size(self) -> int:
        return self.hi - self.lo

    def take(self, n: int) -> np.ndarray:
        """The ``n`` oldest ids, or all if fewer (a view, valid until the next :meth:`put`)."""
        out = self.buf[self.lo:min(self.lo + n, self.hi)]
        self.lo += out.size
        return out

    def put(self, ids: np.ndarray) -> None:
        n, live = ids.size, self.hi - self.lo
        if self.hi + n > self.buf.size:
            if live + n > self.buf.size // 2:
                grown = np.empty(2 * (live + n), dtype=np.int64)
                grown[:live] = self.buf[self.lo:self.hi]
                self.buf = grown
            else:
                self.buf[:live] = self.buf[self.lo:self.hi]
            self.lo, self.hi = 0, live
        self.buf[self.hi:self.hi + n] = ids
        self.hi += n


class BatchDriver:
    """Keeps the floor at the target occupancy and runs lifecycles in batches."""

    def __init__(self, w: Workload, *, seed: int = 1, occupancy: float = 0.9, batch: int = 256,
                 strategy: str = "longest-idle-agent", stats: bool = False):
        self.w = w
        self.dt_s = 2.0 / max(1.0, 0.05 * w.agents)
        self.batch = max(1, min(batch, int(2.0 / self.dt_s)))  # a batch spans at most 2 s: answers come fast
        self.router = Router.from_config(build_config(w, seed, strategy=strategy), calls=2 * w.agents + 1024,
                                          collect_stats=stats)
        self.rng = np.random.default_rng(seed + 1)
        self.steps_s = self.dt_s * np.arange(1, self.batch + 1)  # a batch's times after ``now``
        self.queue_draws = np.empty(0, dtype=np.int64)  # arrivals' queues, drawn ahead in blocks
        self.now = 0.0
        self.next_id = 1
        self.fifo = _Fifo(4 * w.agents)  # connected calls, oldest first
        self.pend_call = np.empty(0, dtype=np.int64)  # offers to answer in the next batch
        self.pend_agent = np.empty(0, dtype=np.int32)
        self.answered = self.pend_call  # the calls the batch being submitted answers
        self.released = 0
        self.submit_s = 0.0  # wall time inside Router.submit
        ops = np.zeros(w.agents, dtype=OP_DTYPE)
        ops["op"] = OP_LOGIN
        ops["agent"] = np.arange(w.agents)
        ops["arg"] = 1.0
        self._take(self.router.submit(ops))
        target = int(occupancy * w.agents)
        while self.fifo.size + self.pend_call.size < target:
            k = min(self.batch, target - self.fifo.size - self.pend_call.size)
            self._submit(self._ops(0, k))
        self._submit(self._ops(0, 0))  # answer the last offers

    def _queues(self, n: int) -> np.ndarray:
        """The next ``n`` arrivals' queues, uniform over the workload's queues: drawn 64K at a time, since one
        small draw per batch cost more than the rest of building the batch."""
        if self.queue_draws.size < n:
            self.queue_draws = np.concatenate([self.queue_draws,
                                               self.rng.integers(0, self.w.queues, size=max(n, 1 << 16))])
        out, self.queue_draws = self.queue_draws[:n], self.queue_draws[n:]
        return out

    def _ops(self, n_release: int, n_arrive: int) -> np.ndarray:
        """Answers to pending offers, then release/arrive pairs (a release only where one is asked)."""
        na, k = self.pend_call.size, max(n_release, n_arrive)
        ops = np.zeros(na + n_release + n_arrive, dtype=OP_DTYPE)
        acc = ops[:na]
        acc["op"] = OP_ACCEPT
        acc["time_s"] = self.now
        acc["call"] = self.pend_call
        acc["agent"] = self.pend_agent
        self.answered = self.pend_call  # connected once the batch's statuses say so (_submit)
        self.pend_call, self.pend_agent = self.pend_call[:0], self.pend_agent[:0]
        times = self.now + (self.steps_s[:k] if k <= self.steps_s.size else self.dt_s * np.arange(1, k + 1))
        if n_release:  # release, arrive, release, arrive, ... as far as both go
            rel, arr = ops[na:na + 2 * n_release:2], ops[na + 1:na + 2 * n_release:2]
            rel["op"] = OP_RELEASE
            rel["time_s"] = times[:n_release]
            rel["call"] = self.fifo.take(n_release)
            rel["arg"] = np.nan
        else:
            arr = ops[na:]
        arr["op"] = OP_ARRIVE
        arr["agent"] = -1  # no preferred agent
        arr["time_s"] = times[:n_arrive]
        arr["call"] = np.arange(self.next_id, self.next_id + n_arrive)
        arr["queue"] = self._queues(n_arrive)
        self.next_id += n_arrive
        self.released += n_release
        if k:
            self.now = float(times[-1])
        return ops

    def _submit(self, ops: np.ndarray) -> None:
        t0 = time.perf_counter()
        res = self.router.submit(ops)
        self.submit_s += time.perf_counter() - t0
        if (np.count_nonzero(res.status) if OK == 0 else (res.status != OK).any()):  # a row failed
            raise AssertionError("; ".join(self.router.describe(ops, res.status)[:3]))
        self.fifo.put(self.answered)  # every answer succeeded: those calls are connected, in the rows' order
        self.answered = self.answered[:0]
        self._take(res)

    def _take(self, res) -> None:
        """The offers among a batch's events: the next batch answers them."""
        ev = res.events
        off = np.flatnonzero(np.ascontiguousarray(ev["kind"]) == _OFFERED)  # one field packed, then compared
        if self.pend_call.size:
            self.pend_call = np.concatenate([self.pend_call, ev["call"][off]])
            self.pend_agent = np.concatenate([self.pend_agent, ev["agent"][off]])
        else:  # the usual case: the last batch answered every offer
            self.pend_call, self.pend_agent = ev["call"][off], ev["agent"][off]

    def step(self) -> None:
        """One batch: ``batch`` lifecycles."""
        self._submit(self._ops(self.batch, self.batch))

    def check(self) -> None:
        """Every call is accounted for and the floor stays busy (connected or being rung)."""
        arrived, ended = self.router.counts
        live = arrived - ended
        busy = self.fifo.size + self.pend_call.size
        assert live >= busy, (live, busy)
        assert live - busy <= self.w.agents, "more calls waiting than agents: the floor is not keeping up"
        occ = busy / self.w.agents
        assert 0.85 <= occ <= 0.95, f"occupancy {occ:.3f} outside 0.85-0.95"


def decision_ns(d: BatchDriver, n: int = 2000) -> np.ndarray:
    """Nanoseconds to route a call submitted alone (one-row batch), on the driver's busy floor."""
    one = np.zeros(1, dtype=OP_DTYPE)
    out = np.empty(n)
    for i in range(n):
        if d.fifo.size == 0:
            break
        d.now += d.dt_s
        d._submit(d._ops(1, 0))  # keep the floor: release one first (untimed)
        one[0] = (OP_ARRIVE, d.now, d.next_id, -1, int(d.rng.integers(0, d.w.queues)), 0, 0.0)
        d.next_id += 1
        t0 = time.perf_counter_ns()
        res = d.router.submit(one)
        out[i] = time.perf_counter_ns() - t0
        d._take(res)
        d._submit(d._ops(0, 0))
    return out


def run(w: Workload | str = "10k", *, lifecycles: int = 1_000_000, max_seconds: float = 30.0, batch: int = 256,
        warmup_batches: int = 20, strategy: str = "longest-idle-agent", stats: bool = False) -> RouterBenchResult:
    """Time ``lifecycles`` (bounded by ``max_seconds``) after an untimed warm-up and a correctness check; ``stats``:
    the router also collects its statistics (from the event rows)."""
    w = WORKLOADS[w] if isinstance(w, str) else w
    d = BatchDriver(w, batch=batch, strategy=strategy, stats=stats)
    for _ in range(warmup_batches):
        d.step()
    d.check()
    start, submit0_s = d.released, d.submit_s
    c0, t0 = time.process_time(), time.perf_counter()
    deadline = t0 + max_seconds
    while d.released - start < lifecycles and time.perf_counter() < deadline:
        d.step()
    secs, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    done, in_submit = d.released - start, d.submit_s - submit0_s
    d.check()
    ns = decision_ns(d)
    d.check()
    rate = done / secs
    return RouterBenchResult(w.name, w.agents, w.skills, w.queues, done, secs, rate, rate * 3600.0,
                             float(np.percentile(ns, 50)), float(np.percentile(ns, 99)),
                             (d.fifo.size + d.pend_call.size) / w.agents, stats, True, strategy, "compiled", d.batch,
                             cpu_us_per_lifecycle=cpu_s * 1e6 / done, submit_us_per_lifecycle=in_submit * 1e6 / done)
