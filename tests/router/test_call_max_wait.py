"""A call's own max wait (Asterisk's ``Queue(..., timeout)``), on both engines: docs/routing.md §6.

The limit counts from the call's arrival until an agent answers, across overflows; when it falls due the
call leaves wherever it waits or rings, with ``exited:timeout`` and never an overflow.
"""

from __future__ import annotations

import math

import pytest
from router_helpers import ended, engine, of

from busyhour.router import EventKind, StateError

pytestmark = pytest.mark.usefixtures("each_engine")

CFG = {"agents": [{"id": "a1"}, {"id": "a2"}],
       "queues": [{"name": "q", "members": ["a1"], "max_wait_s": 10.0, "overflow": "q2", "ring_timeout_s": 60.0},
                  {"name": "q2", "members": ["a2"], "max_wait_s": 100.0, "overflow": "q"}]}


def _router():
    return engine().from_config(CFG)


def test_a_waiting_caller_leaves_at_its_own_limit_without_overflow():
    r = _router()
    ev = r.call_arrive(1.0, "c1", "q", max_wait_s=5.0)
    ev += r.advance(100.0)
    assert ended(ev) == [(6.0, "c1", "exited:timeout")]
    assert of(ev, EventKind.CALL_OVERFLOWED) == []


def test_the_queues_max_wait_and_overflow_come_first_and_the_limit_counts_from_arrival():
    r = _router()
    ev = r.call_arrive(1.0, "c1", "q", max_wait_s=25.0)
    ev += r.advance(200.0)
    assert [(e.time_s, e.detail) for e in of(ev, EventKind.CALL_OVERFLOWED)] == [(11.0, "q2")]
    assert ended(ev) == [(26.0, "c1", "exited:timeout")]  # 25 s after arrival, not after entering q2


def test_a_ringing_caller_at_its_limit_leaves_and_the_offer_is_withdrawn():
    r = _router()
    r.agent_login(0.0, "a1", ready=True)
    ev = r.call_arrive(1.0, "c1", "q", max_wait_s=4.0)
    assert [e.agent_id for e in of(ev, EventKind.CALL_OFFERED)] == ["a1"]
    ev = r.advance(10.0)
    assert [(e.time_s, e.agent_id, e.detail) for e in of(ev, EventKind.OFFER_WITHDRAWN)] == [(5.0, "a1", "exit")]
    assert ended(ev) == [(5.0, "c1", "exited:timeout")]
    assert r.agent_state("a1") == "AVAILABLE"


def test_an_answered_call_has_no_limit_any_more_even_when_transferred_back_to_waiting():
    r = _router()
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "q", max_wait_s=4.0)
    r.offer_accept(2.0, "c1", "a1")
    ev = r.transfer(3.0, "c1", queue="q2")  # nobody logged in to q2: the call waits there
    ev += r.advance(50.0)
    assert ended(ev) == []
    assert r.call_state("c1").name == "WAITING"


def test_a_callback_keeps_its_place_past_the_limit():
    r = _router()
    r.call_arrive(1.0, "c1", "q2", max_wait_s=3.0)
    r.request_callback(2.0, "c1", "+15550100")
    assert ended(r.advance(50.0)) == []
    assert r.call_state("c1").name == "WAITING"


def test_no_limit_of_its_own_with_none_or_inf():
    r = _router()
    ev = r.call_arrive(1.0, "c1", "q2", max_wait_s=math.inf)
    ev += r.call_arrive(1.0, "c2", "q2")
    ev += r.advance(90.0)
    assert ended(ev) == []
    ev = r.advance(105.0)  # q2's own max wait moves both on to q
    assert [(e.time_s, e.call_id) for e in of(ev, EventKind.CALL_OVERFLOWED)] == [(101.0, "c1"), (101.0, "c2")]


@pytest.mark.parametrize("bad", [0, 0.0, -1.0, math.nan, True, "10", [5]])
def test_a_bad_limit_is_refused_and_changes_nothing(bad):
    r = _router()
    r.call_arrive(1.0, "c0", "q2")
    with pytest.raises(StateError, match="max_wait_s must be a number of seconds > 0"):
        r.call_arrive(2.0, "c1", "q", max_wait_s=bad)
    assert r.counts == (1, 0) and r.now == 1.0 and [c.call for c in r.live_calls()] == ["c0"]
    r.call_arrive(2.0, "c1", "q", max_wait_s=1.5)  # the id is free: nothing was kept of the refused one
    assert ended(r.advance(5.0)) == [(3.5, "c1", "exited:timeout")]
