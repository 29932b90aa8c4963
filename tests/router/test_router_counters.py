"""Agent counters exposed by Router.agent_counters (issue: answered, talk time, last call
end, last offered, consecutive no-answers)."""

from __future__ import annotations

import math

import pytest

from router_helpers import engine

from busyhour.router import Router

pytestmark = pytest.mark.usefixtures("each_engine")


def _router() -> Router:
    return engine().from_config({"queues": [{"name": "q", "members": ["a1"], "ring_timeout_s": 10.0,
                                           "max_no_answer": 5}], "agents": [{"id": "a1"}]})


def test_router_agent_counters_follow_the_calls():
    r = _router()
    r.agent_login(0.0, "a1", ready=True)
    c = r.agent_counters("a1")
    assert (c.answered, c.talk_s, c.consecutive_no_answers) == (0, 0.0, 0)
    assert c.last_call_end_s == -math.inf and c.last_offered_s == -math.inf
    r.call_arrive(1.0, "c1", "q")  # offered at 1.0, expires at 11.0
    r.advance(11.0)
    c = r.agent_counters("a1")
    assert c.consecutive_no_answers == 1 and c.last_offered_s == 11.0  # re-offered at once (no delay)
    r.offer_accept(12.0, "c1", "a1")
    r.call_release(42.0, "c1")
    c = r.agent_counters("a1")
    assert (c.answered, c.talk_s, c.last_call_end_s, c.consecutive_no_answers) == (1, 30.0, 42.0, 0)
    assert c.idle_since_s == 42.0
