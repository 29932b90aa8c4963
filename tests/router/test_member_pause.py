"""Pausing an agent in one queue (Asterisk's QueuePause with a queue), on both engines: docs/routing.md §10."""

from __future__ import annotations

import pickle

import pytest
from router_helpers import engine, of, offered

from busyhour.router import EventKind, StateError, UnknownIdError

pytestmark = pytest.mark.usefixtures("each_engine")

CFG = {"agents": [{"id": "a1"}, {"id": "a2"}],
       "queues": [{"name": "sales", "members": ["a1", "a2"]}, {"name": "support", "members": ["a1"]},
                  {"name": "ring", "strategy": "ring-all", "members": ["a1", "a2"]}]}


def _router():
    r = engine().from_config(CFG)
    r.agent_login(0.0, "a1", ready=True)
    return r


def test_a_paused_member_gets_no_calls_of_that_queue_and_still_those_of_its_others():
    r = _router()
    ev = r.member_pause(1.0, "a1", "sales", "coaching")
    assert [(e.kind, e.agent_id, e.queue, e.detail) for e in ev] == [
        (EventKind.MEMBER_PAUSED, "a1", "sales", "coaching")]
    assert r.paused_in("a1") == {"sales": "coaching"} and r.agent_state("a1") == "AVAILABLE"
    assert offered(r.call_arrive(2.0, "s1", "sales")) == []
    assert offered(r.call_arrive(3.0, "p1", "support")) == ["a1"]
    r.offer_accept(3.0, "p1", "a1")
    assert offered(r.call_release(4.0, "p1")) == []  # freed: sales' caller still waits for a1
    assert r.call_state("s1").name == "WAITING"


def test_unpausing_offers_the_waiting_call_at_once():
    r = _router()
    r.member_pause(1.0, "a1", "sales")
    r.call_arrive(2.0, "s1", "sales")
    ev = r.member_unpause(5.0, "a1", "sales")
    assert [e.kind for e in ev][:2] == [EventKind.MEMBER_UNPAUSED, EventKind.CALL_OFFERED]
    assert offered(ev) == ["a1"] and r.paused_in("a1") == {}


def test_ring_all_rings_every_available_member_but_the_paused_one():
    r = _router()
    r.agent_login(0.0, "a2", ready=True)
    r.member_pause(1.0, "a2", "ring", "lunch")
    assert offered(r.call_arrive(2.0, "c1", "ring")) == ["a1"]


def test_a_pause_outlives_logout_and_a_ringing_offer_keeps_ringing():
    r = _router()
    assert offered(r.call_arrive(1.0, "s1", "sales")) == ["a1"]
    r.member_pause(2.0, "a1", "sales")
    assert r.call_state("s1").name == "OFFERED"  # the ring goes on
    r.offer_reject(3.0, "s1", "a1")
    assert r.call_state("s1").name == "WAITING"
    r.agent_logout(4.0, "a1")
    r.agent_login(5.0, "a1", ready=True)
    assert r.paused_in("a1") == {"sales": "paused"} and r.call_state("s1").name == "WAITING"


def test_a_paused_member_still_staffs_the_queue():
    cfg = {"agents": [{"id": "a1"}], "queues": [{"name": "q", "members": ["a1"], "max_wait_no_agents_s": 0}]}
    r = engine().from_config(cfg)
    r.agent_login(0.0, "a1")
    r.member_pause(1.0, "a1", "q")
    ended = of(r.call_arrive(2.0, "c1", "q"), EventKind.CALL_ENDED)
    assert ended == []  # logged in, paused: not "no agents"


@pytest.mark.parametrize("op, args, error, words", [
    ("member_pause", ("a2", "support"), StateError, "agent 'a2' is not a member of queue 'support'"),
    ("member_pause", ("a1", "sales", ""), StateError, "pause reason must be a non-empty string"),
    ("member_pause", ("a1", "sales", "a:b"), StateError, "without ':'"),
    ("member_pause", ("a1", "nope"), UnknownIdError, "unknown queue 'nope'"),
    ("member_pause", ("zz", "sales"), UnknownIdError, "unknown agent 'zz'"),
    ("member_unpause", ("a1", "sales"), StateError, "agent 'a1' is not paused in queue 'sales'"),
])
def test_bad_pauses_are_refused_and_change_nothing(op, args, error, words):
    r = _router()
    r.call_arrive(1.0, "s1", "support", max_wait_s=1.0)  # a timer due before the refused operation
    with pytest.raises(error, match=words):
        getattr(r, op)(5.0, *args)
    assert r.now == 1.0 and r.call_state("s1").name == "OFFERED" and r.paused_in("a1") == {}


def test_pausing_twice_is_refused_and_a_pause_survives_a_pickle():
    r = _router()
    r.member_pause(1.0, "a1", "sales", "coaching")
    with pytest.raises(StateError, match="already paused in queue 'sales'"):
        r.member_pause(2.0, "a1", "sales", "lunch")
    r2 = pickle.loads(pickle.dumps(r))
    assert r2.paused_in("a1") == {"sales": "coaching"}
    assert offered(r2.call_arrive(3.0, "s1", "sales")) == []
