"""Compiled core, part 1: events and agent bookkeeping (numba).

Each function mirrors the method of the Python engine with the same name
(engine.py / dispatch.py), step for step, so both produce the same events;
tests/router/test_core_parity.py replays random operation streams through
both and compares the streams event by event. ``S`` is a :class:`CoreState`.

Each queue's available members are a list or a heap (core_avail.py); the
timers a heap (deadline, sequence; core_timers.py). Entries are deleted
lazily: each carries the generation or rank it was added with. The waiting
lists are trees (core_wait.py).
"""

from __future__ import annotations

import math

from .core_jit import entry, kernel
from .core_layout import (
    ANSWERED, CONN, DETAIL_DISPLAY, DISP_AVAILABLE, DISP_BUSY,
    DISP_LOGGED_OUT, DISP_NOT_READY, DISP_RESERVED, DISP_WRAP_UP, DISPLAY, E_AGENT, E_CALL, E_DETAIL, E_KIND,
    E_QUEUE, E_SEQ, E_TIME, E_VALUE, EXT, IDLE_RANK, IDLE_SINCE, KEYKIND, LOCK_KIND, LOCK_TOKEN, LOCK_UNTIL,
    NO_ID, OFFERS, OP_AGENT, OP_MEMBER, PRES, QUEUE, REASON, RINGING, S_NEV, S_RANK, S_SEQ, STATE, T_LOCK_END, TALK,
    ST_OFFERED, SCAN, QM_SKILL_SUM, QM_FROM, SKP, QOK_ON,
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
    return S.QOK[m, step] == QOK_ON  # eligible and not paused, in one byte (see core_layout.QOK_PAUSED)


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


@entry
def batch_flags(ops):
    """What ``Router.submit`` refuses in a batch (fast_errors.check_batch): 1 if any row is ``OP_MEMBER`` or
    ``OP_AGENT``, plus 2 if any call id is below ``NO_ID``. One pass over the rows: the two numpy reductions over
    their strided columns cost ~5 µs for a batch of 768 rows, several times this."""
    flags = 0
    for j in range(ops.shape[0]):
        r = ops[j]
        o = r["op"]
        if o == OP_MEMBER or o == OP_AGENT:
            flags |= 1
        if r["call"] < NO_ID:
            flags |= 2
    return flags


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
    S.AV[a] = math.nan
    if d == DISP_AVAILABLE:
        S.A_f[a, IDLE_SINCE] = t
        S.S_i[S_RANK] += 1
        rank = float(S.S_i[S_RANK])
        S.A_f[a, IDLE_RANK] = rank
        S.AV[a] = rank
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
from .core_avail import ah_push  # noqa: E402 - at the end: core_avail uses this module's kernels
