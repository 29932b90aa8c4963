"""The compiled simulation path: driver.py's loop on the compiled router core.

``simulate(..., engine="auto")`` takes this path when :func:`unsupported`
finds nothing in the scenario it cannot run: the router configuration is one
the compiled core runs (docs/routing.md §15), one offer at a time (no ring
strategies). Shifts, breaks, answer delays, redials, callback offers and
bursts run compiled.
Otherwise the SimPy driver of driver.py runs, which handles everything.

SimPy stays the clock: one process steps from interval boundary to interval
boundary, and at each the compiled loop (fast_loop.py) plays every call-level
event up to it, in driver.py's exact order. Results are the same
``RunResult`` — and for the same scenario and seed, the same numbers as the
SimPy driver's (tests/sim/test_fast_sim.py checks them field by field).
"""

from __future__ import annotations

import csv
import math
import time
from types import SimpleNamespace

import numpy as np

from busyhour.router.core_handle import run_batch_h
from busyhour.router.core_compile import cached, compile_notice, router_dispatchers, will_compile
from busyhour.router.core_build import grow
from busyhour.router.core_kernels import event_rows
from busyhour.router.core_layout import EVENT_DTYPE, MAX_NUMBER_CODES, S_EV_ROOM, S_NEV, S_NNUMBERS
from busyhour.router.errors import ConfigError
from busyhour.router.fast import Router

from .arrivals import build_arrivals
from .fast_layout import (
    AF_FROM, CF_ARR, CF_BEND, CF_CONN, CF_WAIT, CI_AGENT, CI_CB, CI_DISP, CI_QUEUE, L_EVENTS, L_HN, L_LOG, L_LOW,
    L_MAXSTEPS, L_NCALLS, L_NFIRST, L_NLOG, L_NOW, L_NQ, L_NSPAN, L_REFILL, L_STOP, Loop,
)
from .fast_loop import run_loop
from .fast_setup import fresh_core, loop_state, new_router, offers_callbacks, router_cfg, template
from .limits import estimate_calls
from .measure import summarise_run
from .stream_stats import StreamStats
from .results import RunResult
from .scenario import Scenario

__all__ = ["check_streaming", "choose_engine", "compile_pending", "unsupported", "simulate_compiled"]

#: The loop's first compile on a 2-core machine (for the notice): after the routing core's (its kernels
#: compiled or in numba's cache), and from nothing (2026-12-04, afternoon: 3.6-4.0 s and 12.3 s; about twice
#: that on the slower host of earlier days).
SIM_COMPILE_S = 4
SIM_ALONE_COMPILE_S = 13
#: Callback number codes the router can carry (core_layout.MAX_NUMBER_CODES): call c's callback is
#: code c + 1, so a run with callback offers holds at most that many calls.
CB_CODES = MAX_NUMBER_CODES
#: Expected calls per replication (limits.estimate_calls) above which a scenario with callback offers
#: stays on the SimPy driver: half the codes, so the random count cannot reach the bound.
CB_MAX_CALLS = CB_CODES // 2
_router_config = router_cfg  # the name tests and callers know
_ran = [False]  # the loop has run in this process (compiled, or loaded from numba's cache)


def unsupported(scn: Scenario) -> list[str]:
    """What keeps ``scn`` off the compiled path, as ``key: reason`` lines (empty: it runs compiled)."""
    try:
        cfg = _router_config(scn, None)
    except ConfigError as exc:
        return [str(exc)]
    out = []
    for i, q in enumerate(cfg.queues):  # the loop answers one offer per call; these ring several at once
        if q.strategy in ("ring-all", "ring-progressively"):
            out.append(f"queues[{i}].strategy: {q.strategy!r} on the compiled simulation path")
    if any(offers_callbacks(q) for q in scn.queues) and estimate_calls(scn) > CB_MAX_CALLS:
        out.append(f"queues[].callback: callback offers with more than {CB_MAX_CALLS:,} calls per replication "
                   f"(about {estimate_calls(scn):,.0f})")
    return out


class _CallbackNumbers:
    """The router's callback numbers by code as the SimPy driver names them: code c + 1 is ``cb-c``
    (code 0: none). Stands in for ``Router._numbers`` so events read back the driver's text."""

    def __getitem__(self, code: int) -> str:
        return f"cb-{code - 1}" if code > 0 else ""


def choose_engine(scn: Scenario, engine: str = "auto", *, collect_router_stats: bool = False) -> str:
    """The engine ``simulate`` runs ``scn`` on: ``"compiled"`` or ``"simpy"``. ``engine="compiled"`` on a
    scenario the compiled path cannot run raises ``SimulationError`` naming what keeps it off."""
    from .driver import ENGINES, SimulationError

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES[:3])}, got {engine!r}")
    if engine in ("simpy", "python"):
        return "simpy"
    why = unsupported(scn)
    if collect_router_stats:
        why.append("collect_router_stats: only the SimPy driver collects router statistics")
    if not why:
        return "compiled"
    if engine == "compiled":
        raise SimulationError("the compiled path cannot run this scenario: " + "; ".join(why[:3])
                              + (f" (and {len(why) - 3} more)" if len(why) > 3 else ""))
    return "simpy"


