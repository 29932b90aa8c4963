"""Compiled core: calls ringing several agents at once (ring-all, ring-progressively) (numba).

Each ringing offer is a row of the offer table ``OF`` (core_layout). A
call's offers form a list in the order they were made — the order of the
Python engine's ``call.offers`` dict, which decides the order of
withdrawals; an agent's (a multi-channel agent may ring several calls), a
list in call order, the order in which the Python engine withdraws an
agent's offers.

A ring-progressively call keeps the agents still to ring as member rows in the
shared ``RO`` array (``RO_OFF``, ``RO_LEN``): the candidates at the moment it
was routed, in (tier, penalty, position, member) order, as
``kernels.order_candidates`` sorts them. ``RO`` is filled from ``S_RO_USED``
on; the facade compacts it (``core_build.grow``) when the room one step may
need is short. Its far end is scratch for the agents an operation releases.
"""

from __future__ import annotations

from .core_jit import kernel
from .core_kernels import K_CALLBACK_OFFERED, K_OFFERED, emit, set_state, touch
from .core_timers import push_timer
from .core_layout import (
    A_OF_HEAD, CB, CH, D_NONE, DETAIL_NUMBER, LAST_OFFERED, LOAD, NOFF, O_AGENT, O_ANEXT, O_CNEXT, O_SLOT, O_TOKEN,
    OF_FIRST, OF_LAST, OFFERS, ORDER, S_OF_NFREE, QM_AGENT, QM_PEN, QM_POS, QM_TIER, QUEUE, RA_ORDER, RA_SLOT, RA_T, RING_GEN, RING_STEP,
    RING_TO, RO_LEN, RO_OFF, S_GEN, S_RO_ROOM, S_RO_USED, S_TOKEN, ST_OFFERED, STATE, STEP, STRAT, T_RING,
    T_RING_STEP,
)
from .codes import STRAT_RING_ALL
from .core_pref import eligible, member_row, unmark_waiting
from .core_scan import member_ok
from .core_wait import w_remove


@kernel
def offer_row(S, slot, a):
    """The OF row of agent ``a``'s offer of call ``slot``, or -1 (``a in call.offers``)."""
    r = S.C_i[slot, OF_FIRST]
    while r >= 0 and S.OF[r, O_AGENT] != a:
        r = S.OF[r, O_CNEXT]
    return r


@kernel
def offer_link(S, slot, a, tok):
    """Agent ``a`` starts ringing call ``slot``: a new OF row, last of the call's list, in call order in
    the agent's. Its row."""
    n = S.S_i[S_OF_NFREE] - 1
    S.S_i[S_OF_NFREE] = n
    r = S.OFREE[n]
    S.OF[r, O_SLOT] = slot
    S.OF[r, O_AGENT] = a
    S.OF[r, O_TOKEN] = tok
    S.OF[r, O_CNEXT] = -1
    if S.C_i[slot, OF_FIRST] < 0:
        S.C_i[slot, OF_FIRST] = r
    else:
        S.OF[S.C_i[slot, OF_LAST], O_CNEXT] = r
    S.C_i[slot, OF_LAST] = r
    S.C_i[slot, NOFF] += 1
    order = S.C_i[slot, ORDER]
    prev = -1
    x = S.A_i[a, A_OF_HEAD]
    while x >= 0 and S.C_i[S.OF[x, O_SLOT], ORDER] < order:
        prev = x
        x = S.OF[x, O_ANEXT]
    S.OF[r, O_ANEXT] = x
    if prev < 0:
        S.A_i[a, A_OF_HEAD] = r
    else:
        S.OF[prev, O_ANEXT] = r
    return r


@kernel
def offer_unlink(S, slot, a):
    """Agent ``a`` stops ringing call ``slot``: its OF row leaves both lists and is freed."""
    prev = -1
    r = S.C_i[slot, OF_FIRST]
    while S.OF[r, O_AGENT] != a:
        prev = r
        r = S.OF[r, O_CNEXT]
    nxt = S.OF[r, O_CNEXT]
    if prev < 0:
        S.C_i[slot, OF_FIRST] = nxt
    else:
        S.OF[prev, O_CNEXT] = nxt
    if S.C_i[slot, OF_LAST] == r:
        S.C_i[slot, OF_LAST] = prev
    S.C_i[slot, NOFF] -= 1
    prev = -1
    x = S.A_i[a, A_OF_HEAD]
    while x != r:
        prev = x
        x = S.OF[x, O_ANEXT]
    if prev < 0:
        S.A_i[a, A_OF_HEAD] = S.OF[r, O_ANEXT]
    else:
        S.OF[prev, O_ANEXT] = S.OF[r, O_ANEXT]
    S.OF[r, O_TOKEN] = 0
    S.OFREE[S.S_i[S_OF_NFREE]] = r
    S.S_i[S_OF_NFREE] += 1


