"""Router: pausing an agent in one queue (Asterisk's ``QueuePause`` with a queue), on the compiled core.

A paused member gets no offer of that queue's calls (its other queues go on);
it still counts as logged in to the queue, like a NOT_READY agent. A ringing
offer goes on ringing. A pause outlives logout and login until
``member_unpause``, which offers the member that queue's waiting calls at
once if it can take one (docs/routing.md §10).
"""

from __future__ import annotations

from typing import Hashable

from .core_layout import NO_ID, OP_PAUSE, OP_UNPAUSE, QM_PAUSED
from .events import Event


class MemberPause:
    """Mixed into Router (uses its agent_index, queue_index, reason_code, _one, _S and _reasons)."""

    def pause_row(self, op: int, now: float, agent_id: Hashable, queue: str, reason: str = "paused") -> tuple:
        """The time is the error to report first, then the agent, the queue and the reason (as the reference)."""
        now = self._checked_now(now)
        a = self.agent_index(agent_id)
        q = self.queue_index(queue)
        arg = float(self.reason_code(reason, "pause")) if op == OP_PAUSE else 0.0
        return (op, now, NO_ID, a, q, 0, arg)

    def member_pause(self, now: float, agent_id: Hashable, queue: str, reason: str = "paused") -> list[Event]:
        """Pause the agent in ``queue`` only, with ``reason``: no offers of that queue's calls until
        :meth:`member_unpause` (its other queues, and its state, are unchanged)."""
        return self._one(*self.pause_row(OP_PAUSE, now, agent_id, queue, reason))

    def member_unpause(self, now: float, agent_id: Hashable, queue: str) -> list[Event]:
        """End the agent's pause in ``queue``; if it can take a call it is offered that queue's first."""
        return self._one(*self.pause_row(OP_UNPAUSE, now, agent_id, queue))

    def paused_in(self, agent_id: Hashable) -> dict[str, str]:
        """The queues the agent is paused in, with the reasons, in configuration order."""
        a = self.agent_index(agent_id)
        S = self._S
        paused = []
        for k in range(int(S.AQ_ptr[a]), int(S.AQ_ptr[a + 1])):
            q = int(S.AQ[k, 0])
            code = int(S.QM[S.QM_ptr[q] + S.AQ[k, 1], QM_PAUSED])
            if code:
                paused.append((q, self._reasons[code - 1]))
        return {self.queue_names[q]: reason for q, reason in sorted(paused)}

