"""Stats of many groups of call attempts at once — the intervals, the queues, the whole window.

``group_counts`` gives, for every group, what results.py's ``compute_stats``
counts on that group's mask, in a few numpy passes over the calls instead of
one pass per group, and to the last bit:

* counts (offered, answered, abandoned, within the service-level threshold,
  not waiting, callbacks, redials) in one compiled pass
  (summary_kernels.group_tally), which also
* sums a group's answered waits *in call order* in numpy's pairwise order
  (what numpy's sum of the masked array gives), and sorts each group's
  waits as numpy's sort does;
* the wait percentiles are numpy's ``linear`` method (``np.percentile``'s
  default), computed for all groups at once from the waits sorted by
  (group, wait) — :func:`percentiles_sorted` repeats numpy's index and
  interpolation arithmetic operation for operation.

tests/sim/test_sim_groups.py holds both against ``compute_stats`` and
``np.percentile`` on random calls and groupings.

Cost: O(n log n) for n calls (compiled), O(groups) numpy for the percentiles.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from busyhour.sim.results import ABANDONED, CallLog
from busyhour.sim.summary_kernels import (
    T_ABANDONED, T_ANSWERED, T_CALLBACKS, T_NOT_WAITING, T_OFFERED, T_REDIALS, T_WITHIN_SL, group_tally,
)

__all__ = ["PERCENTILES", "GroupCounts", "group_counts", "percentiles_sorted", "window_groups"]

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
    the sort is stable, as lexsort is. (The reference for group_tally's sort.)"""
    out = values.copy()
    kind = "stable" if np.isnan(values).any() or np.signbit(values[values == 0.0]).any() else "quicksort"
    for s, e in bounds:
        if e - s > 1:
            out[s:e].sort(kind=kind)
    return out


def group_counts(log: CallLog, rows: np.ndarray, groups: np.ndarray, n_groups: int, sl_threshold_s: float,
                 *, percentiles: bool = True) -> GroupCounts:
    """Call ``rows[i]`` belongs to group ``groups[i]`` (0 … n_groups − 1); a call may be in several groups,
    and within a group the rows are in call order. ``percentiles=False`` leaves ``wait_pct_s`` empty.
    Counts, sums and sorts in one compiled pass (summary_kernels.group_tally)."""
    counts, wsum, waits, starts = group_tally(
        np.asarray(rows, dtype=np.int64), np.asarray(groups, dtype=np.int64), log.answered,
        log.disposition == ABANDONED, log.callback, log.redial, log.wait_s, n_groups, float(sl_threshold_s))
    answered = counts[:, T_ANSWERED]
    pct = percentiles_sorted(waits, starts, answered) if percentiles else np.zeros((0, 4))
    return GroupCounts(offered=counts[:, T_OFFERED], answered=answered, abandoned=counts[:, T_ABANDONED],
                       within_sl=counts[:, T_WITHIN_SL], not_waiting=counts[:, T_NOT_WAITING], wait_sum_s=wsum,
                       wait_pct_s=pct, callbacks=counts[:, T_CALLBACKS], redials=counts[:, T_REDIALS])
