"""Compiled core: calls ringing several agents at once (ring-all, ring-progressively) (numba).

A call's ringing agents form a list through the agents' ``OFFER_NEXT``
column, first ``OFFER_AGENT``, last ``OFFER_TAIL``, in the order they were
offered — the order of the Python engine's ``call.offers`` dict, which decides
the order of withdrawals. An agent rings at most one call (the compiled core's
agents take one call at a time), so one column per agent is enough.

A ring-progressively call keeps the agents still to ring as member rows in the
shared ``RO`` array (``RO_OFF``, ``RO_LEN``): the candidates at the moment it
was routed, in (tier, penalty, position, member) order, as
``kernels.order_candidates`` sorts them. ``RO`` is filled from ``S_RO_USED``
on; the facade compacts it (``core_build.grow``) when the room one step may
need is short. Its far end is scratch for the agents an operation releases.
"""

from __future__ import annotations

from .core_jit import kernel

from .core_kernels import K_CALLBACK_OFFERED, K_OFFERED, emit, push_timer, set_state, touch
from .core_layout import (
    CB, D_NONE, DETAIL_NUMBER, LAST_OFFERED, LOAD, NOFF, OFFER_AGENT, OFFER_NEXT, OFFER_SLOT, OFFER_TAIL,
    OFFER_TOKEN, OFFERS, QM_AGENT, QM_PEN, QM_POS, QM_TIER, QUEUE, RING_GEN, RING_STEP, RING_TO, RO_LEN, RO_OFF,
    S_RO_ROOM, S_RO_USED, S_TOKEN, ST_OFFERED, STEP, T_RING, T_RING_STEP, XFER,
)
from .core_pref import unmark_waiting
from .core_scan import scan_ok
from .core_wait import w_remove


@kernel
def offer_link(S, slot, a):
    """Agent ``a`` starts ringing call ``slot`` (appended to its list)."""
    S.A_i[a, OFFER_NEXT] = -1
    if S.C_i[slot, OFFER_AGENT] < 0:
        S.C_i[slot, OFFER_AGENT] = a
    else:
        S.A_i[S.C_i[slot, OFFER_TAIL], OFFER_NEXT] = a
    S.C_i[slot, OFFER_TAIL] = a
    S.C_i[slot, NOFF] += 1


@kernel
def offer_unlink(S, slot, a):
    """Agent ``a`` stops ringing call ``slot``."""
    prev = -1
    b = S.C_i[slot, OFFER_AGENT]
    while b != a:
        prev = b
        b = S.A_i[b, OFFER_NEXT]
    nxt = S.A_i[a, OFFER_NEXT]
    if prev < 0:
        S.C_i[slot, OFFER_AGENT] = nxt
    else:
        S.A_i[prev, OFFER_NEXT] = nxt
    if S.C_i[slot, OFFER_TAIL] == a:
        S.C_i[slot, OFFER_TAIL] = prev
    S.A_i[a, OFFER_NEXT] = -1
    S.C_i[slot, NOFF] -= 1


@kernel
def ringing_to_scratch(S, slot, skip):
    """Copy the agents ringing ``slot`` (except ``skip``) to the far end of RO, in order; their number.
    Entry ``i`` is ``RO[len(RO) - 1 - i]``."""
    n = 0
    end = S.RO.shape[0] - 1
    b = S.C_i[slot, OFFER_AGENT]
    while b >= 0:
        if b != skip:
            S.RO[end - n] = b
            n += 1
        b = S.A_i[b, OFFER_NEXT]
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
def ring_candidates(S, q, step, lowest_only, excluded):
    """The members that may ring a call at escalation ``step`` now, written to RO from S_RO_USED on in
    (tier, penalty, position, member) order — with ``lowest_only`` only the lowest (tier, penalty);
    agent ``excluded`` (who transferred the call) never; their number (kernels.collect_candidates + order_candidates)."""
    base = S.S_i[S_RO_USED]
    n = 0
    bt = bp = 1 << 62
    for m in range(S.QM_ptr[q], S.QM_ptr[q + 1]):
        if not scan_ok(S, m, step) or S.QM[m, QM_AGENT] == excluded:
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
    S.S_i[S_TOKEN] += 1
    tok = S.S_i[S_TOKEN]
    offer_link(S, slot, a)
    S.A_i[a, OFFER_SLOT] = slot
    S.A_i[a, OFFER_TOKEN] = tok
    set_state(S, slot, ST_OFFERED)
    S.A_i[a, LOAD] += 1
    S.A_i[a, OFFERS] += 1
    S.A_f[a, LAST_OFFERED] = t
    expiry = t + S.Q_f[q, RING_TO]
    push_timer(S, expiry, T_RING, slot, tok, a)
    cb = S.C_i[slot, CB]
    if cb:
        emit(S, t, K_CALLBACK_OFFERED, slot, a, q, DETAIL_NUMBER + cb, expiry)
    else:
        emit(S, t, K_OFFERED, slot, a, q, D_NONE, expiry)
    touch(S, a, t)


@kernel
def drop_offer(S, slot, a, t, kind, detail):
    offer_unlink(S, slot, a)
    S.A_i[a, OFFER_SLOT] = -1
    S.A_i[a, OFFER_TOKEN] = 0
    S.A_i[a, LOAD] -= 1
    S.A_i[a, OFFERS] -= 1
    emit(S, t, kind, slot, a, S.C_i[slot, QUEUE], detail, 0.0)


@kernel
def ring_route(S, slot, q, t, waiting, ring_all):
    """Ring-all: offer the call to every candidate of the lowest (tier, penalty); ring-progressively:
    to the first candidate, keeping the others (in order) to add one every ring step."""
    n = ring_candidates(S, q, S.C_i[slot, STEP], ring_all, S.C_i[slot, XFER])
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
        S.C_i[slot, RING_GEN] += 1
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
        if S.A_i[a, OFFER_SLOT] != slot and a != S.C_i[slot, XFER] and scan_ok(S, m, S.C_i[slot, STEP]):
            offer(S, slot, a, t)
            break
    S.C_i[slot, RING_GEN] += 1  # a step timer set earlier is void from now on
    if S.C_i[slot, RO_LEN] > 0:
        push_timer(S, t + S.Q_f[q, RING_STEP], T_RING_STEP, slot, S.C_i[slot, RING_GEN], 0)
