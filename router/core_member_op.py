"""Compiled core: run-time changes — a queue membership or settings change once its tables are in place
(core_members.swap_queue), a waiting call moved to another queue or given a new priority, a member paused or
unpaused in one queue, an agent added or removed.

The facade (fast_members.py) checks the change, advances the core to its
time, swaps the queue's member tables, then runs one ``OP_MEMBER`` row
(``arg`` ADD / REMOVE / UPDATE, ``priority`` 1 when the agent staffed the
queue before). This kernel emits the event, counts the agent in or out of
the queue's logged-in members, starts the no-agents limit of the calls
waiting in a queue it leaves empty, and offers a free agent the waiting
calls it may now take — the order of the reference engine (members.py).
"""

from __future__ import annotations

import math

from .core_jit import cold_kernel, kernel
from .core_kernels import (
    K_AGENT_ADDED, K_AGENT_REMOVED, K_MEMBER_ADDED, K_MEMBER_PAUSED, K_MEMBER_REMOVED, K_MEMBER_UNPAUSED,
    K_MEMBER_UPDATED, K_MOVED, K_PRIORITY_CHANGED, K_QUEUE_ADDED, K_QUEUE_REMOVED, K_QUEUE_UPDATED, P_LOGGED_OUT, emit,
)
from .core_timers import push_timer
from .core_layout import (
    A_GONE, CB, DETAIL_QUEUE, DETAIL_REASON, DIR_HEAD, D_MOVED, D_NONE, EMPTY_EPOCH, ERR_CALL_GONE, ERR_MEMBERSHIP,
    ERR_SAME_QUEUE, HOPS, LOGGED_IN, NO_AGENTS_S, OK, PREF, PRES, PRIO, QGEN, Q_GONE, QUEUE_ADDED_ARG,
    QUEUE_REMOVED_ARG, QM_FROM, QM_PAUSED, QM_PEN, QOK_ON, QOK_PAUSED, QUEUE, STATE, ST_WAITING, T_NO_AGENTS, W_HEAD,
)
from .core_ids import h_find
from .core_empty import leave_agent, leave_settings
from .core_ops import agent_freed, enter_queue, leave_queue, pref_fallback, unwait, wait
from .core_pref import member_row
from .core_wait import w_next

M_ADD, M_REMOVE, M_UPDATE = 0, 1, 2  # membership.ADD, REMOVE, UPDATE


@kernel
def member_changed(S, t, a, q, kind, before):
    """Agent ``a``'s membership of queue ``q`` changed (``kind``); ``before``: it staffed the queue before."""
    m = member_row(S, q, a)
    if (m >= 0) != (kind != M_REMOVE):
        return ERR_MEMBERSHIP  # the tables do not show the change: not a row the facade built
    if kind == M_REMOVE:
        emit(S, t, K_MEMBER_REMOVED, -1, a, q, D_NONE, 0.0)
    else:
        emit(S, t, K_MEMBER_ADDED if kind == M_ADD else K_MEMBER_UPDATED, -1, a, q, D_NONE, float(S.QM[m, QM_PEN]))
    now = 1 if m >= 0 and S.QM[m, QM_FROM] == 0 else 0
    if S.A_i[a, PRES] != P_LOGGED_OUT and now != before:
        S.Q_i[q, LOGGED_IN] += now - before
        if now > before and S.Q_i[q, LOGGED_IN] == 1:
            S.Q_i[q, EMPTY_EPOCH] += 1  # no-agents timers set while it was empty are void
        d = S.Q_f[q, NO_AGENTS_S]
        if now < before and S.Q_i[q, LOGGED_IN] == 0 and d < math.inf:  # the facade made room for these timers
            x = S.Q_i[q, W_HEAD]
            while x >= 0:
                if not S.C_i[x, CB] and S.C_i[x, PREF] < 0:  # callbacks, directed calls: no limit
                    push_timer(S, t + d, T_NO_AGENTS, x, S.C_i[x, QGEN], S.Q_i[q, EMPTY_EPOCH])
                x = w_next(S, x)
    if kind != M_REMOVE:
        agent_freed(S, a, t)
    leave_settings(S, q, t)  # core_empty.py
    return OK


