"""Exits, overflow, escalation, callbacks, transfers, cross-queue choice,
position and EWT (docs/routing.md §3, §6–§9)."""

from __future__ import annotations

import pytest
from router_helpers import ended, engine, of, offered, offers

from busyhour.router import EventKind, Position, Router

pytestmark = pytest.mark.usefixtures("each_engine")


def two_queues(q1: dict | None = None, q2: dict | None = None, agents=("a1", "a2")) -> Router:
    """q1 served by a1, q2 by a2; every agent logged in NOT_READY at 0."""
    cfg = {"agents": [{"id": a} for a in agents] + [{"id": "b1", "groups": ["backup"]}],
           "skills": ["en"],
           "queues": [{"name": "q1", "members": ["a1"], **(q1 or {})},
                      {"name": "q2", "members": ["a2"], **(q2 or {})}]}
    r = engine().from_config(cfg)
    for a in agents:
        r.agent_login(0.0, a)
    return r


# ---------------------------------------------------------------- max wait


def test_router_max_wait_overflow_keeps_the_arrival_time():
    r = two_queues({"max_wait_s": 30.0, "overflow": "q2"})
    r.call_arrive(0.0, "c1", "q1")
    r.call_arrive(10.0, "c2", "q2")
    ev = r.advance(30.0)
    (ov,) = of(ev, EventKind.CALL_OVERFLOWED)
    assert (ov.time_s, ov.queue, ov.detail) == (30.0, "q1", "q2")
    assert [(e.queue, e.detail) for e in of(ev, EventKind.CALL_ARRIVED)] == [("q2", "overflow")]
    assert r.position("c1").position == 1 and r.position("c2").position == 2  # arrived at 0 < 10
    r.agent_ready(40.0, "a2")
    (conn,) = of(r.offer_accept(41.0, "c1", "a2"), EventKind.CALL_CONNECTED)
    assert conn.value == 41.0  # wait measured from the first arrival


def test_router_max_wait_without_overflow_exits_timeout():
    r = two_queues({"max_wait_s": 30.0})
    r.call_arrive(5.0, "c1", "q1")
    assert r.next_deadline() == 35.0
    ev = r.advance(100.0)
    assert ended(ev) == [(35.0, "c1", "exited:timeout")]
    assert of(ev, EventKind.CALL_ENDED)[0].value == 30.0


def test_router_max_wait_withdraws_a_ringing_offer():
    r = two_queues({"max_wait_s": 30.0, "ring_timeout_s": 60.0})
    r.agent_ready(0.0, "a1")
    r.call_arrive(0.0, "c1", "q1")
    ev = r.advance(30.0)
    assert [(e.agent_id, e.detail) for e in of(ev, EventKind.OFFER_WITHDRAWN)] == [("a1", "exit")]
    assert ended(ev) == [(30.0, "c1", "exited:timeout")]
    assert r.agent_state("a1") == "AVAILABLE"


def test_router_overflow_loop_is_cut_after_one_hop_per_queue():
    r = two_queues({"max_wait_s": 10.0, "overflow": "q2"}, {"max_wait_s": 10.0, "overflow": "q1"})
    r.call_arrive(0.0, "c1", "q1")
    ev = r.advance(100.0)
    assert [e.detail for e in of(ev, EventKind.CALL_OVERFLOWED)] == ["q2", "q1"]
    assert ended(ev) == [(30.0, "c1", "exited:timeout")]


# -------------------------------------------------------------- max length


def test_router_max_length_rejects_queue_full_or_overflows():
    r = two_queues({"max_length": 2})
    r.call_arrive(1.0, "c1", "q1")
    r.call_arrive(2.0, "c2", "q1")
    ev = r.call_arrive(3.0, "c3", "q1")
    assert [e.kind for e in ev] == [EventKind.CALL_ARRIVED, EventKind.CALL_ENDED]
    assert ended(ev) == [(3.0, "c3", "rejected:queue-full")]
    r2 = two_queues({"max_length": 1, "overflow": "q2"})
    r2.call_arrive(1.0, "c1", "q1")
    ev = r2.call_arrive(2.0, "c2", "q1")
    assert [e.detail for e in of(ev, EventKind.CALL_OVERFLOWED)] == ["q2"]
    assert r2.position("c2") == Position(1, 1, r2.position("c2").ewt_s)



