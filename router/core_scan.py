"""Compiled core: the member scan that routes a call where no available-member heap can (numba).

Queues whose members differ in tier or penalty, and the strategies whose key
changes while an agent is available or that need every candidate
(round-robin, top-down, sequential, random, weighted-random), choose by
looking at every member, as :func:`busyhour.router.kernels.pick_candidate`
does over :func:`~busyhour.router.kernels.collect_candidates` for the Python
engine: the same candidates, the same keys, the same ties, the same draws
from the splitmix64 stream. O(members) per decision.
"""

from __future__ import annotations

import numpy as np
from .core_jit import kernel
from .codes import (
    STRAT_FEWEST_CALLS, STRAT_FEWEST_CALLS_QUEUE, STRAT_LEAST_RECENT, STRAT_LEAST_TALK, STRAT_MOST_SKILLED,
    STRAT_RANDOM, STRAT_ROUND_ROBIN, STRAT_SEQUENTIAL, STRAT_TOP_DOWN, STRAT_WEIGHTED_RANDOM, STRAT_WRANDOM,
)
from .core_kernels import call_ok, own_skill_sum, serves
from .core_pref import can_take
from .core_layout import (
    ANSWERED, CH, CURSOR, IDLE_RANK, QM_AGENT, QM_CALLS, QM_LAST_CALL, QM_PEN, QM_POS, QM_SKILL_SUM, QM_TIER,
    QM_WEIGHT, QUEUE, RR_CURSOR, SKP, STEP, STRAT, TALK, XFER,
)
from .kernels import splitmix64

_BIG = 1 << 40


@kernel
def member_ok(S, m, slot, step):
    """Member row ``m`` may be offered call ``slot`` at ``step`` now: it serves at ``step``, is ready, not
    locked, has room on the call's channel, is not the agent who transferred the call, and holds the
    call's own skills."""
    a = S.QM[m, QM_AGENT]
    return (serves(S, m, step) and can_take(S, a, S.C_i[slot, CH]) and a != S.C_i[slot, XFER]
            and call_ok(S, a, slot, S.C_i[slot, QUEUE], step))


@kernel
def pick_scan(S, q, slot):
    """The member row (in QM) the strategy picks for call ``slot`` of queue ``q``, or -1.

    kernels.collect_candidates then pick_candidate in one pass: candidates of the lowest (tier,
    penalty) only — of the lowest tier for wrandom, whose penalty weighs the draw instead — then the
    strategy's key, ties to the lower member index; the random strategies draw from the router's
    splitmix64 stream once there is a candidate (wrandom: once per candidate, in member order)."""
    strat = S.Q_i[q, STRAT]
    step = S.C_i[slot, STEP]
    own = S.C_i[slot, SKP] != 0
    cursor = S.C_i[slot, CURSOR] if strat == STRAT_TOP_DOWN else S.Q_i[q, RR_CURSOR]
    bt = bp = 1 << 62
    g = 0
    best = -1
    k1 = k2 = total = 0.0
    by_pen = strat != STRAT_WRANDOM
    for m in range(S.QM_ptr[q], S.QM_ptr[q + 1]):
        if not member_ok(S, m, slot, step):
            continue
        t, p = S.QM[m, QM_TIER], S.QM[m, QM_PEN] if by_pen else 0
        if t < bt or (t == bt and p < bp):
            bt, bp, g, best, total = t, p, 0, -1, 0.0
        elif t != bt or p != bp:
            continue
        g += 1
        total += S.QM_f[m, QM_WEIGHT]
        a = S.QM[m, QM_AGENT]
        c2 = 0.0
        if strat == STRAT_ROUND_ROBIN or strat == STRAT_TOP_DOWN:
            d = S.QM[m, QM_POS] - cursor
            c1 = float(d if d > 0 else d + _BIG)
        elif strat == STRAT_SEQUENTIAL:
            c1 = float(S.QM[m, QM_POS])
        elif strat == STRAT_FEWEST_CALLS:
            c1, c2 = float(S.A_i[a, ANSWERED]), S.A_f[a, IDLE_RANK]
        elif strat == STRAT_FEWEST_CALLS_QUEUE:
            c1 = float(S.QM[m, QM_CALLS])
        elif strat == STRAT_LEAST_RECENT:
            c1 = S.QM_f[m, QM_LAST_CALL]
        elif strat == STRAT_LEAST_TALK:
            c1, c2 = S.A_f[a, TALK], S.A_f[a, IDLE_RANK]
        elif strat == STRAT_MOST_SKILLED:
            c1, c2 = -S.QM_f[m, QM_SKILL_SUM], S.A_f[a, IDLE_RANK]
            if own:
                c1 -= float(own_skill_sum(S, a, slot))
        else:  # longest idle (and preferred-agent without a preferred agent)
            c1 = S.A_f[a, IDLE_RANK]
        if best < 0 or c1 < k1 or (c1 == k1 and c2 < k2):
            best, k1, k2 = m, c1, c2
    if g == 0 or (strat != STRAT_RANDOM and strat != STRAT_WEIGHTED_RANDOM and strat != STRAT_WRANDOM):
        return best
    if strat == STRAT_WRANDOM:
        return _wrandom(S, q, slot, step, bt)
    r = splitmix64(S.RNG)
    if strat == STRAT_RANDOM:
        j = int(r % np.uint64(g))
        u = 0.0
    else:
        j = -1
        u = float(r >> np.uint64(11)) * (1.0 / 9007199254740992.0) * total
    acc = 0.0
    last = -1
    for m in range(S.QM_ptr[q], S.QM_ptr[q + 1]):
        if (not member_ok(S, m, slot, step) or S.QM[m, QM_TIER] != bt
                or S.QM[m, QM_PEN] != bp):
            continue
        if j >= 0:
            if j == 0:
                return m
            j -= 1
        else:
            acc += S.QM_f[m, QM_WEIGHT]
            if u < acc:
                return m
        last = m
    return last


@kernel
def _wrandom(S, q, slot, step, tier):
    """Asterisk's wrandom over the candidates of ``tier``: each draws a metric in [0, (penalty + 1) * 1000),
    in member order; the lowest wins, ties to the first drawn."""
    best = -1
    low = np.uint64(0)
    for m in range(S.QM_ptr[q], S.QM_ptr[q + 1]):
        if not member_ok(S, m, slot, step) or S.QM[m, QM_TIER] != tier:
            continue
        x = splitmix64(S.RNG) % np.uint64((S.QM[m, QM_PEN] + 1) * 1000)
        if best < 0 or x < low:
            best, low = m, x
    return best
