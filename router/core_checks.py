"""Compiled core: the checks an operation makes before anything changes (numba).

A refused operation changes nothing, clock included (docs/router-api.md).
:func:`check_args` checks the arguments; :func:`check_state` what no timer
changes (presence, connected calls); :func:`check_offer_or_wait` whether an
accept or reject has its offer ringing, or a callback its call waiting —
valid only while no timer is due before the operation (core_batch.apply_op
asks the facade for a trial on a copy otherwise, fast_trial.py).
"""

from __future__ import annotations

import math

from .core_ids import h_find
from .core_jit import kernel
from .core_kernels import P_LOGGED_OUT
from .core_pref import member_row
from .core_layout import (
    AGENT, A_GONE, CB, CONN, ERR_BAD_ARG, ERR_BAD_OP, ERR_CALL_GONE, ERR_CONNECTED_ELSEWHERE, ERR_DUPLICATE_CALL,
    ERR_ANSWERED, ERR_HAS_CALLS, ERR_SAME_QUEUE, ERR_LOGGED_IN, ERR_LOGGED_OUT, ERR_NOT_MEMBER, ERR_NOT_PAUSED, ERR_PAUSED, ERR_NO_OFFER, ERR_NOT_CONNECTED, ERR_NOT_WAITING, ERR_SAME_AGENT,
    ERR_QUEUE_GONE, ERR_TIME, ERR_UNKNOWN_AGENT, ERR_UNKNOWN_CALL, ERR_UNKNOWN_QUEUE, NO_ID, OK, OP_ABANDON, OP_ACCEPT, OP_ADVANCE,
    OP_ARRIVE, OP_CALLBACK, OP_LOGIN, OP_LOGOUT, OP_NOT_READY, OP_PAUSE, OP_PRIORITY, OP_READY, OP_REJECT, OP_RELEASE,
    OP_AGENT, OP_MEMBER, OP_MOVE, OP_QUEUE, OP_TRANSFER, OP_UNPAUSE, PRES, QM_PAUSED, Q_GONE, QUEUE,
    S_NNUMBERS, S_NOW, S_NPROF, S_NREASONS, S_NT, ST_CONNECTED, ST_WAITING, STATE, T_LOCK_END, TKIND, TTARGET,
    LANE_END, LANE_HEAD, N_LANES,
)
from .core_layout import MAX_TIME_S
from .core_ring import offer_row


@kernel
def unknown_agent(S, a, none_ok):
    """Row ``a`` names no agent: out of range, or removed (agent_remove); -1 (no agent) is fine if ``none_ok``."""
    if a == -1 and none_ok:
        return False
    return a < 0 or a >= S.A_i.shape[0] or S.A_i[a, A_GONE] != 0


@kernel
def unknown_queue(S, q):
    """Row ``q`` names no queue: out of range, or removed (queue_remove)."""
    return q < 0 or q >= S.Q_i.shape[0] or S.Q_i[q, Q_GONE] != 0


