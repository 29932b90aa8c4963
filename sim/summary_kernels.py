"""Compiled kernels of a run's summary (measure.py), bit for bit what the numpy code they replace gives.

* :func:`pairwise_sum` adds ``a[lo:lo + n]`` in the order numpy's ``sum`` of a
  contiguous float64 array does (``pairwise_sum`` in numpy's loops: eight
  running sums over blocks of up to 128 values, halves split on a multiple
  of 8 above that, added to the reduction's +0.0). :func:`pairwise_sum_py`
  is the plain-Python reference.
* :func:`group_tally` counts the calls of many (overlapping) groups in one
  pass, sums each group's answered waits in call order with
  :func:`pairwise_sum`, and sorts each group's waits — with a stable merge
  sort in numpy's order (NaN last, equal values in call order) where a NaN
  or a -0.0 could show the order of equal values, else with numba's sort —
  the same array numpy's sort gives (groups.py ``_sorted_in_groups``).
* :func:`span_edges` is ``Σ clip(e − start, 0, end − start)`` at each edge
  ``e``, summed in numpy's order: results.py ``busy_in_bins`` before its
  ``diff``.

tests/kernels/test_summary_kernels.py holds each against the numpy code and
the references on random input (hypothesis); they also run with
``NUMBA_DISABLE_JIT=1``.

The helpers are inlined by numba (``inline="always"``), so each of the three
entries is one library: a cached entry compiled where router/core_jit.py's
linkage change was active and one compiled where it was not share no callee
copies (linking such copies across the two gave wrong sums).

Cost: group_tally O(n log n) for n rows; span_edges O(edges × spans).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["TALLY_COLUMNS", "group_tally", "pairwise_sum", "pairwise_sum_py", "span_edges"]

#: Columns of group_tally's counts, one row per group.
T_OFFERED, T_ANSWERED, T_ABANDONED, T_WITHIN_SL, T_NOT_WAITING, T_CALLBACKS, T_REDIALS = range(7)
TALLY_COLUMNS = 7
_PW_BLOCK = 128  # numpy's PW_BLOCKSIZE


@njit(cache=True)
def pairwise_sum(a, lo, n):
    """``a[lo:lo + n].sum()`` in numpy's order (``a`` float64, contiguous): the reduction starts from
    +0.0 and adds the pairwise sum (so a sum of -0.0s is 0.0, as numpy's)."""
    f_i, f_left = _stack()
    return 0.0 + _pairwise(a, lo, n, f_i, f_left)


@njit(cache=True, inline="always")
def _stack():
    """_pairwise's frames: (start, count, phase) rows and each frame's left-half sum. 64 frames: the
    halves of n values nest log2(n / 64) deep."""
    return np.empty((64, 3), dtype=np.int64), np.empty(64)


@njit(cache=True, inline="always")
def _block(a, lo, n):
    """numpy's sum of up to 128 values: one by one under 8, else eight running sums."""
    if n < 8:
        res = -0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    stop = n - n % 8
    while i < stop:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@njit(cache=True, inline="always")
def _split(n):
    n2 = n // 2
    return n2 - n2 % 8


@njit(cache=True, inline="always")
def _pairwise(a, lo, n, f_i, f_left):
    """numpy's recursion (left half + right half above 128 values) on the explicit stack of
    :func:`_stack` (numba's cached recursive functions cannot be called from other kernels)."""
    if n <= _PW_BLOCK:
        return _block(a, lo, n)
    top = 0
    f_i[0, 0], f_i[0, 1], f_i[0, 2] = lo, n, 0
    ret = 0.0
    while True:
        m = f_i[top, 1]
        if f_i[top, 2] == 0 and m > _PW_BLOCK:  # enter: sum the left half first
            f_i[top, 2] = 1
            f_i[top + 1, 0], f_i[top + 1, 1], f_i[top + 1, 2] = f_i[top, 0], _split(m), 0
            top += 1
            continue
        if f_i[top, 2] == 0:  # a block: its value goes to the frame below
            ret = _block(a, f_i[top, 0], m)
            top -= 1
        while top >= 0 and f_i[top, 2] == 2:  # both halves done
            ret = f_left[top] + ret
            top -= 1
        if top < 0:
            return ret
        f_left[top], f_i[top, 2] = ret, 2  # left half done: now the right half
        n2 = _split(f_i[top, 1])
        f_i[top + 1, 0], f_i[top + 1, 1], f_i[top + 1, 2] = f_i[top, 0] + n2, f_i[top, 1] - n2, 0
        top += 1


def pairwise_sum_py(values: list[float]) -> float:
    """The reference: numpy's summation order written out on a list."""
    return 0.0 + _pairwise_py(values)


def _pairwise_py(values: list[float]) -> float:
    n = len(values)
    if n < 8:
        res = -0.0
        for v in values:
            res += v
        return res
    if n <= _PW_BLOCK:
        r = list(values[:8])
        i = 8
        while i < n - n % 8:
            r = [r[j] + values[i + j] for j in range(8)]
            i += 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        for v in values[i:]:
            res += v
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return _pairwise_py(values[:n2]) + _pairwise_py(values[n2:])


@njit(cache=True, inline="always")
def _before(x, y):
    """numpy's sort order for floats: ``x`` goes before ``y`` (NaN last)."""
    return x < y or (y != y and x == x)


@njit(cache=True, inline="always")
def _orders_equal_values(v, lo, hi):
    """Whether ``v[lo:hi]`` holds a NaN or a -0.0: values a sort may put in an order that shows."""
    for k in range(lo, hi):
        x = v[k]
        if x != x or (x == 0.0 and math.copysign(1.0, x) < 0.0):
            return True
    return False


@njit(cache=True, inline="always")
def _merge_sort(v, lo, hi, tmp):
    """Stable sort of ``v[lo:hi]`` in numpy's order (bottom-up merges through ``tmp``)."""
    n = hi - lo
    width = 1
    while width < n:
        s = lo
        while s < hi:
            m = min(s + width, hi)
            e = min(s + 2 * width, hi)
            i, j, k = s, m, s
            while i < m and j < e:
                if _before(v[j], v[i]):
                    tmp[k] = v[j]
                    j += 1
                else:
                    tmp[k] = v[i]
                    i += 1
                k += 1
            while i < m:
                tmp[k] = v[i]
                i += 1
                k += 1
            while j < e:
                tmp[k] = v[j]
                j += 1
                k += 1
            s = e
        for k in range(lo, hi):
            v[k] = tmp[k]
        width *= 2


@njit(cache=True)
def group_tally(rows, groups, answered, abandoned, callback, redial, wait_s, n_groups, sl_threshold_s):
    """Call ``rows[i]`` counts in group ``groups[i]`` (rows in call order within each group). Returns
    ``(counts, wait_sum_s, waits_sorted, starts)``: counts (n_groups, 7) by the T_* columns; each group's
    sum of answered waits in call order (numpy's pairwise order); every group's answered waits sorted
    ascending, group g at ``waits_sorted[starts[g]:starts[g] + counts[g, T_ANSWERED]]``."""
    counts = np.zeros((n_groups, TALLY_COLUMNS), dtype=np.int64)
    for i in range(rows.size):
        c, g = rows[i], groups[i]
        counts[g, T_OFFERED] += 1
        if abandoned[c]:
            counts[g, T_ABANDONED] += 1
        if callback[c]:
            counts[g, T_CALLBACKS] += 1
        if redial[c]:
            counts[g, T_REDIALS] += 1
        if answered[c]:
            w = wait_s[c]
            counts[g, T_ANSWERED] += 1
            if w <= sl_threshold_s:
                counts[g, T_WITHIN_SL] += 1
            if w <= 0.0:
                counts[g, T_NOT_WAITING] += 1
    starts = np.zeros(n_groups, dtype=np.int64)
    total = 0
    for g in range(n_groups):
        starts[g] = total
        total += counts[g, T_ANSWERED]
    waits = np.empty(total)
    fill = starts.copy()
    for i in range(rows.size):  # a counting sort: call order within each group
        c = rows[i]
        if answered[c]:
            g = groups[i]
            waits[fill[g]] = wait_s[c]
            fill[g] += 1
    wait_sum_s = np.empty(n_groups)
    tmp = np.empty(total)
    f_i, f_left = _stack()
    for g in range(n_groups):
        lo, hi = starts[g], starts[g] + counts[g, T_ANSWERED]
        wait_sum_s[g] = 0.0 + _pairwise(waits, lo, hi - lo, f_i, f_left)
        if _orders_equal_values(waits, lo, hi):
            _merge_sort(waits, lo, hi, tmp)
        else:  # equal values have equal bits: any sort gives the same array
            waits[lo:hi].sort()
    return counts, wait_sum_s, waits, starts


@njit(cache=True)
def span_edges(start_s, end_s, edges_s):
    """``Σ clip(e − start, 0, end − start)`` over the spans with finite ends, at each edge ``e``: numpy's
    ``np.clip(e - s, 0.0, end - s).sum()`` (clip: max first, then min), in numpy's summation order."""
    m = 0
    s = np.empty(start_s.size)
    length = np.empty(start_s.size)
    for j in range(start_s.size):
        a, b = start_s[j], end_s[j]
        if np.isfinite(a) and np.isfinite(b):
            s[m] = a
            length[m] = b - a
            m += 1
    out = np.empty(edges_s.size)
    x = np.empty(m)
    f_i, f_left = _stack()
    for k in range(edges_s.size):
        e = edges_s[k]
        for j in range(m):
            v = e - s[j]
            v = v if v > 0.0 else 0.0
            x[j] = v if v < length[j] else length[j]
        out[k] = 0.0 + _pairwise(x, 0, m, f_i, f_left)
    return out
