"""Read-only views of the reference engine's live state, as typed records (the compiled engine's: fast_views.py).

What a PBX adapter needs to resynchronise (every agent, every live call) and
what a supervisor asks (one queue's counts). Nothing here changes state, and
every view is a copy. Cost: ``live_calls`` is O(live calls), ``queue_view``
O(queue members).
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Hashable, NamedTuple

import numpy as np

from .codes import PRESENCE_LOGGED_OUT, CallState
from .errors import StateError
from .stats import AgentCounters, Position


class CallView(NamedTuple):
    call: Hashable
    state: str  # WAITING, OFFERED or CONNECTED
    queue: str
    agent: Hashable | None  # the connected agent
    ringing: list  # agents being offered the call
    priority: int
    arrival_s: float
    callback: str | None  # the number, when the caller asked for a callback
    context: dict[str, Any]


class AgentView(NamedTuple):
    agent: Hashable
    state: str
    answered: int
    talk_s: float
    last_call_end_s: float  # -inf before the first call
    last_offered_s: float  # -inf before the first offer
    consecutive_no_answers: int
    idle_since_s: float


class QueueView(NamedTuple):
    queue: str
    waiting: int
    ringing: int
    logged_in: int  # logged-in members serving from the first step
    available: int  # members AVAILABLE now


def call_view(router, call_id: Hashable) -> CallView:
    """The live call ``call_id`` (``UnknownIdError`` / ``StateError`` as the router's queries)."""
    c = router._call(call_id)
    ids = router._agents.ids
    return CallView(c.id, CallState(c.state).name, router._queues[c.queue].name,
                    ids[c.agent] if c.agent >= 0 and c.state == CallState.CONNECTED else None,
                    [ids[a] for a in c.offers], int(c.priority), float(c.arrival_s), c.callback, dict(c.context))


def live_calls(router) -> list[CallView]:
    """Every call not yet ended, in arrival order."""
    return [call_view(router, cid) for cid in router._calls]


def agent_view(router, agent_id: Hashable) -> AgentView:
    a = router._agent(agent_id)
    k = router.agent_counters(agent_id)
    return AgentView(router._agents.ids[a], router._agents.display[a], *k)


def all_agents(router) -> list[AgentView]:
    """Every agent, in configuration order (then the order they were added); removed agents are not listed."""
    A = router._agents
    return [agent_view(router, a) for a, g in zip(A.ids, A.gone) if not g]


def queue_view(router, name: str) -> QueueView:
    q = router._queue(name)
    A = router._agents
    available = sum(1 for m in q.members_list if A.display[m] == "AVAILABLE")
    return QueueView(q.name, len(q.waiting), int(q.ringing), int(q.logged_in), available)


class ReferenceViews:
    """Mixed into ReferenceRouter: its queries, and the views as methods, as on Router."""

    def position(self, call_id: Hashable) -> Position:
        """Place of a waiting call in its queue and its estimated wait (docs/routing.md)."""
        call = self._call(call_id)
        q = self._queues[call.queue]
        if call.state != CallState.WAITING:
            raise StateError(f"call {call_id!r} is not waiting (state {call.state.name})")
        pos = bisect.bisect_left(q.waiting, call.key()) + 1
        A = self._agents
        serving = int(np.count_nonzero(A.presence[q.members[q.m_from_step == 0]] != PRESENCE_LOGGED_OUT))
        ewt = pos * q.aht_est_s / serving if serving else math.inf
        return Position(position=pos, waiting=len(q.waiting), ewt_s=ewt)

    def stats(self):
        """A :class:`RouterStats` record: live queue/agent state plus interval and agent totals."""
        if self._stats is None:
            raise StateError("this router was created with collect_stats=False")
        return self._stats.snapshot(self)

    def call_state(self, call_id: Hashable) -> CallState:
        return self._call(call_id).state

    def call_context(self, call_id: Hashable) -> dict[str, Any]:
        """The data gathered so far for a live call (a copy); carried on transfer and overflow."""
        return dict(self._call(call_id).context)

    def agent_state(self, agent_id: Hashable) -> str:
        return self._agents.display[self._agent(agent_id)]

    def agent_counters(self, agent_id: Hashable) -> AgentCounters:
        """The agent's counters: answered, talk time, last call end, last offer, no-answer run."""
        a = self._agent(agent_id)
        A = self._agents
        return AgentCounters(int(A.answered[a]), float(A.talk_s[a]), float(A.last_end_s[a]),
                             float(A.last_offered_s[a]), int(A.no_answer_run[a]), float(A.idle_since[a]))


    def call_view(self, call_id: Hashable) -> CallView:
        return call_view(self, call_id)

    def live_calls(self) -> list[CallView]:
        return live_calls(self)

    def agent_view(self, agent_id: Hashable) -> AgentView:
        return agent_view(self, agent_id)

    def all_agents(self) -> list[AgentView]:
        return all_agents(self)

    def displays(self) -> list[str]:
        return list(self._agents.display)

    def queue_view(self, name: str) -> QueueView:
        return queue_view(self, name)
