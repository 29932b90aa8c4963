"""Compiled statistics: the core's event rows folded into counters (numba).

:func:`stats_feed` reads the rows of the core's event buffers (``EV_i`` /
``EV_f``, as the core wrote them) and adds them to the arrays of a
:class:`StatsState`: the same figures, added in the same order, as
:class:`~busyhour.router.stats.StatsCollector` (the readable reference, which
the parity tests hold it equal to) computes from ``Event`` records, without a
Python object per event. router/stats_arrays.py owns the arrays and turns
them into a :class:`~busyhour.router.stats.RouterStats`.

The keyed tables (queue intervals by queue and interval, live calls by id,
agent intervals by interval, per-agent reasons and pauses) are open-addressing
hash tables: ``K`` holds the two int64 key columns (``EMPTY`` / ``TOMB`` in the
first mark a free or deleted row), ``I`` and ``F`` the row's int and float
columns. Python keeps each at most half full; a row that would need more room
stops the feed (``T_i[NEED]`` says which table) before it changes anything, so
the owner grows that table and feeds on from the same row.

Only the last ``intervals_kept`` intervals are kept: before each row, the
intervals older than the row's time allows (its interval number − kept + 1)
are deleted, and a span of an agent's state or a pause is split only over
the intervals kept (its totals count the whole span). So a span costs at most
``intervals_kept`` steps, however long it lasted.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .core_floor import floor_div
from .core_jit import entry, kernel
from .core_ref import state_ref
from .core_layout import (
    D_ABANDONED, D_ABANDONED_RINGING, D_COMPLETED, DETAIL_DISPLAY, DISP_NOT_READY, E_AGENT, E_CALL, E_DETAIL,
    E_KIND, E_QUEUE, E_SEQ, E_TIME, E_VALUE, H_EMPTY, H_TOMB,
)

EMPTY, TOMB = H_EMPTY, H_TOMB
# event kinds read (codes.EventKind), and the two the snapshot adds to close what is open at ``now``
K_ARRIVED, K_CONNECTED, K_OVERFLOWED, K_TRANSFERRED, K_ENDED, K_STATE = 1, 8, 10, 11, 13, 14
K_PAUSED, K_UNPAUSED, K_MEMBER_REMOVED, K_MOVED = 15, 16, 19, 22
# rows the snapshot adds: an agent's open state up to the time (no ACW to a queue); an open pause (detail: its slot);
# the time itself (old intervals deleted, nothing added)
K_CLOSE_STATE, K_CLOSE_PAUSE, K_NOW = -1, -2, -3

# scalars: T_i (rows used per table, tombstones included; the open-pause counter; which table needs room, how much)
N_B, N_C, N_A, N_P, P_NEXT, NEED, NEED_ROWS, P_MADE_NEXT = range(8)
# T_f: interval length, short-abandon limit, intervals kept, the oldest interval number kept since the last deletion
T_IV, T_SHORT, T_KEEP, T_LO = range(4)
NEED_B, NEED_C, NEED_A, NEED_P = 1, 2, 3, 4
# queue intervals: BK (name slot, interval); BI counts; BF seconds and the interval number as a float
B_OFFERED, B_ANSWERED, B_WITHIN, B_ABANDONED, B_SHORT, B_EXITED, B_HANDLED = range(7)
B_WAIT, B_TALK, B_ACW, B_PAUSED, B_KF = range(5)
# live calls: CK (call id, 0); CI its interval's name slot; CF the interval number, connected at (NaN: not connected)
C_SLOT, C_KF, C_CONN = 0, 0, 1
# agent intervals: AK (interval, 0); AI per state column the order it was first added in (1, 2, …; 0: never), then
# how many were; AF seconds per state column, then the interval number
N_STATES = 6  # LOGGED_OUT, AVAILABLE, RESERVED, BUSY, WRAP_UP, NOT_READY
COL_AVAILABLE, COL_WRAP_UP, COL_NOT_READY = 1, 4, 5
A_KF = A_SEEN = N_STATES
# per agent and queue slot (code 2 × slot) or reason (2 × reason + 1): PK (agent, code); PI additions and the
# open pause's order (from 1; 0: none open), the order of its first addition; PF total seconds, open pause start
P_ADDED, P_ORDER, P_MADE, P_TOTAL, P_SINCE = 0, 1, 2, 0, 1
# agents (by index): GI answered, display code (-1: none yet), slot of the last handled call's interval (-1: none),
# seq of its first state event; GF talk, ACW, idle seconds, state since, that interval's number
G_HANDLED, G_STATE, G_BSLOT, G_FIRST = range(4)
G_TALK, G_ACW, G_IDLE, G_SINCE, G_BKF = range(5)


class StatsState(NamedTuple):
    T_i: np.ndarray
    T_f: np.ndarray
    BK: np.ndarray
    BI: np.ndarray
    BF: np.ndarray
    CK: np.ndarray
    CI: np.ndarray
    CF: np.ndarray
    AK: np.ndarray
    AI: np.ndarray
    AF: np.ndarray
    PK: np.ndarray
    PI: np.ndarray
    PF: np.ndarray
    GI: np.ndarray
    GF: np.ndarray
    Q2S: np.ndarray  # queue index -> name slot (a queue re-added under its old name shares its intervals)
    TH: np.ndarray  # name slot -> service-level threshold


@kernel
def _home(a, b, mask):
    h = int(a) * 0x5851F42D4C957F2D + int(b) * 0x14057B7EF767814F  # (int(): Python ints without the JIT)
    return (h ^ (h >> 29) ^ (h >> 47)) & mask


@kernel
def find(K, a, b):
    """Row of key (a, b) in K, or -1 - the row where it would go (the first deleted or free row on its path)."""
    mask = K.shape[0] - 1
    i = _home(a, b, mask)
    free = -1
    while True:
        k = K[i, 0]
        if k == EMPTY:
            return -1 - (i if free < 0 else free)
        if k == TOMB:
            if free < 0:
                free = i
        elif k == a and K[i, 1] == b:
            return i
        i = (i + 1) & mask


@kernel
def _row(T, K, I, F, a, b, used):
    """Row of key (a, b), added (zeroed) when missing; ``used``: the T_i counter of that table."""
    r = find(K, a, b)
    if r >= 0:
        return r
    r = -1 - r
    if K[r, 0] == EMPTY:
        T.T_i[used] += 1
    K[r, 0] = a
    K[r, 1] = b
    for c in range(I.shape[1]):
        I[r, c] = 0
    for c in range(F.shape[1]):
        F[r, c] = 0.0
    return r


@kernel
def _room(T, table, used, cap, rows):
    """Whether ``rows`` more rows keep the table at most half full; if not, say so and how many."""
    if 2 * (T.T_i[used] + rows) <= cap:
        return True
    T.T_i[NEED] = table
    T.T_i[NEED_ROWS] = rows
    return False


@kernel
def _span(T, t0, t1):
    """Kept intervals a positive span from t0 to t1 touches (0 if empty)."""
    if not t0 < t1:
        return 0
    iv = T.T_f[T_IV]
    return int(min(floor_div(t1, iv) - floor_div(t0, iv) + 1.0, T.T_f[T_KEEP]))


@kernel
def _oldest(T, t):
    """Number of the oldest interval kept at time ``t``."""
    return floor_div(t, T.T_f[T_IV]) - T.T_f[T_KEEP] + 1.0


@kernel
def _drop_old(T, lo):
    """Delete the queue and agent intervals numbered below ``lo``."""
    T.T_f[T_LO] = lo
    for r in range(T.BK.shape[0]):
        if T.BK[r, 0] != EMPTY and T.BK[r, 0] != TOMB and T.BF[r, B_KF] < lo:
            T.BK[r, 0] = TOMB
    for r in range(T.AK.shape[0]):
        if T.AK[r, 0] != EMPTY and T.AK[r, 0] != TOMB and T.AF[r, A_KF] < lo:
            T.AK[r, 0] = TOMB


@kernel
def _bucket(T, qs, kf):
    r = _row(T, T.BK, T.BI, T.BF, qs, int(kf), N_B)
    T.BF[r, B_KF] = kf
    return r


@kernel
def _call_bucket(T, call):
    """(the call's row, its interval's row): -1 for a call never seen arriving, below 0 for an interval deleted."""
    c = find(T.CK, call, 0)
    if c < 0:
        return -1, -1
    return c, find(T.BK, T.CI[c, C_SLOT], int(T.CF[c, C_KF]))


@kernel
def _handled(T, t, call, agent):
    c, b = _call_bucket(T, call)
    if c < 0 or agent < 0:
        return
    talk = t - T.CF[c, C_CONN]
    T.CF[c, C_CONN] = np.nan
    if b >= 0:
        T.BI[b, B_HANDLED] += 1
        T.BF[b, B_TALK] += talk
    T.GI[agent, G_HANDLED] += 1
    T.GF[agent, G_TALK] += talk
    T.GI[agent, G_BSLOT] = T.CI[c, C_SLOT]
    T.GF[agent, G_BKF] = T.CF[c, C_KF]


@kernel
def _account(T, agent, state, t0, t1, to_queue):
    """The agent's display ``state`` from t0 to t1 into the agent intervals (split at boundaries) and its totals."""
    if t1 <= t0:
        return
    iv = T.T_f[T_IV]
    col = N_STATES - 1 if state >= DISP_NOT_READY else (0 if state == 0 else state - 1)
    lo = _oldest(T, t1)
    t = max(t0, lo * iv)
    while t < t1:
        kf = max(floor_div(t, iv), lo)
        end = min(t1, (kf + 1.0) * iv)
        r = _row(T, T.AK, T.AI, T.AF, int(kf), 0, N_A)
        T.AF[r, A_KF] = kf
        T.AF[r, col] += end - t
        if T.AI[r, col] == 0:
            T.AI[r, A_SEEN] += 1
            T.AI[r, col] = T.AI[r, A_SEEN]
        t = end
    d = t1 - t0
    if col == COL_WRAP_UP:
        T.GF[agent, G_ACW] += d
        bs = T.GI[agent, G_BSLOT]
        if to_queue and bs >= 0:
            b = find(T.BK, bs, int(T.GF[agent, G_BKF]))
            if b >= 0:  # (not deleted)
                T.BF[b, B_ACW] += d
    elif col == COL_AVAILABLE:
        T.GF[agent, G_IDLE] += d
    elif col == COL_NOT_READY:
        _add_total(T, _row(T, T.PK, T.PI, T.PF, agent, 2 * (state - DISP_NOT_READY) + 1, N_P), d)


