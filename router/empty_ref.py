"""Reference engine: the join and leave rules for an empty queue (docs/routing.md §6, "Empty queues").

The readable specification of ``join_empty`` / ``leave_when_empty`` (the
compiled core's are core_empty.py and core_leave.py, step for step).

* **Usable.** A member is usable for a call unless one of the rule's
  conditions holds for it (empty.py); the queue is *empty* for the call when
  no member is usable. With ``penalty`` this depends on the call's escalation
  step; otherwise it is the same for every call of the queue.
* **Join.** A call entering a queue whose ``join_empty`` finds it empty at
  step 0 is refused there (``rejected:no-agents``, or its overflow), as a
  ``max_wait_no_agents_s`` of 0 refuses it. Calls with a preferred agent are
  exempt.
* **Leave.** Invariant: after every operation and every timer, no waiting call
  (callbacks and calls with a preferred agent exempt) sits in a queue that is
  empty for it under its ``leave_when_empty``; such calls leave at that
  instant (``exited:no-agents``, or the queue's overflow). Kept by three
  checks: (1) a call that starts waiting, or waits on at a new escalation
  step, checks its queue (timer ``T_LEAVE_CALL`` at once); (2) whenever a
  member's agent changes (each ``_touch``, a pause or unpause) the queue's
  empty steps are recomputed, and steps that became empty start a walk
  (``T_LEAVE_WALK`` at once) that ends its waiting calls one per timer, in
  queue order, while the queue is still empty for them; (3) a change of the
  queue's members or settings starts a walk if any step is empty. Ringing
  calls are not checked: they are checked when they come back to wait.
* **Cost.** Only queues with a rule pay: O(members × checked steps) per
  agent change per such queue the agent is in (the steps are 1 without
  ``penalty``); a walk O(waiting calls) once, plus O(members × steps) per
  call that leaves.
"""

from __future__ import annotations

from . import kernels as K
from .codes import LOCK_WRAP_UP, PRESENCE_LOGGED_OUT, PRESENCE_NOT_READY, CallState
from .dispatch import T_LEAVE_CALL, T_LEAVE_WALK
from .empty import INUSE, LOGGED_OUT, PAUSED, PENALTY, RINGING, WRAPUP


