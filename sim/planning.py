"""Planning views of a scenario: the Erlang C prediction beside the simulation,
and the staffing the simulation suggests.

* ``interval_loads``: per interval, the offered load in Erlangs (forecast calls
  + bursts, × mean talk + after-call work, per interval length), the blended
  handle time, and the agents the schedule puts on the phones (shifts minus
  breaks, averaged over the interval).
* ``erlang_service_level``: Erlang C's service level for each interval with
  all scheduled agents pooled and no abandonment — the textbook answer the
  formulas give (``busyhour.erlang``; ``None`` until that package is there).
* ``suggest_agents``: the least total agents, among the candidates, whose
  simulated mean service level meets the target in *every* interval (a sweep
  with common random numbers; teams keep their proportions).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from busyhour.sim.results import busy_in_bins
from busyhour.sim.routing import after_call_work
from busyhour.sim.scenario import Scenario
from busyhour.sim.sweep import SweepResult, sweep

__all__ = ["IntervalLoad", "erlang_service_level", "interval_loads", "meets_target", "suggest_agents"]


@dataclass(frozen=True)
class IntervalLoad:
    start_s: float
    end_s: float
    calls: float
    load_erlangs: float
    aht_s: float  # talk + after-call work, blended over queues
    scheduled_agents: float


def interval_loads(scn: Scenario) -> tuple[IntervalLoad, ...]:
    n = scn.n_intervals
    edges = np.minimum(np.arange(n + 1) * scn.interval_s, scn.horizon_s)
    calls = np.zeros(n)
    work = np.zeros(n)
    for q in scn.queues:
        c = np.asarray(q.calls_per_interval)
        calls += c
        work += c * (q.handle_time.mean_s + after_call_work(scn, q).mean_s)
    for b in scn.bursts:
        q = next(q for q in scn.queues if q.name == b.queue)
        extra = busy_in_bins(np.array([b.start_s]), np.array([b.start_s + b.duration_s]), edges) * b.extra_calls_per_h / 3600
        calls += extra
        work += extra * (q.handle_time.mean_s + after_call_work(scn, q).mean_s)
    starts, ends = [], []
    for t in scn.teams:
        for k in range(t.agents):
            off = t.break_spread_s * k / max(t.agents, 1)
            on = [(s.start_s, s.end_s) for s in t.shifts] or [(0.0, scn.horizon_s)]
            for b0, b1 in ((b.start_s + off, b.end_s + off) for b in t.breaks):
                on = [piece for s, e in on for piece in ((s, min(e, b0)), (max(s, b1), e)) if piece[1] > piece[0]]
            starts += [s for s, _ in on]
            ends += [e for _, e in on]
    staffed = busy_in_bins(np.array(starts, dtype=float), np.array(ends, dtype=float), edges) / np.diff(edges)
    return tuple(IntervalLoad(float(edges[k]), float(edges[k + 1]), float(calls[k]),
                              float(work[k] / (edges[k + 1] - edges[k])),
                              float(work[k] / calls[k]) if calls[k] else math.nan, float(staffed[k]))
                 for k in range(n))


def erlang_service_level(scn: Scenario) -> list[float] | None:
    """Erlang C service level per interval (pooled agents, no abandonment), or None without busyhour.erlang."""
    try:
        from busyhour.erlang import service_level
    except ImportError:
        return None
    out = []
    for il in interval_loads(scn):
        if not il.calls:
            out.append(math.nan)
            continue
        out.append(float(service_level(int(math.floor(il.scheduled_agents + 1e-9)), il.load_erlangs, il.aht_s,
                                       scn.sl_threshold_s)))
    return out


@dataclass(frozen=True)
class StaffingSuggestion:
    agents: int | None  # None: no candidate met the target
    target: float
    sweep: SweepResult


def suggest_agents(scn: Scenario, candidates: Sequence[int], replications: int, *, target: float = 0.8,
                   seed: int | None = None, workers: int | None = None, dask_address: str | None = None,
                   progress: Callable[[float], None] | None = None, force: bool = False,
                   engine: str = "auto") -> StaffingSuggestion:
    """``target`` is the share answered within the scenario's ``sl_threshold_s``; ``engine`` as for
    :func:`busyhour.sim.sweep.sweep`."""
    res = sweep(scn, sorted(candidates), None, replications, seed=seed, workers=workers, dask_address=dask_address,
                progress=progress, force=force, engine=engine)
    for p in res.points:
        if meets_target(p, target):
            return StaffingSuggestion(p.agents, target, res)
    return StaffingSuggestion(None, target, res)


def meets_target(point, target: float) -> bool:
    """A sweep point's mean service level reaches ``target`` in every interval that had calls."""
    sl = [i.service_level.mean for i in point.summary.intervals
          if i.offered.mean > 0 and i.service_level.mean == i.service_level.mean]
    return bool(sl) and min(sl) >= target
