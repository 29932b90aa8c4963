"""Compiled core, queue members: their tables from a configuration, and one queue's members replaced at run time.

A queue's members are one segment of the member tables (``QM``, ``QM_f``,
``QOK``, by queue through ``QM_ptr``), each agent's queues a segment of
``AQ`` (through ``AQ_ptr``), and a queue's available-member heap a segment
of ``AH_f`` / ``AH_i``. :func:`queue_members` computes one queue's rows;
:func:`member_tables` all of them (core_build.build); :func:`swap_queue`
replaces one queue's segment in a live state (router/membership.py) and
carries over what the members held: pauses, the places in ring-progressively
orders, the heap of the available members. Cost: O(member rows) numpy, plus
O(the queue's members) Python.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .codes import STRAT_RING_ALL, STRAT_RING_PROGRESSIVELY, STRATEGY_NAMES
from .config import QueueConfig, RouterConfig
from .core_layout import (
    ANSWERED, CAP, CoreState, DISPLAY, DISP_AVAILABLE, IDLE_RANK, KEYKIND, N_QM, N_QM_F, QM_AGENT, QM_CALLS,
    QM_LAST_CALL, QM_PAUSED, QM_POS, QOK_PAUSED, QM_SKILL_SUM, QM_WEIGHT, RR_CURSOR,
    QUEUE, RO_LEN, RO_OFF, SCAN, STATE, STRAT, ST_OFFERED, S_EV_ROOM, S_OF_ROOM, S_RO_ROOM, S_TM_ROOM, TALK, AH_CAP,
    AH_HEAD, AH_LEN, AH_OFF, BLOCKED, BUSY_DELAY, MAX_LEN, MAX_NA, MAX_WAIT, NA_DELAY, NO_AGENTS_S, OVERFLOW, PREF_FB,
    REJ_DELAY, RING_STEP, RING_TO, WEIGHT, WRAP, A_BUSY_DELAY, A_MAX_NA, A_NA_DELAY, A_OF_HEAD, A_REJ_DELAY, A_WRAP,
    DIR_HEAD, DISP_LOGGED_OUT, LAST_END, LAST_OFFERED, N_A_F, N_A_I, LANE_END, LANE_HEAD, LANE_SHUT, N_LANES,
    N_TM_I,
)

#: Strategies whose choice the available-member heap makes (on a queue whose members share one tier
#: and one penalty), and its key: 0 idle rank only, 1 answered calls, 2 talk time, 3 minus the skill sum.
HEAP_KEYS = {"longest-idle-agent": 0, "preferred-agent": 0, "agent-with-fewest-calls": 1,
             "agent-with-least-talk-time": 2, "most-skilled-first": 3}


class QueueRows(NamedTuple):
    """One queue's member rows (QM, QM_f, QOK) and the flags derived from them."""

    QM: np.ndarray
    QM_f: np.ndarray
    QOK: np.ndarray
    scan: bool  # a member scan routes (else the available-member heap)
    blocked: bool
    ah_cap: int  # rows of its available-member heap


def agent_tables(agents, chans: list[str], skill_index: dict, n_skills: int) -> tuple[np.ndarray, ...]:
    """(A_i, A_f, SK, CA) rows of ``agents`` (AgentConfig), logged out: skill levels, capacity per core channel
    (``chans``), their own settings (NaN / -1: the queue's)."""
    n = len(agents)
    SK = np.zeros((n, max(1, n_skills)), dtype=np.uint8)
    A_i = np.zeros((n, N_A_I), dtype=np.int64)
    A_f = np.zeros((n, N_A_F), dtype=np.float64)
    CA = np.zeros((n, len(chans)), dtype=np.int64)
    for i, a in enumerate(agents):
        for s, lvl in a.skills:
            SK[i, skill_index[s]] = lvl
        for c, k in a.capacity:
            CA[i, chans.index(c)] = k
        A_i[i, A_MAX_NA] = -1 if a.max_no_answer is None else a.max_no_answer
        A_f[i, [A_WRAP, A_REJ_DELAY, A_BUSY_DELAY, A_NA_DELAY]] = [
            math.nan if v is None else v for v in (a.wrap_up_s, a.reject_delay_s, a.busy_delay_s, a.no_answer_delay_s)]
    A_i[:, CAP] = CA.sum(axis=1)
    A_i[:, DISPLAY] = DISP_LOGGED_OUT
    A_i[:, A_OF_HEAD] = -1
    A_i[:, DIR_HEAD] = -1
    A_f[:, LAST_END] = -math.inf
    A_f[:, LAST_OFFERED] = -math.inf
    return A_i, A_f, SK, CA


