"""Compiled core: each queue's waiting list as an order-statistic tree (numba).

A queue's waiting calls form a treap keyed by the waiting order of
docs/routing.md §1, ``(-priority, first arrival, arrival order)``, whose
nodes are the calls' own slots (columns ``W_LEFT``, ``W_RIGHT``, ``W_UP``,
``W_SIZE``, ``W_PRI`` of ``C_i``; a call waits in one queue at a time).
Every node knows the size of its subtree, so inserting a call also gives its
position (the ``CALL_QUEUED`` value) and any waiting call's position is a
walk to the root: insert, remove and rank are O(log n) expected, whatever
the arrival pattern (the heap priorities are a hash of a counter). The queue
remembers its first call (``W_HEAD``), so the head costs nothing.
"""

from __future__ import annotations

from .core_jit import entry, kernel
from .core_ref import state_ref
from .core_layout import (
    ARRIVAL, NWAIT, ORDER, PRIO, S_GEN, W_HEAD, W_LEFT, W_PRI, W_RIGHT, W_ROOT, W_SIZE, W_UP,
)


@kernel
def w_less(S, x, y):
    """Whether call ``x`` waits ahead of call ``y``: higher priority, then earlier arrival, then order."""
    px, py = S.C_i[x, PRIO], S.C_i[y, PRIO]
    if px != py:
        return px > py
    ax, ay = S.C_f[x, ARRIVAL], S.C_f[y, ARRIVAL]
    if ax != ay:
        return ax < ay
    return S.C_i[x, ORDER] < S.C_i[y, ORDER]


@kernel
def _size(S, x):
    return S.C_i[x, W_SIZE] if x >= 0 else 0


@kernel
def _hash(n):
    """A well-mixed 31-bit number from a counter (the treap's heap priority); no int64 overflow."""
    x = n & 0xFFFFFFFF
    x = ((x >> 16) ^ x) * 0x45D9F3B & 0xFFFFFFFF
    x = ((x >> 16) ^ x) * 0x45D9F3B & 0xFFFFFFFF
    return ((x >> 16) ^ x) & 0x7FFFFFFF


@kernel
def _relink(S, q, parent, old, new):
    """Make ``new`` take ``old``'s place under ``parent`` (the root of ``q``'s tree when ``parent`` < 0)."""
    if parent < 0:
        S.Q_i[q, W_ROOT] = new
    elif S.C_i[parent, W_LEFT] == old:
        S.C_i[parent, W_LEFT] = new
    else:
        S.C_i[parent, W_RIGHT] = new


@kernel
def _rotate_up(S, q, x):
    """Rotate ``x`` above its parent, keeping the key order and the subtree sizes."""
    p = S.C_i[x, W_UP]
    g = S.C_i[p, W_UP]
    if S.C_i[p, W_LEFT] == x:
        b = S.C_i[x, W_RIGHT]
        S.C_i[p, W_LEFT] = b
        S.C_i[x, W_RIGHT] = p
    else:
        b = S.C_i[x, W_LEFT]
        S.C_i[p, W_RIGHT] = b
        S.C_i[x, W_LEFT] = p
    if b >= 0:
        S.C_i[b, W_UP] = p
    S.C_i[p, W_UP] = x
    S.C_i[x, W_UP] = g
    _relink(S, q, g, p, x)
    S.C_i[x, W_SIZE] = S.C_i[p, W_SIZE]
    S.C_i[p, W_SIZE] = _size(S, S.C_i[p, W_LEFT]) + _size(S, S.C_i[p, W_RIGHT]) + 1


@kernel
def w_insert(S, q, x):
    """Add call ``x`` to ``q``'s waiting list; return its position (1-based)."""
    S.S_i[S_GEN] += 1
    S.C_i[x, W_PRI] = _hash(S.S_i[S_GEN])
    S.C_i[x, W_LEFT] = -1
    S.C_i[x, W_RIGHT] = -1
    S.C_i[x, W_SIZE] = 1
    parent = -1
    left = False
    n = S.Q_i[q, W_ROOT]
    pos = 1
    while n >= 0:
        S.C_i[n, W_SIZE] += 1
        parent = n
        left = w_less(S, x, n)
        if left:
            n = S.C_i[n, W_LEFT]
        else:
            pos += _size(S, S.C_i[n, W_LEFT]) + 1
            n = S.C_i[n, W_RIGHT]
    S.C_i[x, W_UP] = parent
    if parent < 0:
        S.Q_i[q, W_ROOT] = x
    elif left:
        S.C_i[parent, W_LEFT] = x
    else:
        S.C_i[parent, W_RIGHT] = x
    while S.C_i[x, W_UP] >= 0 and S.C_i[x, W_PRI] > S.C_i[S.C_i[x, W_UP], W_PRI]:
        _rotate_up(S, q, x)
    if pos == 1:
        S.Q_i[q, W_HEAD] = x
    S.Q_i[q, NWAIT] += 1
    return pos


@kernel
def w_remove(S, q, x):
    """Take call ``x`` out of ``q``'s waiting list."""
    while S.C_i[x, W_LEFT] >= 0 and S.C_i[x, W_RIGHT] >= 0:  # rotate it down to at most one child
        lc, rc = S.C_i[x, W_LEFT], S.C_i[x, W_RIGHT]
        _rotate_up(S, q, lc if S.C_i[lc, W_PRI] > S.C_i[rc, W_PRI] else rc)
    c = S.C_i[x, W_LEFT] if S.C_i[x, W_LEFT] >= 0 else S.C_i[x, W_RIGHT]
    p = S.C_i[x, W_UP]
    if c >= 0:
        S.C_i[c, W_UP] = p
    _relink(S, q, p, x, c)
    while p >= 0:
        S.C_i[p, W_SIZE] -= 1
        p = S.C_i[p, W_UP]
    if S.Q_i[q, W_HEAD] == x:
        n = S.Q_i[q, W_ROOT]
        while n >= 0 and S.C_i[n, W_LEFT] >= 0:
            n = S.C_i[n, W_LEFT]
        S.Q_i[q, W_HEAD] = n
    S.Q_i[q, NWAIT] -= 1


@entry
def rank_of(S, x):
    """:func:`w_rank` for Python."""
    return w_rank(state_ref(S), x)


@kernel
def w_rank(S, x):
    """Position (1-based) of waiting call ``x`` in its queue."""
    r = _size(S, S.C_i[x, W_LEFT]) + 1
    n = x
    while S.C_i[n, W_UP] >= 0:
        p = S.C_i[n, W_UP]
        if S.C_i[p, W_RIGHT] == n:
            r += _size(S, S.C_i[p, W_LEFT]) + 1
        n = p
    return r


@kernel
def w_next(S, x):
    """The waiting call after ``x`` in its queue's order, or -1."""
    n = S.C_i[x, W_RIGHT]
    if n >= 0:
        while S.C_i[n, W_LEFT] >= 0:
            n = S.C_i[n, W_LEFT]
        return n
    while S.C_i[x, W_UP] >= 0 and S.C_i[S.C_i[x, W_UP], W_RIGHT] == x:
        x = S.C_i[x, W_UP]
    return S.C_i[x, W_UP]
