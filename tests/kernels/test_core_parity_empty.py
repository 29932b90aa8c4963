"""The compiled core (Router) against the Python engine (ReferenceRouter) with empty-queue rules on every queue.

The parity harness of test_core_parity.py (same events, errors and states
after every operation; the same events replayed as batches) on
configurations whose every queue has a ``leave_when_empty`` rule and most a
``join_empty`` rule (docs/routing.md §6, "Empty queues"), with operation
streams rich in the changes that empty a queue: logouts, not-ready, pauses,
answers and releases, escalation (by advancing time), membership and
settings changes.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parity_steps import configs
from old_layout import without_lanes
from test_core_parity import _parity

from busyhour.router.empty import CONDITIONS

RULE = st.lists(st.sampled_from(CONDITIONS), min_size=1, max_size=4, unique=True)


@st.composite
def ruled_configs(draw, multi_channel=False):
    cfg = draw(configs(multi_channel=multi_channel))
    for q in cfg["queues"]:
        q["leave_when_empty"] = draw(RULE)
        if draw(st.booleans()):
            q["join_empty"] = draw(RULE)
    return cfg


OPS_EMPTY = st.lists(st.tuples(st.sampled_from(["arrive", "arrive", "arrive", "arrive", "accept", "accept", "reject",
                                                "release", "release", "logout", "logout", "login", "login", "ready",
                                                "not_ready", "pause", "unpause", "advance", "callback", "transfer",
                                                "priority", "member_add", "member_remove", "queue_update", "reload",
                                                "move"]),
                               st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 9.0]),
                               st.integers(0, 1 << 16), st.booleans()), min_size=15, max_size=100)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=ruled_configs(), ops=OPS_EMPTY)
def test_empty_queue_rules_match_router(cfg, ops):
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=ruled_configs(multi_channel=True), ops=OPS_EMPTY)
def test_empty_queue_rules_with_multi_channel_agents_match_router(cfg, ops):
    _parity(cfg, ops)


def test_a_router_pickled_before_the_rules_loads_and_carries_on():
    import pickle

    from busyhour.router.fast import Router

    cfg = {"agents": [{"id": "a0"}, {"id": "a1"}], "queues": [{"name": "q", "members": ["a0", "a1"]}]}

    def start(r):
        r.agent_login(0.0, "a0", ready=True)
        r.call_arrive(1.0, 1, "q")
        r.call_arrive(1.0, 2, "q")

    def rest(r):
        return r.offer_accept(2.0, 1, "a0") + r.call_release(3.0, 1) + r.advance(30.0)

    ref = Router.from_config(cfg)
    start(ref)
    old = Router.from_config(cfg)
    start(old)
    old._S = without_lanes(old._S)._replace(LE=None, S_i=old._S.S_i[:28].copy())  # the layout before the rules
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded._S.LE is not None and loaded._S.LE.shape[0] == 0 and loaded._S.S_i.shape == ref._S.S_i.shape
    assert rest(loaded) == rest(ref)
    ev = loaded.queue_update(31.0, "q", leave_when_empty=["unavailable"]) + loaded.call_arrive(32.0, 3, "q")
    assert ev == ref.queue_update(31.0, "q", leave_when_empty=["unavailable"]) + ref.call_arrive(32.0, 3, "q")