@kernel
def queue_changed(S, t, a, q, kind):
    """Queue ``q``'s settings changed: with ``a`` -1 the event, else member ``a`` is offered what it may
    take now (one row per member, so each has the room of one step). ``kind`` 1: the queue was removed (its
    calls moved and its members gone first); 2: it was added (its members' rows follow)."""
    if a < 0 and kind == QUEUE_REMOVED_ARG:
        emit(S, t, K_QUEUE_REMOVED, -1, -1, q, D_NONE, 0.0)
        S.Q_i[q, Q_GONE] = 1
    elif a < 0 and kind == QUEUE_ADDED_ARG:
        emit(S, t, K_QUEUE_ADDED, -1, -1, q, D_NONE, 0.0)
    elif a < 0:
        emit(S, t, K_QUEUE_UPDATED, -1, -1, q, D_NONE, 0.0)
        leave_settings(S, q, t)  # core_empty.py
    else:
        agent_freed(S, a, t)
    return OK


@kernel
def call_moved(S, t, call, q):
    """A waiting or ringing call moves to queue ``q`` (call_move): its offers are withdrawn, and it enters
    ``q`` keeping its arrival time (its place), priority and own limits, as an overflow does."""
    slot = h_find(S, call)
    if slot < 0:
        return ERR_CALL_GONE  # a timer due before it ended the call (found on a trial copy)
    old = S.C_i[slot, QUEUE]
    if old == q:
        return ERR_SAME_QUEUE  # a timer due before it moved the call there (found on a trial copy)
    emit(S, t, K_MOVED, slot, -1, old, DETAIL_QUEUE + q, 0.0)
    leave_queue(S, slot, t, D_MOVED)
    S.C_i[slot, HOPS] = 0  # the overflow loop guard counts from here
    enter_queue(S, slot, q, t, D_MOVED)
    return OK


@kernel
def call_priority(S, t, call, prio):
    """A waiting or ringing call's new priority; a waiting one moves to its new place among equals."""
    slot = h_find(S, call)
    if slot < 0:
        return ERR_CALL_GONE  # a timer due before it ended the call (found on a trial copy)
    q = S.C_i[slot, QUEUE]
    emit(S, t, K_PRIORITY_CHANGED, slot, -1, q, D_NONE, float(prio))
    if S.C_i[slot, STATE] == ST_WAITING:
        unwait(S, slot)
        S.C_i[slot, PRIO] = prio
        wait(S, slot, q, t)
    else:
        S.C_i[slot, PRIO] = prio
    return OK


@cold_kernel  # rare (a supervisor's action): kept out of the batch loop's own code
def set_pause(S, t, a, q, reason, on):
    """Agent ``a`` paused (``on``) or unpaused in queue ``q`` (member and state checked: check_state). It
    gets no offer of that queue's calls while paused; unpaused, it takes its waiting calls if it can."""
    m = member_row(S, q, a)
    if on:
        S.QM[m, QM_PAUSED] = 1 + int(reason)
        for s in range(S.QOK.shape[1]):
            S.QOK[m, s] |= QOK_PAUSED
        emit(S, t, K_MEMBER_PAUSED, -1, a, q, DETAIL_REASON + int(reason), 0.0)
        leave_agent(S, a, t)
        return OK
    S.QM[m, QM_PAUSED] = 0
    for s in range(S.QOK.shape[1]):
        S.QOK[m, s] &= QOK_ON
    emit(S, t, K_MEMBER_UNPAUSED, -1, a, q, D_NONE, 0.0)
    leave_agent(S, a, t)
    agent_freed(S, a, t)
    return OK


@kernel
def agent_op(S, t, a, kind):
    """Agent ``a`` was added (kind 0), removed (1: its row is marked gone), or, after a removal, the first
    call still waiting for it as its preferred agent falls back to its queue (2: one row per call)."""
    if kind == 0:
        emit(S, t, K_AGENT_ADDED, -1, a, -1, D_NONE, 0.0)
    elif kind == 1:
        emit(S, t, K_AGENT_REMOVED, -1, a, -1, D_NONE, 0.0)
        S.A_i[a, A_GONE] = 1
    elif S.A_i[a, DIR_HEAD] >= 0:
        pref_fallback(S, S.A_i[a, DIR_HEAD], t)
    return OK
