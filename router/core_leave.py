"""Compiled core: the timers of the leave rule for an empty queue (empty_ref.py's ``_leave_call`` and
``_leave_walk``, step for step). Imported by core_ops (at its end: these use its kernels)."""

from __future__ import annotations

from .core_empty import empty_for, empty_steps, exempt
from .core_jit import kernel
from .core_timers import push_timer
from .core_layout import (
    D_EXIT, D_EXIT_NO_AGENTS, ORDER, OVERFLOW, QUEUE, STATE, STEP, ST_WAITING, T_LEAVE_WALK, W_HEAD,
)
from .core_ops import leave_queue, overflow_or_end
from .core_wait import w_next
from .empty import LE_CUR, LE_CUR_ORDER, LE_LEAVE, LE_PENDING, PENALTY


@kernel
def leave_call(S, slot, q, t):
    """T_LEAVE_CALL: the call leaves if it still waits and ``q`` is still empty for it."""
    if S.C_i[slot, STATE] != ST_WAITING or S.LE.shape[0] == 0:
        return
    mask = S.LE[q, LE_LEAVE]
    if mask == 0 or exempt(S, slot):
        return
    if empty_for(S, q, S.C_i[slot, STEP] if (mask & PENALTY) != 0 else 0, mask):
        leave_queue(S, slot, t, D_EXIT)
        overflow_or_end(S, slot, q, S.Q_i[q, OVERFLOW], t, D_EXIT_NO_AGENTS)


@kernel
def leave_walk(S, q, t):
    """T_LEAVE_WALK: the first waiting call (from the walk's place on) for which ``q`` is still empty
    leaves; the walk goes on, one call per timer (each a step with its own room), from the call after it."""
    S.LE[q, LE_PENDING] = 0
    mask = S.LE[q, LE_LEAVE]
    e = empty_steps(S, q, mask) if mask != 0 else 0
    if e == 0:
        return
    x = S.LE[q, LE_CUR]
    if x < 0 or not (S.C_i[x, ORDER] == S.LE[q, LE_CUR_ORDER] and S.C_i[x, STATE] == ST_WAITING
                     and S.C_i[x, QUEUE] == q):
        x = S.Q_i[q, W_HEAD]
    pen = (mask & PENALTY) != 0
    while x >= 0:
        if not exempt(S, x) and (e >> (S.C_i[x, STEP] if pen else 0)) & 1 != 0:
            break
        x = w_next(S, x)
    if x < 0:
        return
    nxt = w_next(S, x)
    S.LE[q, LE_CUR] = nxt
    S.LE[q, LE_CUR_ORDER] = S.C_i[nxt, ORDER] if nxt >= 0 else -1
    leave_queue(S, x, t, D_EXIT)
    overflow_or_end(S, x, q, S.Q_i[q, OVERFLOW], t, D_EXIT_NO_AGENTS)
    if nxt >= 0 and S.LE[q, LE_PENDING] == 0:
        S.LE[q, LE_PENDING] = 1
        push_timer(S, t, T_LEAVE_WALK, q, 0, 0)