def check_streaming(scn: Scenario, engine: str = "auto", *, collect_router_stats: bool = False) -> None:
    """``SimulationError`` (one line) unless ``scn`` can run with streaming statistics on ``engine``: they are
    accumulated by the compiled path only."""
    from .driver import SimulationError

    if engine in ("simpy", "python"):
        raise SimulationError(f"streaming statistics run on the compiled path only, not engine={engine!r}")
    try:
        choose_engine(scn, "compiled", collect_router_stats=collect_router_stats)
    except SimulationError as exc:
        raise SimulationError("streaming statistics need the compiled path, which "
                              + str(exc).removeprefix("the compiled path ")) from None


def _room(S):
    """grow() plus a larger event buffer (a paused advance keeps its events until it finishes)."""
    S = grow(S)
    if S.S_i[S_NEV] + S.S_i[S_EV_ROOM] > S.EV_i.shape[0]:
        n = 2 * S.EV_i.shape[0]
        ev_i, ev_f = np.zeros((n, S.EV_i.shape[1]), dtype=np.int64), np.zeros((n, 2))
        ev_i[:S.EV_i.shape[0]], ev_f[:S.EV_f.shape[0]] = S.EV_i, S.EV_f
        S = S._replace(EV_i=ev_i, EV_f=ev_f)
    return S


class _Draws:
    """The loop's draw rows: row k hands out sampler k's values in BlockSampler's order, refilled from
    Python before a row runs dry; a row's unused values are ``DR[k, DI[k]:]`` (right-aligned: a row
    may hold fewer values than the array is wide). ``per_event[k]``: one step may draw once per router
    event from row k (answer delays; drawn in blocks of ``BLOCK``), else at most ``FEW`` times (a
    redial's values; drawn in blocks of ``FEW_BLOCK``: a replication makes tens of redials, not
    thousands). The block sizes change no value: a sampler's n draws are its first k draws and then
    its next n - k (tests/sim/test_sim_distributions.py), as BlockSampler's blocks of 1,024 are."""

    BLOCK, FEW, FEW_BLOCK = 1024, 4, 64

    def __init__(self, samplers: list[tuple], per_event: list[bool]) -> None:
        self.samplers, self.per_event = samplers, per_event
        self.carry = [np.empty(0)] * len(samplers)
        self.DR = np.zeros((max(len(samplers), 1), 1))
        self.DI = np.ones(max(len(samplers), 1), dtype=np.int64)  # every row empty
        self.DL = np.zeros(max(len(samplers), 1), dtype=np.int64)

    def refill(self, events_room: int) -> None:
        """Keep every row at least its low-water mark ahead of its next draw."""
        if not self.samplers:
            return
        self.DL[:len(self.samplers)] = [events_room if e else self.FEW for e in self.per_event]
        k_rows, width = self.DR.shape
        # twice the deepest low-water mark (a row is refilled after at least that many draws), and one
        # block at least: a row's first fill takes one block from each sampler, not two
        new_width = max(width, 2 * int(self.DL.max()), self.BLOCK if any(self.per_event) else self.FEW_BLOCK)
        DR = self.DR if new_width == width else np.zeros((k_rows, new_width))
        for k, (sample, rng) in enumerate(self.samplers):
            i = int(self.DI[k])
            if DR is self.DR and width - i >= self.DL[k]:
                continue
            block = self.BLOCK if self.per_event[k] else self.FEW_BLOCK
            want = new_width if self.per_event[k] else min(new_width, max(2 * int(self.DL[k]), block))
            parts, n = [self.DR[k, i:], self.carry[k]], width - i + self.carry[k].size
            while n < want:
                parts.append(sample(rng, block))
                n += block
            row = parts[2] if n == block and len(parts) == 3 else np.concatenate(parts)  # a first fill: one block
            DR[k, new_width - want:] = row[:want]
            self.carry[k] = row[want:]
            self.DI[k] = new_width - want
        self.DR = DR


def _grown(a: np.ndarray, n: int, fill=0) -> np.ndarray:
    out = np.full((n,) + a.shape[1:], fill, dtype=a.dtype)
    out[:a.shape[0]] = a
    return out


