"""Strategy rules, part 1: ring-all, ring-progressively, longest-idle-agent,
round-robin, top-down and sequentially-by-agent-order (docs/routing.md §2).

Each test derives the exact agent(s) from the documented rule; ties are
broken by the (tier, penalty) group first, then the strategy key, then
configuration order.
"""

from __future__ import annotations

import pytest

from router_helpers import of, offered, offers, router, serve, states

from busyhour.router import EventKind

pytestmark = pytest.mark.usefixtures("each_engine")

# ---------------------------------------------------------------- ring-all


def test_router_ring_all_offers_every_agent_of_the_lowest_tier_first_accept_wins():
    r = router("ring-all", agents=("a1", "a2", "a3", "a4"),
               members=["a1", {"agent": "a2", "tier": 2}, "a3", "a4"])
    ev = r.call_arrive(1.0, "c1", "q")
    assert offers(ev) == [(1.0, "c1", "a1"), (1.0, "c1", "a3"), (1.0, "c1", "a4")]  # tier 2 (a2) not rung
    ev = r.offer_accept(4.0, "c1", "a3")
    withdrawn = of(ev, EventKind.OFFER_WITHDRAWN)
    assert [(e.agent_id, e.detail, e.time_s) for e in withdrawn] == [
        ("a1", "answered-elsewhere", 4.0), ("a4", "answered-elsewhere", 4.0)]
    (conn,) = of(ev, EventKind.CALL_CONNECTED)
    assert (conn.agent_id, conn.value) == ("a3", 3.0)
    assert r.agent_state("a1") == "AVAILABLE" and r.agent_state("a4") == "AVAILABLE"
    assert r.agent_state("a3") == "BUSY"


def test_router_ring_all_uses_the_next_tier_when_the_lowest_has_no_candidate():
    r = router("ring-all", agents=("a1", "a2", "a3"),
               members=["a1", {"agent": "a2", "tier": 2}, {"agent": "a3", "tier": 2}])
    r.agent_not_ready(0.5, "a1")
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a2", "a3"]
    # a1 coming back does not join a ringing call: only the first accept matters
    r.agent_ready(2.0, "a1")
    ev = r.offer_accept(3.0, "c1", "a2")
    assert [e.agent_id for e in of(ev, EventKind.OFFER_WITHDRAWN)] == ["a3"]


def test_router_ring_all_penalty_is_a_sub_tier_and_order_is_tier_penalty_position():
    r = router("ring-all", agents=("a1", "a2", "a3", "a4"),
               members=[{"agent": "a1", "penalty": 1}, {"agent": "a2", "position": 9},
                        {"agent": "a3", "position": 3}, "a4"])
    # a1 (penalty 1) is not rung while penalty-0 agents are free. Positions: a2 9, a3 3 (explicit),
    # a4 3 (default = listing index); equal positions go by listing order.
    ev = r.call_arrive(1.0, "c1", "q")
    assert offered(ev) == ["a3", "a4", "a2"]


def test_router_ring_all_no_answer_expires_every_offer_then_rings_all_again():
    r = router("ring-all", agents=("a1", "a2"), ring_timeout_s=10.0)
    r.call_arrive(0.0, "c1", "q")
    ev = r.advance(10.0)
    assert [(e.kind, e.agent_id) for e in ev if e.kind in (EventKind.OFFER_EXPIRED, EventKind.CALL_OFFERED)] == [
        (EventKind.OFFER_EXPIRED, "a1"), (EventKind.OFFER_EXPIRED, "a2"),
        (EventKind.CALL_OFFERED, "a1"), (EventKind.CALL_OFFERED, "a2")]
    assert all(e.time_s == 10.0 for e in ev)


# ------------------------------------------------------ ring-progressively


def test_router_ring_progressively_adds_one_agent_every_ring_step_and_keeps_them_ringing():
    r = router("ring-progressively", agents=("a1", "a2", "a3"), ring_step_s=5.0, ring_timeout_s=60.0)
    assert offers(r.call_arrive(0.0, "c1", "q")) == [(0.0, "c1", "a1")]
    assert r.next_deadline() == 5.0
    assert offers(r.advance(5.0)) == [(5.0, "c1", "a2")]
    assert offers(r.advance(10.0)) == [(10.0, "c1", "a3")]
    assert offers(r.advance(40.0)) == []  # the list is exhausted: nobody else to add
    ev = r.offer_accept(41.0, "c1", "a2")
    assert [(e.agent_id, e.detail) for e in of(ev, EventKind.OFFER_WITHDRAWN)] == [
        ("a1", "answered-elsewhere"), ("a3", "answered-elsewhere")]


