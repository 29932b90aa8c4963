"""Compiled core: calls directed to one agent — a preferred or dedicated agent, an agent transfer (numba).

While its preference is active (``PREF_UNTIL`` after now) a call may be
offered to its preferred agent only, who needs the call's skills but not
membership of its queue (dispatch._eligible). A waiting call with an active
preference is in its queue's waiting list *and* in the agent's directed list
— a list in waiting order (core_wait.w_less) through ``DIR_NEXT`` /
``DIR_PREV``, usually a handful long — which the agent checks first when it
becomes free. Such calls are ``SPECIAL``: their queue counts them
(``NSPECIAL``), and while it has any, a freed member checks its queue's
waiting calls one by one instead of taking the first.
"""

from __future__ import annotations

from .core_jit import kernel
from .core_kernels import L_NONE, P_READY, call_ok, serves
from .core_layout import (
    CH, DIR_HEAD, DIR_NEXT, DIR_PREV, IN_DIR, LOCK_KIND, NSPECIAL, PRES, PREF, PREF_UNTIL, QM_CALLS, QM_LAST_CALL,
    QUEUE, SKP, SPECIAL, STEP, XFER,
)
from .core_wait import w_less


@kernel
def pref_active(S, slot, t):
    return S.C_i[slot, PREF] >= 0 and S.C_f[slot, PREF_UNTIL] > t


@kernel
def has_skills(S, a, q, step):
    """Agent ``a`` holds the skills of queue ``q`` at escalation ``step`` (kernels.agent_has_skills)."""
    drop = S.DROP[q, step]
    for k in range(S.QS_ptr[q], S.QS_ptr[q + 1]):
        need = S.QS[k, 1] - drop
        if need < 1:
            need = 1
        if S.SK[a, S.QS[k, 0]] < need:
            return False
    return True


@kernel
def can_take(S, a, ch):
    """Agent ``a`` is ready, not locked, and has room on channel ``ch``."""
    return S.A_i[a, PRES] == P_READY and S.A_i[a, LOCK_KIND] == L_NONE and S.LD[a, ch] < S.CA[a, ch]


@kernel
def eligible(S, a, slot, m, t):
    """dispatch._eligible: agent ``a`` (member row ``m`` of the call's queue, -1 if not a member) may be
    offered call ``slot`` now."""
    if not can_take(S, a, S.C_i[slot, CH]) or a == S.C_i[slot, XFER]:
        return False
    q, step = S.C_i[slot, QUEUE], S.C_i[slot, STEP]
    if pref_active(S, slot, t):
        return a == S.C_i[slot, PREF] and has_skills(S, a, q, step) and call_ok(S, a, slot, q, step)
    return m >= 0 and serves(S, m, step) and call_ok(S, a, slot, q, step)


@kernel
def mark_waiting(S, slot, t):
    """The call has just entered its queue's waiting list: also its agent's directed list if its
    preference is active (dispatch._wait); a call some agent may not take (its transferring agent, its own
    skills, a channel other than voice) is SPECIAL."""
    if not pref_active(S, slot, t):
        if S.C_i[slot, XFER] >= 0 or S.C_i[slot, SKP] != 0:  # SKP: own skills or channel (profile 0: neither)
            S.C_i[slot, SPECIAL] = 1
            S.Q_i[S.C_i[slot, QUEUE], NSPECIAL] += 1
        return
    a = S.C_i[slot, PREF]
    prev = -1
    x = S.A_i[a, DIR_HEAD]
    while x >= 0 and not w_less(S, slot, x):
        prev = x
        x = S.C_i[x, DIR_NEXT]
    S.C_i[slot, DIR_PREV] = prev
    S.C_i[slot, DIR_NEXT] = x
    if prev < 0:
        S.A_i[a, DIR_HEAD] = slot
    else:
        S.C_i[prev, DIR_NEXT] = slot
    if x >= 0:
        S.C_i[x, DIR_PREV] = slot
    S.C_i[slot, IN_DIR] = 1
    S.C_i[slot, SPECIAL] = 1
    S.Q_i[S.C_i[slot, QUEUE], NSPECIAL] += 1


@kernel
def unmark_waiting(S, slot):
    """The call leaves its waiting list: out of its directed list too (dispatch._unwait)."""
    if S.C_i[slot, IN_DIR]:
        prev, nxt = S.C_i[slot, DIR_PREV], S.C_i[slot, DIR_NEXT]
        if prev < 0:
            S.A_i[S.C_i[slot, PREF], DIR_HEAD] = nxt
        else:
            S.C_i[prev, DIR_NEXT] = nxt
        if nxt >= 0:
            S.C_i[nxt, DIR_PREV] = prev
        S.C_i[slot, IN_DIR] = 0
    if S.C_i[slot, SPECIAL]:
        S.C_i[slot, SPECIAL] = 0
        S.Q_i[S.C_i[slot, QUEUE], NSPECIAL] -= 1


@kernel
def first_directed(S, a, t):
    """The first call of agent ``a``'s directed list it may take now, or -1. A call whose preference ends at
    ``t`` (its fallback timer not fired yet) is still in the list; ``a`` may take it as a member of its queue
    (dispatch._eligible)."""
    x = S.A_i[a, DIR_HEAD]
    while x >= 0:
        m = -1 if pref_active(S, x, t) else member_row(S, S.C_i[x, QUEUE], a)
        if eligible(S, a, x, m, t):
            return x
        x = S.C_i[x, DIR_NEXT]
    return -1


@kernel
def member_row(S, q, a):
    """Agent ``a``'s member row in queue ``q``, or -1 (O(the agent's queues))."""
    for k in range(S.AQ_ptr[a], S.AQ_ptr[a + 1]):
        if S.AQ[k, 0] == q:
            return S.QM_ptr[q] + S.AQ[k, 1]
    return -1


@kernel
def member_call_done(S, q, a, t):
    """Agent ``a`` ended (released or transferred) a call of queue ``q`` at ``t``: its member row there, if
    it is still a member, counts the call and its time (Asterisk's fewestcalls and leastrecent)."""
    m = member_row(S, q, a)
    if m >= 0:
        S.QM[m, QM_CALLS] += 1
        S.QM_f[m, QM_LAST_CALL] = t
