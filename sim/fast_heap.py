"""The compiled loop's heap of sim-side events (fast_loop.py): driver.py's ``heapq`` of
``(time, sequence, action, call, agent)`` tuples as arrays — ``H_t`` the times, ``H_i`` the sequence,
action, call (or agent) and agent — ordered by (time, sequence), so equal times pop first in first out."""

from __future__ import annotations

from busyhour.router.core_jit import kernel
from .fast_layout import L_HN, L_HSEQ


@kernel
def _h_less(H_t, H_i, i, j):
    return H_t[i] < H_t[j] or (H_t[i] == H_t[j] and H_i[i, 0] < H_i[j, 0])


@kernel
def _h_swap(H_t, H_i, i, j):
    H_t[i], H_t[j] = H_t[j], H_t[i]
    for c in range(4):
        H_i[i, c], H_i[j, c] = H_i[j, c], H_i[i, c]


@kernel
def push(P, t, action, c, b):
    H_t, H_i = P.H_t, P.H_i
    i = P.L_i[L_HN]
    P.L_i[L_HN] = i + 1
    P.L_i[L_HSEQ] += 1
    H_t[i] = t
    H_i[i, 0] = P.L_i[L_HSEQ]
    H_i[i, 1] = action
    H_i[i, 2] = c
    H_i[i, 3] = b
    while i > 0:
        p = (i - 1) >> 1
        if not _h_less(H_t, H_i, i, p):
            break
        _h_swap(H_t, H_i, i, p)
        i = p


@kernel
def pop(P):
    H_t, H_i = P.H_t, P.H_i
    n = P.L_i[L_HN] - 1
    P.L_i[L_HN] = n
    _h_swap(H_t, H_i, 0, n)
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and _h_less(H_t, H_i, c + 1, c):
            c += 1
        if not _h_less(H_t, H_i, c, i):
            break
        _h_swap(H_t, H_i, i, c)
        i = c
    return n