def add_agent(S: CoreState, agent, chans: list[str], skill_index: dict) -> CoreState:
    """``S`` with one more agent, last, logged out and a member of no queue (room regrown for its capacity, the
    timer lanes' for the floor's size)."""
    A_i, A_f, SK, CA = agent_tables([agent], chans, skill_index, S.SK.shape[1])
    S = S._replace(A_i=np.concatenate([S.A_i, A_i]), A_f=np.concatenate([S.A_f, A_f]), SK=np.concatenate([S.SK, SK]),
                   CA=np.concatenate([S.CA, CA]), LD=np.concatenate([S.LD, np.zeros_like(CA)]),
                   AQ_ptr=np.append(S.AQ_ptr, S.AQ_ptr[-1]), AV=np.append(S.AV, np.nan))
    return grown_lanes(_with_rooms(S))


def mark_pauses(QOK: np.ndarray, QM: np.ndarray) -> None:
    """Set QOK_PAUSED in every step byte of each member row paused in its queue (``QM_PAUSED``, the source of
    truth), in place: what core_member_op.set_pause keeps, for tables made or widened in Python."""
    QOK[QM[:, QM_PAUSED] != 0] |= QOK_PAUSED


def lane_rows(agents: int) -> int:
    """A timer lane's room for a floor of ``agents``: the power of two at or above it, at least 256 rows."""
    return 1 << (max(256, agents) - 1).bit_length()


def lanes(agents: int) -> dict:
    """Empty timer lanes (core_timers.py) for a floor of ``agents``: the fields ``TL_t``, ``TL_i``, ``TL_p``.
    A lane that cannot take a timer leaves it to the heap, which grows; the lanes grow with the floor."""
    rows = lane_rows(agents)
    return dict(TL_t=np.zeros((N_LANES, rows)), TL_i=np.zeros((N_LANES, rows, N_TM_I), dtype=np.int64),
                TL_p=np.zeros((N_LANES, 3), dtype=np.int64))


def grown_lanes(S: CoreState) -> CoreState:
    """``S`` with lanes of the room its number of agents calls for, if they are smaller: each lane's timers moved
    to the start of the new one, in order, and the lane open again (it has room now)."""
    if S.TL_t.shape[1] >= lane_rows(S.A_i.shape[0]):
        return S
    new = lanes(S.A_i.shape[0])
    for lane in range(N_LANES):
        h, e = int(S.TL_p[lane, LANE_HEAD]), int(S.TL_p[lane, LANE_END])
        new["TL_t"][lane, :e - h] = S.TL_t[lane, h:e]
        new["TL_i"][lane, :e - h] = S.TL_i[lane, h:e]
        new["TL_p"][lane, LANE_END] = e - h
        new["TL_p"][lane, LANE_SHUT] = 0
    return S._replace(**new)


def strategy_codes(q: QueueConfig) -> tuple[int, int]:
    """(STRAT, KEYKIND) of queue ``q``: its strategy's code, and its available-member heap's key."""
    return STRATEGY_NAMES[q.strategy], HEAP_KEYS.get(q.strategy, 0)


def queue_settings(Q_i: np.ndarray, Q_f: np.ndarray, qi: int, q: QueueConfig, queue_index: dict) -> None:
    """Write queue ``q``'s settings that a running engine can change (config.QUEUE_SETTINGS but the
    statistics' threshold and max penalty, which lives in QOK) into its row ``qi``."""
    Q_i[qi, STRAT], Q_i[qi, KEYKIND] = strategy_codes(q)
    Q_i[qi, MAX_NA] = q.max_no_answer
    Q_i[qi, MAX_LEN] = q.max_length
    Q_i[qi, OVERFLOW] = queue_index[q.overflow] if q.overflow else -1
    Q_f[qi, [WEIGHT, RING_TO, WRAP, REJ_DELAY, BUSY_DELAY, NA_DELAY, MAX_WAIT, NO_AGENTS_S, RING_STEP, PREF_FB]] = (
        q.weight, q.ring_timeout_s, q.wrap_up_s, q.reject_delay_s, q.busy_delay_s, q.no_answer_delay_s,
        q.max_wait_s, q.max_wait_no_agents_s, q.ring_step_s, q.preferred_fallback_s)


def steps_of(q: QueueConfig) -> list[tuple[int, int]]:
    """(max penalty, skill-level drop) at each escalation step of ``q``, step 0 first (state.QueueState)."""
    pen = q.max_penalty if q.max_penalty is not None else 1 << 62
    out, drop = [(pen, 0)], 0
    for s in q.escalation:
        pen = s.max_penalty if s.max_penalty is not None else pen
        drop = max(drop, s.min_level_drop)
        out.append((pen, drop))
    return out


