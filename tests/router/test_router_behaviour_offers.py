"""Offers as leases, agent presence while ringing/busy, multi-channel capacity
(docs/routing.md §4, §5, §10)."""

from __future__ import annotations

import math

import pytest
from router_helpers import ended, of, offered, offers, router, states

from busyhour.router import CallState, EventKind, OfferError, Position, StateError

pytestmark = pytest.mark.usefixtures("each_engine")

# ------------------------------------------------------------ lease expiry


def test_router_offer_lease_expires_at_ring_timeout_and_no_answer_delay_locks_the_agent():
    r = router(agents=("a1",), ring_timeout_s=15.0, no_answer_delay_s=5.0)
    (off,) = of(r.call_arrive(0.0, "c1", "q"), EventKind.CALL_OFFERED)
    assert off.value == 15.0  # lease expiry
    assert r.next_deadline() == 15.0
    ev = r.advance(15.0)
    assert [(e.kind, e.agent_id, e.time_s) for e in ev if e.kind != EventKind.AGENT_STATE] == [
        (EventKind.OFFER_EXPIRED, "a1", 15.0), (EventKind.CALL_QUEUED, None, 15.0)]
    assert r.next_deadline() == 20.0
    assert offers(r.advance(19.9)) == []
    (off,) = of(r.advance(20.0), EventKind.CALL_OFFERED)
    assert (off.agent_id, off.time_s, off.value) == ("a1", 20.0, 35.0)


def test_router_expired_call_returns_to_its_original_place():
    r = router(agents=("a1", "a2"), ready_at={"a1": 0.0}, ring_timeout_s=10.0, no_answer_delay_s=100.0)
    r.agent_login(0.0, "a2")
    r.call_arrive(1.0, "c1", "q")  # offered to a1
    r.call_arrive(2.0, "c2", "q")  # waits
    r.advance(11.0)  # c1 expires on a1
    assert r.position("c1") == Position(1, 2, r.position("c1").ewt_s)
    assert r.position("c2").position == 2
    assert offers(r.agent_ready(12.0, "a2")) == [(12.0, "c1", "a2")]


def test_router_max_no_answer_puts_the_agent_not_ready_no_answer():
    r = router(agents=("a1", "a2"), ready_at={"a1": 0.0}, ring_timeout_s=10.0, max_no_answer=2)
    r.agent_login(0.0, "a2")
    r.call_arrive(0.0, "c1", "q")
    ev = r.advance(10.0)
    assert offered(ev) == ["a1"] and r.agent_state("a1") == "RESERVED"  # 1st miss: rung again
    ev = r.advance(20.0)
    assert states(ev, "a1") == ["NOT_READY:no-answer"]
    assert offered(ev) == [] and r.position("c1").position == 1
    ev = r.agent_ready(25.0, "a1")  # ready again resets the run of misses
    assert offered(ev) == ["a1"]
    assert states(r.advance(35.0), "a1") == ["AVAILABLE", "RESERVED"]  # 1 miss only: offered again


def test_router_no_answer_run_is_reset_by_an_answer():
    r = router(agents=("a1",), ring_timeout_s=10.0, max_no_answer=2)
    r.call_arrive(0.0, "c1", "q")
    r.advance(10.0)  # miss 1, re-offered at 10
    r.offer_accept(12.0, "c1", "a1")
    r.call_release(20.0, "c1")
    r.call_arrive(30.0, "c2", "q")
    assert offered(r.advance(40.0)) == ["a1"]  # miss 1 again, not 2


# ---------------------------------------------------- late / duplicate accept


def test_router_late_accept_after_expiry_raises_and_changes_nothing():
    r = router(agents=("a1", "a2"), ready_at={"a1": 0.0}, ring_timeout_s=10.0, no_answer_delay_s=60.0)
    r.agent_login(0.0, "a2")
    r.call_arrive(0.0, "c1", "q")
    with pytest.raises(OfferError, match=r"no offer of call 'c1' to agent 'a1' is ringing"):
        r.offer_accept(12.0, "c1", "a1")  # refused as at 12 (the ring expired at 10) ...
    assert r.call_state("c1") == CallState.OFFERED and r.now == 0.0  # ... and nothing changed, clock included
    r.advance(12.0)
    assert r.position("c1").position == 1
    assert offers(r.agent_ready(13.0, "a2")) == [(13.0, "c1", "a2")]
    (conn,) = of(r.offer_accept(14.0, "c1", "a2"), EventKind.CALL_CONNECTED)
    assert conn.value == 14.0


def test_router_duplicate_accept_raises_and_the_call_stays_connected():
    r = router(agents=("a1", "a2"), strategy="ring-all")
    r.call_arrive(0.0, "c1", "q")
    r.offer_accept(1.0, "c1", "a1")
    with pytest.raises(OfferError, match=r"call 'c1' is already connected to agent 'a1'"):
        r.offer_accept(1.5, "c1", "a1")
    with pytest.raises(OfferError, match=r"already connected to agent 'a1'"):
        r.offer_accept(1.5, "c1", "a2")  # the ring-all loser
    assert r.agent_state("a1") == "BUSY" and r.agent_state("a2") == "AVAILABLE"
    assert ended(r.call_release(5.0, "c1")) == [(5.0, "c1", "completed")]


