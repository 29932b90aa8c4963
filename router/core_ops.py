"""Compiled core, part 2: routing, timers and the operations, and the batch loop (numba).

Functions mirror the Python engine's methods of the same name (dispatch.py,
calls.py, agents.py, engine.py); the rules are docs/routing.md's. One call of
:func:`run_batch` applies a whole array of operations (``OP_DTYPE``) and
writes their events into the state's event buffer.

Room: a step (one timer fired, or one operation's own work) needs at most
``S_EV_ROOM / 2`` event rows and ``S_TM_ROOM / 2`` timer rows, one free call
slot, a call-id table at most half full and ring-order room (core_ring.py). :func:`run_batch` stops *before*
a step when room is short (it returns the index of the operation to run
next, marking it resumed if its implicit advance had started); the facade
grows the arrays or drains the events and calls it again. So no step ever
writes past an array, and a batch's result does not depend on where it
paused.
"""

from __future__ import annotations

import math

from .core_jit import kernel
from .core_avail import pick_available
from .core_kernels import (
    K_ARRIVED, K_ENDED, K_ESCALATED, K_EXPIRED, K_OVERFLOWED, K_QUEUED, K_WITHDRAWN,
    L_DELAY, L_NONE, L_WRAP_UP, P_READY, agent_setting, emit, lock, serves, set_not_ready,
    set_state, touch, unlock,
)
from .core_timers import drop_first, due_at, first_timer, head_of, live, push_timer
from .core_layout import (
    A_MAX_NA, A_NA_DELAY, A_WRAP, AGENT, AHT, ARRIVAL, CAP, CB, CONN, CONNECTED_S, CURSOR, D_COMPLETED, D_ESCALATION, D_EXIT,
    D_EXIT_ESCALATION, D_EXIT_NO_AGENTS, D_EXIT_TIMEOUT, D_NONE, D_OVERFLOW, D_REJ_FULL, D_REJ_NO_AGENTS,
    DETAIL_QUEUE, DETAIL_STEP, EMPTY_EPOCH, ENTERED, EXT, HOPS, LAST_END, LOAD, LOCK_KIND, LOGGED_IN, MAX_LEN,
    MAX_NA, MAX_WAIT, NA_DELAY, NA_RUN, NO_AGENTS_S, NOFF, NSTEPS, NWAIT, OF_FIRST, O_AGENT, CH, ORDER, OVERFLOW, PRES,
    PRIO, QGEN, QM_AGENT, QM_POS, QUEUE, REASON_NO_ANSWER, RINGING, RO_LEN, RR_CURSOR, S_ENDED,
    S_EV_ROOM, S_GEN, S_HUSED, S_NEV, S_NFREE, S_NOW, S_NT,
    S_TM_ROOM, S_OF_NFREE, S_OF_ROOM, SCAN, ST_ENDED, ST_OFFERED, ST_WAITING, STATE, STEP, STRAT, T_ESCALATE, T_LOCK_END, T_MAX_WAIT,
    T_CALL_LIMIT, T_NO_AGENTS, T_RING, T_RING_STEP, SKP, NSPECIAL, PREF, PREF_UNTIL, T_PREF_FALLBACK, TALK, W_HEAD, WEIGHT, WRAP,
)
from .codes import STRAT_MOST_SKILLED, STRAT_RING_ALL, STRAT_RING_PROGRESSIVELY, STRAT_ROUND_ROBIN, STRAT_TOP_DOWN
from .core_ids import h_del
from .core_ring import drop_offer, offer, ring_join, ring_next, ring_route, ro_short
from .core_pref import eligible, first_directed, mark_waiting, member_call_done, member_row, pref_active, unmark_waiting
from .core_scan import pick_scan
from .core_wait import w_insert, w_next, w_remove
from .core_empty import joins_empty, leave_check_call
from .core_layout import T_LEAVE_CALL, T_LEAVE_WALK

PAUSED = -2


