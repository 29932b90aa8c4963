"""Random parity with queues added and removed while calls arrive, ring, wait and connect: both engines give
the same events, errors and states (docs/routing.md §16), and the batch replay the same events."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parity_steps import EXTRA, Extra, configs
from test_core_parity import _parity

_STRATEGIES = ("longest-idle-agent", "ring-all", "round-robin", "ring-progressively", "leastrecent", "top-down")


def _add_step(r, now, k, flag, twin, live):
    """A queue table: a new name, a removed queue's name back, or one in use (refused); members among the
    agents (a removed one: refused), an overflow and escalation steps sometimes."""
    agents = [a for a in twin.agents if not str(a).startswith("(")]
    gone = [q[9:-1] for q in twin.queues if q.startswith("(removed ")]
    live_queues = [q for q in twin.queues if not q.startswith("(")]
    name = (gone[k % len(gone)] if gone and k % 3 == 0 else live_queues[0] if k % 11 == 0 and live_queues
            else f"x{len(twin.queues)}")
    raw = {"name": name, "strategy": _STRATEGIES[(k // 3) % len(_STRATEGIES)],
           "members": [{"agent": a, "penalty": (k >> i) % 2} for i, a in enumerate(agents) if (k >> i) % 3]}
    if k % 13 == 0 and twin.agents:
        raw["members"].append(twin.agents[-1])  # perhaps a removed agent: refused
    if k % 4 == 1 and live_queues:
        raw["overflow"] = live_queues[k % len(live_queues)]
        raw["max_wait_s"] = 3.0
    if k % 5 == 2:
        raw["escalation"] = [{"after_s": 2.0 * (i + 1), "max_penalty": 1} for i in range(1 + k % 4)]
    if flag:
        raw["wrap_up_s"] = 1.0
    return ("queue_add", now, None, None, raw), lambda: r.queue_add(now, raw)


def _add_after(twin, row):
    name = row[4]["name"]
    at = [i for i, q in enumerate(twin.queues) if q == f"(removed {name})"]
    if at:
        twin.queues[at[0]] = name
    else:
        twin.queues.append(name)


def _remove_step(r, now, k, flag, twin, live):
    """A queue (a removed one: refused), its calls sent to another queue or nowhere (refused while it holds
    any)."""
    q = twin.queues[k % len(twin.queues)]
    others = [x for x in twin.queues if x != q]
    to = others[(k // 7) % len(others)] if others and flag else None
    return ("queue_remove", now, q, to, {}), lambda: r.queue_remove(now, q, to=to)


def _remove_after(twin, row):
    twin.queues[twin.queues.index(row[2])] = f"(removed {row[2]})"


EXTRA["queue_add"] = Extra(_add_step, _add_after, lambda batch, row: batch.queue_add(row[1], row[4]))
EXTRA["queue_remove"] = Extra(_remove_step, _remove_after,
                              lambda batch, row: batch.queue_remove(row[1], row[2], to=row[3]))

OPS_QUEUES = st.lists(st.tuples(st.sampled_from(["arrive", "arrive", "arrive", "accept", "accept", "reject", "release",
                                                 "release", "transfer", "logout", "login", "ready", "advance",
                                                 "member_add", "member_remove", "queue_update", "reload", "move",
                                                 "agent_add", "agent_remove", "queue_add", "queue_add", "queue_remove",
                                                 "queue_remove", "queue_remove"]),
                                st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 9.0]),
                                st.integers(0, 1 << 16), st.booleans()), min_size=15, max_size=100)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), ops=OPS_QUEUES)
def test_queues_added_and_removed_match_router(cfg, ops):
    """Queues come and go (their calls moved, their members gone, a name coming back to its row) while
    everyone starts logged in ready; transfers of a removed queue's connected calls need a target queue."""
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops)