@kernel
def _add_total(T, p, d):
    if T.PI[p, P_ADDED] == 0:
        T.T_i[P_MADE_NEXT] += 1
        T.PI[p, P_MADE] = T.T_i[P_MADE_NEXT]
    T.PI[p, P_ADDED] += 1
    T.PF[p, P_TOTAL] += d


@kernel
def _paused(T, agent, qs, t0, t1):
    """A pause in slot ``qs`` from t0 to t1 into its queue intervals (split at boundaries) and the agent's totals."""
    d = t1 - t0
    if not t0 < t1 or not (d - d == 0.0):
        return
    iv = T.T_f[T_IV]
    kf = max(floor_div(t0, iv), _oldest(T, t1))
    while kf * iv < t1:
        start, end = max(t0, kf * iv), min(t1, (kf + 1.0) * iv)
        if end > start:
            T.BF[_bucket(T, qs, kf), B_PAUSED] += end - start
        kf += 1.0
    _add_total(T, _row(T, T.PK, T.PI, T.PF, agent, 2 * qs, N_P), d)


@kernel
def _fits(T, kind, call, agent, qs, t):
    """Whether the tables have the room this event may take (else the feed stops before it)."""
    if kind == K_ARRIVED:
        return _room(T, NEED_C, N_C, T.CK.shape[0], 1) and _room(T, NEED_B, N_B, T.BK.shape[0], 1)
    if kind == K_STATE or kind == K_CLOSE_STATE:
        st = T.GI[agent, G_STATE]
        if st < 0:
            return True
        return (_room(T, NEED_A, N_A, T.AK.shape[0], _span(T, T.GF[agent, G_SINCE], t))
                and _room(T, NEED_P, N_P, T.PK.shape[0], 1))
    if kind == K_PAUSED or kind == K_UNPAUSED or kind == K_MEMBER_REMOVED or kind == K_CLOSE_PAUSE:
        if not _room(T, NEED_P, N_P, T.PK.shape[0], 1):
            return False
        p = find(T.PK, agent, 2 * qs)
        if kind == K_PAUSED or p < 0 or T.PI[p, P_ORDER] == 0:
            return True
        return _room(T, NEED_B, N_B, T.BK.shape[0], _span(T, T.PF[p, P_SINCE], t))
    return True