def _fit(P: Loop, S, draws: _Draws, logging: bool = False) -> Loop:
    """Room in the loop's arrays for the next step, and draw rows filled for it."""
    room = S.EV_i.shape[0] + 16
    L_i, rep = P.L_i, {}
    if logging and P.LOG_i.shape[0] - L_i[L_NLOG] < room:
        n = 2 * (int(L_i[L_NLOG]) + room)
        rep.update(LOG_i=_grown(P.LOG_i, n), LOG_f=_grown(P.LOG_f, n))
    if P.H_t.shape[0] - L_i[L_HN] < room:
        n = 2 * (int(L_i[L_HN]) + room)
        rep.update(H_t=_grown(P.H_t, n), H_i=_grown(P.H_i, n))
    if P.q_t.shape[0] - L_i[L_NQ] < room:
        n = 2 * (int(L_i[L_NQ]) + room)
        rep.update(q_t=_grown(P.q_t, n), q_d=_grown(P.q_d, n))
    if P.SP_i.shape[0] - L_i[L_NSPAN] < room:
        n = 2 * (int(L_i[L_NSPAN]) + room)
        rep.update(SP_i=_grown(P.SP_i, n), SP_f=_grown(P.SP_f, n))
    if L_i[L_NCALLS] >= P.C_f.shape[0]:
        n = 2 * P.C_f.shape[0]
        rep.update(C_f=_grown(P.C_f, n, math.nan), C_i=_grown(P.C_i, n))
    L_i[L_LOW] = room
    draws.refill(room)
    L_i[L_REFILL] = 0
    return P._replace(DR=draws.DR, DI=draws.DI, DL=draws.DL, **rep)


class _Log:
    """The event log: the loop copies the router's event rows, this writes them as driver.py does."""

    def __init__(self, fh, fr: Router) -> None:
        from .driver import LOG_HEADER

        self.fr, self.writer = fr, csv.writer(fh)
        self.writer.writerow(LOG_HEADER)

    def flush(self, P: Loop) -> None:
        from .driver import log_rows

        n = int(P.L_i[L_NLOG])
        rows = np.empty(n, dtype=EVENT_DTYPE)
        event_rows(P.LOG_i, P.LOG_f, 0, rows)  # the router's own rows, so the same pass reads them out
        self.writer.writerows(log_rows(self.fr.to_events(rows)))
        P.L_i[L_NLOG] = 0


def simulate_compiled(scn: Scenario, replication: int = 0, *, seed: int | None = None, progress=None,
                      event_log=None, streaming_stats: bool = False) -> RunResult:
    """One replication on the compiled path (the caller has checked :func:`unsupported`);
    ``progress(fraction of the horizon)`` is called at every interval boundary; ``event_log``: a CSV
    of every router event, the SimPy driver's rows; ``streaming_stats``: accumulate the statistics at
    every interval boundary (stream_stats.py) instead of from every call's row at the end."""
    fh = open(event_log, "w", newline="", encoding="utf-8") if event_log else None
    try:
        return _simulate(scn, replication, seed, progress, fh, streaming_stats)
    finally:
        if fh is not None:
            fh.close()


def sim_compile_estimate_s() -> float:
    """Seconds the loop's first compile takes here: less when the routing core's kernels it calls are compiled
    already (the batch entry calls them all; a run without statistics never compiles the statistics' entries)."""
    return SIM_COMPILE_S if cached([run_batch_h]) else SIM_ALONE_COMPILE_S


def compile_pending(scn: Scenario, engine: str = "auto") -> bool:
    """Whether running ``scn`` on ``engine`` would first compile what numba's disk cache lacks: the loop, or
    for the SimPy driver every entry of the routing core (its first Router compiles them all:
    core_compile.prepare_router). False where that cannot be told (the run says why)."""
    from .driver import SimulationError

    try:
        eng = choose_engine(scn, engine)
    except (SimulationError, ValueError):
        return False
    return will_compile([run_loop] if eng == "compiled" else router_dispatchers())