# ------------------------------------------------------------------ calls in queues
@kernel
def end_call(S, slot, t, disp):
    set_state(S, slot, ST_ENDED)
    emit(S, t, K_ENDED, slot, S.C_i[slot, AGENT], S.C_i[slot, QUEUE], disp, t - S.C_f[slot, ARRIVAL])
    h_del(S, S.C_i[slot, EXT])
    n = S.S_i[S_NFREE]
    S.FREE[n] = slot  # the slot's data stay readable until the next arrival takes it
    S.S_i[S_NFREE] = n + 1
    S.S_i[S_ENDED] += 1


@kernel
def unwait(S, slot):
    unmark_waiting(S, slot)
    w_remove(S, S.C_i[slot, QUEUE], slot)


@kernel
def wait(S, slot, q, t):
    pos = w_insert(S, q, slot)
    mark_waiting(S, slot, t)
    set_state(S, slot, ST_WAITING)
    emit(S, t, K_QUEUED, slot, -1, q, D_NONE, float(pos))
    leave_check_call(S, slot, q, t)  # a leave rule finding the queue empty for it (core_empty.py)


@kernel
def try_route(S, slot, t, waiting):
    """Offer the call to the agent its queue's strategy picks; False if there is none.
    ``waiting``: the call is in its waiting list (it leaves it when offered)."""
    q = S.C_i[slot, QUEUE]
    if pref_active(S, slot, t):  # only the preferred agent, while the preference lasts
        a = S.C_i[slot, PREF]
        if not eligible(S, a, slot, -1, t):
            return False
        if waiting:
            unwait(S, slot)
        offer(S, slot, a, t)
        return True
    strat = S.Q_i[q, STRAT]
    if strat == STRAT_RING_ALL or strat == STRAT_RING_PROGRESSIVELY:
        return ring_route(S, slot, q, t, waiting, strat == STRAT_RING_ALL)
    if S.Q_i[q, SCAN] or (strat == STRAT_MOST_SKILLED and S.C_i[slot, SKP] != 0):  # own skills change the key
        m = pick_scan(S, q, slot)
        if m < 0:
            return False
        if S.Q_i[q, STRAT] == STRAT_ROUND_ROBIN:
            S.Q_i[q, RR_CURSOR] = S.QM[m, QM_POS]
        elif S.Q_i[q, STRAT] == STRAT_TOP_DOWN:
            S.C_i[slot, CURSOR] = S.QM[m, QM_POS]
        a = S.QM[m, QM_AGENT]
    else:
        a = pick_available(S, q, slot)
        if a < 0:
            return False
    if waiting:
        unwait(S, slot)
    offer(S, slot, a, t)
    return True


@kernel
def overflow_hop(S, slot, q, t):
    """Move a call on to ``q``'s overflow queue if it has one and the loop guard allows:
    the target (``CALL_OVERFLOWED`` emitted), or -1."""
    target = S.Q_i[q, OVERFLOW]
    if target >= 0 and S.C_i[slot, HOPS] < S.Q_i.shape[0]:
        S.C_i[slot, HOPS] += 1
        emit(S, t, K_OVERFLOWED, slot, -1, q, DETAIL_QUEUE + target, 0.0)
        return target
    return -1


