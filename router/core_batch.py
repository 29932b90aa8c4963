"""Compiled core, part 3: the operations and the batch loop (numba).

Each operation checks its arguments (status codes in core_layout), fires the
timers due at or before its time, checks the state, and only then changes
anything — the order of the Python facade's methods (calls.py, agents.py),
so errors leave the same state and the same events behind.
"""

from __future__ import annotations

import math

from .core_jit import entry, kernel
from .core_ref import state_ref
from .core_kernels import (
    K_CALLBACK_REQUESTED, K_CONNECTED, K_REJECTED,
    K_TRANSFERRED, K_WITHDRAWN, L_DELAY, L_NONE, L_WRAP_UP, P_LOGGED_OUT, P_NOT_READY, P_READY, agent_setting,
    emit, lock, set_not_ready, set_state, staffs, touch, unlock,
)
from .core_timers import due_by, first_due, next_deadline, push_timer, sweep_due
from .core_layout import (
    AGENT, ANSWERED, ARRIVAL, A_BUSY_DELAY, A_REJ_DELAY, A_WRAP, BUSY_DELAY, CB, CH, CONN, CONNECTED_S, DEDICATED,
    DETAIL_NUMBER, DETAIL_TO_AGENT, DETAIL_TO_QUEUE, D_ABANDONED, D_ABANDONED_RINGING,
    D_ANSWERED_ELSEWHERE, D_BUSY, D_CALLER_ABANDONED, D_CB_CANCELLED, D_LOGGED_OUT, D_NONE, D_NOT_READY, D_REJECT, D_TRANSFER,
    EMPTY_EPOCH, ENTERED, ERR_CALL_GONE, ERR_NOT_WAITING, EXT, HOPS, LAST_END, LOAD, LOGGED_IN, NA_RUN, OFFERS,
    OF_FIRST, OF_LAST, OK, OP_ABANDON, OP_ACCEPT, OP_ADVANCE, OP_ARRIVE, OP_CALLBACK, OP_LOGIN, OP_LOGOUT,
    OP_AGENT, OP_MEMBER, OP_MOVE, OP_PAUSE, OP_QUEUE, OP_PRIORITY, OP_READY, OP_REJECT, OP_RELEASE, OP_TRANSFER, OP_UNPAUSE, ORDER, PREF,
    PREF_FB, PREF_UNTIL, PRES, PRIO, QGEN, QUEUE,
    REASON, REASON_LOGIN, REJ_DELAY, RO_LEN, SKP, STATE, STRAT, ST_CONNECTED, ST_WAITING, S_ARRIVED, S_NFREE,
    S_NOW,
    S_LEAVE_TAIL, S_ORDER, S_RESUME, S_SEQ, S_TAIL, S_TRIAL, S_TRIED, TALK, T_CALL_LIMIT, WAIT_ORIGIN, WRAP, XFER,
)
from .core_member_op import agent_op, call_moved, call_priority, member_changed, queue_changed, set_pause
from .core_pref import member_call_done
from .core_checks import check_args, check_offer_or_wait, check_state, offer_kept, ringing
from .core_ring import offer_unlink, offers_to_scratch, ringing_to_scratch
from .codes import STRAT_PREFERRED
from .core_ids import h_find, h_put
from .core_logout import logout_tail
from .core_prefetch import prefetch_ahead
from .core_ops import (
    PAUSED, advance_to, agent_freed, back_to_queue, drop_offer, end_call, enter_queue, lock_or_free,
    release, room_short, unwait,
)

TRIAL = -3  # apply_op: run this operation on a copy first (S_TRIAL)


