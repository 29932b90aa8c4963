"""``agent_remove``: an agent leaves a running router, on both engines (docs/routing.md §16)."""

from __future__ import annotations

import pickle

import pytest
from router_helpers import engine, offered

from busyhour.router import EventKind, StateError, TimeError, UnknownIdError, parse_config

pytestmark = pytest.mark.usefixtures("each_engine")

RAW = {"agents": [{"id": "a1"}, {"id": "a2", "wrap_up_s": 7.0}, {"id": "a3", "wrap_up_s": 3.0}],
       "queues": [{"name": "sales", "members": ["a1", "a2"]},
                  {"name": "support", "members": ["a2", "a3"], "strategy": "preferred-agent"}]}


def _router():
    return engine()(parse_config(RAW))


def test_a_removed_agent_leaves_its_queues_and_its_id_is_unknown():
    r = _router()
    ev = r.agent_remove(1.0, "a2")
    assert [(e.kind, e.agent_id, e.queue) for e in ev] == [
        (EventKind.MEMBER_REMOVED, "a2", "sales"), (EventKind.MEMBER_REMOVED, "a2", "support"),
        (EventKind.AGENT_REMOVED, "a2", None)]
    assert [a.id for a in r.config.agents] == ["a1", "a3"]
    assert [[m.agent for m in q.members] for q in r.config.queues] == [["a1"], ["a3"]]
    assert [v.agent for v in r.all_agents()] == ["a1", "a3"]
    with pytest.raises(UnknownIdError):
        r.agent_login(2.0, "a2")
    with pytest.raises(UnknownIdError):
        r.agent_view("a2")


def test_the_agents_after_a_removed_one_keep_their_own_settings():
    r = _router()
    r.agent_remove(1.0, "a2")
    r.agent_login(2.0, "a3", ready=True)
    r.call_arrive(3.0, "c1", "support")
    r.offer_accept(3.0, "c1", "a3")
    r.call_release(4.0, "c1")
    assert r.next_deadline() == 7.0  # a3's own wrap-up (3 s), not a2's (7 s)


def test_a_logged_in_agent_is_refused_and_nothing_changes():
    r = _router()
    r.agent_login(1.0, "a1")
    before = pickle.dumps(r)
    with pytest.raises(StateError, match="log it out"):
        r.agent_remove(2.0, "a1")
    assert pickle.dumps(r) == before


def test_a_dedicated_agent_unknown_agent_and_bad_time_are_refused():
    raw = {"agents": [{"id": "a1"}], "queues": [{"name": "vip", "strategy": "preferred-agent",
                                                 "dedicated_agent": "a1", "members": ["a1"]}]}
    r = engine().from_config(raw)
    r.advance(5.0)
    before = pickle.dumps(r)
    with pytest.raises(StateError, match="dedicated agent of queue 'vip'"):
        r.agent_remove(6.0, "a1")
    with pytest.raises(UnknownIdError):
        r.agent_remove(6.0, "nobody")
    with pytest.raises(TimeError):
        r.agent_remove(4.0, "a1")
    assert pickle.dumps(r) == before


def test_calls_waiting_for_a_removed_agent_go_to_their_queue_at_once():
    r = _router()
    r.agent_login(0.0, "a3", ready=True)
    r.agent_login(0.0, "a2", ready=False)
    r.call_arrive(1.0, "c1", "support", preferred_agent="a2", preferred_fallback_s=60.0)  # waits for a2
    r.agent_logout(2.0, "a2")
    ev = r.agent_remove(3.0, "a2")
    kinds = [e.kind for e in ev]
    assert kinds.index(EventKind.AGENT_REMOVED) < kinds.index(EventKind.CALL_OFFERED)
    assert offered(ev) == ["a3"]


def test_the_id_of_a_removed_agent_can_be_added_again_as_a_new_agent():
    r = _router()
    r.agent_login(0.0, "a2", ready=True)
    r.call_arrive(1.0, "c1", "sales")
    r.offer_accept(1.0, "c1", "a2")
    r.call_release(2.0, "c1")
    r.advance(9.0)
    r.agent_logout(9.0, "a2")
    r.agent_remove(10.0, "a2")
    r.agent_add(11.0, {"id": "a2"})  # a new agent: default settings, no queue, logged out
    r.member_add(11.0, "a2", "sales")
    r.agent_login(12.0, "a2", ready=True)
    assert offered(r.call_arrive(13.0, "c2", "sales")) == ["a2"]
    assert [v.agent for v in r.all_agents()] == ["a1", "a3", "a2"]


def test_a_reload_after_a_removal_takes_the_configuration_without_the_agent():
    r = _router()
    r.agent_remove(1.0, "a2")
    raw = {"agents": [{"id": "a1"}, {"id": "a3", "wrap_up_s": 3.0}, {"id": "a4"}],
           "queues": [{"name": "sales", "members": ["a1", "a4"]},
                      {"name": "support", "members": ["a3"], "strategy": "preferred-agent"}]}
    ev = r.reload(2.0, parse_config(raw))
    assert [(e.kind, e.agent_id) for e in ev] == [(EventKind.AGENT_ADDED, "a4"), (EventKind.MEMBER_ADDED, "a4")]
    r.agent_login(3.0, "a4", ready=True)
    assert offered(r.call_arrive(4.0, "c1", "sales")) == ["a4"]
    with pytest.raises(StateError, match="agent 'a4' is logged in"):
        r.reload(5.0, parse_config(RAW))  # a2 again, a4 gone: a logged-in agent cannot be removed
    r.agent_logout(5.0, "a4")
    ev = r.reload(6.0, parse_config(RAW))  # a2 comes back (a new row, listed where the file lists it), a4 goes
    assert (EventKind.AGENT_ADDED, "a2") in [(e.kind, e.agent_id) for e in ev]
    pairs = [(e.kind, e.agent_id) for e in ev]
    assert (EventKind.MEMBER_REMOVED, "a4") in pairs and pairs[-1] == (EventKind.AGENT_REMOVED, "a4")
    assert "a4" not in [v.agent for v in r.all_agents()]