def test_router_ring_progressively_orders_all_tiers_and_skips_agents_no_longer_eligible():
    r = router("ring-progressively", agents=("a1", "a2", "a3", "a4"),
               members=[{"agent": "a1", "tier": 2, "position": 0}, "a2", "a3", "a4"],
               ring_step_s=4.0, ring_timeout_s=60.0)
    assert offered(r.call_arrive(0.0, "c1", "q")) == ["a2"]
    r.agent_not_ready(1.0, "a3")
    assert offers(r.advance(4.0)) == [(4.0, "c1", "a4")]  # a3 skipped at its turn
    assert offers(r.advance(8.0)) == [(8.0, "c1", "a1")]  # tier 2 comes last


def test_router_ring_progressively_step_timer_is_not_doubled_by_a_reject():
    r = router("ring-progressively", agents=("a1", "a2", "a3", "a4"), ring_step_s=5.0, ring_timeout_s=60.0)
    r.call_arrive(0.0, "c1", "q")
    assert offers(r.offer_reject(2.0, "c1", "a1")) == [(2.0, "c1", "a2")]  # next one rung at once
    ev = r.advance(30.0)
    times = [t for t, _, _ in offers(ev)]
    assert len(times) == 2
    assert times[1] - times[0] >= 5.0, offers(ev)  # one agent added per ring_step_s, never two within 2 s


# ------------------------------------------------------ longest-idle-agent


def test_router_longest_idle_agent_idle_longest_gets_the_call():
    r = router("longest-idle-agent", ready_at={"a1": 3.0, "a2": 1.0, "a3": 2.0})
    assert offered(r.call_arrive(10.0, "c1", "q")) == ["a2"]
    r.offer_accept(10.0, "c1", "a2")
    assert offered(r.call_arrive(11.0, "c2", "q")) == ["a3"]


def test_router_longest_idle_agent_equal_idle_times_go_by_order_of_becoming_available():
    # All ready at 0.0, in the order a1, a2, a3 (router_helpers logs them in in that order);
    # the member list order is deliberately different and must not matter.
    r = router("longest-idle-agent", members=["a3", "a1", "a2"])
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a1"]
    r.offer_accept(1.0, "c1", "a1")
    assert offered(r.call_arrive(2.0, "c2", "q")) == ["a2"]


def test_router_longest_idle_agent_same_instant_follows_ready_order_not_config_order():
    r = router("longest-idle-agent", ready_at={})
    for a in ("a3", "a1", "a2"):  # all at t=5, in this order
        r.agent_login(5.0, a, ready=True)
    got = []
    for k in range(3):
        ev = r.call_arrive(6.0 + k, f"c{k}", "q")
        got += offered(ev)
        r.offer_accept(6.0 + k, f"c{k}", got[-1])
    assert got == ["a3", "a1", "a2"]


def test_router_longest_idle_agent_out_of_wrap_up_is_idle_from_the_wrap_up_end():
    r = router("longest-idle-agent", agents=("a1", "a2"), ready_at={"a1": 0.0, "a2": 5.0}, wrap_up_s=10.0)
    assert serve(r, 10.0, "c1", talk_s=10.0) == "a1"  # a1 released at 20, wrap-up until 30
    assert offered(r.call_arrive(25.0, "c2", "q")) == ["a2"]  # a1 is in wrap-up
    r.offer_accept(25.0, "c2", "a2")
    r.call_release(26.0, "c2", wrap_up_s=0.0)  # a2 idle again from 26
    ev = r.advance(30.0)
    assert states(ev, "a1") == ["AVAILABLE"]  # wrap-up ended at 30
    # a1 was ready first (t=0) but is idle only since 30; a2 since 26
    assert offered(r.call_arrive(40.0, "c3", "q")) == ["a2"]


def test_router_longest_idle_agent_prefers_the_lower_tier_over_a_longer_idle_agent():
    r = router("longest-idle-agent", members=[{"agent": "a1", "tier": 2}, "a2", "a3"],
               ready_at={"a1": 0.0, "a2": 5.0, "a3": 4.0})
    assert offered(r.call_arrive(10.0, "c1", "q")) == ["a3"]


# ----------------------------------------------------------- round-robin


def test_router_round_robin_remembers_the_last_agent_across_calls_and_wraps():
    r = router("round-robin", ready_at={"a1": 2.0, "a2": 1.0, "a3": 0.0})
    handled = [serve(r, 10.0 * k, f"c{k}") for k in range(1, 6)]
    assert handled == ["a1", "a2", "a3", "a1", "a2"]  # position order, not idle time


