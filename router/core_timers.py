"""Compiled core: the timer heap (numba) — every timer of the core, ordered by (deadline, sequence).

A binary heap in flat arrays: ``TM_t`` the deadlines, ``TM_i`` the rest of
each row (``TSEQ``, ``TKIND``, ``TTARGET``, ``TTOKEN``, ``TARG``). Every timer
takes the next sequence number when it is set, so no two keys are equal:
timers leave the heap in (deadline, sequence) order whatever the heap's
inner arrangement, and equal deadlines are FIFO. Timers are deleted lazily:
each carries the token (generation, order, lock or offer token) it was set
with, and :func:`timer_live` drops it when it reaches the top if that token
has moved on.

Cost: set and pop are O(log n) in the timers held. A sift moves a hole, not
the entry: each level copies one row (not two swapped), and the entry is
written once, where it stops.

**Void timers are swept out.** Most timers never fire: a ring timeout is
void once the call is answered, seconds into a timeout of 15–30 s, so on a
busy floor nine heap rows in ten can be void, each costing a pop when it
reaches the top. When a step of the core's drivers finds ``S_TM_SWEEP`` rows
in the heap (at least :data:`SWEEP_MIN`), :func:`sweep` drops every timer that
:func:`timer_void` proves can never fire and rebuilds the heap from the rest
(O(n)); the next sweep waits until the heap is twice what it kept. Timers
leave in (deadline, sequence) order whatever the heap's arrangement, so what
fires, and when, is unchanged (the parity suite); only rows that would have
been dropped at the top are dropped earlier.
"""

from __future__ import annotations

import math

from .core_jit import cold_kernel, kernel
from .core_layout import (
    CB, CONNECTED_S, EMPTY_EPOCH, LOCK_TOKEN, LOGGED_IN, O_SLOT, O_TOKEN, ORDER, QGEN, QUEUE, RING_GEN,
    S_NT, S_TM_SWEEP, S_TM_SWEEP_MIN, S_TSEQ, ST_OFFERED, ST_WAITING, STATE, T_CALL_LIMIT, T_ESCALATE,
    T_LEAVE_CALL, T_LEAVE_WALK, T_LOCK_END, T_MAX_WAIT, T_NO_AGENTS, T_PREF_FALLBACK, T_RING, T_RING_STEP, TARG,
    TKIND, TSEQ, TTARGET, TTOKEN,
)


@kernel
def _tm_move(S, dst, src):
    """Copy timer row ``src`` to ``dst`` (the five TM_i columns: core_layout.N_TM_I)."""
    S.TM_t[dst] = S.TM_t[src]
    S.TM_i[dst, TSEQ] = S.TM_i[src, TSEQ]
    S.TM_i[dst, TKIND] = S.TM_i[src, TKIND]
    S.TM_i[dst, TTARGET] = S.TM_i[src, TTARGET]
    S.TM_i[dst, TTOKEN] = S.TM_i[src, TTOKEN]
    S.TM_i[dst, TARG] = S.TM_i[src, TARG]


@kernel
def _tm_put(S, i, t, seq, kind, target, token, arg):
    S.TM_t[i] = t
    S.TM_i[i, TSEQ] = seq
    S.TM_i[i, TKIND] = kind
    S.TM_i[i, TTARGET] = target
    S.TM_i[i, TTOKEN] = token
    S.TM_i[i, TARG] = arg


#: The fewest heap rows a sweep looks at (below, void rows cost little at the top), unless the state says
#: otherwise (``S_TM_SWEEP_MIN``: tests sweep small heaps, or never).
SWEEP_MIN = 256


@kernel
def push_timer(S, t, kind, target, token, arg):
    """Set a timer due at ``t``; the caller has made room (core_ops.room_short)."""
    i = S.S_i[S_NT]
    S.S_i[S_NT] = i + 1
    seq = S.S_i[S_TSEQ] + 1
    S.S_i[S_TSEQ] = seq
    while i > 0:  # the hole rises while the new key is less than its parent's
        p = (i - 1) >> 1
        tp = S.TM_t[p]
        if not (t < tp or (t == tp and seq < S.TM_i[p, TSEQ])):
            break
        _tm_move(S, i, p)
        i = p
    _tm_put(S, i, t, seq, kind, target, token, arg)


@kernel
def pop_timer(S):
    """Remove the root; its fields are left at index n-1 (the old last slot) for the caller to read."""
    n = S.S_i[S_NT] - 1
    S.S_i[S_NT] = n
    t, seq = S.TM_t[n], S.TM_i[n, TSEQ]  # the last entry sinks from the root's place
    kind, target, token, arg = S.TM_i[n, TKIND], S.TM_i[n, TTARGET], S.TM_i[n, TTOKEN], S.TM_i[n, TARG]
    _tm_move(S, n, 0)
    _sift_down(S, 0, n, t, seq, kind, target, token, arg)
    return n


