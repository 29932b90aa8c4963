"""Compiled core, part 1: the available-member heaps, events and agent bookkeeping (numba).

Each function mirrors the method of the Python engine with the same name
(engine.py / dispatch.py), step for step, so both produce the same events;
tests/router/test_core_parity.py replays random operation streams through
both and compares the streams event by event. ``S`` is a :class:`CoreState`.

Heaps are binary heaps in flat arrays: per queue, a segment of the
available-member heap (strategy key, idle rank), and the timer heap
(deadline, sequence; core_timers.py). Entries are deleted lazily: each
carries the generation or rank it was pushed with. The waiting lists are
trees (core_wait.py).
"""

from __future__ import annotations

import math

from .core_jit import entry, kernel
from .core_layout import (
    AH_CAP, AH_LEN, AH_OFF, ANSWERED, BLOCKED, CONN, DETAIL_DISPLAY, DISP_AVAILABLE, DISP_BUSY,
    DISP_LOGGED_OUT, DISP_NOT_READY, DISP_RESERVED, DISP_WRAP_UP, DISPLAY, E_AGENT, E_CALL, E_DETAIL, E_KIND,
    E_QUEUE, E_SEQ, E_TIME, E_VALUE, EXT, IDLE_RANK, IDLE_SINCE, KEYKIND, LOCK_KIND, LOCK_TOKEN, LOCK_UNTIL,
    NO_ID, OFFERS, PRES, QUEUE, REASON, RINGING, S_NEV, S_RANK, S_SEQ, STATE, T_LOCK_END, TALK,
    ST_OFFERED, CH, SCAN, QM_SKILL_SUM, QM_FROM, SKP, XFER, QM_PAUSED,
)
from .core_timers import push_timer

# Presence and lock codes (codes.py) and event kinds (EventKind), as plain ints for numba.
P_LOGGED_OUT, P_NOT_READY, P_READY = 0, 1, 2
L_NONE, L_WRAP_UP, L_DELAY = 0, 1, 2
K_ARRIVED, K_QUEUED, K_OFFERED, K_WITHDRAWN, K_EXPIRED, K_REJECTED, K_CONNECTED = 1, 2, 3, 5, 6, 7, 8
K_CALLBACK_OFFERED, K_ESCALATED, K_OVERFLOWED, K_CALLBACK_REQUESTED, K_ENDED, K_AGENT_STATE = 4, 9, 10, 12, 13, 14
K_TRANSFERRED = 11
K_MEMBER_PAUSED, K_MEMBER_UNPAUSED, K_PRIORITY_CHANGED = 15, 16, 17
K_MEMBER_ADDED, K_MEMBER_REMOVED, K_MEMBER_UPDATED, K_QUEUE_UPDATED, K_MOVED, K_AGENT_ADDED = 18, 19, 20, 21, 22, 23
K_AGENT_REMOVED = 24
K_QUEUE_ADDED, K_QUEUE_REMOVED = 25, 26


@kernel
def serves(S, m, step):
    """Member row ``m`` may be offered its queue's calls at escalation step ``step``: statically eligible
    there (QOK: from_step, max penalty, the queue's skills) and not paused in that queue."""
    return S.QOK[m, step] != 0 and S.QM[m, QM_PAUSED] == 0


# ------------------------------------------------------------------ a call's own skills
@kernel
def call_ok(S, a, slot, q, step):
    """Agent ``a`` holds call ``slot``'s own skills (its CP profile) at the level drop of escalation ``step``
    of queue ``q`` (kernels.agent_has_skills over the call's own requirements); True when it has none."""
    p = S.C_i[slot, SKP]
    if p == 0:
        return True
    drop = S.DROP[q, step]
    for k in range(S.CP[p, 0]):
        need = S.CP[p, 2 + 2 * k] - drop
        if need < 1:
            need = 1
        if S.SK[a, S.CP[p, 1 + 2 * k]] < need:
            return False
    return True


@kernel
def agent_setting(S, a, col, q, qcol):
    """Agent ``a``'s own value in A_f column ``col`` (wrap-up, a delay), else queue ``q``'s in Q_f ``qcol``."""
    v = S.A_f[a, col]
    return S.Q_f[q, qcol] if math.isnan(v) else v


@kernel
def own_skill_sum(S, a, slot):
    """Agent ``a``'s levels summed over call ``slot``'s own skills (most-skilled adds them to the queue's)."""
    p = S.C_i[slot, SKP]
    s = 0
    for k in range(S.CP[p, 0]):
        s += S.SK[a, S.CP[p, 1 + 2 * k]]
    return s


