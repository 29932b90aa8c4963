"""The driver loop of driver.py, compiled: same order, same reactions, the compiled router core.

It mirrors ``_Run.loop`` / ``arrive`` / ``react`` / ``accept`` / ``presence``
(fast_presence.py) / ``redial`` / ``_ended`` line for line for the scenarios
sim/fast.py accepts (shifts, breaks, answer delays, redials and callback
offers included), and
applies each router operation with ``core_batch.apply_op`` — the very
function ``Router.submit`` runs, which the parity tests hold
event-for-event equal to :class:`busyhour.router.Router`. So the same
scenario and seed give the same calls, waits and dispositions on either path
(tests/sim/test_fast_sim.py). Each step's operation and its reaction go
through one place (``_operate``: one ``apply_op`` call site; the kernels that
choose the operation, such as ``_redial`` or fast_presence.presence, stop
before applying it): a kernel called once is inlined (core_jit.py), and a
call passes the loop's and the core's arrays, hundreds of words.

Ordering at equal times, as in driver.py: router timers (advance) first, then
the sim heap in (time, sequence) order — equal keys FIFO — then the arrival.
The heap's action codes are driver.py's, and its first entries are the same
presence schedule (``schedule.presence_schedule``) with the same sequence
numbers.

Random draws made while the loop runs (answer delays, redial attempts) come
from rows of ``DR``: row *k* holds the next values of one sampler, in the
order ``BlockSampler`` hands them out in driver.py; the Python side refills
a row before it can run dry (``L_REFILL`` asks for it: row *k* is kept at
least ``DL[k]`` values ahead, more than one step can draw — one per router
event for answer delays, one for a redial's values, since only the one
``call_abandon`` of a step ends calls as abandoned).

The loop stops and returns 1 when the router needs room, 3 when its own
arrays or draw rows do (the Python side grows or refills them and calls
again; all loop state lives in arrays), 0 when the run is over, 2 when it
ran past its step bound, 4 when a callback's number code (call id + 1) would pass the router's
bound ``S_NNUMBERS``.

Callback offers, as ``driver.callback_check``: ``CALL_QUEUED`` of a call whose
(arrival) queue offers callbacks pushes a check at the same instant; the
check converts a call that has not ended, is not a callback yet, accepts
(its uniform < the accept probability), is WAITING and whose estimated wait
— ``Router.position``'s: rank × the queue's AHT estimate / logged-in
members, infinite with none — exceeds the threshold, by ``OP_CALLBACK`` with
number code *c* + 1 (sim/fast.py reads it back as ``cb-c``). A callback is
exempt from patience; ``CALLBACK_OFFERED`` is answered as ``CALL_OFFERED``.
"""

from __future__ import annotations

import math

from busyhour.router.core_jit import entry, kernel
from busyhour.router.core_batch import apply_op
from busyhour.router.core_timers import next_deadline, sweep_due
from busyhour.router.core_layout import (
    D_ABANDONED, D_ABANDONED_RINGING, D_COMPLETED, E_AGENT, E_CALL, E_DETAIL, E_KIND, E_TIME, E_VALUE, OK,
    OP_ABANDON, OP_ACCEPT, OP_ADVANCE, OP_ARRIVE, OP_CALLBACK, OP_LOGOUT, OP_RELEASE, S_NEV, S_NNUMBERS, S_TAIL,
    ST_WAITING, STATE, QUEUE as R_QUEUE, LOGGED_IN, AHT,
)
from busyhour.router.core_ids import h_find
from busyhour.router.core_ref import state_ref
from busyhour.router.core_logout import logout_tail
from busyhour.router.core_ops import room_short
from busyhour.router.core_wait import w_rank

from .fast_layout import (  # the columns of Loop, the state run_loop takes
    AF_BUSY, AF_FACTOR, AI_BREAK, AI_LOGOUT, AI_TEAM, A_ACCEPT, A_CB_CHECK, A_LOGIN, A_LOGOUT, A_PATIENCE, A_REDIAL,
    A_RELEASE, CF_ACW, CF_ARR, CF_BEND, CF_CBU, CF_CONN, CF_HANDLE, CF_PAT, CF_REDU, CF_WAIT, CI_AGENT, CI_ATTEMPT,
    CI_CB, CI_DISP, CI_QUEUE, L_EVENTS, L_HN, L_INSTANT, L_LOG, L_LOW, L_MAXSTEPS, L_NCALLS, L_NEXT, L_NFIRST,
    L_NLOG, L_NOW, L_NQ, L_NSPAN, L_PA, L_PENDING, L_PT, L_REFILL, L_STEPS, L_STOP, QF_CB_EWT, QF_CB_P, QF_PROB,
    QI_CB, QI_MAXATT, QI_PRIO, QI_ROW,
)
from .fast_heap import pop as _pop, push as _push
from .fast_presence import close_span as _close_span, presence as _presence, staffed_from as _staffed_from
from .results import ABANDONED, COMPLETED, OTHER

