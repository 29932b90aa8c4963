"""The router configuration a scenario implies (busyhour.router's schema, docs/routing.md).

* every agent of team T gets id ``"T-001"``, ``"T-002"``, …, the team's
  skills (name → proficiency 1-5) and router group ``T``;
* every queue gets ``skills`` (the minimum levels its calls need; the router
  only offers them to members holding them, less after an escalation step's
  ``min_level_drop``), ``groups`` (the teams that serve it: those that list it
  in ``queues``, or by default those holding every skill it names) and the
  scenario's ``sl_threshold_s``; then the scenario's top-level ``[router]``
  table and the queue's own ``router`` table are applied on top, verbatim —
  strategy, timers, escalation, overflow, tiers all pass straight through to
  the router, which validates them;
* ``interval_s`` and ``seed`` come from the scenario (the seed drives the
  router's own random strategies).
"""

from __future__ import annotations

from typing import Any

from busyhour.sim.distributions import Constant, Distribution
from busyhour.sim.scenario import QueueSpec, Scenario, TeamSpec

__all__ = ["after_call_work", "agent_ids", "check_router_config", "router_config"]


def after_call_work(scn: Scenario, q: QueueSpec) -> Distribution:
    """The queue's after-call work; without one in the scenario, the router queue's
    configured ``wrap_up_s`` (default 0), so passing it per call changes nothing."""
    if q.after_call_work is not None:
        return q.after_call_work
    w = {**scn.router, **q.router}.get("wrap_up_s", 0.0)
    return Constant(float(w) if isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 else 0.0)


def agent_ids(scn: Scenario) -> list[tuple[str, int]]:
    """(agent id, team index) of every agent, in configuration order."""
    return [(f"{t.name}-{k + 1:03d}", ti) for ti, t in enumerate(scn.teams) for k in range(t.agents)]


def serves(team: TeamSpec, queue_name: str, queue_skills: dict[str, int]) -> bool:
    if team.queues is not None:
        return queue_name in team.queues
    return all(s in team.skills for s in queue_skills)


def router_config(scn: Scenario, seed: int | None = None) -> dict[str, Any]:
    from busyhour.router.config import MAX_INTERVALS_KEPT

    agents = [{"id": aid, "skills": dict(scn.teams[ti].skills), "groups": [scn.teams[ti].name]}
              for aid, ti in agent_ids(scn)]
    staffed = {t.name for t in scn.teams if t.agents > 0}
    queues = []
    for q in scn.queues:
        groups = [t.name for t in scn.teams if t.name in staffed and serves(t, q.name, q.skills)]
        queues.append({"name": q.name, "skills": dict(q.skills), "groups": groups,
                       "sl_threshold_s": scn.sl_threshold_s, **scn.router, **q.router})
    skills = sorted({s for t in scn.teams for s in t.skills} | {s for q in scn.queues for s in q.skills})
    # a run's router statistics keep every interval (a horizon has at most 2,016; the drain after it is short)
    return {"queues": queues, "agents": agents, "skills": skills, "interval_s": scn.interval_s,
            "intervals_kept": MAX_INTERVALS_KEPT, "seed": int(scn.seed if seed is None else seed) % (2**63)}


def check_router_config(scn: Scenario) -> None:
    """Validate the implied router configuration now, raising ``ScenarioError``
    (the router's own message names the key, e.g. ``queues[1].strategy``)."""
    from busyhour.router import ConfigError, parse_config
    from busyhour.sim.scenario import ScenarioError

    try:
        parse_config(router_config(scn))
    except ConfigError as exc:
        raise ScenarioError(f"router configuration (from [router] and queues[].router): {exc}") from None