def test_router_late_accept_after_the_caller_hung_up_raises_offer_error():
    r = router(agents=("a1",))
    r.call_arrive(0.0, "c1", "q")
    r.call_abandon(2.0, "c1")
    with pytest.raises(OfferError, match=r"c1"):
        r.offer_accept(3.0, "c1", "a1")


# ---------------------------------------------------------- reject and busy


def test_router_reject_delay_locks_the_agent_and_the_call_goes_to_the_next_agent():
    r = router(agents=("a1", "a2"), ready_at={"a1": 0.0, "a2": 1.0}, reject_delay_s=10.0)
    r.call_arrive(2.0, "c1", "q")
    ev = r.offer_reject(3.0, "c1", "a1")
    (rej,) = of(ev, EventKind.OFFER_REJECTED)
    assert (rej.agent_id, rej.detail) == ("a1", "reject")
    assert offers(ev) == [(3.0, "c1", "a2")]
    r.offer_reject(4.0, "c1", "a2")  # both locked now: a1 until 13, a2 until 14
    assert r.position("c1").position == 1
    assert offers(r.advance(13.0)) == [(13.0, "c1", "a1")]


def test_router_busy_uses_busy_delay_not_reject_delay():
    r = router(agents=("a1",), reject_delay_s=5.0, busy_delay_s=30.0)
    r.call_arrive(0.0, "c1", "q")
    (rej,) = of(r.offer_reject(1.0, "c1", "a1", busy=True), EventKind.OFFER_REJECTED)
    assert rej.detail == "busy"
    assert offers(r.advance(30.9)) == []
    assert offers(r.advance(31.0)) == [(31.0, "c1", "a1")]


# --------------------------------------------------- presence while ringing


def test_router_not_ready_while_ringing_withdraws_the_offer_and_requeues():
    r = router(agents=("a1", "a2"), ready_at={"a1": 0.0, "a2": 1.0})
    r.call_arrive(2.0, "c1", "q")
    ev = r.agent_not_ready(3.0, "a1", "lunch")
    (w,) = of(ev, EventKind.OFFER_WITHDRAWN)
    assert (w.agent_id, w.detail) == ("a1", "agent-not-ready")
    assert offers(ev) == [(3.0, "c1", "a2")]
    assert r.agent_state("a1") == "NOT_READY:lunch"


def test_router_not_ready_while_busy_takes_effect_after_wrap_up():
    r = router(agents=("a1",), wrap_up_s=5.0)
    r.call_arrive(0.0, "c1", "q")
    r.offer_accept(1.0, "c1", "a1")
    assert states(r.agent_not_ready(2.0, "a1"), "a1") == []  # still BUSY
    r.call_arrive(3.0, "c2", "q")
    ev = r.call_release(10.0, "c1")
    assert states(ev, "a1") == ["WRAP_UP"] and offers(ev) == []
    assert states(r.advance(15.0), "a1") == ["NOT_READY:break"]
    assert r.position("c2").position == 1


def test_router_logout_refused_while_connected_and_withdraws_ringing_offers():
    r = router(agents=("a1", "a2"), ready_at={"a1": 0.0})
    r.agent_login(0.0, "a2")
    r.call_arrive(1.0, "c1", "q")
    ev = r.agent_logout(2.0, "a1")
    assert [(e.agent_id, e.detail) for e in of(ev, EventKind.OFFER_WITHDRAWN)] == [("a1", "agent-logged-out")]
    assert states(ev, "a1") == ["LOGGED_OUT"]
    r.agent_ready(3.0, "a2")
    r.offer_accept(3.0, "c1", "a2")
    with pytest.raises(StateError, match=r"agent 'a2' has 1 connected call\(s\)"):
        r.agent_logout(4.0, "a2")
    assert r.agent_state("a2") == "BUSY"
    assert ended(r.call_release(5.0, "c1")) == [(5.0, "c1", "completed")]


# ------------------------------------------------------- multi-channel capacity


def test_router_agent_with_chat_capacity_three_gets_three_chat_offers():
    cfg_agents = ({"id": "a1", "capacity": {"voice": 1, "chat": 3}},)
    r = router(agents=cfg_agents)
    for k in range(1, 5):
        r.call_arrive(float(k), f"c{k}", "q", channel="chat")
    assert r.position("c4") == Position(1, 1, r.position("c4").ewt_s)
    for k in range(1, 4):
        r.offer_accept(5.0, f"c{k}", "a1")
    assert offers(r.call_arrive(6.0, "v1", "q")) == [(6.0, "v1", "a1")]  # voice has its own room
    assert offers(r.call_release(7.0, "c2")) == [(7.0, "c4", "a1")]


# -------------------------------------------------------------- next_deadline


def test_router_next_deadline_has_no_timer_for_a_connected_call():
    r = router(agents=("a1",), max_wait_s=300.0)
    r.call_arrive(0.0, "c1", "q")
    r.offer_accept(1.0, "c1", "a1")
    assert r.next_deadline() == math.inf