K_QUEUED, K_OFFERED, K_CB_OFFERED, K_CONNECTED, K_ENDED = 2, 3, 4, 8, 13


@kernel
def _draw(P, k):
    i = P.DI[k]
    P.DI[k] = i + 1
    if P.DR.shape[1] - i - 1 < P.DL[k]:
        P.L_i[L_REFILL] = 1
    return P.DR[k, i]


@kernel
def _q_change(P, t, d):
    n = P.L_i[L_NQ]
    P.q_t[n] = t
    P.q_d[n] = d
    P.L_i[L_NQ] = n + 1


@kernel
def _ended(P, S, k):
    C_f, C_i = P.C_f, P.C_i
    c = S.EV_i[k, E_CALL]
    d = S.EV_i[k, E_DETAIL]
    ts = S.EV_f[k, E_TIME]
    if d == D_COMPLETED:
        C_i[c, CI_DISP] = COMPLETED
        a = C_i[c, CI_AGENT]
        end = ts + C_f[c, CF_ACW]
        C_f[c, CF_BEND] = end
        P.A_f[a, AF_BUSY] = end
        if P.A_i[a, AI_LOGOUT]:
            _push(P, end, A_LOGOUT, a, 0)
        elif P.A_i[a, AI_BREAK]:
            P.A_i[a, AI_BREAK] = 0
            _close_span(P, a, end)
        return
    C_i[c, CI_DISP] = ABANDONED if d == D_ABANDONED or d == D_ABANDONED_RINGING else OTHER
    if C_f[c, CF_CONN] == C_f[c, CF_CONN]:  # ended after connecting
        C_f[c, CF_BEND] = ts
        return
    C_f[c, CF_WAIT] = ts - C_f[c, CF_ARR]
    _q_change(P, ts, -1)
    q = C_i[c, CI_QUEUE]
    if (C_i[c, CI_DISP] == ABANDONED and C_f[c, CF_REDU] < P.Q_f[q, QF_PROB]
            and C_i[c, CI_ATTEMPT] < P.Q_i[q, QI_MAXATT]):
        _push(P, ts + _draw(P, P.Q_i[q, QI_ROW]), A_REDIAL, c, 0)


@kernel
def _apply_events(P, S, t, start, n_off):
    """driver.react's loop over the events from row ``start``: instant offers are collected from
    ``offers[n_off]`` on, an offer to an agent with an answer delay is scheduled; return the offer count."""
    end = S.S_i[S_NEV]
    if P.L_i[L_LOG]:
        n = P.L_i[L_NLOG]
        for k in range(start, end):
            for j in range(P.LOG_i.shape[1]):
                P.LOG_i[n, j] = S.EV_i[k, j]
            P.LOG_f[n, 0] = S.EV_f[k, 0]
            P.LOG_f[n, 1] = S.EV_f[k, 1]
            n += 1
        P.L_i[L_NLOG] = n
    for k in range(start, end):
        kind = S.EV_i[k, E_KIND]
        c = S.EV_i[k, E_CALL]
        if kind == K_QUEUED:
            if P.Q_i[P.C_i[c, CI_QUEUE], QI_CB]:
                _push(P, t, A_CB_CHECK, c, 0)
        elif kind == K_OFFERED or kind == K_CB_OFFERED:
            a = S.EV_i[k, E_AGENT]
            row = P.T_i[P.A_i[a, AI_TEAM]]
            if row < 0:
                P.offers[n_off, 0] = c
                P.offers[n_off, 1] = a
                n_off += 1
            else:
                _push(P, t + _draw(P, row), A_ACCEPT, c, a)
        elif kind == K_CONNECTED:
            a = S.EV_i[k, E_AGENT]
            ts = S.EV_f[k, E_TIME]
            P.C_f[c, CF_WAIT] = S.EV_f[k, E_VALUE]
            P.C_f[c, CF_CONN] = ts
            P.C_i[c, CI_AGENT] = a
            _q_change(P, ts, -1)
            _push(P, ts + P.C_f[c, CF_HANDLE] * P.A_f[a, AF_FACTOR], A_RELEASE, c, 0)
        elif kind == K_ENDED:
            _ended(P, S, k)
    P.L_i[L_EVENTS] += end - start
    return n_off


#: What :func:`_operate` returns besides an offer count: no reaction (an accept that lost), an advance
#: paused for room, a logout's tail paused for room.
NOT_REACTED, ADVANCE_PAUSED, LOGOUT_PAUSED = -1, -2, -3


