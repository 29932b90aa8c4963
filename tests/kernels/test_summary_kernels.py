"""sim/summary_kernels.py against numpy and the plain-Python reference, bit for bit.

1. ``pairwise_sum`` (the kernel) equals ``pairwise_sum_py`` (the reference) and numpy's ``sum`` of the
   same slice, for lengths across numpy's block boundaries (7/8, 128/129, 256, …), signed zeros, ±inf
   and NaN included.
2. ``group_tally``'s counts are the per-group counts of the masks; its sums are numpy's sums of each
   group's answered waits in call order; its sorted waits are numpy's lexsort of (wait, group) — -0.0
   among +0.0 and NaN included (numpy's stable order there).
3. ``span_edges`` is numpy's ``np.clip(e - start, 0, end - start).sum()`` at each edge over the spans with
   finite ends (NaN starts, infinite ends, zero and negative lengths included).
Also passes with ``NUMBA_DISABLE_JIT=1`` (the kernels as plain Python).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from busyhour.sim.summary_kernels import (
    T_ABANDONED, T_ANSWERED, T_CALLBACKS, T_NOT_WAITING, T_OFFERED, T_REDIALS, T_WITHIN_SL, group_tally, pairwise_sum,
    pairwise_sum_py, span_edges,
)

SIZES = st.one_of(st.integers(0, 20), st.sampled_from([127, 128, 129, 255, 256, 257, 1000, 1031]), st.integers(0, 3000))


def _values(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.lognormal(2.0, 3.0, n) * rng.choice([-1.0, 1.0], n)
    x = np.round(x, int(rng.integers(0, 4)))
    special = rng.random(n)
    x[special < 0.02] = -0.0
    x[(special >= 0.02) & (special < 0.04)] = 0.0
    return x


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=SIZES, lo=st.integers(0, 9), odd=st.sampled_from(["", "nan", "inf", "zeros"]))
def test_pairwise_sum_is_numpys_sum(seed, n, lo, odd):
    rng = np.random.default_rng(seed)
    a = _values(rng, n + lo)
    if odd == "nan" and n:
        a[lo + int(rng.integers(0, n))] = np.nan
    elif odd == "inf" and n:
        a[lo + int(rng.integers(0, n))] = -np.inf
    elif odd == "zeros":
        a[:] = -0.0
    want = a[lo:].sum()
    got = pairwise_sum(a, lo, n)
    ref = pairwise_sum_py(a[lo:].tolist())
    assert np.float64(got).tobytes() == want.tobytes() == np.float64(ref).tobytes()


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 700), n_groups=st.integers(1, 12),
       threshold=st.sampled_from([0.0, 20.0, math.inf]), odd=st.sampled_from(["", "nan", "negzero"]))
def test_group_tally_is_numpy_per_group(seed, n, n_groups, threshold, odd):
    rng = np.random.default_rng(seed)
    answered = rng.random(n) < 0.7
    abandoned, callback, redial = rng.random(n) < 0.2, rng.random(n) < 0.05, rng.random(n) < 0.1
    wait = np.round(rng.exponential(25.0, n) * (rng.random(n) < 0.7), int(rng.integers(0, 3)))
    if odd == "nan":
        wait[rng.random(n) < 0.05] = np.nan
    elif odd == "negzero":
        wait[rng.random(n) < 0.1] = -0.0
    # every call in up to two groups (as window_groups puts each in three), call order within a group
    g1, g2 = rng.integers(-1, n_groups, n), rng.integers(-1, n_groups, n)
    rows = np.concatenate((np.nonzero(g1 >= 0)[0], np.nonzero(g2 >= 0)[0]))
    groups = np.concatenate((g1[g1 >= 0], g2[g2 >= 0]))
    counts, wsum, waits, starts = group_tally(rows, groups, answered, abandoned, callback, redial, wait, n_groups,
                                              threshold)
    for k in range(n_groups):
        sel = rows[groups == k]
        ans = sel[answered[sel]]
        w = wait[ans]
        want = [sel.size, ans.size, abandoned[sel].sum(), (w <= threshold).sum(), (w <= 0.0).sum(),
                callback[sel].sum(), redial[sel].sum()]
        got = counts[k, [T_OFFERED, T_ANSWERED, T_ABANDONED, T_WITHIN_SL, T_NOT_WAITING, T_CALLBACKS, T_REDIALS]]
        assert got.tolist() == want
        assert wsum[k:k + 1].tobytes() == np.array([w.sum()]).tobytes()
        s = int(starts[k])
        assert waits[s:s + ans.size].tobytes() == w[np.lexsort((w,))].tobytes()
    assert starts.tolist() == np.concatenate(([0], np.cumsum(counts[:, T_ANSWERED])[:-1])).tolist()


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), n_edges=st.integers(0, 40))
def test_span_edges_is_the_clipped_sum(seed, n, n_edges):
    rng = np.random.default_rng(seed)
    start = np.round(rng.random(n) * 3600, int(rng.integers(0, 3)))
    end = start + np.round(rng.exponential(300.0, n) * rng.choice([-0.1, 0.0, 1.0, 1.0], n), 1)
    start[rng.random(n) < 0.1] = np.nan
    end[rng.random(n) < 0.05] = np.inf
    edges = np.sort(np.round(rng.random(n_edges) * 4000, 1))
    ok = np.isfinite(start) & np.isfinite(end)
    s, length = start[ok], end[ok] - start[ok]
    want = np.clip(edges[:, None] - s, 0.0, length).sum(axis=1)
    assert span_edges(start, end, edges).tobytes() == want.tobytes()