@kernel
def check_args(S, op, t, call, a, q, arg, prof):
    """Argument checks made before the implicit advance (the facade's order)."""
    if not (t >= S.S_f[S_NOW] and t <= MAX_TIME_S and t >= -MAX_TIME_S):  # NaN fails every comparison
        return ERR_TIME
    n_agents = S.A_i.shape[0]
    if (((op >= OP_ARRIVE and op <= OP_ABANDON) or op == OP_CALLBACK or op == OP_TRANSFER or op == OP_PRIORITY
         or op == OP_MOVE)
            and (call == NO_ID or call == NO_ID + 1)):
        return ERR_BAD_ARG  # reserved: they mark empty and deleted rows of the call-id table
    if op == OP_ARRIVE:
        if h_find(S, call) >= 0:
            return ERR_DUPLICATE_CALL
        if unknown_queue(S, q):
            return ERR_UNKNOWN_QUEUE
        if unknown_agent(S, a, True):
            return ERR_UNKNOWN_AGENT
        if not (math.isnan(arg) or arg >= 0):
            return ERR_BAD_ARG
        if prof < 0 or prof >= S.S_i[S_NPROF] or S.PCH[prof] < 0:
            return ERR_BAD_ARG  # a profile the facade never registered, or voice where it is not configured
    elif op == OP_TRANSFER:
        if h_find(S, call) < 0:
            return ERR_UNKNOWN_CALL
        if q == -1 and a == -1:
            return ERR_BAD_ARG  # no target
        if q != -1 and unknown_queue(S, q):
            return ERR_UNKNOWN_QUEUE
        if unknown_agent(S, a, True):
            return ERR_UNKNOWN_AGENT
        if not arg >= 0:
            return ERR_BAD_ARG
    elif op == OP_ACCEPT or op == OP_REJECT:
        if unknown_agent(S, a, False):
            return ERR_UNKNOWN_AGENT
        if h_find(S, call) < 0:
            return ERR_UNKNOWN_CALL
        if op == OP_REJECT and not (arg == 0 or arg == 1):
            return ERR_BAD_ARG
    elif op == OP_RELEASE or op == OP_ABANDON or op == OP_CALLBACK or op == OP_PRIORITY:
        if h_find(S, call) < 0:
            return ERR_UNKNOWN_CALL
        if op == OP_CALLBACK and not (arg >= 1 and arg < S.S_i[S_NNUMBERS] and arg == math.floor(arg)):
            return ERR_BAD_ARG
        if op == OP_RELEASE and not math.isnan(arg) and not (arg >= 0 and arg < math.inf):
            return ERR_BAD_ARG
    elif op == OP_LOGIN or op == OP_LOGOUT or op == OP_READY or op == OP_NOT_READY:
        if unknown_agent(S, a, False):
            return ERR_UNKNOWN_AGENT
        if op == OP_LOGIN and not (arg == 0 or arg == 1):
            return ERR_BAD_ARG
        if op == OP_NOT_READY and not (arg >= 2 and arg < S.S_i[S_NREASONS] and arg == math.floor(arg)):
            return ERR_BAD_ARG
    elif op == OP_PAUSE or op == OP_UNPAUSE:
        if unknown_agent(S, a, False):
            return ERR_UNKNOWN_AGENT
        if unknown_queue(S, q):
            return ERR_UNKNOWN_QUEUE
        if op == OP_PAUSE and not (arg >= 0 and arg < S.S_i[S_NREASONS] and arg == math.floor(arg)):
            return ERR_BAD_ARG
    elif op == OP_AGENT:  # built by the facade only (submit refuses it): a removal's rows follow the mark
        if a < 0 or a >= n_agents:
            return ERR_UNKNOWN_AGENT
        if not (arg == 0 or arg == 1 or arg == 2):
            return ERR_BAD_ARG
    elif op == OP_MOVE:
        if h_find(S, call) < 0:
            return ERR_UNKNOWN_CALL
        if unknown_queue(S, q):
            return ERR_UNKNOWN_QUEUE
    elif op == OP_QUEUE:
        if unknown_agent(S, a, True):
            return ERR_UNKNOWN_AGENT
        if unknown_queue(S, q):
            return ERR_UNKNOWN_QUEUE
        if not (arg == 0 or arg == 1 or arg == 2):
            return ERR_BAD_ARG
    elif op == OP_MEMBER:
        if unknown_agent(S, a, False):
            return ERR_UNKNOWN_AGENT
        if unknown_queue(S, q):
            return ERR_UNKNOWN_QUEUE
        if not (arg == 0 or arg == 1 or arg == 2):
            return ERR_BAD_ARG
    elif op != OP_ADVANCE:
        return ERR_BAD_OP
    return OK



