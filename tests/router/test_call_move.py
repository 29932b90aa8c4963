"""Moving a waiting or ringing call to another queue (``call_move``), on both engines: docs/routing.md §16."""

from __future__ import annotations

import math

import pytest
from router_helpers import engine, offered

from busyhour.router import EventKind, StateError, TimeError, UnknownIdError

pytestmark = pytest.mark.usefixtures("each_engine")

CFG = {"agents": [{"id": "a1"}, {"id": "a2"}],
       "queues": [{"name": "sales", "members": ["a1"], "max_wait_s": 50.0},
                  {"name": "vip", "members": ["a2"], "max_wait_s": 100.0, "max_length": 3}]}


def _seen(r) -> tuple:
    """What a caller can observe (a pickle's bytes also show the timer heap's lazy deletion, which a
    refused operation that looks at the next deadline may do)."""
    return (r.now, r.next_deadline(), r.counts, r.live_calls(), r.all_agents(),
            [r.queue_view(q) for q in ("sales", "vip")], r.stats())


def _router():
    r = engine().from_config(CFG)
    r.agent_login(0.0, "a1")
    r.agent_login(0.0, "a2")  # both logged in, not ready: calls wait
    return r


def test_a_moved_call_keeps_its_place_by_arrival_in_the_new_queue():
    r = _router()
    r.call_arrive(1.0, "early", "sales")
    r.call_arrive(2.0, "late", "vip")
    ev = r.call_move(3.0, "early", "vip")
    assert [(e.kind, e.queue, e.detail) for e in ev] == [
        (EventKind.CALL_MOVED, "sales", "vip"), (EventKind.CALL_ARRIVED, "vip", "moved"),
        (EventKind.CALL_QUEUED, "vip", "")]
    assert ev[-1].value == 1.0  # ahead of the call that arrived after it
    assert r.position("late").position == 2 and r.queue_view("sales").waiting == 0
    assert offered(r.agent_ready(4.0, "a2")) == ["a2"] and r.call_state("early").name == "OFFERED"


def test_a_ringing_call_is_withdrawn_and_the_agent_freed():
    r = _router()
    r.agent_ready(0.5, "a1")
    assert offered(r.call_arrive(1.0, "c1", "sales")) == ["a1"]
    ev = r.call_move(2.0, "c1", "vip")
    assert [(e.kind, e.agent_id, e.detail) for e in ev[1:3]] == [
        (EventKind.OFFER_WITHDRAWN, "a1", "moved"), (EventKind.AGENT_STATE, "a1", "AVAILABLE")]
    assert r.call_state("c1").name == "WAITING"


def test_the_new_queue_limits_start_and_the_callers_own_limit_goes_on():
    r = _router()
    r.call_arrive(1.0, "c1", "sales", max_wait_s=30.0)  # its own limit: until 31
    r.call_arrive(1.0, "c2", "sales")
    r.call_move(10.0, "c1", "vip")
    r.call_move(10.0, "c2", "vip")  # vip's max wait: until 110 (sales' until 51 is void)
    assert [e.detail for e in r.advance(31.0) if e.kind == EventKind.CALL_ENDED] == ["exited:timeout"]
    assert r.advance(60.0) == [] and r.call_state("c2").name == "WAITING"
    assert [e.call_id for e in r.advance(110.0) if e.kind == EventKind.CALL_ENDED] == ["c2"]


def test_a_full_target_applies_its_own_rule_as_for_an_overflow():
    r = _router()
    for k in range(3):
        r.call_arrive(1.0, f"v{k}", "vip")
    r.call_arrive(2.0, "c1", "sales")
    ev = r.call_move(3.0, "c1", "vip")
    assert [e.detail for e in ev if e.kind == EventKind.CALL_ENDED] == ["rejected:queue-full"]


def test_statistics_count_the_call_out_of_one_queue_and_into_the_other():
    r = _router()
    r.call_arrive(1.0, "c1", "sales")
    r.call_move(2.0, "c1", "vip")
    by_queue = {i.queue: i for i in r.stats().intervals}
    assert (by_queue["sales"].offered, by_queue["sales"].exited) == (1, 1)
    assert by_queue["vip"].offered == 1


@pytest.mark.parametrize("call, queue, error, match", [
    ("c1", "sales", StateError, "already"),
    ("conn", "vip", StateError, "connected"),
    ("nope", "vip", UnknownIdError, "unknown call"),
    ("c1", "nope", UnknownIdError, "unknown queue"),
])
def test_a_refused_move_changes_nothing(call, queue, error, match):
    r = _router()
    r.call_arrive(1.0, "c1", "sales")
    r.agent_ready(1.0, "a2")
    r.call_arrive(1.0, "conn", "vip")
    r.offer_accept(1.0, "conn", "a2")
    before = _seen(r)
    with pytest.raises(error, match=match):
        r.call_move(5.0, call, queue)
    assert _seen(r) == before


def test_a_call_that_ends_in_the_timers_due_first_is_refused_and_nothing_changes():
    r = _router()
    r.call_arrive(1.0, "c1", "sales")  # exits at 51 (max wait)
    before = _seen(r)
    with pytest.raises(StateError, match="ended before it could be moved"):
        r.call_move(60.0, "c1", "vip")
    assert _seen(r) == before and r.now == 1.0
    with pytest.raises(TimeError):
        r.call_move(math.nan, "c1", "vip")
