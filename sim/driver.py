"""The driver: SimPy's clock and event list around the real routing engine.

Specification
-------------
* **One SimPy process**, no process per call. Calls are rows of plain lists
  (index = call id, which is also the router's call id). The process waits
  (``env.timeout``) until the earliest of: the next arrival (precomputed,
  arrivals.py), the router's ``next_deadline()`` (ring timeouts, wrap-up,
  escalation, max wait…) and the first entry of the driver's own heap of
  sim-side events (an agent answers, a call ends, patience runs out, a
  redial, a shift or break edge).
* **Ordering invariant.** At equal times: router timers first (``advance``),
  then the heap in ``(time, sequence)`` order — equal keys FIFO — then the
  arrival. So the same scenario and seed give the same events, byte for byte.
* **Every routing decision is the engine's.** The driver only reacts to its
  events: ``CALL_OFFERED``/``CALLBACK_OFFERED`` → ``offer_accept`` after the
  team's answer delay; ``CALL_CONNECTED`` → ``call_release`` after the
  caller's talk time × the team's ``aht_factor`` with ``wrap_up_s`` = the
  caller's after-call work; patience expiry → ``call_abandon`` if the call
  has not connected; ``CALL_QUEUED`` with a callback offer → ``position()``
  and, if ``ewt_s`` exceeds the threshold and the caller accepts,
  ``request_callback``; an abandon → a redial attempt with probability p.
* **Shifts and breaks.** Shift start: ``agent_login(ready=True)``; break:
  ``agent_not_ready(…, "break")`` then ``agent_ready`` (on a busy agent the
  router applies it when the call ends); shift end: ``agent_logout`` — which
  the router refuses while a call is connected, so a busy agent is set
  ``NOT_READY("shift-end")`` (no new offers) and logged out when its call ends.
* **Measures come from the router's events** (``CALL_CONNECTED`` value =
  wait, ``CALL_ENDED`` disposition), so simulation and production agree.
* **Bounded.** The run stops at ``horizon_s + drain_s`` (calls still waiting
  are reported as ``other``) or after ``max_steps`` loop turns (an error).

Cost per call: at most 3 SimPy timeouts (arrival, release, wrap-up end; fewer
when times coincide), 3 router calls (arrive, accept, release) plus timer
``advance`` s, O(1) Python per router event.
"""

from __future__ import annotations

import csv
import heapq
import math
import time
from pathlib import Path

import simpy

from busyhour.router.codes import EventKind as _EK

from busyhour.sim.arrivals import BlockSampler, build_arrivals
from busyhour.sim.measure import summarise_run
from busyhour.sim.results import ABANDONED, COMPLETED, OTHER, RunResult
from busyhour.sim.routing import agent_ids, router_config
from busyhour.sim.scenario import Scenario
from busyhour.sim.schedule import presence_schedule, redial_samplers
from busyhour.sim.streams import stream

__all__ = ["SimulationError", "simulate"]

INF = math.inf
# Sim-side heap actions.
_ACCEPT, _RELEASE, _PATIENCE, _REDIAL, _CB_CHECK, _LOGIN, _LOGOUT, _BREAK, _BACK = range(9)
# Router event kinds the driver reacts to (module constants: fast identity tests).
_ARRIVED, _QUEUED, _OFFERED, _CB_OFFERED, _CONNECTED, _ENDED, _AGENT_STATE = (
    getattr(_EK, n) for n in ("CALL_ARRIVED", "CALL_QUEUED", "CALL_OFFERED", "CALLBACK_OFFERED", "CALL_CONNECTED",
                              "CALL_ENDED", "AGENT_STATE"))


class SimulationError(RuntimeError):
    """The run broke an invariant (e.g. more loop turns than its bound)."""


ENGINES = ("auto", "compiled", "simpy", "python")  # "python": the SimPy driver's former name
#: The event log's columns (``--event-log``); both drivers write the same rows.
LOG_HEADER = ("seq", "time_s", "kind", "call_id", "agent_id", "queue", "detail", "value")


def log_rows(evs):
    """Event-log rows of router ``Event`` records."""
    return ((e.seq, repr(e.time_s), e.kind.name, e.call_id, e.agent_id, e.queue, e.detail, e.value) for e in evs)


