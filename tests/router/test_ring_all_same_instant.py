"""Ring-all rings every eligible agent freed at the instant its ring began (docs/routing.md §2, ring-all),
on the Python reference engine and on the compiled core.

Asterisk ``ringall`` and FreeSWITCH ``ring-all`` ring every available member.
Agents freed one after another at one instant (wrap-ups ending together,
several made ready at once) must all ring, not only the first; an agent of a
worse (tier, penalty) group, or one freed a moment later, is not added.
"""

from __future__ import annotations

import pytest

from busyhour.router import EventKind, Router, ReferenceRouter

ENGINES = [pytest.param(ReferenceRouter, id="reference"), pytest.param(Router, id="compiled")]


def _router(engine, agents=("a0", "a1", "a2"), penalties=None, wrap_up_s=10.0):
    penalties = penalties or {}
    cfg = {"agents": [{"id": a} for a in agents],
           "queues": [{"name": "q", "strategy": "ring-all", "wrap_up_s": wrap_up_s, "ring_timeout_s": 30.0,
                       "members": [{"agent": a, "penalty": penalties.get(a, 0)} for a in agents]}]}
    return engine.from_config(cfg)


def _offers(events):
    return sorted((e.call_id, e.agent_id) for e in events if e.kind == EventKind.CALL_OFFERED)


def _all_busy_until(r, agents, release_at):
    """Each agent takes one call (ids 1, 2, …) and releases it at ``release_at``: wrap-ups end together."""
    for i, a in enumerate(agents):
        r.agent_login(0.0, a, ready=True)
    for i, a in enumerate(agents, start=1):
        r.call_arrive(float(i), i, "q")
        r.offer_accept(float(i), i, a)
    for i in range(1, len(agents) + 1):
        r.call_release(release_at, i)


@pytest.mark.parametrize("engine", ENGINES)
def test_wrap_ups_ending_together_ring_every_agent(engine):
    r = _router(engine)
    _all_busy_until(r, ("a0", "a1", "a2"), 50.0)  # wrap-ups end at 60
    assert _offers(r.call_arrive(55.0, 9, "q")) == []  # nobody free: the caller waits
    assert _offers(r.advance(60.0)) == [(9, "a0"), (9, "a1"), (9, "a2")]
    ev = r.offer_accept(61.0, 9, "a1")
    withdrawn = sorted(e.agent_id for e in ev if e.kind == EventKind.OFFER_WITHDRAWN)
    assert withdrawn == ["a0", "a2"] and r.call_state(9).name == "CONNECTED"


@pytest.mark.parametrize("engine", ENGINES)
def test_agents_made_ready_at_one_instant_all_ring(engine):
    r = _router(engine)
    for a in ("a0", "a1", "a2"):
        r.agent_login(0.0, a)  # logged in, not ready
    r.call_arrive(1.0, 9, "q")
    assert _offers(r.agent_ready(5.0, "a2")) == [(9, "a2")]
    assert _offers(r.agent_ready(5.0, "a0")) == [(9, "a0")]  # the same instant: joins the ring
    assert _offers(r.agent_ready(6.0, "a1")) == []  # later: not added while it rings
    assert r.agent_state("a1") == "AVAILABLE"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_worse_penalty_does_not_join_a_better_ring(engine):
    r = _router(engine, penalties={"a2": 1})
    for a in ("a0", "a1", "a2"):
        r.agent_login(0.0, a)
    r.call_arrive(1.0, 9, "q")
    assert _offers(r.agent_ready(5.0, "a0")) == [(9, "a0")]
    assert _offers(r.agent_ready(5.0, "a2")) == []  # penalty 1 behind a ring of penalty 0
    assert _offers(r.agent_ready(5.0, "a1")) == [(9, "a1")]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_second_caller_waits_while_the_first_rings_everyone_freed(engine):
    r = _router(engine)
    _all_busy_until(r, ("a0", "a1", "a2"), 50.0)
    r.call_arrive(55.0, 9, "q")
    r.call_arrive(56.0, 10, "q")
    assert _offers(r.advance(60.0)) == [(9, "a0"), (9, "a1"), (9, "a2")]  # the first in line rings all three
    assert r.call_state(10).name == "WAITING"
    ev = r.offer_accept(61.0, 9, "a0")  # the others are withdrawn and freed: now caller 10 rings them
    assert _offers(ev) == [(10, "a1"), (10, "a2")]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_step_timer_of_an_ended_call_never_steps_a_later_one(engine):
    """Ring-progressively: the step timer of a caller who hung up while ringing is void, also for the next
    call that the compiled core keeps in the same slot."""
    cfg = {"agents": [{"id": a} for a in ("a0", "a1", "a2")],
           "queues": [{"name": "q", "strategy": "ring-progressively", "ring_step_s": 5.0, "ring_timeout_s": 30.0,
                       "members": ["a0", "a1", "a2"]}]}
    r = engine.from_config(cfg)
    for a in ("a0", "a1", "a2"):
        r.agent_login(0.0, a, ready=True)
    assert _offers(r.call_arrive(0.0, 1, "q")) == [(1, "a0")]
    r.call_abandon(1.0, 1)  # its step timer (due at 5) is void
    assert _offers(r.call_arrive(1.0, 2, "q")) == [(2, "a0")]
    assert _offers(r.advance(5.5)) == []
    assert _offers(r.advance(6.0)) == [(2, "a1")]  # its own step


@pytest.mark.parametrize("engine", ENGINES)
def test_an_agent_who_rejects_at_once_does_not_join_again(engine):
    r = _router(engine)
    for a in ("a0", "a1"):
        r.agent_login(0.0, a, ready=True)
    assert _offers(r.call_arrive(1.0, 9, "q")) == [(9, "a0"), (9, "a1")]
    ev = r.offer_reject(1.0, 9, "a0")  # no reject delay: a0 is free at once, and the call still rings a1
    assert _offers(ev) == [] and r.agent_state("a0") == "AVAILABLE"


def test_snapshots_pickled_before_ring_joins_and_transfer_senders_load():
    """A server snapshot pickles the ReferenceRouter; one written by a version without the ring-join fields still loads
    (they start empty, as in a new engine) and the engine then joins rings as above."""
    import pickle

    r = _router(ReferenceRouter)
    for a in ("a0", "a1", "a2"):
        r.agent_login(0.0, a)
    for q in r._queues:  # as a QueueState pickled by the earlier version: no ring_all_* slots
        del q.ring_all_order, q.ring_all_t
    old = pickle.loads(pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL))
    old.call_arrive(1.0, 9, "q")
    assert _offers(old.agent_ready(5.0, "a2")) == [(9, "a2")]
    assert _offers(old.agent_ready(5.0, "a0")) == [(9, "a0")]
    fresh = pickle.loads(pickle.dumps(old))  # and a snapshot taken mid-instant keeps the ring to join
    assert _offers(fresh.agent_ready(5.0, "a1")) == [(9, "a1")]
    call = fresh._calls[9]  # a live call pickled before transfers remembered their sender
    del call.xfer_from
    again = pickle.loads(pickle.dumps(fresh))
    assert again._calls[9].xfer_from == -1
    assert [e.kind for e in again.offer_accept(6.0, 9, "a1")].count(EventKind.OFFER_WITHDRAWN) == 2
