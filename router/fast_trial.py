"""Router: an operation whose refusal depends on the timers due before it, tried on a copy first.

A refused operation changes nothing, clock included (docs/router-api.md). Most
checks read state that no timer changes (presence, connected calls), so the
core makes them before its implicit advance. Whether an accept, a reject or a
callback request is refused depends on what the timers due before it do (a
ring may expire, a waiting call may be offered or leave), so when live timers
are due — unless it answers an offer that rings now and none of its call's
own timers is due (``core_checks.offer_kept``: only those end an offer) —
the core stops at that row (``S_TRIAL``) and the facade runs it alone
on a copy of the state: refused there, the row fails and the real state is
left as it was; accepted, the core runs it for real (``S_TRIED``), which gives
the same result because the core is deterministic. Drivers that advance to
``now`` before their operations (the server, the simulator) never pay for a
copy.
"""

from __future__ import annotations

import numpy as np

from .core_build import grow
from .core_layout import NOT_RUN, OK, S_NEV, S_SEQ, S_TRIAL, S_TRIED, CoreState


def run_trial(run_batch, S: CoreState, ops: np.ndarray, prof: np.ndarray, i: int) -> tuple[int, CoreState]:
    """Row ``i`` of ``ops`` applied alone to a copy of ``S``: (its status, the copy after it)."""
    T = CoreState(*[None if a is None else a.copy() for a in S])
    T.S_i[S_TRIAL] = 0
    T.S_i[S_TRIED] = 1
    row, p = ops[i:i + 1], prof[i:i + 1] if prof.shape[0] else prof
    status, seq_after = np.full(1, NOT_RUN, dtype=np.int8), np.zeros(1, dtype=np.int64)
    while True:
        done = run_batch(T, row, p, 0, status, seq_after, False)
        T.S_i[S_NEV] = 0  # the copy's events are never seen: the real run (or a later one) makes them
        if done:
            return int(status[0]), T
        T = grow(T)


def settle_trial(run_batch, S: CoreState, ops: np.ndarray, prof: np.ndarray, i: int, status: np.ndarray,
                 seq_after: np.ndarray) -> CoreState | None:
    """The batch stopped at row ``i`` for a trial: mark it to run for real (None), or fail it, leaving ``S``
    unchanged, and return the copy's state (what the refusal saw, for its message)."""
    S.S_i[S_TRIAL] = 0
    st, T = run_trial(run_batch, S, ops, prof, i)
    if st == OK:
        S.S_i[S_TRIED] = 1
        return None
    status[i] = st
    seq_after[i] = S.S_i[S_SEQ]
    return T
