"""Statistics derived from the event stream alone.

:class:`StatsCollector` consumes :class:`Event` records; feeding the same
events to a fresh collector reproduces the same figures exactly (the router
feeds its own). Definitions (also in docs/routing.md):

* A call counts in the (queue, interval) in which it entered the queue
  (``CALL_ARRIVED``); its outcome is attributed there.
* ``service_level`` = answered within the queue's threshold ÷ (offered −
  short abandons), waits measured from the call's first arrival.
* ``asa_s`` = mean wait of answered calls; ``aht_s`` = (talk + after-call
  work) ÷ handled; occupancy = (reserved + busy + wrap-up) ÷ (that + available)
  agent-seconds, per interval.
* ``paused_s``: seconds an agent was paused in a queue, from ``MEMBER_PAUSED``
  to ``MEMBER_UNPAUSED`` or ``MEMBER_REMOVED`` of that (agent, queue),
  whatever its presence meanwhile (a pause outlives logout); per agent and
  queue, and per (queue, interval) as agent-seconds split at boundaries.
* Only the last ``intervals_kept`` intervals are kept (the configuration;
  96 by default): at each event, intervals numbered below ``time //
  interval_s − intervals_kept + 1`` are dropped, figures for a dropped
  interval are not counted, and a span of a state or a pause is split over
  the kept intervals only. Agent totals count every span whole.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Hashable, NamedTuple

from .codes import EventKind
from .config import RouterConfig
from .state import _restore


_PAUSE_KINDS = frozenset((EventKind.MEMBER_PAUSED, EventKind.MEMBER_UNPAUSED, EventKind.MEMBER_REMOVED))


class Position(NamedTuple):
    position: int  # 1 = next to be served in its queue
    waiting: int  # calls waiting in the queue
    ewt_s: float  # estimated wait: position × handle-time estimate ÷ serving agents


class AgentCounters(NamedTuple):
    answered: int
    talk_s: float
    last_call_end_s: float  # -inf before the first call
    last_offered_s: float  # -inf before the first offer
    consecutive_no_answers: int
    idle_since_s: float


@dataclass
class QueueInterval:
    queue: str
    start_s: float
    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    exited: int = 0
    wait_answered_s: float = 0.0
    handled: int = 0
    talk_s: float = 0.0
    acw_s: float = 0.0
    # agent-seconds paused in this queue during the interval; the class default also serves an interval
    # pickled before pause time was counted
    paused_s: float = 0.0

    @property
    def service_level(self) -> float:
        base = self.offered - self.short_abandoned
        return self.answered_within / base if base > 0 else math.nan

    @property
    def asa_s(self) -> float:
        return self.wait_answered_s / self.answered if self.answered else math.nan

    @property
    def aht_s(self) -> float:
        return (self.talk_s + self.acw_s) / self.handled if self.handled else math.nan

    @property
    def acw_avg_s(self) -> float:
        return self.acw_s / self.handled if self.handled else math.nan


@dataclass
class AgentInterval:
    start_s: float
    seconds_by_state: dict[str, float] = field(default_factory=dict)

    @property
    def occupancy(self) -> float:
        s = self.seconds_by_state
        work = s.get("BUSY", 0.0) + s.get("RESERVED", 0.0) + s.get("WRAP_UP", 0.0)
        staffed = work + s.get("AVAILABLE", 0.0)
        return work / staffed if staffed > 0 else math.nan


@dataclass
class AgentTotals:
    agent: Hashable
    handled: int = 0
    talk_s: float = 0.0
    acw_s: float = 0.0
    idle_s: float = 0.0
    not_ready_s: dict[str, float] = field(default_factory=dict)
    paused_s: dict[str, float] = field(default_factory=dict)  # queue name -> seconds paused in it

    def __setstate__(self, state) -> None:
        _restore(self, state, {"paused_s": {}})  # pickled before pause time was counted


@dataclass(frozen=True)
class QueueLive:
    queue: str
    waiting: int
    longest_wait_s: float
    agents_by_state: dict[str, int]


@dataclass(frozen=True)
class RouterStats:
    now_s: float
    queues: list[QueueLive]
    intervals: list[QueueInterval]
    agent_intervals: list[AgentInterval]
    agents: list[AgentTotals]


class StatsCollector:
    def __init__(self, cfg: RouterConfig):
        self.interval_s = cfg.interval_s
        self.short_s = cfg.short_abandon_s
        self.keep = cfg.intervals_kept
        self._lo = -math.inf  # the oldest interval number kept since the last drop
        self.threshold = {q.name: q.sl_threshold_s for q in cfg.queues}
        self.buckets: dict[tuple[str, int], QueueInterval] = {}
        self.call_bucket: dict[Hashable, QueueInterval] = {}
        self.connected_at: dict[Hashable, float] = {}
        self.agent_state: dict[Hashable, tuple[str, float]] = {}
        self.agent_bucket: dict[Hashable, QueueInterval] = {}  # bucket of the last call (for ACW)
        self.agent_intervals: dict[int, AgentInterval] = {}
        self.agents: dict[Hashable, AgentTotals] = {a.id: AgentTotals(a.id) for a in cfg.agents}
        self.paused_since: dict[tuple[Hashable, str], float] = {}  # (agent, queue) -> start of its open pause

    def __setstate__(self, state: dict) -> None:
        """Unpickle (server snapshots), also a collector pickled before pause time was counted: pauses
        open when it was pickled are not counted (it never saw them start)."""
        _restore(self, state, {"paused_since": {}, "keep": RouterConfig.intervals_kept, "_lo": -math.inf})

    def _bucket(self, queue: str, t: float) -> QueueInterval:
        return self._bucket_at(self.buckets, queue, int(t // self.interval_s))

    def _bucket_at(self, buckets: dict, queue: str, k: int) -> QueueInterval:
        b = buckets.get((queue, k))
        if b is None:
            b = buckets[(queue, k)] = QueueInterval(queue, k * self.interval_s)
        return b

    def _oldest(self, t: float) -> float:
        return t // self.interval_s - self.keep + 1

    def _drop_old(self, lo: float) -> None:
        self._lo = lo
        self.buckets = {k: b for k, b in self.buckets.items() if k[1] >= lo}
        self.agent_intervals = {k: v for k, v in self.agent_intervals.items() if k >= lo}

    def apply(self, ev) -> None:
        lo = self._oldest(ev.time_s)
        if lo > self._lo:
            self._drop_old(lo)
        kind = ev.kind
        if kind == EventKind.AGENT_STATE:
            self._agent_state(ev.agent_id, ev.detail, ev.time_s)
        elif kind == EventKind.CALL_ARRIVED:
            b = self._bucket(ev.queue, ev.time_s)
            b.offered += 1
            self.call_bucket[ev.call_id] = b
        elif kind == EventKind.CALL_CONNECTED:
            b = self.call_bucket[ev.call_id]
            b.answered += 1
            b.wait_answered_s += ev.value
            if ev.value <= self.threshold[b.queue]:
                b.answered_within += 1
            self.connected_at[ev.call_id] = ev.time_s
        elif kind == EventKind.CALL_TRANSFERRED:
            self._handled(ev)
        elif kind == EventKind.CALL_OVERFLOWED or kind == EventKind.CALL_MOVED:  # it leaves this queue
            self.call_bucket[ev.call_id].exited += 1
        elif kind == EventKind.CALL_ENDED:
            b = self.call_bucket[ev.call_id]
            d = ev.detail
            if d == "completed":
                self._handled(ev)
            elif d.startswith("abandoned"):
                b.abandoned += 1
                if ev.value < self.short_s:
                    b.short_abandoned += 1
            else:
                b.exited += 1
            del self.call_bucket[ev.call_id]
            self.connected_at.pop(ev.call_id, None)
        elif kind in _PAUSE_KINDS:
            self._pause_event(ev)

    def _handled(self, ev) -> None:
        b = self.call_bucket[ev.call_id]
        talk = ev.time_s - self.connected_at.pop(ev.call_id)
        b.handled += 1
        b.talk_s += talk
        tot = self.agents[ev.agent_id]
        tot.handled += 1
        tot.talk_s += talk
        self.agent_bucket[ev.agent_id] = b

    def _pause_event(self, ev) -> None:
        """A pause opens (MEMBER_PAUSED) or ends (MEMBER_UNPAUSED, MEMBER_REMOVED); an event naming an
        agent or queue not in the configuration, or ending no open pause, changes nothing."""
        if not isinstance(ev.queue, str) or ev.queue not in self.threshold:
            return
        try:
            if ev.agent_id not in self.agents:
                return
        except TypeError:  # an unhashable id: no agent of the configuration
            return
        key = (ev.agent_id, ev.queue)
        if ev.kind == EventKind.MEMBER_PAUSED:
            self.paused_since.setdefault(key, ev.time_s)  # paused twice: the first start stands
        elif key in self.paused_since:
            t0 = self.paused_since.pop(key)
            self._paused(ev.queue, t0, ev.time_s, self.buckets, self.agents[ev.agent_id])

    def _paused(self, queue: str, t0: float, t1: float, buckets: dict, tot: AgentTotals) -> None:
        """Add a pause in ``queue`` from t0 to t1 to its intervals (split at boundaries; an interval without
        calls gets a bucket too) and to the agent's totals."""
        if not t0 < t1 or not math.isfinite(t1 - t0):
            return
        k = int(max(t0 // self.interval_s, self._oldest(t1)))
        while k * self.interval_s < t1:
            start, end = max(t0, k * self.interval_s), min(t1, (k + 1) * self.interval_s)
            if end > start:
                self._bucket_at(buckets, queue, k).paused_s += end - start
            k += 1
        tot.paused_s[queue] = tot.paused_s.get(queue, 0.0) + (t1 - t0)

    def _agent_state(self, agent: Hashable, state: str, t: float) -> None:
        prev = self.agent_state.get(agent)
        if prev is not None:
            self._account(agent, prev[0], prev[1], t, self.agent_intervals, self.agents[agent], True)
        self.agent_state[agent] = (state, t)

    def _account(self, agent, state: str, t0: float, t1: float, intervals: dict, tot: AgentTotals,
                 acw_to_queue: bool) -> None:
        """Add ``state`` from t0 to t1 to the interval totals (split at boundaries) and agent totals."""
        if t1 <= t0:
            return
        name = state.split(":", 1)[0]
        lo = self._oldest(t1)
        t = max(t0, lo * self.interval_s)
        while t < t1:
            k = int(max(t // self.interval_s, lo))
            end = min(t1, (k + 1) * self.interval_s)
            iv = intervals.get(k)
            if iv is None:
                iv = intervals[k] = AgentInterval(k * self.interval_s)
            iv.seconds_by_state[name] = iv.seconds_by_state.get(name, 0.0) + (end - t)
            t = end
        d = t1 - t0
        if name == "WRAP_UP":
            tot.acw_s += d
            b = self.agent_bucket.get(agent)
            if acw_to_queue and b is not None:
                b.acw_s += d
        elif name == "AVAILABLE":
            tot.idle_s += d
        elif name == "NOT_READY":
            reason = state.split(":", 1)[1] if ":" in state else ""
            tot.not_ready_s[reason] = tot.not_ready_s.get(reason, 0.0) + d

    def snapshot(self, router) -> RouterStats:
        """Figures up to ``router.now``, open agent states and pauses included (nothing is mutated)."""
        now = router.now
        intervals = {k: AgentInterval(v.start_s, dict(v.seconds_by_state)) for k, v in self.agent_intervals.items()}
        agents = {a: AgentTotals(t.agent, t.handled, t.talk_s, t.acw_s, t.idle_s, dict(t.not_ready_s),
                                 dict(t.paused_s))
                  for a, t in self.agents.items()}
        buckets = {k: replace(b) for k, b in self.buckets.items()}
        for a, (state, t0) in self.agent_state.items():
            if math.isfinite(now):
                self._account(a, state, t0, now, intervals, agents[a], False)
        for (a, queue), t0 in self.paused_since.items() if math.isfinite(now) else ():
            self._paused(queue, t0, now, buckets, agents[a])
        lo = self._oldest(now) if math.isfinite(now) else -math.inf
        return RouterStats(now, live_queues(router),
                           [buckets[k] for k in sorted(buckets, key=lambda k: (k[1], k[0])) if k[1] >= lo],
                           [intervals[k] for k in sorted(intervals) if k >= lo], list(agents.values()))


def live_queues(router) -> list[QueueLive]:
    """Each queue's live figures (not a queue removed at run time: it has history only). ``router``: ``now``,
    ``_queues`` (``name``, ``members``, ``waiting`` as (…, arrival time) pairs) and ``_agents.display``."""
    now, live, A = router.now, [], router._agents
    for q in router._queues:
        if getattr(getattr(q, "cfg", None), "removed", False):
            continue
        by_state: dict[str, int] = defaultdict(int)
        for m in q.members:
            by_state[A.display[int(m)].split(":", 1)[0]] += 1
        oldest = min((k[1] for k in q.waiting), default=math.nan)
        live.append(QueueLive(q.name, len(q.waiting), now - oldest if q.waiting else 0.0, dict(by_state)))
    return live
