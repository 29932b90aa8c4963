"""Reference engine: queue membership changes at run time (docs/routing.md §16).

The readable specification of ``member_add`` / ``member_remove`` /
``member_update`` (the compiled core's are in fast_members.py,
core_members.py and core_member_op.py). The queue's state is rebuilt from
its new members, carrying over what does not depend on them (its waiting
calls, counters, round-robin memory, ring-all ring) and, by agent, what does
(pauses, the places in ring-progressively orders, the available-member
index). Then, in this order: the event; the agent counted in or out of the
queue's logged-in members (a queue left with none starts the no-agents limit
of its waiting calls); a free agent offered the waiting calls it may take.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Hashable

import numpy as np

from .codes import PRESENCE_LOGGED_OUT, CallState, EventKind
from .config import QueueConfig, RouterConfig
from .events import Event
from .membership import (
    ADD, REMOVE, UPDATE, member_penalty, plan_agent_add, plan_agent_remove, plan_change, plan_queue,
    refuse_logged_in,
)
from .queue_plans import refuse_calls, removal
from .reload_plan import plan_reload
from .state import QueueState, _add_agent
from .stats import AgentTotals

_CARRIED = ("waiting", "logged_in", "ringing", "empty_epoch", "rr_cursor", "ring_all_order", "ring_all_t", "aht_est_s",
            "empty_steps", "leave_pending", "leave_cur")
_KINDS = {ADD: EventKind.MEMBER_ADDED, REMOVE: EventKind.MEMBER_REMOVED, UPDATE: EventKind.MEMBER_UPDATED}


class MemberChangesMixin:
    def member_add(self, now: float, agent_id: Hashable, queue: str, *, tier: int = 1, penalty: int = 0,
                   position: int | None = None, weight: float = 1.0) -> list[Event]:
        """Make the agent a member of ``queue``; ``position`` defaults to after the queue's last member."""
        return self._member_change(now, ADD, agent_id, queue,
                                   dict(tier=tier, penalty=penalty, position=position, weight=weight))

    def member_remove(self, now: float, agent_id: Hashable, queue: str) -> list[Event]:
        """End the agent's membership of ``queue`` (a ringing offer rings on; its pause there ends)."""
        return self._member_change(now, REMOVE, agent_id, queue, {})

    def member_update(self, now: float, agent_id: Hashable, queue: str, *, tier: int | None = None,
                      penalty: int | None = None, position: int | None = None,
                      weight: float | None = None) -> list[Event]:
        """Change a member's tier, penalty, position or weight (those not given stay)."""
        return self._member_change(now, UPDATE, agent_id, queue,
                                   dict(tier=tier, penalty=penalty, position=position, weight=weight))

    def _member_change(self, now: float, kind: int, agent_id: Hashable, queue: str,
                       settings: dict[str, Any]) -> list[Event]:
        now = self._clock(now)
        change = plan_change(self.config, kind, agent_id, queue, self._agents.index, self._queue_index, settings)
        self._advance(now)  # no timer changes a membership: checked before them
        q = self._rebuild_queue(self._queues[change.queue], change.config.queues[change.queue])
        self.config = change.config
        self._member_effect(q, change.agent, kind, change.staffed_before, now)
        return self._flush()

    def _member_effect(self, q: QueueState, a: int, kind: int, before: bool, now: float) -> None:
        """After agent ``a``'s membership of ``q`` changed (``before``: it staffed ``q``): the event, the
        logged-in count (a queue left empty starts its no-agents limit, and a limit of 0 ends its calls
        now: the compiled core's next row fires it), and the waiting calls a free agent may now take
        (core_member_op.member_changed)."""
        aid = self._agents.ids[a]
        self._emit(now, _KINDS[kind], None, a, q.name, "", 0.0 if kind == REMOVE else member_penalty(q.cfg, aid))
        staffs = any(m.agent == aid and m.from_step == 0 for m in q.cfg.members)
        if self._agents.presence[a] != PRESENCE_LOGGED_OUT and staffs != before:
            if staffs:
                q.logged_in += 1
                if q.logged_in == 1:
                    q.empty_epoch += 1  # no-agents timers set while it was empty are void
            else:
                q.logged_in -= 1
                if q.logged_in == 0:
                    self._queue_emptied(q, now)
        if kind != REMOVE:
            self._agent_freed(a, now)
        self._leave_settings(q, now)  # empty_ref.py

    def reload(self, now: float, config: RouterConfig) -> list[Event]:
        """Apply the differences between the running configuration and ``config``, matched by queue name and
        agent id: agents added, queues added, queue settings and members changed, queues removed, agents
        removed, in that order, keeping every call and agent state (docs/routing.md §16)."""
        now = self._clock(now)
        A = self._agents
        plan = plan_reload(self.config, config, A.index, len(A.ids))
        if plan.queues_removed:
            self._tried(now, lambda r: [refuse_calls(n, len(r._queue_calls(r._queue_index[n])), reload=True)
                                        for n in plan.queues_removed])
        for aid in plan.agents_removed:
            refuse_logged_in(aid, A.presence[A.index[aid]] != PRESENCE_LOGGED_OUT, reload=True)
        self._advance(now)
        old, final = self.config, plan.config
        for agent in plan.agents:  # new agents first, so queues can list them
            self._agent_added(agent, replace(self.config, agents=self.config.agents + (agent,)), now)
        for qi, q in plan.queues_added:  # every new name first: one may overflow to another
            self._queue_index[q.name] = qi
        for qi, _ in plan.queues_added:
            self._queue_added(qi, final, now)
        for r in plan.queues:
            q = self._rebuild_queue(self._queues[r.queue], r.config)
            if r.settings_changed:
                if self._stats is not None:
                    self._stats.threshold[q.name] = q.cfg.sl_threshold_s
                self._emit(now, EventKind.QUEUE_UPDATED, None, -1, q.name)
                self._leave_settings(q, now)
            # Each change fires what falls due at ``now`` before the next (the compiled core's rows do).
            for a in r.added:
                self._advance(now)
                self._member_effect(q, a, ADD, False, now)
            for a, before in r.updated:
                self._advance(now)
                self._member_effect(q, a, UPDATE, before, now)
            for a, before in r.removed:
                self._advance(now)
                self._member_effect(q, a, REMOVE, before, now)
            if r.settings_changed:
                for a in q.members_list:
                    self._advance(now)
                    self._agent_freed(a, now)
            self._advance(now)
        for name in plan.queues_removed:
            self._queue_removed(removal(old, self._queue_index[name], -1, A.index, final), now)
        for aid in plan.agents_removed:
            self._agent_removed(plan_agent_remove(final, aid, A.index), now)
        if plan.changes:  # an equal configuration changes nothing, not even which object holds it
            self.config = final
        self._advance(now)
        return self._flush()

    def queue_update(self, now: float, queue: str, **settings: Any) -> list[Event]:
        """Change queue settings; they apply to what is decided from ``now`` on (docs/routing.md §16)."""
        now = self._clock(now)
        change = plan_queue(self.config, queue, self._queue_index, settings)
        self._advance(now)
        q = self._rebuild_queue(self._queues[change.queue], change.config.queues[change.queue])
        self.config = change.config
        if self._stats is not None:
            self._stats.threshold[q.name] = q.cfg.sl_threshold_s
        self._emit(now, EventKind.QUEUE_UPDATED, None, -1, q.name)
        self._leave_settings(q, now)  # empty_ref.py
        for a in q.members_list:  # in member order, each offered what it may take now
            self._advance(now)  # (what fell due at ``now`` first, as the compiled core's rows do)
            self._agent_freed(a, now)
        return self._flush()

    def agent_add(self, now: float, agent: dict) -> list[Event]:
        """Add an agent (a table as in the configuration file, no ``groups``): logged out, in no queue."""
        now = self._clock(now)
        add = plan_agent_add(self.config, agent)
        self._advance(now)
        self._agent_added(add.agent, add.config, now)
        return self._flush()

    def agent_remove(self, now: float, agent_id: Hashable) -> list[Event]:
        """Remove a logged-out agent (docs/routing.md §16): it leaves its queues (``MEMBER_REMOVED`` each, in
        queue order), ``AGENT_REMOVED``; then each call still waiting for it as its preferred agent goes to
        its queue's members at once, as at its fallback. Its id is free again (``agent_add`` makes a new
        agent of it)."""
        now = self._clock(now)
        plan = plan_agent_remove(self.config, agent_id, self._agents.index)
        A = self._agents
        a = plan.agent
        refuse_logged_in(agent_id, A.presence[a] != PRESENCE_LOGGED_OUT)
        self._advance(now)
        self._agent_removed(plan, now)
        return self._flush()

    def _agent_removed(self, plan, now: float) -> None:
        A = self._agents
        a = plan.agent
        if A.configs is None:  # pickled before removals: the rows are the configuration's agents
            A.configs = list(self.config.agents)
        queues = [self._rebuild_queue(self._queues[qi], plan.config.queues[qi]) for qi in plan.queues]
        self.config = plan.config
        del A.index[A.ids[a]]
        # Each step fires what falls due at ``now`` before the next, as the compiled core's rows do.
        for q in queues:
            self._member_effect(q, a, REMOVE, False, now)
            self._advance(now)
        self._emit(now, EventKind.AGENT_REMOVED, None, a, None)
        A.gone[a] = True
        self._advance(now)
        for key in list(A.directed[a]):  # in waiting order
            self._pref_fallback(self._by_order[key[2]], now)
            self._advance(now)

    def _agent_added(self, agent, config: RouterConfig, now: float) -> None:
        a = _add_agent(self._agents, agent, config)
        self.config = config
        self._cand_buf = np.empty(len(self._agents.ids), dtype=np.int64)
        if self._stats is not None:
            self._stats.agents[agent.id] = AgentTotals(agent.id)
        self._emit(now, EventKind.AGENT_ADDED, None, a, None)

    def _rebuild_queue(self, old: QueueState, cfg: QueueConfig) -> QueueState:
        """The queue's state for its new members, in its place, with everything carried over."""
        A = self._agents
        q = QueueState(old.idx, cfg, A.index, self._skill_index, self._queue_index)
        for name in _CARRIED:
            setattr(q, name, getattr(old, name))
        was = [int(a) for a in old.members]
        q.paused = {q.member_of[was[i]]: r for i, r in old.paused.items() if was[i] in q.member_of}
        last = next((was[i] for i in range(len(was)) if int(old.m_pos[i]) == old.rr_cursor), None)
        if last in q.member_of:  # round-robin: the turn goes on from the member last offered, wherever it stands
            q.rr_cursor = int(q.m_pos[q.member_of[last]])
        for i, a in enumerate(was):  # so do its calls completed from this queue (a new member has none)
            if a in q.member_of:
                q.m_calls[q.member_of[a]] = old.m_calls[i]
                q.m_last_s[q.member_of[a]] = old.m_last_s[i]
        self._queues[old.idx] = q
        self._leave_on = any(x.leave_mask for x in self._queues)  # empty-queue rules (empty_ref.py)
        for a in set(was) | set(q.member_of):  # each agent's (queue, member index) rows, in queue order
            rows = [(qi, mi) for qi, mi in A.queues[a] if qi != old.idx]
            if a in q.member_of:
                rows.append((old.idx, q.member_of[a]))
            A.queues[a] = sorted(rows)
        for a in was:
            A.fast_queues[a] = [x for x in A.fast_queues[a] if x is not old]
        if getattr(self, "_fast_paths", True):
            self._index_queue(q)
        if q.avail is not None:  # its available members, with the keys _touch gave them (none changes since)
            k = q.avail_key
            q.avail = sorted((0.0 if k == 0 else float(A.answered[a]) if k == 1 else float(A.talk_s[a]) if k == 2
                              else -q.skill_sum[q.member_of[a]], int(A.idle_rank[a]), a)
                             for a in q.members_list if A.display[a] == "AVAILABLE")
        for c in self._calls.values():  # ring-progressively: the agents still to ring, without non-members
            if c.queue == old.idx and c.state == CallState.OFFERED and c.ring_order:
                c.ring_order = [q.member_of[was[i]] for i in c.ring_order if was[i] in q.member_of]
        return q
