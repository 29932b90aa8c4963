"""Sweeps: the same callers against several seat counts and routing strategies.

Every point runs replications ``0..R-1`` with the same seed, so point (N, s)
and point (N', s') see the same arrival times, talk times and patience
(common random numbers, see streams.py): differences between points are the
staffing's and the policy's, not the dice's. All points' replications go to
one ``run_jobs`` call, so a process pool or Dask cluster is kept busy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from busyhour.sim.replicate import Estimate, Summary, estimate, run_jobs, summarise
from busyhour.sim.scenario import Scenario, ScenarioError

__all__ = ["SweepPoint", "SweepResult", "parse_agent_range", "sweep"]

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

    def rows(self) -> list[dict]:
        return [p.row() for p in self.points]

    def strategies(self) -> list[str]:
        return list(dict.fromkeys(p.strategy for p in self.points))

    def paired_difference(self, point: SweepPoint, measure: str = "service_level") -> Estimate | None:
        """``measure`` at ``point`` minus the first strategy's at the same seat count, replication by
        replication: with common random numbers this interval is much narrower than the two marginal ones."""
        base = next((p for p in self.points if p.strategy == self.strategies()[0] and p.agents == point.agents), None)
        if base is None or base is point:
            return None
        return estimate([getattr(a.overall, measure) - getattr(b.overall, measure)
                         for a, b in zip(point.summary.runs, base.summary.runs)])


def parse_agent_range(text: str) -> list[int]:
    """``"80:120:5"`` → 80, 85, …, 120 (end included); ``"60"`` → [60]; ``"50,60,70"`` a list."""
    try:
        if "," in text:
            values = [int(x) for x in text.split(",")]
        else:
            parts = [int(x) for x in text.split(":")]
            if len(parts) == 1:
                values = parts
            elif len(parts) in (2, 3):
                lo, hi, step = parts[0], parts[1], parts[2] if len(parts) == 3 else 1
                if step <= 0 or hi < lo:
                    raise ValueError
                values = list(range(lo, hi + 1, step))
            else:
                raise ValueError
    except ValueError:
        raise ScenarioError(f"--agents: expected FROM:TO[:STEP] or a comma list of integers (got {text!r})") from None
    if not values or min(values) < 0 or len(values) > MAX_POINTS:
        raise ScenarioError(f"--agents: need 1 to {MAX_POINTS} counts, all >= 0 (got {text!r})")
    return values


def sweep(scn: Scenario, agents: Sequence[int], strategies: Sequence[str] | None, replications: int, *,
          seed: int | None = None, workers: int | None = None, dask_address: str | None = None,
          progress: Callable[[int], None] | None = None) -> SweepResult:
    """Run every (strategy, agents) point with ``replications`` each."""
    seed = scn.seed if seed is None else seed
    strategies = list(strategies) if strategies else [scn.router.get("strategy", "longest-idle-agent")]
    points = [(s, n, scn.with_strategy(s).with_agents(n)) for s in strategies for n in agents]
    jobs = [(p[2], r, seed) for p in points for r in range(replications)]
    runs = run_jobs(jobs, workers=workers, dask_address=dask_address, progress=progress)
    out = tuple(SweepPoint(s, n, summarise(runs[i * replications:(i + 1) * replications]))
                for i, (s, n, _) in enumerate(points))
    return SweepResult(scn.name, seed, out)
