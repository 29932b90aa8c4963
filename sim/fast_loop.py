"""The driver loop of driver.py, compiled: same order, same reactions, the compiled router core.

It mirrors ``_Run.loop`` / ``arrive`` / ``react`` / ``accept`` / ``_ended``
line for line for the scenarios sim/fast.py accepts (agents staffed for the
whole run, answering at once; no callbacks, redials or breaks), and applies
each router operation with ``core_batch.apply_op`` — the very function
``FastRouter.submit`` runs, which the parity tests hold event-for-event equal
to :class:`busyhour.router.Router`. So the same scenario and seed give the
same calls, waits and dispositions on either path (tests/sim/test_fast_sim.py).

Ordering at equal times, as in driver.py: router timers (advance) first, then
the sim heap in (time, sequence) order, then the arrival.

The loop stops and returns 1 when the router needs room (the Python side
grows the arrays and calls again; all loop state lives in arrays), 0 when
the run is over, 2 when it ran past its step bound.
"""

from __future__ import annotations

import math

from numba import njit

from busyhour.router.core_batch import apply_op
from busyhour.router.core_kernels import next_deadline
from busyhour.router.core_layout import (
    D_ABANDONED, D_ABANDONED_RINGING, D_COMPLETED, E_AGENT, E_CALL, E_DETAIL, E_KIND, E_TIME, E_VALUE, OK,
    OP_ABANDON, OP_ACCEPT, OP_ADVANCE, OP_ARRIVE, OP_RELEASE, S_NEV,
)
from busyhour.router.core_ops import room_short

from .results import ABANDONED, COMPLETED, OTHER

K_QUEUED, K_OFFERED, K_CONNECTED, K_ENDED = 2, 3, 8, 13
A_RELEASE, A_PATIENCE = 1, 2
# Loop state L_i: next arrival, heap size, heap sequence, queue-change count, router events, steps, pending.
L_NEXT, L_HN, L_HSEQ, L_NQ, L_EVENTS, L_STEPS, L_PENDING = range(7)
# L_f: now, pending action's time.
L_NOW, L_PT = range(2)


@njit(cache=True, _nrt=False)
def _h_less(H_t, H_i, i, j):
    return H_t[i] < H_t[j] or (H_t[i] == H_t[j] and H_i[i, 0] < H_i[j, 0])


@njit(cache=True, _nrt=False)
def _h_swap(H_t, H_i, i, j):
    H_t[i], H_t[j] = H_t[j], H_t[i]
    for c in range(3):
        H_i[i, c], H_i[j, c] = H_i[j, c], H_i[i, c]


@njit(cache=True, _nrt=False)
def _push(L_i, H_t, H_i, t, action, c):
    i = L_i[L_HN]
    L_i[L_HN] = i + 1
    L_i[L_HSEQ] += 1
    H_t[i] = t
    H_i[i, 0] = L_i[L_HSEQ]
    H_i[i, 1] = action
    H_i[i, 2] = c
    while i > 0:
        p = (i - 1) >> 1
        if not _h_less(H_t, H_i, i, p):
            break
        _h_swap(H_t, H_i, i, p)
        i = p


@njit(cache=True, _nrt=False)
def _pop(L_i, H_t, H_i):
    n = L_i[L_HN] - 1
    L_i[L_HN] = n
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


@njit(cache=True, _nrt=False)
def _apply_events(S, start, L_i, H_t, H_i, C_f, C_i, factor, q_t, q_d, offers):
    """driver.react's loop over the events from row ``start``: offers are collected; return their count."""
    n_off = 0
    end = S.S_i[S_NEV]
    for k in range(start, end):
        kind = S.EV_i[k, E_KIND]
        c = S.EV_i[k, E_CALL]
        if kind == K_OFFERED:
            offers[n_off, 0] = c
            offers[n_off, 1] = S.EV_i[k, E_AGENT]
            n_off += 1
        elif kind == K_CONNECTED:
            a = S.EV_i[k, E_AGENT]
            ts = S.EV_f[k, E_TIME]
            C_f[c, 1] = S.EV_f[k, E_VALUE]  # wait
            C_f[c, 2] = ts  # connect
            C_i[c, 0] = a
            _q_change(L_i, q_t, q_d, ts, -1)
            _push(L_i, H_t, H_i, ts + C_f[c, 4] * factor[a], A_RELEASE, c)
        elif kind == K_ENDED:
            _ended(S, k, C_f, C_i, L_i, q_t, q_d)
    L_i[L_EVENTS] += end - start
    return n_off


