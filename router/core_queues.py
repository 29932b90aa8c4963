"""Compiled core: a queue's static row from its configuration, and a row added (or revived) at run time.

:func:`queue_row` writes what a queue's configuration fixes (escalation
steps, settings, expected handling time, dedicated agent, skill-level drops)
and the empty waiting list, for core_build.build and for a queue added
while the router runs. :func:`put_new_queue` gives a live state a queue row
— a new one, last, or that of a removed queue of the same name — with no
members yet (core_members.swap_queue puts them in), widening the escalation
tables when the queue has more steps than any before. The facade
(fast_queues.py) then runs the rows that announce it (docs/routing.md §16).
"""

from __future__ import annotations

import math

import numpy as np

from .config import QueueConfig, RouterConfig
from .core_layout import (
    AHT, AH_CAP, AH_OFF, CoreState, DEDICATED, EMPTY_EPOCH, NSTEPS, N_Q_F, N_Q_I, Q_GONE, RA_ORDER, RA_SLOT, RA_T,
    RR_CURSOR, W_HEAD, W_ROOT,
)
from .core_members import mark_pauses, queue_settings, steps_of
from .empty import N_LE, LE_CUR, LE_CUR_ORDER


def queue_row(S_parts: tuple, qi: int, q: QueueConfig, qindex: dict, agent_index: dict) -> None:
    """Write queue ``q``'s configured values into row ``qi`` of ``(Q_i, Q_f, ESC_f, ESC_i, DROP)``, its
    waiting list empty and its ring-all ring none."""
    Q_i, Q_f, ESC_f, ESC_i, DROP = S_parts
    Q_i[qi, NSTEPS] = len(q.escalation)
    for k, step in enumerate(q.escalation):
        ESC_f[qi, k] = step.after_s
        ESC_i[qi, k] = qindex[step.overflow] if step.overflow else -1
    Q_i[qi, RR_CURSOR] = -1
    queue_settings(Q_i, Q_f, qi, q, qindex)
    Q_f[qi, AHT] = q.expected_aht_s
    Q_i[qi, DEDICATED] = agent_index[q.dedicated_agent] if q.dedicated_agent is not None else -1
    for k, (_, d_k) in enumerate(steps_of(q)):
        DROP[qi, k] = d_k
    Q_i[qi, W_ROOT] = Q_i[qi, W_HEAD] = Q_i[qi, RA_SLOT] = Q_i[qi, RA_ORDER] = -1
    Q_f[qi, RA_T] = -math.inf
    Q_i[qi, Q_GONE] = int(q.removed)


def _widen(a: np.ndarray, cols: int, fill) -> np.ndarray:
    if a.shape[1] >= cols:
        return a
    out = np.full((a.shape[0], cols), fill, dtype=a.dtype)
    out[:, :a.shape[1]] = a
    return out


def put_new_queue(S: CoreState, cfg: RouterConfig, qi: int, qindex: dict, agent_index: dict,
                  skill_index: dict) -> CoreState:
    """``S`` with row ``qi`` (``S.Q_i.shape[0]`` for a new one) holding queue ``cfg.queues[qi]`` as a fresh
    queue with no members; a removed queue's row keeps its heap segment and bumps its empty epoch (its
    old no-agents timers stay void)."""
    q = cfg.queues[qi]
    steps = len(q.escalation)
    Q_i, Q_f = S.Q_i.copy(), S.Q_f.copy()
    ESC_f, ESC_i, DROP, QS_ptr = S.ESC_f, S.ESC_i, S.DROP, S.QS_ptr
    LE = S.LE
    if qi == Q_i.shape[0]:
        Q_i = np.concatenate([Q_i, np.zeros((1, N_Q_I), dtype=np.int64)])
        Q_f = np.concatenate([Q_f, np.zeros((1, N_Q_F))])
        Q_i[qi, AH_OFF], Q_i[qi, AH_CAP] = S.AH_f.shape[0], 0
        ESC_f = np.concatenate([ESC_f, np.full((1, ESC_f.shape[1]), math.inf)])
        ESC_i = np.concatenate([ESC_i, np.full((1, ESC_i.shape[1]), -1, dtype=np.int64)])
        DROP = np.concatenate([DROP, np.zeros((1, DROP.shape[1]), dtype=np.int64)])
        QS_ptr = np.append(QS_ptr, QS_ptr[-1])
        if 0 < LE.shape[0] < Q_i.shape[0]:  # (a reload may have sized it for every queue it adds)
            row = np.zeros((1, N_LE), dtype=np.int64)
            row[0, LE_CUR] = row[0, LE_CUR_ORDER] = -1
            LE = np.concatenate([LE, row])
        S = S._replace(QM_ptr=np.append(S.QM_ptr, S.QM_ptr[-1]))
    else:
        keep = Q_i[qi, [AH_OFF, AH_CAP, EMPTY_EPOCH]].copy()
        Q_i[qi], Q_f[qi] = 0, 0.0
        Q_i[qi, [AH_OFF, AH_CAP, EMPTY_EPOCH]] = keep + [0, 0, 1]
        ESC_f, ESC_i = ESC_f.copy(), ESC_i.copy()
        ESC_f[qi], ESC_i[qi] = math.inf, -1
        DROP = DROP.copy()
        DROP[qi] = 0
    ESC_f, ESC_i = _widen(ESC_f, max(1, steps), math.inf), _widen(ESC_i, max(1, steps), -1)
    DROP, QOK = _widen(DROP, steps + 1, 0), _widen(S.QOK, steps + 1, 0)
    mark_pauses(QOK, S.QM)  # new steps: a paused member is paused there too
    queue_row((Q_i, Q_f, ESC_f, ESC_i, DROP), qi, q, qindex, agent_index)
    lo, hi = int(QS_ptr[qi]), int(QS_ptr[qi + 1])
    rows = np.array([(skill_index[s], lvl) for s, lvl in q.skills], dtype=np.int64).reshape(-1, 2)
    QS = np.concatenate([S.QS[:lo], rows, S.QS[hi:]]).reshape(-1, 2)
    QS_ptr = QS_ptr.copy()
    QS_ptr[qi + 1:] += rows.shape[0] - (hi - lo)
    return S._replace(Q_i=Q_i, Q_f=Q_f, ESC_f=ESC_f, ESC_i=ESC_i, DROP=DROP, QOK=QOK, QS_ptr=QS_ptr, QS=QS, LE=LE)