class EmptyRulesMixin:
    _leave_on = False  # some queue has a leave rule (instance attribute; a class default for old snapshots)

    # --------------------------------------------------------------- who is usable
    def _usable(self, q, i: int, mask: int) -> bool:
        """Member ``i`` of ``q`` is usable: none of ``mask``'s conditions but ``penalty`` holds for it."""
        a = q.members_list[i]
        A = self._agents
        p = A.presence[a]
        if mask & LOGGED_OUT and p == PRESENCE_LOGGED_OUT:
            return False
        if mask & PAUSED and (p == PRESENCE_NOT_READY or i in q.paused):
            return False
        if mask & INUSE and A.connected[a] > 0:
            return False
        if mask & RINGING and A.offers[a] > 0:
            return False
        return not (mask & WRAPUP and A.lock_kind[a] == LOCK_WRAP_UP)

    def _reaches(self, q, i: int, step: int) -> bool:
        """Member ``i`` may serve ``q``'s calls at escalation ``step``: from_step, max penalty, queue skills."""
        return bool(q.m_from_step[i] <= step and q.m_penalty[i] <= q.max_penalty_by_step[step]
                    and K.agent_has_skills(self._agents.skills, q.members_list[i], q.req_ids, q.req_min,
                                           q.drop_by_step[step]))

    def _empty_for(self, q, step: int, mask: int) -> bool:
        """No member of ``q`` is usable for a call at ``step`` under ``mask``."""
        for i in range(len(q.members_list)):
            if self._usable(q, i, mask) and (not mask & PENALTY or self._reaches(q, i, step)):
                return False
        return True

    def _empty_steps(self, q, mask: int) -> int:
        """Bit k set: ``q`` is empty under ``mask`` for a call at step k (only step 0 without ``penalty``)."""
        last = len(q.cfg.escalation) if mask & PENALTY else 0
        return sum(1 << k for k in range(last + 1) if self._empty_for(q, k, mask))

    @staticmethod
    def _exempt(call) -> bool:
        return call.preferred >= 0 or call.callback is not None

    # --------------------------------------------------------------- join
    def _joins_empty(self, call, q) -> bool:
        """``call`` may not join ``q``: its join rule finds it empty (a call with a preferred agent may)."""
        return bool(q.join_mask) and call.preferred < 0 and self._empty_for(q, 0, q.join_mask)

    # --------------------------------------------------------------- leave: the checks
    def _leave_check_call(self, call, q, t: float) -> None:
        """A call starts waiting in ``q`` (or waits on at a new step): if ``q`` is empty for it, it leaves."""
        mask = q.leave_mask
        if not mask or self._exempt(call):
            return
        if self._empty_for(q, call.step if mask & PENALTY else 0, mask):
            self._push_timer(t, T_LEAVE_CALL, call.sid, call.qgen)

    def _leave_agent(self, a: int, t: float) -> None:
        """Agent ``a`` may have changed: look again at each of its queues with a leave rule."""
        for qi, _ in self._agents.queues[a]:
            q = self._queues[qi]
            if q.leave_mask:
                self._leave_look(q, t, False)

    def _leave_look(self, q, t: float, level: bool) -> None:
        """Recompute ``q``'s empty steps; walk its waiting calls if a step became empty (``level``: if any is)."""
        e = self._empty_steps(q, q.leave_mask)
        new = e if level else e & ~q.empty_steps
        q.empty_steps = e
        if new and q.waiting:
            q.leave_cur = None  # from the first waiting call
            if not q.leave_pending:
                q.leave_pending = True
                self._push_timer(t, T_LEAVE_WALK, q.idx, 0)

    def _leave_settings(self, q, t: float) -> None:
        """``q``'s members or settings changed: its waiting calls leave if it is empty for them."""
        if q.leave_mask:
            self._leave_look(q, t, True)

    # --------------------------------------------------------------- leave: the timers
    def _leave_call(self, call, q, t: float) -> None:
        """T_LEAVE_CALL: the call leaves if it still waits and ``q`` is still empty for it."""
        mask = q.leave_mask
        if call.state != CallState.WAITING or not mask or self._exempt(call):
            return
        if self._empty_for(q, call.step if mask & PENALTY else 0, mask):
            self._leave_queue(call, t, "exit")
            self._overflow_or_end(call, q, q.overflow_idx, t, "no-agents")

    def _leave_walk(self, q, t: float) -> None:
        """T_LEAVE_WALK: the first waiting call (from the walk's place on) for which ``q`` is still empty
        leaves; the walk goes on, one call per timer, from the call after it."""
        q.leave_pending = False
        mask = q.leave_mask
        e = self._empty_steps(q, mask) if mask else 0
        if not e:
            return
        keys = q.waiting
        start = 0
        cur = q.leave_cur
        if cur is not None:
            c = self._by_sid.get(cur[0])
            if c is not None and c.order == cur[1] and c.state == CallState.WAITING and c.queue == q.idx:
                start = keys.index(c.key())
        found = None
        for j in range(start, len(keys)):
            c = self._by_order[keys[j][2]]
            if not self._exempt(c) and e >> (c.step if mask & PENALTY else 0) & 1:
                found = j
                break
        if found is None:
            return
        call = self._by_order[keys[found][2]]
        nxt = self._by_order[keys[found + 1][2]] if found + 1 < len(keys) else None
        q.leave_cur = (nxt.sid, nxt.order) if nxt is not None else None
        self._leave_queue(call, t, "exit")
        self._overflow_or_end(call, q, q.overflow_idx, t, "no-agents")
        if nxt is not None and not q.leave_pending:
            q.leave_pending = True
            self._push_timer(t, T_LEAVE_WALK, q.idx, 0)