@kernel
def _operate(P, S, t, op, c, a, q, prio, value):
    """Apply the step's router operation ``op`` (-1: none) with ``apply_op``'s arguments, then react as
    driver.react does: apply its events, then accept the instant offers in offer order (an accept's
    own events are a connection and the agent's state: never an offer). Returns the offer count, or
    NOT_REACTED / ADVANCE_PAUSED / LOGOUT_PAUSED (a logout is followed by its tail, as Router.submit does).

    Every ``apply_op`` and ``_apply_events`` call of a step is the one call here, and run_loop calls this
    once: a kernel called from one place is inlined into its caller (core_jit.py), which spares each
    operation a call passing the core's arrays (hundreds of words) and each step two more."""
    start, n_off, j = 0, 0, -1
    while True:
        res = OK if op < 0 else apply_op(S, op, t, c, a, q, prio, value, 0)
        if j < 0:  # the step's own operation
            if op == OP_ADVANCE and res < 0:  # paused: keep its events, grow, finish
                return ADVANCE_PAUSED
            if op == OP_LOGOUT and res == OK:
                S.S_i[S_TAIL] = 1  # the no-agents limit of the queues it emptied (Router.submit's order)
                if not logout_tail(S, a, t):
                    P.L_i[L_PA] = a
                    return LOGOUT_PAUSED
            if op == OP_ACCEPT and res != OK:  # an accept that lost (the offer expired) is dropped
                return NOT_REACTED
        if j < 0 or res == OK:
            got = _apply_events(P, S, t, start, n_off)
            if j < 0:  # the step's own events: their instant offers
                n_off = got
        j += 1
        while j < n_off and P.C_i[P.offers[j, 0], CI_DISP] != 0:  # the caller hung up while the phone rang
            j += 1
        if j >= n_off:
            return n_off
        op, c, a, q, prio, value = OP_ACCEPT, P.offers[j, 0], P.offers[j, 1], -1, 0, 0.0
        start = S.S_i[S_NEV]


@kernel
def _patience(P, c, t, offered):
    """driver.arrive after its reaction: the caller's patience runs unless an instant offer answered it."""
    p = P.C_f[c, CF_PAT]
    if p < math.inf and not (offered > 0 and P.L_i[L_INSTANT]):
        _push(P, t + p, A_PATIENCE, c, 0)


@kernel
def _redial(P, prev, t):
    """driver.redial up to its arrival: a new attempt of an abandoned caller, drawn from the queue's redial
    rows; returns its call id (run_loop makes it arrive)."""
    C_f, C_i = P.C_f, P.C_i
    q = C_i[prev, CI_QUEUE]
    row = P.Q_i[q, QI_ROW]
    c = P.L_i[L_NCALLS]
    P.L_i[L_NCALLS] = c + 1
    C_f[c, CF_ARR] = t
    C_f[c, CF_WAIT] = math.nan
    C_f[c, CF_CONN] = math.nan
    C_f[c, CF_BEND] = math.nan
    C_f[c, CF_HANDLE] = _draw(P, row + 1)
    C_f[c, CF_ACW] = _draw(P, row + 2)
    C_f[c, CF_PAT] = _draw(P, row + 3)
    C_f[c, CF_REDU] = _draw(P, row + 4)
    C_f[c, CF_CBU] = _draw(P, row + 5)
    C_i[c, CI_AGENT] = -1
    C_i[c, CI_CB] = 0
    C_i[c, CI_DISP] = 0
    C_i[c, CI_ATTEMPT] = C_i[prev, CI_ATTEMPT] + 1
    C_i[c, CI_QUEUE] = q
    return c


@kernel
def ewt_s(S, slot):
    """``Router.position(call).ewt_s`` of the waiting call in ``slot``: its rank × its queue's AHT
    estimate / the queue's logged-in members (infinite when none)."""
    q = S.C_i[slot, R_QUEUE]
    serving = S.Q_i[q, LOGGED_IN]
    if serving == 0:
        return math.inf
    return w_rank(S, slot) * S.Q_f[q, AHT] / serving


@kernel
def _cb_check(P, S, c):
    """driver.callback_check: a waiting caller whose estimated wait is over the threshold and who
    accepts becomes a callback (number code c + 1). True when it does (run_loop applies OP_CALLBACK)."""
    q = P.C_i[c, CI_QUEUE]
    if P.C_i[c, CI_DISP] != 0 or P.C_i[c, CI_CB] != 0 or P.C_f[c, CF_CBU] >= P.Q_f[q, QF_CB_P]:
        return False
    slot = h_find(S, c)
    if slot < 0 or S.C_i[slot, STATE] != ST_WAITING:  # only a waiting call converts
        return False
    if ewt_s(S, slot) > P.Q_f[q, QF_CB_EWT]:
        P.C_i[c, CI_CB] = 1
        return True
    return False


