"""Ring-all: agents freed at the instant a ring began join it (the Python reference engine).

A ring-all call rings every eligible agent of its lowest (tier, penalty) group
that is free *when it is routed*. Agents often become free at one instant in
sequence — wrap-ups that end together, a supervisor making several agents
ready at once, a batch of logins — and the first of them takes the waiting
call alone. So that the call rings all of them, each queue remembers the
first ring-all ring it started at the current instant (the call's global
order and the time); an agent freed at that same instant joins that ring,
before it looks at waiting calls, when it may take the call, its
(tier, penalty) in the queue is no worse than that of the ring's first
agent, and it was not rung itself at that instant (an agent who rejects at
once, or whose ringing call leaves the queue, does not join it again).
Agents freed at a later instant are not added (the ring is not re-formed
until it ends). The compiled core keeps the same two values per
queue (``RA_ORDER``/``RA_SLOT``, ``RA_T``) and the same rule
(``core_ring.ring_join``).
"""

from __future__ import annotations

from .codes import STRAT_RING_ALL, CallState
from .state import Call, QueueState


class RingJoinMixin:
    """Router methods for joining a ring-all ring begun at the current instant (see the module docstring)."""

    def _ring_started(self, q: QueueState, call: Call, t: float) -> None:
        """``call`` of ring-all queue ``q`` gets the first offer of a ring at ``t``: remember it, unless a
        ring that began at ``t`` is still ringing (the first one of the instant is the one agents join)."""
        if self._ringing_since(q, t) is None:
            q.ring_all_order = call.order
            q.ring_all_t = t

    def _ringing_since(self, q: QueueState, t: float) -> Call | None:
        """The ring-all call ``q`` began ringing at ``t`` if it still rings there, else None."""
        if q.ring_all_t != t:
            return None
        c = self._by_order.get(q.ring_all_order)
        if c is None or c.state != CallState.OFFERED or c.queue != q.idx or not c.offers:
            return None
        return c

    def _ring_join(self, a: int, t: float) -> Call | None:
        """The ring-all call, begun at ``t`` in one of ``a``'s queues (in their order), that ``a`` joins.
        An agent already rung at ``t`` (who rejected, or lost the call, or whose call left) joins nothing."""
        if self._agents.last_offered_s[a] == t:
            return None
        for qi, mi in self._agents.queues[a]:
            q = self._queues[qi]
            if q.strategy != STRAT_RING_ALL:
                continue
            c = self._ringing_since(q, t)  # its agents were all rung at t, so ``a`` is not among them
            if c is None:
                continue
            hi = q.member_of.get(next(iter(c.offers)), -1)
            if hi < 0 or (q.m_tier[mi], q.m_penalty[mi]) > (q.m_tier[hi], q.m_penalty[hi]):
                continue
            if self._eligible(a, c, t):
                return c
        return None