def simulate(scn: Scenario, replication: int = 0, *, seed: int | None = None,
             event_log: str | Path | None = None, collect_router_stats: bool = False,
             engine: str = "auto", progress=None, streaming_stats: bool = False) -> RunResult:
    """Run one replication of ``scn`` and return its ``RunResult``.

    ``engine``: ``"auto"`` runs the compiled path (fast.py) when it can run the scenario
    (:func:`busyhour.sim.fast.unsupported` is empty), else this SimPy driver on :class:`Router`;
    ``"compiled"`` insists on the compiled path (``SimulationError`` naming what keeps the scenario
    off it); ``"simpy"`` (or ``"python"``) runs this driver. Both give the same numbers.
    ``event_log``: CSV of every router event. ``progress(fraction)``
    is called as simulated time passes (fraction of the horizon, at most ~50 calls; it cannot change the run).
    ``streaming_stats``: accumulate the statistics as calls finish instead of from every call's row at the
    end (sim/stream_stats.py: the same figures — wait percentiles within 0.55 % —, for long runs);
    compiled path only (``SimulationError`` on a scenario it cannot run)."""
    from busyhour.router import Router

    from busyhour.sim.fast import check_streaming, choose_engine, simulate_compiled

    if streaming_stats:
        check_streaming(scn, engine, collect_router_stats=collect_router_stats)
    if choose_engine(scn, engine, collect_router_stats=collect_router_stats) == "compiled":
        return simulate_compiled(scn, replication, seed=seed, progress=progress, event_log=event_log,
                                 streaming_stats=streaming_stats)
    seed = scn.seed if seed is None else int(seed)
    wall0 = time.perf_counter()
    arr = build_arrivals(scn, replication, seed)
    router = Router.from_config(router_config(scn, seed), collect_stats=collect_router_stats)
    run = _Run(scn, replication, seed, arr, router)
    run.progress = progress
    env = simpy.Environment()
    log_fh = open(event_log, "w", newline="", encoding="utf-8") if event_log else None
    try:
        run.writer = csv.writer(log_fh) if log_fh else None
        if run.writer:
            run.writer.writerow(LOG_HEADER)
        env.process(run.loop(env))
        env.run()
    finally:
        if log_fh:
            log_fh.close()
    return summarise_run(run, wall0)


