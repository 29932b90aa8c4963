"""Replications: independent runs, 95% confidence intervals, in parallel.

Replication r of a scenario uses spawn key ``(r, …)`` in every stream, so
replications are independent and the same ``(seed, r)`` always gives the
same run wherever it executes (in-process, a local process pool or a Dask
cluster). Confidence intervals are Student-t on the replication means:
``mean ± t(0.975, R−1) · sd / √R``.

``run_jobs`` is the one place that fans work out: ``workers=1`` runs in this
process, otherwise a ``ProcessPoolExecutor`` (forkserver context), or a Dask
``distributed.Client`` when ``dask_address`` is given. Results come back in
job order whatever the completion order.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from busyhour.sim.results import RunResult, Stats
from busyhour.sim.scenario import Scenario

__all__ = ["Estimate", "IntervalSummary", "Summary", "estimate", "replicate", "run_jobs", "summarise"]

# t(0.975, df) for df = 1..30; beyond, the normal 1.96 is within 1.5%.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


@dataclass(frozen=True)
class Estimate:
    mean: float
    ci95: tuple[float, float]
    se: float
    n: int

    def as_json(self) -> dict:
        return {"mean": _j(self.mean), "ci95": [_j(self.ci95[0]), _j(self.ci95[1])]}


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
    t = _T975[n - 2] if n - 1 <= len(_T975) else 1.96
    return Estimate(mean, (max(lo, mean - t * se), min(hi, mean + t * se)), se, n)


_MEASURES = ("service_level", "p_wait", "p_abandon", "asa_s", "occupancy")


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


@dataclass(frozen=True)
class Summary:
    scenario: str
    seed: int
    replications: int
    service_level: Estimate
    p_wait: Estimate
    p_abandon: Estimate
    asa_s: Estimate
    occupancy: Estimate
    offered: Estimate
    intervals: tuple[IntervalSummary, ...]
    queues: tuple[tuple[str, dict[str, Estimate]], ...]
    runs: tuple[RunResult, ...]

    @property
    def calls_simulated(self) -> int:
        return sum(r.calls_simulated for r in self.runs)

    def to_json(self) -> dict:
        out: dict = {"scenario": self.scenario, "seed": self.seed, "replications": self.replications}
        out.update({m: getattr(self, m).as_json() for m in (*_MEASURES, "offered")})
        out["intervals"] = [{"start_s": i.start_s, "end_s": i.end_s,
                             **{m: getattr(i, m).as_json() for m in ("offered", *_MEASURES, "max_queue")}}
                            for i in self.intervals]
        out["queues"] = {name: {m: e.as_json() for m, e in est.items()} for name, est in self.queues}
        out["agents"] = [{"agent_id": a.agent_id, "team": a.team,
                          "utilisation": _j(estimate([r.agents[k].utilisation for r in self.runs]).mean),
                          "calls": _j(estimate([r.agents[k].calls for r in self.runs]).mean)}
                         for k, a in enumerate(self.runs[0].agents)]
        out["little"] = [{"mean_in_queue": r.little.mean_in_queue, "arrival_rate_per_s": r.little.arrival_rate_per_s,
                          "mean_time_in_queue_s": r.little.mean_time_in_queue_s} for r in self.runs]
        out["calls_simulated"] = self.calls_simulated
        return out


def _j(x: float) -> float | None:
    return None if x != x else float(x)


_BOUNDS = {"service_level": (0.0, 1.0), "p_wait": (0.0, 1.0), "p_abandon": (0.0, 1.0), "occupancy": (0.0, 1.0)}


def _est(stats: Sequence[Stats], name: str) -> Estimate:
    return estimate([getattr(s, name) for s in stats], *_BOUNDS.get(name, (0.0, math.inf)))


def summarise(runs: Sequence[RunResult]) -> Summary:
    """Combine replications of one scenario (all with the same intervals)."""
    first = runs[0]
    overall = [r.overall for r in runs]
    intervals = tuple(
        IntervalSummary(first.intervals[k].start_s, first.intervals[k].end_s,
                        *(_est([r.intervals[k] for r in runs], m) for m in ("offered", *_MEASURES, "max_queue")))
        for k in range(len(first.intervals)))
    queues = tuple((name, {m: _est([r.queues[qi][1] for r in runs], m) for m in ("offered", "service_level", "p_wait", "p_abandon", "asa_s")})
                   for qi, (name, _) in enumerate(first.queues))
    return Summary(first.scenario, first.seed, len(runs), *(_est(overall, m) for m in _MEASURES),
                   _est(overall, "offered"), intervals, queues, tuple(runs))


def _job(args: tuple) -> RunResult:
    from busyhour.sim.driver import simulate

    scn, rep, seed = args
    return simulate(scn, rep, seed=seed)


def run_jobs(jobs: Sequence[tuple[Scenario, int, int]], *, workers: int | None = None, dask_address: str | None = None,
             progress: Callable[[int], None] | None = None) -> list[RunResult]:
    """Run ``(scenario, replication, seed)`` jobs; results in job order."""
    results: list[RunResult | None] = [None] * len(jobs)
    tick = progress or (lambda k: None)
    if dask_address:
        from distributed import Client

        with Client(dask_address, set_as_default=False) as client:
            futures = client.map(_job, list(jobs), pure=False)
            for i, fut in enumerate(futures):  # in job order; the cluster runs them all meanwhile
                results[i] = fut.result()
                tick(1)
        return results  # type: ignore[return-value]
    workers = min(workers or os.cpu_count() or 1, len(jobs))
    if workers <= 1:
        for i, job in enumerate(jobs):
            results[i] = _job(job)
            tick(1)
        return results  # type: ignore[return-value]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed as done

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(_start_method())) as pool:
        futs = {pool.submit(_job, job): i for i, job in enumerate(jobs)}
        for f in done(futs):
            results[futs[f]] = f.result()
            tick(1)
    return results  # type: ignore[return-value]


def _start_method() -> str:
    """forkserver (safe beside threads), unless ``__main__`` is not a file it could re-import (``python -``)."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and not os.path.exists(main_file):
        return "fork"
    return "forkserver"


def replicate(scn: Scenario, replications: int, *, seed: int | None = None, workers: int | None = None,
              dask_address: str | None = None, progress: Callable[[int], None] | None = None) -> Summary:
    """``replications`` independent runs of ``scn`` summarised with 95% CIs."""
    if replications < 1:
        raise ValueError(f"replications must be >= 1 (got {replications})")
    seed = scn.seed if seed is None else seed
    runs = run_jobs([(scn, r, seed) for r in range(replications)], workers=workers, dask_address=dask_address,
                    progress=progress)
    return summarise(runs)
