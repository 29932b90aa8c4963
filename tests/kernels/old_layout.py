"""Test helper: a compiled core's state as an earlier layout held it, for the tests that load old pickles."""

from __future__ import annotations

import numpy as np

from busyhour.router.core_layout import LANE_END, LANE_HEAD, S_NT, TSEQ, CoreState


def without_lanes(S: CoreState) -> CoreState:
    """``S`` as before the timer lanes: every timer in the heap (rows sorted by deadline and sequence, which is a
    heap), and no lane arrays."""
    n = int(S.S_i[S_NT])
    t, rows = [S.TM_t[:n]], [S.TM_i[:n]]
    for lane in range(S.TL_p.shape[0]):
        h, e = int(S.TL_p[lane, LANE_HEAD]), int(S.TL_p[lane, LANE_END])
        t.append(S.TL_t[lane, h:e])
        rows.append(S.TL_i[lane, h:e])
    t_all, i_all = np.concatenate(t), np.concatenate(rows)
    order = np.lexsort((i_all[:, TSEQ], t_all))
    size = max(S.TM_t.shape[0], 2 * order.size)
    TM_t, TM_i = np.zeros(size), np.zeros((size, S.TM_i.shape[1]), dtype=np.int64)
    TM_t[:order.size], TM_i[:order.size] = t_all[order], i_all[order]
    S_i = S.S_i.copy()
    S_i[S_NT] = order.size
    return S._replace(TM_t=TM_t, TM_i=TM_i, S_i=S_i, TL_t=None, TL_i=None, TL_p=None)