class _Run:
    """Mutable state of one run; ``loop`` is the SimPy process."""

    def __init__(self, scn: Scenario, replication: int, seed: int, arr, router) -> None:
        from busyhour.router import CallState, OfferError

        self.waiting_state = CallState.WAITING
        self.offer_error = OfferError
        self.scn, self.replication, self.seed, self.router = scn, replication, seed, router
        self.writer = None
        self.progress = None
        self.n_first = n = arr.time_s.size
        # Per-attempt rows (lists: fast scalar access); redials are appended.
        self.arrival = arr.time_s.tolist()
        self.queue = arr.queue.tolist()
        self.handle = arr.handle_s.tolist()
        self.acw = arr.acw_s.tolist()
        self.patience = arr.patience_s.tolist()
        self.redial_u = arr.redial_u.tolist()
        self.cb_u = arr.callback_u.tolist()
        self.attempt = [1] * n
        self.wait = [math.nan] * n
        self.connect = [math.nan] * n
        self.busy_end = [math.nan] * n
        self.agent = [-1] * n
        self.disp = [0] * n
        self.callback = [False] * n
        self.qnames = [q.name for q in scn.queues]
        self.qspecs = scn.queues
        self.cb_queue = [q.callback.accept_probability > 0 and q.callback.ewt_threshold_s < INF for q in scn.queues]
        # Agents.
        ids = agent_ids(scn)
        self.agent_ids = [a for a, _ in ids]
        self.agent_team = [t for _, t in ids]
        self.agent_index = {a: i for i, (a, _) in enumerate(ids)}
        self.factor = [scn.teams[t].aht_factor for _, t in ids]
        self.answer = [None if _is_zero(tm.answer_delay) else BlockSampler(tm.answer_delay.sample, stream(seed, replication, "answer", tm.name))
                       for tm in scn.teams]
        self.all_instant = all(a is None for a in self.answer)
        self.staffed_from = [math.nan] * len(ids)
        self.staffed_spans: list[tuple[int, float, float]] = []
        self.pending_logout: set[int] = set()  # on a call at shift end
        self.pending_break: set[int] = set()  # on a call at break start
        self.busy_until = [0.0] * len(ids)  # end of the agent's last call's wrap-up
        self.closed_at = [0.0] * len(ids)  # end of the agent's last staffed span
        # Redials: per queue, delay and attempt draws from the queue's redial stream.
        self.redial_draw = [tuple(BlockSampler(s, g) for s, g in redial_samplers(scn, q, seed, replication))
                            for q in scn.queues]
        # Queue length changes (time, ±1) for Little's law and max queue.
        self.q_t: list[float] = []
        self.q_d: list[int] = []
        self.heap: list[tuple] = []
        self.hseq = 0
        self.events = 0
        self.end_s = 0.0
        self._schedule_presence()

    def push(self, t: float, action: int, a: int, b: int = 0) -> None:
        self.hseq += 1
        heapq.heappush(self.heap, (t, self.hseq, action, a, b))

    def _schedule_presence(self) -> None:
        for t, action, ai in presence_schedule(self.scn, (_LOGIN, _LOGOUT, _BREAK, _BACK)):
            self.push(t, action, ai)

    # ------------------------------------------------------------ the process
    def loop(self, env: simpy.Environment):
        r, heap, pop = self.router, self.heap, heapq.heappop
        next_deadline, advance, react, release, act = r.next_deadline, r.advance, self.react, r.call_release, self.act
        arr_t, n_first, acw, arrive = self.arrival, self.n_first, self.acw, self.arrive
        stop = self.scn.horizon_s + self.scn.drain_s
        max_steps = 40 * (n_first + 1000) + 20 * len(heap)
        i, now, timeout = 0, 0.0, env.timeout
        tick, mark_s, step_s = self.progress, self.scn.horizon_s / 50, self.scn.horizon_s / 50
        for _ in range(max_steps):
            ta = arr_t[i] if i < n_first else INF
            th = heap[0][0] if heap else INF
            td = next_deadline()
            t = min(ta, th, td)
            if t == INF or t > stop:
                break
            if t > now:
                yield timeout(t - now)
                now = t
                if now >= mark_s and tick is not None:
                    tick(min(now / self.scn.horizon_s, 1.0))
                    mark_s = (now // step_s + 1) * step_s
            if td == t:
                react(advance(t), t)
            elif th == t:
                _, _, action, c, b = pop(heap)
                if action == _RELEASE:  # the common case, inlined
                    react(release(t, c, wrap_up_s=acw[c]), t)
                else:
                    act(action, c, b, t)
            else:
                arrive(i, t)
                i += 1
        else:
            raise SimulationError(f"more than {max_steps} loop turns; the router or driver is not making progress")
        self.end_s = now

    def arrive(self, c: int, t: float) -> None:
        self.q_t.append(t)
        self.q_d.append(1)
        evs = self.router.call_arrive(t, c, self.qnames[self.queue[c]], priority=self.qspecs[self.queue[c]].priority)
        offered = self.react(evs, t)
        p = self.patience[c]
        if p < INF and not (offered and self.all_instant):
            self.push(t + p, _PATIENCE, c)

    def act(self, action: int, c: int, b: int, t: float) -> None:
        r = self.router
        if action == _ACCEPT:
            self.accept(c, self.agent_ids[b], t)
        elif action == _RELEASE:
            self.react(r.call_release(t, c, wrap_up_s=self.acw[c]), t)
        elif action == _PATIENCE:
            if self.disp[c] == 0 and self.connect[c] != self.connect[c] and not self.callback[c]:
                self.react(r.call_abandon(t, c), t)
        elif action == _REDIAL:
            self.redial(c, t)
        elif action == _CB_CHECK:
            self.callback_check(c, t)
        else:
            self.presence(action, c, t)

    def presence(self, action: int, a: int, t: float) -> None:
        r, aid = self.router, self.agent_ids[a]
        if action == _LOGIN:
            if r.agent_state(aid) == "LOGGED_OUT":
                self.react(r.agent_login(t, aid, ready=True), t)
            else:  # a shift starts before the previous one's last call ended
                self.pending_logout.discard(a)
                self.react(r.agent_ready(t, aid), t)
            if self.staffed_from[a] != self.staffed_from[a]:  # else still staffed: on the last shift's call
                self.staffed_from[a] = t
        elif action == _BACK:
            if r.agent_state(aid) == "LOGGED_OUT" or a in self.pending_logout:
                return
            if a in self.pending_break:  # still on the call that outlasted the break: staffed throughout
                self.pending_break.discard(a)
            elif self.staffed_from[a] != self.staffed_from[a]:
                self.staffed_from[a] = max(t, self.closed_at[a])
            self.react(r.agent_ready(t, aid), t)
        elif action == _LOGOUT:
            state = r.agent_state(aid)
            if state == "LOGGED_OUT":
                return
            if state == "BUSY":  # the router refuses to log out a connected agent:
                self.pending_logout.add(a)  # stop new offers now, log out after the call and its wrap-up
                self.react(r.agent_not_ready(t, aid, "shift-end"), t)
                return
            self.pending_logout.discard(a)
            self.pending_break.discard(a)
            self._close_span(a, t)
            self.react(r.agent_logout(t, aid), t)
        else:  # _BREAK: the router applies it when a busy agent's call ends; staffed time runs until then
            state = r.agent_state(aid)
            if state == "LOGGED_OUT":
                return
            if state == "BUSY":
                self.pending_break.add(a)
            else:
                self._close_span(a, max(t, self.busy_until[a]))
            self.react(r.agent_not_ready(t, aid, "break"), t)

    def _close_span(self, a: int, t: float) -> None:
        if self.staffed_from[a] == self.staffed_from[a]:
            self.staffed_spans.append((a, self.staffed_from[a], t))
            self.staffed_from[a] = math.nan
            self.closed_at[a] = t

    def redial(self, prev: int, t: float) -> None:
        qi = self.queue[prev]
        delay, handle, acw, patience, ru, cu = self.redial_draw[qi]
        c = len(self.arrival)
        for lst, v in ((self.arrival, t), (self.queue, qi), (self.handle, handle()), (self.acw, acw()),
                       (self.patience, patience()), (self.redial_u, ru()), (self.cb_u, cu()),
                       (self.attempt, self.attempt[prev] + 1), (self.wait, math.nan), (self.connect, math.nan),
                       (self.busy_end, math.nan), (self.agent, -1), (self.disp, 0), (self.callback, False)):
            lst.append(v)
        self.arrive(c, t)

    def callback_check(self, c: int, t: float) -> None:
        cb = self.qspecs[self.queue[c]].callback
        r = self.router
        if self.disp[c] or self.callback[c] or self.cb_u[c] >= cb.accept_probability:
            return
        if r.call_state(c) != self.waiting_state:  # only a waiting call converts
            return
        if r.position(c).ewt_s > cb.ewt_threshold_s:
            self.callback[c] = True
            self.react(r.request_callback(t, c, f"cb-{c}"), t)

    # ------------------------------------------------------------ events
    def react(self, evs: list, t: float) -> bool:
        """Apply the router's events to the call rows; True if an instant offer was accepted.

        Offers to agents that answer at once are accepted right after the
        whole list is applied (in offer order); a losing ring-all accept gets
        ``OfferError`` from the router and is dropped: that phone stopped ringing.
        """
        self.events += len(evs)
        if self.writer is not None:
            self.writer.writerows(log_rows(evs))
        instant = None
        for ev in evs:
            k = ev.kind
            if k is _AGENT_STATE or k is _ARRIVED:
                continue
            if k is _QUEUED:
                if self.cb_queue[self.queue[ev.call_id]]:
                    self.push(t, _CB_CHECK, ev.call_id)
            elif k is _OFFERED or k is _CB_OFFERED:
                a = self.agent_index[ev.agent_id]
                ans = self.answer[self.agent_team[a]]
                if ans is None:
                    if instant is None:
                        instant = []
                    instant.append((ev.call_id, ev.agent_id))
                else:
                    self.push(t + ans(), _ACCEPT, ev.call_id, a)
            elif k is _CONNECTED:
                c, a = ev.call_id, self.agent_index[ev.agent_id]
                ts = ev.time_s
                self.wait[c] = ev.value
                self.connect[c] = ts
                self.agent[c] = a
                self.q_t.append(ts)
                self.q_d.append(-1)
                self.push(ts + self.handle[c] * self.factor[a], _RELEASE, c)
            elif k is _ENDED:
                self._ended(ev)
        if instant is not None:
            for c, aid in instant:
                self.accept(c, aid, t)
            return True
        return False

    def accept(self, c: int, aid, t: float) -> None:
        if self.disp[c]:  # the caller hung up while the phone rang
            return
        try:
            evs = self.router.offer_accept(t, c, aid)
        except self.offer_error:
            return
        self.react(evs, t)

    def _ended(self, ev) -> None:
        c, d, ts = ev.call_id, ev.detail, ev.time_s
        if d == "completed":
            self.disp[c] = COMPLETED
            a = self.agent[c]
            self.busy_end[c] = self.busy_until[a] = end = ts + self.acw[c]
            if self.pending_logout and a in self.pending_logout:
                self.push(end, _LOGOUT, a)
            elif self.pending_break and a in self.pending_break:
                self.pending_break.discard(a)
                self._close_span(a, end)
            return
        self.disp[c] = ABANDONED if d.startswith("abandoned") else OTHER
        if self.connect[c] == self.connect[c]:  # ended after connecting (e.g. transfer out)
            self.busy_end[c] = ts
            return
        self.wait[c] = ts - self.arrival[c]
        self.q_t.append(ts)
        self.q_d.append(-1)
        red = self.qspecs[self.queue[c]].redial
        if self.disp[c] == ABANDONED and self.redial_u[c] < red.probability and self.attempt[c] < red.max_attempts:
            self.push(ts + self.redial_draw[self.queue[c]][0](), _REDIAL, c)


def _is_zero(dist) -> bool:
    return getattr(dist, "value_s", None) == 0.0

