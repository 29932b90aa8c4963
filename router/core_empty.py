"""Compiled core: the join and leave rules for an empty queue — who is usable, and the checks (numba).

Step for step the reference engine's empty_ref.py (its docstring has the
rules and the cost); the timers' handlers, which need the routing kernels,
are in core_leave.py. ``S.LE`` holds the rules (empty.py: one row per queue,
or none while no queue has a rule, so other routers pay one shape test).
"""

from __future__ import annotations

from .core_jit import kernel
from .core_kernels import L_WRAP_UP, P_LOGGED_OUT, P_NOT_READY
from .core_timers import push_timer
from .core_layout import (
    CB, CONN, LOCK_KIND, NSTEPS, NWAIT, OFFERS, PREF, PRES, QGEN, QM_AGENT, QM_PAUSED, QOK_ON, STEP, T_LEAVE_CALL,
    T_LEAVE_WALK,
)
from .empty import INUSE, LE_CUR, LE_EMPTY, LE_JOIN, LE_LEAVE, LE_PENDING, LOGGED_OUT, PAUSED, PENALTY, RINGING, WRAPUP


@kernel
def usable(S, m, mask):
    """Member row ``m`` is usable: none of ``mask``'s conditions but ``penalty`` holds for it."""
    a = S.QM[m, QM_AGENT]
    p = S.A_i[a, PRES]
    if (mask & LOGGED_OUT) != 0 and p == P_LOGGED_OUT:
        return False
    if (mask & PAUSED) != 0 and (p == P_NOT_READY or S.QM[m, QM_PAUSED] != 0):
        return False
    if (mask & INUSE) != 0 and S.A_i[a, CONN] > 0:
        return False
    if (mask & RINGING) != 0 and S.A_i[a, OFFERS] > 0:
        return False
    return not ((mask & WRAPUP) != 0 and S.A_i[a, LOCK_KIND] == L_WRAP_UP)


@kernel
def empty_for(S, q, step, mask):
    """No member of queue ``q`` is usable for a call at escalation ``step`` under ``mask`` (QOK: whether the
    member may serve that step, for ``penalty``)."""
    for m in range(S.QM_ptr[q], S.QM_ptr[q + 1]):
        if usable(S, m, mask) and ((mask & PENALTY) == 0 or (S.QOK[m, step] & QOK_ON) != 0):
            return False
    return True


@kernel
def empty_steps(S, q, mask):
    """Bit k set: ``q`` is empty under ``mask`` for a call at step k (only step 0 without ``penalty``)."""
    last = S.Q_i[q, NSTEPS] if (mask & PENALTY) != 0 else 0
    bits = 0
    for k in range(last + 1):
        if empty_for(S, q, k, mask):
            bits |= 1 << k
    return bits


@kernel
def exempt(S, slot):
    """Callbacks and calls with a preferred agent: no empty-queue rule applies to them."""
    return S.C_i[slot, PREF] >= 0 or S.C_i[slot, CB] != 0


@kernel
def joins_empty(S, slot, q):
    """The call may not enter ``q``: its join rule finds it empty at step 0 (a call with a preferred agent
    may)."""
    if S.LE.shape[0] == 0 or S.LE[q, LE_JOIN] == 0 or S.C_i[slot, PREF] >= 0:
        return False
    return empty_for(S, q, 0, S.LE[q, LE_JOIN])


@kernel
def leave_check_call(S, slot, q, t):
    """A call starts waiting in ``q`` (or waits on at a new step): if ``q`` is empty for it, it leaves (its
    T_LEAVE_CALL, due now)."""
    if S.LE.shape[0] == 0:
        return
    mask = S.LE[q, LE_LEAVE]
    if mask == 0 or exempt(S, slot):
        return
    if empty_for(S, q, S.C_i[slot, STEP] if (mask & PENALTY) != 0 else 0, mask):
        push_timer(S, t, T_LEAVE_CALL, slot, S.C_i[slot, QGEN], 0)


@kernel
def leave_look(S, q, t, level):
    """Recompute ``q``'s empty steps; walk its waiting calls if a step became empty (``level``: if any is)."""
    e = empty_steps(S, q, S.LE[q, LE_LEAVE])
    new = e if level else e & ~S.LE[q, LE_EMPTY]
    S.LE[q, LE_EMPTY] = e
    if new != 0 and S.Q_i[q, NWAIT] > 0:
        S.LE[q, LE_CUR] = -1  # from the first waiting call
        if S.LE[q, LE_PENDING] == 0:
            S.LE[q, LE_PENDING] = 1
            push_timer(S, t, T_LEAVE_WALK, q, 0, 0)


@kernel
def leave_agent(S, a, t):
    """Agent ``a`` may have changed: look again at each of its queues with a leave rule (core_kernels.touch,
    a pause or unpause)."""
    if S.LE.shape[0] == 0:
        return
    for k in range(S.AQ_ptr[a], S.AQ_ptr[a + 1]):
        q = S.AQ[k, 0]
        if S.LE[q, LE_LEAVE] != 0:
            leave_look(S, q, t, False)


@kernel
def leave_settings(S, q, t):
    """Queue ``q``'s members or settings changed: its waiting calls leave if it is empty for them."""
    if S.LE.shape[0] > 0 and S.LE[q, LE_LEAVE] != 0:
        leave_look(S, q, t, True)