def test_router_max_length_counts_callers_being_rung_like_asterisk_maxlen():
    cfg = {"agents": [{"id": "a1"}], "queues": [{"name": "q", "members": ["a1"], "max_length": 2}]}
    r = engine().from_config(cfg)
    r.agent_login(0.0, "a1", ready=True)
    assert [e.agent_id for e in of(r.call_arrive(1.0, "c1", "q"), EventKind.CALL_OFFERED)] == ["a1"]
    r.call_arrive(2.0, "c2", "q")  # waits: 1 ringing + 1 waiting = 2 in the queue
    assert ended(r.call_arrive(3.0, "c3", "q")) == [(3.0, "c3", "rejected:queue-full")]
    r.offer_accept(4.0, "c1", "a1")  # connected calls are no longer in the queue
    assert ended(r.call_arrive(5.0, "c4", "q")) == []

# -------------------------------------------------------------- no agents


def test_router_no_agents_zero_rejects_at_entry():
    cfg = {"agents": [{"id": "a1"}], "queues": [{"name": "q", "members": ["a1"], "max_wait_no_agents_s": 0.0}]}
    r = engine().from_config(cfg)
    assert ended(r.call_arrive(1.0, "c1", "q")) == [(1.0, "c1", "rejected:no-agents")]
    r.agent_login(2.0, "a1")  # logged in but NOT_READY: the queue is no longer empty
    assert ended(r.call_arrive(3.0, "c2", "q")) == []
    assert ended(r.agent_logout(4.0, "a1")) == [(4.0, "c2", "exited:no-agents")]


def test_router_no_agents_finite_exits_after_the_last_agent_logs_out():
    cfg = {"agents": [{"id": "a1"}, {"id": "a2"}],
           "queues": [{"name": "q", "members": ["a1", "a2"], "max_wait_no_agents_s": 10.0}]}
    r = engine().from_config(cfg)
    r.agent_login(0.0, "a1")
    r.agent_login(0.0, "a2")
    r.call_arrive(1.0, "c1", "q")
    r.agent_logout(2.0, "a1")
    assert ended(r.advance(100.0)) == []  # a2 still logged in (not ready): no exit
    r.agent_logout(105.0, "a2")
    assert r.next_deadline() == 115.0
    assert ended(r.advance(200.0)) == [(115.0, "c1", "exited:no-agents")]


def test_router_no_agents_wait_counts_from_when_the_queue_became_empty():
    cfg = {"agents": [{"id": "a1"}], "queues": [{"name": "q", "members": ["a1"], "max_wait_no_agents_s": 10.0}]}
    r = engine().from_config(cfg)
    r.call_arrive(0.0, "c1", "q")  # empty at entry: timer at 10
    r.agent_login(5.0, "a1")
    r.agent_logout(8.0, "a1")  # empty again from 8: should exit at 18
    assert ended(r.advance(30.0)) == [(18.0, "c1", "exited:no-agents")]


# -------------------------------------------------------------- escalation


def esc_router(step: dict) -> Router:
    cfg = {"agents": [{"id": "a1", "skills": {"en": 2}}, {"id": "a2", "skills": {"en": 5}},
                      {"id": "b1", "skills": {"en": 5}, "groups": ["backup"]}],
           "queues": [{"name": "q", "members": ["a1", "a2"], "skills": {"en": 4}, "escalation": [step]},
                      {"name": "spill", "members": ["a2"]}]}
    r = engine().from_config(cfg)
    r.agent_login(0.0, "a1", ready=True)
    r.agent_login(0.0, "a2")
    r.agent_login(0.0, "b1", ready=True)
    return r


def test_router_escalation_min_level_drop_lets_a_lower_skilled_agent_take_the_call():
    r = esc_router({"after_s": 20.0, "min_level_drop": 2})
    assert offered(r.call_arrive(1.0, "c1", "q")) == []  # a1 has en 2 < 4; b1 is not a member
    r.call_arrive(2.0, "c2", "q")
    ev = r.advance(21.0)
    (esc,) = of(ev, EventKind.CALL_ESCALATED)
    assert (esc.call_id, esc.detail, esc.time_s) == ("c1", "1", 21.0)
    assert offers(ev) == [(21.0, "c1", "a1")]  # needs en >= 2 now
    assert r.position("c2").position == 1