def _simulate(scn: Scenario, replication: int, seed, progress, log_fh, streaming: bool = False) -> RunResult:
    from .driver import SimulationError

    seed = scn.seed if seed is None else int(seed)
    wall0 = time.perf_counter()
    arr = build_arrivals(scn, replication, seed)
    tpl = template(scn, seed)
    S = fresh_core(tpl)
    S.S_i[S_NNUMBERS] = CB_CODES
    if not _ran[0]:  # numba's check of its cache costs more than a short run's setup: once a process ran it, skip
        compile_notice("the simulation loop", [run_loop], sim_compile_estimate_s)
    P, samplers, n_answer = loop_state(tpl, arr, replication, seed, small_queue_log=streaming)
    del arr  # its columns are in the loop's call rows now
    feed = _Feed(StreamStats(scn, len(tpl.agent_ids))) if streaming else None
    draws = _Draws(samplers, [k < n_answer for k in range(len(samplers))])
    log = None
    if log_fh is not None:
        fr = new_router(tpl.config)
        fr._numbers = _CallbackNumbers()  # OP_CALLBACK rows carry code c + 1 for call c: the driver's "cb-c"
        log = _Log(log_fh, fr)
        P.L_i[L_LOG] = 1
    stop = float(P.L_f[L_STOP])
    if progress is None and feed is None:  # one call to the end: stopping at a boundary and going on changes nothing
        bounds = [stop]
    else:
        bounds = [b for b in np.arange(1, math.ceil(stop / scn.interval_s) + 1) * scn.interval_s if b < stop] + [stop]
    P = _fit(P, S, draws, log is not None)
    for b in bounds:
        P.L_f[L_STOP] = b
        while True:
            code = run_loop(S, P)
            _ran[0] = True
            if log is not None:
                log.flush(P)
            if code == 0:
                break
            if code == 2:
                raise SimulationError(f"more than {P.L_i[L_MAXSTEPS]} loop turns; the router or driver "
                                      "is not making progress")
            if code == 4:
                raise SimulationError(f"more than {CB_CODES - 1:,} calls with callback offers; run this "
                                      "scenario with engine='simpy'")
            S = _room(S)
            P = _fit(P, S, draws, log is not None)
        if feed is not None:
            feed.take(P)
        if progress is not None:
            progress(min(b / scn.horizon_s, 1.0))
    n, nq, nsp = int(P.L_i[L_NCALLS]), int(P.L_i[L_NQ]), int(P.L_i[L_NSPAN])
    n_agents = len(tpl.agent_ids)
    if feed is not None:
        end_s = float(P.L_f[L_NOW])
        feed.take(P, end_s)
        return feed.stats.result(replication=replication, seed=seed,
                                 staffed_spans=(P.SP_i[:nsp], P.SP_f[:nsp, 0], P.SP_f[:nsp, 1]),
                                 staffed_from=P.A_f[:n_agents, AF_FROM], end_s=end_s,
                                 agent_ids=list(tpl.agent_ids), agent_team=list(tpl.agent_team), calls=n,
                                 events=int(P.L_i[L_EVENTS]), wall0=wall0, engine="compiled")
    run = SimpleNamespace(
        scn=scn, replication=replication, seed=seed, n_first=int(P.L_i[L_NFIRST]), arrival=P.C_f[:n, CF_ARR],
        queue=P.C_i[:n, CI_QUEUE], wait=P.C_f[:n, CF_WAIT], connect=P.C_f[:n, CF_CONN], disp=P.C_i[:n, CI_DISP],
        busy_end=P.C_f[:n, CF_BEND], agent=P.C_i[:n, CI_AGENT], callback=P.C_i[:n, CI_CB] != 0,
        staffed_spans=(P.SP_i[:nsp], P.SP_f[:nsp, 0], P.SP_f[:nsp, 1]), staffed_from=P.A_f[:n_agents, AF_FROM],
        end_s=float(P.L_f[L_NOW]),
        q_t=P.q_t[:nq], q_d=P.q_d[:nq], agent_ids=list(tpl.agent_ids), agent_team=list(tpl.agent_team),
        events=int(P.L_i[L_EVENTS]))
    return summarise_run(run, wall0, engine="compiled")


class _Feed:
    """Hands the loop's finished calls and queue-length changes to a StreamStats at each boundary: the
    calls from the first not yet handed over (``lo``) on, the queue changes since the last boundary
    (then the loop writes them from row 0 again)."""

    def __init__(self, stats: StreamStats) -> None:
        self.stats, self.lo = stats, 0
        self.handed = np.zeros(0, dtype=bool)  # call rows from lo on: handed over already

    def take(self, P: Loop, end_s: float | None = None) -> None:
        nq = int(P.L_i[L_NQ])
        self.stats.add_queue_changes(P.q_t[:nq], P.q_d[:nq])
        P.L_i[L_NQ] = 0
        lo, n, n_first = self.lo, int(P.L_i[L_NCALLS]), int(P.L_i[L_NFIRST])
        handed = np.zeros(n - lo, dtype=bool)
        handed[:self.handed.size] = self.handed
        sel = ~handed if end_s is not None else (P.C_i[lo:n, CI_DISP] != 0) & ~handed
        idx = np.nonzero(sel)[0] + lo
        C_f, C_i = P.C_f, P.C_i
        self.stats.add_calls(C_f[idx, CF_ARR], C_i[idx, CI_QUEUE], C_f[idx, CF_WAIT], C_f[idx, CF_CONN],
                             C_i[idx, CI_DISP], C_f[idx, CF_BEND], C_i[idx, CI_AGENT], C_i[idx, CI_CB] != 0,
                             idx >= n_first, end_s)
        handed |= sel
        pending = np.nonzero(~handed)[0]
        skip = int(pending[0]) if pending.size else handed.size
        self.lo, self.handed = lo + skip, handed[skip:].copy()
