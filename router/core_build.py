"""Compiled core, part 4: building its arrays from a configuration (it runs every one), growing them."""

from __future__ import annotations

import math

import numpy as np

from .config import RouterConfig
from .core_layout import (
    AH_CAP, AH_OFF, BLOCKED, CAP, CoreState, H_EMPTY, H_TOMB, N_C_F, N_C_I, N_EV_F, N_EV_I,
    N_OF, N_Q_F, N_Q_I, N_S_F, N_S_I, N_TM_I, RO_LEN, RO_OFF, SCAN, STATE,
    ST_FREE, ST_OFFERED, S_EV_ROOM, S_HUSED, S_NFREE, S_NNUMBERS, S_NOW, S_NPROF, S_NREASONS, S_NT,
    S_OF_NFREE, S_OF_ROOM, S_RO_ROOM, S_RO_USED, S_TM_NEED, S_TM_ROOM,
)
from .core_ids import h_rebuild
from .empty import rules_table
from .core_members import HEAP_KEYS, agent_tables, lanes, member_tables, ring_members, step_rooms
from .core_queues import queue_row

#: Every strategy; those not in HEAP_KEYS choose by the member scan.
CORE_STRATEGIES = (*HEAP_KEYS, "round-robin", "top-down", "sequentially-by-agent-order", "random",
                   "weighted-random", "ring-all", "ring-progressively", "leastrecent", "fewestcalls", "wrandom")
RING_STRATEGIES = ("ring-all", "ring-progressively")


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