@kernel
def ringing_to_scratch(S, slot, skip):
    """Copy the agents ringing ``slot`` (except ``skip``) to the far end of RO, in order; their number.
    Entry ``i`` is ``RO[len(RO) - 1 - i]``."""
    n = 0
    end = S.RO.shape[0] - 1
    r = S.C_i[slot, OF_FIRST]
    while r >= 0:
        b = S.OF[r, O_AGENT]
        if b != skip:
            S.RO[end - n] = b
            n += 1
        r = S.OF[r, O_CNEXT]
    return n


@kernel
def offers_to_scratch(S, a):
    """Copy the calls ringing agent ``a`` to the far end of RO, in call order; their number (entry ``i`` is
    ``RO[len(RO) - 1 - i]``)."""
    n = 0
    end = S.RO.shape[0] - 1
    r = S.A_i[a, A_OF_HEAD]
    while r >= 0:
        S.RO[end - n] = S.OF[r, O_SLOT]
        n += 1
        r = S.OF[r, O_ANEXT]
    return n


@kernel
def _before(S, m1, m2):
    t1, t2 = S.QM[m1, QM_TIER], S.QM[m2, QM_TIER]
    if t1 != t2:
        return t1 < t2
    p1, p2 = S.QM[m1, QM_PEN], S.QM[m2, QM_PEN]
    if p1 != p2:
        return p1 < p2
    o1, o2 = S.QM[m1, QM_POS], S.QM[m2, QM_POS]
    if o1 != o2:
        return o1 < o2
    return m1 < m2


@kernel
def ring_candidates(S, q, step, lowest_only, slot):
    """The members that may ring a call at escalation ``step`` now, written to RO from S_RO_USED on in
    (tier, penalty, position, member) order — with ``lowest_only`` only the lowest (tier, penalty);
    never the agent who transferred call ``slot``, only agents holding its own skills; their number
    (kernels.collect_candidates + order_candidates)."""
    base = S.S_i[S_RO_USED]
    n = 0
    bt = bp = 1 << 62
    for m in range(S.QM_ptr[q], S.QM_ptr[q + 1]):
        if not member_ok(S, m, slot, step):
            continue
        if lowest_only:
            t, p = S.QM[m, QM_TIER], S.QM[m, QM_PEN]
            if t < bt or (t == bt and p < bp):
                bt, bp, n = t, p, 0
            elif t != bt or p != bp:
                continue
        i = base + n  # insertion sort: candidate lists are short
        while i > base and _before(S, m, S.RO[i - 1]):
            S.RO[i] = S.RO[i - 1]
            i -= 1
        S.RO[i] = m
        n += 1
    return n


@kernel
def ro_short(S):
    """True when RO lacks the room one step may need (ring orders plus scratch)."""
    return S.S_i[S_RO_USED] + 2 * S.S_i[S_RO_ROOM] > S.RO.shape[0]


# ------------------------------------------------------------------ offers
@kernel
def offer(S, slot, a, t):
    q = S.C_i[slot, QUEUE]
    if S.Q_i[q, STRAT] == STRAT_RING_ALL and S.C_i[slot, NOFF] == 0:
        ring_started(S, q, slot, t)
    S.S_i[S_TOKEN] += 1
    tok = S.S_i[S_TOKEN]
    r = offer_link(S, slot, a, tok)
    set_state(S, slot, ST_OFFERED)
    S.A_i[a, LOAD] += 1
    S.LD[a, S.C_i[slot, CH]] += 1
    S.A_i[a, OFFERS] += 1
    S.A_f[a, LAST_OFFERED] = t
    expiry = t + S.Q_f[q, RING_TO]
    push_timer(S, expiry, T_RING, slot, tok, r)
    cb = S.C_i[slot, CB]
    if cb:
        emit(S, t, K_CALLBACK_OFFERED, slot, a, q, DETAIL_NUMBER + cb, expiry)
    else:
        emit(S, t, K_OFFERED, slot, a, q, D_NONE, expiry)
    touch(S, a, t)


