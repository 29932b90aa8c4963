"""Differential tests: each busyhour.erlang kernel against a slow pure-Python reference.

Runs with the JIT on and again with NUMBA_DISABLE_JIT=1 (Makefile), so the
inputs stay small.  Invariants:
1. erlang_b_kernel == the full recursion from n = 0 (no truncated start, no scaling).
2. erlang_c_kernel == C, SL, ASA from that reference B by their textbook formulas.
3. staff_kernel == the first n > a found by a plain linear scan.
4. trunks_kernel == the first n with B(n) <= target by a plain linear scan.
5. load_for_blocking_kernel returns a with B(n, a) == target.
6. extended_erlang_b_kernel == plain fixed-point iteration.
7. erlang_a_kernel == the truncated chain summed directly, with P(served within
   t | j waiting) = c/(c+j+1) * P(NegBin(c+1, p) > j) from pmf sums.
8. staff_a_kernel == the first n by a linear scan over erlang_a_kernel.
9. Overloaded Erlang B (a > n, the geometric truncated start) == the full recursion, up to a = 1e300.
10. carried_load_kernel == a (1 - B) from the reference where that has no cancellation, and ~n when B ~ 1.
11. Beyond the limits the search kernels return -1 at once: loads >= MAX_COUNT, an occupancy cap
    needing more than MAX_COUNT agents, a blocking target whose load is below MIN_LOAD_ERL.
12. The B, C and carried-load kernels over an array (ascending counts continue one walk, past the
    saturation point too) == the same kernel one count at a time (a fresh walk each), bit for bit,
    in any order of counts and loads; and B == the reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from busyhour.erlang import kernels as k


SMALL_A = st.floats(0.05, 40.0)
SET = settings(max_examples=25, deadline=None)


def ref_b(n: int, a: float) -> float:
    inv = 1.0
    for i in range(1, n + 1):
        inv = 1.0 + i / a * inv
    return 1.0 / inv


def ref_c(n, a, aht, t):
    if n <= a:
        return 1.0, 0.0, math.inf
    b = ref_b(n, a)
    c = n * b / (n - a * (1 - b))
    return c, 1 - c * math.exp(-(n - a) * t / aht), c * aht / (n - a)


def arr(*xs, dtype=float):
    return np.array(xs, dtype=dtype)


@SET
@given(n=st.integers(0, 80), a=SMALL_A)
def test_erlang_b_kernel(n, a):
    out = np.empty(1)
    k.erlang_b_kernel(arr(n, dtype=np.int64), arr(a), out)
    assert out[0] == pytest.approx(ref_b(n, a), rel=1e-13)


@SET
@given(n=st.integers(1, 80), a=SMALL_A, aht=st.floats(10, 900), t=st.floats(0, 120))
def test_erlang_c_kernel(n, a, aht, t):
    p, sl, q = np.empty(1), np.empty(1), np.empty(1)
    k.erlang_c_kernel(arr(n, dtype=np.int64), arr(a), arr(t / aht), p, sl, q)
    c_ref, sl_ref, q_ref = ref_c(n, a, aht, t)
    assert p[0] == pytest.approx(c_ref, rel=1e-12)
    assert sl[0] == pytest.approx(sl_ref, rel=1e-12, abs=1e-14)
    assert q[0] * aht == pytest.approx(q_ref, rel=1e-12)


@SET
@given(a=SMALL_A, aht=st.floats(10, 900), t=st.floats(0, 120), tgt=st.floats(0.05, 0.99),
       occ=st.floats(0.6, 1.0))
@example(a=0.8, aht=10.0, t=0.0, tgt=0.2, occ=1.0)  # a tie at the target
def test_staff_kernel(a, aht, t, tgt, occ):
    out = np.empty(1, dtype=np.int64)
    k.staff_kernel(arr(a), arr(aht), arr(t / aht), arr(tgt), 0, arr(occ), out)
    n = 1
    while not (ref_c(n, a, aht, t)[1] >= tgt and a / n <= occ):
        n += 1
    tie = abs(ref_c(n, a, aht, t)[1] - tgt) <= 1e-12  # SL(1, 0.8) = 0.2 exactly: rounding decides a tie
    assert out[0] == n or (tie and out[0] == n + 1)
    k.staff_kernel(arr(a), arr(aht), arr(0.0), arr(t + 1.0), 1, arr(1.0), out)
    n = 1
    while not ref_c(n, a, aht, 0)[2] <= t + 1.0:
        n += 1
    tie = abs(ref_c(n, a, aht, 0)[2] - (t + 1.0)) <= 1e-12 * (t + 1.0)
    assert out[0] == n or (tie and out[0] == n + 1)


@SET
@given(a=SMALL_A, tgt=st.floats(1e-6, 0.9))
def test_trunks_kernel(a, tgt):
    out = np.empty(1, dtype=np.int64)
    k.trunks_kernel(arr(a), arr(tgt), out)
    n = 0
    while ref_b(n, a) > tgt:
        n += 1
    assert out[0] == n


@SET
@given(n=st.integers(1, 60), tgt=st.floats(1e-5, 0.9))
def test_load_for_blocking_kernel(n, tgt):
    out = np.empty(1)
    k.load_for_blocking_kernel(arr(n, dtype=np.int64), arr(tgt), out)
    assert ref_b(n, out[0]) == pytest.approx(tgt, rel=1e-12)


@SET
@given(n=st.integers(1, 60), a=SMALL_A, r=st.floats(0.0, 0.8))
def test_extended_erlang_b_kernel(n, a, r):
    x, b, it = np.empty(1), np.empty(1), np.empty(1, dtype=np.int64)
    k.extended_erlang_b_kernel(arr(n, dtype=np.int64), arr(a), arr(r), x, b, it)
    y = a
    for _ in range(2000):
        y = a + r * y * ref_b(n, y)
    assert x[0] == pytest.approx(y, rel=1e-11)
    assert b[0] == pytest.approx(ref_b(n, y), rel=1e-11)


def ref_erlang_a(n, a, aht, pat, t):
    c, ap = n * pat / aht, a * pat / aht
    p = 1 - math.exp(-t / pat)
    low = [1.0]
    for i in range(1, n + 1):
        low.append(low[-1] * a / i)
    rho = [low[-1]]
    j = 0
    while not (ap < c + j + 1 and rho[-1] < 1e-20 * sum(rho)):
        rho.append(rho[-1] * ap / (c + j + 1))
        j += 1
    z = sum(low[:-1]) + sum(rho)
    nb = [(1 - p) ** (c + 1)]
    for m in range(len(rho) + 1):
        nb.append(nb[-1] * p * (m + c + 1) / (m + 1))
    p_wait = sum(rho) / z
    p_ab = sum(r * (i + 1) / (c + i + 1) for i, r in enumerate(rho)) / z
    served = (sum(low[:-1]) + sum(r * c / (c + i + 1) for i, r in enumerate(rho))) / z
    sl = (sum(low[:-1]) + sum(r * c / (c + i + 1) * (1 - sum(nb[: i + 1])) for i, r in enumerate(rho))) / z
    wait = sum(r * c / (c + i + 1) * sum(pat / (c + m + 1) for m in range(i + 1)) for i, r in enumerate(rho)) / z
    return p_wait, p_ab, wait / served, p_ab * pat, sl, sl / served, a * served / n


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 30), a=st.floats(0.1, 30.0), aht=st.floats(60, 600), pat=st.floats(10, 600),
       t=st.floats(0, 60))
def test_erlang_a_kernel(n, a, aht, pat, t):
    out = np.empty((7, 1))
    k.erlang_a_kernel(arr(n, dtype=np.int64), arr(a), arr(aht), arr(pat), arr(t), out)
    ref = ref_erlang_a(n, a, aht, pat, t)
    for got, want in zip(out[:, 0], ref):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-13)


@settings(max_examples=15, deadline=None)
@given(a=st.floats(0.1, 20.0), pat=st.floats(10, 600), tgt=st.floats(0.3, 0.95))
def test_staff_a_kernel(a, pat, tgt):
    out = np.empty(1, dtype=np.int64)
    k.staff_a_kernel(arr(a), arr(240.0), arr(pat), arr(20.0), arr(tgt), arr(math.nan), arr(1.0), out)
    n = 0
    while not k._a_measures(n, a, 240.0, pat, 20.0)[4] >= tgt:
        n += 1
    assert out[0] == n


@SET
@given(n=st.integers(1, 80), ratio=st.floats(1.0, 1e6), big=st.booleans())
def test_erlang_b_kernel_overloaded(n, ratio, big):
    a = n * ratio * (1e290 if big else 1.0)
    out = np.empty(1)
    k.erlang_b_kernel(arr(n, dtype=np.int64), arr(a), out)
    assert out[0] == pytest.approx(ref_b(n, a), rel=1e-13)


@SET
@given(n=st.integers(1, 80), a=st.floats(0.05, 1e6))
def test_carried_load_kernel(n, a):
    out = np.empty(1)
    k.carried_load_kernel(arr(n, dtype=np.int64), arr(a), out)
    b = ref_b(n, a)
    if b < 0.5:  # 1 - B computed directly is exact enough here
        assert out[0] == pytest.approx(a * (1.0 - b), rel=1e-12)
    assert out[0] <= n * (1 + 1e-12)


def test_carried_load_kernel_when_blocking_rounds_to_one():
    out = np.empty(1)
    k.carried_load_kernel(arr(10, dtype=np.int64), arr(1e300), out)
    assert out[0] == pytest.approx(10.0 * (1 - 45 / 1e300), rel=1e-14)


def test_search_kernels_refuse_beyond_the_limits():
    out = np.empty(1, dtype=np.int64)
    k.staff_kernel(arr(float(k.MAX_COUNT)), arr(180.0), arr(0.1), arr(0.8), 0, arr(1.0), out)
    assert out[0] == -1
    k.staff_kernel(arr(1000.0), arr(180.0), arr(0.1), arr(0.8), 0, arr(1e-300), out)
    assert out[0] == -1
    k.trunks_kernel(arr(1e20), arr(0.01), out)
    assert out[0] == -1
    k.staff_a_kernel(arr(1e20), arr(180.0), arr(60.0), arr(20.0), arr(0.8), arr(math.nan), arr(1.0), out)
    assert out[0] == -1
    lo = np.empty(1)
    k.load_for_blocking_kernel(arr(2, dtype=np.int64), arr(1e-300), lo)
    assert lo[0] == -1.0


@settings(max_examples=30, deadline=None)
@given(a=st.floats(0.5, 400.0), offsets=st.lists(st.integers(0, 1_500), max_size=20),
       order=st.sampled_from(["ascending", "descending", "as drawn"]), other_load=st.booleans())
def test_kernels_over_arrays_equal_one_count_at_a_time(a, offsets, order, other_load):
    """Counts up to ~1,500 past the load pass where 1/B saturates (51 sqrt(a) + 300 steps past it) for the
    smaller loads, so a continued walk resumes from a saturated state too."""
    ns = list(range(max(0, int(a) - 4), int(a) + 4)) + [int(a) + d for d in offsets]  # across the load, then beyond
    ns = sorted(ns) if order == "ascending" else sorted(ns, reverse=True) if order == "descending" else ns
    loads = [a * 1.5 if other_load and i % 3 == 1 else a for i in range(len(ns))]  # walks cut by another load
    n_arr, a_arr = np.array(ns, dtype=np.int64), np.array(loads)
    x_sl = np.full(len(ns), 0.1)

    def each(kernel, outs: int, *extra):
        whole = [np.empty(len(ns)) for _ in range(outs)]
        kernel(n_arr, a_arr, *extra, *whole)
        for i in range(len(ns)):
            one = [np.empty(1) for _ in range(outs)]
            kernel(n_arr[i:i + 1], a_arr[i:i + 1], *(e[i:i + 1] for e in extra), *one)
            assert [o[0] for o in one] == [w[i] for w in whole], (kernel.__name__, ns[i], loads[i])
        return whole

    (b,) = each(k.erlang_b_kernel, 1)
    each(k.carried_load_kernel, 1)
    each(k.erlang_c_kernel, 3, x_sl)
    for n, load, got in zip(ns, loads, b):
        if n <= 120:
            assert got == pytest.approx(ref_b(n, load), rel=1e-12, abs=1e-300)
