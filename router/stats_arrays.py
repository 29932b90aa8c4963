"""Router's statistics: :class:`EventStats`, fed the core's event rows in bulk (stats_core.py).

It gives the figures :class:`~busyhour.router.stats.StatsCollector` gives
(the reference; definitions in its docstring and docs/routing.md) — the same
``RouterStats``, equal to the last digit, dictionaries in the same order — but
folds the rows of the core's event buffers into arrays in one compiled call
per drained buffer, so no Python object is made per event. The owner (Router)
feeds it every event row it drains and tells it of queues and agents added at
run time (the rows name them by index).
"""

from __future__ import annotations

import math
from typing import Hashable

import numpy as np

from .config import RouterConfig
from .core_jit import Direct
from .core_layout import E_AGENT, E_DETAIL, E_KIND, E_QUEUE, E_TIME, N_EV_I
from .stats import AgentInterval, AgentTotals, QueueInterval, RouterStats, live_queues
from .stats_core import (
    A_KF, B_KF, EMPTY, G_BKF, G_BSLOT, G_FIRST, G_SINCE, G_STATE, K_CLOSE_PAUSE, K_CLOSE_STATE, K_NOW, N_A, N_B,
    N_C, N_P, N_STATES, NEED, NEED_A, NEED_B, NEED_C, NEED_P, NEED_ROWS, P_ADDED, P_MADE, P_ORDER, P_TOTAL,
    T_LO, TOMB, StatsState, stats_feed, stats_rehash,
)

_STATE_NAMES = ("LOGGED_OUT", "AVAILABLE", "RESERVED", "BUSY", "WRAP_UP", "NOT_READY")
_BI_NAMES = ("offered", "answered", "answered_within", "abandoned", "short_abandoned", "exited", "handled")
_TABLES = {NEED_B: ("BK", "BI", "BF", N_B), NEED_C: ("CK", "CI", "CF", N_C), NEED_A: ("AK", "AI", "AF", N_A),
           NEED_P: ("PK", "PI", "PF", N_P)}
_ROWS = 64  # first rows of each table (a power of two; they grow as needed) …
_CHURN_ROWS = 4096  # … to at least this many once they need room