@kernel
def ringing(S, call, a):
    """The slot of ``call`` ringing agent ``a``, or a negative status."""
    slot = h_find(S, call)
    if slot < 0:
        return -ERR_CALL_GONE
    if offer_row(S, slot, a) < 0:
        if S.C_i[slot, STATE] == ST_CONNECTED:
            return -ERR_CONNECTED_ELSEWHERE
        return -ERR_NO_OFFER
    return slot



@kernel
def check_state(S, op, call, a, q):
    """The checks of the state that no timer changes (presence, connected calls), made before the implicit
    advance, so such a refused operation changes nothing, clock included."""
    if op == OP_LOGIN:
        return ERR_LOGGED_IN if S.A_i[a, PRES] != P_LOGGED_OUT else OK
    if op == OP_LOGOUT or op == OP_READY or op == OP_NOT_READY:
        if S.A_i[a, PRES] == P_LOGGED_OUT:
            return ERR_LOGGED_OUT
        if op == OP_LOGOUT and S.A_i[a, CONN] > 0:
            return ERR_HAS_CALLS
    elif op == OP_PRIORITY or op == OP_MOVE:  # no timer connects a call
        if S.C_i[h_find(S, call), STATE] == ST_CONNECTED:
            return ERR_ANSWERED
    elif op == OP_PAUSE or op == OP_UNPAUSE:
        m = member_row(S, q, a)
        if m < 0:
            return ERR_NOT_MEMBER
        if op == OP_PAUSE and S.QM[m, QM_PAUSED] != 0:
            return ERR_PAUSED
        if op == OP_UNPAUSE and S.QM[m, QM_PAUSED] == 0:
            return ERR_NOT_PAUSED
    elif op == OP_RELEASE or op == OP_TRANSFER:
        slot = h_find(S, call)
        if S.C_i[slot, STATE] != ST_CONNECTED:
            return ERR_NOT_CONNECTED
        if op == OP_TRANSFER and a == S.C_i[slot, AGENT]:
            return ERR_SAME_AGENT
        if op == OP_TRANSFER and q == -1 and S.Q_i[S.C_i[slot, QUEUE], Q_GONE] != 0:
            return ERR_QUEUE_GONE  # it would wait in a removed queue
    return OK



@kernel
def check_offer_or_wait(S, op, call, a, q):
    """An accept or reject needs the agent's offer ringing; a callback, a waiting call not one already; a
    move, a call in another queue than ``q``."""
    if op == OP_CALLBACK:
        slot = h_find(S, call)
        return ERR_NOT_WAITING if S.C_i[slot, STATE] != ST_WAITING or S.C_i[slot, CB] else OK
    if op == OP_PRIORITY:
        return OK  # live (check_args) and not connected (check_state): nothing else to ask
    if op == OP_MOVE:
        return ERR_SAME_QUEUE if S.C_i[h_find(S, call), QUEUE] == q else OK
    slot = ringing(S, call, a)
    return -slot if slot < 0 else OK


@kernel
def offer_kept(S, call, a, t):
    """Agent ``a``'s offer of ``call`` rings now and no timer of the call is due at or before ``t``: only the
    call's own timers end an offer (its expiry, the call leaving its queue), so it still rings at ``t``
    (Router._tried). Stale timers count too: the answer is only ever "no need to try it on a copy"."""
    slot = h_find(S, call)
    if slot < 0 or offer_row(S, slot, a) < 0:
        return False
    for i in range(S.S_i[S_NT]):
        if S.TM_t[i] <= t and S.TM_i[i, TTARGET] == slot and S.TM_i[i, TKIND] != T_LOCK_END:
            return False
    for lane in range(N_LANES):  # in deadline order: the rows due by ``t`` come first
        for i in range(S.TL_p[lane, LANE_HEAD], S.TL_p[lane, LANE_END]):
            if S.TL_t[lane, i] > t:
                break
            if S.TL_i[lane, i, TTARGET] == slot and S.TL_i[lane, i, TKIND] != T_LOCK_END:
                return False
    return True
