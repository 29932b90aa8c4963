"""groups.py (all groups of calls at once) against results.compute_stats (one mask at a time) and np.percentile.

Invariants, on random calls, waits (ties, zeros, single calls, empty groups included) and groupings:

1. ``percentiles_sorted`` is ``np.percentile`` on each group, bit for bit;
2. each group's ``Stats`` from ``group_counts`` is ``compute_stats`` on that group's mask, bit for bit —
   counts, service level, ASA (the same pairwise sum, in call order), percentiles — also with every call
   in three groupings at once (``window_groups``: its interval, the window, its queue);
3. ``window_counts`` is ``group_counts`` over ``window_groups``, byte for byte.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from busyhour.sim.groups import PERCENTILES, group_counts, percentiles_sorted, window_counts, window_groups
from busyhour.sim.results import ABANDONED, COMPLETED, OTHER, UNFINISHED, CallLog, compute_stats, stats_from


def _log(rng: np.random.Generator, n: int) -> CallLog:
    disp = rng.choice([UNFINISHED, COMPLETED, ABANDONED, OTHER], n)
    answered = (disp == COMPLETED) | ((disp == OTHER) & (rng.random(n) < 0.2))
    wait = np.round(rng.exponential(25.0, n) * (rng.random(n) < 0.7), int(rng.integers(0, 3)))  # ties and zeros
    wait[disp == UNFINISHED] = np.nan
    return CallLog(arrival_s=np.sort(rng.random(n) * 3600), queue=rng.integers(0, 3, n), wait_s=wait,
                   answered=answered, disposition=disp.astype(np.int8), busy_start_s=np.full(n, np.nan),
                   busy_end_s=np.full(n, np.nan), agent=np.full(n, -1), redial=rng.random(n) < 0.1,
                   callback=rng.random(n) < 0.05)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), groups=st.integers(1, 9))
def test_percentiles_are_numpys_bit_for_bit(seed, n, groups):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x = np.round(rng.lognormal(2.0, 1.5, n), int(rng.integers(0, 4)))
    order = np.lexsort((x, g))
    counts = np.bincount(g, minlength=groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    got = percentiles_sorted(x[order], starts, counts)
    for k in range(groups):
        want = np.percentile(x[g == k], PERCENTILES) if counts[k] else np.full(4, np.nan)
        assert got[k].tobytes() == want.tobytes(), (k, got[k], want)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 600), groups=st.integers(1, 12),
       threshold=st.sampled_from([0.0, 20.0, 30.0, math.inf]))
def test_group_stats_are_compute_stats_bit_for_bit(seed, n, groups, threshold):
    rng = np.random.default_rng(seed)
    log = _log(rng, n)
    group = rng.integers(-1, groups, n)  # -1: in no group (e.g. warm-up)
    rows = np.nonzero(group >= 0)[0]
    g = group_counts(log, rows, group[rows], groups, threshold)
    for k in range(groups):
        want = compute_stats(log, group == k, 0.0, 900.0, threshold, 10.0, 20.0, 3)
        got = stats_from(0.0, 900.0, offered=int(g.offered[k]), answered=int(g.answered[k]),
                         abandoned=int(g.abandoned[k]), within_sl=int(g.within_sl[k]),
                         not_waiting=int(g.not_waiting[k]), wait_sum_s=float(g.wait_sum_s[k]),
                         wait_pct_s=g.wait_pct_s[k], callbacks=int(g.callbacks[k]), redials=int(g.redials[k]),
                         busy_s=10.0, staffed_s=20.0, max_queue=3)
        assert repr(got) == repr(want)


def test_a_group_with_many_answered_calls_sums_as_numpy_does():
    """Past numpy's 8-wide unrolled and 128-long pairwise blocks: the ASA is still np.mean's."""
    rng = np.random.default_rng(7)
    log = _log(rng, 20_000)
    g = group_counts(log, np.arange(20_000), np.zeros(20_000, dtype=np.int64), 1, 20.0)
    waits = log.wait_s[log.answered]
    assert g.answered[0] == waits.size > 1000
    assert g.wait_sum_s[0] / g.answered[0] == waits.mean()


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 500), bins=st.integers(1, 8))
def test_the_three_window_groupings_at_once_are_compute_stats_on_each_mask(seed, n, bins):
    """A call is in its interval, the window and its queue: each group equals compute_stats on its mask."""
    rng = np.random.default_rng(seed)
    log = _log(rng, n)
    in_win = rng.random(n) < 0.85
    bin_of = rng.integers(0, bins, n)
    g = group_counts(log, *window_groups(in_win, bin_of, log.queue, bins), bins + 1 + 3, 20.0)
    masks = [in_win & (bin_of == k) for k in range(bins)] + [in_win] + [in_win & (log.queue == q) for q in range(3)]
    for k, mask in enumerate(masks):
        want = compute_stats(log, mask, 0.0, 1.0, 20.0, 0.0, 0.0, 0)
        got = stats_from(0.0, 1.0, offered=int(g.offered[k]), answered=int(g.answered[k]),
                         abandoned=int(g.abandoned[k]), within_sl=int(g.within_sl[k]),
                         not_waiting=int(g.not_waiting[k]), wait_sum_s=float(g.wait_sum_s[k]),
                         wait_pct_s=g.wait_pct_s[k], callbacks=int(g.callbacks[k]), redials=int(g.redials[k]),
                         busy_s=0.0, staffed_s=0.0, max_queue=0)
        assert repr(got) == repr(want), k


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), groups=st.integers(1, 9),
       odd=st.sampled_from(["none", "negative zero", "nan"]))
def test_sorting_within_groups_is_lexsort_bit_for_bit(seed, n, groups, odd):
    """``_sorted_in_groups`` (one sort a group) is ``values[np.lexsort((values, group))]`` byte for byte,
    also where equal values differ in bits (-0.0 beside 0.0, NaNs)."""
    from busyhour.sim.groups import _sorted_in_groups

    rng = np.random.default_rng(seed)
    g = np.sort(rng.integers(0, groups, n))
    x = np.round(rng.exponential(20.0, n) * (rng.random(n) < 0.7), int(rng.integers(0, 3)))
    if odd == "negative zero":
        x[rng.random(n) < 0.2] = -0.0
    elif odd == "nan":
        x[rng.random(n) < 0.1] = np.nan
    counts = np.bincount(g, minlength=groups)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    bounds = list(zip(starts.tolist(), (starts + counts).tolist()))
    assert _sorted_in_groups(x, bounds).tobytes() == x[np.lexsort((x, g))].tobytes()


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 500), bins=st.integers(1, 300),
       threshold=st.sampled_from([0.0, 20.0, math.inf]))
def test_window_counts_are_group_counts_of_the_three_groupings_byte_for_byte(seed, n, bins, threshold):
    """``window_counts`` (the window's calls once, codes and histograms) gives ``group_counts`` over
    ``window_groups`` array for array, byte for byte (more than 256 intervals: 16-bit sort keys)."""
    rng = np.random.default_rng(seed)
    log = _log(rng, n)
    in_win = rng.random(n) < 0.85
    bin_of = rng.integers(0, bins, n)
    want = group_counts(log, *window_groups(in_win, bin_of, log.queue, bins), bins + 1 + 3, threshold)
    got = window_counts(log, in_win, bin_of, bins, 3, threshold)
    for name, w, g in zip(want._fields, want, got):
        assert g.dtype == w.dtype and g.shape == w.shape, name
        assert np.ascontiguousarray(g).tobytes() == w.tobytes(), name