@entry
def stats_feed(T, EV_i, EV_f, lo, n):
    """:func:`feed` for Python: ``T`` as the tuple of arrays."""
    return feed(state_ref(T), EV_i, EV_f, lo, n)


@kernel
def feed(T, EV_i, EV_f, lo, n):
    """Add event rows lo..n-1; return the first row not added (n when all were; else ``T_i[NEED]`` names the
    table to grow). Rows of kind ``K_CLOSE_PAUSE`` name the queue's slot in their detail column."""
    T.T_i[NEED] = 0
    for i in range(lo, n):
        kind = EV_i[i, E_KIND]
        call, agent, q = EV_i[i, E_CALL], EV_i[i, E_AGENT], EV_i[i, E_QUEUE]
        t, value = EV_f[i, E_TIME], EV_f[i, E_VALUE]
        qs = EV_i[i, E_DETAIL] if kind == K_CLOSE_PAUSE else (T.Q2S[q] if q >= 0 else -1)
        lo = _oldest(T, t)
        if lo > T.T_f[T_LO]:
            _drop_old(T, lo)
        if not _fits(T, kind, call, agent, qs, t):
            return i
        if kind == K_ARRIVED:
            kf = floor_div(t, T.T_f[T_IV])
            T.BI[_bucket(T, qs, kf), B_OFFERED] += 1
            c = find(T.CK, call, 0)
            if c < 0:
                c = -1 - c
                if T.CK[c, 0] == EMPTY:
                    T.T_i[N_C] += 1
                T.CK[c, 0] = call
                T.CK[c, 1] = 0
                T.CF[c, C_CONN] = np.nan
            T.CI[c, C_SLOT] = qs
            T.CF[c, C_KF] = kf
        elif kind == K_CONNECTED:
            c, b = _call_bucket(T, call)
            if b >= 0:
                T.BI[b, B_ANSWERED] += 1
                T.BF[b, B_WAIT] += value
                if value <= T.TH[T.BK[b, 0]]:
                    T.BI[b, B_WITHIN] += 1
            if c >= 0:
                T.CF[c, C_CONN] = t
        elif kind == K_TRANSFERRED:
            _handled(T, t, call, agent)
        elif kind == K_OVERFLOWED or kind == K_MOVED:
            c, b = _call_bucket(T, call)
            if b >= 0:
                T.BI[b, B_EXITED] += 1
        elif kind == K_ENDED:
            c, b = _call_bucket(T, call)
            if c >= 0:
                d = EV_i[i, E_DETAIL]
                if d == D_COMPLETED:
                    _handled(T, t, call, agent)
                elif b < 0:  # its interval was deleted
                    pass
                elif d == D_ABANDONED or d == D_ABANDONED_RINGING:
                    T.BI[b, B_ABANDONED] += 1
                    if value < T.T_f[T_SHORT]:
                        T.BI[b, B_SHORT] += 1
                else:
                    T.BI[b, B_EXITED] += 1
                T.CK[c, 0] = TOMB
        elif kind == K_STATE or kind == K_CLOSE_STATE:
            st = T.GI[agent, G_STATE]
            if st >= 0:
                _account(T, agent, st, T.GF[agent, G_SINCE], t, kind == K_STATE)
            if kind == K_STATE:
                if st < 0:
                    T.GI[agent, G_FIRST] = EV_i[i, E_SEQ]
                T.GI[agent, G_STATE] = EV_i[i, E_DETAIL] - DETAIL_DISPLAY
                T.GF[agent, G_SINCE] = t
        elif kind == K_PAUSED or kind == K_UNPAUSED or kind == K_MEMBER_REMOVED or kind == K_CLOSE_PAUSE:
            if agent < 0 or qs < 0:
                continue
            p = _row(T, T.PK, T.PI, T.PF, agent, 2 * qs, N_P)
            if kind == K_PAUSED:
                if T.PI[p, P_ORDER] == 0:  # paused twice: the first start stands
                    T.T_i[P_NEXT] += 1
                    T.PI[p, P_ORDER] = T.T_i[P_NEXT]
                    T.PF[p, P_SINCE] = t
            elif T.PI[p, P_ORDER] > 0:
                T.PI[p, P_ORDER] = 0
                _paused(T, agent, qs, T.PF[p, P_SINCE], t)
    return n


@entry
def stats_rehash(K, I, F, K2, I2, F2):
    """Copy every live row of table (K, I, F) into the empty, larger (K2, I2, F2); return the rows used."""
    used = 0
    for r in range(K.shape[0]):
        a = K[r, 0]
        if a == EMPTY or a == TOMB:
            continue
        j = -1 - find(K2, a, K[r, 1])
        K2[j, 0] = a
        K2[j, 1] = K[r, 1]
        for c in range(I.shape[1]):
            I2[j, c] = I[r, c]
        for c in range(F.shape[1]):
            F2[j, c] = F[r, c]
        used += 1
    return used