# ------------------------------------------------------------------ events
@kernel
def emit(S, t, kind, slot, a, q, detail, value):
    n = S.S_i[S_NEV]
    S.S_i[S_SEQ] += 1
    S.EV_i[n, E_SEQ] = S.S_i[S_SEQ]
    S.EV_i[n, E_KIND] = kind
    S.EV_i[n, E_CALL] = S.C_i[slot, EXT] if slot >= 0 else NO_ID
    S.EV_i[n, E_AGENT] = a
    S.EV_i[n, E_QUEUE] = q
    S.EV_i[n, E_DETAIL] = detail
    S.EV_f[n, E_TIME] = t
    S.EV_f[n, E_VALUE] = value
    S.S_i[S_NEV] = n + 1


@entry
def event_rows(ev_i, ev_f, k, out):
    """Rows ``k``, ``k + 1``, … of the event buffers (``EV_i``, ``EV_f``) as ``EVENT_DTYPE`` rows into ``out`` (one
    per row wanted): one pass, about a quarter of what eight numpy field copies cost (docs/performance.md)."""
    for j in range(out.shape[0]):
        r = out[j]
        r["seq"] = ev_i[k + j, E_SEQ]
        r["kind"] = ev_i[k + j, E_KIND]
        r["call"] = ev_i[k + j, E_CALL]
        r["agent"] = ev_i[k + j, E_AGENT]
        r["queue"] = ev_i[k + j, E_QUEUE]
        r["detail"] = ev_i[k + j, E_DETAIL]
        r["time_s"] = ev_f[k + j, E_TIME]
        r["value"] = ev_f[k + j, E_VALUE]


# ------------------------------------------------------------------ available-member heaps: (key, rank)
@kernel
def _ah_less(S, i, j):
    ki, kj = S.AH_f[i, 0], S.AH_f[j, 0]
    return ki < kj or (ki == kj and S.AH_f[i, 1] < S.AH_f[j, 1])


@kernel
def _ah_swap(S, i, j):
    for c in range(2):
        S.AH_f[i, c], S.AH_f[j, c] = S.AH_f[j, c], S.AH_f[i, c]
        S.AH_i[i, c], S.AH_i[j, c] = S.AH_i[j, c], S.AH_i[i, c]


@kernel
def _ah_current(S, k):
    a = S.AH_i[k, 0]
    return S.A_f[a, IDLE_RANK] == S.AH_f[k, 1] and S.A_i[a, DISPLAY] == DISP_AVAILABLE


@kernel
def _ah_pop(S, q):
    """Move the root to the end of the heap (outside it); return its index."""
    off = S.Q_i[q, AH_OFF]
    n = S.Q_i[q, AH_LEN] - 1
    S.Q_i[q, AH_LEN] = n
    _ah_swap(S, off, off + n)
    sift_down(S, off, n, off)
    return off + n


