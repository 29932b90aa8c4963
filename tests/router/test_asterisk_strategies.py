"""Asterisk's strategy names (docs/routing.md §2): the aliases, and the three rules busyhour has only under
Asterisk's name — leastrecent, fewestcalls and wrandom — on both engines.

The wrandom frequency test uses a binomial tolerance of 5 standard deviations, so a correct engine fails
it with probability < 1e-6 for any seed.
"""

from __future__ import annotations

import math

import pytest

from busyhour.router import ConfigError, STRATEGIES, parse_config
from router_helpers import config, engine, offered, router, serve

pytestmark = pytest.mark.usefixtures("each_engine")


def two_queues(strategy: str, agents=("a1", "a2")):
    """Queue ``q`` with ``strategy`` and queue ``q2`` (longest idle), both staffed by every agent."""
    cfg = config(strategy, agents)
    cfg["queues"].append({"name": "q2", "members": list(agents)})
    r = engine().from_config(cfg)
    for a in agents:
        r.agent_login(0.0, a, ready=True)
    return r


# ------------------------------------------------------------------ names

@pytest.mark.parametrize("alias, name", [("ringall", "ring-all"), ("rrmemory", "round-robin"),
                                         ("roundrobin", "round-robin"), ("rrordered", "round-robin"),
                                         ("linear", "top-down"), ("random", "random")])
def test_asterisk_names_are_accepted_as_the_busyhour_rule_they_name(alias, name):
    assert parse_config(config(alias)).queues[0].strategy == name


def test_ringall_rings_every_free_member_as_ring_all_does():
    assert offered(router("ringall").call_arrive(1.0, "c1", "q")) == ["a1", "a2", "a3"]


def test_the_asterisk_only_rules_are_strategies_of_their_own():
    assert {"leastrecent", "fewestcalls", "wrandom"} <= set(STRATEGIES)


@pytest.mark.parametrize("bad", ["ring_all", "LeastRecent", 3, ["ringall"], None])
def test_an_unknown_or_non_text_strategy_is_refused_by_name(bad):
    with pytest.raises(ConfigError, match=r"queues\[0\]\.strategy.*unknown strategy"):
        parse_config(config(bad))


# ------------------------------------------------------------------ leastrecent

def test_leastrecent_offers_members_with_no_call_first_in_listing_order():
    r = router("leastrecent")
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a1"]
    r.offer_accept(1.0, "c1", "a1")
    assert offered(r.call_arrive(2.0, "c2", "q")) == ["a2"]


def test_leastrecent_ranks_by_when_the_last_call_ended_not_when_the_agent_became_free():
    r = router("leastrecent", agents=("a1", "a2"))
    for c, a in (("c1", "a1"), ("c2", "a2")):
        assert offered(r.call_arrive(0.0, c, "q")) == [a]
        r.offer_accept(0.0, c, a)
    r.call_release(5.0, "c2", wrap_up_s=10.0)  # a2: call ended at 5, free at 15
    r.call_release(8.0, "c1", wrap_up_s=0.0)   # a1: call ended at 8, free at 8
    r.advance(20.0)
    assert offered(r.call_arrive(20.0, "c3", "q")) == ["a2"]  # longest-idle-agent would offer a1


def test_leastrecent_counts_the_calls_of_this_queue_only():
    r = two_queues("leastrecent")
    assert serve(r, 1.0, "c1") == "a1"               # q: a1's last call ends at 2
    assert serve(r, 10.0, "c2", queue="q2") == "a2"  # q2: a2's call ends at 11
    assert serve(r, 20.0, "c3") == "a2"              # in q, a2 has had no call: it goes first


def test_leastrecent_keeps_penalty_groups():
    r = router("leastrecent", members=[{"agent": "a1", "penalty": 0}, {"agent": "a2", "penalty": 1},
                                       {"agent": "a3", "penalty": 1}])
    assert serve(r, 1.0, "c1") == "a1"
    assert serve(r, 5.0, "c2") == "a1"  # a2 and a3 have had no call, but a higher penalty


