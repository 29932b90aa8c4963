"""A router pickled with a :class:`~busyhour.router.stats.StatsCollector` (busyhour before its statistics were
fed in bulk, e.g. a server's snapshot) loads with the same figures in an
:class:`~busyhour.router.stats_arrays.EventStats`: every interval, agent total, open state and open pause,
and the live calls' intervals, so the calls in progress count where they arrived."""

from __future__ import annotations

import math
from typing import Callable, Hashable

from .stats import StatsCollector
from .stats_arrays import _ROWS, _STATE_NAMES, EventStats, _table
from .stats_core import (
    A_KF, A_SEEN, B_KF, G_BKF, G_BSLOT, G_FIRST, G_HANDLED, G_IDLE, G_ACW, G_SINCE, G_STATE, G_TALK, N_A, N_B, N_C,
    N_P, N_STATES, P_MADE_NEXT, P_NEXT, P_ORDER, P_SINCE, P_TOTAL, stats_rehash,
)

_DISPLAY = {"LOGGED_OUT": 0, "AVAILABLE": 2, "RESERVED": 3, "BUSY": 4, "WRAP_UP": 5}
_NOT_READY = 16  # core_layout.DISP_NOT_READY: display code of the first not-ready reason


def from_collector(c: StatsCollector, router, core_id: Callable[[Hashable], int]) -> EventStats:
    """``c``'s figures for ``router`` (its queue names, agent ids, reasons); ``core_id``: a call id as ``c`` knows
    it (the events' ids) to the core's (a call it gives no integer for is left out)."""
    e = EventStats.__new__(EventStats)
    e._empty(c.interval_s, c.short_s, c.keep)
    for qi, name in enumerate(router.queue_names):
        e.queue_put(qi, name, c.threshold.get(name, math.nan))
    for name in c.threshold:
        if name not in e._slots:
            e.queue_put(len(router.queue_names), name, c.threshold[name])  # not a queue now: a spare index
    for a, aid in enumerate(router.agent_ids):
        e.agent_put(a, aid)
    e._ids = [a for a in c.agents if a in e._latest] + [a for a in e._ids if a not in c.agents]
    reasons = {r: i for i, r in enumerate(router._reasons)}
    T = e._T

    key_of: dict[int, tuple[int, int]] = {}
    B = []
    for (name, k), b in c.buckets.items():
        key_of[id(b)] = (e._slots[name], k)
        B.append(((e._slots[name], k), (b.offered, b.answered, b.answered_within, b.abandoned, b.short_abandoned,
                                        b.exited, b.handled), (b.wait_answered_s, b.talk_s, b.acw_s,
                                                               getattr(b, "paused_s", 0.0), float(k))))
    C = [((cid, 0), (key_of[id(b)][0],), (float(key_of[id(b)][1]), c.connected_at.get(ext, math.nan)))
         for ext, b in c.call_bucket.items() for cid in [core_id(ext)] if type(cid) is int]
    A = []
    for k, iv in c.agent_intervals.items():
        seen, secs = [0] * (N_STATES + 1), [0.0] * N_STATES + [float(k)]
        for rank, (name, s) in enumerate(iv.seconds_by_state.items()):
            col = _STATE_NAMES.index(name)
            seen[col], secs[col] = rank + 1, s
        seen[A_SEEN] = len(iv.seconds_by_state)
        A.append(((k, 0), seen, secs))
    P: dict[tuple[int, int], list] = {}
    made = 0
    for aid, tot in c.agents.items():
        a = e._latest.get(aid)
        if a is None:
            continue
        T.GI[a, G_HANDLED] = tot.handled
        T.GF[a, G_TALK], T.GF[a, G_ACW], T.GF[a, G_IDLE] = tot.talk_s, tot.acw_s, tot.idle_s
        for code, total in [(2 * reasons[r] + 1, s) for r, s in tot.not_ready_s.items()] + [
                (2 * e._slots[q], s) for q, s in getattr(tot, "paused_s", {}).items()]:
            made += 1
            P[(a, code)] = [[1, 0, made], [total, 0.0]]
    for first, (aid, (state, t)) in enumerate(c.agent_state.items()):
        a = e._latest.get(aid)
        if a is None:
            continue
        name, _, reason = state.partition(":")
        T.GI[a, G_STATE] = _NOT_READY + reasons[reason] if name == "NOT_READY" else _DISPLAY[name]
        T.GI[a, G_FIRST], T.GF[a, G_SINCE] = first, t
        b = c.agent_bucket.get(aid)
        if b is not None:
            T.GI[a, G_BSLOT], T.GF[a, G_BKF] = key_of[id(b)][0], float(key_of[id(b)][1])
    for order, ((aid, q), t0) in enumerate(getattr(c, "paused_since", {}).items()):
        if aid in e._latest:
            row = P.setdefault((e._latest[aid], 2 * e._slots[q]), [[0, 0, 0], [0.0, 0.0]])
            row[0][P_ORDER], row[1][P_SINCE] = order + 1, t0
    T.T_i[P_NEXT], T.T_i[P_MADE_NEXT] = len(getattr(c, "paused_since", {})), made
    tables = {}
    for name, rows, used, ni, nf in (("B", B, N_B, 7, B_KF + 1), ("C", C, N_C, 1, 2), ("A", A, N_A, N_STATES + 1,
                                     A_KF + 1), ("P", [(k, *v) for k, v in P.items()], N_P, 3, P_TOTAL + 2)):
        K, I, F = _table(ni, nf, max(1, len(rows)))
        for r, (key, ints, floats) in enumerate(rows):
            K[r], I[r], F[r] = key, ints, floats
        size = _ROWS
        while 2 * len(rows) > size:
            size *= 2
        K2, I2, F2 = _table(ni, nf, size)
        T.T_i[used] = stats_rehash(K, I, F, K2, I2, F2)
        tables.update({name + "K": K2, name + "I": I2, name + "F": F2})
    e._T = T._replace(**tables)
    return e
