"""Statistics derived from the event stream, and bad input (docs/routing.md §11, §13)."""

from __future__ import annotations

import copy
import math

import pytest
from router_helpers import engine, offers

from busyhour.router import ConfigError, Router, StateError, TimeError, UnknownIdError
from busyhour.router.stats import StatsCollector

pytestmark = pytest.mark.usefixtures("each_engine")

STATS_CFG = {"agents": [{"id": "a1"}], "interval_s": 900.0, "short_abandon_s": 5.0,
             "queues": [{"name": "q", "members": ["a1"], "sl_threshold_s": 20.0, "wrap_up_s": 10.0,
                         "max_length": 4}]}


def stats_scenario() -> tuple[Router, list]:
    r = engine().from_config(STATS_CFG)
    ev = []
    ev += r.agent_login(0.0, "a1", ready=True)
    ev += r.call_arrive(0.0, "c1", "q")
    ev += r.call_arrive(1.0, "c2", "q")
    ev += r.call_arrive(2.0, "c3", "q")
    ev += r.call_arrive(3.0, "c4", "q")
    ev += r.call_arrive(3.5, "c5", "q")  # c1 ringing + 3 waiting = 4 in queue: rejected:queue-full
    ev += r.call_abandon(4.0, "c3")  # 2 s in system: short abandon
    ev += r.offer_accept(10.0, "c1", "a1")  # wait 10 <= 20
    ev += r.call_abandon(50.0, "c4")  # 47 s
    ev += r.call_release(100.0, "c1")  # talk 90, wrap-up 100..110, then c2 offered at 110
    ev += r.offer_accept(110.0, "c2", "a1")  # wait 109 > 20
    ev += r.call_release(150.0, "c2")  # talk 40, wrap-up 150..160
    ev += r.advance(900.0)
    return r, ev


def test_router_stats_interval_counts_and_kpis():
    r, _ = stats_scenario()
    s = r.stats()
    (iv,) = s.intervals
    assert (iv.queue, iv.start_s, iv.offered, iv.answered, iv.answered_within, iv.abandoned,
            iv.short_abandoned, iv.exited, iv.handled) == ("q", 0.0, 5, 2, 1, 2, 1, 1, 2)
    assert iv.service_level == 1 / (5 - 1)
    assert iv.asa_s == (10.0 + 109.0) / 2
    assert (iv.talk_s, iv.acw_s) == (130.0, 20.0)
    assert iv.aht_s == (130.0 + 20.0) / 2
    (agent_iv,) = s.agent_intervals
    assert agent_iv.occupancy == pytest.approx((10 + 90 + 10 + 40 + 10) / 900.0)
    (tot,) = s.agents
    assert (tot.handled, tot.talk_s, tot.acw_s, tot.idle_s) == (2, 130.0, 20.0, 740.0)
    assert (s.queues[0].waiting, s.queues[0].agents_by_state) == (0, {"AVAILABLE": 1})


def test_router_stats_replaying_the_events_reproduces_the_intervals():
    r, ev = stats_scenario()
    fresh = StatsCollector(r.config)
    for e in ev:
        fresh.apply(e)
    replayed = [fresh.buckets[k] for k in sorted(fresh.buckets, key=lambda k: (k[1], k[0]))]
    assert replayed == r.stats().intervals
    assert [e.seq for e in ev] == list(range(1, len(ev) + 1))


def test_router_stats_every_call_ends_exactly_once():
    _, ev = stats_scenario()
    ended = [e.call_id for e in ev if e.kind.name == "CALL_ENDED"]
    assert sorted(ended) == ["c1", "c2", "c3", "c4", "c5"]
    assert {e.detail for e in ev if e.kind.name == "CALL_ENDED"} == {
        "completed", "abandoned", "rejected:queue-full"}


# ----------------------------------------------------------------- bad input


def ready_router() -> Router:
    r = engine().from_config({"agents": [{"id": "a1", "skills": {"en": 3}}], "queues": [{"name": "q", "members": ["a1"]}]})
    r.agent_login(0.0, "a1", ready=True)
    return r


@pytest.mark.parametrize("op, exc, match", [
    (lambda r: r.offer_accept(1.0, "nope", "a1"), UnknownIdError, r"unknown call 'nope'"),
    (lambda r: r.agent_ready(1.0, "zz"), UnknownIdError, r"unknown agent 'zz'"),
    (lambda r: r.call_arrive(1.0, "c9", "nowhere"), UnknownIdError, r"unknown queue 'nowhere'"),
    (lambda r: r.call_arrive(1.0, "c9", "q", skills={"klingon": 1}), UnknownIdError, r"unknown skill 'klingon'"),
    (lambda r: r.call_arrive(1.0, "c9", "q", channel="fax"), UnknownIdError, r"unknown channel 'fax'"),
    (lambda r: r.call_arrive(1.0, "c9", "q", skills={"en": 9}), StateError, r"minimum level must be an integer 1-5"),
    (lambda r: r.advance(math.nan), TimeError, r"finite number"),
    (lambda r: r.agent_login(1.0, "a1"), StateError, r"agent 'a1' is already logged in"),
    (lambda r: r.agent_not_ready(1.0, "a1", "a:b"), StateError, r"without ':'"),
], ids=["call", "agent", "queue", "skill", "channel", "level", "nan", "login-twice", "reason"])
def test_router_bad_input_names_the_problem_and_changes_nothing(op, exc, match):
    r = ready_router()
    with pytest.raises(exc, match=match):
        op(r)
    assert offers(r.call_arrive(2.0, "c1", "q")) == [(2.0, "c1", "a1")]  # still works normally