@kernel
def enter_queue(S, slot, q, t, how):
    """Put the call in ``q`` and route it; a full queue overflows (a loop, not recursion) or rejects."""
    while True:
        set_state(S, slot, ST_WAITING)
        S.C_i[slot, QUEUE] = q
        S.S_i[S_GEN] += 1
        S.C_i[slot, QGEN] = S.S_i[S_GEN]
        S.C_f[slot, ENTERED] = t
        S.C_i[slot, CURSOR] = -1
        S.C_i[slot, STEP] = 0
        S.C_i[slot, RO_LEN] = 0
        emit(S, t, K_ARRIVED, slot, -1, q, how, 0.0)
        ml = S.Q_i[q, MAX_LEN]
        refuse = -1
        if ml > 0 and S.Q_i[q, NWAIT] + S.Q_i[q, RINGING] >= ml:  # callers being rung count too
            refuse = D_REJ_FULL
        elif joins_empty(S, slot, q):  # join_empty: refused as with no agents (core_empty.py)
            refuse = D_REJ_NO_AGENTS
        elif S.Q_i[q, LOGGED_IN] == 0 and S.C_i[slot, PREF] < 0 and S.Q_f[q, NO_AGENTS_S] == 0:  # nobody serves it
            refuse = D_REJ_NO_AGENTS
        if refuse >= 0:
            target = overflow_hop(S, slot, q, t)
            if target >= 0:
                q = target
                how = D_OVERFLOW
                continue
            end_call(S, slot, t, refuse)
            return
        no_agents_limit(S, slot, q, t)
        if S.Q_f[q, MAX_WAIT] < math.inf:
            push_timer(S, t + S.Q_f[q, MAX_WAIT], T_MAX_WAIT, slot, S.C_i[slot, QGEN], 0)
        for k in range(S.Q_i[q, NSTEPS]):
            push_timer(S, t + S.ESC_f[q, k], T_ESCALATE, slot, S.C_i[slot, QGEN], k + 1)
        until = S.C_f[slot, PREF_UNTIL]
        if S.C_i[slot, PREF] >= 0 and until > t and until < math.inf:
            push_timer(S, until, T_PREF_FALLBACK, slot, S.C_i[slot, QGEN], 0)
        if not try_route(S, slot, t, False):
            wait(S, slot, q, t)
        return


@kernel
def no_agents_limit(S, slot, q, t):
    """Start the call's no-agents limit if nobody logged in serves queue ``q`` (a directed call has none):
    on entry, and when it comes back to wait (dispatch._no_agents_limit)."""
    if S.Q_i[q, LOGGED_IN] == 0 and S.C_i[slot, PREF] < 0 and S.Q_f[q, NO_AGENTS_S] < math.inf:
        push_timer(S, t + S.Q_f[q, NO_AGENTS_S], T_NO_AGENTS, slot, S.C_i[slot, QGEN], S.Q_i[q, EMPTY_EPOCH])


@kernel
def overflow_or_end(S, slot, q, target, t, disp):
    if target >= 0 and S.C_i[slot, HOPS] < S.Q_i.shape[0]:
        S.C_i[slot, HOPS] += 1
        emit(S, t, K_OVERFLOWED, slot, -1, q, DETAIL_QUEUE + target, 0.0)
        enter_queue(S, slot, target, t, D_OVERFLOW)
    else:
        end_call(S, slot, t, disp)


@kernel
def back_to_queue(S, slot, t):
    if S.C_i[slot, NOFF] > 0 or S.C_i[slot, STATE] != ST_OFFERED:
        return
    if S.C_i[slot, RO_LEN] > 0:  # ring-progressively: go on down the list first
        ring_next(S, slot, t)
        if S.C_i[slot, NOFF] > 0:
            return
    if not try_route(S, slot, t, False):
        q = S.C_i[slot, QUEUE]
        no_agents_limit(S, slot, q, t)  # back in a queue nobody serves: its limit starts now
        wait(S, slot, q, t)


# ------------------------------------------------------------------ agents
@kernel
def agent_freed(S, a, t):
    """The best waiting call the agent may take: first the calls directed to it, then the least
    (-queue weight, -priority, arrival, order) of its queues' (dispatch._agent_freed)."""
    while S.A_i[a, PRES] == P_READY and S.A_i[a, LOCK_KIND] == L_NONE:
        if S.A_i[a, LOAD] >= S.A_i[a, CAP]:
            return
        best = first_directed(S, a, t)
        bk = -1
        if best < 0:
            joined = ring_join(S, a, t)  # ring-all: a ring begun at this instant first
            if joined >= 0:
                offer(S, joined, a, t)
                continue
            best, bk = _best_of_queues(S, a, t)
        if best < 0:
            return
        unwait(S, best)
        q = S.C_i[best, QUEUE]
        if S.Q_i[q, STRAT] == STRAT_ROUND_ROBIN:  # the freed agent takes the queue's turn
            m = S.QM_ptr[q] + S.AQ[bk, 1] if bk >= 0 else member_row(S, q, a)
            if m >= 0:
                S.Q_i[q, RR_CURSOR] = S.QM[m, QM_POS]
        offer(S, best, a, t)