def test_leastrecent_counts_a_transfer_as_the_end_of_the_call_in_its_queue():
    r = router("leastrecent", agents=("a1", "a2", "a3"))
    assert serve(r, 1.0, "c1") == "a1"          # a1: ended at 2
    assert offered(r.call_arrive(3.0, "c2", "q")) == ["a2"]
    r.offer_accept(3.0, "c2", "a2")
    assert offered(r.call_arrive(4.0, "c3", "q")) == ["a3"]
    r.offer_accept(4.0, "c3", "a3")
    r.call_release(4.5, "c3")                   # a3: ended at 4.5
    assert offered(r.transfer(5.0, "c2", queue="q")) == ["a1"]  # a2's leg ends at 5; a1 (2) before a3 (4.5)
    r.offer_accept(5.0, "c2", "a1")
    r.call_release(30.0, "c2")                  # a1: ended at 30
    r.advance(40.0)
    # a3 (4.5) before a2 (5, its transfer: without it a2 would have had no call and gone first) before a1 (30)
    assert serve(r, 40.0, "c4") == "a3"
    assert serve(r, 50.0, "c5") == "a2"


def test_leastrecent_a_member_added_again_starts_with_no_call():
    r = router("leastrecent", agents=("a1", "a2"))
    assert serve(r, 1.0, "c1") == "a1"
    assert serve(r, 5.0, "c2") == "a2"          # a2 ended at 6, a1 at 2
    r.member_remove(7.0, "a2", "q")
    r.member_add(7.0, "a2", "q")
    assert offered(r.call_arrive(8.0, "c3", "q")) == ["a2"]  # a new membership has no last call


def test_leastrecent_a_member_update_keeps_the_last_call():
    r = router("leastrecent", agents=("a1", "a2"))
    assert serve(r, 1.0, "c1") == "a1"
    assert serve(r, 5.0, "c2") == "a2"
    r.member_update(7.0, "a1", "q", position=9)
    assert offered(r.call_arrive(8.0, "c3", "q")) == ["a1"]  # a1's call (ended 2) is older than a2's (6)


# ------------------------------------------------------------------ fewestcalls

def test_fewestcalls_ignores_other_queues_where_agent_with_fewest_calls_does_not():
    for strategy, want in (("fewestcalls", "a1"), ("agent-with-fewest-calls", "a2")):
        r = two_queues(strategy)
        assert serve(r, 1.0, "c1", queue="q2") == "a1"
        assert serve(r, 2.0, "c2", queue="q2") == "a2"
        assert serve(r, 3.0, "c3", queue="q2") == "a1"   # answered: a1 2, a2 1, all in q2
        assert serve(r, 4.0, "c4") == want, strategy


def test_fewestcalls_counts_a_call_when_it_ends_not_when_it_is_answered():
    r = router("fewestcalls", agents=({"id": "a1", "capacity": {"voice": 2}}, "a2"))
    assert offered(r.call_arrive(1.0, "c1", "q")) == ["a1"]
    r.offer_accept(1.0, "c1", "a1")
    assert offered(r.call_arrive(2.0, "c2", "q")) == ["a1"]  # a1's first call is still going: 0 completed
    r.offer_accept(2.0, "c2", "a1")
    r.call_release(3.0, "c1")
    assert offered(r.call_arrive(4.0, "c3", "q")) == ["a2"]  # now a1 has completed one


# ------------------------------------------------------------------ wrandom

def _first_offers(strategy: str, members: list, n: int) -> dict:
    r = router(strategy, agents=[m["agent"] for m in members], members=members, seed=20261201)
    counts: dict = {}
    for k in range(n):
        who = offered(r.call_arrive(float(k), f"c{k}", "q"))
        assert len(who) == 1
        counts[who[0]] = counts.get(who[0], 0) + 1
        r.call_abandon(k + 0.5, f"c{k}")
    return counts


def test_wrandom_draws_each_members_metric_below_penalty_plus_one_thousand():
    n = 2000
    counts = _first_offers("wrandom", [{"agent": "a1", "penalty": 0}, {"agent": "a2", "penalty": 1}], n)
    # a1 wins unless a2's draw in [0, 2000) falls below a1's in [0, 1000): p = 1 - 0.24975 (a tie goes to a1)
    p = 1 - 999 * 1000 / 2 / (1000 * 2000)
    tol = 5 * math.sqrt(p * (1 - p) / n)
    assert abs(counts["a1"] / n - p) < tol
    assert abs(counts["a1"] / n - 2 / 3) > tol  # not weights 1/(penalty + 1)


def test_wrandom_has_no_penalty_groups_but_keeps_tiers():
    counts = _first_offers("wrandom", [{"agent": "a1", "penalty": 0}, {"agent": "a2", "penalty": 5}], 600)
    assert counts.get("a2", 0) > 0  # offered while a lower penalty is free (p ~ 1/12)
    counts = _first_offers("wrandom", [{"agent": "a1", "tier": 1, "penalty": 5},
                                       {"agent": "a2", "tier": 2, "penalty": 0}], 200)
    assert counts == {"a1": 200}
