"""Compiled core: loading a state pickled by an earlier version (server snapshots).

A server restarted on a new version replays its journal from the latest
snapshot, so a pickled :class:`~busyhour.router.core_layout.CoreState` must
load. Two earlier layouts exist:

* before per-call skill profiles (no ``CP``): calls had no own skills;
* before multi-channel agents (no ``OF``): every agent took one voice call at
  a time; an agent's ringing offer was in its own columns (the call it rang,
  the offer's token, the next agent ringing the same call), a call's ringing
  agents a list from its first to its last agent, and a ring timer's
  argument the agent.

:func:`upgrade` rewrites either into the current layout with the same live
offers, tokens and timers, so the router carries on exactly where it stopped.
Smaller additions since (a column, a table) are filled in from what the state
holds: the dense availability array from each agent's display state and idle
rank, the longest idle's in-order lists by sorting their former heaps, and
empty timer lanes (the heap keeps the timers it holds).
"""

from __future__ import annotations

import numpy as np

from .config import RouterConfig
from .core_build import build, empty_profiles
from .core_members import lanes, mark_pauses
from .empty import rules_table
from .core_layout import (
    A_GONE, A_MAX_NA, A_OF_HEAD, A_WRAP, AH_HEAD, AH_LEN, AH_OFF, CAP, DISP_AVAILABLE, DISPLAY, IDLE_RANK, KEYKIND,
    N_A_F, LOAD, N_C_I, N_QM, N_QM_F, N_Q_I, N_S_I, O_AGENT, O_ANEXT, O_CNEXT, O_SLOT, O_TOKEN, OF_FIRST,
    OF_LAST, S_EV_ROOM, S_NPROF, S_NT, S_OF_NFREE, S_OF_ROOM, S_RO_ROOM, S_TM_ROOM, ST_OFFERED, STATE, T_RING,
    TARG, TKIND, TTARGET, TTOKEN, CoreState,
)

# Columns of the layout before multi-channel agents: the offer's token and the next agent ringing the same
# call (agents); the first agent ringing (calls).
_OLD_OFFER_TOKEN, _OLD_OFFER_NEXT, _OLD_FIRST = 12, 13, OF_FIRST


def upgrade(S: CoreState, cfg: RouterConfig, profiles: dict) -> tuple[CoreState, dict]:
    """``S`` (and the facade's profile map) in the current layout; unchanged when already current."""
    S, profiles = _offers_and_channels(S, cfg, profiles)
    if S.A_f.shape[1] < N_A_F:  # before per-agent settings: the configuration's (none, then)
        fresh = build(cfg, calls=16)
        A_f = np.zeros((S.A_f.shape[0], N_A_F))
        A_f[:, :S.A_f.shape[1]] = S.A_f
        A_f[:, A_WRAP:] = fresh.A_f[:, A_WRAP:]
        S.A_i[:, A_MAX_NA] = fresh.A_i[:, A_MAX_NA]
        S.A_i[:, A_GONE] = 0
        S = S._replace(A_f=A_f)
    if S.QM.shape[1] < N_QM:  # before pauses in one queue, or per-member call counts: none was, none counted
        QM = np.zeros((S.QM.shape[0], N_QM), dtype=np.int64)
        QM[:, :S.QM.shape[1]] = S.QM
        S = S._replace(QM=QM)
    if S.QM_f.shape[1] < N_QM_F:  # before each member's last call was kept: none recorded
        QM_f = np.full((S.QM_f.shape[0], N_QM_F), -np.inf)
        QM_f[:, :S.QM_f.shape[1]] = S.QM_f
        S = S._replace(QM_f=QM_f)
    heaps = S.Q_i.shape[1] <= AH_HEAD
    if S.Q_i.shape[1] < N_Q_I:  # before queues could be removed (none was), or the in-order lists (each at 0)
        Q_i = np.zeros((S.Q_i.shape[0], N_Q_I), dtype=np.int64)
        Q_i[:, :S.Q_i.shape[1]] = S.Q_i
        S = S._replace(Q_i=Q_i)
    if heaps:  # the longest idle's available members were a heap on (0, rank): sorted, it is their list
        for q in np.flatnonzero(S.Q_i[:, KEYKIND] == 0).tolist():
            off, n = int(S.Q_i[q, AH_OFF]), int(S.Q_i[q, AH_LEN])
            order = off + np.argsort(S.AH_f[off:off + n, 1], kind="stable")
            S.AH_f[off:off + n], S.AH_i[off:off + n] = S.AH_f[order], S.AH_i[order]
    if S.PLIM is None:  # before a call had its own max wait: none had
        S = S._replace(PLIM=np.full(S.CP.shape[0], np.inf))
    if S.LE is None:  # before the empty-queue rules: the configuration has none
        S = S._replace(LE=rules_table(cfg.queues))
    if S.AV is None:  # before the dense availability array: from each agent's display state and idle rank
        S = S._replace(AV=np.where(S.A_i[:, DISPLAY] == DISP_AVAILABLE, S.A_f[:, IDLE_RANK], np.nan))
    if S.TL_p is None:  # before the timer lanes: every timer is in the heap, and stays there until it is due
        S = S._replace(**lanes(S.A_i.shape[0]))
    mark_pauses(S.QOK, S.QM)  # before the pauses were marked there too (a no-op since)
    return S, profiles


