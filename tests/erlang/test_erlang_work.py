"""The work estimates (``busyhour.erlang.work``) are consistent, and the solvers they model stay in bounds.

Invariants checked:
1. More counts never estimate less: appending a count to any list adds at least PER_COUNT_STEPS, and a
   prefix never estimates more than the whole list (every estimator).
2. For Erlang B and C, ascending order never estimates more than any other order of the same counts.
3. Every estimate is finite and at least CALL_STEPS for any input the library accepts (load 0 to 1e300,
   counts 0 to 10**9), and one walk is at most 61 sqrt(load) + 350 steps.
4. load_for_blocking's estimate grows as the target shrinks (the solver's walks do).
5. The Erlang A queue estimate is within 3x of the number of terms the exact sum takes.
6. extended_erlang_b's Newton stops within RECALL_ITERATIONS + 3 iterations (it used to hop between two
   doubles up to its 300-step cap).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.erlang import extended_erlang_b, work

LOADS = st.one_of(st.just(0.0), st.floats(1e-18, 1.0), st.floats(1.0, 1e4), st.floats(1e4, 1e9),
                  st.floats(1e9, 1e300))


def estimators(load: float):
    """Each estimator as a function of the counts, at ``load``."""
    return {
        "erlang_b": lambda ns: work.erlang_b_steps(ns, load),
        "erlang_c": lambda ns: work.erlang_c_steps(ns, load),
        "erlang_a": lambda ns: work.erlang_a_steps(ns, min(load, 1e6), 180.0, 120.0, 20.0),
        "erlang_a_inf": lambda ns: work.erlang_a_steps(ns, load, 180.0, math.inf, 20.0),
        "load_for_blocking": lambda ns: work.load_for_blocking_steps(ns, 0.01),
        "extended_erlang_b": lambda ns: work.extended_erlang_b_steps(ns, load, 0.9),
    }


def counts_near(load: float):
    lo = int(min(load, 1e9))
    return st.lists(st.integers(max(0, lo - 3000), min(10**9, lo + 3000)), min_size=1, max_size=30)


@settings(max_examples=120, deadline=None)
@given(load=LOADS, data=st.data())
def test_more_counts_never_estimate_less(load, data):
    ns = data.draw(counts_near(load))
    extra = data.draw(st.integers(0, 10**9))
    for name, est in estimators(load).items():
        whole = est(ns + [extra])
        assert whole >= est(ns) + work.PER_COUNT_STEPS, name
        assert est(ns[: len(ns) // 2 + 1]) <= est(ns), name


@settings(max_examples=120, deadline=None)
@given(load=LOADS, data=st.data())
def test_ascending_order_is_never_dearer(load, data):
    ns = data.draw(counts_near(load))
    shuffled = data.draw(st.permutations(ns))
    for est in (work.erlang_b_steps, work.erlang_c_steps):
        assert est(sorted(ns), load) <= est(shuffled, load) * (1 + 1e-12)


@settings(max_examples=120, deadline=None)
@given(load=LOADS, n=st.integers(0, 10**9))
def test_estimates_are_finite_and_a_walk_is_bounded(load, n):
    for name, est in estimators(load).items():
        steps = est([n])
        assert math.isfinite(steps) and steps >= work.CALL_STEPS, name
    assert work.walk_steps([n], load)[0] <= 61 * math.sqrt(load) + 350


def test_smaller_blocking_targets_estimate_more():
    targets = [0.9, 0.5, 0.1, 0.01, 1e-6, 1e-30, 1e-300]
    walks = [float(work.solver_walks([10**9], t)[0]) for t in targets]
    assert walks == sorted(walks) and walks[0] < 1 and walks[-1] > 50
    steps = [work.load_for_blocking_steps(np.arange(1, 1001), t) for t in targets]
    assert all(x < y for x, y in zip(steps, steps[1:]))
    assert work.load_for_blocking_steps([10**9]) == work.load_for_blocking_steps([10**9], 1e-300)


def exact_queue_terms(n: int, a: float, aht_s: float, patience_s: float) -> int:
    """Terms the Erlang A kernel sums (its stopping rule, kernels.erlang_a_point), in plain Python."""
    c, ap = n * patience_s / aht_s, a * patience_s / aht_s
    rho, total, j = 1.0, 0.0, 0
    while True:
        total += rho
        q = ap / (c + j + 1.0)
        rho *= q
        j += 1
        if rho > 1e280:
            rho, total = rho / 1e280, total / 1e280
        if q < 1.0 and rho <= 1e-18 * total * (1.0 - q):
            return j


@pytest.mark.parametrize("a", [0.5, 10.0, 1e3, 1e5])
@pytest.mark.parametrize("offset", [-0.5, -0.05, 0.0, 0.05, 0.5, 3.0])
@pytest.mark.parametrize("patience_s", [6.0, 60.0, 1800.0])
def test_queue_terms_follow_the_exact_sum(a, offset, patience_s):
    n = max(0, int(a * (1 + offset)))
    got = float(work.queue_terms([n], a, 180.0, patience_s)[0])
    want = exact_queue_terms(n, a, 180.0, patience_s)
    assert want / 3 <= got <= 3 * want + 10, (got, want)


@pytest.mark.parametrize("load", [10.0, 1e3, 1e6, 9.98e8])
@pytest.mark.parametrize("recall", [0.1, 0.5, 0.9, 0.99])
def test_extended_erlang_b_newton_stops_early(load, recall):
    s = math.sqrt(load)
    ns = np.unique(np.clip(np.concatenate([np.arange(int(load - 20 * s), int(load + 20 * s), max(1, int(s / 4))),
                                           [int(load / 2), int(2 * load)]]), 1, 10**9))
    res = extended_erlang_b(ns, load, recall)
    assert np.max(res.iterations) <= work.RECALL_ITERATIONS + 3
    x, b = res.offered_load_erl, res.blocking
    assert np.allclose(x, load + recall * x * b, rtol=1e-13, atol=0)  # still the fixed point
