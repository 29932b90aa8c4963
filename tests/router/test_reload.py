"""``reload(now, config)``: a running engine takes a new configuration's queue members and settings, keeping
every call and agent state, on both engines (docs/routing.md §16)."""

from __future__ import annotations

import copy
import pickle

import pytest
from router_helpers import engine, offered

from busyhour.router import ConfigError, EventKind, TimeError, parse_config

pytestmark = pytest.mark.usefixtures("each_engine")

RAW = {"agents": [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}],
       "queues": [{"name": "sales", "members": ["a1"], "max_wait_no_agents_s": 0.0},
                  {"name": "support", "members": [{"agent": "a2", "penalty": 4}], "max_penalty": 1}]}


def _router(*ready):
    r = engine()(parse_config(RAW))
    for a in ready:
        r.agent_login(0.0, a, ready=True)
    return r


def _edited(**queues):
    raw = copy.deepcopy(RAW)
    for q in raw["queues"]:
        q.update(queues.get(q["name"], {}))
    return parse_config(raw)


def test_a_reload_adds_a_member_who_takes_the_waiting_call():
    r = _router("a3")
    r.agent_login(0.0, "a1")  # logged in, not ready
    r.call_arrive(1.0, "c1", "sales")
    ev = r.reload(2.0, _edited(sales={"members": ["a1", {"agent": "a3", "penalty": 2}]}))
    assert [(e.kind, e.agent_id, e.value) for e in ev[:1]] == [(EventKind.MEMBER_ADDED, "a3", 2.0)]
    assert offered(ev) == ["a3"]
    assert [m.agent for m in r.config.queues[0].members] == ["a1", "a3"]


def test_a_reload_lifting_max_penalty_offers_the_member_it_now_allows():
    r = _router("a2")
    r.call_arrive(1.0, "c1", "support")
    raw_support = {k: v for k, v in RAW["queues"][1].items() if k != "max_penalty"}
    raw = copy.deepcopy(RAW)
    raw["queues"][1] = raw_support
    ev = r.reload(2.0, parse_config(raw))
    assert [e.kind for e in ev][:2] == [EventKind.QUEUE_UPDATED, EventKind.CALL_OFFERED] and offered(ev) == ["a2"]


def test_a_reload_changes_a_queue_strategy_while_its_call_rings():
    r = _router("a1", "a3")
    assert offered(r.call_arrive(1.0, "c1", "sales")) == ["a1"]
    ev = r.reload(2.0, _edited(sales={"members": ["a1", "a3"], "strategy": "ringall"}))
    assert [e.kind for e in ev] == [EventKind.QUEUE_UPDATED, EventKind.MEMBER_ADDED]  # c1 rings a1 on, alone
    assert r.config.queues[0].strategy == "ring-all"
    r.call_abandon(3.0, "c1")
    assert offered(r.call_arrive(4.0, "c2", "sales")) == ["a1", "a3"]  # ring-all from now on


def test_a_reload_removing_the_last_member_ends_the_waiting_calls_with_a_zero_no_agents_limit():
    r = _router()
    r.agent_login(0.0, "a1")
    r.call_arrive(1.0, "c1", "sales")
    ev = r.reload(2.0, _edited(sales={"members": []}))
    assert [(e.kind, e.detail) for e in ev] == [(EventKind.MEMBER_REMOVED, ""),
                                                 (EventKind.CALL_ENDED, "exited:no-agents")]


def test_a_reload_adds_agents_listed_after_the_others_and_their_memberships():
    r = _router()
    r.call_arrive(1.0, "c1", "support")
    raw = copy.deepcopy(RAW)
    raw["agents"].append({"id": "n1", "wrap_up_s": 2.0})
    raw["queues"][1]["members"].append({"agent": "n1", "penalty": 0})
    ev = r.reload(2.0, parse_config(raw))
    assert [(e.kind, e.agent_id) for e in ev] == [(EventKind.AGENT_ADDED, "n1"), (EventKind.MEMBER_ADDED, "n1")]
    assert offered(r.agent_login(3.0, "n1", ready=True)) == ["n1"]
    assert r.reload(4.0, parse_config(raw)) == []  # now equal


def test_the_same_configuration_changes_nothing():
    r = _router("a1")
    r.call_arrive(1.0, "c1", "sales")
    before = pickle.dumps(r)
    assert r.reload(1.0, parse_config(RAW)) == []
    assert pickle.dumps(r) == before


@pytest.mark.parametrize("change, words", [
    (lambda raw: raw["agents"][0].update(wrap_up_s=3.0), "agents['a1'] (its skills, capacity or own settings)"),
    (lambda raw: raw["queues"][0].update(expected_aht_s=60.0), "queues['sales'].expected_aht_s"),
    (lambda raw: raw["queues"][1].update(escalation=[{"after_s": 5.0}]), "queues['support'].escalation"),
    (lambda raw: raw.update(interval_s=60.0), "interval_s"),
    (lambda raw: raw.update(intervals_kept=4), "intervals_kept"),
])
def test_what_needs_a_restart_is_refused_by_name_and_changes_nothing(change, words):
    r = _router("a1")
    r.agent_not_ready(1.0, "a1")
    r.call_arrive(1.0, "c1", "support")
    raw = copy.deepcopy(RAW)
    raw["queues"][0]["members"] = ["a1", "a2"]  # a change it could make, refused with the rest
    change(raw)
    before = pickle.dumps(r)
    with pytest.raises(ConfigError, match="need a restart") as err:
        r.reload(5.0, parse_config(raw))
    assert words in str(err.value)
    assert pickle.dumps(r) == before


def test_bad_arguments_are_refused():
    r = _router()
    r.advance(3.0)
    with pytest.raises(ConfigError, match="RouterConfig"):
        r.reload(4.0, RAW)
    with pytest.raises(TimeError):
        r.reload(2.0, parse_config(RAW))
    assert r.now == 3.0


def test_round_robin_goes_on_from_the_member_last_offered_when_a_reload_renumbers_positions():
    raw = {"agents": [{"id": "x"}, {"id": "a1"}, {"id": "a2"}, {"id": "a3"}],
           "queues": [{"name": "q", "strategy": "rrmemory", "members": ["x", "a1", "a2", "a3"]}]}
    r = engine()(parse_config(raw))
    for a in ("a1", "a2", "a3"):
        r.agent_login(0.0, a, ready=True)
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a1"]
    r.offer_accept(1.0, "c1", "a1")
    raw["queues"][0]["members"] = ["a1", "a2", "a3"]  # x leaves: the others' positions go 1, 2, 3 -> 0, 1, 2
    r.reload(2.0, parse_config(raw))
    assert offered(r.call_arrive(3.0, "c2", "q")) == ["a2"]  # the one after a1, not after position 1 (a3)
