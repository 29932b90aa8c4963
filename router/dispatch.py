"""Routing decisions: which agent gets a call, which call a freed agent takes.

Rules (docs/routing.md has the full text):

* A call entering a queue is routed at once by the queue's strategy over its
  candidates (:func:`kernels.collect_candidates`); if there is none it waits.
* An agent that becomes free takes, among every queue it serves and the calls
  transferred to it by name, the call with the least key
  ``(-queue weight, -priority, arrival time, arrival order)`` that it is
  eligible for: queue weight first, then priority, then longest waiting; the
  arrival order makes equal times FIFO.
* A call is offered to one agent at a time, except ring-all and
  ring-progressively, whose first accept wins and withdraws the rest.
* A call that comes back from an offer (reject, no answer, withdrawal) keeps
  its key, so it returns to its original place.
"""

from __future__ import annotations

import bisect
import heapq
import math

import numpy as np

from . import kernels as K
from .codes import (
    LOCK_DELAY, LOCK_NONE, PRESENCE_NOT_READY, PRESENCE_READY, STRAT_LONGEST_IDLE, STRAT_PREFERRED, STRAT_RING_ALL,
    STRAT_RING_PROGRESSIVELY, STRAT_ROUND_ROBIN, STRAT_TOP_DOWN, CallState, EventKind,
)
from .state import Call, QueueState

# Timer kinds (ordered by (time, sequence) in one heap; see engine.py).
T_RING = 1
T_LOCK_END = 2
T_MAX_WAIT = 3
T_NO_AGENTS = 4
T_ESCALATE = 5
T_PREF_FALLBACK = 6
T_RING_STEP = 7
T_CALL_LIMIT = 8  # a call's own max wait from its arrival (token: the call's order)
T_LEAVE_CALL, T_LEAVE_WALK = 9, 10  # empty queues (empty_ref.py): one call's check; a walk of queue ``target``

_RING_WALK = 64  # round-robin: members looked at before handing over to the kernel scan