@kernel
def _arrive(S, t, call, q, prio, pref, fallback_s, prof):
    n = S.S_i[S_NFREE] - 1
    S.S_i[S_NFREE] = n
    slot = S.FREE[n]
    S.S_i[S_ORDER] += 1
    S.C_i[slot, :] = 0
    S.C_i[slot, EXT] = call
    S.C_i[slot, ORDER] = S.S_i[S_ORDER]
    S.C_i[slot, QUEUE] = -1
    S.C_i[slot, PRIO] = prio
    S.C_i[slot, STATE] = ST_WAITING
    S.C_i[slot, AGENT] = -1
    S.C_i[slot, OF_FIRST] = -1
    S.C_i[slot, OF_LAST] = -1
    S.C_i[slot, QGEN] = 0
    S.C_i[slot, HOPS] = 0
    S.C_f[slot, ARRIVAL] = t
    S.C_f[slot, ENTERED] = t
    S.C_f[slot, CONNECTED_S] = math.nan
    S.C_f[slot, WAIT_ORIGIN] = t
    S.C_i[slot, PREF] = -1
    S.C_i[slot, XFER] = -1
    S.C_i[slot, SKP] = prof
    S.C_i[slot, CH] = S.PCH[prof]
    S.C_f[slot, PREF_UNTIL] = -math.inf
    if pref < 0 and S.Q_i[q, STRAT] == STRAT_PREFERRED:
        pref = S.Q_i[q, DEDICATED]
    if pref >= 0:
        S.C_i[slot, PREF] = pref
        S.C_f[slot, PREF_UNTIL] = t + (S.Q_f[q, PREF_FB] if math.isnan(fallback_s) else fallback_s)
    h_put(S, call, slot)
    S.S_i[S_ARRIVED] += 1
    if S.PLIM[prof] < math.inf:  # the call's own max wait, before its queue's timers (as the reference)
        push_timer(S, t + S.PLIM[prof], T_CALL_LIMIT, slot, S.C_i[slot, ORDER], 0)
    enter_queue(S, slot, q, t, D_NONE)
    return OK


@kernel
def _withdraw_others(S, slot, skip, t, detail):
    """Withdraw every offer of ``slot`` but ``skip``'s, in offer order; their agents stay at RO's far end
    (core_ring.ringing_to_scratch) for :func:`_free_withdrawn` once the call has moved on. Their number."""
    n = ringing_to_scratch(S, slot, skip)
    end = S.RO.shape[0] - 1
    for i in range(n):
        drop_offer(S, slot, S.RO[end - i], t, K_WITHDRAWN, detail)
    return n


@kernel
def _free_withdrawn(S, n, t):
    """Free (or lock) the ``n`` agents :func:`_withdraw_others` left at RO's far end, in offer order."""
    end = S.RO.shape[0] - 1
    for i in range(n):
        lock_or_free(S, S.RO[end - i], t, 0.0, L_NONE)


@kernel
def _accept(S, t, call, a):
    slot = ringing(S, call, a)
    if slot < 0:
        return -slot
    n = _withdraw_others(S, slot, a, t, D_ANSWERED_ELSEWHERE)  # freed once the call connects
    offer_unlink(S, slot, a)
    S.C_i[slot, RO_LEN] = 0
    S.A_i[a, OFFERS] -= 1
    S.A_i[a, CONN] += 1
    S.A_i[a, ANSWERED] += 1
    S.A_i[a, NA_RUN] = 0
    S.C_i[slot, AGENT] = a
    set_state(S, slot, ST_CONNECTED)
    S.C_f[slot, CONNECTED_S] = t
    emit(S, t, K_CONNECTED, slot, a, S.C_i[slot, QUEUE], D_NONE, t - S.C_f[slot, WAIT_ORIGIN])
    touch(S, a, t)
    _free_withdrawn(S, n, t)
    return OK


@kernel
def _reject(S, t, call, a, busy):
    slot = ringing(S, call, a)
    if slot < 0:
        return -slot
    q = S.C_i[slot, QUEUE]
    drop_offer(S, slot, a, t, K_REJECTED, D_BUSY if busy else D_REJECT)
    locked = lock(S, a, t, agent_setting(S, a, A_BUSY_DELAY, q, BUSY_DELAY) if busy
                  else agent_setting(S, a, A_REJ_DELAY, q, REJ_DELAY), L_DELAY)
    if not locked:
        touch(S, a, t)
    back_to_queue(S, slot, t)
    if not locked:
        agent_freed(S, a, t)
    return OK


@kernel
def _abandon(S, t, call):
    slot = h_find(S, call)
    if slot < 0:
        return OK  # a timer ended it first: nothing more to do
    st = S.C_i[slot, STATE]
    if st == ST_CONNECTED:
        release(S, slot, t, math.nan)
    elif st == ST_WAITING:
        unwait(S, slot)
        end_call(S, slot, t, D_CB_CANCELLED if S.C_i[slot, CB] else D_ABANDONED)
    else:
        n = _withdraw_others(S, slot, -1, t, D_CALLER_ABANDONED)
        end_call(S, slot, t, D_CB_CANCELLED if S.C_i[slot, CB] else D_ABANDONED_RINGING)
        _free_withdrawn(S, n, t)
    return OK


