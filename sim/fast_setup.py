"""The compiled loop's arrays at t = 0 (fast.py): what a scenario fixes, built once; what a replication draws.

A replication of the compiled path starts from state that depends only on
the scenario and the router seed — the built router core (agents, queues,
member heaps, escalation tables), the presence schedule on the loop's heap,
the agents' teams and talk-time factors, the queues' redial and callback
settings — plus what it draws: its callers (arrivals.py) and its samplers.
:func:`template` builds the first part once per ``(scenario, seed)`` and keeps it
on the scenario object (``scenario.run_cache``; the last one built is also
kept, so replications that each come as an equal copy, as in a process
pool's workers, share it)
and :func:`loop_state` copies its arrays for each replication (numpy
copies, no parsing or Python loops over agents), then lays the
replication's callers over them. The copy is the state a fresh build gives,
array for array, so results do not depend on which replication built it
(tests/sim/test_fast_setup.py).

Cost per replication: O(calls + agents + schedule) numpy copies.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numpy as np

from busyhour.router.config import RouterConfig, parse_config
from busyhour.router.core_build import build
from busyhour.router.core_layout import N_EV_I, CoreState
from busyhour.router.fast import Router

from .fast_layout import (
    A_BACK, A_BREAK, A_LOGIN, A_LOGOUT, AF_BUSY, AF_CLOSED, AF_FACTOR, AI_TEAM, CF_ACW, CF_ARR, CF_CBU, CF_HANDLE,
    CF_PAT, CF_REDU, CI_AGENT, CI_ATTEMPT, CI_QUEUE, L_HN, L_HSEQ, L_INSTANT, L_MAXSTEPS, L_NCALLS, L_NFIRST,
    L_R_BREAK, L_R_SHIFT, L_STOP, N_L_I, QI_ROW, Loop,
)
from .routing import agent_ids, router_config
from .scenario import Scenario, run_cache
from .schedule import REDIAL_DRAWS, presence_schedule, redial_samplers, redial_streams
from .streams import streams

__all__ = ["REASONS", "Template", "fresh_core", "loop_state", "new_router", "offers_callbacks",
           "router_cfg", "template"]

#: The not-ready reasons the loop uses (L_R_BREAK, L_R_SHIFT), registered in this order.
REASONS = ("break", "shift-end")


class Template(NamedTuple):
    """What a scenario and router seed fix for every replication of the compiled path."""

    scn: Scenario
    seed: int
    config: RouterConfig
    core: CoreState  # the router core as built, with REASONS registered
    reason_codes: tuple[int, int]  # REASONS' codes
    sizes: tuple[int, int, int]  # the core's room at the start: calls, timers, events (it grows when short)
    agent_ids: tuple[str, ...]
    agent_team: tuple[int, ...]
    A_i: np.ndarray
    A_f: np.ndarray
    Q_i: np.ndarray  # redial draw rows (QI_ROW) still -1: a replication's samplers set them
    Q_f: np.ndarray
    H_t: np.ndarray  # the presence schedule as a valid heap, (time, sequence) order
    H_i: np.ndarray


_lock = threading.Lock()
_last: list = [None, None]  # the last (scenario, seed, RouterConfig) parsed, the last Template built


RUN_CACHE_ENTRIES = 8  # what one scenario object keeps (a sweep over many router seeds must not grow it for ever)


def _keep(own: dict, key: tuple, value) -> None:
    """``own[key] = value``, emptying ``own`` first when it holds :data:`RUN_CACHE_ENTRIES` entries."""
    if len(own) >= RUN_CACHE_ENTRIES:
        own.clear()
    own[key] = value


def router_cfg(scn: Scenario, seed: int | None) -> RouterConfig:
    """The parsed router configuration of ``scn`` with ``seed`` (``scn.seed`` when None: the rules are the
    same for any seed), kept on the scenario (``run_cache``), or the last one parsed for an equal scenario."""
    seed = scn.seed if seed is None else seed
    own = run_cache(scn)
    cfg = own.get(("router_cfg", seed))
    if cfg is not None:
        return cfg
    last = _last[0]  # one read: another thread may replace it meanwhile
    if last is not None and last[1] == seed and _same(last[0], scn):
        cfg = last[2]
    else:
        cfg = parse_config(router_config(scn, seed))
        _last[0] = (scn, seed, cfg)
    _keep(own, ("router_cfg", seed), cfg)
    return cfg


def _same(a: Scenario, b: Scenario) -> bool:
    """The same scenario object, or an equal one (a process-pool worker gets each replication's scenario
    as a fresh copy)."""
    return a is b or a == b


def offers_callbacks(q) -> bool:
    return q.callback.accept_probability > 0 and q.callback.ewt_threshold_s < math.inf


def template(scn: Scenario, seed: int) -> Template:
    """The :class:`Template` of ``scn`` with router seed ``seed``: kept on the scenario (``run_cache``, so a
    program alternating between scenarios builds each once), else the last one built if it is for an
    equal scenario (a process pool's worker gets each job's scenario as a fresh copy), else built."""
    own = run_cache(scn)
    tpl = own.get(("template", seed))
    if tpl is not None:
        return tpl
    tpl = _last[1]
    if tpl is None or tpl.seed != seed or not _same(tpl.scn, scn):
        with _lock:
            tpl = _build(scn, seed)
            _last[1] = tpl
    _keep(own, ("template", seed), tpl)
    return tpl


def _build(scn: Scenario, seed: int, sizes: tuple[int, int, int] = (1024, 4096, 1024)) -> Template:
    """The template with room for ``sizes`` (room changes no result: calls take the same slots — a grown
    free stack pops them in the same order —, the call-id table answers the same, a fuller event buffer
    only pauses the loop sooner; tests/sim/test_fast_setup.py). 1,024 call slots make the call-id
    table (4 rows a slot) clear its tombstones about once per 2,000 calls rather than every 500; 1,024
    event rows (or four steps' worth, if more) are plenty, as the loop reacts to every step's events
    before the next, and every loop array keeps that many rows free (fast._fit), so fewer are cheaper."""
    cfg = router_cfg(scn, seed)
    fr = new_router(cfg, sizes)
    ids = agent_ids(scn)
    n_agents = len(ids)
    A_i = np.zeros((max(n_agents, 1), 3), dtype=np.int64)
    A_f = np.full((max(n_agents, 1), 4), math.nan)
    A_i[:n_agents, AI_TEAM] = [t for _, t in ids]
    A_f[:n_agents, AF_FACTOR] = [scn.teams[t].aht_factor for _, t in ids]
    A_f[:, AF_BUSY] = A_f[:, AF_CLOSED] = 0.0
    Q_i, Q_f = np.zeros((len(scn.queues), 4), dtype=np.int64), np.zeros((len(scn.queues), 3))
    for qi, q in enumerate(scn.queues):
        Q_i[qi] = q.priority, q.redial.max_attempts, -1, offers_callbacks(q)
        Q_f[qi] = q.redial.probability, q.callback.accept_probability, q.callback.ewt_threshold_s
    sched = presence_schedule(scn, (A_LOGIN, A_LOGOUT, A_BREAK, A_BACK))
    m = len(sched)
    order = sorted(range(m), key=lambda j: (sched[j][0], j))  # (time, sequence): a valid heap
    H_t, H_i = np.zeros(m), np.zeros((m, 4), dtype=np.int64)
    H_t[:] = [sched[j][0] for j in order]
    H_i[:, 0] = [j + 1 for j in order]
    H_i[:, 1] = [sched[j][1] for j in order]
    H_i[:, 2] = [sched[j][2] for j in order]
    return Template(scn, seed, cfg, fr._S, tuple(fr.reason_code(r) for r in REASONS), sizes,
                    tuple(a for a, _ in ids), tuple(t for _, t in ids), A_i, A_f, Q_i, Q_f, H_t, H_i)


def new_router(cfg: RouterConfig, sizes: tuple[int, int, int] = (1024, 4096, 1024)) -> Router:
    """The loop's router: ``cfg`` built with room for ``sizes`` calls, timers and events (it grows when
    short), REASONS registered."""
    fr = Router(cfg, calls=sizes[0], collect_stats=False, notice=False)  # the loop's own notice (fast.py)
    if sizes != (fr._S.C_i.shape[0], fr._S.TM_t.shape[0], fr._S.EV_i.shape[0]):
        fr._S = build(cfg, *sizes)
    for r in REASONS:
        fr.reason_code(r)
    return fr


def fresh_core(tpl: Template) -> CoreState:
    """A copy of the template's router core: the state ``build`` gives, for one replication to change."""
    return CoreState(*(a.copy() if isinstance(a, np.ndarray) else a for a in tpl.core))