@kernel
def _sift_down(S, i, n, t, seq, kind, target, token, arg):
    """Put the entry (``t``, ``seq``, ...) in the hole at ``i`` of the heap's first ``n`` rows, sinking the hole
    below every child with a smaller key."""
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n:
            t1, t0 = S.TM_t[c + 1], S.TM_t[c]
            if t1 < t0 or (t1 == t0 and S.TM_i[c + 1, TSEQ] < S.TM_i[c, TSEQ]):
                c += 1
        tc = S.TM_t[c]
        if not (tc < t or (tc == t and S.TM_i[c, TSEQ] < seq)):
            break
        _tm_move(S, i, c)
        i = c
    _tm_put(S, i, t, seq, kind, target, token, arg)


@kernel
def timer_void(S, k):
    """Whether timer row ``k`` can never fire: the token it was set with has moved on for good (tokens are
    never given out twice). A subset of ``not timer_live``: a timer it keeps may still be dropped at the top."""
    kind = S.TM_i[k, TKIND]
    target = S.TM_i[k, TTARGET]
    token = S.TM_i[k, TTOKEN]
    if kind == T_LOCK_END:
        return S.A_i[target, LOCK_TOKEN] != token
    if kind == T_RING:
        r = S.TM_i[k, TARG]
        return S.OF[r, O_TOKEN] != token or S.OF[r, O_SLOT] != target
    if kind == T_LEAVE_WALK:
        return False
    if kind == T_CALL_LIMIT:  # a call's order is its own; it is answered once (only a new arrival clears that)
        return S.C_i[target, ORDER] != token or not math.isnan(S.C_f[target, CONNECTED_S])
    if kind == T_RING_STEP:
        return S.C_i[target, RING_GEN] != token
    if S.C_i[target, QGEN] != token:
        return True
    if kind == T_NO_AGENTS:  # the queue's empty epoch only grows
        return S.Q_i[S.C_i[target, QUEUE], EMPTY_EPOCH] != S.TM_i[k, TARG]
    return False


@kernel
def sweep_due(S):
    """Sweep the heap (:func:`sweep`) if it has grown to ``S_TM_SWEEP`` rows. The core's drivers call it once per
    step (core_batch.batch, the simulation loop), so :func:`push_timer` stays small enough to be inlined."""
    if S.S_i[S_NT] >= S.S_i[S_TM_SWEEP]:
        sweep(S)


@cold_kernel
def sweep(S):
    """Drop every void timer (:func:`timer_void`) and rebuild the heap from the rest (O(n))."""
    n = S.S_i[S_NT]
    m = 0
    for k in range(n):
        if not timer_void(S, k):
            if m != k:
                _tm_move(S, m, k)
            m += 1
    for i in range(m // 2 - 1, -1, -1):  # Floyd: sift every parent down, the last first
        t, seq = S.TM_t[i], S.TM_i[i, TSEQ]
        kind, target, token, arg = S.TM_i[i, TKIND], S.TM_i[i, TTARGET], S.TM_i[i, TTOKEN], S.TM_i[i, TARG]
        _sift_down(S, i, m, t, seq, kind, target, token, arg)
    S.S_i[S_NT] = m
    lo = S.S_i[S_TM_SWEEP_MIN]
    S.S_i[S_TM_SWEEP] = max(2 * m, lo if lo > 0 else SWEEP_MIN)


@kernel
def timer_live(S, k):
    kind = S.TM_i[k, TKIND]
    target = S.TM_i[k, TTARGET]
    token = S.TM_i[k, TTOKEN]
    if kind == T_LOCK_END:
        return S.A_i[target, LOCK_TOKEN] == token
    if kind == T_RING:
        r = S.TM_i[k, TARG]
        return S.OF[r, O_TOKEN] == token and S.OF[r, O_SLOT] == target
    if kind == T_LEAVE_WALK:  # target: a queue; the walk looks again when it fires
        return True
    st = S.C_i[target, STATE]
    if not (st == ST_WAITING or st == ST_OFFERED):
        return False  # a connected call's waiting timers are void
    if kind == T_CALL_LIMIT:  # the call's own max wait: until it is first answered; not for a callback
        return S.C_i[target, ORDER] == token and math.isnan(S.C_f[target, CONNECTED_S]) and S.C_i[target, CB] == 0
    if kind == T_RING_STEP:
        return S.C_i[target, RING_GEN] == token
    if S.C_i[target, QGEN] != token:
        return False
    if kind == T_NO_AGENTS:
        q = S.C_i[target, QUEUE]
        return S.Q_i[q, EMPTY_EPOCH] == S.TM_i[k, TARG] and S.Q_i[q, LOGGED_IN] == 0
    return kind == T_MAX_WAIT or kind == T_ESCALATE or kind == T_PREF_FALLBACK or kind == T_LEAVE_CALL


@kernel
def next_deadline(S):
    while S.S_i[S_NT] > 0 and not timer_live(S, 0):
        pop_timer(S)
    return S.TM_t[0] if S.S_i[S_NT] > 0 else math.inf
