"""Random streams: reproducible, independent, keyed by name (common random numbers)."""

from __future__ import annotations

import copy

import numpy as np

from busyhour.sim.arrivals import build_arrivals
from busyhour.sim.scenario import parse_scenario
from busyhour.sim.streams import stream

RAW = {
    "horizon_s": 7200, "interval_s": 1800,
    "queues": [{"name": "a", "calls_per_hour": 300, "handle_time": {"dist": "lognormal", "mean_s": 200, "cv": 1}},
               {"name": "b", "calls_per_interval": [50, 80, 60, 40], "overdispersion_cv": 0.2,
                "handle_time": {"dist": "exponential", "mean_s": 120},
                "patience": {"dist": "exponential", "mean_s": 90}}],
    "teams": [{"name": "t", "agents": 30, "skills": {"a": 1, "b": 1}}],
}


def test_same_key_same_numbers_other_key_other_numbers():
    assert np.array_equal(stream(1, 0, "handle", "a").random(5), stream(1, 0, "handle", "a").random(5))
    others = [stream(2, 0, "handle", "a"), stream(1, 1, "handle", "a"), stream(1, 0, "patience", "a"),
              stream(1, 0, "handle", "b")]
    ref = stream(1, 0, "handle", "a").random(5)
    for g in others:
        assert not np.array_equal(ref, g.random(5))


def test_arrivals_are_reproducible_and_sorted():
    scn = parse_scenario(RAW)
    a1, a2 = build_arrivals(scn, 3, 9), build_arrivals(scn, 3, 9)
    for f in ("time_s", "queue", "handle_s", "patience_s", "redial_u"):
        assert np.array_equal(getattr(a1, f), getattr(a2, f))
    assert (np.diff(a1.time_s) >= 0).all() and a1.time_s.max() < 7200


def _queue_calls(arr, qi):
    m = arr.queue == qi
    return arr.time_s[m], arr.handle_s[m], arr.patience_s[m]


def test_a_queues_callers_do_not_depend_on_the_rest():
    """Adding a queue, a burst, agents or a strategy leaves queue a's callers identical."""
    scn = parse_scenario(RAW)
    raw2 = copy.deepcopy(RAW)
    raw2["queues"].append({"name": "c", "calls_per_hour": 100, "handle_time": {"dist": "exponential", "mean_s": 60}})
    raw2["bursts"] = [{"queue": "a", "start_s": 1000, "duration_s": 600, "multiplier": 3}]
    scn2 = parse_scenario(raw2).with_agents(50).with_strategy("most-skilled-first")
    base = _queue_calls(build_arrivals(scn, 0, 1), 0)
    t2, h2, p2 = _queue_calls(build_arrivals(scn2, 0, 1), 0)
    assert t2.size > base[0].size  # the burst's callers were added ...
    keep = np.isin(t2, base[0])
    assert keep.sum() == base[0].size  # ... and every original caller is still there
    assert np.array_equal(t2[keep], base[0]) and np.array_equal(h2[keep], base[1])


def test_poisson_counts_match_the_forecast():
    """Mean count per interval over replications within 4 SE of the forecast (Poisson: var = mean)."""
    scn = parse_scenario({**RAW, "queues": [RAW["queues"][0]]})
    reps = 200
    counts = np.array([np.histogram(build_arrivals(scn, r, 4).time_s, bins=[0, 1800, 3600, 5400, 7200])[0]
                       for r in range(reps)])
    expected = 300 / 2
    assert (np.abs(counts.mean(axis=0) - expected) <= 4 * np.sqrt(expected / reps)).all()
