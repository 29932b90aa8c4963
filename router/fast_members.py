"""Router: changes at run time on the compiled core — queue membership, queue settings, reloads, moving a
waiting call to another queue (docs/routing.md §16).

``member_add`` / ``member_remove`` / ``member_update`` check the change
(membership.plan_change), advance the core to ``now``, swap the queue's
member tables (core_members.swap_queue) and run one ``OP_MEMBER`` row for
the rest (core_member_op.member_changed), then fire what fell due at ``now``
(a no-agents limit of 0). ``queue_update`` and ``reload`` do the same with
``OP_QUEUE`` rows for the settings; ``call_move`` is one ``OP_MOVE`` row. A
refused change changes nothing, clock included.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Hashable, Iterator

import numpy as np

from .codes import EventKind
from .config import RouterConfig
from .core_build import core_channels, grow
from .core_layout import (
    DIR_HEAD, DIR_NEXT, NO_ID, NWAIT, OK, OP_ADVANCE, OP_AGENT, PRES, OP_DTYPE, OP_MEMBER, OP_MOVE, OP_QUEUE, QM_AGENT, S_NT, S_TM_NEED, S_TM_ROOM,
)
from .core_members import add_agent, queue_settings, swap_queue
from .empty import set_rules
from .core_kernels import P_LOGGED_OUT
from .errors import TimeError, UnknownIdError, real_seconds
from .events import Event
from .membership import (
    ADD, REMOVE, UPDATE, AgentAdd, AgentRemove, MemberChange, QueueChange, plan_agent_add, plan_agent_remove,
    plan_change, plan_queue, refuse_logged_in,
)
from .queue_plans import QueueAdd, refuse_calls, removal
from .reload_plan import ReloadPlan, plan_reload


class MemberChanges:
    """Mixed into Router (uses its config, now, _agent_index, _queue_index, _S and _one)."""

    def member_add(self, now: float, agent_id: Hashable, queue: str, *, tier: int = 1, penalty: int = 0,
                   position: int | None = None, weight: float = 1.0) -> list[Event]:
        """Make the agent a member of ``queue`` (Asterisk's QueueAdd, FreeSWITCH's ``tier add``); ``position``
        defaults to after the queue's last member. If it is logged in it counts at once, and if it is free it
        is offered the queue's waiting calls it may take."""
        return self._member_change(now, ADD, agent_id, queue,
                                   dict(tier=tier, penalty=penalty, position=position, weight=weight))

    def member_remove(self, now: float, agent_id: Hashable, queue: str) -> list[Event]:
        """End the agent's membership of ``queue`` (QueueRemove, ``tier del``): no more offers of its calls (a
        ringing one rings on), its pause there ends; a queue left with no logged-in member starts the
        no-agents limit of its waiting calls."""
        return self._member_change(now, REMOVE, agent_id, queue, {})

    def member_update(self, now: float, agent_id: Hashable, queue: str, *, tier: int | None = None,
                      penalty: int | None = None, position: int | None = None,
                      weight: float | None = None) -> list[Event]:
        """Change a member's tier, penalty, position or weight (QueuePenalty, ``tier set``); those not given
        stay. A free agent is offered the waiting calls it may now take."""
        return self._member_change(now, UPDATE, agent_id, queue,
                                   dict(tier=tier, penalty=penalty, position=position, weight=weight))

    def member_plan(self, now: float, kind: int, agent_id: Hashable, queue: str,
                    settings: dict[str, Any]) -> tuple[float, MemberChange]:
        """(now, the change) checked against this router, changing nothing (TimeError, UnknownIdError,
        StateError)."""
        now = self._checked_now(now)
        return now, plan_change(self.config, kind, agent_id, queue, self._agent_index, self._queue_index, settings)

    def member_swap(self, change: MemberChange) -> list[tuple]:
        """Put the change's member tables in place (the core advanced to its time first); return the rows
        that finish it, to run at that time: OP_MEMBER, then an advance (a no-agents limit of 0)."""
        self._put_queue(change.config, change.queue, timers=change.kind == REMOVE)
        self.config = change.config
        return [(OP_MEMBER, self.now, NO_ID, change.agent, change.queue, int(change.staffed_before),
                 float(change.kind)), (OP_ADVANCE, self.now, NO_ID, -1, -1, 0, 0.0)]

    def _member_change(self, now: float, kind: int, agent_id: Hashable, queue: str,
                       settings: dict[str, Any]) -> list[Event]:
        now, change = self.member_plan(now, kind, agent_id, queue, settings)
        return self._one(OP_ADVANCE, now) + self._internal_rows(self.member_swap(change))

    def _put_queue(self, config: RouterConfig, qi: int, timers: bool) -> None:
        """Queue ``qi``'s member tables and settings as ``config`` has them (core_members.swap_queue,
        queue_settings), the arrays regrown; with ``timers``, room for a no-agents timer per waiting call (a
        removal may leave the queue empty)."""
        S = swap_queue(self._S, config, qi, self._agent_index, self._skill_index)
        queue_settings(S.Q_i, S.Q_f, qi, config.queues[qi], self._queue_index)
        S = S._replace(LE=set_rules(S.LE, qi, config.queues))  # join / leave rules (empty.py)
        if timers:
            S.S_i[S_TM_NEED] = S.S_i[S_NT] + S.Q_i[qi, NWAIT] + S.S_i[S_TM_ROOM]
        self._S = grow(S)
        self._S.S_i[S_TM_NEED] = 0

    def _settings_changed(self, q) -> list[tuple]:
        """The statistics take queue ``q``'s new threshold; the OP_QUEUE rows that announce the change and
        then offer each member what it may take, one row each (each row has one step's room)."""
        if getattr(self, "_stats", None) is not None:
            self._fed_stats().set_threshold(q.name, q.sl_threshold_s)
        qi = self._queue_index[q.name]
        members = self._S.QM[self._S.QM_ptr[qi]:self._S.QM_ptr[qi + 1], QM_AGENT].tolist()
        return [(OP_QUEUE, self.now, NO_ID, a, qi, 0, 0.0) for a in [-1, *members]]

    def agent_add(self, now: float, agent: dict) -> list[Event]:
        """Add an agent while calls go on (FreeSWITCH's ``callcenter_config agent add``): ``agent`` is a table
        as in the configuration file (``id``, ``skills``, ``capacity``, its own settings; no ``groups``). It
        starts logged out and a member of no queue: ``member_add`` it, then log it in."""
        now, add = self.agent_plan(now, agent)
        return self._one(OP_ADVANCE, now) + self._internal_rows(self.agent_swap(add))

    def agent_remove(self, now: float, agent_id: Hashable) -> list[Event]:
        """Remove a logged-out agent (FreeSWITCH's ``callcenter_config agent del``; docs/routing.md §16): it
        leaves its queues (``MEMBER_REMOVED`` each, in queue order), ``AGENT_REMOVED``; then each call still
        waiting for it as its preferred agent goes to its queue's members at once, as at its fallback. Its
        id is free again; its row stays, marked gone, so no index moves."""
        now, plan = self.agent_remove_plan(now, agent_id)
        return self._one(OP_ADVANCE, now) + self._internal_rows(self.agent_unswap(plan))

    def agent_remove_plan(self, now: float, agent_id: Hashable) -> tuple[float, AgentRemove]:
        """(now, the removal) checked against this router, changing nothing."""
        now = self._checked_now(now)
        plan = plan_agent_remove(self.config, agent_id, self._agent_index)
        refuse_logged_in(agent_id, self._S.A_i[plan.agent, PRES] != P_LOGGED_OUT)
        return now, plan

    def agent_unswap(self, plan: AgentRemove) -> list[tuple]:
        """Take the agent out of its queues' member tables and the id map (the core advanced to its time
        first); return the rows that finish the removal: OP_MEMBER per queue, OP_AGENT (removed), one
        OP_AGENT per call waiting for it (its fallback)."""
        a, now = plan.agent, self.now
        for qi in plan.queues:
            self._put_queue(plan.config, qi, timers=False)
        self.config = plan.config
        del self._agent_index[self.agent_ids[a]]
        S = self._S
        waiting, x = 0, int(S.A_i[a, DIR_HEAD])
        while x >= 0:
            waiting += 1
            x = int(S.C_i[x, DIR_NEXT])
        return ([(OP_MEMBER, now, NO_ID, a, qi, 0, float(REMOVE)) for qi in plan.queues]
                + [(OP_AGENT, now, NO_ID, a, -1, 0, 1.0)] + [(OP_AGENT, now, NO_ID, a, -1, 0, 2.0)] * waiting)

    def agent_plan(self, now: float, agent: dict) -> tuple[float, AgentAdd]:
        """(now, the new agent) checked against this router, changing nothing."""
        return self._checked_now(now), plan_agent_add(self.config, agent, self._agent_index)

    def agent_swap(self, add: AgentAdd) -> list[tuple]:
        """Grow the agent tables by the new agent (the core advanced to its time first); return the OP_AGENT
        row that announces it."""
        self._S = add_agent(self._S, add.agent, core_channels(add.config), self._skill_index)
        a = len(self.agent_ids)
        self.agent_ids.append(add.agent.id)
        self._agent_index[add.agent.id] = a
        self.config = add.config
        if getattr(self, "_stats", None) is not None:
            self._fed_stats().agent_put(a, add.agent.id)
        return [(OP_AGENT, self.now, NO_ID, a, -1, 0, 0.0)]

    def move_row(self, now: float, cid: int, queue: str) -> tuple:
        """Reads the call's state when ``queue`` is unknown (a bad time, then an unknown call, is the error to
        report first)."""
        now = self._checked_now(now)
        try:
            q = self.queue_index(queue)
        except UnknownIdError:
            if self._slot(cid) >= 0:
                raise
            q = 0  # the unknown call is the error the core reports
        return (OP_MOVE, now, cid, -1, q, 0, 0.0)

    def call_move(self, now: float, call_id: Hashable, queue: str) -> list[Event]:
        """Move a waiting or ringing call to ``queue`` (a supervisor's choice): its offers are withdrawn and
        it enters ``queue`` keeping its arrival time, priority and own limits, as an overflow does
        (docs/routing.md §16). A connected call is refused (transfer it)."""
        return self._one(*self.move_row(now, self._call_id(call_id), queue), asked=call_id)

    def queue_update(self, now: float, queue: str, **settings: Any) -> list[Event]:
        """Change queue settings while calls go on (docs/routing.md §16): ring_timeout_s, wrap_up_s, the
        delays, max_no_answer, max_wait_s, max_wait_no_agents_s, max_length, overflow, weight, ring_step_s,
        preferred_fallback_s, max_penalty, sl_threshold_s, strategy, join_empty, leave_when_empty. They apply to
        what is decided from ``now`` on; the queue's free members are then offered what they may take."""
        now, change = self.queue_plan(now, queue, settings)
        return self._one(OP_ADVANCE, now) + self._internal_rows(self.queue_swap(change))

    def queue_plan(self, now: float, queue: str, settings: dict[str, Any]) -> tuple[float, QueueChange]:
        """(now, the change) checked against this router, changing nothing."""
        return self._checked_now(now), plan_queue(self.config, queue, self._queue_index, settings)

    def queue_swap(self, change: QueueChange) -> list[tuple]:
        """Put the queue's new settings in place (the core advanced to its time first); return the OP_QUEUE
        rows that finish the change: the event, then one per member."""
        self._put_queue(change.config, change.queue, timers=False)  # the member tables: max penalty (QOK)
        self.config = change.config
        return self._settings_changed(change.config.queues[change.queue])

    def reload(self, now: float, config: RouterConfig) -> list[Event]:
        """Apply the differences between the running configuration and ``config``, matched by queue name and
        agent id: agents added, queues added, queue settings and members changed, queues removed (refused
        while one holds a waiting or ringing call), agents removed (refused while one is logged in), in that
        order, keeping every call and agent state (docs/routing.md §16). Anything else that differs raises
        ConfigError naming it (it needs a restart); nothing changes then."""
        now, plan = self.reload_plan(now, config)
        events = self._one(OP_ADVANCE, now)
        for rows in self.reload_steps(config, plan):
            events += self._internal_rows(rows)
        return events + self._one(OP_ADVANCE, now)

    def reload_plan(self, now: float, config: RouterConfig) -> tuple[float, ReloadPlan]:
        """(now, the reload's plan) checked against this router at ``now``, changing nothing (TimeError,
        ConfigError, StateError)."""
        now = self._checked_now(now)
        plan = plan_reload(self.config, config, self._agent_index, len(self.agent_ids))
        S = self._state_at(now) if plan.queues_removed else self._S
        for name in plan.queues_removed:
            refuse_calls(name, len(self._queue_calls(S, self._queue_index[name])), reload=True)
        for aid in plan.agents_removed:
            refuse_logged_in(aid, self._S.A_i[self._agent_index[aid], PRES] != P_LOGGED_OUT, reload=True)
        return now, plan

    def reload_steps(self, config: RouterConfig, plan: ReloadPlan) -> Iterator[list[tuple]]:
        """Put a reload's changes in place (the core advanced to its time first), one step at a time: each
        step yields the rows that finish it, which the caller runs before taking the next step (a queue's
        rows see the queues before it changed and the ones after it not yet)."""
        now, old, final = self.now, self.config, plan.config
        for agent in plan.agents:  # new agents first, so queues can list them
            yield self.agent_swap(AgentAdd(agent, replace(self.config, agents=self.config.agents + (agent,))))
        for qi, q in plan.queues_added:  # every new name first: one may overflow to another
            self._name_row(qi, q.name)
        for qi, _ in plan.queues_added:
            yield self.queue_put(QueueAdd(qi, final))
        for r in plan.queues:
            qi = r.queue
            self._put_queue(final, qi, timers=bool(r.removed))
            offers = self._settings_changed(r.config) if r.settings_changed else []
            rows = offers[:1]  # QUEUE_UPDATED first; the members' offers after the membership rows
            rows += [(OP_MEMBER, now, NO_ID, a, qi, 0, float(ADD)) for a in r.added]
            rows += [(OP_MEMBER, now, NO_ID, a, qi, int(before), float(kind)) for kind, changes in (
                (UPDATE, r.updated), (REMOVE, r.removed)) for a, before in changes]
            rows += offers[1:]
            # then what fell due (a no-agents limit of 0) before the next queue changes: each row fires what is
            # due before it runs, as the reference fires it at once
            yield rows + [(OP_ADVANCE, now, NO_ID, -1, -1, 0, 0.0)]
        for name in plan.queues_removed:
            yield from self.queue_remove_steps(removal(old, self._queue_index[name], -1, self._agent_index, final))
        for aid in plan.agents_removed:
            yield self.agent_unswap(plan_agent_remove(final, aid, self._agent_index))
        if plan.changes:  # an equal configuration changes nothing, not even which object holds it
            self.config = final

    def _checked_now(self, now: float) -> float:
        """``now`` as seconds, refused (TimeError) when not finite or before the router's clock."""
        now = real_seconds(now)
        if now < self.now:
            raise TimeError(f"time went backwards: now={now!r} is before the last time {self.now!r}")
        return now

    def _internal_rows(self, rows: list[tuple]) -> list[Event]:
        """Run rows the facade built (they cannot fail) in one core run, as :meth:`_one` runs one."""
        if not rows:
            return []
        events, status, _ = self.run_rows(np.array(rows, dtype=OP_DTYPE), records=self._ext)
        if (status != OK).any():
            raise RuntimeError(f"internal rows refused: {self.describe(np.array(rows, dtype=OP_DTYPE), status)}")
        for e in events:
            if e.kind is EventKind.CALL_ENDED:
                self._ended_call(e.call_id, e.detail)
        return events
