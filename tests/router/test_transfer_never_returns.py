"""A transferred call is never offered back to the agent who transferred it (docs/routing.md §9),
with any wrap-up and any strategy, on the Python reference engine and on the compiled core."""

from __future__ import annotations

import pytest

from busyhour.router import EventKind, Router, ReferenceRouter


def _router(engine, strategy: str, wrap_up_s: float):
    cfg = {"agents": [{"id": "a"}, {"id": "b"}],
           "queues": [{"name": "q", "strategy": strategy, "members": ["a", "b"], "wrap_up_s": wrap_up_s},
                      {"name": "other", "members": ["b"]}]}
    r = engine.from_config(cfg)
    r.agent_login(0.0, "a", ready=True)
    r.agent_login(0.0, "b")  # not ready: busy elsewhere
    return r


def _offers(events):
    return [(e.call_id, e.agent_id) for e in events if e.kind == EventKind.CALL_OFFERED]


ENGINES = [pytest.param(ReferenceRouter, id="reference"), pytest.param(Router, id="compiled")]
STRATEGIES = ["longest-idle-agent", "round-robin", "ring-all", "ring-progressively", "top-down"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("wrap_up_s", [0.0, 2.0])
def test_a_queue_transfer_waits_for_another_agent(engine, strategy, wrap_up_s):
    r = _router(engine, strategy, wrap_up_s)
    assert _offers(r.call_arrive(1.0, 7, "q")) == [(7, "a")]
    r.offer_accept(2.0, 7, "a")
    ev = r.transfer(10.0, 7, queue="q") + r.advance(20.0)  # a is free again (at once, or after wrap-up)
    assert _offers(ev) == []
    assert r.agent_state("a") == "AVAILABLE" and r.call_state(7).name == "WAITING"
    assert _offers(r.agent_ready(30.0, "b")) == [(7, "b")]


@pytest.mark.parametrize("engine", ENGINES)
def test_an_agent_transfer_falls_back_to_the_queue_without_its_sender(engine):
    r = _router(engine, "longest-idle-agent", 0.0)
    r.call_arrive(1.0, 7, "q")
    r.offer_accept(2.0, 7, "a")
    ev = r.transfer(10.0, 7, agent="b", fallback_s=5.0) + r.advance(40.0)  # b never gets ready in time
    assert _offers(ev) == []
    assert _offers(r.agent_ready(50.0, "b")) == [(7, "b")]


@pytest.mark.parametrize("engine", ENGINES)
def test_the_sender_still_takes_other_calls(engine):
    r = _router(engine, "longest-idle-agent", 0.0)
    r.call_arrive(1.0, 7, "q")
    r.offer_accept(2.0, 7, "a")
    r.transfer(10.0, 7, queue="q")
    assert _offers(r.call_arrive(11.0, 8, "q")) == [(8, "a")]  # the later call; 7 keeps its place for b
    assert r.position(7).position == 1
