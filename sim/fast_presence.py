"""driver.py's presence handling for the compiled loop (fast_loop.py): shift starts and ends, breaks.

:func:`presence` does what ``driver.presence`` does before its router operation and returns that
operation: fast_loop.run_loop applies every step's operation and reacts to its events from one place
(one ``apply_op`` call site, which LLVM inlines), then, after a shift's start, calls
:func:`staffed_from`. Staffed spans (``close_span``) are rows of the loop's SP_i / SP_f.
"""

from __future__ import annotations

import math

from busyhour.router.core_jit import kernel
from busyhour.router.core_layout import DISP_BUSY, DISP_LOGGED_OUT, DISPLAY, OP_LOGIN, OP_LOGOUT, OP_NOT_READY, OP_READY

from .fast_layout import (
    AF_BUSY, AF_CLOSED, AF_FROM, AI_BREAK, AI_LOGOUT, A_BACK, A_LOGIN, A_LOGOUT, L_NSPAN, L_R_BREAK, L_R_SHIFT,
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


@kernel
def presence(P, S, action, a, t):
    """driver.presence up to its router operation: shift start / end, break start / end. Returns the
    operation run_loop applies for agent ``a`` (-1: none, nothing to react to) and its value (the
    login's capacity, a not-ready reason's code). After a logout run_loop runs the logout's tail; after
    the reaction to a shift's start, :func:`staffed_from`."""
    state = S.A_i[a, DISPLAY]
    if action == A_LOGIN:
        if state == DISP_LOGGED_OUT:
            return OP_LOGIN, 1.0
        P.A_i[a, AI_LOGOUT] = 0  # a shift starts before the previous one's last call ended
        return OP_READY, 0.0
    elif action == A_BACK:
        if state == DISP_LOGGED_OUT or P.A_i[a, AI_LOGOUT]:
            return -1, 0.0
        if P.A_i[a, AI_BREAK]:  # still on the call that outlasted the break: staffed throughout
            P.A_i[a, AI_BREAK] = 0
        elif P.A_f[a, AF_FROM] != P.A_f[a, AF_FROM]:
            P.A_f[a, AF_FROM] = max(t, P.A_f[a, AF_CLOSED])
        return OP_READY, 0.0
    elif action == A_LOGOUT:
        if state == DISP_LOGGED_OUT:
            return -1, 0.0
        if state == DISP_BUSY:  # refused on a call: no new offers now, log out after the call and its wrap-up
            P.A_i[a, AI_LOGOUT] = 1
            return OP_NOT_READY, float(P.L_i[L_R_SHIFT])
        P.A_i[a, AI_LOGOUT] = 0
        P.A_i[a, AI_BREAK] = 0
        close_span(P, a, t)
        return OP_LOGOUT, 0.0
    # A_BREAK: the router applies it when a busy agent's call ends; staffed time runs until then
    if state == DISP_LOGGED_OUT:
        return -1, 0.0
    if state == DISP_BUSY:
        P.A_i[a, AI_BREAK] = 1
    else:
        close_span(P, a, max(t, P.A_f[a, AF_BUSY]))
    return OP_NOT_READY, float(P.L_i[L_R_BREAK])


@kernel
def staffed_from(P, a, t):
    """driver.presence after a shift start's reaction: staffed from now, unless still staffed (on the
    last shift's call)."""
    if P.A_f[a, AF_FROM] != P.A_f[a, AF_FROM]:
        P.A_f[a, AF_FROM] = t