@kernel
def _best_of_queues(S, a, t):
    """(call, agent-queue row) of the best waiting call of agent ``a``'s queues, or (-1, -1)."""
    best = bk = -1
    bw = bp = ba = bo = 0.0
    for k in range(S.AQ_ptr[a], S.AQ_ptr[a + 1]):
        q = S.AQ[k, 0]
        s = S.Q_i[q, W_HEAD]
        if s < 0:
            continue  # no call waits there: the member's own rows (cold on a large floor) are not read
        w = -S.Q_f[q, WEIGHT]
        if S.Q_i[q, NSTEPS] == 0 and S.Q_i[q, NSPECIAL] == 0:
            if not serves(S, S.QM_ptr[q] + S.AQ[k, 1], 0) or S.LD[a, 0] >= S.CA[a, 0]:
                continue  # every call of the queue asks the same of its members (voice, no own skills)
        else:  # calls differ (escalation step, preferred agent): the first, in order, it may take
            m = S.QM_ptr[q] + S.AQ[k, 1]
            while s >= 0 and not eligible(S, a, s, m, t):
                if best >= 0 and not ((w, float(-S.C_i[s, PRIO]), S.C_f[s, ARRIVAL], float(S.C_i[s, ORDER]))
                                      < (bw, bp, ba, bo)):
                    s = -1  # nothing later in this queue can come before the best found
                else:
                    s = w_next(S, s)
        if s < 0:
            continue
        p = float(-S.C_i[s, PRIO])
        ar = S.C_f[s, ARRIVAL]
        o = float(S.C_i[s, ORDER])
        if best < 0 or (w, p, ar, o) < (bw, bp, ba, bo):
            best, bk, bw, bp, ba, bo = s, k, w, p, ar, o
    return best, bk


@kernel
def free(S, a, t):
    touch(S, a, t)
    agent_freed(S, a, t)


@kernel
def lock_or_free(S, a, t, lock_s, kind):
    if not lock(S, a, t, lock_s, kind):
        free(S, a, t)


@kernel
def release(S, slot, t, wrap_s):
    q = S.C_i[slot, QUEUE]
    a = S.C_i[slot, AGENT]
    w = agent_setting(S, a, A_WRAP, q, WRAP) if math.isnan(wrap_s) else wrap_s
    S.Q_f[q, AHT] += 0.1 * ((t - S.C_f[slot, CONNECTED_S] + w) - S.Q_f[q, AHT])
    end_call(S, slot, t, D_COMPLETED)
    S.A_i[a, LOAD] -= 1
    S.LD[a, S.C_i[slot, CH]] -= 1
    S.A_i[a, CONN] -= 1
    S.A_f[a, TALK] += t - S.C_f[slot, CONNECTED_S]
    S.A_f[a, LAST_END] = t
    member_call_done(S, q, a, t)
    S.C_i[slot, AGENT] = -1
    lock_or_free(S, a, t, w, L_WRAP_UP)


@kernel
def pref_fallback(S, slot, t):
    """The call's preference for one agent ends at ``t``: a waiting call goes to its queue's members."""
    if S.C_i[slot, PREF] >= 0 and S.C_i[slot, STATE] == ST_WAITING:
        unwait(S, slot)
        S.C_f[slot, PREF_UNTIL] = t
        wait(S, slot, S.C_i[slot, QUEUE], t)
        try_route(S, slot, t, True)
    elif S.C_i[slot, PREF] >= 0:
        S.C_f[slot, PREF_UNTIL] = t