class DispatchMixin:
    """Routing half of :class:`busyhour.router.Router` (state lives on the Router)."""

    # ----------------------------------------------------------------- queues
    def _enter_queue(self, call: Call, q: QueueState, t: float, how: str) -> None:
        """Put ``call`` in ``q`` (arrival, overflow or transfer) and route it."""
        self._set_state(call, CallState.WAITING)  # before the queue changes: ring counts are per queue
        call.queue = q.idx
        call.qgen += 1
        call.step = 0
        call.entered_s = t
        call.ring_order = []
        call.cursor = -1
        if call.own_ids.size:
            call.req_ids = np.concatenate([q.req_ids, call.own_ids])
            call.req_min = np.concatenate([q.req_min, call.own_min])
        else:
            call.req_ids, call.req_min = q.req_ids, q.req_min
        self._emit(t, EventKind.CALL_ARRIVED, call, -1, q.name, how)
        if q.cfg.max_length and len(q.waiting) + q.ringing >= q.cfg.max_length:  # callers rung count too
            self._overflow_or_end(call, q, q.overflow_idx, t, "queue-full", entry=True)
            return
        if q.join_mask and self._joins_empty(call, q):  # join_empty: refused as with no agents (empty_ref.py)
            self._overflow_or_end(call, q, q.overflow_idx, t, "no-agents", entry=True)
            return
        if q.logged_in == 0 and call.preferred < 0 and q.cfg.max_wait_no_agents_s == 0:
            self._overflow_or_end(call, q, q.overflow_idx, t, "no-agents", entry=True)
            return
        self._no_agents_limit(call, q, t)
        if q.cfg.max_wait_s < math.inf:
            self._push_timer(t + q.cfg.max_wait_s, T_MAX_WAIT, call.sid, call.qgen)
        for k, step in enumerate(q.cfg.escalation):
            self._push_timer(t + step.after_s, T_ESCALATE, call.sid, call.qgen, k + 1)
        if call.preferred >= 0 and call.preferred_until > t and call.preferred_until < math.inf:
            self._push_timer(call.preferred_until, T_PREF_FALLBACK, call.sid, call.qgen)
        if not self._try_route(call, t, waiting=False):
            self._wait(call, q, t)

    def _wait(self, call: Call, q: QueueState, t: float) -> None:
        key = call.key()
        bisect.insort(q.waiting, key)
        if call.preferred >= 0 and call.preferred_until > t:
            bisect.insort(self._agents.directed[call.preferred], key)
        self._set_state(call, CallState.WAITING)
        self._emit(t, EventKind.CALL_QUEUED, call, -1, q.name, "", float(bisect.bisect_left(q.waiting, key) + 1))
        if q.leave_mask:
            self._leave_check_call(call, q, t)

    def _unwait(self, call: Call) -> None:
        key = call.key()
        q = self._queues[call.queue]
        del q.waiting[bisect.bisect_left(q.waiting, key)]
        if call.preferred >= 0:
            lst = self._agents.directed[call.preferred]
            i = bisect.bisect_left(lst, key)
            if i < len(lst) and lst[i] == key:
                del lst[i]

    def _overflow_or_end(self, call: Call, q: QueueState, target: int, t: float, reason: str,
                         entry: bool = False) -> None:
        """Send ``call`` (not waiting, not ringing) to ``target`` or end it with ``reason``."""
        if target >= 0 and call.hops < len(self._queues):
            call.hops += 1
            dest = self._queues[target]
            self._emit(t, EventKind.CALL_OVERFLOWED, call, -1, q.name, dest.name)
            self._enter_queue(call, dest, t, "overflow")
        else:
            self._end_call(call, t, ("rejected:" if entry else "exited:") + reason)

    # ---------------------------------------------------------------- routing
    def _eligible(self, a: int, call: Call, t: float) -> bool:
        """Can agent ``a`` be offered ``call`` now (presence, locks, room, skills, membership)?"""
        A = self._agents
        if (A.presence[a] != PRESENCE_READY or A.lock_kind[a] != LOCK_NONE or A.load[a, call.channel] >= A.cap[a, call.channel]
                or a == call.xfer_from):
            return False
        q = self._queues[call.queue]
        drop = q.drop_by_step[call.step]
        if call.preferred >= 0 and call.preferred_until > t:
            return a == call.preferred and K.agent_has_skills(A.skills, a, call.req_ids, call.req_min, drop)
        i = q.member_of.get(a, -1)
        if (i < 0 or q.m_from_step[i] > call.step or q.m_penalty[i] > q.max_penalty_by_step[call.step]
                or i in q.paused):
            return False
        return K.agent_has_skills(A.skills, a, call.req_ids, call.req_min, drop)

    def _candidates(self, call: Call, t: float) -> tuple[QueueState, np.ndarray, int]:
        q = self._queues[call.queue]
        A = self._agents
        n = K.collect_candidates(q.members, q.m_from_step, q.m_penalty, call.step,
                                 q.max_penalty_by_step[call.step], A.presence, A.lock_kind, A.load, A.cap,
                                 call.channel, A.skills, call.req_ids, call.req_min, q.drop_by_step[call.step],
                                 self._cand_buf)
        i = q.member_of.get(call.xfer_from, -1)
        if (i >= 0 or q.paused) and n:  # never the agent who transferred the call; no member paused here
            cand = self._cand_buf
            keep = [int(m) for m in cand[:n] if m != i and int(m) not in q.paused]
            cand[:len(keep)] = keep
            n = len(keep)
        return q, self._cand_buf, n

    def _try_route(self, call: Call, t: float, waiting: bool = True) -> bool:
        """Offer ``call`` to the agent(s) its strategy picks; False if it must wait.

        ``waiting``: the call is in its waiting list (and leaves it when offered).
        """
        if call.preferred >= 0 and call.preferred_until > t:
            if self._eligible(call.preferred, call, t):
                if waiting:
                    self._unwait(call)
                self._offer(call, call.preferred, t)
                return True
            return False
        q = self._queues[call.queue]
        if q.avail is not None and (q.avail_key != 3 or not call.own_ids.size):  # no member scan
            a = self._pick_available(q, call, t)
            if a < 0:
                return False
            if waiting:
                self._unwait(call)
            self._offer(call, a, t)
            return True
        if q.pos_order is not None:  # round-robin: walk the ring from the cursor, a few steps at most
            i = self._next_in_ring(q, call, t)
            if i >= 0:
                if waiting:
                    self._unwait(call)
                q.rr_cursor = int(q.m_pos[i])
                self._offer(call, int(q.members[i]), t)
                return True  # (not found within the walk: the kernel below decides, by the same rule)
        q, cand, n = self._candidates(call, t)
        if n == 0:
            return False
        A = self._agents
        s = q.strategy
        if waiting:
            self._unwait(call)
        if s == STRAT_RING_ALL or s == STRAT_RING_PROGRESSIVELY:
            order = K.order_candidates(cand, n, q.m_tier, q.m_penalty, q.m_pos, s == STRAT_RING_ALL)
            if s == STRAT_RING_ALL:
                for i in order:
                    self._offer(call, int(q.members[i]), t)
            else:
                self._offer(call, int(q.members[order[0]]), t)
                call.ring_order = [int(i) for i in order[1:]]
                if call.ring_order:
                    call.ring_gen += 1
                    self._push_timer(t + q.cfg.ring_step_s, T_RING_STEP, call.sid, call.ring_gen)
            return True
        cursor = call.cursor if s == STRAT_TOP_DOWN else q.rr_cursor
        i = K.pick_candidate(s if s != STRAT_PREFERRED else STRAT_LONGEST_IDLE, cand, n, q.members, q.m_tier, q.m_penalty,
                             q.m_pos, q.m_weight, q.m_calls, q.m_last_s, A.idle_rank, A.answered, A.talk_s, A.skills, call.req_ids,
                             cursor, self._rng)
        if s == STRAT_ROUND_ROBIN:
            q.rr_cursor = int(q.m_pos[i])
        elif s == STRAT_TOP_DOWN:
            call.cursor = int(q.m_pos[i])
        self._offer(call, int(q.members[i]), t)
        return True

    def _pick_available(self, q: QueueState, call: Call, t: float) -> int:
        """The first agent in ``q``'s available-member heap that can take ``call``, or -1.

        The heap holds ``(key, rank, agent)`` for each time a member became
        AVAILABLE; an entry is current while the agent's ``idle_rank`` still
        equals ``rank`` and it is still AVAILABLE, and then its key is the
        kernel's key for that agent (ties: rank, i.e. longest idle). Stale
        entries are dropped; current ones that cannot take this call (a delay
        lock, the channel, skills) are set aside and pushed back. Same answer
        as ``kernels.pick_candidate`` over ``collect_candidates`` (tested).
        """
        if q.m_penalty[0] > q.max_penalty_by_step[call.step]:
            return -1
        A = self._agents
        heap = q.avail
        rank, disp = A.idle_rank, A.display
        drop = q.drop_by_step[call.step]
        ch = call.channel
        own = call.own_ids.size > 0
        base_ok = q.base_ok[call.step]  # queue skills met, per member (skills never change)
        skipped = []
        found = -1
        while heap:
            _, r, a = heap[0]
            if rank[a] != r or disp[a] != "AVAILABLE":
                heapq.heappop(heap)
            elif (A.lock_kind[a] == LOCK_NONE and A.cap[a, ch] > 0 and a != call.xfer_from
                  and q.member_of[a] not in q.paused
                  and (K.agent_has_skills(A.skills, a, call.req_ids, call.req_min, drop) if own
                       else base_ok[q.member_of[a]])):
                found = a
                break
            else:
                skipped.append(heapq.heappop(heap))
        for e in skipped:
            heapq.heappush(heap, e)
        return found

    def _next_in_ring(self, q: QueueState, call: Call, t: float) -> int:
        """Round-robin without a member scan: the member index the kernel would pick, or -1.

        Members are kept in static (position, index) order; the kernel's rule
        "smallest position after the cursor, wrapping; the cursor's own
        position last" is that order read from just after the cursor, round the
        ring. At most ``_RING_WALK`` members are looked at; -1 then means "not
        found yet", and the caller falls back to the kernel scan.
        """
        if q.m_penalty[0] > q.max_penalty_by_step[call.step]:
            return -1
        order = q.pos_order
        n = len(order)
        start = bisect.bisect_right(q.pos_sorted, q.rr_cursor)
        A = self._agents
        drop = q.drop_by_step[call.step]
        ch = call.channel
        for k in range(min(n, _RING_WALK)):
            i = order[(start + k) % n]
            a = q.members_list[i]
            if (A.presence[a] == PRESENCE_READY and A.lock_kind[a] == LOCK_NONE and A.load[a, ch] < A.cap[a, ch]
                    and a != call.xfer_from and i not in q.paused
                    and K.agent_has_skills(A.skills, a, call.req_ids, call.req_min, drop)):
                return i
        return -1

    def _offer(self, call: Call, a: int, t: float) -> None:
        A = self._agents
        q = self._queues[call.queue]
        if q.strategy == STRAT_RING_ALL and not call.offers:
            self._ring_started(q, call, t)
        self._token += 1
        call.offers[a] = self._token
        self._set_state(call, CallState.OFFERED)
        A.load[a, call.channel] += 1
        A.offers[a] += 1
        A.last_offered_s[a] = t
        expiry = t + q.cfg.ring_timeout_s
        self._push_timer(expiry, T_RING, call.sid, self._token, a)
        kind = EventKind.CALLBACK_OFFERED if call.callback is not None else EventKind.CALL_OFFERED
        self._emit(t, kind, call, a, q.name, call.callback or "", expiry)
        self._touch(a, t)

    def _drop_offer(self, call: Call, a: int, t: float, kind: EventKind, detail: str) -> None:
        """End one ringing offer (the agent's reservation is released)."""
        A = self._agents
        del call.offers[a]
        A.load[a, call.channel] -= 1
        A.offers[a] -= 1
        self._emit(t, kind, call, a, self._queues[call.queue].name, detail)

    def _back_to_queue(self, call: Call, t: float) -> None:
        """A call whose offers all ended returns to its original place and is routed again."""
        if call.offers or call.state != CallState.OFFERED:
            return
        q = self._queues[call.queue]
        if call.ring_order:  # ring-progressively: keep going down the list first
            self._ring_next(call, t)
            if call.offers:
                return
        if not self._try_route(call, t, waiting=False):
            self._no_agents_limit(call, q, t)  # back in a queue nobody serves: its limit starts now
            self._wait(call, q, t)

    def _no_agents_limit(self, call: Call, q: QueueState, t: float) -> None:
        """Start the call's no-agents limit if nobody logged in serves ``q`` (a directed call has none): on
        entry, and when it comes back to wait."""
        d = q.cfg.max_wait_no_agents_s
        if q.logged_in == 0 and call.preferred < 0 and d < math.inf:
            self._push_timer(t + d, T_NO_AGENTS, call.sid, call.qgen, q.empty_epoch)

    def _ring_next(self, call: Call, t: float) -> None:
        q = self._queues[call.queue]
        while call.ring_order:
            a = int(q.members[call.ring_order.pop(0)])
            if a not in call.offers and self._eligible(a, call, t):
                self._offer(call, a, t)
                break
        call.ring_gen += 1  # a step timer set earlier is stale from now on
        if call.ring_order:
            self._push_timer(t + q.cfg.ring_step_s, T_RING_STEP, call.sid, call.ring_gen)

    def _withdraw_all(self, call: Call, t: float, reason: str) -> None:
        for a in list(call.offers):
            self._drop_offer(call, a, t, EventKind.OFFER_WITHDRAWN, reason)
            self._lock_or_free(a, t, 0.0, LOCK_NONE)

    # ----------------------------------------------------------------- agents
    def _free(self, a: int, t: float) -> None:
        self._touch(a, t)
        self._agent_freed(a, t)

    def _agent_freed(self, a: int, t: float) -> None:
        """Agent ``a`` may have room: give it the best waiting call(s) it is eligible for."""
        A = self._agents
        while A.presence[a] == PRESENCE_READY and A.lock_kind[a] == LOCK_NONE:
            best_key = None
            best_call = None
            for key in A.directed[a]:
                c = self._by_order[key[2]]
                if self._eligible(a, c, t):
                    best_key, best_call = (-math.inf,) + key, c
                    break
            if best_call is None:  # ring-all: a ring begun at this instant first (ring_join.py)
                joined = self._ring_join(a, t)
                if joined is not None:
                    self._offer(joined, a, t)
                    continue
            for qi, _mi in A.queues[a]:
                q = self._queues[qi]
                for key in q.waiting:
                    if best_key is not None and (-q.cfg.weight,) + key >= best_key:
                        break
                    c = self._by_order[key[2]]
                    if self._eligible(a, c, t):
                        best_key, best_call = (-q.cfg.weight,) + key, c
                        break
            if best_call is None:
                return
            self._unwait(best_call)
            q = self._queues[best_call.queue]
            if q.strategy == STRAT_ROUND_ROBIN and a in q.member_of:
                q.rr_cursor = int(q.m_pos[q.member_of[a]])
            self._offer(best_call, a, t)

    def _set_not_ready(self, a: int, t: float, reason: str) -> None:
        A = self._agents
        A.presence[a] = PRESENCE_NOT_READY
        A.not_ready_reason[a] = reason
        if A.lock_kind[a] == LOCK_DELAY:
            self._unlock(a)

    # ------------------------------------------------------------------ calls
    def _set_state(self, call: Call, new: CallState) -> None:
        """The one place a call's state changes, so each queue's count of ringing calls stays exact."""
        old = call.state
        if old == CallState.OFFERED and new != CallState.OFFERED:
            self._queues[call.queue].ringing -= 1
        elif new == CallState.OFFERED and old != CallState.OFFERED:
            self._queues[call.queue].ringing += 1
        call.state = new

    def _end_call(self, call: Call, t: float, disposition: str) -> None:
        self._set_state(call, CallState.ENDED)
        self._recently_ended[call.id] = disposition
        if len(self._recently_ended) > 65536:  # bounded memory of ended ids, for clear late-accept errors
            self._recently_ended.popitem(last=False)  # OrderedDict: O(1), unlike dict's next(iter())
        q = self._queues[call.queue] if call.queue >= 0 else None
        self._emit(t, EventKind.CALL_ENDED, call, call.agent, q.name if q else None, disposition,
                   t - call.arrival_s)
        del self._calls[call.id]
        del self._by_sid[call.sid]
        self._by_order.pop(call.order, None)
        self._ended += 1
