"""Compiled core: the tail of a logout that left queues with nobody logged in (numba).

A logout that empties queues sets the no-agents timers of their waiting
calls queue by queue, and fires them at once where the limit is 0
(engine._queue_emptied). It may need more timer rows or event room than one
step has, so it runs as a resumable tail after the logout's own step
(core_batch.run_batch: ``S_TAIL``, ``S_TAIL_K``, ``S_TAIL_FIRING``).
"""

from __future__ import annotations

import math

from .core_jit import kernel
from .core_kernels import staffs
from .core_timers import push_timer
from .core_layout import (
    CB, EMPTY_EPOCH, LOGGED_IN, NO_AGENTS_S, NWAIT, PREF, QGEN, S_NT, S_TAIL, S_TAIL_FIRING, S_TAIL_K, S_TM_NEED,
    S_TM_ROOM, T_NO_AGENTS, W_HEAD,
)
from .core_ops import advance_to
from .core_wait import w_next


@kernel
def logout_tail(S, a, t):
    """Agent ``a``'s logout emptied queues: set the no-agents timers of their waiting calls, in key
    order, queue by queue, firing them at once where the limit is 0 (engine._queue_emptied). Resumable:
    False when it must pause for room (more timer rows: S_TM_NEED; or events), True when done."""
    base = S.AQ_ptr[a]
    while base + S.S_i[S_TAIL_K] < S.AQ_ptr[a + 1]:
        q = S.AQ[base + S.S_i[S_TAIL_K], 0]
        d = S.Q_f[q, NO_AGENTS_S]
        if staffs(S, base + S.S_i[S_TAIL_K]) and S.Q_i[q, LOGGED_IN] == 0 and d < math.inf:
            if S.S_i[S_TAIL_FIRING] == 0:
                need = S.S_i[S_NT] + S.Q_i[q, NWAIT] + S.S_i[S_TM_ROOM]
                if need > S.TM_t.shape[0]:
                    S.S_i[S_TM_NEED] = need
                    return False
                x = S.Q_i[q, W_HEAD]
                while x >= 0:
                    if not S.C_i[x, CB] and S.C_i[x, PREF] < 0:  # callbacks, directed calls: no limit
                        push_timer(S, t + d, T_NO_AGENTS, x, S.C_i[x, QGEN], S.Q_i[q, EMPTY_EPOCH])
                    x = w_next(S, x)
                S.S_i[S_TAIL_FIRING] = 1
            if d == 0 and not advance_to(S, t):
                return False
        S.S_i[S_TAIL_FIRING] = 0
        S.S_i[S_TAIL_K] += 1
    S.S_i[S_TAIL] = 0
    S.S_i[S_TAIL_K] = 0
    return True
