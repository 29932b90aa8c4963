"""What both simulation drivers schedule and draw the same way (driver.py, and fast.py's compiled loop).

* the presence schedule: every shift and break edge of every agent, in one
  order, so both drivers give them the same heap sequence numbers;
* the redial samplers: each value a redial attempt takes comes from its own
  stream (queue name + ``#delay``, ``#handle``, ``#acw``, ``#patience``,
  ``#redial``, ``#callback``), so the k-th redial of a queue gets the k-th
  value of each whatever else was drawn meanwhile — the compiled loop can
  draw them ahead, in blocks, and still agree with the SimPy driver.
"""

from __future__ import annotations

import math

from busyhour.sim.routing import after_call_work, agent_ids
from busyhour.sim.scenario import Period, Scenario
from busyhour.sim.streams import streams

__all__ = ["REDIAL_DRAWS", "presence_schedule", "redial_samplers", "redial_streams"]


def presence_schedule(scn: Scenario, codes: tuple[int, int, int, int]) -> list[tuple[float, int, int]]:
    """(time, action, agent) of every shift and break edge, in the order both drivers push them (agent
    by agent: each shift's start and end, then each break's start and end, staggered); ``codes`` are
    the drivers' action codes for login, logout, break start and break end."""
    _LOGIN, _LOGOUT, _BREAK, _BACK = codes
    out = []
    per_team: dict[int, int] = {}
    for ai, (_, ti) in enumerate(agent_ids(scn)):
        team = scn.teams[ti]
        k = per_team[ti] = per_team.get(ti, -1) + 1
        for sh in team.shifts or (Period(0.0, math.inf),):
            out.append((sh.start_s, _LOGIN, ai))
            if sh.end_s < math.inf:
                out.append((sh.end_s, _LOGOUT, ai))
        offset = team.break_spread_s * k / max(team.agents, 1)
        for br in team.breaks:
            out.append((br.start_s + offset, _BREAK, ai))
            out.append((br.end_s + offset, _BACK, ai))
    return out


#: The draws of a redial attempt, one stream each.
REDIAL_DRAWS = ("delay", "handle", "acw", "patience", "redial", "callback")


def redial_streams(q) -> list[tuple[str, str]]:
    """The (source, name) of each stream of queue ``q``'s redial draws (streams.streams takes them)."""
    return [("redial", f"{q.name}#{k}") for k in REDIAL_DRAWS]


def redial_samplers(scn: Scenario, q, seed: int, replication: int, gens: list | None = None) -> list[tuple]:
    """(sample, generator) of each draw a redial attempt of queue ``q`` takes — its delay, talk time,
    after-call work, patience, redial and callback uniforms — each from its own stream, so the k-th
    redial's values do not depend on when the other draws were made. ``gens``: those streams, when the
    caller made them (``streams(seed, replication, redial_streams(q))``)."""
    samples = (q.redial.delay.sample, q.handle_time.sample, after_call_work(scn, q).sample, q.patience.sample,
               _uniform, _uniform)
    gens = streams(seed, replication, redial_streams(q)) if gens is None else gens
    return list(zip(samples, gens, strict=True))


def _uniform(rng, n):
    return rng.random(n)