@kernel
def ah_push(S, q, key, rank, a, m):
    off = S.Q_i[q, AH_OFF]
    n = S.Q_i[q, AH_LEN]
    if n == S.Q_i[q, AH_CAP]:  # full: keep only current entries (at most one per member), then re-heap
        w = off
        for k in range(off, off + n):
            if _ah_current(S, k):
                if k != w:
                    _ah_swap(S, w, k)
                w += 1
        n = w - off
        for k in range(off + n // 2, off - 1, -1):
            sift_down(S, off, n, k)
    i = off + n
    S.AH_f[i, 0] = key
    S.AH_f[i, 1] = rank
    S.AH_i[i, 0] = a
    S.AH_i[i, 1] = m
    S.Q_i[q, AH_LEN] = n + 1
    sift_up(S, off, i)


@kernel
def pick_available(S, q, slot):
    """First current entry of ``q``'s heap that can take call ``slot`` now (not the agent who transferred
    it; holding its own skills), or -1 (dispatch._pick_available)."""
    if S.Q_i[q, BLOCKED]:
        return -1
    excluded = S.C_i[slot, XFER]
    off = S.Q_i[q, AH_OFF]
    n0 = S.Q_i[q, AH_LEN]
    found = -1
    while S.Q_i[q, AH_LEN] > 0:
        if not _ah_current(S, off):
            _ah_pop(S, q)
        else:
            a = S.AH_i[off, 0]
            if (S.A_i[a, LOCK_KIND] == L_NONE and S.CA[a, S.C_i[slot, CH]] > 0 and a != excluded
                    and serves(S, S.QM_ptr[q] + S.AH_i[off, 1], 0) and call_ok(S, a, slot, q, 0)):
                found = a
                break
            _ah_pop(S, q)
    # Popped entries sit just past the heap: put back the current ones (set aside), drop the stale.
    i = off + S.Q_i[q, AH_LEN]
    end = off + n0
    while i < end:
        if _ah_current(S, i):
            S.Q_i[q, AH_LEN] += 1
            sift_up(S, off, i)
            i += 1
        else:
            end -= 1
            _ah_swap(S, i, end)
    return found


# ------------------------------------------------------------------ sifts of a queue's segment
@kernel
def sift_up(S, off, i):
    """Move entry ``i`` of the available-member heap starting at ``off`` up to its place."""
    while i > off:
        p = off + ((i - off - 1) >> 1)
        if not _ah_less(S, i, p):
            break
        _ah_swap(S, i, p)
        i = p


@kernel
def sift_down(S, off, n, i):
    """Move entry ``i`` of the ``n``-entry available-member heap starting at ``off`` down to its place."""
    while True:
        c = off + 2 * (i - off) + 1
        if c >= off + n:
            break
        if c + 1 < off + n and _ah_less(S, c + 1, c):
            c += 1
        if not _ah_less(S, c, i):
            break
        _ah_swap(S, i, c)
        i = c


# ------------------------------------------------------------------ agents
@kernel
def display(S, a):
    """engine._display: BUSY > RESERVED > LOGGED_OUT > WRAP_UP > NOT_READY(reason) > AVAILABLE."""
    if S.A_i[a, CONN] > 0:
        return DISP_BUSY
    if S.A_i[a, OFFERS] > 0:
        return DISP_RESERVED
    p = S.A_i[a, PRES]
    if p == P_LOGGED_OUT:
        return DISP_LOGGED_OUT
    if S.A_i[a, LOCK_KIND] == L_WRAP_UP:
        return DISP_WRAP_UP
    if p == P_NOT_READY:
        return DISP_NOT_READY + S.A_i[a, REASON]
    return DISP_AVAILABLE


@kernel
def staffs(S, k):
    """Agent-queue row ``k``: its member serves from step 0, so its login staffs the queue (``QM_FROM``)."""
    return S.QM[S.QM_ptr[S.AQ[k, 0]] + S.AQ[k, 1], QM_FROM] == 0


@kernel
def touch(S, a, t):
    """engine._touch: emit AGENT_STATE when the display state changed; index a newly AVAILABLE agent."""
    if S.LE.shape[0] > 0:
        leave_agent(S, a, t)  # its queues' leave rules for an empty queue (core_empty.py)
    d = display(S, a)
    if d == S.A_i[a, DISPLAY]:
        return
    S.A_i[a, DISPLAY] = d
    if d == DISP_AVAILABLE:
        S.A_f[a, IDLE_SINCE] = t
        S.S_i[S_RANK] += 1
        rank = float(S.S_i[S_RANK])
        S.A_f[a, IDLE_RANK] = rank
        for k in range(S.AQ_ptr[a], S.AQ_ptr[a + 1]):
            q = S.AQ[k, 0]
            m = S.AQ[k, 1]
            if S.Q_i[q, SCAN]:
                continue  # routed by a member scan: no heap
            kind = S.Q_i[q, KEYKIND]
            if kind == 0:
                key = 0.0
            elif kind == 1:
                key = float(S.A_i[a, ANSWERED])
            elif kind == 2:
                key = S.A_f[a, TALK]
            else:
                key = -S.QM_f[S.QM_ptr[q] + m, QM_SKILL_SUM]
            ah_push(S, q, key, rank, a, m)
    emit(S, t, K_AGENT_STATE, -1, a, -1, DETAIL_DISPLAY + d, 0.0)


@kernel
def unlock(S, a):
    S.A_i[a, LOCK_KIND] = L_NONE
    S.A_f[a, LOCK_UNTIL] = 0.0
    S.A_i[a, LOCK_TOKEN] += 1


@kernel
def lock(S, a, t, lock_s, kind):
    """Start a wrap-up/delay lock (extending a longer one); False if there is none to start."""
    if lock_s <= 0 or S.A_i[a, PRES] == P_LOGGED_OUT:
        return False
    until = max(t + lock_s, S.A_f[a, LOCK_UNTIL])
    S.A_f[a, LOCK_UNTIL] = until
    if kind > S.A_i[a, LOCK_KIND]:
        S.A_i[a, LOCK_KIND] = kind
    S.A_i[a, LOCK_TOKEN] += 1
    push_timer(S, until, T_LOCK_END, a, S.A_i[a, LOCK_TOKEN], 0)
    touch(S, a, t)
    return True


@kernel
def set_not_ready(S, a, reason):
    S.A_i[a, PRES] = P_NOT_READY
    S.A_i[a, REASON] = reason
    if S.A_i[a, LOCK_KIND] == L_DELAY:
        unlock(S, a)


@kernel
def set_state(S, slot, new):
    """dispatch._set_state: the one place a call's state changes (keeps each queue's ringing count)."""
    old = S.C_i[slot, STATE]
    if old == ST_OFFERED and new != ST_OFFERED:
        S.Q_i[S.C_i[slot, QUEUE], RINGING] -= 1
    elif new == ST_OFFERED and old != ST_OFFERED:
        S.Q_i[S.C_i[slot, QUEUE], RINGING] += 1
    S.C_i[slot, STATE] = new


from .core_empty import leave_agent  # noqa: E402 - at the end: core_empty uses this module's kernels
