"""The compiled simulation path: driver.py's loop on the compiled router core.

``simulate(..., engine="auto")`` takes this path when :func:`unsupported`
finds nothing in the scenario it cannot run: the router configuration is one
the compiled core runs (docs/routing.md §15), every agent is staffed for the
whole run and answers at once, and no queue offers callbacks or redials.
Otherwise the SimPy driver of driver.py runs, which handles everything.

SimPy stays the clock: one process steps from interval boundary to interval
boundary, and at each the compiled loop (fast_loop.py) plays every call-level
event up to it, in driver.py's exact order. Results are the same
``RunResult`` — and for the same scenario and seed, the same numbers as the
SimPy driver's (tests/sim/test_fast_sim.py checks them field by field).
"""

from __future__ import annotations

import math
import time
from types import SimpleNamespace

import numpy as np
import simpy

from busyhour.router.config import parse_config
from busyhour.router.core_compile import compile_notice
from busyhour.router.core_build import grow, unsupported as core_unsupported
from busyhour.router.core_layout import OP_DTYPE, OP_LOGIN, S_EV_ROOM, S_NEV
from busyhour.router.errors import ConfigError
from busyhour.router.fast import FastRouter

from .arrivals import build_arrivals
from .fast_loop import L_EVENTS, L_HSEQ, L_NQ, L_NOW, run_loop
from .measure import summarise_run
from .results import RunResult
from .routing import agent_ids, router_config
from .scenario import Scenario

__all__ = ["unsupported", "simulate_compiled"]

SIM_COMPILE_S = 40  # the loop's first compile, measured on a 2-core machine (for the notice)


def unsupported(scn: Scenario) -> list[str]:
    """What keeps ``scn`` off the compiled path, as ``key: reason`` lines (empty: it runs compiled)."""
    try:
        cfg = parse_config(router_config(scn))
    except ConfigError as exc:
        return [str(exc)]
    out = core_unsupported(cfg)
    for i, q in enumerate(cfg.queues):  # the loop answers one offer per call; these ring several at once
        if q.strategy in ("ring-all", "ring-progressively"):
            out.append(f"queues[{i}].strategy: {q.strategy!r} on the compiled simulation path")
    for i, t in enumerate(scn.teams):
        if t.shifts or t.breaks:
            out.append(f"teams[{i}]: shifts or breaks")
        if getattr(t.answer_delay, "value_s", None) != 0.0:
            out.append(f"teams[{i}].answer_delay: agents who do not answer at once")
    for i, q in enumerate(scn.queues):
        if q.redial.probability > 0:
            out.append(f"queues[{i}].redial: redials")
        if q.callback.accept_probability > 0 and q.callback.ewt_threshold_s < math.inf:
            out.append(f"queues[{i}].callback: callback offers")
    return out


def _room(S):
    """grow() plus a larger event buffer (a paused advance keeps its events until it finishes)."""
    S = grow(S)
    if S.S_i[S_NEV] + S.S_i[S_EV_ROOM] > S.EV_i.shape[0]:
        n = 2 * S.EV_i.shape[0]
        ev_i, ev_f = np.zeros((n, S.EV_i.shape[1]), dtype=np.int64), np.zeros((n, 2))
        ev_i[:S.EV_i.shape[0]], ev_f[:S.EV_f.shape[0]] = S.EV_i, S.EV_f
        S = S._replace(EV_i=ev_i, EV_f=ev_f)
    return S


def simulate_compiled(scn: Scenario, replication: int = 0, *, seed: int | None = None, progress=None) -> RunResult:
    """One replication on the compiled path (the caller has checked :func:`unsupported`);
    ``progress(fraction of the horizon)`` is called at every interval boundary."""
    from .driver import SimulationError

    seed = scn.seed if seed is None else int(seed)
    wall0 = time.perf_counter()
    arr = build_arrivals(scn, replication, seed)
    ids = agent_ids(scn)
    n, n_agents = arr.time_s.size, len(ids)
    fr = FastRouter(parse_config(router_config(scn, seed)), calls=256)  # grows as needed
    compile_notice("the simulation loop", [run_loop], SIM_COMPILE_S)
    logins = np.zeros(n_agents, dtype=OP_DTYPE)
    logins["op"], logins["agent"], logins["arg"] = OP_LOGIN, np.arange(n_agents), 1.0
    login_events = len(fr.submit(logins).events)  # the driver logs everyone in at t = 0, in agent order
    C_f = np.full((n, 7), math.nan)
    C_f[:, 0], C_f[:, 4], C_f[:, 5], C_f[:, 6] = arr.time_s, arr.handle_s, arr.acw_s, arr.patience_s
    C_i = np.zeros((n, 2), dtype=np.int64)
    C_i[:, 0] = -1
    queue = arr.queue.astype(np.int64)
    prio = np.array([q.priority for q in scn.queues], dtype=np.int64)[queue]
    factor = np.array([scn.teams[t].aht_factor for _, t in ids], dtype=np.float64)
    q_t, q_d = np.empty(2 * n + 8), np.empty(2 * n + 8, dtype=np.int64)
    H_t, H_i = np.empty(2 * n + 8), np.empty((2 * n + 8, 3), dtype=np.int64)
    offers = np.empty((n_agents + 8, 2), dtype=np.int64)
    L_i, L_f = np.zeros(7, dtype=np.int64), np.zeros(2)
    L_i[L_HSEQ], L_i[L_EVENTS] = n_agents, login_events
    stop = scn.horizon_s + scn.drain_s
    max_steps = 40 * (n + 1000) + 20 * n_agents
    bounds = [b for b in np.arange(1, math.ceil(stop / scn.interval_s) + 1) * scn.interval_s if b < stop] + [stop]

    def clock(env: simpy.Environment):
        for b in bounds:
            if b > env.now:
                yield env.timeout(b - env.now)
            while True:
                code = run_loop(fr._S, L_i, L_f, H_t, H_i, C_f, C_i, queue, prio, factor, q_t, q_d, offers,
                                float(b), max_steps)
                if code == 0:
                    break
                if code == 2:
                    raise SimulationError(f"more than {max_steps} loop turns; the router or driver is not "
                                          "making progress")
                fr._S = _room(fr._S)
            if progress is not None:
                progress(min(b / scn.horizon_s, 1.0))

    env = simpy.Environment()
    env.process(clock(env))
    env.run()
    nq = int(L_i[L_NQ])
    run = SimpleNamespace(
        scn=scn, replication=replication, seed=seed, n_first=n, arrival=C_f[:, 0], queue=queue, wait=C_f[:, 1],
        connect=C_f[:, 2], disp=C_i[:, 1], busy_end=C_f[:, 3], agent=C_i[:, 0], callback=np.zeros(n, dtype=bool),
        staffed_spans=[], staffed_from=[0.0] * n_agents, end_s=float(L_f[L_NOW]), q_t=q_t[:nq], q_d=q_d[:nq],
        agent_ids=[a for a, _ in ids], agent_team=[t for _, t in ids], events=int(L_i[L_EVENTS]))
    return summarise_run(run, time.perf_counter() - wall0)