def queue_members(q: QueueConfig, agent_index: dict, skill_index: dict, SK: np.ndarray, cap: np.ndarray,
                  max_steps: int) -> QueueRows:
    """Queue ``q``'s member rows: agent, eligibility at each step (from_step, max penalty, the queue's skills
    with the step's level drop), tier, penalty, position, from_step, not paused; skill sum and weight."""
    k = len(q.members)
    agents = np.array([agent_index[m.agent] for m in q.members], dtype=np.int64)
    tier = np.array([m.tier for m in q.members], dtype=np.int64)
    pen = np.array([m.penalty for m in q.members], dtype=np.int64)
    from_step = np.array([m.from_step for m in q.members], dtype=np.int64)
    req_ids = np.array([skill_index[s] for s, _ in q.skills], dtype=np.int64)
    req_min = np.array([lvl for _, lvl in q.skills], dtype=np.int64)
    held = SK[agents][:, req_ids].astype(np.int64)  # (members, required skills)
    QOK = np.zeros((k, max_steps + 1), dtype=np.uint8)
    steps = steps_of(q)
    for s, (p_s, d_s) in enumerate(steps):
        QOK[:, s] = (from_step <= s) & (pen <= p_s) & (held >= np.maximum(req_min - d_s, 1)).all(axis=1)
    QM = np.zeros((k, N_QM), dtype=np.int64)
    QM[:, :6] = np.stack([agents, QOK[:, 0], tier, pen, np.array([m.position for m in q.members], dtype=np.int64),
                          from_step], axis=1)
    QM_f = np.full((k, N_QM_F), -np.inf)  # QM_LAST_CALL: none yet
    QM_f[:, QM_SKILL_SUM] = held.sum(axis=1)
    QM_f[:, QM_WEIGHT] = [m.weight for m in q.members]
    uniform = len({(m.tier, m.penalty) for m in q.members}) == 1  # False without members
    single = bool((cap[agents] <= 1).all())
    scan = not (q.strategy in HEAP_KEYS and uniform and single and not q.escalation)
    blocked = bool(k) and q.members[0].penalty > steps[0][0]
    return QueueRows(QM, QM_f, QOK, scan, blocked, 2 * k + 66)  # a heap is compacted when full


class MemberTables(NamedTuple):
    AQ_ptr: np.ndarray
    AQ: np.ndarray
    QM_ptr: np.ndarray
    QM: np.ndarray
    QM_f: np.ndarray
    QOK: np.ndarray
    rows: list[QueueRows]


def agent_queues(QM: np.ndarray, QM_ptr: np.ndarray, n_agents: int) -> tuple[np.ndarray, np.ndarray]:
    """(AQ_ptr, AQ): each agent's (queue, member index in the queue, QOK[m, 0]) rows, by queue."""
    q_of = np.repeat(np.arange(QM_ptr.shape[0] - 1, dtype=np.int64), np.diff(QM_ptr))
    local = np.arange(QM.shape[0], dtype=np.int64) - QM_ptr[q_of]
    agents = QM[:, QM_AGENT]
    order = np.lexsort((q_of, agents))
    AQ = np.stack([q_of[order], local[order], QM[order, 1]], axis=1).astype(np.int64).reshape(-1, 3)
    AQ_ptr = np.zeros(n_agents + 1, dtype=np.int64)
    AQ_ptr[1:] = np.cumsum(np.bincount(agents, minlength=n_agents))
    return AQ_ptr, AQ


def member_tables(cfg: RouterConfig, SK: np.ndarray, cap: np.ndarray, max_steps: int) -> MemberTables:
    agent_index = {a.id: i for i, a in enumerate(cfg.agents)}
    skill_index = {s: i for i, s in enumerate(cfg.skills)}
    rows = [queue_members(q, agent_index, skill_index, SK, cap, max_steps) for q in cfg.queues]
    QM_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    QM_ptr[1:] = np.cumsum([r.QM.shape[0] for r in rows])
    QM = np.concatenate([r.QM for r in rows]).reshape(-1, N_QM)
    AQ_ptr, AQ = agent_queues(QM, QM_ptr, len(cfg.agents))
    return MemberTables(AQ_ptr, AQ, QM_ptr, QM, np.concatenate([r.QM_f for r in rows]).reshape(-1, N_QM_F),
                        np.concatenate([r.QOK for r in rows]).reshape(-1, max_steps + 1), rows)