def test_router_escalation_add_groups_adds_agents_and_the_caller_keeps_its_place():
    r = esc_router({"after_s": 20.0, "add_groups": ["backup"]})
    r.call_arrive(1.0, "c1", "q")
    r.call_arrive(2.0, "c2", "q")
    r.agent_not_ready(3.0, "b1")
    ev = r.advance(22.0)  # both escalated; b1 not ready
    assert [e.call_id for e in of(ev, EventKind.CALL_ESCALATED)] == ["c1", "c2"]
    assert offers(r.agent_ready(23.0, "b1")) == [(23.0, "c1", "b1")]


def test_router_escalation_overflow_step_moves_the_call():
    r = esc_router({"after_s": 20.0, "overflow": "spill"})
    r.call_arrive(1.0, "c1", "q")
    ev = r.advance(21.0)
    assert [e.kind for e in ev if e.kind in (EventKind.CALL_ESCALATED, EventKind.CALL_OVERFLOWED)] == [
        EventKind.CALL_ESCALATED, EventKind.CALL_OVERFLOWED]
    assert offers(r.agent_ready(22.0, "a2")) == [(22.0, "c1", "a2")]


# --------------------------------------------------------------- callbacks


def test_router_callback_keeps_its_place_and_is_offered_with_the_number():
    r = two_queues({"max_wait_s": 20.0})
    r.call_arrive(0.0, "c1", "q1")
    (req,) = of(r.request_callback(5.0, "c1", "+15551234"), EventKind.CALLBACK_REQUESTED)
    assert (req.detail, req.queue) == ("+15551234", "q1")
    r.call_arrive(6.0, "c2", "q1")
    ev = r.advance(50.0)
    assert ended(ev) == [(26.0, "c2", "exited:timeout")]  # c1 is not timed out by max wait
    ev = r.agent_ready(60.0, "a1")
    (cb,) = of(ev, EventKind.CALLBACK_OFFERED)
    assert (cb.call_id, cb.agent_id, cb.detail, cb.value) == ("c1", "a1", "+15551234", 75.0)
    assert of(ev, EventKind.CALL_OFFERED) == []
    (conn,) = of(r.offer_accept(62.0, "c1", "a1"), EventKind.CALL_CONNECTED)
    assert conn.value == 62.0


def test_router_callback_ahead_of_a_later_call():
    r = two_queues()
    r.call_arrive(0.0, "c1", "q1")
    r.call_arrive(1.0, "c2", "q1")
    r.request_callback(2.0, "c1", "555")
    assert r.position("c1").position == 1
    assert offers(r.agent_ready(3.0, "a1")) == [(3.0, "c1", "a1")]


# --------------------------------------------------------------- transfers


def test_router_transfer_to_queue_keeps_arrival_time_and_frees_the_first_agent():
    r = two_queues({"wrap_up_s": 4.0})
    r.agent_ready(0.0, "a1")
    r.call_arrive(10.0, "c1", "q1", context={"account": 42})
    r.offer_accept(12.0, "c1", "a1")
    r.call_arrive(20.0, "c0", "q2")  # arrived later than c1 in the target queue
    ev = r.transfer(50.0, "c1", queue="q2", context={"note": "billing"})
    (tr,) = of(ev, EventKind.CALL_TRANSFERRED)
    assert (tr.agent_id, tr.queue, tr.detail) == ("a1", "q1", "queue:q2")
    assert [(e.queue, e.detail) for e in of(ev, EventKind.CALL_ARRIVED)] == [("q2", "transfer")]
    assert r.position("c1").position == 1 and r.position("c0").position == 2
    assert r.agent_state("a1") == "WRAP_UP"
    assert offers(r.agent_ready(51.0, "a2")) == [(51.0, "c1", "a2")]