@kernel
def drop_offer(S, slot, a, t, kind, detail):
    offer_unlink(S, slot, a)
    S.A_i[a, LOAD] -= 1
    S.LD[a, S.C_i[slot, CH]] -= 1
    S.A_i[a, OFFERS] -= 1
    emit(S, t, kind, slot, a, S.C_i[slot, QUEUE], detail, 0.0)


@kernel
def ring_route(S, slot, q, t, waiting, ring_all):
    """Ring-all: offer the call to every candidate of the lowest (tier, penalty); ring-progressively:
    to the first candidate, keeping the others (in order) to add one every ring step."""
    n = ring_candidates(S, q, S.C_i[slot, STEP], ring_all, slot)
    if n == 0:
        return False
    if waiting:
        unmark_waiting(S, slot)
        w_remove(S, q, slot)
    base = S.S_i[S_RO_USED]
    if ring_all:
        for i in range(n):
            offer(S, slot, S.QM[S.RO[base + i], QM_AGENT], t)
        return True
    offer(S, slot, S.QM[S.RO[base], QM_AGENT], t)
    if n > 1:
        S.C_i[slot, RO_OFF] = base + 1
        S.C_i[slot, RO_LEN] = n - 1
        S.S_i[S_RO_USED] = base + n
        S.S_i[S_GEN] += 1  # a token no other call's step timer holds (a slot is reused by later calls)
        S.C_i[slot, RING_GEN] = S.S_i[S_GEN]
        push_timer(S, t + S.Q_f[q, RING_STEP], T_RING_STEP, slot, S.C_i[slot, RING_GEN], 0)
    return True


@kernel
def ring_next(S, slot, t):
    """Ring-progressively: ring the next agent of the call's order who may take it now."""
    q = S.C_i[slot, QUEUE]
    while S.C_i[slot, RO_LEN] > 0:
        m = S.RO[S.C_i[slot, RO_OFF]]
        S.C_i[slot, RO_OFF] += 1
        S.C_i[slot, RO_LEN] -= 1
        a = S.QM[m, QM_AGENT]
        if offer_row(S, slot, a) < 0 and member_ok(S, m, slot, S.C_i[slot, STEP]):
            offer(S, slot, a, t)
            break
    S.S_i[S_GEN] += 1  # a step timer set earlier (for this call or the slot's earlier ones) is void from now on
    S.C_i[slot, RING_GEN] = S.S_i[S_GEN]
    if S.C_i[slot, RO_LEN] > 0:
        push_timer(S, t + S.Q_f[q, RING_STEP], T_RING_STEP, slot, S.C_i[slot, RING_GEN], 0)


# ------------------------------------------------------------------ ring-all: joining at the same instant
@kernel
def ringing_since(S, q, t):
    """The ring-all call queue ``q`` began ringing at ``t`` if it still rings there, else -1 (ring_join.py)."""
    s = S.Q_i[q, RA_SLOT]
    if (S.Q_f[q, RA_T] != t or s < 0 or S.C_i[s, STATE] != ST_OFFERED or S.C_i[s, ORDER] != S.Q_i[q, RA_ORDER]
            or S.C_i[s, QUEUE] != q or S.C_i[s, NOFF] == 0):
        return -1
    return s


@kernel
def ring_started(S, q, slot, t):
    """Call ``slot`` of ring-all queue ``q`` gets the first offer of a ring at ``t`` (RingJoinMixin._ring_started)."""
    if ringing_since(S, q, t) < 0:
        S.Q_i[q, RA_SLOT] = slot
        S.Q_i[q, RA_ORDER] = S.C_i[slot, ORDER]
        S.Q_f[q, RA_T] = t


@kernel
def ring_join(S, a, t):
    """The ring-all call begun at ``t`` in one of ``a``'s queues that ``a`` joins, or -1 (RingJoinMixin._ring_join)."""
    if S.A_f[a, LAST_OFFERED] == t:
        return -1  # rung at this instant already
    for k in range(S.AQ_ptr[a], S.AQ_ptr[a + 1]):
        q = S.AQ[k, 0]
        if S.Q_i[q, STRAT] != STRAT_RING_ALL:
            continue
        s = ringing_since(S, q, t)  # its agents were all rung at t, so ``a`` is not among them
        if s < 0:
            continue
        m = S.QM_ptr[q] + S.AQ[k, 1]
        h = member_row(S, q, S.OF[S.C_i[s, OF_FIRST], O_AGENT])
        if h < 0 or (S.QM[m, QM_TIER], S.QM[m, QM_PEN]) > (S.QM[h, QM_TIER], S.QM[h, QM_PEN]):
            continue
        if eligible(S, a, s, m, t):
            return s
    return -1
