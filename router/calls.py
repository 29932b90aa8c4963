"""Call operations of the Router facade (arrive, accept, reject, release, abandon, transfer, callback).

Each method validates its arguments, fires the timers due at or before
``now``, checks the call's state, and only then changes anything.
"""

from __future__ import annotations

import math
from typing import Any, Hashable

import numpy as np

from .dispatch import T_CALL_LIMIT
from .codes import MAX_NUMBER_CHARS, LOCK_DELAY, LOCK_NONE, LOCK_WRAP_UP, STRAT_PREFERRED, CallState, EventKind
from .config import MAX_LEVEL
from .fast_ids import call_key
from .errors import OfferError, StateError, UnknownIdError, flag
from .events import Event
from .state import NO_SKILLS, Call, QueueState


def parse_call_skills(skills: dict[str, int] | None, skill_index: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """A call's required skills as (skill ids, minimum levels); errors name the bad skill or level."""
    if not skills:
        return NO_SKILLS, NO_SKILLS
    if not isinstance(skills, dict):
        raise StateError(f"skills must map skill name to minimum level, got {type(skills).__name__}")
    ids, mins = [], []
    for name, level in skills.items():
        if name not in skill_index:
            raise UnknownIdError(f"unknown skill {name!r}")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL:
            raise StateError(f"skill {name!r}: minimum level must be an integer 1-{MAX_LEVEL}, got {level!r}")
        ids.append(skill_index[name])
        mins.append(level)
    return np.array(ids, dtype=np.int64), np.array(mins, dtype=np.int64)


def check_priority(priority: Any) -> None:
    """A priority set by the compiled core's rows (``change_priority``, the facade's ``call_arrive``): a
    32-bit integer."""
    if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) >= 1 << 31:
        raise StateError(f"priority must be a 32-bit integer, got {priority!r}")


def check_max_wait(max_wait_s: Any) -> float:
    """A call's own ``max_wait_s``: None (none: its queues' apply) or seconds > 0 (``math.inf``: none); the
    limit as a float."""
    if max_wait_s is None:
        return math.inf
    if isinstance(max_wait_s, bool) or not isinstance(max_wait_s, (int, float, np.integer, np.floating)) or not (
            max_wait_s > 0):
        raise StateError(f"max_wait_s must be a number of seconds > 0 (or None), got {max_wait_s!r}")
    return float(max_wait_s)


def check_arrival_extras(preferred_fallback_s: Any, context: Any) -> None:
    """An arrival's ``preferred_fallback_s`` (None or >= 0 seconds) and ``context`` (None or a dict)."""
    if preferred_fallback_s is not None and (not isinstance(preferred_fallback_s, (int, float))
                                             or isinstance(preferred_fallback_s, bool)
                                             or math.isnan(preferred_fallback_s) or preferred_fallback_s < 0):
        raise StateError(f"preferred_fallback_s must be >= 0 seconds, got {preferred_fallback_s!r}")
    if context is not None and not isinstance(context, dict):
        raise StateError(f"context must be a dict, got {type(context).__name__}")