def test_router_transfer_to_agent_offers_only_that_agent():
    r = two_queues()
    r.agent_ready(0.0, "a1")
    r.agent_ready(0.0, "a2")
    r.call_arrive(1.0, "c1", "q1")
    r.offer_accept(2.0, "c1", "a1")
    r.agent_not_ready(3.0, "a2")
    ev = r.transfer(10.0, "c1", agent="a2")
    assert of(ev, EventKind.CALL_TRANSFERRED)[0].detail == "agent:a2"
    assert offered(ev) == []  # a1 is free again, but the call waits for a2
    assert offers(r.agent_ready(11.0, "a2")) == [(11.0, "c1", "a2")]


def test_router_transfer_context_is_visible_to_the_next_agent():
    r = two_queues()
    r.agent_ready(0.0, "a1")
    r.call_arrive(1.0, "c1", "q1", context={"account": 42})
    r.offer_accept(2.0, "c1", "a1")
    r.transfer(3.0, "c1", queue="q2", context={"note": "billing"})
    assert r.call_context("c1") == {"account": 42, "note": "billing"}


# -------------------------------------------------------------- cross-queue


def cross_router() -> Router:
    cfg = {"agents": [{"id": "a1"}],
           "queues": [{"name": "low", "members": ["a1"], "weight": 1.0},
                      {"name": "high", "members": ["a1"], "weight": 2.0},
                      {"name": "low2", "members": ["a1"], "weight": 1.0}]}
    r = engine().from_config(cfg)
    r.agent_login(0.0, "a1")
    return r


def test_router_freed_agent_takes_the_higher_weight_queue_first():
    r = cross_router()
    r.call_arrive(1.0, "c1", "low", priority=9)
    r.call_arrive(2.0, "c2", "high")
    assert offers(r.agent_ready(3.0, "a1")) == [(3.0, "c2", "a1")]


def test_router_freed_agent_then_takes_higher_priority_then_longest_waiting():
    r = cross_router()
    r.call_arrive(1.0, "c1", "low")
    r.call_arrive(2.0, "c2", "low2", priority=1)
    r.call_arrive(3.0, "c3", "low2")
    order = []
    for k, cid in enumerate(("first", "second", "third")):
        ev = r.agent_ready(10.0 + k, "a1") if k == 0 else r.call_release(10.0 + k, call)
        (call,) = [e.call_id for e in of(ev, EventKind.CALL_OFFERED)]
        order.append(call)
        r.offer_accept(10.0 + k, call, "a1")
    assert order == ["c2", "c1", "c3"]


def test_router_equal_arrival_times_are_fifo_by_arrival_order():
    r = cross_router()
    r.call_arrive(5.0, "x", "low2")
    r.call_arrive(5.0, "y", "low")
    r.call_arrive(5.0, "z", "low2")
    assert offers(r.agent_ready(6.0, "a1")) == [(6.0, "x", "a1")]
    r.offer_accept(6.0, "x", "a1")
    assert offers(r.call_release(7.0, "x")) == [(7.0, "y", "a1")]


# ---------------------------------------------------------- position / EWT


def test_router_position_and_ewt_follow_the_formula():
    cfg = {"agents": [{"id": "a1"}, {"id": "a2"}],
           "queues": [{"name": "q", "members": ["a1", "a2"], "expected_aht_s": 180.0, "wrap_up_s": 10.0}]}
    r = engine().from_config(cfg)
    r.agent_login(0.0, "a1", ready=True)
    r.agent_login(0.0, "a2")  # logged in, not ready: still counts as serving
    r.call_arrive(1.0, "c0", "q")
    r.offer_accept(1.0, "c0", "a1")
    for k in range(1, 4):
        r.call_arrive(1.0 + k, f"c{k}", "q")
    r.call_arrive(5.0, "vip", "q", priority=1)
    assert r.position("vip") == Position(1, 4, 1 * 180.0 / 2)
    assert r.position("c3") == Position(4, 4, 4 * 180.0 / 2)
    r.call_release(91.0, "c0")  # handle time 90 talk + 10 wrap -> EWMA 180 + 0.1 * (100 - 180) = 172
    assert r.position("c3") == Position(4, 4, pytest.approx(4 * 172.0 / 2))  # a1 in wrap-up until 101
    assert offers(r.advance(101.0)) == [(101.0, "vip", "a1")]
    assert r.position("c3") == Position(3, 3, pytest.approx(3 * 172.0 / 2))
