"""Reference engine: queues added and removed at run time (docs/routing.md §16).

The readable specification of ``queue_add`` / ``queue_remove`` (the compiled
core's are fast_queues.py and core_queues.py). A queue added gets a fresh
state in its row (new and last, or a removed queue's of the same name),
``QUEUE_ADDED``, then each member joins it as ``member_add`` makes it join.
A queue removed sends its waiting calls (in their order), then its ringing
ones (in arrival order), to ``to`` as ``call_move`` does; its members leave
it as ``member_remove`` makes them leave; ``QUEUE_REMOVED``. Each step fires
what falls due at ``now`` before the next, as the compiled core's rows do.
"""

from __future__ import annotations

from dataclasses import replace

from .codes import CallState, EventKind
from .events import Event
from .membership import ADD, REMOVE
from .queue_plans import QueueRemove, plan_queue_add, plan_queue_remove, refuse_calls
from .state import Call, QueueState


class QueueChangesMixin:
    def queue_add(self, now: float, queue: dict) -> list[Event]:
        """Add a queue (a table as in the configuration file): ``QUEUE_ADDED``, then ``MEMBER_ADDED`` for each
        member; a removed queue's name takes its old row back."""
        now = self._clock(now)
        add = plan_queue_add(self.config, queue)
        self._advance(now)
        self._queue_added(add.queue, add.config, now)
        return self._flush()

    def _queue_added(self, qi: int, config, now: float) -> None:
        cfg = config.queues[qi]
        self._queue_index[cfg.name] = qi
        A = self._agents
        fresh = QueueState(qi, replace(cfg, members=()), A.index, self._skill_index, self._queue_index)
        if qi == len(self._queues):
            self._queues.append(fresh)
        else:  # a removed queue's row: no calls, no members; its old no-agents timers stay void
            fresh.empty_epoch = self._queues[qi].empty_epoch + 1
            self._queues[qi] = fresh
        q = self._rebuild_queue(fresh, cfg)
        self.config = config
        if self._stats is not None:
            self._stats.threshold[cfg.name] = cfg.sl_threshold_s
        self._emit(now, EventKind.QUEUE_ADDED, None, -1, cfg.name)
        for m in cfg.members:
            self._advance(now)
            self._member_effect(q, A.index[m.agent], ADD, False, now)
        self._advance(now)

    def queue_remove(self, now: float, queue: str, *, to: str | None = None) -> list[Event]:
        """Remove a queue: its waiting, then ringing calls move to ``to`` (refused without it while it holds
        any); its members leave it; ``QUEUE_REMOVED``. Its connected calls finish as they would have."""
        now = self._clock(now)
        plan = plan_queue_remove(self.config, queue, to, self._queue_index, self._agents.index)
        if plan.to < 0:
            self._tried(now, lambda r: refuse_calls(queue, len(r._queue_calls(plan.queue))))
        self._advance(now)
        self._queue_removed(plan, now)
        return self._flush()

    def _queue_calls(self, qi: int) -> list[Call]:
        """Queue ``qi``'s waiting calls in their order, then its ringing calls in arrival order."""
        q = self._queues[qi]
        ringing = sorted((c for c in self._calls.values() if c.queue == qi and c.state == CallState.OFFERED),
                         key=lambda c: c.order)
        return [self._by_order[k[2]] for k in q.waiting] + ringing

    def _queue_removed(self, plan: QueueRemove, now: float) -> None:
        for call in self._queue_calls(plan.queue):
            self._advance(now)
            self._move_call(call, self._queues[plan.to], now)
        self._advance(now)
        q = self._rebuild_queue(self._queues[plan.queue], plan.config.queues[plan.queue])
        self.config = plan.config
        del self._queue_index[q.name]
        for a, before in plan.members:
            self._advance(now)
            self._member_effect(q, a, REMOVE, before, now)
        self._advance(now)
        self._emit(now, EventKind.QUEUE_REMOVED, None, -1, q.name)
        self._advance(now)