@kernel
def _transfer(S, t, call, tq, ta, fallback_s):
    """Move a connected call to queue ``tq`` (-1: its own) and/or agent ``ta`` (calls.transfer)."""
    slot = h_find(S, call)  # connected (core_checks.check_state): no timer ends it
    old = S.C_i[slot, AGENT]
    old_q = S.C_i[slot, QUEUE]
    q = tq if tq >= 0 else old_q
    detail = DETAIL_TO_AGENT + ta if ta >= 0 else DETAIL_TO_QUEUE + q
    emit(S, t, K_TRANSFERRED, slot, old, old_q, detail, t - S.C_f[slot, CONNECTED_S])
    S.C_i[slot, PREF] = ta
    S.C_f[slot, PREF_UNTIL] = t + fallback_s if ta >= 0 else -math.inf
    S.C_i[slot, XFER] = old  # never offered to the agent who transferred it
    S.C_i[slot, HOPS] = 0
    S.C_f[slot, WAIT_ORIGIN] = t  # the second leg's wait starts now; arrival time (its place) is kept
    enter_queue(S, slot, q, t, D_TRANSFER)  # the old agent still holds the line here
    S.A_i[old, LOAD] -= 1
    S.LD[old, S.C_i[slot, CH]] -= 1
    S.A_i[old, CONN] -= 1
    S.A_f[old, TALK] += t - S.C_f[slot, CONNECTED_S]
    S.A_f[old, LAST_END] = t
    member_call_done(S, old_q, old, t)
    S.C_i[slot, AGENT] = -1
    lock_or_free(S, old, t, agent_setting(S, old, A_WRAP, old_q, WRAP), L_WRAP_UP)
    return OK


@kernel
def _callback(S, t, call, code):
    """A waiting caller hangs up and keeps its place; an agent will call the number back."""
    slot = h_find(S, call)
    if slot < 0:
        return ERR_CALL_GONE
    if S.C_i[slot, STATE] != ST_WAITING or S.C_i[slot, CB]:
        return ERR_NOT_WAITING
    S.C_i[slot, CB] = code
    emit(S, t, K_CALLBACK_REQUESTED, slot, -1, S.C_i[slot, QUEUE], DETAIL_NUMBER + code, 0.0)
    return OK


@kernel
def _presence(S, op, t, a, arg):
    """login / logout / ready / not_ready."""
    if op == OP_LOGIN:  # presence checked before the advance (check_state): no timer changes it
        ready = arg != 0
        S.A_i[a, PRES] = P_READY if ready else P_NOT_READY
        S.A_i[a, REASON] = REASON_LOGIN
        S.A_i[a, NA_RUN] = 0
        for k in range(S.AQ_ptr[a], S.AQ_ptr[a + 1]):
            if not staffs(S, k):
                continue  # serves only from an escalation step: the queue is not staffed by it
            q = S.AQ[k, 0]
            S.Q_i[q, LOGGED_IN] += 1
            if S.Q_i[q, LOGGED_IN] == 1:
                S.Q_i[q, EMPTY_EPOCH] += 1  # no-agents timers set while it was empty are void
        touch(S, a, t)
        if ready:
            agent_freed(S, a, t)
        return OK
    if op == OP_READY:
        if S.A_i[a, PRES] != P_READY:
            S.A_i[a, PRES] = P_READY
            S.A_i[a, NA_RUN] = 0
            touch(S, a, t)
            agent_freed(S, a, t)
        return OK
    n = offers_to_scratch(S, a)  # the agent's ringing offers are withdrawn, in call order
    end = S.RO.shape[0] - 1
    for i in range(n):
        drop_offer(S, S.RO[end - i], a, t, K_WITHDRAWN, D_LOGGED_OUT if op == OP_LOGOUT else D_NOT_READY)
    if op == OP_LOGOUT:
        S.A_i[a, PRES] = P_LOGGED_OUT
        unlock(S, a)
        for k in range(S.AQ_ptr[a], S.AQ_ptr[a + 1]):
            if staffs(S, k):
                S.Q_i[S.AQ[k, 0], LOGGED_IN] -= 1
    else:
        set_not_ready(S, a, int(arg))
    touch(S, a, t)
    for i in range(n):  # their calls go back to their places, in the same order
        back_to_queue(S, S.RO[end - i], t)
    return OK