def loop_state(tpl: Template, arr, replication: int, seed: int, *, small_queue_log: bool = False
               ) -> tuple[Loop, list[tuple], int]:
    """The loop's arrays at t = 0 for one replication: its first attempts ``arr``, the presence schedule on
    the heap; and its samplers (answer delays first, then each redialling queue's) with how many are
    answer delays. The heap and the staffed spans start with room for the schedule and twice the
    router's event rows, the queue-length log for two changes of every call row (first attempts and room
    for redials) and the free rows fast._fit keeps — or only that room with ``small_queue_log`` (it is
    emptied at every interval boundary); all grow when short (fast._fit)."""
    scn = tpl.scn
    n, n_agents = arr.time_s.size, len(tpl.agent_ids)
    rows = n + n // 8 + 16  # first attempts, and room for redials before the rows grow
    C_f = np.full((rows, 9), math.nan)
    C_f[:n, CF_ARR], C_f[:n, CF_HANDLE], C_f[:n, CF_ACW] = arr.time_s, arr.handle_s, arr.acw_s
    C_f[:n, CF_PAT], C_f[:n, CF_REDU], C_f[:n, CF_CBU] = arr.patience_s, arr.redial_u, arr.callback_u
    C_i = np.zeros((rows, 5), dtype=np.int64)
    C_i[:, CI_AGENT], C_i[:, CI_ATTEMPT], C_i[:n, CI_QUEUE] = -1, 1, arr.queue
    samplers, T_i = [], np.full(max(len(scn.teams), 1), -1, dtype=np.int64)
    delayed = [tm for tm in scn.teams if getattr(tm.answer_delay, "value_s", None) != 0.0]
    redialling = [q for q in scn.queues if q.redial.probability > 0]
    gens = iter(streams(seed, replication, [("answer", tm.name) for tm in delayed]
                        + [w for q in redialling for w in redial_streams(q)]))  # taken in this order
    for ti, tm in enumerate(scn.teams):
        if getattr(tm.answer_delay, "value_s", None) != 0.0:
            T_i[ti] = len(samplers)
            samplers.append((tm.answer_delay.sample, next(gens)))
    n_answer = len(samplers)
    Q_i = tpl.Q_i.copy()
    for qi, q in enumerate(scn.queues):
        if q.redial.probability > 0:
            Q_i[qi, QI_ROW] = len(samplers)
            samplers.extend(redial_samplers(scn, q, seed, replication, [next(gens) for _ in REDIAL_DRAWS]))
    m = tpl.H_t.size
    room = 2 * (tpl.core.EV_i.shape[0] + 16)  # fast._fit keeps half of that free in each array
    H_t, H_i = np.zeros(m + room), np.zeros((m + room, 4), dtype=np.int64)
    H_t[:m], H_i[:m] = tpl.H_t, tpl.H_i
    L_i, L_f = np.zeros(N_L_I, dtype=np.int64), np.zeros(3)
    L_i[L_HN] = L_i[L_HSEQ] = m
    L_i[L_NCALLS] = L_i[L_NFIRST] = n
    L_i[L_INSTANT] = int(all(T_i < 0))
    L_i[L_MAXSTEPS] = 40 * (n + 1000) + 20 * m
    L_i[L_R_BREAK], L_i[L_R_SHIFT] = tpl.reason_codes
    L_f[L_STOP] = scn.horizon_s + scn.drain_s
    k = max(len(samplers), 1)
    # two changes a call for every row of C_f, and the free rows fast._fit keeps: no return to grow it
    nq_log = room if small_queue_log else 2 * rows + room // 2
    P = Loop(L_i, L_f, H_t, H_i, C_f, C_i, tpl.A_i.copy(), tpl.A_f.copy(), Q_i, tpl.Q_f.copy(), T_i,
             np.zeros((k, 1)), np.ones(k, dtype=np.int64), np.zeros(k, dtype=np.int64),
             np.zeros(nq_log), np.zeros(nq_log, dtype=np.int64), np.zeros(m + room, dtype=np.int64),
             np.zeros((m + room, 2)), np.zeros((n_agents + 8, 2), dtype=np.int64), np.zeros((1, N_EV_I), dtype=np.int64),
             np.zeros((1, 2)))
    return P, samplers, n_answer