@njit(cache=True, _nrt=False)
def _react(S, t, L_i, H_t, H_i, C_f, C_i, factor, q_t, q_d, offers):
    """driver.react: apply the events, then accept the offers in offer order (agents answer at once).

    An accept's own events are a connection and the agent's state: never an offer."""
    n_off = _apply_events(S, 0, L_i, H_t, H_i, C_f, C_i, factor, q_t, q_d, offers)
    for j in range(n_off):
        c = offers[j, 0]
        if C_i[c, 1] != 0:  # the caller hung up while the phone rang
            continue
        mark = S.S_i[S_NEV]
        if apply_op(S, OP_ACCEPT, t, c, offers[j, 1], -1, 0, 0.0) == OK:
            _apply_events(S, mark, L_i, H_t, H_i, C_f, C_i, factor, q_t, q_d, offers[n_off:])
    return n_off


@njit(cache=True, _nrt=False)
def _q_change(L_i, q_t, q_d, t, d):
    n = L_i[L_NQ]
    q_t[n] = t
    q_d[n] = d
    L_i[L_NQ] = n + 1


@njit(cache=True, _nrt=False)
def _ended(S, k, C_f, C_i, L_i, q_t, q_d):
    c = S.EV_i[k, E_CALL]
    d = S.EV_i[k, E_DETAIL]
    ts = S.EV_f[k, E_TIME]
    if d == D_COMPLETED:
        C_i[c, 1] = COMPLETED
        C_f[c, 3] = ts + C_f[c, 5]  # busy end = end + after-call work
        return
    C_i[c, 1] = ABANDONED if d == D_ABANDONED or d == D_ABANDONED_RINGING else OTHER
    if C_f[c, 2] == C_f[c, 2]:  # ended after connecting
        C_f[c, 3] = ts
        return
    C_f[c, 1] = ts - C_f[c, 0]
    _q_change(L_i, q_t, q_d, ts, -1)


@njit(cache=True, _nrt=False)
def run_loop(S, L_i, L_f, H_t, H_i, C_f, C_i, queue, prio, factor, q_t, q_d, offers, stop_s, max_steps):
    """Run until the end (0), until the router needs room (1), or past ``max_steps`` (2).

    Calls: ``C_f`` columns arrival, wait, connect, busy end, handle, acw, patience;
    ``C_i`` columns agent, disposition (arrays indexed by call = router call id)."""
    n_first = C_f.shape[0]
    while True:
        if L_i[L_STEPS] >= max_steps:
            return 2
        if L_i[L_PENDING] == 0:
            S.S_i[S_NEV] = 0  # every event so far has been reacted to
        if room_short(S):
            return 1
        if L_i[L_PENDING]:  # an advance paused for room: finish it, then react to all its events
            if apply_op(S, OP_ADVANCE, L_f[L_PT], 0, -1, -1, 0, 0.0) < 0:
                return 1
            L_i[L_PENDING] = 0
            _react(S, L_f[L_PT], L_i, H_t, H_i, C_f, C_i, factor, q_t, q_d, offers)
            continue
        L_i[L_STEPS] += 1
        i = L_i[L_NEXT]
        ta = C_f[i, 0] if i < n_first else math.inf
        th = H_t[0] if L_i[L_HN] > 0 else math.inf
        td = next_deadline(S)
        t = min(ta, min(th, td))
        if t == math.inf or t > stop_s:
            return 0
        L_f[L_NOW] = t
        if td == t:
            if apply_op(S, OP_ADVANCE, t, 0, -1, -1, 0, 0.0) < 0:  # paused: keep its events, grow, finish
                L_i[L_PENDING] = 1
                L_f[L_PT] = t
                return 1
            _react(S, t, L_i, H_t, H_i, C_f, C_i, factor, q_t, q_d, offers)
        elif th == t:
            k = _pop(L_i, H_t, H_i)
            action, c = H_i[k, 1], H_i[k, 2]
            if action == A_RELEASE:
                apply_op(S, OP_RELEASE, t, c, -1, -1, 0, C_f[c, 5])
                _react(S, t, L_i, H_t, H_i, C_f, C_i, factor, q_t, q_d, offers)
            elif C_i[c, 1] == 0 and C_f[c, 2] != C_f[c, 2]:  # patience ran out before an answer
                apply_op(S, OP_ABANDON, t, c, -1, -1, 0, 0.0)
                _react(S, t, L_i, H_t, H_i, C_f, C_i, factor, q_t, q_d, offers)
        else:
            _q_change(L_i, q_t, q_d, t, 1)
            apply_op(S, OP_ARRIVE, t, i, -1, queue[i], prio[i], 0.0)
            offered = _react(S, t, L_i, H_t, H_i, C_f, C_i, factor, q_t, q_d, offers)
            p = C_f[i, 6]
            if p < math.inf and offered == 0:
                _push(L_i, H_t, H_i, t + p, A_PATIENCE, i)
            L_i[L_NEXT] = i + 1