@kernel
def apply_op(S, op, t, call, a, q, prio, arg, prof):
    """One operation: checks, implicit advance (may pause: PAUSED), state checks, the change. ``prof``: an
    arrive's own skills (a CP row; 0: none), ignored by the other operations. An accept, reject or callback
    with live timers due at or before ``t`` returns TRIAL unless S_TRIED is set (docs/routing.md §15)."""
    if S.S_i[S_RESUME] == 0:
        st = check_args(S, op, t, call, a, q, arg, prof)
        if st != OK:
            return st
        st = check_state(S, op, call, a, q)
        if st != OK:
            return st
        if ((op == OP_ACCEPT or op == OP_REJECT or op == OP_CALLBACK or op == OP_PRIORITY or op == OP_MOVE)
                and S.S_i[S_TRIED] == 0):
            if due_by(S, t) and (op == OP_CALLBACK or op == OP_PRIORITY or op == OP_MOVE
                                 or not offer_kept(S, call, a, t)):
                return TRIAL
            st = check_offer_or_wait(S, op, call, a, q)  # no timer due: the state it sees is this one
            if st != OK:
                return st
        S.S_i[S_TRIED] = 0
    if first_due(S) <= t:  # timers due: fire them (a call not made for most rows)
        if not advance_to(S, t):
            S.S_i[S_RESUME] = 1
            return PAUSED
    S.S_f[S_NOW] = t  # as advance_to leaves it
    S.S_i[S_RESUME] = 0
    if op == OP_ARRIVE:
        return _arrive(S, t, call, q, prio, a, arg, prof)
    if op == OP_TRANSFER:
        return _transfer(S, t, call, q, a, arg)
    if op == OP_ACCEPT:
        return _accept(S, t, call, a)
    if op == OP_REJECT:
        return _reject(S, t, call, a, arg != 0)
    if op == OP_RELEASE:  # connected (core_checks.check_state): no timer ends it
        release(S, h_find(S, call), t, arg)
        return OK
    if op == OP_ABANDON:
        return _abandon(S, t, call)
    if op == OP_CALLBACK:
        return _callback(S, t, call, int(arg))
    if op == OP_ADVANCE:
        return OK
    if op == OP_PAUSE or op == OP_UNPAUSE:
        return set_pause(S, t, a, q, arg, op == OP_PAUSE)
    if op == OP_PRIORITY:
        return call_priority(S, t, call, prio)
    if op == OP_MEMBER:
        return member_changed(S, t, a, q, int(arg), 1 if prio != 0 else 0)
    if op == OP_QUEUE:
        return queue_changed(S, t, a, q, int(arg))
    if op == OP_MOVE:
        return call_moved(S, t, call, q)
    if op == OP_AGENT:
        return agent_op(S, t, a, int(arg))
    return _presence(S, op, t, a, arg)


@entry
def run_batch(S, ops, prof, start, status, seq_after, stop_on_error):
    """:func:`batch` for Python: ``S`` as the tuple of arrays."""
    return batch(state_ref(S), ops, prof, start, status, seq_after, stop_on_error)


@kernel
def batch(S, ops, prof, start, status, seq_after, stop_on_error):
    """Apply ``ops[start:]`` (``prof``: each row's skill profile, or empty for none); return the index of the first operation not done (``len(ops)`` when all are).
    ``seq_after[i]`` is set to the last event seq once row ``i`` is done (its events are those after the
    previous row's). With ``stop_on_error`` it also returns right after a row that failed, so the caller
    can read the state that row saw.

    A logout finishes with its tail (:func:`core_logout.logout_tail`: the no-agents limit of the queues it
    emptied), which may pause for room like an implicit advance; the row's status is set when it is done."""
    i = start
    while i < ops.shape[0]:
        o = ops[i]
        sweep_due(S)
        if S.S_i[S_TAIL]:
            if not logout_tail(S, o['agent'], o['time_s']):
                return i
            S.S_i[S_LEAVE_TAIL] = 1
        if S.S_i[S_LEAVE_TAIL]:  # what the row made due at its own time: an empty queue's callers leaving
            if due_by(S, o['time_s']) and not advance_to(S, o['time_s']):
                return i
            S.S_i[S_LEAVE_TAIL] = 0
            status[i] = OK
            seq_after[i] = S.S_i[S_SEQ]
            i += 1
            continue
        if room_short(S):
            return i
        prefetch_ahead(S, ops, i)  # a hint for the next rows' memory (core_prefetch.py)
        st = apply_op(S, o['op'], o['time_s'], o['call'], o['agent'], o['queue'], o['priority'], o['arg'],
                      prof[i] if prof.shape[0] > 0 else 0)
        if st == PAUSED:
            return i
        if st == TRIAL:
            S.S_i[S_TRIAL] = 1
            return i
        if st == OK and o['op'] == OP_LOGOUT:
            S.S_i[S_TAIL] = 1
            continue
        if st == OK and due_by(S, o['time_s']):
            S.S_i[S_LEAVE_TAIL] = 1
            continue
        status[i] = st
        seq_after[i] = S.S_i[S_SEQ]
        i += 1
        if stop_on_error and st != OK:
            return i
    return ops.shape[0]


@entry
def deadline(S):
    return next_deadline(state_ref(S))
