"""``queue_add`` / ``queue_remove`` and a reload that adds and removes queues, on both engines
(docs/routing.md §16)."""

from __future__ import annotations

import pickle

import pytest
from router_helpers import engine, offered

from busyhour.router import ConfigError, EventKind, Router, StateError, TimeError, UnknownIdError, parse_config

pytestmark = pytest.mark.usefixtures("each_engine")

RAW = {"agents": [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}],
       "queues": [{"name": "sales", "members": ["a1", "a2"], "wrap_up_s": 5.0},
                  {"name": "support", "members": ["a3"]}]}


def _router():
    return engine()(parse_config(RAW))


def _kinds(ev):
    return [(e.kind, e.call_id, e.agent_id, e.queue) for e in ev]


def test_an_added_queue_takes_calls_and_its_logged_in_members_at_once():
    r = _router()
    r.agent_login(0.0, "a3", ready=True)
    ev = r.queue_add(1.0, {"name": "vip", "strategy": "ringall", "members": ["a3", {"agent": "a1", "penalty": 2}],
                           "overflow": "sales", "max_wait_s": 30.0})
    assert _kinds(ev) == [(EventKind.QUEUE_ADDED, None, None, "vip"), (EventKind.MEMBER_ADDED, None, "a3", "vip"),
                          (EventKind.MEMBER_ADDED, None, "a1", "vip")]
    assert offered(r.call_arrive(2.0, "c1", "vip")) == ["a3"]
    assert r.queue_view("vip").waiting == 0 and [q.name for q in r.config.queues][-1] == "vip"
    r.call_arrive(3.0, "c2", "vip")
    ev = r.advance(33.0)  # its own max wait, then its overflow
    assert (EventKind.CALL_OVERFLOWED, "c2") in [(e.kind, e.call_id) for e in ev]
    assert r.call_view("c2").queue == "sales"


def test_a_removed_queue_sends_its_calls_on_in_their_order_and_its_name_is_unknown():
    r = _router()
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "sales")  # rings a1
    r.call_arrive(2.0, "c2", "sales")
    r.call_arrive(3.0, "c3", "sales", priority=5)
    ev = r.queue_remove(4.0, "sales", to="support")
    assert [(e.kind, e.call_id) for e in ev if e.kind == EventKind.CALL_MOVED] == [
        (EventKind.CALL_MOVED, "c3"), (EventKind.CALL_MOVED, "c2"), (EventKind.CALL_MOVED, "c1")]
    assert [(e.kind, e.agent_id) for e in ev][-3:] == [
        (EventKind.MEMBER_REMOVED, "a1"), (EventKind.MEMBER_REMOVED, "a2"), (EventKind.QUEUE_REMOVED, None)]
    assert [r.call_view(c).queue for c in ("c1", "c2", "c3")] == ["support"] * 3
    assert [r.position(c).position for c in ("c3", "c1", "c2")] == [1, 2, 3]  # their places: priority, arrival
    for fn in (lambda: r.call_arrive(5.0, "c4", "sales"), lambda: r.queue_view("sales"),
               lambda: r.member_add(5.0, "a1", "sales"), lambda: r.queue_update(5.0, "sales", wrap_up_s=1.0),
               lambda: r.call_move(5.0, "c1", "sales"), lambda: r.queue_remove(5.0, "sales")):
        with pytest.raises(UnknownIdError, match="unknown queue 'sales'"):
            fn()
    assert [q.queue for q in r.stats().queues] == ["support"]
    assert r.config.queues[0].removed and r.config.queues[0].members == ()


def test_a_connected_call_of_a_removed_queue_finishes_with_its_wrap_up_and_needs_a_target_to_transfer():
    r = _router()
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "sales")
    r.offer_accept(1.0, "c1", "a1")
    r.queue_remove(2.0, "sales")  # no waiting or ringing call: no `to` needed
    before = pickle.dumps(r)
    with pytest.raises(StateError, match="its queue was removed; name the queue"):
        r.transfer(3.0, "c1", agent="a3")
    assert pickle.dumps(r) == before
    ev = r.transfer(3.0, "c1", queue="support")
    assert ev[0].kind == EventKind.CALL_TRANSFERRED and r.call_view("c1").queue == "support"
    assert r.agent_state("a1") == "WRAP_UP" and r.next_deadline() == 8.0  # the removed queue's wrap-up (5 s)


def test_a_name_comes_back_to_its_row_and_its_statistics_go_on():
    r = _router()
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "sales")
    r.offer_accept(2.0, "c1", "a1")
    r.call_release(3.0, "c1")
    r.queue_remove(4.0, "sales")
    ev = r.queue_add(10.0, {"name": "sales", "members": ["a2"], "strategy": "leastrecent"})
    assert _kinds(ev)[1:] == [(EventKind.QUEUE_ADDED, None, None, "sales"), (EventKind.MEMBER_ADDED, None, "a2", "sales")]
    assert [q.name for q in r.config.queues] == ["sales", "support"] and not r.config.queues[0].removed
    r.agent_login(11.0, "a2", ready=True)
    assert offered(r.call_arrive(12.0, "c2", "sales")) == ["a2"]
    assert sum(b.offered for b in r.stats().intervals if b.queue == "sales") == 2


