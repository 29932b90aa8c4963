"""Replications, confidence intervals, parallel back-ends and sweeps.

1. ``estimate``: Student-t interval, nan skipped, clipped bounds;
2. the same (seed, replication) gives the same run in-process, in a process
   pool and on a Dask cluster (tested against a ``LocalCluster``);
3. a sweep gives every point the same callers (common random numbers):
   with FCFS and no abandonment, one more agent never makes any
   replication's waits longer, so SL is monotone in seats per replication.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from busyhour.sim.replicate import estimate, replicate, run_jobs
from busyhour.sim.scenario import ScenarioError, parse_scenario
from busyhour.sim.sweep import parse_agent_range, sweep

RAW = {
    "horizon_s": 3600, "interval_s": 1800, "seed": 5,
    "queues": [{"name": "q", "calls_per_hour": 240, "handle_time": {"dist": "exponential", "mean_s": 120}}],
    "teams": [{"name": "t", "agents": 10, "skills": {"q": 1}}],
}


def _strip(runs):  # repr: nan fields (per-queue occupancy) compare equal
    return [repr(dataclasses.replace(r, wall_s=0.0)) for r in runs]


def test_estimate():
    e = estimate([1.0, 2.0, 3.0, math.nan])
    assert e.mean == 2.0 and e.n == 3 and e.se == pytest.approx(1 / math.sqrt(3))
    t2 = 4.302652729749464  # t(0.975, 2), exact to the digits shown
    assert e.ci95 == pytest.approx((2 - t2 / math.sqrt(3), 2 + t2 / math.sqrt(3)), rel=1e-12)
    assert estimate([0.9, 1.0, 1.0], 0.0, 1.0).ci95[1] == 1.0
    assert estimate([5.0]).n == 1 and math.isnan(estimate([]).mean)
    assert estimate([1.0] * 100).ci95 == (1.0, 1.0)


def test_replicate_rejects_zero():
    with pytest.raises(ValueError, match="replications must be >= 1"):
        replicate(parse_scenario(RAW), 0)


def test_process_pool_gives_the_same_runs():
    scn = parse_scenario(RAW)
    jobs = [(scn, r, 5) for r in range(4)]
    ticks = []
    local = run_jobs(jobs, workers=1, progress=ticks.append)
    pooled = run_jobs(jobs, workers=2)
    assert _strip(local) == _strip(pooled)
    assert ticks[-1] == pytest.approx(4) and ticks == sorted(ticks) and len(ticks) > 4  # per job and within each run
    assert len({r.overall.offered for r in local}) > 1  # replications differ


def test_dask_local_cluster_gives_the_same_runs():
    distributed = pytest.importorskip("distributed")
    scn = parse_scenario(RAW)
    jobs = [(scn, r, 5) for r in range(3)]
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        remote = run_jobs(jobs, dask_address=cluster.scheduler_address)
    assert _strip(remote) == _strip(run_jobs(jobs, workers=1))


def test_parse_agent_range():
    assert parse_agent_range("80:120:10") == [80, 90, 100, 110, 120]
    assert parse_agent_range("5:7") == [5, 6, 7] and parse_agent_range("9") == [9]
    assert parse_agent_range("3,5,8") == [3, 5, 8]
    for bad in ("a:b", "10:5", "1:2:0", "1:2:3:4", "-1"):
        with pytest.raises(ScenarioError, match="--agents"):
            parse_agent_range(bad)


def test_sweep_uses_common_random_numbers():
    scn = parse_scenario(RAW)
    res = sweep(scn, [8, 9, 10, 12], ["longest-idle-agent", "round-robin"], 3, workers=1)
    assert [(p.strategy, p.agents) for p in res.points] == [
        (s, n) for s in ("longest-idle-agent", "round-robin") for n in (8, 9, 10, 12)]
    offered = {tuple(r.overall.offered for r in p.summary.runs) for p in res.points}
    assert len(offered) == 1  # every point saw the same callers
    for strat in res.strategies():
        pts = [p for p in res.points if p.strategy == strat]
        for r in range(3):
            sl = [p.summary.runs[r].overall.service_level for p in pts]
            assert sl == sorted(sl)
    # identical agents: the strategy changes who answers, not when (FCFS waits are the same)
    by = {(p.strategy, p.agents): p.summary.runs[0].overall.asa_s for p in res.points}
    assert by[("longest-idle-agent", 9)] == pytest.approx(by[("round-robin", 9)])
    assert {"strategy", "agents", "service_level", "service_level_lo", "p_abandon"} <= set(res.rows()[0])


def test_paired_difference_uses_the_same_replications():
    scn = parse_scenario(RAW)
    res = sweep(scn, [9], ["longest-idle-agent", "round-robin"], 3, workers=1)
    base, other = res.points
    assert res.paired_difference(base) is None
    diff = res.paired_difference(other)
    assert diff.n == 3 and diff.mean == pytest.approx(
        other.summary.service_level.mean - base.summary.service_level.mean)
