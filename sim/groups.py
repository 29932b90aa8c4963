"""Stats of many groups of call attempts at once — the intervals, the queues, the whole window.

``group_counts`` gives, for every group, what results.py's ``compute_stats``
counts on that group's mask, in a few numpy passes over the calls instead of
one pass per group, and to the last bit:

* counts (offered, answered, abandoned, within the service-level threshold,
  not waiting, callbacks, redials) by ``bincount``;
* a group's sum of answered waits is numpy's sum of those waits *in call
  order*: after a stable sort by group, each group is a contiguous slice of
  the same values in the same order as the masked array, so numpy adds them
  in the same pairwise order;
* the wait percentiles are numpy's ``linear`` method (``np.percentile``'s
  default), computed for all groups at once from the waits sorted by
  (group, wait) — :func:`percentiles_sorted` repeats numpy's index and
  interpolation arithmetic operation for operation.

``window_counts`` gives what ``group_counts`` gives for a run's three
groupings of the window's calls (interval, whole window, queue) from the
window's calls once, not three times (measure.py's one-pass case).

tests/sim/test_sim_groups.py holds both against ``compute_stats`` and
``np.percentile`` on random calls and groupings.

Cost: O(n log n) for n calls (two sorts), O(groups) Python.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from busyhour.sim.results import ABANDONED, CallLog

__all__ = ["PERCENTILES", "GroupCounts", "group_counts", "percentiles_sorted", "window_counts", "window_groups"]

#: The wait percentiles of ``Stats`` (wait_p50_s … wait_p99_s), as np.percentile takes them.
PERCENTILES = (50, 90, 95, 99)
_Q = np.true_divide(PERCENTILES, 100)  # as np.percentile turns them into quantiles


class GroupCounts(NamedTuple):
    """Per group (arrays of length ``n_groups``; ``wait_pct_s`` is (n_groups, 4), nan for no answered call)."""

    offered: np.ndarray
    answered: np.ndarray
    abandoned: np.ndarray
    within_sl: np.ndarray  # answered with wait <= the threshold
    not_waiting: np.ndarray  # answered with wait <= 0
    wait_sum_s: np.ndarray  # sum of answered waits (numpy's pairwise sum, in call order)
    wait_pct_s: np.ndarray
    callbacks: np.ndarray
    redials: np.ndarray


def percentiles_sorted(values: np.ndarray, starts: np.ndarray, counts: np.ndarray,
                       q: np.ndarray = _Q) -> np.ndarray:
    """``np.percentile(values[s:s + n], 100 q)`` for each group (start ``s``, count ``n``) of ``values``
    sorted ascending within each group, bit for bit (method ``linear``); nan rows for empty groups."""
    n = counts.astype(np.float64)[:, None]
    vi = (n - 1) * q[None, :]  # numpy: (n - 1) * quantiles
    prev = np.floor(vi)
    above = vi >= n - 1  # numpy takes the last value
    k = np.where(above, n - 1, prev).astype(np.intp) + starts[:, None]
    k1 = np.where(above, k, k + 1)
    empty = counts == 0
    k[empty], k1[empty] = 0, 0
    a = values[k] if values.size else np.full(k.shape, np.nan)
    b = values[k1] if values.size else a
    t = vi - prev
    d = b - a
    out = a + d * t
    hi = (t >= 0.5) & ~above
    out[hi] = (b - d * (1 - t))[hi]
    out[above] = b[above]
    out[empty] = np.nan
    return out


def window_groups(in_win: np.ndarray, bin_of: np.ndarray, queue: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """The window's calls (``in_win``) in three groupings at once, as ``group_counts`` takes them: group
    ``k < n_bins`` is interval k (``bin_of``), group ``n_bins`` the whole window, group ``n_bins + 1 + q``
    queue q. Returns (rows, groups): each window call three times, in call order within each group."""
    idx = np.nonzero(in_win)[0]
    rows = np.concatenate((idx, idx, idx))
    groups = np.concatenate((bin_of[idx], np.full(idx.size, n_bins, dtype=np.int64), n_bins + 1 + queue[idx]))
    return rows, groups


def _sorted_in_groups(values: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    """``values`` (grouped: group k is ``values[s:e]`` for its ``(s, e)`` in ``bounds``) sorted ascending within
    each group: ``values[np.lexsort((values, group))]``, the same array bit for bit. A sort puts equal values
    in any order, which shows only where equal values differ in bits: a -0.0 among +0.0s (or NaNs), where
    the sort is stable, as lexsort is."""
    out = values.copy()
    # a NaN (the max propagates it) or a -0.0 (a sign bit) is rare: the faster sort otherwise
    odd = values.size > 0 and (np.isnan(values.max()) or np.signbit(values).any())
    kind = "stable" if odd else "quicksort"
    for s, e in bounds:
        if e - s > 1:
            out[s:e].sort(kind=kind)
    return out


def _count_in(flags: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The true ``flags`` in each group ``flags[s:e]`` (one running count, read at the bounds: cheaper than
    selecting the flagged rows' groups and counting them)."""
    running = np.zeros(flags.size + 1, dtype=np.int64)
    np.cumsum(flags, out=running[1:])
    return running[ends] - running[starts]


