"""Routing-core throughput: full call lifecycles per second through the facade.

A lifecycle is arrive → offer → accept → release → wrap-up end, at ~90 %
occupancy: 90 % of the agents hold a connected call at all times; each step
releases the oldest call (its agent goes to wrap-up), fires the wrap-ups that
are due, and routes one new call, which the engine offers to an eligible
AVAILABLE agent and which is accepted at once.

Workloads are named by size (``WORKLOADS``); seeds are fixed; the JIT is
warmed up untimed; a correctness check runs before anything is timed.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from busyhour.router import EventKind, ReferenceRouter, Router
from busyhour.router.core_layout import NWAIT


@dataclass(frozen=True)
class Workload:
    name: str
    agents: int
    skills: int
    queues: int


WORKLOADS = {
    "100": Workload("100", 100, 10, 1),
    "1k": Workload("1k", 1_000, 100, 100),
    "10k": Workload("10k", 10_000, 100, 100),
    "100k": Workload("100k", 100_000, 1_000, 1_000),
}


@dataclass(frozen=True)
class RouterBenchResult:
    workload: str
    agents: int
    skills: int
    queues: int
    lifecycles: int
    seconds: float
    lifecycles_per_s: float
    bhca: float
    decision_ns_p50: float
    decision_ns_p99: float
    occupancy: float
    stats: bool
    fast_paths: bool
    strategy: str
    engine: str = "python"  # "python": ReferenceRouter (the specification), one call per command; "compiled":
    # Router.submit batches; "per-call": Router's per-call methods (the compiled core), one call per command
    batch: int = 1  # lifecycles per submitted batch
    cpu_us_per_lifecycle: float = 0.0  # this process's CPU time (user + system) over the timed lifecycles: unlike
    # lifecycles/s, it does not count the time other processes take the cores away on a shared machine
    submit_us_per_lifecycle: float = 0.0  # compiled: wall time inside Router.submit over the timed lifecycles, the
    # router's own cost without the driver's (making the batches, reading the events); 0 for the other engines


def build_config(w: Workload, seed: int = 1, wrap_up_s: float = 2.0, strategy: str = "longest-idle-agent") -> dict:
    """Agents hold 3 random skills (levels 1-5); queue k needs skill k % skills at level 1."""
    rng = np.random.default_rng(seed)
    skills = [f"s{i}" for i in range(w.skills)]
    agents = []
    members: list[list[str]] = [[] for _ in range(w.queues)]
    need = [k % w.skills for k in range(w.queues)]
    by_skill: dict[int, list[int]] = {}
    for k, s in enumerate(need):
        by_skill.setdefault(s, []).append(k)
    for i in range(w.agents):
        held = rng.choice(w.skills, size=min(3, w.skills), replace=False)
        held[0] = i % w.skills  # every skill is held by someone
        if w.queues:
            held[0] = need[i % w.queues]  # every queue has members
        aid = f"a{i}"
        agents.append({"id": aid, "skills": {skills[s]: int(rng.integers(1, 6)) for s in held}})
        for s in set(int(x) for x in held):
            for k in by_skill.get(s, []):
                members[k].append(aid)
    queues = [{"name": f"q{k}", "strategy": strategy, "skills": {skills[need[k]]: 1}, "members": members[k],
               "wrap_up_s": wrap_up_s,
               "ring_timeout_s": 30.0} for k in range(w.queues)]
    return {"skills": skills, "agents": agents, "queues": queues, "seed": seed}


class LifecycleDriver:
    """Keeps the floor at the target occupancy and runs lifecycles."""

    def __init__(self, w: Workload, *, stats: bool = False, seed: int = 1, occupancy: float = 0.9,
                 fast_paths: bool = True, strategy: str = "longest-idle-agent", engine: str = "python"):
        self.w = w
        cfg = build_config(w, seed, strategy=strategy)
        if engine not in ("python", "per-call"):
            raise ValueError(f"engine must be python or per-call, got {engine!r}")
        if engine == "per-call":  # the same calls through Router's per-call methods
            self.router = Router.from_config(cfg, collect_stats=stats, calls=2 * w.agents + 1024)
        else:
            self.router = ReferenceRouter.from_config(cfg, collect_stats=stats, fast_paths=fast_paths)
        self.rng = np.random.default_rng(seed + 1)
        self.now = 0.0
        # Steady state: about 5 % of the floor is in wrap-up (2 s), 5 % available, 90 % talking.
        self.dt_s = 2.0 / max(1.0, 0.05 * w.agents)
        self.n = 0
        self.connected: deque = deque()
        for i in range(w.agents):
            self.router.agent_login(0.0, f"a{i}", ready=True)
        self.queue_names = [f"q{k}" for k in range(w.queues)]
        target = int(occupancy * w.agents)
        self.qs = self.rng.integers(0, w.queues, size=target + 10_000_000 // max(1, w.agents))
        while len(self.connected) < target:
            self._route_one(timed=None)

    def _route_one(self, timed: list | None) -> None:
        r = self.router
        self.n += 1
        cid = self.n
        q = self.queue_names[self.qs[self.n % self.qs.shape[0]]]
        t0 = time.perf_counter_ns()
        ev = r.call_arrive(self.now, cid, q)
        if timed is not None:
            timed.append(time.perf_counter_ns() - t0)
        self._answer(ev)  # a call nobody eligible is free for waits, and is answered when offered later

    def _answer(self, events: list) -> None:
        """Agents answer every offer at once (events of timers fired implicitly included)."""
        for e in events:
            if e.kind == EventKind.CALL_OFFERED:
                self._answer(self.router.offer_accept(self.now, e.call_id, e.agent_id))
                self.connected.append(e.call_id)

    def step(self, timed: list | None) -> None:
        """One lifecycle: release the oldest call, fire due wrap-ups, route and answer one call."""
        r = self.router
        self.now += self.dt_s
        cid = self.connected.popleft()
        self._answer(r.call_release(self.now, cid))  # wrap-ups due by now end first: waiting calls go out
        self._route_one(timed)

    def check(self) -> None:
        """Correctness before timing: every call is accounted for and the floor stays busy."""
        arrived, ended = self.router.counts
        live = arrived - ended
        if isinstance(self.router, Router):
            waiting = int(self.router._S.Q_i[:, NWAIT].sum())
        else:
            waiting = sum(len(q.waiting) for q in self.router._queues)
        assert live == len(self.connected) + waiting, (live, len(self.connected), waiting)
        occ = len(self.connected) / self.w.agents
        assert 0.85 <= occ <= 0.95, f"occupancy {occ:.3f} outside 0.85-0.95"


def workload(name: str, *, skills: int | None = None, queues: int | None = None) -> Workload:
    """A named workload, optionally with another number of skills or queues."""
    w = WORKLOADS[name]
    if skills is None and queues is None:
        return w
    s, q = skills or w.skills, queues or w.queues
    return Workload(f"{name}-{s}s-{q}q", w.agents, s, q)


def run(w: Workload | str = "10k", *, lifecycles: int = 200_000, max_seconds: float = 30.0, stats: bool = False,
        warmup: int = 2_000, fast_paths: bool = True, strategy: str = "longest-idle-agent",
        engine: str = "python") -> RouterBenchResult:
    """Time ``lifecycles`` (bounded by ``max_seconds``) after an untimed warm-up and a correctness check, one
    call per command through ``engine``: "python" (ReferenceRouter) or "per-call" (Router's per-call methods)."""
    w = WORKLOADS[w] if isinstance(w, str) else w
    d = LifecycleDriver(w, stats=stats, fast_paths=fast_paths, strategy=strategy, engine=engine)
    for _ in range(warmup):
        d.step(None)
    d.check()
    timed: list[int] = []
    c0, t0 = time.process_time(), time.perf_counter()
    done = 0
    deadline = t0 + max_seconds
    while done < lifecycles:
        d.step(timed)
        done += 1
        if done % 1024 == 0 and time.perf_counter() > deadline:
            break
    secs, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    d.check()
    ns = np.array(timed, dtype=np.float64)
    rate = done / secs
    return RouterBenchResult(w.name, w.agents, w.skills, w.queues, done, secs, rate, rate * 3600.0,
                             float(np.percentile(ns, 50)), float(np.percentile(ns, 99)),
                             len(d.connected) / w.agents, stats, fast_paths, strategy, engine,
                             cpu_us_per_lifecycle=cpu_s * 1e6 / done)


def write_json(results: list[RouterBenchResult], path: Path) -> None:
    rows = [asdict(r) for r in results]
    payload = rows[0] if len(rows) == 1 else {"runs": rows, **rows[-1]}
    path.write_text(json.dumps(payload, indent=2) + "\n")