def build(cfg: RouterConfig, calls: int = 1024, timers: int = 4096, events: int = 8192) -> CoreState:
    """A fresh :class:`CoreState` for ``cfg``: everyone logged out, nothing waiting."""
    nq = len(cfg.queues)
    agent_index = {a.id: i for i, a in enumerate(cfg.agents)}
    skill_index = {s: i for i, s in enumerate(cfg.skills)}
    qindex = {q.name: i for i, q in enumerate(cfg.queues)}
    A_i, A_f, skills, CA = agent_tables(cfg.agents, core_channels(cfg), skill_index, len(cfg.skills))
    Q_i = np.zeros((nq, N_Q_I), dtype=np.int64)
    Q_f = np.zeros((nq, N_Q_F), dtype=np.float64)
    max_steps = max([len(q.escalation) for q in cfg.queues] + [0])
    ESC_f = np.full((nq, max(1, max_steps)), math.inf)
    ESC_i = np.full((nq, max(1, max_steps)), -1, dtype=np.int64)
    DROP = np.zeros((nq, max_steps + 1), dtype=np.int64)
    qs_ptr, qs_rows = np.zeros(nq + 1, dtype=np.int64), []
    T = member_tables(cfg, skills, A_i[:, CAP], max_steps)
    for qi, q in enumerate(cfg.queues):
        queue_row((Q_i, Q_f, ESC_f, ESC_i, DROP), qi, q, qindex, agent_index)
        Q_i[qi, SCAN], Q_i[qi, BLOCKED] = T.rows[qi].scan, T.rows[qi].blocked
        qs_rows.extend((skill_index[s], lvl) for s, lvl in q.skills)
        qs_ptr[qi + 1] = len(qs_rows)
    ah_cap = np.array([r.ah_cap for r in T.rows], dtype=np.int64)
    Q_i[:, AH_OFF] = np.concatenate([[0], np.cumsum(ah_cap)[:-1]])
    Q_i[:, AH_CAP] = ah_cap
    C_i = np.zeros((calls, N_C_I), dtype=np.int64)
    C_i[:, STATE] = ST_FREE
    S_i = np.zeros(N_S_I, dtype=np.int64)
    S_i[S_NFREE] = calls
    S_i[S_NREASONS] = 2  # login, no-answer
    S_i[S_NNUMBERS] = 1  # callback number code 0: none
    ring = ring_members(Q_i, T.QM_ptr)
    most = max(1, int(A_i[:, CAP].max(initial=1)))  # the most calls one agent takes at a time
    S_i[S_EV_ROOM], S_i[S_TM_ROOM], S_i[S_RO_ROOM], S_i[S_OF_ROOM] = step_rooms(nq, max_steps, ring, most)
    offers = int(S_i[S_OF_ROOM])
    of_rows = 2 * offers + min(int(A_i[:, CAP].sum()), calls)
    S_i[S_OF_NFREE] = of_rows
    S_f = np.zeros(N_S_F, dtype=np.float64)
    S_f[S_NOW] = -math.inf
    state = CoreState(
        A_i=A_i, A_f=A_f, AQ_ptr=T.AQ_ptr, AQ=T.AQ, Q_i=Q_i, Q_f=Q_f, QM_ptr=T.QM_ptr, QM=T.QM, QM_f=T.QM_f, AH_f=np.zeros((int(ah_cap.sum()), 2)),
        AH_i=np.zeros((int(ah_cap.sum()), 2), dtype=np.int64), C_i=C_i, C_f=np.zeros((calls, N_C_F)),
        FREE=np.arange(calls - 1, -1, -1, dtype=np.int64), TM_t=np.zeros(timers), TM_i=np.zeros((timers, N_TM_I), dtype=np.int64),
        EV_i=np.zeros((max(events, 4 * S_i[S_EV_ROOM]), N_EV_I), dtype=np.int64),
        EV_f=np.zeros((max(events, 4 * S_i[S_EV_ROOM]), N_EV_F)), S_i=S_i, S_f=S_f,
        HK=np.full(_pow2(4 * calls), H_EMPTY, dtype=np.int64), HV=np.zeros(_pow2(4 * calls), dtype=np.int64),
        RNG=np.array([cfg.seed], dtype=np.uint64),
        QOK=T.QOK, ESC_f=ESC_f, ESC_i=ESC_i,
        RO=np.zeros(max(16, 8 * ring), dtype=np.int64), SK=skills, QS_ptr=qs_ptr,
        QS=np.array(qs_rows, dtype=np.int64).reshape(-1, 2), DROP=DROP, CP=empty_profiles(len(cfg.skills)),
        PCH=np.zeros(4, dtype=np.int64), PLIM=np.full(4, np.inf), OF=np.zeros((of_rows, N_OF), dtype=np.int64),
        OFREE=np.arange(of_rows - 1, -1, -1, dtype=np.int64), LD=np.zeros_like(CA), CA=CA, LE=rules_table(cfg.queues),
        AV=np.full(A_i.shape[0], np.nan), **lanes(A_i.shape[0]))  # every agent starts logged out
    S_i[S_NPROF] = 1  # row 0: no own skills, voice
    if "voice" not in cfg.channels:
        state.PCH[0] = -1  # no voice channel: profile 0 is refused (channel 0 stands for it, capacity 0)
    return state


def core_channels(cfg: RouterConfig) -> list[str]:
    """The configuration's channels in the compiled core's order: voice first (channel 0; it has capacity 0
    where the configuration does not name it)."""
    return ["voice"] + [c for c in cfg.channels if c != "voice"]


def empty_profiles(n_skills: int, rows: int = 4) -> np.ndarray:
    """The per-call skill profile table (CoreState.CP) with only row 0, "no own skills", in use."""
    return np.zeros((rows, 1 + 2 * max(1, n_skills)), dtype=np.int64)


def _compact_ring_orders(S: CoreState, C_i: np.ndarray) -> np.ndarray:
    """A new RO holding only the live ring orders, front to back (their calls' RO_OFF updated), with
    room for at least as many again."""
    live = np.flatnonzero((C_i[:, RO_LEN] > 0) & (C_i[:, STATE] == ST_OFFERED))
    used = int(C_i[live, RO_LEN].sum())
    RO = np.zeros(max(S.RO.shape[0], 2 * (used + 2 * int(S.S_i[S_RO_ROOM]))), dtype=np.int64)
    at = 0
    for slot in live.tolist():
        off, n = int(C_i[slot, RO_OFF]), int(C_i[slot, RO_LEN])
        RO[at:at + n] = S.RO[off:off + n]
        C_i[slot, RO_OFF] = at
        at += n
    S.S_i[S_RO_USED] = at
    return RO


