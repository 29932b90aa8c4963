"""Router: queues added and removed while calls go on, on the compiled core (docs/routing.md §16).

``queue_add`` checks the queue table (queue_plans.plan_queue_add), advances
the core to ``now``, gives the queue its row (core_queues.put_new_queue) and
member tables, then runs an ``OP_QUEUE`` row (``arg`` 2: ``QUEUE_ADDED``) and
one ``OP_MEMBER`` row per member. ``queue_remove`` moves the queue's waiting
calls (in their order) and then its ringing calls (in arrival order) to
``to`` with ``OP_MOVE`` rows, empties its member tables and runs an
``OP_MEMBER`` row per member that left, then an ``OP_QUEUE`` row (``arg`` 1:
``QUEUE_REMOVED``, the row marked removed). A refused change changes
nothing, clock included.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .core_handle import on_state
from .core_layout import (
    ARRIVAL, CoreState, EXT, NO_ID, OK, OP_ADVANCE, OP_DTYPE, OP_MEMBER, OP_MOVE, OP_QUEUE, ORDER, PRIO, QUEUE,
    QUEUE_ADDED_ARG, QUEUE_REMOVED_ARG, STATE, ST_OFFERED, ST_WAITING,
)
from .core_queues import put_new_queue
from .events import Event
from .fast_trial import run_trial
from .membership import ADD, REMOVE
from .queue_plans import QueueAdd, QueueRemove, plan_queue_add, plan_queue_remove, refuse_calls


class QueueChanges:
    """Mixed into Router (uses its config, now, queue_names, _queue_index, _agent_index, _S, _one, _stats)."""

    def queue_add(self, now: float, queue: dict) -> list[Event]:
        """Add a queue while calls go on (Asterisk's ``queue reload`` of a new queue, FreeSWITCH's
        ``callcenter_config queue load``): ``queue`` is a table as in the configuration file (``name``,
        ``strategy``, ``members``, its settings, ``escalation``, …; members and overflow queues among the
        router's, skills among its skills). ``QUEUE_ADDED``, then ``MEMBER_ADDED`` for each member; a removed
        queue's name takes its old row back (its statistics go on)."""
        now, add = self.queue_add_plan(now, queue)
        return self._one(OP_ADVANCE, now) + self._internal_rows(self.queue_put(add))

    def queue_add_plan(self, now: float, queue: dict) -> tuple[float, QueueAdd]:
        """(now, the new queue) checked against this router, changing nothing."""
        return self._checked_now(now), plan_queue_add(self.config, queue)

    def queue_put(self, add: QueueAdd) -> list[tuple]:
        """Give the queue its row and member tables (the core advanced to its time first); return the rows
        that announce it: OP_QUEUE (added), OP_MEMBER per member, then an advance."""
        qi, q = add.queue, add.config.queues[add.queue]
        self._name_row(qi, q.name)
        self._S = put_new_queue(self._S, add.config, qi, self._queue_index, self._agent_index, self._skill_index)
        self._put_queue(add.config, qi, timers=False)
        self.config = add.config
        if getattr(self, "_stats", None) is not None:
            self._fed_stats().queue_put(qi, q.name, q.sl_threshold_s)
        now = self.now
        return ([(OP_QUEUE, now, NO_ID, -1, qi, 0, float(QUEUE_ADDED_ARG))]
                + [(OP_MEMBER, now, NO_ID, self._agent_index[m.agent], qi, 0, float(ADD)) for m in q.members]
                + [(OP_ADVANCE, now, NO_ID, -1, -1, 0, 0.0)])

    def queue_remove(self, now: float, queue: str, *, to: str | None = None) -> list[Event]:
        """Remove a queue while calls go on: its waiting calls (in their order), then its ringing ones (in
        arrival order), move to queue ``to`` as ``call_move`` moves them — refused (StateError) without ``to``
        while it holds any; its members leave it (``MEMBER_REMOVED`` each); ``QUEUE_REMOVED``. Its connected
        calls finish as they would have (its wrap-up applies); a transfer of one needs a target queue. A
        queue another one overflows to, at once or at an escalation step, is refused."""
        now, plan = self.queue_remove_plan(now, queue, to)
        events = self._one(OP_ADVANCE, now)
        for rows in self.queue_remove_steps(plan):
            events += self._internal_rows(rows)
        return events

    def queue_remove_plan(self, now: float, queue: str, to: str | None) -> tuple[float, QueueRemove]:
        """(now, the removal) checked against this router at ``now``, changing nothing."""
        now = self._checked_now(now)
        plan = plan_queue_remove(self.config, queue, to, self._queue_index, self._agent_index)
        if plan.to < 0:
            refuse_calls(queue, len(self._queue_calls(self._state_at(now), plan.queue)))
        return now, plan

    def queue_remove_steps(self, plan: QueueRemove) -> Iterator[list[tuple]]:
        """Take the queue out (the core advanced to its time first), one step at a time: each step yields the
        rows that finish it, which the caller runs before the next (the calls' moves see the members still
        there; the members' rows, the emptied tables)."""
        now, qi = self.now, plan.queue
        calls = self._queue_calls(self._S, qi)
        if calls:
            yield [(OP_MOVE, now, c, -1, plan.to, 0, 0.0) for c in calls] + [(OP_ADVANCE, now, NO_ID, -1, -1, 0, 0.0)]
        self._put_queue(plan.config, qi, timers=False)  # no calls left: no no-agents timer to set
        self.config = plan.config
        del self._queue_index[self.queue_names[qi]]
        yield ([(OP_MEMBER, now, NO_ID, a, qi, int(before), float(REMOVE)) for a, before in plan.members]
               + [(OP_QUEUE, now, NO_ID, -1, qi, 0, float(QUEUE_REMOVED_ARG)), (OP_ADVANCE, now, NO_ID, -1, -1, 0, 0.0)])

    def _name_row(self, qi: int, name: str) -> None:
        """Queue row ``qi`` answers to ``name`` (a new row is the next one; a removed queue's comes back)."""
        if qi == len(self.queue_names):
            self.queue_names.append(name)
        self._queue_index[name] = qi

    @staticmethod
    def _queue_calls(S: CoreState, qi: int) -> list[int]:
        """The core ids of queue ``qi``'s waiting calls in their order (priority, arrival, order), then of its
        ringing calls in arrival order."""
        C_i, C_f = S.C_i, S.C_f
        mine = C_i[:, QUEUE] == qi
        w = np.flatnonzero(mine & (C_i[:, STATE] == ST_WAITING))
        w = w[np.lexsort((C_i[w, ORDER], C_f[w, ARRIVAL], -C_i[w, PRIO]))]
        r = np.flatnonzero(mine & (C_i[:, STATE] == ST_OFFERED))
        r = r[np.argsort(C_i[r, ORDER], kind="stable")]
        return C_i[np.concatenate([w, r]), EXT].tolist()

    def _state_at(self, now: float) -> CoreState:
        """The core's state at ``now``: this one when no timer is due by then, else a copy advanced to it."""
        if self.next_deadline() > now:
            return self._S
        row = np.array([(OP_ADVANCE, now, NO_ID, -1, -1, 0, 0.0)], dtype=OP_DTYPE)
        status, T = run_trial(on_state(self._run_batch), self._S, row, np.zeros(0, dtype=np.int64), 0)
        if status != OK:  # an advance to a checked time cannot be refused
            raise RuntimeError(f"advancing a copy of the core to {now!r} was refused (status {status})")
        return T
