"""A waiting or ringing call's new priority (Asterisk's QueueChangePriorityCaller), on both engines."""

from __future__ import annotations

import pytest
from router_helpers import engine, of, offered

from busyhour.router import EventKind, StateError, UnknownIdError

pytestmark = pytest.mark.usefixtures("each_engine")

CFG = {"agents": [{"id": "a1"}], "queues": [{"name": "q", "members": ["a1"], "ring_timeout_s": 10.0}]}


def _waiting(n: int = 4):
    r = engine().from_config(CFG)
    for k in range(n):
        r.call_arrive(1.0 + k, f"c{k}", "q", priority=k % 2)  # c1 and c3 (priority 1) ahead of c0, c2
    return r


def test_a_waiting_call_moves_to_its_place_among_calls_of_its_new_priority():
    r = _waiting()
    assert [r.position(f"c{k}").position for k in range(4)] == [3, 1, 4, 2]
    ev = r.change_priority(10.0, "c2", 1)
    assert [(e.kind, e.value) for e in ev] == [(EventKind.PRIORITY_CHANGED, 1.0), (EventKind.CALL_QUEUED, 2.0)]
    assert [r.position(f"c{k}").position for k in range(4)] == [4, 1, 2, 3]  # by arrival among priority 1
    r.change_priority(11.0, "c3", 0)
    assert [r.position(f"c{k}").position for k in range(4)] == [3, 1, 2, 4]  # c3 is now behind c0 (earlier)


def test_the_first_freed_agent_takes_the_call_moved_ahead():
    r = _waiting()
    r.change_priority(10.0, "c0", 5)
    assert offered(r.agent_login(11.0, "a1", ready=True)) == ["a1"]
    assert r.call_state("c0").name == "OFFERED"


def test_a_ringing_call_keeps_ringing_and_goes_back_with_its_new_priority():
    r = _waiting(2)
    assert offered(r.agent_login(5.0, "a1", ready=True)) == ["a1"]  # c1 (priority 1) rings
    ev = r.change_priority(6.0, "c1", -1)
    assert [e.kind for e in ev] == [EventKind.PRIORITY_CHANGED] and r.call_state("c1").name == "OFFERED"
    r.agent_not_ready(7.0, "a1")  # the offer is withdrawn: back to its place, now behind c0
    assert r.position("c1").position == 2 and r.position("c0").position == 1


def test_refused_changes_change_nothing():
    r = _waiting(2)
    r.agent_login(5.0, "a1", ready=True)
    r.offer_accept(6.0, "c1", "a1")
    with pytest.raises(StateError, match="call 'c1' is connected: only a waiting or ringing call's priority"):
        r.change_priority(7.0, "c1", 3)
    with pytest.raises(StateError, match="priority must be a 32-bit integer"):
        r.change_priority(7.0, "c0", 1 << 31)
    with pytest.raises(UnknownIdError, match="unknown call 'zz'"):
        r.change_priority(7.0, "zz", 1)
    assert r.now == 6.0 and r.position("c0").position == 1


def test_a_call_that_ends_in_the_timers_due_before_the_change_refuses_it():
    r = engine().from_config(CFG)
    r.call_arrive(1.0, "c0", "q", max_wait_s=2.0)
    with pytest.raises(StateError, match="call 'c0' ended before its priority could change"):
        r.change_priority(5.0, "c0", 1)
    assert r.now == 1.0 and r.call_state("c0").name == "WAITING"  # nothing fired: the clock did not move
    assert [e.detail for e in of(r.advance(5.0), EventKind.CALL_ENDED)] == ["exited:timeout"]
