"""Read-only views of the compiled core's live state: Router's queries and the records an adapter resyncs from.

Mixed into :class:`~busyhour.router.Router` and the server's compiled engine,
which differ only in how a caller's call id reaches the core's call slot:
each gives ``_rt()`` (the Router holding the core), ``_live_slot(call_id)``
(the slot of a live call, or the error Router raises for that id),
``_slot_id(slot)`` (the id callers know the call by) and
``_context_of(call_id)``. Nothing here changes state; every view is a copy.
Cost: ``live_calls`` is O(calls held), ``queue_view`` O(queue members),
``position`` O(log n), the others O(1).
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Hashable

import numpy as np

from .codes import CallState
from .core_layout import (
    AGENT, A_GONE, AHT, ANSWERED, ARRIVAL, CB, DETAIL_DISPLAY, DISP_AVAILABLE, DISPLAY, IDLE_SINCE, LAST_END, LAST_OFFERED,
    LOGGED_IN, NA_RUN, NWAIT, OF_FIRST, O_AGENT, O_CNEXT, ORDER, PRIO, QM_AGENT, Q_GONE, QUEUE, RINGING, STATE,
    ST_CONNECTED, ST_OFFERED, ST_WAITING, TALK,
)
from .errors import StateError
from .stats import AgentCounters, Position, RouterStats
from .views import AgentView, CallView, QueueView

_LIVE = (ST_WAITING, ST_OFFERED, ST_CONNECTED)


class CoreViews:
    def call_state(self, call_id: Hashable) -> CallState:
        return CallState(int(self._rt()._S.C_i[self._live_slot(call_id), STATE]))

    def call_context(self, call_id: Hashable) -> dict[str, Any]:
        """The data gathered so far for a live call (a copy); carried on transfer and overflow."""
        self._live_slot(call_id)
        return dict(self._context_of(call_id))

    def agent_state(self, agent_id: Hashable) -> str:
        r = self._rt()
        return r.detail_text(DETAIL_DISPLAY + int(r._S.A_i[r.agent_index(agent_id), DISPLAY]))

    def agent_counters(self, agent_id: Hashable) -> AgentCounters:
        """The agent's counters: answered, talk time, last call end, last offer, no-answer run, idle since."""
        r = self._rt()
        a = r.agent_index(agent_id)
        A_i, A_f = r._S.A_i, r._S.A_f
        return AgentCounters(int(A_i[a, ANSWERED]), float(A_f[a, TALK]), float(A_f[a, LAST_END]),
                             float(A_f[a, LAST_OFFERED]), int(A_i[a, NA_RUN]), float(A_f[a, IDLE_SINCE]))

    def position(self, call_id: Hashable) -> Position:
        """Place of a waiting call in its queue and its estimated wait (docs/routing.md §11), O(log n)."""
        r = self._rt()
        S = r._S
        slot = self._live_slot(call_id)
        state = CallState(int(S.C_i[slot, STATE]))
        if state != CallState.WAITING:
            raise StateError(f"call {call_id!r} is not waiting (state {state.name})")
        q = int(S.C_i[slot, QUEUE])
        pos = int((r._rank.fn or r._rank)(r._views()[5], slot))
        serving = int(S.Q_i[q, LOGGED_IN])
        ewt = pos * float(S.Q_f[q, AHT]) / serving if serving else math.inf
        return Position(position=pos, waiting=int(S.Q_i[q, NWAIT]), ewt_s=ewt)

    def stats(self) -> RouterStats:
        """A :class:`RouterStats` record: live queue/agent state plus interval and agent totals (needs
        ``collect_stats=True``, the default)."""
        r = self._rt()
        if r._stats is None:
            raise StateError("this router was created with collect_stats=False")
        S = r._S
        waiting = S.C_i[:, STATE] == ST_WAITING
        queues = [SimpleNamespace(name=name, members=S.QM[S.QM_ptr[q]:S.QM_ptr[q + 1], QM_AGENT],
                                  waiting=[(0, t) for t in S.C_f[waiting & (S.C_i[:, QUEUE] == q), ARRIVAL].tolist()])
                  for q, name in enumerate(r.queue_names) if not S.Q_i[q, Q_GONE]]
        view = SimpleNamespace(now=r.now, _queues=queues, _agents=SimpleNamespace(display=self.displays()),
                               reasons=r._reasons)
        return r._fed_stats().snapshot(view)

    # ------------------------------------------------------------ what an adapter resyncs from
    def call_view(self, call_id: Hashable) -> CallView:
        """The live call ``call_id`` (UnknownIdError / StateError as the other queries)."""
        s = self._live_slot(call_id)
        return self._view_at(s, self._slot_id(s))

    def _view_at(self, s: int, call_id: Hashable) -> CallView:
        r = self._rt()
        S = r._S
        st = int(S.C_i[s, STATE])
        ringing, o = [], int(S.C_i[s, OF_FIRST]) if st == ST_OFFERED else -1
        while o >= 0:  # the call's offers, in the order they were made
            ringing.append(r.agent_ids[int(S.OF[o, O_AGENT])])
            o = int(S.OF[o, O_CNEXT])
        agent = r.agent_ids[int(S.C_i[s, AGENT])] if st == ST_CONNECTED else None
        cb = int(S.C_i[s, CB])
        return CallView(call_id, CallState(st).name, r.queue_names[int(S.C_i[s, QUEUE])], agent, ringing,
                        int(S.C_i[s, PRIO]), float(S.C_f[s, ARRIVAL]), r._numbers[cb] if cb else None,
                        dict(self._context_of(call_id)))

    def live_calls(self) -> list[CallView]:
        """Every call not yet ended, in arrival order."""
        S = self._rt()._S
        live = np.flatnonzero(np.isin(S.C_i[:, STATE], _LIVE))
        order = live[np.argsort(S.C_i[live, ORDER], kind="stable")]
        return [self._view_at(s, self._slot_id(s)) for s in order.tolist()]

    def agent_view(self, agent_id: Hashable) -> AgentView:
        r = self._rt()
        a = r.agent_index(agent_id)
        return AgentView(r.agent_ids[a], self.agent_state(agent_id), *self.agent_counters(agent_id))

    def all_agents(self) -> list[AgentView]:
        """Every agent, in configuration order (then the order they were added); removed agents are not listed."""
        r = self._rt()
        gone = r._S.A_i[:, A_GONE].tolist()
        return [self.agent_view(a) for a, g in zip(r.agent_ids, gone) if not g]

    def displays(self) -> list[str]:
        """Every agent's display state, in configuration order."""
        r = self._rt()
        return [r.detail_text(DETAIL_DISPLAY + d) for d in r._S.A_i[:, DISPLAY].tolist()]

    def queue_view(self, name: str) -> QueueView:
        r = self._rt()
        S = r._S
        q = r.queue_index(name)
        members = S.QM[S.QM_ptr[q]:S.QM_ptr[q + 1], QM_AGENT]
        available = int(np.count_nonzero(S.A_i[members, DISPLAY] == DISP_AVAILABLE))
        return QueueView(name, int(S.Q_i[q, NWAIT]), int(S.Q_i[q, RINGING]), int(S.Q_i[q, LOGGED_IN]), available)
