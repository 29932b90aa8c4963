"""Queue membership changes at run time (Asterisk QueueAdd / QueueRemove / QueuePenalty, FreeSWITCH
``tier add|del|set``), on both engines: docs/routing.md §16."""

from __future__ import annotations

import math
import pickle

import pytest
from router_helpers import engine, offered

from busyhour.router import EventKind, StateError, TimeError, UnknownIdError

pytestmark = pytest.mark.usefixtures("each_engine")

CFG = {"agents": [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}],
       "queues": [{"name": "sales", "members": ["a1"], "max_wait_no_agents_s": 30.0},
                  {"name": "support", "members": ["a2"]},
                  {"name": "ring", "strategy": "ring-progressively", "ring_step_s": 5.0, "ring_timeout_s": 60.0,
                   "members": ["a1", "a2", "a3"]}]}


def _router(*ready):
    r = engine().from_config(CFG)
    for a in ready:
        r.agent_login(0.0, a, ready=True)
    return r


def _kinds(events):
    return [e.kind for e in events]


def test_an_added_member_takes_the_waiting_call_at_once():
    r = _router("a2")
    r.call_arrive(1.0, "c1", "sales")  # a1 is logged out: the call waits
    ev = r.member_add(2.0, "a2", "sales", penalty=3)
    assert [(e.kind, e.agent_id, e.queue, e.value) for e in ev[:1]] == [(EventKind.MEMBER_ADDED, "a2", "sales", 3.0)]
    assert offered(ev) == ["a2"]
    assert r.queue_view("sales").logged_in == 1


def test_a_removed_member_gets_no_more_calls_and_a_ringing_offer_rings_on():
    r = _router("a1")
    assert offered(r.call_arrive(1.0, "c1", "sales")) == ["a1"]
    ev = r.member_remove(2.0, "a1", "sales")
    assert _kinds(ev) == [EventKind.MEMBER_REMOVED]
    assert r.call_state("c1").name == "OFFERED"
    r.offer_reject(3.0, "c1", "a1")
    assert r.call_state("c1").name == "WAITING"  # never offered to a1 again
    assert offered(r.advance(10.0)) == []
    assert r.queue_view("sales").logged_in == 0


def test_removing_the_last_logged_in_member_starts_the_no_agents_limit():
    r = _router("a1")
    r.agent_not_ready(0.5, "a1")
    r.call_arrive(1.0, "c1", "sales")
    r.member_remove(4.0, "a1", "sales")
    assert r.next_deadline() == 4.0 + 30.0
    ev = r.advance(34.0)
    assert [(e.kind, e.detail) for e in ev if e.kind == EventKind.CALL_ENDED] == [
        (EventKind.CALL_ENDED, "exited:no-agents")]


def test_adding_a_logged_in_member_voids_the_no_agents_limit():
    r = _router("a2")
    r.agent_logout(0.5, "a2")
    r.agent_login(0.6, "a2")  # logged in, not ready: it staffs the queues it is a member of
    r.call_arrive(1.0, "c1", "sales")  # nobody logged in to sales: limit 30 s
    assert r.next_deadline() == 31.0
    r.member_add(2.0, "a2", "sales")
    assert r.next_deadline() == math.inf and r.advance(40.0) == []
    assert r.call_state("c1").name == "WAITING"


def test_a_lower_penalty_member_is_preferred_after_an_update():
    r = engine().from_config({"agents": [{"id": "a1"}, {"id": "a2"}], "queues": [
        {"name": "q", "members": [{"agent": "a1", "penalty": 0}, {"agent": "a2", "penalty": 1}]}]})
    r.agent_login(0.0, "a1", ready=True)
    r.agent_login(0.0, "a2", ready=True)
    ev = r.member_update(1.0, "a1", "q", penalty=2)
    assert [(e.kind, e.value) for e in ev] == [(EventKind.MEMBER_UPDATED, 2.0)]
    assert offered(r.call_arrive(2.0, "c1", "q")) == ["a2"]


def test_an_update_within_max_penalty_offers_the_waiting_call():
    r = engine().from_config({"agents": [{"id": "a1"}], "queues": [
        {"name": "q", "max_penalty": 1, "members": [{"agent": "a1", "penalty": 5}]}]})
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "q")
    assert offered(r.member_update(2.0, "a1", "q", penalty=1)) == ["a1"]


def test_ring_progressively_follows_moved_members_and_skips_a_removed_one():
    r = _router("a1", "a2", "a3")
    assert offered(r.call_arrive(1.0, "c1", "ring")) == ["a1"]  # then a2 at 6, a3 at 11
    r.member_remove(2.0, "a1", "sales")  # an earlier queue loses a member: the ring queue's rows move
    assert offered(r.advance(6.0)) == ["a2"]
    r.member_remove(7.0, "a3", "ring")
    assert offered(r.advance(20.0)) == []
    r.member_add(21.0, "a3", "ring")  # joins after the ring began: not in this call's order
    assert offered(r.advance(40.0)) == []