def _more_free(S: CoreState, free: np.ndarray, count: int, old: int, new: int) -> np.ndarray:
    """A stack of free rows (``S.S_i[count]`` in use at its bottom) with rows ``old .. new - 1`` added."""
    out = np.empty(new, dtype=np.int64)
    n = int(S.S_i[count])
    out[:n] = free[:n]
    out[n:n + new - old] = np.arange(new - 1, old - 1, -1)
    S.S_i[count] = n + new - old
    return out


def grow(S: CoreState) -> CoreState:
    """A copy of ``S`` with room again: calls, timers and offers double when short, the call-id table rehashes.

    Events are not grown here: the facade drains them (``S_NEV`` back to 0)."""
    rep = {}
    if S.S_i[S_NFREE] < 1:
        old = S.C_i.shape[0]
        new = 2 * old
        C_i = np.zeros((new, S.C_i.shape[1]), dtype=np.int64)
        C_i[:old] = S.C_i
        C_i[old:, STATE] = ST_FREE
        C_f = np.zeros((new, S.C_f.shape[1]))
        C_f[:old] = S.C_f
        rep.update(C_i=C_i, C_f=C_f, FREE=_more_free(S, S.FREE, S_NFREE, old, new))
    if S.S_i[S_NT] + S.S_i[S_TM_ROOM] > S.TM_t.shape[0] or S.S_i[S_TM_NEED] > S.TM_t.shape[0]:
        new = max(2 * S.TM_t.shape[0] + int(S.S_i[S_TM_ROOM]), 2 * int(S.S_i[S_TM_NEED]))
        S.S_i[S_TM_NEED] = 0
        TM_t = np.zeros(new)
        TM_t[:S.TM_t.shape[0]] = S.TM_t
        TM_i = np.zeros((new, S.TM_i.shape[1]), dtype=np.int64)
        TM_i[:S.TM_i.shape[0]] = S.TM_i
        rep.update(TM_t=TM_t, TM_i=TM_i)
    if S.S_i[S_OF_NFREE] < S.S_i[S_OF_ROOM]:
        old = S.OF.shape[0]
        new = 2 * old
        OF = np.zeros((new, S.OF.shape[1]), dtype=np.int64)
        OF[:old] = S.OF
        rep.update(OF=OF, OFREE=_more_free(S, S.OFREE, S_OF_NFREE, old, new))
    if S.S_i[S_RO_USED] + 2 * S.S_i[S_RO_ROOM] > S.RO.shape[0]:
        rep.update(RO=_compact_ring_orders(S, rep.get("C_i", S.C_i)))
    S = S._replace(**rep) if rep else S
    if 2 * (S.S_i[S_HUSED] + 1) > S.HK.shape[0]:  # rehash: live ids at most a quarter of the rows
        keep = np.flatnonzero((S.HK != H_EMPTY) & (S.HK != H_TOMB))
        size = max(S.HK.shape[0], _pow2(4 * (keep.size + 1)))  # never shrinks: tombstones would refill it at once
        old_k, old_v = S.HK[keep], S.HV[keep]  # the live rows alone: the rebuild walks no dead ones
        if size == S.HK.shape[0]:  # the same rows emptied (a value is only read beside its key: HV stays)
            S.HK.fill(H_EMPTY)
        else:
            S = S._replace(HK=np.full(size, H_EMPTY, dtype=np.int64), HV=np.zeros(size, dtype=np.int64))
        h_rebuild(old_k, old_v, S)
    return S
