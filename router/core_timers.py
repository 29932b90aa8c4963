"""Compiled core: the timer heap (numba) — every timer of the core, ordered by (deadline, sequence).

A binary heap in flat arrays: ``TM_t`` the deadlines, ``TM_i`` the rest of
each row (``TSEQ``, ``TKIND``, ``TTARGET``, ``TTOKEN``, ``TARG``). Every timer
takes the next sequence number when it is set, so no two keys are equal:
timers leave the heap in (deadline, sequence) order whatever the heap's
inner arrangement, and equal deadlines are FIFO. Timers are deleted lazily:
each carries the token (generation, order, lock or offer token) it was set
with, and :func:`live` drops it when it reaches the top if that token
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

**Lanes for the timers set in deadline order.** Ring timeouts and the ends
of wrap-up and delay locks are most of a busy floor's timers, and each kind
is set in deadline order as long as its durations do not change (time only
moves forward). Each of those kinds has a lane: a list of its timers in
(deadline, sequence) order (``TL_*``, core_layout.py), where setting a timer
appends it (O(1)) and the next one due is its first row. A timer that would
break a lane's order (a shorter duration than the last) goes to the heap,
and so does one that a full lane cannot take: when a lane reaches its last
row it drops its void timers and moves the rest to its start, and if more
than half its rows are still in use it is shut (its timers go to the heap)
until it empties. The next timer due is the least (deadline, sequence) of the
heap's root and the lanes' first rows, so what fires, and in which order, is
the same wherever a timer is kept (the parity suite).
"""

from __future__ import annotations

import math

