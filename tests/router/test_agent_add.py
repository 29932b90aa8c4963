"""Adding an agent at run time (``agent_add``; FreeSWITCH's ``callcenter_config agent add``), on both
engines: docs/routing.md §16."""

from __future__ import annotations

import pickle

import pytest
from router_helpers import engine, offered

from busyhour.router import ConfigError, EventKind, TimeError

pytestmark = pytest.mark.usefixtures("each_engine")

CFG = {"skills": ["es"], "channels": ["voice", "chat"], "agents": [{"id": "a1"}],
       "queues": [{"name": "sales", "members": ["a1"], "skills": {"es": 2}, "wrap_up_s": 1.0}]}


def _router():
    return engine().from_config(CFG)


def test_an_added_agent_starts_logged_out_in_no_queue_then_joins_and_answers():
    r = _router()
    r.call_arrive(1.0, "c1", "sales")
    ev = r.agent_add(2.0, {"id": "n1", "skills": {"es": 3}, "wrap_up_s": 4.0})
    assert [(e.kind, e.agent_id) for e in ev] == [(EventKind.AGENT_ADDED, "n1")]
    assert r.agent_state("n1") == "LOGGED_OUT" and r.paused_in("n1") == {}
    assert r.all_agents()[-1].agent == "n1"
    r.member_add(3.0, "n1", "sales")
    assert offered(r.agent_login(4.0, "n1", ready=True)) == ["n1"]
    r.offer_accept(5.0, "c1", "n1")
    r.call_release(6.0, "c1")
    assert r.next_deadline() == 10.0  # its own wrap-up, not the queue's 1 s
    assert {t.agent: t.handled for t in r.stats().agents} == {"a1": 0, "n1": 1}


def test_an_added_agent_without_the_skill_is_not_offered_the_call():
    r = _router()
    r.call_arrive(1.0, "c1", "sales")
    r.agent_add(2.0, {"id": "n1", "skills": {"es": 1}})
    r.member_add(3.0, "n1", "sales")
    assert offered(r.agent_login(4.0, "n1", ready=True)) == []


def test_capacity_takes_several_chats():
    r = _router()
    r.agent_add(1.0, {"id": "n1", "skills": {"es": 5}, "capacity": {"voice": 0, "chat": 2}})
    r.member_add(1.0, "n1", "sales")
    r.agent_login(1.0, "n1", ready=True)
    assert offered(r.call_arrive(2.0, "c1", "sales", channel="chat")) == ["n1"]
    assert offered(r.call_arrive(2.0, "c2", "sales", channel="chat")) == ["n1"]
    assert offered(r.call_arrive(2.0, "v1", "sales")) == []


@pytest.mark.parametrize("agent, match", [
    ({"id": "a1"}, "duplicate agent id"),
    ({"id": "x", "skills": {"fr": 2}}, "unknown skill"),
    ({"id": "x", "groups": ["g"]}, "member_add"),
    ({"id": "x", "capacity": {"fax": 1}}, "unknown channel"),
    ({"id": "x", "wrap_up_s": -1}, "wrap_up_s"),
    ({"id": True}, "string or integer"),
    ({"skills": {}}, "id: missing"),
    ({"id": "x", "colour": "red"}, "colour"),
    ("a2", "dict"),
])
def test_a_refused_agent_changes_nothing(agent, match):
    r = _router()
    r.call_arrive(1.0, "c1", "sales")
    before = pickle.dumps(r)
    with pytest.raises(ConfigError, match=match):
        r.agent_add(5.0, agent)
    assert pickle.dumps(r) == before


def test_time_is_checked_first():
    r = _router()
    r.advance(3.0)
    with pytest.raises(TimeError):
        r.agent_add(2.0, {"id": "n1"})
    assert "n1" not in [a.agent for a in r.all_agents()]


def test_the_added_agent_outlives_a_pickle():
    r = _router()
    r.agent_add(1.0, {"id": 7})
    r2 = pickle.loads(pickle.dumps(r))
    r2.member_add(2.0, 7, "sales")
    assert r2.agent_login(3.0, 7, ready=True)[0].agent_id == 7


def test_an_id_is_taken_from_its_add_until_its_removal():
    """The engine answers "is this id in use?" from its own id index (not a set of every agent's id built at
    each add): an added id is taken at once, a removed one is free again, the configuration's ids unchanged."""
    r = _router()
    r.agent_add(1.0, {"id": "n1"})
    with pytest.raises(ConfigError, match="duplicate agent id 'n1'"):
        r.agent_add(2.0, {"id": "n1"})
    r.agent_remove(3.0, "n1")
    r.agent_add(4.0, {"id": "n1"})
    r.agent_add(5.0, {"id": 7})
    with pytest.raises(ConfigError, match="duplicate agent id 7"):
        r.agent_add(6.0, {"id": 7})
    assert [a.id for a in r.config.agents] == ["a1", "n1", 7]
