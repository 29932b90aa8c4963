"""Replications: independent runs, 95% confidence intervals, in parallel.

Replication r of a scenario uses spawn key ``(r, …)`` in every stream, so
replications are independent and the same ``(seed, r)`` always gives the
same run wherever it executes (in-process, a local process pool or a Dask
cluster). Confidence intervals are Student-t on the replication means:
``mean ± t(0.975, R−1) · sd / √R``, with the exact t quantile for any R
(tdist.py).

``run_jobs`` (jobs.py) is the one place that fans work out: in this process,
a local process pool, or a Dask cluster; results come back in job order, and
Ctrl-C raises ``Interrupted`` with the runs that finished.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from busyhour.sim.jobs import Interrupted, run_jobs
from busyhour.sim.limits import MAX_REPLICATIONS, check_seed, check_size
from busyhour.sim.results import RunResult, Stats
from busyhour.sim.scenario import Scenario
from busyhour.sim.tdist import t_quantile

__all__ = ["INTERVAL_MEASURES", "QUEUE_MEASURES", "WAIT_MEASURES", "Estimate", "Interrupted", "IntervalSummary", "Summary", "estimate", "replicate", "run_jobs", "summarise"]



@dataclass(frozen=True)
class Estimate:
    mean: float
    ci95: tuple[float, float]
    se: float
    n: int

    def as_json(self) -> dict:
        return {"mean": _j(self.mean), "ci95": [_j(self.ci95[0]), _j(self.ci95[1])]}


def _j(x: float) -> float | None:
    return None if x != x else float(x)


def estimate(values: Sequence[float], lo: float = -math.inf, hi: float = math.inf) -> Estimate:
    """Mean and Student-t 95% interval of the finite ``values`` (nan ones are skipped),
    the interval clipped to ``[lo, hi]`` (a probability's is clipped to [0, 1])."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return Estimate(math.nan, (math.nan, math.nan), math.nan, 0)
    mean = float(v.mean())
    if n == 1:
        return Estimate(mean, (math.nan, math.nan), math.nan, 1)
    se = float(v.std(ddof=1) / math.sqrt(n))
    t = t_quantile(0.975, n - 1)
    return Estimate(mean, (max(lo, mean - t * se), min(hi, mean + t * se)), se, n)


_MEASURES = ("service_level", "p_wait", "p_abandon", "asa_s", "occupancy")
#: Also estimated per interval, per queue and overall: answered-wait percentiles, callbacks and redials.
WAIT_MEASURES = ("wait_p50_s", "wait_p90_s", "wait_p95_s", "wait_p99_s", "callbacks", "redials")
#: Per queue (occupancy belongs to agents, not queues).
QUEUE_MEASURES = ("offered", "service_level", "p_wait", "p_abandon", "asa_s", *WAIT_MEASURES)
INTERVAL_MEASURES = ("offered", *_MEASURES, "max_queue", *WAIT_MEASURES)


@dataclass(frozen=True)
class IntervalSummary:
    start_s: float
    end_s: float
    offered: Estimate
    service_level: Estimate
    p_wait: Estimate
    p_abandon: Estimate
    asa_s: Estimate
    occupancy: Estimate
    max_queue: Estimate
    wait_p50_s: Estimate
    wait_p90_s: Estimate
    wait_p95_s: Estimate
    wait_p99_s: Estimate
    callbacks: Estimate
    redials: Estimate


@dataclass(frozen=True)
class Summary:
    """Replications of one scenario: ``overall`` holds every measure of ``INTERVAL_MEASURES`` for the whole
    window, ``intervals`` per interval, ``queues`` per queue (``QUEUE_MEASURES``); the common ones are also
    attributes (``summary.service_level``)."""

    scenario: str
    seed: int
    replications: int
    overall: IntervalSummary
    intervals: tuple[IntervalSummary, ...]
    queues: tuple[tuple[str, dict[str, Estimate]], ...]
    runs: tuple[RunResult, ...]

    def __getattr__(self, name: str) -> Estimate:
        if name in INTERVAL_MEASURES:
            return getattr(self.overall, name)
        raise AttributeError(name)

    @property
    def calls_simulated(self) -> int:
        return sum(r.calls_simulated for r in self.runs)

    @property
    def engine(self) -> str:
        """Which driver ran the replications: ``"compiled"``, ``"simpy"``, or ``"compiled+simpy"`` (mixed)."""
        return "+".join(sorted({r.engine for r in self.runs}))


_BOUNDS = {"service_level": (0.0, 1.0), "p_wait": (0.0, 1.0), "p_abandon": (0.0, 1.0), "occupancy": (0.0, 1.0)}


def _est(stats: Sequence[Stats], name: str) -> Estimate:
    return estimate([getattr(s, name) for s in stats], *_BOUNDS.get(name, (0.0, math.inf)))


def _interval(stats: Sequence[Stats]) -> IntervalSummary:
    return IntervalSummary(stats[0].start_s, stats[0].end_s, *(_est(stats, m) for m in INTERVAL_MEASURES))


def summarise(runs: Sequence[RunResult]) -> Summary:
    """Combine replications of one scenario (all with the same intervals)."""
    first = runs[0]
    intervals = tuple(_interval([r.intervals[k] for r in runs]) for k in range(len(first.intervals)))
    queues = tuple((name, {m: _est([r.queues[qi][1] for r in runs], m) for m in QUEUE_MEASURES})
                   for qi, (name, _) in enumerate(first.queues))
    return Summary(first.scenario, first.seed, len(runs), _interval([r.overall for r in runs]), intervals, queues,
                   tuple(runs))


def replicate(scn: Scenario, replications: int, *, seed: int | None = None, workers: int | None = None,
              dask_address: str | None = None, progress: Callable[[float], None] | None = None,
              force: bool = False, engine: str = "auto", streaming_stats: bool = False) -> Summary:
    """``replications`` independent runs of ``scn`` summarised with 95% CIs.

    The run's size is checked first (``limits.check_size``; ``force`` lifts the total-calls limit). On
    Ctrl-C, ``Interrupted`` carries the finished runs (``summarise`` them for a partial summary).
    ``engine`` and ``streaming_stats``: as for :func:`busyhour.sim.driver.simulate`."""
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise ValueError(f"replications must be >= 1 and <= {MAX_REPLICATIONS} (got {replications})")
    check_size(scn, replications, force=force)
    seed = scn.seed if seed is None else check_seed(seed)
    runs = run_jobs([(scn, r, seed) for r in range(replications)], workers=workers, dask_address=dask_address,
                    progress=progress, engine=engine, streaming_stats=streaming_stats)
    return summarise(runs)