# ------------------------------------------------------------------ timers
@kernel
def fire(S, t, kind, target, arg):
    if kind == T_LOCK_END:
        unlock(S, target)
        free(S, target, t)
        return
    if kind == T_LEAVE_WALK:
        leave_walk(S, target, t)
        return
    slot = target
    q = S.C_i[slot, QUEUE]
    if kind == T_RING:
        a = S.OF[arg, O_AGENT]  # arg: the offer's OF row
        drop_offer(S, slot, a, t, K_EXPIRED, D_NONE)
        S.A_i[a, NA_RUN] += 1
        mna = S.Q_i[q, MAX_NA] if S.A_i[a, A_MAX_NA] < 0 else S.A_i[a, A_MAX_NA]
        if mna > 0 and S.A_i[a, NA_RUN] >= mna:
            set_not_ready(S, a, REASON_NO_ANSWER)
            touch(S, a, t)
            back_to_queue(S, slot, t)
        else:
            locked = lock(S, a, t, agent_setting(S, a, A_NA_DELAY, q, NA_DELAY), L_DELAY)
            if not locked:
                touch(S, a, t)
            back_to_queue(S, slot, t)
            if not locked:
                agent_freed(S, a, t)
    elif kind == T_CALL_LIMIT:  # the caller's own limit: it leaves wherever it waits or rings, no overflow
        leave_queue(S, slot, t, D_EXIT)
        end_call(S, slot, t, D_EXIT_TIMEOUT)
    elif kind == T_MAX_WAIT or kind == T_NO_AGENTS:
        if S.C_i[slot, CB]:
            return  # a callback keeps its place: no exit for waiting or for want of agents
        leave_queue(S, slot, t, D_EXIT)
        overflow_or_end(S, slot, q, S.Q_i[q, OVERFLOW], t, D_EXIT_TIMEOUT if kind == T_MAX_WAIT else D_EXIT_NO_AGENTS)
    elif kind == T_PREF_FALLBACK:
        pref_fallback(S, slot, t)
    elif kind == T_RING_STEP:
        if S.C_i[slot, STATE] == ST_OFFERED:
            ring_next(S, slot, t)
    elif kind == T_ESCALATE:
        if arg <= S.C_i[slot, STEP]:
            return
        S.C_i[slot, STEP] = arg
        emit(S, t, K_ESCALATED, slot, -1, q, DETAIL_STEP + arg, 0.0)
        target = S.ESC_i[q, arg - 1]
        if target >= 0:
            leave_queue(S, slot, t, D_ESCALATION)
            overflow_or_end(S, slot, q, target, t, D_EXIT_ESCALATION)
        elif S.C_i[slot, STATE] == ST_WAITING and not try_route(S, slot, t, True):
            leave_check_call(S, slot, q, t)  # waits on at the new step: empty for it there?
    elif kind == T_LEAVE_CALL:
        leave_call(S, slot, q, t)


@kernel
def leave_queue(S, slot, t, detail):
    """Take a waiting or ringing call out of its queue (its offer withdrawn with ``detail``)."""
    if S.C_i[slot, STATE] == ST_WAITING:
        unwait(S, slot)
    else:
        while S.C_i[slot, OF_FIRST] >= 0:  # in the order they were offered: drop one, free it, next
            b = S.OF[S.C_i[slot, OF_FIRST], O_AGENT]
            drop_offer(S, slot, b, t, K_WITHDRAWN, detail)
            free(S, b, t)
    S.C_i[slot, RO_LEN] = 0


@kernel
def room_short(S):
    return (S.S_i[S_NEV] + S.S_i[S_EV_ROOM] > S.EV_i.shape[0] or S.S_i[S_NT] + S.S_i[S_TM_ROOM] > S.TM_t.shape[0]
            or S.S_i[S_NFREE] < 1 or 2 * (S.S_i[S_HUSED] + 1) > S.HK.shape[0] or ro_short(S)
            or S.S_i[S_OF_NFREE] < S.S_i[S_OF_ROOM])


@kernel
def advance_to(S, now):
    """Fire every live timer due at or before ``now``, in (deadline, sequence) order; False if paused."""
    while True:
        w = first_timer(S)
        if w < 0 or due_at(S, w) > now:
            break
        if room_short(S):
            return False
        t, kind, target, token, arg = head_of(S, w)
        drop_first(S, w)
        if live(S, kind, target, token, arg):
            S.S_f[S_NOW] = max(S.S_f[S_NOW], t)
            fire(S, t, kind, target, arg)
    S.S_f[S_NOW] = now
    return True


from .core_leave import leave_call, leave_walk  # noqa: E402 - at the end: core_leave uses this module's kernels
