"""Strategy rules, part 2: agent-with-fewest-calls, agent-with-least-talk-time,
random, weighted-random, most-skilled-first and preferred-agent / dedicated
line (docs/routing.md §2).

Frequency tests use a binomial tolerance of 5 standard deviations, so a
correct engine fails them with probability < 1e-6 for any seed; they are
also deterministic for the fixed seed used.
"""

from __future__ import annotations

import pytest

import math

from router_helpers import engine, offered, offers, router, serve


pytestmark = pytest.mark.usefixtures("each_engine")

# ------------------------------------------------- agent-with-fewest-calls


def test_router_fewest_calls_picks_the_agent_with_fewest_answered_calls():
    r = router("agent-with-fewest-calls")
    # sequence derived from the rule: (answered, idle since, config order)
    # c1: all 0, all idle since 0 -> a1; c2: a2 (0, since 0); c3: a3; c4: tie at 1 -> a1 idle since 11
    assert [serve(r, 10.0 * k, f"c{k}") for k in range(1, 5)] == ["a1", "a2", "a3", "a1"]


def test_router_fewest_calls_ties_go_to_the_longest_idle_agent():
    r = router("agent-with-fewest-calls", ready_at={"a1": 3.0, "a2": 1.0, "a3": 2.0})
    assert serve(r, 10.0, "c1") == "a2"
    assert serve(r, 20.0, "c2") == "a3"  # a1 and a3 at 0 answered; a3 idle since 2, a1 since 3


def test_router_fewest_calls_counts_answered_not_offered_calls():
    r = router("agent-with-fewest-calls", agents=("a1", "a2"), ready_at={"a1": 0.0, "a2": 1.0})
    assert offered(r.call_arrive(5.0, "c1", "q")) == ["a1"]
    ev = r.offer_reject(6.0, "c1", "a1")  # a1 declines: still 0 answered
    assert offered(ev) == ["a2"]
    r.offer_accept(6.0, "c1", "a2")
    r.call_release(8.0, "c1")
    assert offered(r.call_arrive(9.0, "c2", "q")) == ["a1"]  # a1: 0 answered, a2: 1


# ---------------------------------------------- agent-with-least-talk-time


def test_router_least_talk_picks_the_smallest_cumulative_talk_time():
    r = router("agent-with-least-talk-time")
    assert serve(r, 0.0, "c1", talk_s=100.0) == "a1"
    assert serve(r, 200.0, "c2", talk_s=30.0) == "a2"
    assert serve(r, 300.0, "c3", talk_s=50.0) == "a3"
    # talk: a1 100, a2 30, a3 50 -> a2, then a2 has 30 + 10 = 40 -> still a2, then 40+20=60 -> a3
    assert serve(r, 400.0, "c4", talk_s=10.0) == "a2"
    assert serve(r, 500.0, "c5", talk_s=20.0) == "a2"
    assert serve(r, 600.0, "c6", talk_s=20.0) == "a3"


def test_router_least_talk_ties_go_to_the_longest_idle_agent():
    r = router("agent-with-least-talk-time", ready_at={"a1": 2.0, "a2": 1.0, "a3": 1.0})
    assert offered(r.call_arrive(5.0, "c1", "q")) == ["a2"]  # all at 0 s; a2, a3 idle since 1: config order


def test_router_least_talk_counts_talk_only_not_wrap_up_or_ringing():
    r = router("agent-with-least-talk-time", agents=("a1", "a2"), ring_timeout_s=100.0)
    r.call_arrive(0.0, "c1", "q")
    r.offer_accept(50.0, "c1", "a1")  # rang 50 s: not talk
    r.call_release(60.0, "c1", wrap_up_s=500.0)  # 10 s of talk, 500 s of wrap-up
    r.call_arrive(600.0, "c2", "q")
    r.offer_accept(600.0, "c2", "a2")
    r.call_release(620.0, "c2")  # 20 s of talk
    assert offered(r.call_arrive(700.0, "c3", "q")) == ["a1"]


# ------------------------------------------------------------------ random


def _picks(strategy: str, seed: int, n: int, members=None) -> list:
    r = router(strategy, seed=seed, members=members)
    return [serve(r, float(k), f"c{k}", talk_s=0.5) for k in range(n)]


def test_router_random_is_deterministic_for_a_seed():
    assert _picks("random", 7, 40) == _picks("random", 7, 40)
    assert _picks("random", 7, 40) != _picks("random", 8, 40)  # (3^-40 chance of a false failure)


def test_router_random_frequencies_are_uniform_within_binomial_tolerance():
    n = 3000
    picks = _picks("random", 12345, n)
    sd = math.sqrt(n * (1 / 3) * (2 / 3))
    for a in ("a1", "a2", "a3"):
        assert abs(picks.count(a) - n / 3) < 5 * sd, (a, picks.count(a))


def test_router_random_only_draws_from_the_lowest_tier():
    picks = _picks("random", 3, 300, members=["a1", {"agent": "a2", "tier": 2}, "a3"])
    assert set(picks) == {"a1", "a3"}


# --------------------------------------------------------- weighted-random

WEIGHTED = [{"agent": "a1", "weight": 1.0}, {"agent": "a2", "weight": 2.0}, {"agent": "a3", "weight": 5.0}]


def test_router_weighted_random_frequencies_match_the_weights():
    n = 4000
    picks = _picks("weighted-random", 99, n, members=WEIGHTED)
    for a, w in (("a1", 1 / 8), ("a2", 2 / 8), ("a3", 5 / 8)):
        sd = math.sqrt(n * w * (1 - w))
        assert abs(picks.count(a) - n * w) < 5 * sd, (a, picks.count(a))


