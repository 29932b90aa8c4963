"""A queue's join and leave rules for an empty queue (Asterisk's ``joinempty`` / ``leavewhenempty``).

A queue's ``join_empty`` and ``leave_when_empty`` settings are lists of
conditions (docs/routing.md §6, "Empty queues"). A member is *not usable* for
a call when one listed condition holds for it; the queue is *empty* for the
call when none of its members is usable:

=============== ==============================================================
``paused``      its agent is NOT_READY, or the member is paused in this queue
``penalty``     it cannot serve the call's current escalation step: penalty
                above the step's ``max_penalty``, a member only from a later
                step (``add_groups``), or without the queue's required skills
``inuse``       its agent holds a connected call (any channel)
``ringing``     its agent is being offered a call
``unavailable`` its agent is logged out (``invalid`` and ``unknown`` too:
``invalid``     busyhour has no device states, only logged in or out)
``unknown``
``wrapup``      its agent is in wrap-up
=============== ==============================================================

This module holds what both engines share: the condition names and bits,
the checked setting, and the compiled core's table of them (``CoreState.LE``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import ConfigError

#: The conditions, in the order busyhour writes them, with their bits (the compiled core's LE masks).
CONDITIONS = ("paused", "penalty", "inuse", "ringing", "unavailable", "invalid", "unknown", "wrapup")
BIT = {name: 1 << i for i, name in enumerate(CONDITIONS)}
PAUSED, PENALTY, INUSE, RINGING = BIT["paused"], BIT["penalty"], BIT["inuse"], BIT["ringing"]
LOGGED_OUT = BIT["unavailable"] | BIT["invalid"] | BIT["unknown"]  # all three: the agent is logged out
WRAPUP = BIT["wrapup"]
SETTINGS = ("join_empty", "leave_when_empty")
MAX_PENALTY_STEPS = 62  # escalation steps a queue with "penalty" in its leave rule may have (LE_EMPTY's bits)

# Columns of CoreState.LE (int64, one row per queue; no rows when no queue has a rule).
LE_JOIN, LE_LEAVE = 0, 1  # the condition masks
LE_EMPTY = 2  # bit k: the queue was empty for a call at escalation step k when last looked at (leave rule)
LE_PENDING = 3  # 1 while a walk of the queue's waiting calls (T_LEAVE_WALK) is due
LE_CUR, LE_CUR_ORDER = 4, 5  # where that walk goes on: a call slot and its order (-1: from the first)
N_LE = 6


def parse_conditions(value: Any, path: str) -> tuple[str, ...]:
    """A ``join_empty`` / ``leave_when_empty`` value: a list of condition names, returned in CONDITIONS order
    without repeats; ConfigError naming ``path`` and the allowed names otherwise."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{path}: must be a list of conditions (any of: {', '.join(CONDITIONS)}), got {value!r}")
    bad = [v for v in value if v not in BIT]
    if bad:
        raise ConfigError(f"{path}: unknown condition {bad[0]!r} (allowed: {', '.join(CONDITIONS)})")
    return tuple(c for c in CONDITIONS if c in value)


def mask(conditions: tuple[str, ...]) -> int:
    """The bits of ``conditions``."""
    m = 0
    for c in conditions:
        m |= BIT[c]
    return m


def check_steps(q, path: str) -> None:
    """A queue whose leave rule has ``penalty`` keeps one bit per escalation step: at most 62 steps."""
    if "penalty" in q.leave_when_empty and len(q.escalation) > MAX_PENALTY_STEPS:
        raise ConfigError(f"{path}.leave_when_empty: 'penalty' takes a queue of at most {MAX_PENALTY_STEPS} "
                          f"escalation steps; this one has {len(q.escalation)}")


def rules_table(queues) -> np.ndarray:
    """CoreState.LE for ``queues`` (QueueConfig) at the start: their masks; no rows at all while no queue
    has a rule (so routers without them pay one shape test)."""
    if not any(q.join_empty or q.leave_when_empty for q in queues):
        return np.zeros((0, N_LE), dtype=np.int64)
    LE = np.zeros((len(queues), N_LE), dtype=np.int64)
    LE[:, LE_CUR] = LE[:, LE_CUR_ORDER] = -1
    for qi, q in enumerate(queues):
        LE[qi, LE_JOIN], LE[qi, LE_LEAVE] = mask(q.join_empty), mask(q.leave_when_empty)
    return LE


def set_rules(LE: np.ndarray, qi: int, queues) -> np.ndarray:
    """``LE`` with queue ``qi``'s masks those of ``queues[qi]`` (a change at run time; the other rows as
    they were); rows for every queue once one has a rule."""
    q = queues[qi]
    if LE.shape[0] == 0:
        if not (q.join_empty or q.leave_when_empty):
            return LE
        LE = np.zeros((len(queues), N_LE), dtype=np.int64)  # no queue had a rule until now
        LE[:, LE_CUR] = LE[:, LE_CUR_ORDER] = -1
    else:
        LE = LE.copy()
    LE[qi, LE_JOIN] = mask(q.join_empty)
    LE[qi, LE_LEAVE] = mask(q.leave_when_empty)
    return LE