def test_router_time_going_backwards_is_refused():
    r = ready_router()
    r.advance(10.0)
    with pytest.raises(TimeError, match=r"time went backwards: now=5.0 is before the last time 10.0"):
        r.call_arrive(5.0, "c1", "q")
    assert r.now == 10.0
    assert offers(r.call_arrive(10.0, "c1", "q")) == [(10.0, "c1", "a1")]


def test_router_illegal_transitions_are_refused():
    r = ready_router()
    r.agent_not_ready(0.0, "a1")
    r.call_arrive(1.0, "c1", "q")
    with pytest.raises(StateError, match=r"call 'c1' cannot be released: it is WAITING, not CONNECTED"):
        r.call_release(2.0, "c1")
    with pytest.raises(StateError, match=r"call 'c1' is already in the system"):
        r.call_arrive(2.0, "c1", "q")
    r.agent_logout(2.0, "a1")
    with pytest.raises(StateError, match=r"agent 'a1' is logged out; log in first"):
        r.agent_ready(3.0, "a1")
    with pytest.raises(StateError, match=r"agent 'a1' is not logged in"):
        r.agent_logout(3.0, "a1")
    r.agent_login(4.0, "a1", ready=True)
    with pytest.raises(StateError, match=r"cannot become a callback: it is OFFERED"):
        r.request_callback(5.0, "c1", "555")
    with pytest.raises(StateError, match=r"transfer needs a target queue or agent"):
        r.transfer(5.0, "c1")
    assert [a for _, _, a in offers(r.offer_reject(5.0, "c1", "a1"))] == ["a1"]  # still a normal offer


BASE = {"agents": [{"id": "a1"}], "queues": [{"name": "q", "members": ["a1"]}, {"name": "q2"}]}


def mutated(path: tuple, value) -> dict:
    cfg = copy.deepcopy(BASE)
    node = cfg
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return cfg


@pytest.mark.parametrize("path, value, match", [
    (("queues", 0, "ring_timeout_s"), -3, r"queues\[0\]\.ring_timeout_s: must be >= 0.1, got -3"),
    (("queues", 0, "strategy"), "fifo", r"queues\[0\]\.strategy: unknown strategy 'fifo'"),
    (("queues", 0, "members"), ["ghost"], r"queues\[0\]\.members\[0\]: unknown agent 'ghost'"),
    (("queues", 0, "colour"), "red", r"queues\[0\]\.colour: unknown key"),
    (("queues", 0, "overflow"), "q", r"queues\[0\]\.overflow: a queue cannot overflow to itself"),
    (("queues", 0, "skills"), {"en": 7}, r"queues\[0\]\.skills\.en: level must be an integer 1-5"),
    (("queues", 0, "escalation"), [{"after_s": 20}, {"after_s": 10}],
     r"queues\[0\]\.escalation\[1\]\.after_s: steps must have increasing after_s"),
    (("queues", 1, "name"), "q", r"queues\[1\]\.name: duplicate queue name 'q'"),
    (("agents",), [{"id": "a1"}, {"id": "a1"}], r"agents\[1\]\.id: duplicate agent id 'a1'"),
    (("agents", 0, "capacity"), {"fax": 1}, r"agents\[0\]\.capacity\.fax: unknown channel"),
    (("queues", 0, "dedicated_agent"), "a1", r"queues\[0\]\.dedicated_agent: only with strategy 'preferred-agent'"),
    (("interval_s",), 0, r"config\.interval_s: must be >= 1, got 0"),
    (("interval_s",), 0.5, r"config\.interval_s: must be >= 1, got 0\.5"),
    (("intervals_kept",), 0, r"config\.intervals_kept: must be in \[1, 100000\], got 0"),
    (("intervals_kept",), 100_001, r"config\.intervals_kept: must be in \[1, 100000\]"),
    (("intervals_kept",), 2.0, r"config\.intervals_kept: must be an integer"),
    (("queues", 0, "members"), [["a1"]], r"queues\[0\]\.members\[0\]: unknown agent \['a1'\]"),  # not hashable
    (("queues", 0, "groups"), [{}], r"queues\[0\]\.groups: must be a list of group names"),
    (("queues", 0, "escalation"), [{"after_s": 1, "add_groups": [[1]]}],
     r"queues\[0\]\.escalation\[0\]\.add_groups: must be a list of group names"),
])
def test_router_malformed_config_names_the_key(path, value, match):
    with pytest.raises(ConfigError, match=match):
        engine().from_config(mutated(path, value))