def test_a_pause_goes_with_the_member_and_ends_with_its_removal():
    r = _router("a1")
    r.member_pause(1.0, "a1", "ring", "coaching")
    r.member_remove(2.0, "a2", "ring")  # another member leaves: a1's row moves, its pause stays
    assert r.paused_in("a1") == {"ring": "coaching"}
    r.member_remove(3.0, "a1", "ring")
    assert r.paused_in("a1") == {}
    r.member_add(4.0, "a1", "ring")
    assert r.paused_in("a1") == {}


def test_position_defaults_to_after_the_last_member_and_round_robin_follows_it():
    r = engine().from_config({"agents": [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}], "queues": [
        {"name": "q", "strategy": "sequentially-by-agent-order", "members": ["a2", "a3"]}]})
    for a in ("a1", "a2", "a3"):
        r.agent_login(0.0, a, ready=True)
    r.member_add(1.0, "a1", "q")  # position 2: after a2 (0) and a3 (1)
    assert offered(r.call_arrive(2.0, "c1", "q")) == ["a2"]
    r.member_update(3.0, "a1", "q", position=0)
    r.member_update(3.0, "a2", "q", position=5)
    assert offered(r.call_arrive(4.0, "c2", "q")) == ["a1"]


@pytest.mark.parametrize("call, match, error", [
    (lambda r: r.member_add(5.0, "a1", "sales"), "already a member", StateError),
    (lambda r: r.member_remove(5.0, "a3", "sales"), "not a member", StateError),
    (lambda r: r.member_update(5.0, "a3", "sales", penalty=1), "not a member", StateError),
    (lambda r: r.member_update(5.0, "a1", "sales"), "nothing to change", StateError),
    (lambda r: r.member_add(5.0, "zz", "sales"), "unknown agent", UnknownIdError),
    (lambda r: r.member_add(5.0, "a3", "nope"), "unknown queue", UnknownIdError),
    (lambda r: r.member_add(5.0, "a3", "sales", penalty=-1), "penalty must be an integer", StateError),
    (lambda r: r.member_add(5.0, "a3", "sales", tier=2**31), "tier must be an integer", StateError),
    (lambda r: r.member_add(5.0, "a3", "sales", position=1.5), "position must be an integer", StateError),
    (lambda r: r.member_add(5.0, "a3", "sales", tier=True), "tier must be an integer", StateError),
    (lambda r: r.member_add(5.0, "a3", "sales", weight=0), "weight must be a finite number", StateError),
    (lambda r: r.member_add(5.0, "a3", "sales", weight=math.nan), "weight must be a finite number", StateError),
    (lambda r: r.member_add(5.0, "a3", "sales", weight="2"), "weight must be a finite number", StateError),
    (lambda r: r.member_add(1.0, "a3", "sales"), "time went backwards", TimeError),
    (lambda r: r.member_add(math.nan, "a3", "sales"), "finite", TimeError),
])
def test_a_refused_change_changes_nothing_clock_included(call, match, error):
    r = _router("a1")
    r.agent_not_ready(2.0, "a1")
    r.call_arrive(2.0, "c1", "sales")  # a timer is due at 32: a refusal at 40 must not fire it
    before = (pickle.dumps(r), r.now, r.next_deadline())
    with pytest.raises(error, match=match):
        call(r)
    assert (r.now, r.next_deadline()) == before[1:]
    assert pickle.dumps(r) == before[0]


def test_a_refused_change_at_a_later_time_fires_no_timer():
    r = _router()
    r.call_arrive(1.0, "c1", "sales")  # no agents: the limit ends it at 31
    with pytest.raises(StateError):
        r.member_add(40.0, "a1", "sales")
    assert r.call_state("c1").name == "WAITING" and r.now == 1.0


def test_the_change_outlives_a_pickle():
    r = _router("a2")
    r.member_add(1.0, "a2", "sales", tier=2)
    r2 = pickle.loads(pickle.dumps(r))
    assert [m.agent for m in r2.config.queues[0].members] == ["a1", "a2"]
    assert offered(r2.call_arrive(2.0, "c1", "sales")) == ["a2"]


def test_a_pause_ended_by_removal_counts_in_the_statistics():
    r = _router("a1")
    r.member_pause(1.0, "a1", "ring", "coaching")
    r.member_remove(11.0, "a1", "ring")
    r.advance(20.0)
    totals = {t.agent: t for t in r.stats().agents}
    assert totals["a1"].paused_s == {"ring": 10.0}


def test_a_ringing_call_back_in_a_queue_left_with_nobody_starts_its_no_agents_limit_then():
    """A call ringing the member removed from its queue comes back when the ring ends; nobody serves the queue
    any more, so its no-agents limit starts then (it used to wait until someone logged in)."""
    r = engine().from_config({"agents": [{"id": "a1"}], "queues": [
        {"name": "sales", "members": ["a1"], "ring_timeout_s": 15.0, "max_wait_no_agents_s": 10.0}]})
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "sales")  # rings a1 until 16 s
    r.member_remove(2.0, "a1", "sales")
    assert r.call_state("c1").name == "OFFERED"
    r.advance(16.0)  # the ring expires: back in the queue at 16 s
    assert r.call_state("c1").name == "WAITING" and r.next_deadline() == 26.0
    ev = r.advance(26.0)
    assert [(e.kind, e.detail) for e in ev if e.kind == EventKind.CALL_ENDED] == [(EventKind.CALL_ENDED, "exited:no-agents")]
