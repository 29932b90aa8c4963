"""Queue settings changed at run time (``queue_update``), on both engines: docs/routing.md §16."""

from __future__ import annotations

import math
import pickle

import pytest
from router_helpers import engine, offered

from busyhour.router import ConfigError, EventKind, TimeError, UnknownIdError

pytestmark = pytest.mark.usefixtures("each_engine")

CFG = {"agents": [{"id": "a1"}, {"id": "a2"}],
       "queues": [{"name": "sales", "members": ["a1"], "ring_timeout_s": 10.0},
                  {"name": "support", "members": [{"agent": "a2", "penalty": 5}], "max_penalty": 1}]}


def _router(*ready):
    r = engine().from_config(CFG)
    for a in ready:
        r.agent_login(0.0, a, ready=True)
    return r


def test_lifting_max_penalty_offers_the_waiting_call_to_the_member_it_now_allows():
    r = _router("a2")
    assert offered(r.call_arrive(1.0, "c1", "support")) == []  # a2's penalty 5 is above max 1
    ev = r.queue_update(2.0, "support", max_penalty=None)
    assert [(e.kind, e.queue) for e in ev[:1]] == [(EventKind.QUEUE_UPDATED, "support")]
    assert offered(ev) == ["a2"]


def test_a_new_ring_timeout_applies_to_the_next_offer_not_to_the_ringing_one():
    r = _router("a1")
    r.call_arrive(1.0, "c1", "sales")  # rings until 11
    r.queue_update(2.0, "sales", ring_timeout_s=3.0)
    assert r.next_deadline() == 11.0
    ev = r.advance(11.0)  # expires, rings a1 again with the new timeout
    assert offered(ev) == ["a1"] and r.next_deadline() == 14.0


def test_wrap_up_and_overflow_and_max_length_apply_from_now_on():
    r = _router("a1")
    r.call_arrive(1.0, "c1", "sales")
    r.offer_accept(2.0, "c1", "a1")
    r.queue_update(3.0, "sales", wrap_up_s=7.0, max_length=1, overflow="support")
    r.call_release(4.0, "c1")
    assert r.agent_state("a1") == "WRAP_UP" and r.next_deadline() == 11.0
    r.call_arrive(5.0, "c2", "sales")  # waits: a1 in wrap-up
    ev = r.call_arrive(6.0, "c3", "sales")  # the queue is full: overflows to support
    assert [(e.kind, e.detail) for e in ev if e.kind == EventKind.CALL_OVERFLOWED] == [
        (EventKind.CALL_OVERFLOWED, "support")]
    r.queue_update(7.0, "sales", overflow=None)
    ev = r.call_arrive(8.0, "c4", "sales")
    assert [e.detail for e in ev if e.kind == EventKind.CALL_ENDED] == ["rejected:queue-full"]


def test_the_service_level_threshold_counts_from_the_change():
    r = _router("a1")
    r.queue_update(0.5, "sales", sl_threshold_s=2.0)
    r.agent_not_ready(0.5, "a1")
    r.call_arrive(1.0, "c1", "sales")
    r.agent_ready(5.0, "a1")
    r.offer_accept(5.0, "c1", "a1")  # waited 4 s: outside 2 s
    iv = [i for i in r.stats().intervals if i.queue == "sales"][0]
    assert (iv.answered, iv.answered_within) == (1, 0)


@pytest.mark.parametrize("settings, match, error", [
    ({}, "nothing to change", ConfigError),
    ({"ring_timeout_s": 0.0}, "ring_timeout_s", ConfigError),
    ({"wrap_up_s": math.inf}, "wrap_up_s", ConfigError),
    ({"max_penalty": -1}, "max_penalty", ConfigError),
    ({"max_length": 2.5}, "max_length", ConfigError),
    ({"overflow": "sales"}, "itself", ConfigError),
    ({"overflow": "nope"}, "unknown queue", ConfigError),
    ({"strategy": "psychic"}, "unknown strategy", ConfigError),
    ({"skills": {"s1": 2}}, "not a queue setting", ConfigError),
    ({"weight": math.nan}, "weight", ConfigError),
])
def test_a_refused_update_changes_nothing(settings, match, error):
    r = _router("a1")
    r.agent_not_ready(1.0, "a1")
    r.call_arrive(1.0, "c1", "sales")
    before = pickle.dumps(r)
    with pytest.raises(error, match=match):
        r.queue_update(9.0, "sales", **settings)
    assert pickle.dumps(r) == before


