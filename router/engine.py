"""ReferenceRouter: the readable Python engine, the executable specification of docs/routing.md.

It is not a production path: :class:`~busyhour.router.Router` (fast.py, the
compiled core) is the engine. This one states every rule once in plain
Python; the parity tests drive both with random configurations and operation
streams and require the same events, errors and states. It has the same
public API.

Specification
-------------
* **Time is an argument.** Every state-changing method takes ``now`` (seconds,
  finite, never decreasing; :class:`TimeError` otherwise). Nothing here reads
  a clock, a socket or a global RNG; the random strategies use the router's
  own splitmix64 stream seeded from the configuration.
* **Peek / step.** ``next_deadline()`` is the earliest pending timer (ring
  timeout, wrap-up or delay end, max wait, no-agents wait, escalation step,
  preferred-agent fallback, ring-progressively step); ``advance(now)`` fires
  every timer due at or before ``now``, each at its own deadline.
* **Ordering invariant.** Timers fire in ``(deadline, sequence)`` order, the
  sequence being the order in which they were set: equal deadlines are FIFO.
  Every state-changing method first fires the timers due at or before
  ``now``, then applies its operation. Same configuration and same calls give
  the same events, byte for byte.
* **Errors.** Bad input raises a :class:`RouterError` subclass naming the
  problem and changes nothing, clock included: no timer fires (an accept,
  reject or callback with timers due is checked on a copy advanced to
  ``now``, :meth:`_tried`; every other check reads state no timer changes).
* **Cost.** Routing a new call is O(log n) typical where the queue keeps an
  available-member index (longest idle, fewest calls, least talk, most
  skilled on simple queues; docs/routing.md §2), otherwise O(queue members)
  in a numba kernel; a freed agent scans the waiting calls of its queues in
  order and stops at the first it is eligible for (O(1) when skills match);
  timers are a binary heap.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections import OrderedDict
from pathlib import Path
from typing import Any, Hashable

import numpy as np

from . import kernels as K
from .agents import AgentOpsMixin
from .members import MemberChangesMixin
from .ring_join import RingJoinMixin
from .calls import CallOpsMixin
from .empty_ref import EmptyRulesMixin
from .codes import (
    STRAT_FEWEST_CALLS, STRAT_ROUND_ROBIN, STRAT_LEAST_TALK, STRAT_LONGEST_IDLE, STRAT_MOST_SKILLED,
    STRAT_PREFERRED, LOCK_WRAP_UP, PRESENCE_LOGGED_OUT, PRESENCE_NOT_READY, CallState, EventKind,
)
from .config import RouterConfig, load_toml, parse_config
from .dispatch import T_LOCK_END, DispatchMixin
from .core_layout import MAX_TIME_S
from .errors import ConfigError, StateError, TimeError, UnknownIdError, real_seconds
from .events import Event
from .state import AgentArrays, Call, QueueState
from .stats import StatsCollector
from .views import ReferenceViews
from .queues_ref import QueueChangesMixin
from .timers_ref import TimerRulesMixin
from .fast_ids import call_key


# Strategies whose choice an available-member index can make, and the key it orders by:
# 0 idle rank only, 1 answered calls, 2 talk time, 3 minus the skill sum on the queue's skills.
_INDEXED_KEY = {STRAT_LONGEST_IDLE: 0, STRAT_PREFERRED: 0, STRAT_FEWEST_CALLS: 1, STRAT_LEAST_TALK: 2,
                STRAT_MOST_SKILLED: 3}

_new_event = tuple.__new__  # builds an Event without NamedTuple's Python-level __new__ (hot path)


class ReferenceRouter(CallOpsMixin, AgentOpsMixin, MemberChangesMixin, QueueChangesMixin, DispatchMixin, RingJoinMixin,
                      EmptyRulesMixin, TimerRulesMixin, ReferenceViews):
    """The specification engine. Build with :meth:`from_config` or :meth:`from_toml`."""

    def __init__(self, config: RouterConfig, *, collect_stats: bool = True, fast_paths: bool = True):
        if not isinstance(config, RouterConfig):
            raise ConfigError("config: expected a RouterConfig; use ReferenceRouter.from_config(dict)")
        self.config = config
        self._agents = AgentArrays(config)
        self._skill_index = {s: i for i, s in enumerate(config.skills)}
        self._channel_index = {c: i for i, c in enumerate(config.channels)}
        qindex = {q.name: i for i, q in enumerate(config.queues)}
        self._queue_index = qindex
        self._queues = [QueueState(i, q, self._agents.index, self._skill_index, qindex)
                        for i, q in enumerate(config.queues)]
        for q in self._queues:
            for mi, a in enumerate(q.members):
                self._agents.queues[int(a)].append((q.idx, mi))
        self._rank = 0
        self._leave_on = any(q.leave_mask for q in self._queues)
        self._fast_paths = fast_paths
        if fast_paths:
            self._enable_available_index()
        self._cand_buf = np.empty(max(1, len(self._agents.ids)), dtype=np.int64)
        self._rng = np.array([config.seed], dtype=np.uint64)
        self._calls: dict[Hashable, Call] = {}
        self._recently_ended: OrderedDict[Hashable, str] = OrderedDict()
        self._by_sid: dict[int, Call] = {}
        self._by_order: dict[int, Call] = {}
        self._timers: list[tuple] = []
        self._tseq = 0
        self._token = 0
        self._sid = 0
        self._order = 0
        self._seq = 0
        self._now = -math.inf
        self._out: list[Event] = []
        self._arrived = 0
        self._ended = 0
        self._stats = StatsCollector(config) if collect_stats else None

    def _enable_available_index(self) -> None:
        for q in self._queues:
            self._index_queue(q)

    def _index_queue(self, q: QueueState) -> None:
        """Give ``q`` an index of available members where the kernel's rule allows it.

        Where every member shares one tier and penalty, serves from step 0 and
        takes one call at a time (total capacity <= 1), and the strategy's key
        cannot change while an agent is AVAILABLE (longest idle, preferred-agent
        fallback, fewest calls, least talk time, most skilled on the queue's
        skills), the kernel's choice is "the first current entry, in key order,
        that can take the call": a heap of ``(key, idle rank, agent)``."""
        A = self._agents
        if (q.strategy == STRAT_ROUND_ROBIN and q.members.size and np.unique(q.m_tier).size == 1
                and np.unique(q.m_penalty).size == 1 and not q.m_from_step.any()):
            q.pos_order = sorted(range(q.members.size), key=lambda i, q=q: (int(q.m_pos[i]), i))
            q.pos_sorted = [int(q.m_pos[i]) for i in q.pos_order]
        if q.strategy not in _INDEXED_KEY or q.members.size == 0:
            return
        if (np.unique(q.m_tier).size != 1 or np.unique(q.m_penalty).size != 1 or q.m_from_step.any()
                or (A.cap[q.members].sum(axis=1) > 1).any()):
            return
        q.avail = []
        q.avail_key = _INDEXED_KEY[q.strategy]
        q.base_ok = [[bool(K.agent_has_skills(A.skills, int(a), q.req_ids, q.req_min, drop)) for a in q.members]
                     for drop in q.drop_by_step]
        q.skill_sum = [float(A.skills[int(a), q.req_ids].astype(np.int64).sum()) for a in q.members]
        for a in q.members:
            A.fast_queues[int(a)].append(q)

    @classmethod
    def from_config(cls, raw: dict[str, Any], **kw: Any) -> "ReferenceRouter":
        return cls(parse_config(raw), **kw)

    @classmethod
    def from_toml(cls, path: str | Path, **kw: Any) -> "ReferenceRouter":
        return cls(load_toml(path), **kw)

    # ------------------------------------------------------------ plumbing
    def _emit(self, t: float, kind: EventKind, call: Call | None, a: int, queue: str | None,
              detail: str = "", value: float = 0.0) -> None:
        self._seq += 1
        ev = _new_event(Event, (self._seq, t, kind, call.id if call is not None else None,
                                self._agents.ids[a] if a >= 0 else None, queue, detail, float(value)))
        self._out.append(ev)
        if self._stats is not None:
            self._stats.apply(ev)

    def _flush(self) -> list[Event]:
        if self._timers and self.next_deadline() <= self._now:  # due now: an empty queue's callers leaving
            self._advance(self._now)
        out, self._out = self._out, []
        return out

    def _display(self, a: int) -> str:
        A = self._agents
        if A.connected[a]:  # only a logged-in agent can hold calls
            return "BUSY"
        if A.offers[a]:
            return "RESERVED"
        p = A.presence[a]
        if p == PRESENCE_LOGGED_OUT:
            return "LOGGED_OUT"
        if A.lock_kind[a] == LOCK_WRAP_UP:
            return "WRAP_UP"
        if p == PRESENCE_NOT_READY:
            return "NOT_READY:" + A.not_ready_reason[a]
        return "AVAILABLE"

    def _touch(self, a: int, t: float) -> None:
        """Emit AGENT_STATE when agent ``a``'s display state changed."""
        if self._leave_on:
            self._leave_agent(a, t)  # its queues' leave rules (empty_ref.py)
        d = self._display(a)
        A = self._agents
        if d != A.display[a]:
            A.display[a] = d
            if d == "AVAILABLE":
                A.idle_since[a] = t
                self._rank += 1
                A.idle_rank[a] = self._rank  # ranks follow time: the longest-idle order, ties FIFO
                for q in A.fast_queues[a]:
                    kind = q.avail_key  # the strategy's key, fixed while the agent stays AVAILABLE
                    key = (0.0 if kind == 0 else float(A.answered[a]) if kind == 1 else float(A.talk_s[a])
                           if kind == 2 else -q.skill_sum[q.member_of[a]])
                    heapq.heappush(q.avail, (key, self._rank, a))
                    if len(q.avail) > 2 * len(q.members) + 64:  # drop stale entries now and then
                        q.avail = [e for e in q.avail if A.idle_rank[e[2]] == e[1] and A.display[e[2]] == "AVAILABLE"]
                        heapq.heapify(q.avail)
            self._emit(t, EventKind.AGENT_STATE, None, a, None, d)

    def _push_timer(self, t: float, kind: int, target: int, token: int, arg: int = 0) -> None:
        self._tseq += 1
        heapq.heappush(self._timers, (t, self._tseq, kind, target, token, arg))

    def _clock(self, now: float) -> float:
        """Validate ``now`` (finite, within ±MAX_TIME_S, not before the last call) without changing anything."""
        if type(now) is float and self._now <= now <= MAX_TIME_S and now >= -MAX_TIME_S:  # common case (NaN fails)
            return now
        now = real_seconds(now)
        if now < self._now:
            raise TimeError(f"time went backwards: now={now!r} is before the last time {self._now!r}")
        return now

    def _call(self, call_id: Hashable) -> Call:
        call_id = call_key(call_id)
        try:
            return self._calls[call_id]
        except KeyError:
            pass
        try:
            ended = self._recently_ended.get(call_id)
        except TypeError:
            ended = None
        if ended is not None:
            raise StateError(f"call {call_id!r} has already ended ({ended})")
        raise UnknownIdError(f"unknown call {call_id!r} (never arrived, or ended long ago)")

    def _agent(self, agent_id: Hashable) -> int:
        try:
            return self._agents.index[agent_id]
        except (KeyError, TypeError):
            raise UnknownIdError(f"unknown agent {agent_id!r}") from None

    def _queue(self, name: str) -> QueueState:
        try:
            return self._queues[self._queue_index[name]]
        except (KeyError, TypeError):
            raise UnknownIdError(f"unknown queue {name!r}") from None

    # -------------------------------------------------------------- timers
    def next_deadline(self) -> float:
        """Time of the earliest pending timer, or ``math.inf``."""
        while self._timers and not self._timer_live(self._timers[0]):
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else math.inf

    def _setting(self, a: int, q: QueueState, name: str) -> float:
        """Agent ``a``'s own value of a setting (wrap-up, delays, max no-answer), else queue ``q``'s."""
        rows = self._agents.configs  # None in engines pickled before agents could be removed: config order
        own = getattr(rows[a] if rows is not None else self.config.agents[a], name)
        return getattr(q.cfg, name) if own is None else own

    def _tried(self, now: float, check, ringing: tuple | None = None) -> None:
        """Raise ``check``'s error if the operation would be refused at ``now``, before anything changes: a
        refused operation changes nothing, clock included. An accept, reject or callback is refused or
        not depending on what the timers due by ``now`` do, so then it is checked on a copy advanced to
        ``now`` — unless ``ringing`` = (call, agent index) names an offer ringing now with none of the
        call's own timers due: only those end an offer (expiry, the call leaving its queue), so it stays."""
        if self.next_deadline() > now:
            check(self)
            return
        if ringing is not None and ringing[1] in ringing[0].offers and not self._due_for(ringing[0].sid, now):
            check(self)
            return
        trial = copy.deepcopy(self, {id(self.config): self.config})
        trial._advance(now)
        check(trial)

    def _due_for(self, sid: int, now: float) -> bool:
        """Whether a timer of call ``sid`` (live or stale) is due at or before ``now``."""
        return any(e[0] <= now and e[3] == sid and e[2] != T_LOCK_END for e in self._timers)

    def advance(self, now: float) -> list[Event]:
        """Fire every timer due at or before ``now``; return the events."""
        self._advance(self._clock(now))
        return self._flush()

    def _advance(self, now: float) -> None:
        while self._timers and self._timers[0][0] <= now:
            entry = heapq.heappop(self._timers)
            if self._timer_live(entry):
                self._now = max(self._now, entry[0])
                self._fire(entry)
        self._now = now

    def _leave_queue(self, call: Call, t: float, reason: str) -> None:
        """Take a waiting or ringing call out of its queue (offers withdrawn)."""
        if call.state == CallState.WAITING:
            self._unwait(call)
        else:
            self._withdraw_all(call, t, reason)
        call.ring_order = []

    @property
    def now(self) -> float:
        return self._now

    @property
    def counts(self) -> tuple[int, int]:
        """(calls arrived, calls ended) so far."""
        return self._arrived, self._ended


def __getattr__(name: str):
    if name == "Router":  # snapshots pickled when this engine was the Router load as the reference engine
        return ReferenceRouter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