def test_router_weighted_random_is_deterministic_for_a_seed():
    assert _picks("weighted-random", 5, 50, members=WEIGHTED) == _picks("weighted-random", 5, 50, members=WEIGHTED)
    assert _picks("weighted-random", 5, 50, members=WEIGHTED) != _picks("weighted-random", 6, 50, members=WEIGHTED)


def test_router_weighted_random_weights_apply_within_the_lowest_tier_only():
    members = [{"agent": "a1", "weight": 1.0}, {"agent": "a2", "weight": 1000.0, "tier": 2},
               {"agent": "a3", "weight": 1.0}]
    picks = _picks("weighted-random", 1, 400, members=members)
    assert "a2" not in picks
    sd = math.sqrt(400 * 0.25)
    assert abs(picks.count("a1") - 200) < 5 * sd


# ------------------------------------------------------ most-skilled-first

SKILLED = ({"id": "a1", "skills": {"en": 2, "es": 5}}, {"id": "a2", "skills": {"en": 5}},
           {"id": "a3", "skills": {"en": 3, "es": 3}})


def test_router_most_skilled_first_picks_the_highest_proficiency():
    r = router("most-skilled-first", agents=SKILLED, skills={"en": 1})
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a2"]  # en: a1 2, a2 5, a3 3


def test_router_most_skilled_first_sums_every_required_skill():
    r = router("most-skilled-first", agents=SKILLED, skills={"en": 1})
    # en + es: a1 2+5 = 7, a3 3+3 = 6; a2 lacks es (level 0 < 1) so is not a candidate
    assert offered(r.call_arrive(1.0, "c1", "q", skills={"es": 1})) == ["a1"]


def test_router_most_skilled_first_ties_go_to_the_longest_idle_agent():
    agents = ({"id": "a1", "skills": {"en": 4}}, {"id": "a2", "skills": {"en": 4}}, {"id": "a3", "skills": {"en": 2}})
    r = router("most-skilled-first", agents=agents, ready_at={"a1": 5.0, "a2": 3.0, "a3": 0.0}, skills={"en": 1})
    assert offered(r.call_arrive(10.0, "c1", "q")) == ["a2"]


def test_router_most_skilled_first_never_offers_below_the_minimum_level():
    r = router("most-skilled-first", agents=SKILLED)
    ev = r.call_arrive(1.0, "c1", "q", skills={"en": 4, "es": 1})  # only a2 has en >= 4, but no es
    assert offered(ev) == [] and r.position("c1").position == 1


# -------------------------------------------------- preferred-agent / dedicated


def test_router_preferred_agent_waits_for_the_named_agent_until_the_fallback():
    r = router("preferred-agent", ready_at={"a1": 0.0, "a3": 0.0})
    r.agent_login(0.0, "a2")  # not ready
    ev = r.call_arrive(10.0, "c1", "q", preferred_agent="a2", preferred_fallback_s=20.0)
    assert offered(ev) == []
    assert r.next_deadline() == 30.0
    assert offers(r.advance(29.9)) == []
    assert offers(r.advance(30.0)) == [(30.0, "c1", "a1")]  # then the others, longest idle first


def test_router_preferred_agent_gets_its_call_as_soon_as_it_is_ready_before_older_calls():
    r = router("preferred-agent", agents=("a1", "a2"), ready_at={})
    r.agent_login(0.0, "a1")
    r.agent_login(0.0, "a2")
    r.call_arrive(1.0, "c1", "q")  # an older, undirected call
    r.call_arrive(2.0, "c2", "q", preferred_agent="a2")  # default fallback 30 s
    assert offers(r.agent_ready(5.0, "a2")) == [(5.0, "c2", "a2")]  # directed calls first
    assert offers(r.agent_ready(6.0, "a1")) == [(6.0, "c1", "a1")]


def test_router_preferred_agent_available_at_arrival_beats_a_longer_idle_agent():
    r = router("preferred-agent", ready_at={"a1": 0.0, "a2": 5.0, "a3": 1.0})
    assert offered(r.call_arrive(10.0, "c1", "q", preferred_agent="a2")) == ["a2"]
    assert offered(r.call_arrive(11.0, "c2", "q")) == ["a1"]  # no preference: longest idle


def test_router_dedicated_line_routes_every_call_to_its_agent_with_per_call_fallback():
    cfg = {"agents": [{"id": "a1"}, {"id": "a2"}],
           "queues": [{"name": "q", "strategy": "preferred-agent", "members": ["a1", "a2"],
                       "dedicated_agent": "a2", "preferred_fallback_s": 60.0}]}
    r = engine().from_config(cfg)
    r.agent_login(0.0, "a1", ready=True)
    r.agent_login(0.0, "a2", ready=True)
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a2"]
    r.offer_accept(1.0, "c1", "a2")
    assert offered(r.call_arrive(2.0, "c2", "q")) == []  # waits for a2, although a1 is idle
    assert offered(r.call_arrive(3.0, "c3", "q", preferred_fallback_s=0.0)) == ["a1"]  # no wait at all
    r.offer_accept(3.0, "c3", "a1")
    r.call_release(4.0, "c3")
    assert offers(r.advance(61.9)) == []  # a1 idle since 4, c2 still reserved for a2
    assert offers(r.advance(62.0)) == [(62.0, "c2", "a1")]  # queue fallback: 2 + 60