from .core_jit import cold_kernel, kernel
from .core_layout import (
    CB, CONNECTED_S, EMPTY_EPOCH, LANE_END, LANE_HEAD, LANE_SHUT, LOCK_TOKEN, LOGGED_IN, N_LANES, O_SLOT, O_TOKEN,
    ORDER, QGEN, QUEUE, RING_GEN, S_NT, S_TM_SWEEP, S_TM_SWEEP_MIN, S_TSEQ, ST_OFFERED, ST_WAITING, STATE,
    T_CALL_LIMIT, T_ESCALATE, T_LEAVE_CALL, T_LEAVE_WALK, T_LOCK_END, T_MAX_WAIT, T_NO_AGENTS, T_PREF_FALLBACK,
    T_RING, T_RING_STEP, TARG, TKIND, TSEQ, TTARGET, TTOKEN,
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
    """Set a timer due at ``t``: in its kind's lane if it keeps the lane's order, else in the heap; the caller has
    made room in the heap (core_ops.room_short)."""
    seq = S.S_i[S_TSEQ] + 1
    S.S_i[S_TSEQ] = seq
    lane = 0 if kind == T_RING else (1 if kind == T_LOCK_END else -1)
    if lane >= 0 and lane_push(S, lane, t, seq, kind, target, token, arg):
        return
    i = S.S_i[S_NT]
    S.S_i[S_NT] = i + 1
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
    """Remove the root (read it first: :func:`head_of`)."""
    n = S.S_i[S_NT] - 1
    S.S_i[S_NT] = n
    t, seq = S.TM_t[n], S.TM_i[n, TSEQ]  # the last entry sinks from the root's place
    kind, target, token, arg = S.TM_i[n, TKIND], S.TM_i[n, TTARGET], S.TM_i[n, TTOKEN], S.TM_i[n, TARG]
    _sift_down(S, 0, n, t, seq, kind, target, token, arg)


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
    """Whether heap row ``k`` can never fire (:func:`void`)."""
    return void(S, S.TM_i[k, TKIND], S.TM_i[k, TTARGET], S.TM_i[k, TTOKEN], S.TM_i[k, TARG])


@kernel
def void(S, kind, target, token, arg):
    """Whether a timer (its fields) can never fire: the token it was set with has moved on for good (tokens are
    never given out twice). A subset of ``not live``: a timer it keeps may still be dropped when it is due."""
    if kind == T_LOCK_END:
        return S.A_i[target, LOCK_TOKEN] != token
    if kind == T_RING:
        return S.OF[arg, O_TOKEN] != token or S.OF[arg, O_SLOT] != target
    if kind == T_LEAVE_WALK:
        return False
    if kind == T_CALL_LIMIT:  # a call's order is its own; it is answered once (only a new arrival clears that)
        return S.C_i[target, ORDER] != token or not math.isnan(S.C_f[target, CONNECTED_S])
    if kind == T_RING_STEP:
        return S.C_i[target, RING_GEN] != token
    if S.C_i[target, QGEN] != token:
        return True
    if kind == T_NO_AGENTS:  # the queue's empty epoch only grows
        return S.Q_i[S.C_i[target, QUEUE], EMPTY_EPOCH] != arg
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
def live(S, kind, target, token, arg):
    """Whether a timer (its fields) fires when it is due: what it was set for still holds."""
    if kind == T_LOCK_END:
        return S.A_i[target, LOCK_TOKEN] == token
    if kind == T_RING:
        return S.OF[arg, O_TOKEN] == token and S.OF[arg, O_SLOT] == target
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
        return S.Q_i[q, EMPTY_EPOCH] == arg and S.Q_i[q, LOGGED_IN] == 0
    return kind == T_MAX_WAIT or kind == T_ESCALATE or kind == T_PREF_FALLBACK or kind == T_LEAVE_CALL


@kernel
def first_timer(S):
    """Where the timer with the least (deadline, sequence) is: -1 nowhere (no timer), 0 the heap's root, 1 + l
    the first row of lane l."""
    w = -1
    t = math.inf
    seq = 0
    if S.S_i[S_NT] > 0:
        w, t, seq = 0, S.TM_t[0], S.TM_i[0, TSEQ]
    for lane in range(N_LANES):
        h = S.TL_p[lane, LANE_HEAD]
        if h < S.TL_p[lane, LANE_END]:
            tl = S.TL_t[lane, h]
            if w < 0 or tl < t or (tl == t and S.TL_i[lane, h, TSEQ] < seq):
                w, t, seq = 1 + lane, tl, S.TL_i[lane, h, TSEQ]
    return w


@kernel
def due_at(S, w):
    """The deadline of the first timer of ``w`` (:func:`first_timer`; inf for -1)."""
    if w < 0:
        return math.inf
    return S.TM_t[0] if w == 0 else S.TL_t[w - 1, S.TL_p[w - 1, LANE_HEAD]]


@kernel
def first_due(S):
    """The deadline of the next timer, live or not (inf: none)."""
    return due_at(S, first_timer(S))


@kernel
def head_of(S, w):
    """The fields (deadline, kind, target, token, arg) of the first timer of ``w`` (:func:`first_timer`: 0 the
    heap, 1 + l lane l), left where it is."""
    if w == 0:
        return S.TM_t[0], S.TM_i[0, TKIND], S.TM_i[0, TTARGET], S.TM_i[0, TTOKEN], S.TM_i[0, TARG]
    lane = w - 1
    h = S.TL_p[lane, LANE_HEAD]
    return (S.TL_t[lane, h], S.TL_i[lane, h, TKIND], S.TL_i[lane, h, TTARGET], S.TL_i[lane, h, TTOKEN],
            S.TL_i[lane, h, TARG])


@kernel
def drop_first(S, w):
    """Remove the first timer of ``w`` (:func:`first_timer`)."""
    if w == 0:
        pop_timer(S)
        return
    lane = w - 1
    h = S.TL_p[lane, LANE_HEAD]
    if h + 1 == S.TL_p[lane, LANE_END]:  # emptied: it starts again at its first row, and opens if shut
        S.TL_p[lane, LANE_HEAD] = 0
        S.TL_p[lane, LANE_END] = 0
        S.TL_p[lane, LANE_SHUT] = 0
    else:
        S.TL_p[lane, LANE_HEAD] = h + 1


@kernel
def next_deadline(S):
    """The deadline of the next live timer (inf: none), dropping the void ones before it."""
    while True:
        w = first_timer(S)
        if w < 0:
            return math.inf
        t, kind, target, token, arg = head_of(S, w)
        if live(S, kind, target, token, arg):
            return t
        drop_first(S, w)


@kernel
def due_by(S, t):
    """Whether a live timer is due at or before ``t``: the first timer's deadline, which reads no timer's target,
    before :func:`next_deadline` (most often the first already says no)."""
    return first_due(S) <= t and next_deadline(S) <= t


@kernel
def lane_push(S, lane, t, seq, kind, target, token, arg):
    """Append a timer to ``lane`` if it keeps the lane's order and the lane has room (making room if it must);
    False if the heap must take it."""
    e = S.TL_p[lane, LANE_END]
    if S.TL_p[lane, LANE_SHUT] or (e > S.TL_p[lane, LANE_HEAD] and t < S.TL_t[lane, e - 1]):
        return False
    if e == S.TL_t.shape[1]:
        if not lane_compact(S, lane):
            return False
        e = S.TL_p[lane, LANE_END]
    S.TL_t[lane, e] = t
    S.TL_i[lane, e, TSEQ] = seq
    S.TL_i[lane, e, TKIND] = kind
    S.TL_i[lane, e, TTARGET] = target
    S.TL_i[lane, e, TTOKEN] = token
    S.TL_i[lane, e, TARG] = arg
    S.TL_p[lane, LANE_END] = e + 1
    return True


@cold_kernel
def lane_compact(S, lane):
    """A full lane drops its void timers and moves the rest to its start, in order; it is shut (False) if more
    than half its rows are still in use."""
    m = 0
    for k in range(S.TL_p[lane, LANE_HEAD], S.TL_p[lane, LANE_END]):
        if not void(S, S.TL_i[lane, k, TKIND], S.TL_i[lane, k, TTARGET], S.TL_i[lane, k, TTOKEN],
                    S.TL_i[lane, k, TARG]):
            if m != k:
                S.TL_t[lane, m] = S.TL_t[lane, k]
                for c in range(S.TL_i.shape[2]):
                    S.TL_i[lane, m, c] = S.TL_i[lane, k, c]
            m += 1
    S.TL_p[lane, LANE_HEAD] = 0
    S.TL_p[lane, LANE_END] = m
    if 2 * m > S.TL_t.shape[1]:
        S.TL_p[lane, LANE_SHUT] = 1
        return False
    return True