@kernel
def _short(P, S):
    """The loop's own arrays lack room for one more step (it adds at most one row per router event)."""
    room = S.EV_i.shape[0] + 16
    L_i = P.L_i
    return (L_i[L_REFILL] != 0 or P.H_t.shape[0] - L_i[L_HN] < room or P.q_t.shape[0] - L_i[L_NQ] < room
            or P.SP_i.shape[0] - L_i[L_NSPAN] < room or L_i[L_LOW] < room
            or (L_i[L_LOG] != 0 and P.LOG_i.shape[0] - L_i[L_NLOG] < room)
            or (L_i[L_NCALLS] >= P.C_f.shape[0] and L_i[L_HN] > 0 and P.H_i[0, 1] == A_REDIAL))


@entry
def run_loop(S, P):
    """:func:`loop` for Python: ``S`` and ``P`` as tuples of arrays."""
    return loop(state_ref(S), state_ref(P))


@kernel
def loop(S, P):
    """Run until the end (0), until the router needs room (1), past the step bound (2), until the
    loop's own arrays need room or its draw rows a refill (3), or out of callback number codes (4)."""
    L_i, L_f, C_f = P.L_i, P.L_f, P.C_f
    n_first = L_i[L_NFIRST]
    while True:
        if L_i[L_STEPS] >= L_i[L_MAXSTEPS]:
            return 2
        if L_i[L_PENDING] == 0:
            S.S_i[S_NEV] = 0  # every event so far has been reacted to
        if room_short(S):
            return 1
        sweep_due(S)
        if _short(P, S):
            return 3
        # the step's router operation (apply_op's arguments), applied with its reaction below, in one place
        op, oc, oa, oq, oprio, ov = -1, 0, -1, -1, 0, 0.0
        react, arrived, login = True, -1, -1  # arrived: a call that arrived; login: an agent whose shift began
        if L_i[L_PENDING] == 1:  # an advance paused for room: finish it, then react to all its events
            L_i[L_PENDING] = 0
            t = L_f[L_PT]
            op = OP_ADVANCE
        elif L_i[L_PENDING] == 2:  # a logout's tail paused for room: finish it, then react
            if not logout_tail(S, L_i[L_PA], L_f[L_PT]):
                return 1
            L_i[L_PENDING] = 0
            t = L_f[L_PT]
        else:
            L_i[L_STEPS] += 1
            i = L_i[L_NEXT]
            ta = C_f[i, CF_ARR] if i < n_first else math.inf
            th = P.H_t[0] if L_i[L_HN] > 0 else math.inf
            td = next_deadline(S)
            t = min(ta, min(th, td))
            if t == math.inf or t > L_f[L_STOP]:
                return 0
            L_f[L_NOW] = t
            if td == t:
                op = OP_ADVANCE
            elif th == t:
                k = _pop(P)
                action, c, b = P.H_i[k, 1], P.H_i[k, 2], P.H_i[k, 3]
                if action == A_RELEASE:
                    op, oc, ov = OP_RELEASE, c, C_f[c, CF_ACW]
                elif action == A_PATIENCE:
                    # not answered, not a callback (a callback is exempt from patience)
                    react = P.C_i[c, CI_DISP] == 0 and C_f[c, CF_CONN] != C_f[c, CF_CONN] and P.C_i[c, CI_CB] == 0
                    op, oc = OP_ABANDON, c
                elif action == A_ACCEPT:
                    react = P.C_i[c, CI_DISP] == 0
                    op, oc, oa = OP_ACCEPT, c, b
                elif action == A_REDIAL:
                    arrived = _redial(P, c, t)
                elif action == A_CB_CHECK:
                    if c + 1 >= S.S_i[S_NNUMBERS]:
                        return 4
                    react = _cb_check(P, S, c)
                    op, oc, ov = OP_CALLBACK, c, float(c + 1)
                else:
                    op, ov = _presence(P, S, action, c, t)
                    oa = c
                    react = op >= 0
                    if action == A_LOGIN:
                        login = c
            else:
                arrived = i
                L_i[L_NEXT] = i + 1
            if arrived >= 0:  # driver.arrive: the call joins its queue (no preferred agent)
                _q_change(P, t, 1)
                oq = P.C_i[arrived, CI_QUEUE]
                op, oc, oprio, ov = OP_ARRIVE, arrived, P.Q_i[oq, QI_PRIO], math.nan
        if react:
            got = _operate(P, S, t, op, oc, oa, oq, oprio, ov)
            if got == ADVANCE_PAUSED or got == LOGOUT_PAUSED:
                L_i[L_PENDING] = 1 if got == ADVANCE_PAUSED else 2
                L_f[L_PT] = t
                return 1
            if arrived >= 0:
                _patience(P, arrived, t, got)
            elif login >= 0 and got >= 0:
                _staffed_from(P, login, t)
