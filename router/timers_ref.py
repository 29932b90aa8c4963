"""The reference engine's timers when they fire: which are still live, and what each kind does.

A mixin of :class:`~busyhour.router.engine.ReferenceRouter` (the executable
specification, docs/routing.md): timers are entries ``(deadline, sequence,
kind, target, token, arg)`` of its heap, deleted lazily — an entry whose
token has moved on is dropped when it reaches the top.
"""

from __future__ import annotations

import math

from .codes import LOCK_DELAY, LOCK_NONE, CallState, EventKind
from .dispatch import (
    T_CALL_LIMIT, T_ESCALATE, T_LEAVE_CALL, T_LEAVE_WALK, T_LOCK_END, T_MAX_WAIT, T_NO_AGENTS, T_PREF_FALLBACK,
    T_RING, T_RING_STEP,
)
from .state import Call


class TimerRulesMixin:
    """Liveness and effect of each timer kind (engine.ReferenceRouter)."""

    def _timer_live(self, entry: tuple) -> bool:
        _, _, kind, target, token, arg = entry
        if kind == T_LOCK_END:
            return self._agents.lock_token[target] == token
        if kind == T_LEAVE_WALK:  # target: a queue; the walk looks again when it fires
            return True
        call = self._by_sid.get(target)
        if call is None:
            return False
        if kind == T_RING:
            return call.offers.get(arg) == token
        if call.state not in (CallState.WAITING, CallState.OFFERED):
            return False  # a connected call's waiting timers are void (a transfer re-arms them)
        if kind == T_RING_STEP:
            return call.ring_gen == token
        if kind == T_CALL_LIMIT:  # the caller's own max wait: until it is first answered; not for a callback
            return call.order == token and math.isnan(call.connected_s) and call.callback is None
        if kind == T_NO_AGENTS:
            q = self._queues[call.queue]
            return call.qgen == token and q.empty_epoch == arg and q.logged_in == 0
        return call.qgen == token

    def _fire(self, entry: tuple) -> None:
        t, _, kind, target, token, arg = entry
        A = self._agents
        if kind == T_LOCK_END:
            self._unlock(target)
            self._lock_or_free(target, t, 0.0, LOCK_NONE)
            return
        if kind == T_LEAVE_WALK:
            self._leave_walk(self._queues[target], t)
            return
        call = self._by_sid[target]
        q = self._queues[call.queue]
        if kind == T_RING:
            self._drop_offer(call, arg, t, EventKind.OFFER_EXPIRED, "")
            A.no_answer_run[arg] += 1
            # The agent's delay starts first, then the call goes back to its place (and may be routed),
            # and only then is an agent without a delay free for work: the call keeps its FIFO turn.
            mna = self._setting(arg, q, "max_no_answer")
            if mna and A.no_answer_run[arg] >= mna:
                self._set_not_ready(arg, t, "no-answer")
                self._touch(arg, t)
                self._back_to_queue(call, t)
            else:
                locked = self._lock(arg, t, self._setting(arg, q, "no_answer_delay_s"), LOCK_DELAY)
                if not locked:
                    self._touch(arg, t)
                self._back_to_queue(call, t)
                if not locked:
                    self._agent_freed(arg, t)
        elif kind == T_RING_STEP:
            if call.state == CallState.OFFERED:
                self._ring_next(call, t)
        elif kind == T_CALL_LIMIT:  # the caller's own limit: it leaves wherever it waits or rings, no overflow
            self._leave_queue(call, t, "exit")
            self._overflow_or_end(call, q, -1, t, "timeout")
        elif kind in (T_MAX_WAIT, T_NO_AGENTS):
            if call.callback is not None or call.state not in (CallState.WAITING, CallState.OFFERED):
                return
            if kind == T_NO_AGENTS and q.logged_in > 0:
                return
            self._leave_queue(call, t, "exit")
            self._overflow_or_end(call, q, q.overflow_idx, t, "timeout" if kind == T_MAX_WAIT else "no-agents")
        elif kind == T_ESCALATE:
            if call.state not in (CallState.WAITING, CallState.OFFERED) or arg <= call.step:
                return
            call.step = arg
            self._emit(t, EventKind.CALL_ESCALATED, call, -1, q.name, str(arg))
            target_q = q.step_overflow_idx[arg - 1]
            if target_q >= 0:
                self._leave_queue(call, t, "escalation")
                self._overflow_or_end(call, q, target_q, t, "escalation")
            elif call.state == CallState.WAITING and not self._try_route(call, t):
                self._leave_check_call(call, q, t)  # waits on at the new step: empty for it there?
        elif kind == T_LEAVE_CALL:
            self._leave_call(call, q, t)
        elif kind == T_PREF_FALLBACK:
            self._pref_fallback(call, t)

    def _pref_fallback(self, call: Call, t: float) -> None:
        """The call's preference for one agent ends at ``t``: a waiting call goes to its queue's members."""
        if call.preferred >= 0 and call.state == CallState.WAITING:
            self._unwait(call)
            call.preferred_until = t
            self._wait(call, self._queues[call.queue], t)
            self._try_route(call, t)
        elif call.preferred >= 0:
            call.preferred_until = t