def _table(ni: int, nf: int, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    K = np.zeros((rows, 2), dtype=np.int64)
    K[:, 0] = EMPTY
    return K, np.zeros((rows, ni), dtype=np.int64), np.zeros((rows, nf), dtype=np.float64)


def _grown(T: StatsState) -> StatsState:
    """``T`` with the table the feed stopped for (``T_i[NEED]``) rehashed into room for ``T_i[NEED_ROWS]`` more
    rows (deleted rows dropped)."""
    k, i, f, used = _TABLES[int(T.T_i[NEED])]
    K, I, F = getattr(T, k), getattr(T, i), getattr(T, f)
    live = int(np.count_nonzero((K[:, 0] != EMPTY) & (K[:, 0] != TOMB)))
    # at most a quarter full after, and at least twice as large up to _CHURN_ROWS: the call table fills with
    # deleted rows as calls end, so a small one would be rehashed every few calls
    rows = max(K.shape[0], min(_CHURN_ROWS, 2 * K.shape[0]))
    while 4 * (live + int(T.T_i[NEED_ROWS])) > rows:
        rows *= 2
    K2, I2, F2 = _table(I.shape[1], F.shape[1], rows)
    T.T_i[used] = stats_rehash(K, I, F, K2, I2, F2)
    return T._replace(**{k: K2, i: I2, f: F2})


def _feed(T: StatsState, ev_i: np.ndarray, ev_f: np.ndarray, n: int, feed=stats_feed, i: int = 0) -> StatsState:
    """``T`` (grown as needed) with event rows i..n-1 added."""
    while True:
        i = feed(T, ev_i, ev_f, i, n)
        if i >= n:
            return T
        T = _grown(T)


class EventStats:
    """Statistics of one router, from its event rows. ``feed`` the rows of the core's buffers as they are drained;
    ``queue_put`` / ``agent_put`` when a queue or agent gets an index; ``snapshot`` for ``Router.stats()``."""

    def __init__(self, cfg: RouterConfig):
        self._empty(cfg.interval_s, cfg.short_abandon_s, cfg.intervals_kept)
        for qi, q in enumerate(cfg.queues):
            self.queue_put(qi, q.name, q.sl_threshold_s)
        for a, agent in enumerate(cfg.agents):
            self.agent_put(a, agent.id)

    def _empty(self, interval_s: float, short_abandon_s: float, intervals_kept: int) -> None:
        self.interval_s = interval_s
        self._slots: dict[str, int] = {}  # queue name -> slot (its intervals and threshold)
        self._slot_names: list[str] = []
        self._ids: list[Hashable] = []  # agent ids, in the order their totals are listed
        self._latest: dict[Hashable, int] = {}  # agent id -> its (latest) index
        B, C, P = _table(7, 5, _ROWS), _table(1, 2, _ROWS), _table(3, 2, _ROWS)
        A = _table(N_STATES + 1, N_STATES + 1, _ROWS)
        T_f = np.array([interval_s, short_abandon_s, intervals_kept, -math.inf], dtype=np.float64)
        self._T = StatsState(np.zeros(8, dtype=np.int64), T_f, *B, *C, *A, *P, np.zeros((0, 4), dtype=np.int64),
                             np.zeros((0, 5), dtype=np.float64), np.zeros(0, dtype=np.int64), np.zeros(0, np.float64))

    # ------------------------------------------------------------ what the owner tells it
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_direct", None)
        return state

    def __setstate__(self, state: dict) -> None:
        """Unpickle; statistics pickled before intervals were dropped keep the default number from now on."""
        T = state["_T"]
        if T.T_f.shape[0] < T_LO + 1:
            state["_T"] = T._replace(T_f=np.append(T.T_f, [RouterConfig.intervals_kept, -math.inf]))
        self.__dict__.update(state)

    def feed(self, ev_i: np.ndarray, ev_f: np.ndarray, n: int) -> None:
        """Add the first ``n`` rows of the core's event buffers (``EV_i``, ``EV_f``: C-contiguous int64 and
        float64, as the core keeps them)."""
        if n:
            d = self.__dict__.get("_direct")
            if d is None:  # numba's dispatch checks the 18 arrays' types on every call: ~2 µs (core_jit.Direct)
                d = self._direct = Direct(stats_feed)
            i = d(self._T, ev_i, ev_f, 0, n)
            if i < n:  # a table needs room first
                self._T = _feed(_grown(self._T), ev_i, ev_f, n, d, i)

    def queue_put(self, index: int, name: str, threshold_s: float) -> None:
        """Queue ``index`` is ``name`` (added, or its settings changed): its threshold from now on."""
        T = self._T
        slot = self._slots.get(name)
        if slot is None:
            slot = self._slots[name] = len(self._slot_names)
            self._slot_names.append(name)
            T = T._replace(TH=np.append(T.TH, 0.0))
        if index >= T.Q2S.shape[0]:
            T = T._replace(Q2S=np.append(T.Q2S, np.full(index + 1 - T.Q2S.shape[0], -1, dtype=np.int64)))
        T.Q2S[index] = slot
        T.TH[slot] = threshold_s
        self._T = T

    def set_threshold(self, name: str, threshold_s: float) -> None:
        self._T.TH[self._slots[name]] = threshold_s

    def agent_put(self, index: int, agent_id: Hashable) -> None:
        """Agent ``index`` is ``agent_id`` (configured or added): its totals start from zero; an id used before
        (an agent removed and added again) keeps its place in the list and its state's history."""
        T = self._T
        grow = index + 1 - T.GI.shape[0]
        if grow > 0:
            gi = np.zeros((grow, T.GI.shape[1]), dtype=np.int64)
            gi[:, G_STATE] = gi[:, G_BSLOT] = -1
            T = self._T = T._replace(GI=np.vstack([T.GI, gi]), GF=np.vstack([T.GF, np.zeros((grow, T.GF.shape[1]))]))
        old = self._latest.get(agent_id)
        if old is None:
            self._ids.append(agent_id)
        elif old != index:  # the id's state goes on in its new row, as the reference keeps it by id
            for col in (G_STATE, G_BSLOT, G_FIRST):
                T.GI[index, col] = T.GI[old, col]
            for col in (G_SINCE, G_BKF):
                T.GF[index, col] = T.GF[old, col]
            T.GI[old, G_STATE] = -1
        self._latest[agent_id] = index

    # ------------------------------------------------------------ what it reports
    def snapshot(self, router) -> RouterStats:
        """Figures up to ``router.now``, open agent states and pauses included (nothing is mutated).
        ``router``: ``now``, ``_queues`` and ``_agents`` as StatsCollector.snapshot reads them, and ``reasons``
        (the not-ready reasons by code)."""
        now = router.now
        T = StatsState(*[a.copy() for a in self._T])
        if math.isfinite(now):
            T = _feed(T, *_closing_rows(T, now))
        return RouterStats(now, live_queues(router), self._intervals(T), _agent_intervals(T, self.interval_s),
                           self._agents(T, router.reasons))

    def _intervals(self, T: StatsState) -> list[QueueInterval]:
        rows = np.flatnonzero((T.BK[:, 0] != EMPTY) & (T.BK[:, 0] != TOMB))
        names = [self._slot_names[s] for s in T.BK[rows, 0].tolist()]
        kf = T.BF[rows, B_KF].tolist()
        order = sorted(range(rows.size), key=lambda j: (kf[j], names[j]))
        out = []
        for j in order:
            r = int(rows[j])
            counts = dict(zip(_BI_NAMES, T.BI[r].tolist()))
            wait, talk, acw, paused = T.BF[r, :4].tolist()
            out.append(QueueInterval(names[j], kf[j] * self.interval_s, wait_answered_s=wait, talk_s=talk, acw_s=acw,
                                     paused_s=paused, **counts))
        return out

    def _agents(self, T: StatsState, reasons: list[str]) -> list[AgentTotals]:
        idx = [self._latest[a] for a in self._ids]
        handled = T.GI[idx, 0].tolist()
        talk, acw, idle = (T.GF[idx, c].tolist() for c in range(3))
        by_agent: dict[int, tuple[dict, dict]] = {}
        rows = np.flatnonzero((T.PK[:, 0] != EMPTY) & (T.PK[:, 0] != TOMB) & (T.PI[:, P_ADDED] > 0))
        rows = rows[np.argsort(T.PI[rows, P_MADE], kind="stable")]  # in the order each was first added to
        for a, code, total in zip(T.PK[rows, 0].tolist(), T.PK[rows, 1].tolist(), T.PF[rows, P_TOTAL].tolist()):
            nr, paused = by_agent.setdefault(a, ({}, {}))
            if code & 1:
                nr[reasons[code >> 1]] = total
            else:
                paused[self._slot_names[code >> 1]] = total
        out = []
        for j, (aid, a) in enumerate(zip(self._ids, idx)):
            nr, paused = by_agent.get(a, ({}, {}))
            out.append(AgentTotals(aid, handled[j], talk[j], acw[j], idle[j], nr, paused))
        return out


def _closing_rows(T: StatsState, now: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Rows that close, at ``now``, every agent's open state (in the order the agents first had one) and then every
    open pause (in the order they opened), as the reference's snapshot closes them."""
    agents = np.flatnonzero(T.GI[:, G_STATE] >= 0)
    agents = agents[np.argsort(T.GI[agents, G_FIRST], kind="stable")]
    open_p = np.flatnonzero((T.PK[:, 0] != EMPTY) & (T.PK[:, 0] != TOMB) & (T.PI[:, P_ORDER] > 0))
    open_p = open_p[np.argsort(T.PI[open_p, P_ORDER], kind="stable")]
    n = 1 + agents.size + open_p.size
    ev_i = np.zeros((n, N_EV_I), dtype=np.int64)
    ev_f = np.zeros((n, 2), dtype=np.float64)
    ev_f[:, E_TIME] = now
    ev_i[:, E_QUEUE] = -1
    ev_i[0, E_KIND] = K_NOW  # (drops the intervals older than ``now`` keeps, when nothing else is open)
    ev_i[0, E_AGENT] = -1
    ev_i[1:1 + agents.size, E_KIND] = K_CLOSE_STATE
    ev_i[1:1 + agents.size, E_AGENT] = agents
    ev_i[1 + agents.size:, E_KIND] = K_CLOSE_PAUSE
    ev_i[1 + agents.size:, E_AGENT] = T.PK[open_p, 0]
    ev_i[1 + agents.size:, E_DETAIL] = T.PK[open_p, 1] >> 1
    return ev_i, ev_f, n


def _agent_intervals(T: StatsState, interval_s: float) -> list[AgentInterval]:
    rows = np.flatnonzero((T.AK[:, 0] != EMPTY) & (T.AK[:, 0] != TOMB))
    rows = rows[np.argsort(T.AF[rows, A_KF], kind="stable")]
    out = []
    for kf, seen, secs in zip(T.AF[rows, A_KF].tolist(), T.AI[rows].tolist(), T.AF[rows, :N_STATES].tolist()):
        cols = sorted((c for c in range(N_STATES) if seen[c]), key=lambda c: seen[c])
        out.append(AgentInterval(kf * interval_s, {_STATE_NAMES[c]: secs[c] for c in cols}))
    return out
