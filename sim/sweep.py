"""Sweeps: the same callers against several seat counts and routing strategies.

Every point runs replications ``0..R-1`` with the same seed, so point (N, s)
and point (N', s') see the same arrival times, talk times and patience
(common random numbers, see streams.py): differences between points are the
staffing's and the policy's, not the dice's. All points' replications go to
one ``run_jobs`` call, so a process pool or Dask cluster is kept busy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from busyhour.sim.fast import choose_engine
from busyhour.sim.jobs import Interrupted, run_jobs
from busyhour.sim.limits import MAX_AGENTS, MAX_REPLICATIONS, check_agents, check_seed, check_size
from busyhour.sim.replicate import Estimate, Summary, estimate, summarise
from busyhour.sim.scenario import Scenario, ScenarioError

__all__ = ["SweepInterrupted", "SweepPoint", "SweepResult", "parse_agent_range", "sweep"]

MAX_POINTS = 10_000


@dataclass(frozen=True)
class SweepPoint:
    strategy: str
    agents: int
    summary: Summary

    def row(self) -> dict:
        s = self.summary
        out: dict = {"strategy": self.strategy, "agents": self.agents, "replications": s.replications}
        for m in ("service_level", "p_abandon", "p_wait", "asa_s", "occupancy"):
            e = getattr(s, m)
            out[m] = e.mean
            out[f"{m}_lo"], out[f"{m}_hi"] = e.ci95
        return out


@dataclass(frozen=True)
class SweepResult:
    scenario: str
    seed: int
    points: tuple[SweepPoint, ...]
    partial: bool = False  # interrupted: some replications did not finish

    def rows(self) -> list[dict]:
        """One flat row per point; with two or more strategies, also the paired difference in service level
        against the first strategy at the same seat count (``delta_sl``, ``delta_sl_lo``, ``delta_sl_hi``)."""
        out = []
        for p in self.points:
            row = p.row()
            if len(self.strategies()) > 1:
                diff = self.paired_difference(p)
                row["delta_sl"], (row["delta_sl_lo"], row["delta_sl_hi"]) = (
                    (math.nan, (math.nan, math.nan)) if diff is None else (diff.mean, diff.ci95))
            out.append(row)
        return out

    def strategies(self) -> list[str]:
        return list(self._strategies)

    @cached_property
    def _strategies(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.strategy for p in self.points))

    @cached_property
    def _baseline(self) -> dict[int, SweepPoint]:
        """The first strategy's point at each seat count."""
        first = self._strategies[0] if self._strategies else None
        return {p.agents: p for p in self.points if p.strategy == first}

    def paired_difference(self, point: SweepPoint, measure: str = "service_level") -> Estimate | None:
        """``measure`` at ``point`` minus the first strategy's at the same seat count, replication by
        replication: with common random numbers this interval is much narrower than the two marginal ones."""
        base = self._baseline.get(point.agents)
        if base is None or base is point:
            return None
        by_rep = {b.replication: b for b in base.summary.runs}  # paired by replication (a partial sweep may lack some)
        return estimate([getattr(a.overall, measure) - getattr(by_rep[a.replication].overall, measure)
                         for a in point.summary.runs if a.replication in by_rep])


def parse_agent_range(text: str) -> list[int]:
    """``"80:120:5"`` → 80, 85, …, 120 (end included); ``"60"`` → [60]; ``"50,60,70"`` a list.

    The count and the largest value are checked before the list is built: at most ``MAX_POINTS`` counts,
    each 0 to ``MAX_AGENTS``."""
    bad = ScenarioError(f"--agents: expected FROM:TO[:STEP] or a comma list of integers (got {text[:40]!r})")
    if len(text) > 100_000:
        raise bad
    try:
        if "," in text:
            parts = text.split(",")
            if len(parts) > MAX_POINTS:
                raise ScenarioError(f"--agents: at most {MAX_POINTS} counts (got {len(parts)})")
            values = [int(x) for x in parts]
            lo, hi, count = min(values), max(values), len(values)
        else:
            parts_i = [int(x) for x in text.split(":")]
            if not 1 <= len(parts_i) <= 3:
                raise bad
            lo, hi, step = parts_i[0], parts_i[min(1, len(parts_i) - 1)], parts_i[2] if len(parts_i) == 3 else 1
            if step <= 0 or hi < lo:
                raise bad
            count = (hi - lo) // step + 1
            values = []
    except ValueError as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise bad from None
    if lo < 0 or hi > MAX_AGENTS:
        raise ScenarioError(f"--agents: counts must be 0 to {MAX_AGENTS} (got {text[:40]!r})")
    if count > MAX_POINTS:
        raise ScenarioError(f"--agents: {count} counts, at most {MAX_POINTS}")
    return values or list(range(lo, hi + 1, step))


def sweep(scn: Scenario, agents: Sequence[int], strategies: Sequence[str] | None, replications: int, *,
          seed: int | None = None, workers: int | None = None, dask_address: str | None = None,
          progress: Callable[[float], None] | None = None, force: bool = False,
          engine: str = "auto") -> SweepResult:
    """Run every (strategy, agents) point with ``replications`` each.

    The whole sweep's size is checked first (``limits.check_size`` over every point's replications;
    ``force`` lifts the total-calls limit). On Ctrl-C, ``SweepInterrupted`` carries a partial
    ``SweepResult`` holding the points with at least one finished replication. ``engine``: as for
    :func:`busyhour.sim.driver.simulate`; ``"compiled"`` is checked for every point before anything runs."""
    seed = scn.seed if seed is None else check_seed(seed)
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise ValueError(f"replications must be >= 1 and <= {MAX_REPLICATIONS} (got {replications})")
    strategies = list(strategies) if strategies else [scn.router.get("strategy", "longest-idle-agent")]
    if len(agents) * len(strategies) > MAX_POINTS:
        raise ScenarioError(f"{len(agents) * len(strategies)} sweep points, at most {MAX_POINTS}")
    for n in agents:
        check_agents(n, "agents")
    check_size(scn, len(agents) * len(strategies) * replications, force=force,
               agent_runs=sum(agents) * len(strategies) * replications)
    points = [(s, n, scn.with_strategy(s).with_agents(n)) for s in strategies for n in agents]
    for s in dict.fromkeys(strategies):
        choose_engine(scn.with_strategy(s), engine)  # SimulationError: a point the compiled path cannot run
    jobs = [(p[2], r, seed) for p in points for r in range(replications)]
    try:
        runs = run_jobs(jobs, workers=workers, dask_address=dask_address, progress=progress, engine=engine)
    except Interrupted as exc:
        raise SweepInterrupted(_result(scn, seed, points, exc.results, replications)) from None
    return _result(scn, seed, points, runs, replications)


class SweepInterrupted(Interrupted):
    """Ctrl-C during a sweep; ``result`` holds the points with at least one finished replication."""

    def __init__(self, result: SweepResult) -> None:
        super().__init__([])
        self.result = result


def _result(scn: Scenario, seed: int, points: list, runs: list, replications: int) -> SweepResult:
    out = []
    for i, (s, n, _) in enumerate(points):
        done = [r for r in runs[i * replications:(i + 1) * replications] if r is not None]
        if done:
            out.append(SweepPoint(s, n, summarise(done)))
    return SweepResult(scn.name, seed, tuple(out), partial=any(r is None for r in runs))
