"""Router: queue membership changes at run time, on the compiled core (docs/routing.md §16).

``member_add`` / ``member_remove`` / ``member_update`` check the change
(membership.plan_change), advance the core to ``now``, swap the queue's
member tables (core_members.swap_queue) and run one ``OP_MEMBER`` row for
the rest (core_member_op.member_changed), then fire what fell due at ``now``
(a no-agents limit of 0). A refused change changes nothing, clock included.
"""

from __future__ import annotations

from typing import Any, Hashable

from .core_build import grow
from .core_layout import NO_ID, NWAIT, OP_ADVANCE, OP_MEMBER, S_NT, S_TM_NEED, S_TM_ROOM
from .core_members import swap_queue
from .errors import TimeError, real_seconds
from .events import Event
from .membership import ADD, REMOVE, UPDATE, MemberChange, plan_change


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
        now = real_seconds(now)
        if now < self.now:
            raise TimeError(f"time went backwards: now={now!r} is before the last time {self.now!r}")
        return now, plan_change(self.config, kind, agent_id, queue, self._agent_index, self._queue_index, settings)

    def member_swap(self, change: MemberChange) -> tuple:
        """Put the change's member tables in place (the core advanced to its time first); return the
        OP_MEMBER row that finishes it, to run at that time."""
        S = swap_queue(self._S, change.config, change.queue, self._agent_index, self._skill_index)
        if change.kind == REMOVE:  # room for the no-agents timers of the queue's waiting calls
            S.S_i[S_TM_NEED] = S.S_i[S_NT] + S.Q_i[change.queue, NWAIT] + S.S_i[S_TM_ROOM]
        self._S = grow(S)
        self._S.S_i[S_TM_NEED] = 0
        self.config = change.config
        return (OP_MEMBER, self.now, NO_ID, change.agent, change.queue, int(change.staffed_before),
                float(change.kind))

    def _member_change(self, now: float, kind: int, agent_id: Hashable, queue: str,
                       settings: dict[str, Any]) -> list[Event]:
        now, change = self.member_plan(now, kind, agent_id, queue, settings)
        events = self._one(OP_ADVANCE, now)
        events += self._one(*self.member_swap(change))
        return events + self._one(OP_ADVANCE, now)