def step_rooms(n_queues: int, max_steps: int, ring: int, most: int) -> tuple[int, int, int, int]:
    """(events, timers, ring-order entries, offers) one step may need: ``ring`` the most members of a ring
    queue, ``most`` the most calls one agent takes at a time."""
    # Offers: the agents a ring-all call leaves, each taking as many calls as it has room for; an agent's
    # calls back in their queues, each ringing a ring-all queue.
    offers = 2 * (ring + 1) * (most + 1)
    step_events = 4 * n_queues + 32 + 4 * ring + 4 * offers  # an overflow chain visits each queue at most once
    # each queue of a chain: waits, steps, rings; the call's own max wait
    # empty queues (core_empty.py): a walk per queue, a check per call that waits
    timers = 2 * (n_queues * (4 + max_steps) + 9 + 2 * (ring + offers))
    return 2 * step_events, timers, max(ring, 1) * most, offers


def ring_members(Q_i: np.ndarray, QM_ptr: np.ndarray) -> int:
    """The most members of a ring-all or ring-progressively queue (0: none)."""
    ring = np.isin(Q_i[:, STRAT], (STRAT_RING_ALL, STRAT_RING_PROGRESSIVELY))
    return int(np.diff(QM_ptr)[ring].max(initial=0))


def _splice(a: np.ndarray, lo: int, hi: int, mid: np.ndarray) -> np.ndarray:
    return np.concatenate([a[:lo], mid.astype(a.dtype).reshape(-1, *a.shape[1:]), a[hi:]])


def swap_queue(S: CoreState, cfg: RouterConfig, qi: int, agent_index: dict, skill_index: dict) -> CoreState:
    """``S`` with queue ``qi``'s members those of ``cfg`` (the configuration after a change): pauses kept by
    agent, ring-progressively orders without the agents no longer members, the queue's heap rebuilt from
    its available members. Everything else (calls, timers, counters, LOGGED_IN) is left for the OP_MEMBER
    row that follows to settle. ``agent_index`` / ``skill_index``: the configuration's id -> index maps."""
    r = queue_members(cfg.queues[qi], agent_index, skill_index, S.SK, S.A_i[:, CAP], S.QOK.shape[1] - 1)
    lo, hi = int(S.QM_ptr[qi]), int(S.QM_ptr[qi + 1])
    old_agents = S.QM[lo:hi, QM_AGENT]
    new_agents = r.QM[:, QM_AGENT]
    where = dict(zip(new_agents.tolist(), range(new_agents.shape[0])))  # agent -> its new member index
    order = np.argsort(new_agents, kind="stable")  # pauses and call counts go with the agent (a new member
    at = np.searchsorted(new_agents[order], old_agents)  # starts with none): each old row's new one, if any
    old_i = np.flatnonzero(new_agents[order][np.minimum(at, max(new_agents.shape[0] - 1, 0))] == old_agents
                           ) if new_agents.shape[0] else np.zeros(0, dtype=np.int64)
    if old_i.shape[0]:
        new_i = order[at[old_i]]
        r.QM[new_i, QM_PAUSED] = S.QM[lo + old_i, QM_PAUSED]
        r.QM[new_i, QM_CALLS] = S.QM[lo + old_i, QM_CALLS]
        r.QM_f[new_i, QM_LAST_CALL] = S.QM_f[lo + old_i, QM_LAST_CALL]
        mark_pauses(r.QOK, r.QM)
    delta = r.QM.shape[0] - (hi - lo)
    QM_ptr = S.QM_ptr.copy()
    QM_ptr[qi + 1:] += delta
    QM = _splice(S.QM, lo, hi, r.QM)
    AQ_ptr, AQ = agent_queues(QM, QM_ptr, S.A_i.shape[0])
    Q_i = S.Q_i.copy()
    last = np.flatnonzero(S.QM[lo:hi, QM_POS] == S.Q_i[qi, RR_CURSOR])  # round-robin: the member last offered
    if last.shape[0] and int(old_agents[last[0]]) in where:  # the turn goes on from it, wherever it stands
        Q_i[qi, RR_CURSOR] = r.QM[where[int(old_agents[last[0]])], QM_POS]
    Q_i[qi, SCAN], Q_i[qi, BLOCKED] = r.scan, r.blocked
    Q_i[qi, STRAT], Q_i[qi, KEYKIND] = strategy_codes(cfg.queues[qi])  # before the heap takes its keys
    off, cap_old = int(S.Q_i[qi, AH_OFF]), int(S.Q_i[qi, AH_CAP])
    Q_i[qi + 1:, AH_OFF] += r.ah_cap - cap_old
    Q_i[qi, AH_CAP] = r.ah_cap
    AH_f, AH_i = np.zeros((r.ah_cap, 2)), np.zeros((r.ah_cap, 2), dtype=np.int64)
    Q_i[qi, AH_LEN] = 0 if r.scan else _fill_heap(S, Q_i[qi, KEYKIND], r, AH_f, AH_i)
    Q_i[qi, AH_HEAD] = 0
    S = S._replace(QM_ptr=QM_ptr, QM=QM, QM_f=_splice(S.QM_f, lo, hi, r.QM_f), QOK=_splice(S.QOK, lo, hi, r.QOK),
                   AQ_ptr=AQ_ptr, AQ=AQ, Q_i=Q_i, AH_f=_splice(S.AH_f, off, off + cap_old, AH_f),
                   AH_i=_splice(S.AH_i, off, off + cap_old, AH_i))
    _remap_ring_orders(S, qi, lo, old_agents, where, delta)
    return _with_rooms(S)


