"""driver.py's presence handling for the compiled loop (fast_loop.py): shift starts and ends, breaks.

:func:`presence` applies an agent's presence change to the router up to the reaction, as
``driver.presence`` does, and says whether there is one to react to: fast_loop.run_loop reacts to every
step's events in one place (one ``_react`` call site, which LLVM inlines), then, after a shift's
start, calls :func:`staffed_from`. Staffed spans (``close_span``) are rows of the loop's SP_i / SP_f.
"""

from __future__ import annotations

import math

from busyhour.router.core_jit import kernel
from busyhour.router.core_batch import apply_op
from busyhour.router.core_layout import (
    DISP_BUSY, DISP_LOGGED_OUT, DISPLAY, OK, OP_LOGIN, OP_LOGOUT, OP_NOT_READY, OP_READY, S_TAIL,
)
from busyhour.router.core_logout import logout_tail

from .fast_layout import (
    AF_BUSY, AF_CLOSED, AF_FROM, AI_BREAK, AI_LOGOUT, A_BACK, A_LOGIN, A_LOGOUT, L_NSPAN, L_PA, L_R_BREAK,
    L_R_SHIFT,
)


@kernel
def close_span(P, a, t):
    """Agent ``a``'s staffed span, if open, ends at ``t``: a row of SP_i / SP_f."""
    s = P.A_f[a, AF_FROM]
    if s == s:
        n = P.L_i[L_NSPAN]
        P.SP_i[n] = a
        P.SP_f[n, 0] = s
        P.SP_f[n, 1] = t
        P.L_i[L_NSPAN] = n + 1
        P.A_f[a, AF_FROM] = math.nan
        P.A_f[a, AF_CLOSED] = t


#: What presence did: nothing to react to, changes to react to, or a logout's tail paused for room.
NO_REACTION, REACT, PAUSED = 0, 1, 2


@kernel
def presence(P, S, action, a, t):
    """driver.presence up to its reaction: shift start / end, break start / end. Returns REACT when the
    router changed (run_loop reacts; after a shift's start, :func:`staffed_from`), PAUSED when a
    logout's tail paused for room, else NO_REACTION."""
    state = S.A_i[a, DISPLAY]
    if action == A_LOGIN:
        if state == DISP_LOGGED_OUT:
            apply_op(S, OP_LOGIN, t, 0, a, -1, 0, 1.0, 0)
        else:  # a shift starts before the previous one's last call ended
            P.A_i[a, AI_LOGOUT] = 0
            apply_op(S, OP_READY, t, 0, a, -1, 0, 0.0, 0)
        return REACT
    elif action == A_BACK:
        if state == DISP_LOGGED_OUT or P.A_i[a, AI_LOGOUT]:
            return NO_REACTION
        if P.A_i[a, AI_BREAK]:  # still on the call that outlasted the break: staffed throughout
            P.A_i[a, AI_BREAK] = 0
        elif P.A_f[a, AF_FROM] != P.A_f[a, AF_FROM]:
            P.A_f[a, AF_FROM] = max(t, P.A_f[a, AF_CLOSED])
        apply_op(S, OP_READY, t, 0, a, -1, 0, 0.0, 0)
        return REACT
    elif action == A_LOGOUT:
        if state == DISP_LOGGED_OUT:
            return NO_REACTION
        if state == DISP_BUSY:  # refused on a call: no new offers now, log out after the call and its wrap-up
            P.A_i[a, AI_LOGOUT] = 1
            apply_op(S, OP_NOT_READY, t, 0, a, -1, 0, float(P.L_i[L_R_SHIFT]), 0)
            return REACT
        P.A_i[a, AI_LOGOUT] = 0
        P.A_i[a, AI_BREAK] = 0
        close_span(P, a, t)
        if apply_op(S, OP_LOGOUT, t, 0, a, -1, 0, 0.0, 0) == OK:
            S.S_i[S_TAIL] = 1  # the no-agents limit of the queues it emptied (Router.submit's order)
            if not logout_tail(S, a, t):
                P.L_i[L_PA] = a
                return PAUSED
        return REACT
    # A_BREAK: the router applies it when a busy agent's call ends; staffed time runs until then
    if state == DISP_LOGGED_OUT:
        return NO_REACTION
    if state == DISP_BUSY:
        P.A_i[a, AI_BREAK] = 1
    else:
        close_span(P, a, max(t, P.A_f[a, AF_BUSY]))
    apply_op(S, OP_NOT_READY, t, 0, a, -1, 0, float(P.L_i[L_R_BREAK]), 0)
    return REACT


@kernel
def staffed_from(P, a, t):
    """driver.presence after a shift start's reaction: staffed from now, unless still staffed (on the
    last shift's call)."""
    if P.A_f[a, AF_FROM] != P.A_f[a, AF_FROM]:
        P.A_f[a, AF_FROM] = t
