"""The compiled core (Router) against the Python engine (ReferenceRouter) while queue membership changes.

The parity harness of test_core_parity.py, with operation streams rich in
``member_add`` / ``member_remove`` / ``member_update`` (docs/routing.md §16)
on strategies with an available-member heap, ring orders and member scans:
the same events, errors and states after every operation, and the same
events when the stream is replayed in batches cut at each membership change.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parity_steps import configs
from test_core_parity import _parity


# Membership changing while calls arrive, ring and wait: agents join, leave and change settings mid-call.
OPS_MEMBERS = st.lists(st.tuples(st.sampled_from(["arrive", "arrive", "arrive", "accept", "accept", "reject", "release",
                                                  "release", "logout", "login", "ready", "advance", "pause",
                                                  "member_add", "member_add", "member_remove", "member_remove",
                                                  "member_update", "queue_update", "queue_update", "reload",
                                                  "reload", "move", "agent_add", "login"]),
                                 st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 9.0]),
                                 st.integers(0, 1 << 16), st.booleans()), min_size=15, max_size=100)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(strategies=("longest-idle-agent", "agent-with-fewest-calls", "most-skilled-first", "round-robin",
                               "ring-all", "ring-progressively", "top-down", "weighted-random")), ops=OPS_MEMBERS)
def test_membership_changes_match_router(cfg, ops):
    """Queues gain and lose members, members change tier, penalty, position and weight, and queues their
    settings, with everyone logged in ready first: the available-member heaps, ring orders, pauses and
    logged-in counts follow."""
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops)