def _fill_heap(S: CoreState, kind: int, r: QueueRows, AH_f: np.ndarray, AH_i: np.ndarray) -> int:
    """Write the queue's available members into its segment, sorted (a sorted array is a heap, and for the
    longest idle the in-order list core_avail.py keeps); return how many.
    Their keys are those core_kernels.touch gave them when they became available (none changes since)."""
    agents = r.QM[:, QM_AGENT]
    m = np.flatnonzero(S.A_i[agents, DISPLAY] == DISP_AVAILABLE)
    a = agents[m]
    key = (np.zeros(m.shape[0]) if kind == 0 else S.A_i[a, ANSWERED].astype(np.float64) if kind == 1
           else S.A_f[a, TALK] if kind == 2 else -r.QM_f[m, QM_SKILL_SUM])
    rank = S.A_f[a, IDLE_RANK]
    order = np.lexsort((rank, key))
    n = m.shape[0]
    AH_f[:n, 0], AH_f[:n, 1] = key[order], rank[order]
    AH_i[:n, 0], AH_i[:n, 1] = a[order], m[order]
    return n


def _remap_ring_orders(S: CoreState, qi: int, lo: int, old_agents: np.ndarray, where: dict, delta: int) -> None:
    """Ring-progressively calls still to ring member rows: those of queue ``qi`` the new rows of the same
    agents, in the same order (agents no longer members dropped); those of later queues moved by ``delta``."""
    C_i = S.C_i
    live = np.flatnonzero((C_i[:, RO_LEN] > 0) & (C_i[:, STATE] == ST_OFFERED) & (C_i[:, QUEUE] >= qi))
    base = int(S.QM_ptr[qi])
    for slot in live.tolist():
        off, n = int(C_i[slot, RO_OFF]), int(C_i[slot, RO_LEN])
        if C_i[slot, QUEUE] > qi:
            S.RO[off:off + n] += delta
            continue
        kept = [base + where[int(old_agents[m - lo])] for m in S.RO[off:off + n].tolist()
                if int(old_agents[m - lo]) in where]
        S.RO[off:off + len(kept)] = kept
        C_i[slot, RO_LEN] = len(kept)


def _with_rooms(S: CoreState) -> CoreState:
    """``S`` with the room one step may need after its ring queues changed size (never less than before)."""
    most = int(S.A_i[:, CAP].max(initial=1))
    ev, tm, ro, of = step_rooms(S.Q_i.shape[0], S.QOK.shape[1] - 1, ring_members(S.Q_i, S.QM_ptr), max(1, most))
    S_i = S.S_i
    for col, need in ((S_EV_ROOM, ev), (S_TM_ROOM, tm), (S_RO_ROOM, ro), (S_OF_ROOM, of)):
        S_i[col] = max(int(S_i[col]), need)
    if S.EV_i.shape[0] < 4 * S_i[S_EV_ROOM]:  # the events one step may emit must fit a drained buffer
        n = max(4 * int(S_i[S_EV_ROOM]), 2 * S.EV_i.shape[0])  # doubling: queue_add after queue_add copies
        # the buffer O(log n) times, not once per queue (its room grows with the number of queues)
        EV_i, EV_f = np.zeros((n, S.EV_i.shape[1]), dtype=np.int64), np.zeros((n, S.EV_f.shape[1]))
        EV_i[:S.EV_i.shape[0]], EV_f[:S.EV_f.shape[0]] = S.EV_i, S.EV_f
        S = S._replace(EV_i=EV_i, EV_f=EV_f)
    return S