class CallOpsMixin:
    def call_arrive(self, now: float, call_id: Hashable, queue: str, *, priority: int = 0,
                    skills: dict[str, int] | None = None, channel: str = "voice",
                    preferred_agent: Hashable | None = None, preferred_fallback_s: float | None = None,
                    context: dict[str, Any] | None = None, max_wait_s: float | None = None) -> list[Event]:
        """A new call enters ``queue``; it is offered at once or waits in its place. ``max_wait_s``: the
        caller's own limit from now until it is answered (Asterisk's ``Queue(..., timeout)``)."""
        now = self._clock(now)
        call_id = call_key(call_id)  # integers as int; None, bools, floats and unhashable ids refused
        if call_id in self._calls:
            raise StateError(f"call {call_id!r} is already in the system (state {self._calls[call_id].state.name})")
        q = self._queue(queue)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise StateError(f"priority must be an integer, got {priority!r}")
        ids, mins = self._parse_skills(skills)
        ch = self._channel_index.get(channel)
        if ch is None:
            raise UnknownIdError(f"unknown channel {channel!r} (channels: {', '.join(self.config.channels)})")
        limit_s = check_max_wait(max_wait_s)
        pref = self._agent(preferred_agent) if preferred_agent is not None else -1
        check_arrival_extras(preferred_fallback_s, context)
        self._advance(now)
        self._sid += 1
        self._order += 1
        call = Call(call_id, self._sid, self._order, priority, now, ch, dict(context or {}))
        call.own_ids, call.own_min = ids, mins
        if pref < 0 and q.strategy == STRAT_PREFERRED and q.cfg.dedicated_agent is not None:
            pref = self._agents.index[q.cfg.dedicated_agent]
        if pref >= 0:
            call.preferred = pref
            fb = q.cfg.preferred_fallback_s if preferred_fallback_s is None else float(preferred_fallback_s)
            call.preferred_until = now + fb
        self._calls[call_id] = call
        self._by_sid[call.sid] = call
        self._by_order[call.order] = call
        self._arrived += 1
        if limit_s < math.inf:  # the caller's own limit, set before its queue's timers
            self._push_timer(now + limit_s, T_CALL_LIMIT, call.sid, call.order)
        self._enter_queue(call, q, now, "")
        return self._flush()

    def _parse_skills(self, skills: dict[str, int] | None) -> tuple[np.ndarray, np.ndarray]:
        return parse_call_skills(skills, self._skill_index)

    def _ringing_offer(self, now: float, call_id: Hashable, agent_id: Hashable) -> tuple[Call, int]:
        """Validate an accept/reject (on a copy first when timers are due), fire the due timers; return
        (call, agent index)."""
        now = self._clock(now)
        a = self._agent(agent_id)
        try:
            call = self._call(call_id)
        except StateError as exc:  # it ended already: the offer is gone with it
            raise OfferError(f"{exc}; agent {agent_id!r} answered too late") from None
        self._tried(now, lambda r: r._offer_ringing(call_id, agent_id, a), (call, a))
        self._advance(now)
        return self._offer_ringing(call_id, agent_id, a), a

    def _offer_ringing(self, call_id: Hashable, agent_id: Hashable, a: int) -> Call:
        call = self._calls.get(call_id)
        if call is None:
            raise OfferError(f"call {call_id!r} ended before agent {agent_id!r} answered")
        if a not in call.offers:
            if call.state == CallState.CONNECTED:
                other = self._agents.ids[call.agent]
                raise OfferError(f"call {call_id!r} is already connected to agent {other!r}")
            raise OfferError(f"no offer of call {call_id!r} to agent {agent_id!r} is ringing "
                             f"(never made, expired, withdrawn or already answered)")
        return call

    def offer_accept(self, now: float, call_id: Hashable, agent_id: Hashable) -> list[Event]:
        """The agent answers: the call connects; other ringing offers are withdrawn."""
        call, a = self._ringing_offer(now, call_id, agent_id)
        t = self._now
        A = self._agents
        others = [b for b in call.offers if b != a]
        for b in others:
            self._drop_offer(call, b, t, EventKind.OFFER_WITHDRAWN, "answered-elsewhere")
        del call.offers[a]
        A.offers[a] -= 1
        A.connected[a] += 1
        A.answered[a] += 1
        A.no_answer_run[a] = 0
        call.agent = a
        self._set_state(call, CallState.CONNECTED)
        call.connected_s = t
        call.ring_order = []
        self._emit(t, EventKind.CALL_CONNECTED, call, a, self._queues[call.queue].name, "", t - call.wait_origin_s)
        self._touch(a, t)
        for b in others:
            self._lock_or_free(b, t, 0.0, LOCK_NONE)
        return self._flush()

    def offer_reject(self, now: float, call_id: Hashable, agent_id: Hashable, *, busy: bool = False) -> list[Event]:
        """The agent declines (``busy=True``: its device was busy); the call returns to its place."""
        busy = flag(busy, "busy")
        call, a = self._ringing_offer(now, call_id, agent_id)
        t = self._now
        q = self._queues[call.queue]
        self._drop_offer(call, a, t, EventKind.OFFER_REJECTED, "busy" if busy else "reject")
        locked = self._lock(a, t, self._setting(a, q, "busy_delay_s" if busy else "reject_delay_s"), LOCK_DELAY)
        if not locked:
            self._touch(a, t)
        self._back_to_queue(call, t)  # the call keeps its turn before a delay-free agent takes another
        if not locked:
            self._agent_freed(a, t)
        return self._flush()

    def call_release(self, now: float, call_id: Hashable, *, wrap_up_s: float | None = None) -> list[Event]:
        """A connected call ends normally; the agent goes to wrap-up (``wrap_up_s``, else the agent's own,
        else the queue's)."""
        now = self._clock(now)
        self._call(call_id)
        if wrap_up_s is not None and (isinstance(wrap_up_s, bool) or not isinstance(wrap_up_s, (int, float))
                                      or not math.isfinite(wrap_up_s) or wrap_up_s < 0):
            raise StateError(f"wrap_up_s must be a finite number >= 0, got {wrap_up_s!r}")
        call = self._connected(call_id, "released")  # no timer connects or ends a call: checked before them
        self._advance(now)
        self._release(call, self._now, wrap_up_s)
        return self._flush()

    def _connected(self, call_id: Hashable, verb: str) -> Call:
        call = self._calls.get(call_id)
        if call is None:
            raise StateError(f"call {call_id!r} ended before it could be {verb}")
        if call.state != CallState.CONNECTED:
            raise StateError(f"call {call_id!r} cannot be {verb}: it is {call.state.name}, not CONNECTED")
        return call

    def _free_agent_of(self, call: Call, t: float, q: QueueState | None = None) -> int:
        """The call's agent lets it go at ``t``; ``q``: the queue the call was answered in (default: its own)."""
        A = self._agents
        a = call.agent
        A.load[a, call.channel] -= 1
        A.connected[a] -= 1
        A.talk_s[a] += t - call.connected_s
        A.last_end_s[a] = t
        q = self._queues[call.queue] if q is None else q
        i = q.member_of.get(a)
        if i is not None:  # a member of the call's queue counts the call there (Asterisk's fewestcalls, leastrecent)
            q.m_calls[i] += 1
            q.m_last_s[i] = t
        call.agent = -1
        return a

    def _release(self, call: Call, t: float, wrap_up_s: float | None) -> None:
        q = self._queues[call.queue]
        w = self._setting(call.agent, q, "wrap_up_s") if wrap_up_s is None else float(wrap_up_s)
        q.aht_est_s += 0.1 * ((t - call.connected_s + w) - q.aht_est_s)  # EWMA of handle time
        a = call.agent
        self._end_call(call, t, "completed")
        self._free_agent_of(call, t)
        self._lock_or_free(a, t, w, LOCK_WRAP_UP)

    def call_abandon(self, now: float, call_id: Hashable) -> list[Event]:
        """The caller hangs up. While connected this is a normal completion."""
        now = self._clock(now)
        self._call(call_id)
        self._advance(now)
        call = self._calls.get(call_id)
        if call is None:
            return self._flush()  # a timer ended it first (e.g. max wait): nothing more to do
        t = self._now
        if call.state == CallState.CONNECTED:
            self._release(call, t, None)
        elif call.state == CallState.WAITING:
            self._unwait(call)
            self._end_call(call, t, "exited:callback-cancelled" if call.callback is not None else "abandoned")
        else:
            agents = list(call.offers)
            for b in agents:
                self._drop_offer(call, b, t, EventKind.OFFER_WITHDRAWN, "caller-abandoned")
            self._end_call(call, t, "exited:callback-cancelled" if call.callback is not None else "abandoned-ringing")
            for b in agents:
                self._lock_or_free(b, t, 0.0, LOCK_NONE)
        return self._flush()

    def transfer(self, now: float, call_id: Hashable, *, queue: str | None = None, agent: Hashable | None = None,
                 context: dict[str, Any] | None = None, fallback_s: float = math.inf) -> list[Event]:
        """Move a connected call to ``queue`` and/or a named ``agent``.

        The call keeps its arrival time, priority, context (updated with
        ``context``) and its place order. With ``agent`` it is offered only to
        that agent for ``fallback_s`` (default: forever), then to the queue.
        """
        now = self._clock(now)
        self._call(call_id)
        if queue is None and agent is None:
            raise StateError("transfer needs a target queue or agent")
        target_q = self._queue(queue) if queue is not None else None
        target_a = self._agent(agent) if agent is not None else -1
        if context is not None and not isinstance(context, dict):
            raise StateError(f"context must be a dict, got {type(context).__name__}")
        if isinstance(fallback_s, bool) or not isinstance(fallback_s, (int, float)) or not fallback_s >= 0:
            raise StateError(f"fallback_s must be >= 0 seconds (math.inf for never), got {fallback_s!r}")
        call = self._connected(call_id, "transferred")  # no timer connects or ends a call: checked before them
        if target_a == call.agent:
            raise StateError(f"call {call_id!r} is already connected to agent {agent!r}")
        if target_q is None and self._queues[call.queue].cfg.removed:
            raise StateError(f"call {call_id!r}: its queue was removed; name the queue to transfer it to (queue=…)")
        self._advance(now)
        t = self._now
        old_q = self._queues[call.queue]
        if target_q is None:
            target_q = old_q
        if context:
            call.context.update(context)
        old = call.agent
        detail = f"agent:{agent}" if target_a >= 0 else f"queue:{target_q.name}"
        self._emit(t, EventKind.CALL_TRANSFERRED, call, old, old_q.name, detail, t - call.connected_s)
        call.preferred = target_a
        call.preferred_until = t + fallback_s if target_a >= 0 else -math.inf
        call.xfer_from = old
        call.hops = 0
        call.wait_origin_s = t  # the second leg's wait starts now; arrival time (its place) is kept
        self._enter_queue(call, target_q, t, "transfer")  # old agent still holds the line here
        self._free_agent_of(call, t, old_q)
        self._lock_or_free(old, t, self._setting(old, old_q, "wrap_up_s"), LOCK_WRAP_UP)
        return self._flush()

    def change_priority(self, now: float, call_id: Hashable, priority: int) -> list[Event]:
        """A waiting or ringing call's new priority; a waiting call moves to its place among equals."""
        now = self._clock(now)
        call = self._call(call_id)
        check_priority(priority)
        if call.state == CallState.CONNECTED:  # no timer connects a call: checked before them
            raise StateError(f"call {call_id!r} is connected: only a waiting or ringing call's priority can change")
        self._tried(now, lambda r: r._queued_call(call_id))
        self._advance(now)
        call = self._queued_call(call_id)
        q = self._queues[call.queue]
        self._emit(now, EventKind.PRIORITY_CHANGED, call, -1, q.name, "", float(priority))
        if call.state == CallState.WAITING:
            self._unwait(call)
            call.priority = priority
            self._wait(call, q, now)
        else:
            call.priority = priority
        return self._flush()

    def call_move(self, now: float, call_id: Hashable, queue: str) -> list[Event]:
        """Move a waiting or ringing call to ``queue``: its offers are withdrawn and it enters ``queue``
        keeping its arrival time, priority and own limits, as an overflow does."""
        now = self._clock(now)
        call = self._call(call_id)
        q = self._queue(queue)
        if call.state == CallState.CONNECTED:  # no timer connects a call: checked before them
            raise StateError(f"call {call_id!r} is connected: transfer it to move it to another queue")
        self._tried(now, lambda r: r._movable(call_id, q.idx))
        self._advance(now)
        self._move_call(self._movable(call_id, q.idx), q, now)
        return self._flush()

    def _move_call(self, call: Call, q, now: float) -> None:
        self._emit(now, EventKind.CALL_MOVED, call, -1, self._queues[call.queue].name, q.name)
        self._leave_queue(call, now, "moved")
        call.hops = 0  # the overflow loop guard counts from here
        self._enter_queue(call, q, now, "moved")

    def _movable(self, call_id: Hashable, qi: int) -> Call:
        call = self._calls.get(call_key(call_id))
        if call is None:
            raise StateError(f"call {call_id!r} ended before it could be moved")
        if call.queue == qi:
            raise StateError(f"call {call_id!r} is in queue {self._queues[qi].name!r} already")
        return call

    def _queued_call(self, call_id: Hashable) -> Call:
        call = self._calls.get(call_key(call_id))
        if call is None:
            raise StateError(f"call {call_id!r} ended before its priority could change")
        return call

    def request_callback(self, now: float, call_id: Hashable, number: str) -> list[Event]:
        """A waiting caller hangs up and keeps its place; an agent will call ``number`` back."""
        now = self._clock(now)
        self._call(call_id)
        if not isinstance(number, str) or not number.strip():
            raise StateError(f"callback number must be a non-empty string, got {number!r}")
        if len(number) > MAX_NUMBER_CHARS:
            raise StateError(f"callback number must be at most {MAX_NUMBER_CHARS} characters, got {len(number)}")
        self._tried(now, lambda r: r._waiting_call(call_id))
        self._advance(now)
        call = self._waiting_call(call_id)
        call.callback = number
        self._emit(self._now, EventKind.CALLBACK_REQUESTED, call, -1, self._queues[call.queue].name, number)
        return self._flush()

    def _waiting_call(self, call_id: Hashable) -> Call:
        """The call, if it may become a callback: waiting, and not one already."""
        call = self._calls.get(call_id)
        if call is None:
            raise StateError(f"call {call_id!r} ended before the callback request")
        if call.state != CallState.WAITING or call.callback is not None:
            what = "already a callback" if call.callback is not None else call.state.name
            raise StateError(f"call {call_id!r} cannot become a callback: it is {what}, not a waiting call")
        return call