@pytest.mark.parametrize("call, error, words", [
    (lambda r: r.queue_remove(5.0, "support"), StateError, "holds 1 waiting or ringing call"),
    (lambda r: r.queue_remove(5.0, "support", to="support"), StateError, "to itself"),
    (lambda r: r.queue_remove(5.0, "support", to="nowhere"), UnknownIdError, "unknown queue 'nowhere'"),
    (lambda r: r.queue_remove(5.0, "sales"), StateError, "overflow of queue\\(s\\) 'vip'"),
    (lambda r: r.queue_remove(4.0, "support", to="sales"), TimeError, "before the last time"),
    (lambda r: r.queue_add(5.0, {"name": "sales"}), StateError, "already exists"),
    (lambda r: r.queue_add(5.0, {"name": "x", "members": ["nobody"]}), ConfigError, "queue.members\\[0\\]"),
    (lambda r: r.queue_add(5.0, {"name": "x", "skills": {"french": 1}}), ConfigError, "queue.skills"),
    (lambda r: r.queue_add(5.0, {"name": "x", "overflow": "gone"}), ConfigError, "queue.overflow"),
    (lambda r: r.queue_add(5.0, {"name": "x", "removed": True}), ConfigError, "removed"),
    (lambda r: r.queue_add(5.0, ["x"]), ConfigError, "expected a table"),
    (lambda r: r.queue_add(5.0, {"name": ""}), ConfigError, "queue.name"),
])
def test_refusals_name_the_problem_and_change_nothing(call, error, words):
    r = _router()
    r.queue_add(1.0, {"name": "vip", "overflow": "sales", "members": ["a3"]})
    r.call_arrive(4.5, "c1", "support")
    r.agent_login(4.5, "a2", ready=True)
    r.call_arrive(4.5, "c2", "sales")
    before = pickle.dumps(r)
    with pytest.raises(error, match=words):
        call(r)
    assert pickle.dumps(r) == before


def test_a_removal_waits_for_the_timers_due_before_it():
    r = _router()
    r.queue_update(0.0, "support", max_wait_s=2.0)
    r.call_arrive(1.0, "c1", "support")
    ev = r.queue_remove(5.0, "support")  # c1's max wait ended it at 3 s: nothing left to move
    assert [e.kind for e in ev][-2:] == [EventKind.MEMBER_REMOVED, EventKind.QUEUE_REMOVED]
    assert (EventKind.CALL_ENDED, "c1") in [(e.kind, e.call_id) for e in ev]


def test_a_reload_adds_and_removes_queues_and_agents_by_name():
    r = _router()
    r.agent_login(0.0, "a1", ready=True)
    raw = {"agents": [{"id": "a4"}, {"id": "a1"}, {"id": "a2"}],  # a3 gone, a4 new, order changed
           "queues": [{"name": "chat", "members": ["a4", "a1"]},
                      {"name": "sales", "members": ["a1", "a2"], "wrap_up_s": 5.0}]}  # support gone
    ev = r.reload(1.0, parse_config(raw))
    assert [(e.kind, e.agent_id, e.queue) for e in ev] == [
        (EventKind.AGENT_ADDED, "a4", None), (EventKind.QUEUE_ADDED, None, "chat"),
        (EventKind.MEMBER_ADDED, "a4", "chat"), (EventKind.MEMBER_ADDED, "a1", "chat"),
        (EventKind.MEMBER_REMOVED, "a3", "support"), (EventKind.QUEUE_REMOVED, None, "support"),
        (EventKind.AGENT_REMOVED, "a3", None)]
    assert [(q.name, q.removed) for q in r.config.queues] == [("sales", False), ("support", True), ("chat", False)]
    assert [a.id for a in r.config.agents] == ["a1", "a2", "a4"]
    assert offered(r.call_arrive(2.0, "c1", "chat")) == ["a1"]
    assert r.reload(3.0, parse_config(raw)) == []  # equal: nothing changes


def test_a_reload_that_would_drop_calls_or_a_logged_in_agent_is_refused():
    r = _router()
    r.call_arrive(1.0, "c1", "support")
    before = pickle.dumps(r)
    with pytest.raises(StateError, match="queue 'support' holds 1 waiting"):
        r.reload(2.0, parse_config({"agents": RAW["agents"], "queues": RAW["queues"][:1]}))
    assert pickle.dumps(r) == before
    r.agent_login(2.0, "a3")
    before = pickle.dumps(r)
    with pytest.raises(StateError, match="agent 'a3' is logged in"):
        r.reload(3.0, parse_config({"agents": RAW["agents"][:2], "queues": [RAW["queues"][0],
                                                                           {"name": "support"}]}))
    assert pickle.dumps(r) == before


def test_a_router_with_a_removed_queue_pickles_and_goes_on():
    r = _router()
    r.queue_remove(1.0, "sales")
    r2 = pickle.loads(pickle.dumps(r))
    r2.queue_add(2.0, {"name": "sales", "members": ["a1"]})
    r2.agent_login(3.0, "a1", ready=True)
    assert offered(r2.call_arrive(4.0, "c1", "sales")) == ["a1"]


def test_queues_added_one_by_one_grow_the_event_buffer_by_doubling():
    """The room one step's events need grows with the number of queues; the compiled engine's buffer used to be
    reallocated (and copied) at every queue_add, which made adding n queues cost O(n²) — 9 s for 2,000 by a
    reload. Now it doubles: O(log n) reallocations."""
    r = Router(parse_config(RAW))  # the compiled engine (the reference keeps no event buffer)
    buffers = {id(r._S.EV_i): r._S.EV_i}  # kept alive, so no id is reused
    for i in range(300):
        r.queue_add(1.0, {"name": f"z{i}", "members": ["a1"]})
        buffers.setdefault(id(r._S.EV_i), r._S.EV_i)
    assert 2 <= len(buffers) <= 10, len(buffers)  # the room grows ~8 rows a queue: 300 queues need a few doublings