def _offers_and_channels(S: CoreState, cfg: RouterConfig, profiles: dict) -> tuple[CoreState, dict]:
    if S.CP is None:  # before per-call skill profiles
        S = S._replace(CP=empty_profiles(len(cfg.skills)))
        S.S_i[S_NPROF] = 1
        profiles = {}
    if S.OF is not None:
        if S.C_i.shape[1] < N_C_I:
            C_i = np.zeros((S.C_i.shape[0], N_C_I), dtype=np.int64)
            C_i[:, :S.C_i.shape[1]] = S.C_i
            S = S._replace(C_i=C_i)
        if S.S_i.shape[0] < N_S_I:  # before the trial scalars
            S_i = np.zeros(N_S_I, dtype=np.int64)
            S_i[:S.S_i.shape[0]] = S.S_i
            S = S._replace(S_i=S_i)
        return S, profiles
    fresh = build(cfg, calls=16)
    C_i = np.zeros((S.C_i.shape[0], N_C_I), dtype=np.int64)
    C_i[:, :S.C_i.shape[1]] = S.C_i  # the new channel column: 0, voice
    S_i = np.zeros(N_S_I, dtype=np.int64)
    S_i[:S.S_i.shape[0]] = S.S_i
    for k in (S_EV_ROOM, S_TM_ROOM, S_RO_ROOM, S_OF_ROOM):
        S_i[k] = max(int(S_i[k]), int(fresh.S_i[k]))
    A_i = S.A_i.copy()
    rows = 2 * int(S_i[S_OF_ROOM]) + int(fresh.OF.shape[0]) + int((C_i[:, STATE] == ST_OFFERED).sum())
    OF = np.zeros((rows, fresh.OF.shape[1]), dtype=np.int64)
    row_of = np.full(A_i.shape[0], -1, dtype=np.int64)  # agent -> its offer's row (one at most)
    used = 0
    for slot in np.flatnonzero(C_i[:, STATE] == ST_OFFERED).tolist():
        a, prev = int(C_i[slot, _OLD_FIRST]), -1
        C_i[slot, OF_FIRST] = C_i[slot, OF_LAST] = -1
        while a >= 0:
            r, used = used, used + 1
            OF[r, O_SLOT], OF[r, O_AGENT], OF[r, O_TOKEN] = slot, a, A_i[a, _OLD_OFFER_TOKEN]
            OF[r, O_CNEXT] = OF[r, O_ANEXT] = -1
            if prev < 0:
                C_i[slot, OF_FIRST] = r
            else:
                OF[prev, O_CNEXT] = r
            C_i[slot, OF_LAST] = prev = r
            row_of[a] = r
            a = int(A_i[a, _OLD_OFFER_NEXT])
    A_i[:, A_OF_HEAD] = row_of
    A_i[:, _OLD_OFFER_TOKEN] = A_i[:, _OLD_OFFER_NEXT] = 0
    n_t = int(S.S_i[S_NT])
    ring = np.flatnonzero(S.TM_i[:n_t, TKIND] == T_RING)
    TM_i = S.TM_i.copy()
    for k in ring.tolist():  # the argument becomes the offer's row; a stale timer points at a row it never matches
        r = int(row_of[TM_i[k, TARG]])
        live = r >= 0 and OF[r, O_TOKEN] == TM_i[k, TTOKEN] and OF[r, O_SLOT] == TM_i[k, TTARGET]
        TM_i[k, TARG] = r if live else 0
    S_i[S_OF_NFREE] = rows - used
    LD = np.zeros_like(fresh.CA)
    LD[:, 0] = A_i[:, LOAD]  # every call was a voice call
    A_i[:, CAP] = fresh.CA.sum(axis=1)
    ev = max(S.EV_i.shape[0], fresh.EV_i.shape[0])
    EV_i = np.zeros((ev, S.EV_i.shape[1]), dtype=np.int64)
    EV_f = np.zeros((ev, S.EV_f.shape[1]))
    EV_i[:S.EV_i.shape[0]], EV_f[:S.EV_f.shape[0]] = S.EV_i, S.EV_f
    OFREE = np.zeros(rows, dtype=np.int64)
    OFREE[:rows - used] = np.arange(rows - 1, used - 1, -1)
    S = S._replace(A_i=A_i, C_i=C_i, S_i=S_i, TM_i=TM_i, EV_i=EV_i, EV_f=EV_f, PCH=np.zeros(S.CP.shape[0], dtype=np.int64),
                   OF=OF, OFREE=OFREE, LD=LD, CA=fresh.CA)
    return S, {(0, *key) if not key or not isinstance(key[0], int) else key: code
               for key, code in profiles.items()}