def test_router_round_robin_skips_unavailable_members_and_keeps_the_cursor():
    r = router("round-robin", agents=("a1", "a2", "a3", "a4"))
    assert serve(r, 1.0, "c1") == "a1"
    r.agent_not_ready(3.0, "a2")
    assert serve(r, 4.0, "c2") == "a3"
    r.agent_ready(6.0, "a2")
    assert serve(r, 7.0, "c3") == "a4"  # next after a3, even though a2 is back
    assert serve(r, 9.0, "c4") == "a1"  # wraps to the lowest position
    assert serve(r, 11.0, "c5") == "a2"


def test_router_round_robin_cursor_moves_when_a_freed_agent_takes_a_waiting_call():
    r = router("round-robin", ready_at={"a1": 0.0})
    r.agent_login(0.0, "a2")
    r.agent_login(0.0, "a3")
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a1"]
    r.call_arrive(2.0, "c2", "q")  # waits: a2 and a3 not ready
    assert offered(r.agent_ready(3.0, "a3")) == ["a3"]  # cursor now at a3
    r.offer_accept(3.0, "c2", "a3")
    r.offer_accept(3.0, "c1", "a1")
    r.agent_ready(4.0, "a2")
    r.call_release(5.0, "c1")
    r.call_release(5.0, "c2")
    assert offered(r.call_arrive(6.0, "c3", "q")) == ["a1"]  # after a3 comes a1 (wrap), not a2


# --------------------------------------------------------------- top-down


def test_router_top_down_every_call_starts_at_the_first_position():
    r = router("top-down", ready_at={"a1": 5.0, "a2": 0.0, "a3": 0.0})
    assert [serve(r, 10.0 * k, f"c{k}") for k in range(1, 4)] == ["a1", "a1", "a1"]


def test_router_top_down_per_caller_cursor_moves_to_the_next_position_after_no_answer():
    r = router("top-down", ring_timeout_s=10.0)
    assert offered(r.call_arrive(0.0, "c1", "q")) == ["a1"]
    ev = r.advance(10.0)  # a1 did not answer; a1 is free again at once (no delay)
    assert [(e.kind, e.agent_id) for e in ev if e.kind in (EventKind.OFFER_EXPIRED, EventKind.CALL_OFFERED)] == [
        (EventKind.OFFER_EXPIRED, "a1"), (EventKind.CALL_OFFERED, "a2")]
    assert offered(r.advance(20.0)) == ["a3"]
    assert offered(r.advance(30.0)) == ["a1"]  # wraps around


def test_router_top_down_cursor_belongs_to_the_caller_not_the_queue():
    r = router("top-down", ring_timeout_s=10.0, members=["a1", "a2", "a3"])
    r.call_arrive(0.0, "c1", "q")
    assert offered(r.advance(10.0)) == ["a2"]  # c1's cursor is now at a2
    assert offered(r.call_arrive(11.0, "c2", "q")) == ["a1"]  # c2 starts at the top


def test_router_top_down_uses_explicit_positions():
    r = router("top-down", members=[{"agent": "a1", "position": 7}, {"agent": "a2", "position": 2},
                                    {"agent": "a3", "position": 5}], ring_timeout_s=10.0)
    assert offered(r.call_arrive(0.0, "c1", "q")) == ["a2"]
    assert offered(r.advance(10.0)) == ["a3"]
    assert offered(r.advance(20.0)) == ["a1"]


# ---------------------------------------------- sequentially-by-agent-order


def test_router_sequential_always_takes_the_lowest_position():
    r = router("sequentially-by-agent-order",
               members=[{"agent": "a1", "position": 2}, {"agent": "a2", "position": 0},
                        {"agent": "a3", "position": 1}], ready_at={"a1": 0.0, "a2": 9.0, "a3": 0.0})
    assert [serve(r, 10.0 * k, f"c{k}") for k in range(1, 4)] == ["a2", "a2", "a2"]
    r.agent_not_ready(40.0, "a2")
    assert serve(r, 41.0, "c4") == "a3"


def test_router_sequential_starts_over_after_no_answer_unlike_top_down():
    r = router("sequentially-by-agent-order", ring_timeout_s=10.0)
    r.call_arrive(0.0, "c1", "q")
    assert offered(r.advance(10.0)) == ["a1"]  # no memory: a1 (no delay) is rung again
    r2 = router("sequentially-by-agent-order", ring_timeout_s=10.0, no_answer_delay_s=30.0)
    r2.call_arrive(0.0, "c1", "q")
    assert offered(r2.advance(10.0)) == ["a2"]  # a1 locked by its no-answer delay


def test_router_sequential_tier_comes_before_position():
    r = router("sequentially-by-agent-order",
               members=[{"agent": "a1", "tier": 2, "position": 0}, {"agent": "a2", "position": 5},
                        {"agent": "a3", "position": 4, "penalty": 1}])
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a2"]
