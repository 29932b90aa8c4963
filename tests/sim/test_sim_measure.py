"""measure.py's shortcuts give the numbers of the plain way, bit for bit.

1. ``new_record``, ``stats_from`` and ``agent_records`` build the object the dataclass constructor builds (equal,
   same repr, same pickle, every field in order);
2. the staffed spans as three arrays (the compiled loop's) or as a list of tuples (the SimPy driver's)
   give the same arrays;
3. a run summarised with the three groupings in one pass (short runs) or one pass each (long runs,
   ``ONE_PASS_CALLS``) is the same ``RunResult``;
4. ``busy_in_bins`` (clipped in place, by blocks of edges) is the plain clipped (edges × spans) sum;
5. ``queue_profile``'s maximum of each bin (from slices of the sorted changes) is the plain one: the most
   waiting after any instant of changes inside the bin, or carried in when it opens, and at least 0.
"""

from __future__ import annotations

import dataclasses
import math
import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import busyhour.sim.measure as measure
from busyhour.sim.driver import simulate
from busyhour.sim.results import AgentStats, Stats, agent_records, new_record, stats_from
from busyhour.sim.scenario import load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_new_record_is_the_constructors_object():
    s = stats_from(0.0, 900.0, offered=10, answered=7, abandoned=2, within_sl=5, not_waiting=3, wait_sum_s=12.5,
                   wait_pct_s=[1.0, 2.0, 3.0, math.nan], callbacks=1, redials=0, busy_s=10.0, staffed_s=0.0,
                   max_queue=4)
    plain = Stats(**{f.name: getattr(s, f.name) for f in dataclasses.fields(Stats)})
    assert type(s) is Stats and repr(s) == repr(plain) and pickle.dumps(s) == pickle.dumps(plain)
    assert list(vars(s)) == [f.name for f in dataclasses.fields(Stats)]  # every field, in order, nothing else
    a, b = new_record(AgentStats, ("a-1", "t", 3, 100.0, 50.0, 0.5)), AgentStats("a-1", "t", 3, 100.0, 50.0, 0.5)
    assert a == b and repr(a) == repr(b) and pickle.dumps(a) == pickle.dumps(b) and hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.calls = 4
    (c, d) = agent_records(["a-1", "a-2"], ["t", "u"], [3, 0], [100.0, 0.0], [50.0, 0.0], [0.5, math.nan])
    assert c == b and repr(c) == repr(b) and pickle.dumps(c) == pickle.dumps(b) and hash(c) == hash(b)
    assert repr(d) == repr(AgentStats("a-2", "u", 0, 0.0, 0.0, math.nan))
    assert list(vars(c)) == [f.name for f in dataclasses.fields(AgentStats)]  # every field, in order, nothing else
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.calls = 4
    with pytest.raises(ValueError):  # sequences of different lengths
        agent_records(["a-1"], ["t"], [3, 4], [1.0], [1.0], [1.0])


def test_staffed_spans_as_arrays_or_tuples_are_the_same_arrays():
    closed = [(3, 0.0, 10.5), (0, 2.0, 7.0), (3, 11.0, 12.0)]
    staffed_from = [math.nan, 4.0, math.nan, 0.0]
    as_list = measure.staffed_arrays(closed, staffed_from, 99.0)
    arrays = (np.array([3, 0, 3]), np.array([0.0, 2.0, 11.0]), np.array([10.5, 7.0, 12.0]))
    as_arrays = measure.staffed_arrays(arrays, np.array(staffed_from), 99.0)
    for x, y in zip(as_list, as_arrays):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
    assert as_list[0].tolist() == [3, 0, 3, 1, 3] and as_list[2].tolist() == [10.5, 7.0, 12.0, 99.0, 99.0]
    empty = measure.staffed_arrays([], [math.nan], 1.0)
    assert [a.size for a in empty] == [0, 0, 0] and empty[0].dtype == np.int64


@pytest.mark.parametrize("name", ["busy_hour", "multi_skill", "outage"])
def test_one_grouped_pass_or_three_give_the_same_result(name, monkeypatch):
    scn = load_scenario(EXAMPLES / f"{name}.toml")
    for engine in ("compiled", "simpy"):
        one = simulate(scn, 2, engine=engine)
        monkeypatch.setattr(measure, "ONE_PASS_CALLS", 0)
        three = simulate(scn, 2, engine=engine)
        monkeypatch.undo()
        assert repr(dataclasses.replace(one, wall_s=0.0)) == repr(dataclasses.replace(three, wall_s=0.0))


def test_new_record_refuses_a_wrong_number_of_values():
    with pytest.raises(TypeError, match="6 fields"):
        new_record(AgentStats, ("a-1", "t", 3, 100.0, 50.0))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300), n_edges=st.integers(1, 40),
       block=st.sampled_from([1, 7, 64, 1 << 18]))
def test_busy_in_bins_is_the_plain_clipped_sum_bit_for_bit(seed, n, n_edges, block):
    """In place and by blocks of edges, the same sums as one clipped (edges × spans) array."""
    import busyhour.sim.results as results

    rng = np.random.default_rng(seed)
    start = np.round(rng.random(n) * 3600, int(rng.integers(0, 3)))
    end = start + np.round(rng.exponential(300.0, n), 1)
    start[rng.random(n) < 0.1] = np.nan
    end[rng.random(n) < 0.05] = np.inf
    edges = np.sort(np.round(rng.random(n_edges) * 4000, 1))
    ok = np.isfinite(start) & np.isfinite(end)
    s, length = start[ok], end[ok] - start[ok]
    want = np.diff(np.clip(edges[:, None] - s, 0.0, length).sum(axis=1))
    saved, results._BLOCK = results._BLOCK, block
    try:
        assert results.busy_in_bins(start, end, edges).tobytes() == want.tobytes()
    finally:
        results._BLOCK = saved


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 200), n_edges=st.integers(2, 12))
def test_queue_profile_maxima_are_the_plain_ones(seed, n, n_edges):
    rng = np.random.default_rng(seed)
    t = np.sort(np.round(rng.random(n) * 100.0, int(rng.integers(0, 2))))  # instants with several changes
    d = rng.choice([-1, 1], n)
    edges = np.unique(np.round(rng.random(n_edges) * 120.0 - 10.0, 1))
    if edges.size < 2:
        edges = np.array([0.0, 50.0])
    counts = np.cumsum(d)
    after = {float(x): int(c) for x, c in zip(t, counts)}  # the count after all changes at each instant
    want = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        before = [c for x, c in after.items() if x < lo]
        inside = [c for x, c in after.items() if lo <= x < hi]
        want.append(max([0, *before[-1:], *inside]))
    got, _ = measure.queue_profile(t, d, edges)
    assert got.tolist() == want
