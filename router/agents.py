"""Agent operations of the Router facade: login, logout, ready, not ready.

State machine (display states, see docs/routing.md):
LOGGED_OUT → NOT_READY(reason) or AVAILABLE on login; AVAILABLE ⇄ NOT_READY;
AVAILABLE → RESERVED (ringing) → BUSY → WRAP_UP (timer) → AVAILABLE.
Not-ready while busy takes effect when the calls end; logout while a call is
connected is refused; ringing offers are withdrawn and their calls return to
their place.
"""

from __future__ import annotations

import math
from typing import Hashable

from .codes import LOCK_NONE, PRESENCE_LOGGED_OUT, PRESENCE_NOT_READY, PRESENCE_READY, CallState, EventKind
from .dispatch import T_LOCK_END, T_NO_AGENTS
from .errors import StateError, check_reason, flag
from .events import Event


class AgentOpsMixin:
    def agent_login(self, now: float, agent_id: Hashable, *, ready: bool = False) -> list[Event]:
        """Log the agent in: NOT_READY('login'), or AVAILABLE with ``ready=True``."""
        now = self._clock(now)
        a = self._agent(agent_id)
        ready = flag(ready, "ready")
        A = self._agents
        if A.presence[a] != PRESENCE_LOGGED_OUT:  # no timer logs an agent in or out: checked before them
            raise StateError(f"agent {agent_id!r} is already logged in ({A.display[a]})")
        self._advance(now)
        A.presence[a] = PRESENCE_READY if ready else PRESENCE_NOT_READY
        A.not_ready_reason[a] = "login"
        A.no_answer_run[a] = 0
        for qi, mi in A.queues[a]:
            q = self._queues[qi]
            if q.m_from_step[mi] == 0:
                q.logged_in += 1
                if q.logged_in == 1:
                    q.empty_epoch += 1  # no-agents timers set while it was empty are void
        self._touch(a, now)
        if ready:
            self._agent_freed(a, now)
        return self._flush()

    def agent_logout(self, now: float, agent_id: Hashable) -> list[Event]:
        """Log the agent out; refused while it has a connected call."""
        now = self._clock(now)
        a = self._agent(agent_id)
        A = self._agents
        if A.presence[a] == PRESENCE_LOGGED_OUT:  # no timer changes presence or connected calls
            raise StateError(f"agent {agent_id!r} is not logged in")
        if A.connected[a]:
            raise StateError(f"agent {agent_id!r} has {int(A.connected[a])} connected call(s); "
                             "release or transfer them before logging out")
        self._advance(now)
        calls = self._withdraw_offers_of(a, now, "agent-logged-out")
        A.presence[a] = PRESENCE_LOGGED_OUT
        self._unlock(a)
        emptied = []
        for qi, mi in A.queues[a]:
            q = self._queues[qi]
            if q.m_from_step[mi] == 0:
                q.logged_in -= 1
                if q.logged_in == 0:
                    emptied.append(q)
        self._touch(a, now)
        for call in calls:
            self._back_to_queue(call, now)
        for q in emptied:
            self._queue_emptied(q, now)
        return self._flush()

    def _queue_emptied(self, q, now: float) -> None:
        """The last agent of ``q`` logged out: start the no-agents wait of its waiting calls."""
        d = q.cfg.max_wait_no_agents_s
        if d == math.inf:
            return
        for key in list(q.waiting):
            call = self._by_order[key[2]]
            if call.preferred < 0 and call.callback is None:
                self._push_timer(now + d, T_NO_AGENTS, call.sid, call.qgen, q.empty_epoch)
        if d == 0:
            self._advance(now)

    def agent_ready(self, now: float, agent_id: Hashable) -> list[Event]:
        """The agent is ready for calls (no-op when already ready)."""
        now = self._clock(now)
        a = self._agent(agent_id)
        A = self._agents
        if A.presence[a] == PRESENCE_LOGGED_OUT:  # no timer logs an agent in or out: checked before them
            raise StateError(f"agent {agent_id!r} is logged out; log in first")
        self._advance(now)
        if A.presence[a] != PRESENCE_READY:
            A.presence[a] = PRESENCE_READY
            A.no_answer_run[a] = 0
            self._touch(a, now)
            self._agent_freed(a, now)
        return self._flush()

    def agent_not_ready(self, now: float, agent_id: Hashable, reason: str = "break") -> list[Event]:
        """The agent goes NOT_READY(reason); ringing offers are withdrawn, connected calls go on."""
        now = self._clock(now)
        a = self._agent(agent_id)
        check_reason(reason)
        A = self._agents
        if A.presence[a] == PRESENCE_LOGGED_OUT:  # no timer logs an agent in or out: checked before them
            raise StateError(f"agent {agent_id!r} is logged out; log in first")
        self._advance(now)
        calls = self._withdraw_offers_of(a, now, "agent-not-ready")
        self._set_not_ready(a, now, reason)
        self._touch(a, now)
        for call in calls:
            self._back_to_queue(call, now)
        return self._flush()

    def member_pause(self, now: float, agent_id: Hashable, queue: str, reason: str = "paused") -> list[Event]:
        """Pause the agent in ``queue`` only (docs/routing.md §10): no offers of that queue's calls."""
        now = self._clock(now)
        a = self._agent(agent_id)
        q = self._queue(queue)
        check_reason(reason, "pause")
        i = self._member_index(a, q, agent_id)
        if i in q.paused:  # no timer pauses or unpauses: checked before them
            raise StateError(f"agent {agent_id!r} is already paused in queue {q.name!r}; unpause it first")
        self._advance(now)
        q.paused[i] = reason
        self._emit(now, EventKind.MEMBER_PAUSED, None, a, q.name, reason)
        if self._leave_on:
            self._leave_agent(a, now)
        return self._flush()

    def member_unpause(self, now: float, agent_id: Hashable, queue: str) -> list[Event]:
        """End the agent's pause in ``queue``; it takes that queue's waiting calls at once if it can."""
        now = self._clock(now)
        a = self._agent(agent_id)
        q = self._queue(queue)
        i = self._member_index(a, q, agent_id)
        if i not in q.paused:
            raise StateError(f"agent {agent_id!r} is not paused in queue {q.name!r}")
        self._advance(now)
        del q.paused[i]
        self._emit(now, EventKind.MEMBER_UNPAUSED, None, a, q.name, "")
        if self._leave_on:
            self._leave_agent(a, now)
        self._agent_freed(a, now)
        return self._flush()

    def paused_in(self, agent_id: Hashable) -> dict[str, str]:
        """The queues the agent is paused in, with the reasons, in configuration order."""
        a = self._agent(agent_id)
        return {q.name: q.paused[q.member_of[a]] for q in self._queues
                if a in q.member_of and q.member_of[a] in q.paused}

    def _member_index(self, a: int, q, agent_id: Hashable) -> int:
        i = q.member_of.get(a)
        if i is None:
            raise StateError(f"agent {agent_id!r} is not a member of queue {q.name!r}")
        return i

    def _withdraw_offers_of(self, a: int, t: float, reason: str) -> list:
        """Withdraw every offer ringing agent ``a``; return the calls (to re-queue afterwards)."""
        if not self._agents.offers[a]:
            return []
        calls = [c for c in self._calls.values() if c.state == CallState.OFFERED and a in c.offers]
        for c in calls:
            self._drop_offer(c, a, t, EventKind.OFFER_WITHDRAWN, reason)
        return calls

    # ----------------------------------------------------------------- locks (wrap-up, delays)
    def _lock_or_free(self, a: int, t: float, lock_s: float, kind: int) -> None:
        """Put agent ``a`` in wrap-up/delay for ``lock_s``, or offer it work now."""
        if not self._lock(a, t, lock_s, kind):
            self._free(a, t)

    def _lock(self, a: int, t: float, lock_s: float, kind: int) -> bool:
        """Start a wrap-up/delay lock of ``lock_s`` (extending any longer one); False if none."""
        A = self._agents
        if lock_s <= 0 or A.presence[a] == PRESENCE_LOGGED_OUT:
            return False
        until = max(t + lock_s, A.lock_until[a])
        A.lock_until[a] = until
        if kind > A.lock_kind[a]:
            A.lock_kind[a] = kind
        A.lock_token[a] += 1
        self._push_timer(until, T_LOCK_END, a, int(A.lock_token[a]))
        self._touch(a, t)
        return True

    def _unlock(self, a: int) -> None:
        """End agent ``a``'s wrap-up or delay lock now; its pending end timer becomes stale."""
        A = self._agents
        A.lock_kind[a] = LOCK_NONE
        A.lock_until[a] = 0.0
        A.lock_token[a] += 1