def group_counts(log: CallLog, rows: np.ndarray, groups: np.ndarray, n_groups: int, sl_threshold_s: float,
                 *, percentiles: bool = True) -> GroupCounts:
    """Call ``rows[i]`` belongs to group ``groups[i]`` (0 … n_groups − 1); a call may be in several groups,
    and within a group the rows are in call order. ``percentiles=False`` leaves ``wait_pct_s`` empty."""
    count = lambda sel: np.bincount(groups[sel[rows]], minlength=n_groups)  # noqa: E731
    ans = log.answered[rows]
    ga = groups[ans]
    order = np.argsort(ga, kind="stable")  # call order within each group
    w_call_order = log.wait_s[rows[ans][order]]
    answered = np.bincount(ga, minlength=n_groups)
    starts, ends, wsum, pct = _wait_sums(w_call_order, answered, percentiles)
    return GroupCounts(
        offered=np.bincount(groups, minlength=n_groups), answered=answered,
        abandoned=count(log.disposition == ABANDONED),
        within_sl=_count_in(w_call_order <= sl_threshold_s, starts, ends),
        not_waiting=_count_in(w_call_order <= 0.0, starts, ends),
        wait_sum_s=wsum.reshape(n_groups), wait_pct_s=pct, callbacks=count(log.callback), redials=count(log.redial))


def _wait_sums(w_call_order: np.ndarray, answered: np.ndarray, percentiles: bool = True
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, sum, percentiles) of each group's answered waits: ``w_call_order`` holds them group
    after group (``answered[k]`` of group k), in call order within each group (what numpy would sum)."""
    starts = np.concatenate(([0], np.cumsum(answered)[:-1])).astype(np.intp)
    ends = starts + answered
    bounds = list(zip(starts.tolist(), ends.tolist()))
    add = np.add.reduce  # what ndarray.sum calls (the same pairwise sum), without its Python wrapper
    wsum = np.array([add(w_call_order[s:e]) for s, e in bounds])
    pct = (percentiles_sorted(_sorted_in_groups(w_call_order, bounds), starts, answered) if percentiles
           else np.zeros((0, 4)))
    return starts, ends, wsum, pct


# window_counts: a window call's code, one bit a flag; _COUNT_OF[code, j] is 1 when count j (the columns
# offered, answered, abandoned, within_sl, not_waiting, callbacks, redials) counts a call of that code
_ANSWERED, _ABANDONED, _WITHIN, _NOT_WAITING, _CALLBACK, _REDIAL = (1 << k for k in range(6))
_CODES = np.arange(64)
_COUNT_OF = np.stack([np.ones(64, dtype=np.int64)] + [(_CODES & bit != 0).astype(np.int64) for bit in
                     (_ANSWERED, _ABANDONED, _WITHIN, _NOT_WAITING, _CALLBACK, _REDIAL)], axis=1)


def window_counts(log: CallLog, in_win: np.ndarray, bin_of: np.ndarray, n_bins: int, n_queues: int,
                  sl_threshold_s: float) -> GroupCounts:
    """``group_counts(log, *window_groups(in_win, bin_of, log.queue, n_bins), n_bins + 1 + n_queues, thr)``,
    the same arrays bit for bit, from the window's calls once instead of three times over: each call's
    flags as one code, one histogram of (interval, code) and one of (queue, code) (the window's is their
    column sums), the counts as that histogram times :data:`_COUNT_OF`; the waits of the window's answered
    calls in call order, and reordered by interval and by queue with a stable sort each. ``bin_of`` of a
    window call is in 0 … n_bins − 1 and its queue in 0 … n_queues − 1."""
    idx = np.nonzero(in_win)[0]
    ans = log.answered[idx]
    w = log.wait_s[idx]
    code = (ans * _ANSWERED + (log.disposition[idx] == ABANDONED) * _ABANDONED
            + (ans & (w <= sl_threshold_s)) * _WITHIN + (ans & (w <= 0.0)) * _NOT_WAITING
            + log.callback[idx] * _CALLBACK + log.redial[idx] * _REDIAL)
    b, q = bin_of[idx], log.queue[idx]
    h_bin = np.bincount(b * 64 + code, minlength=64 * n_bins).reshape(n_bins, 64)
    h_queue = np.bincount(q * 64 + code, minlength=64 * n_queues).reshape(n_queues, 64)
    counts = np.concatenate((h_bin, h_bin.sum(axis=0, keepdims=True), h_queue)) @ _COUNT_OF
    wa = w[ans]
    w_call_order = np.concatenate((wa[_stable_order(b[ans], n_bins)], wa, wa[_stable_order(q[ans], n_queues)]))
    answered = counts[:, 1]
    _, _, wsum, pct = _wait_sums(w_call_order, answered)
    return GroupCounts(offered=counts[:, 0], answered=answered, abandoned=counts[:, 2], within_sl=counts[:, 3],
                       not_waiting=counts[:, 4], wait_sum_s=wsum, wait_pct_s=pct, callbacks=counts[:, 5],
                       redials=counts[:, 6])


def _stable_order(keys: np.ndarray, n: int) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for keys in 0 … n − 1: the same permutation (a stable sort has
    one), from numpy's radix sort on 8- or 16-bit copies of the keys when they fit."""
    small = np.uint8 if n <= 1 << 8 else np.uint16 if n <= 1 << 16 else None
    return np.argsort(keys if small is None else keys.astype(small), kind="stable")