def test_unknown_queue_and_time_are_refused():
    r = _router()
    r.advance(5.0)
    with pytest.raises(UnknownIdError):
        r.queue_update(6.0, "nope", weight=2.0)
    with pytest.raises(TimeError):
        r.queue_update(4.0, "sales", weight=2.0)
    assert r.now == 5.0


def test_the_heavier_queue_is_served_first_after_a_weight_change():
    cfg = {"agents": [{"id": "a1"}], "queues": [{"name": "x", "members": ["a1"]}, {"name": "y", "members": ["a1"]}]}
    r = engine().from_config(cfg)
    r.agent_login(0.0, "a1")
    r.call_arrive(1.0, "cx", "x")
    r.call_arrive(2.0, "cy", "y")
    r.queue_update(3.0, "y", weight=5.0)
    assert offered(r.agent_ready(4.0, "a1")) == ["a1"]
    assert r.call_state("cy").name == "OFFERED" and r.call_state("cx").name == "WAITING"


# ------------------------------------------------------------------ the strategy

def _ring_queue(strategy):
    r = engine().from_config({"agents": [{"id": a} for a in ("a1", "a2", "a3")],
                              "queues": [{"name": "q", "strategy": strategy, "members": ["a1", "a2", "a3"]}]})
    for a in ("a1", "a2", "a3"):
        r.agent_login(0.0, a, ready=True)
    return r


def test_a_new_strategy_decides_the_next_offer_and_a_ringing_call_rings_on():
    r = _ring_queue("longest-idle-agent")
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a1"]
    ev = r.queue_update(2.0, "q", strategy="ringall")  # Asterisk's name, taken as ring-all
    assert [(e.kind, e.queue) for e in ev] == [(EventKind.QUEUE_UPDATED, "q")]
    assert r.call_view("c1").state == "OFFERED"  # c1 still rings a1 alone
    assert offered(r.call_arrive(3.0, "c2", "q")) == ["a2", "a3"]  # rings every free member now
    ev = r.queue_update(4.0, "q", strategy="longest-idle-agent")
    r.call_abandon(5.0, "c2")
    assert offered(r.call_arrive(6.0, "c3", "q")) == ["a2"]  # one agent again


def test_a_strategy_change_keeps_the_calls_counted_for_leastrecent():
    r = _ring_queue("longest-idle-agent")
    for t, c in ((1.0, "c1"), (2.0, "c2")):
        a = offered(r.call_arrive(t, c, "q"))[0]
        r.offer_accept(t, c, a)
        r.call_release(t + 0.5, c)      # a1 ends at 1.5, a2 at 2.5 (counted whatever the strategy)
    r.queue_update(3.0, "q", strategy="leastrecent")
    assert offered(r.call_arrive(4.0, "c3", "q")) == ["a3"]  # no call yet, then a1 (1.5), then a2


def test_a_dedicated_line_keeps_preferred_agent():
    r = engine().from_config({"agents": [{"id": "a1"}],
                              "queues": [{"name": "vip", "strategy": "preferred-agent", "dedicated_agent": "a1",
                                          "members": ["a1"]}]})
    before = pickle.dumps(r)
    with pytest.raises(ConfigError, match="dedicated agent"):
        r.queue_update(1.0, "vip", strategy="ring-all")
    assert pickle.dumps(r) == before
    r.queue_update(1.0, "vip", strategy="preferred-agent", wrap_up_s=3.0)
