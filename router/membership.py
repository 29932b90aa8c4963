"""Queue membership at run time: the checks and the new configuration both engines apply.

An agent joins a queue (``member_add``, Asterisk's AMI ``QueueAdd``,
FreeSWITCH's ``callcenter_config tier add``), leaves it (``member_remove``:
``QueueRemove`` / ``tier del``), or its tier, penalty, position or weight
change (``member_update``: ``QueuePenalty`` / ``tier set``), while every
call and agent state goes on (docs/routing.md §16). :func:`plan_change`
checks the request and returns the configuration after it; each engine then
rebuilds what it derives from the queue's members (router/members.py for
the reference engine, core_members.py for the compiled core) and applies the
effect: the member's agent counts as logged in to the queue, or no more
(a queue left with nobody logged in starts its no-agents limit), and a free
agent is offered the queue's waiting calls at once.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Container, Hashable, NamedTuple

from .config import (
    MAX_MEMBER_VALUE, QUEUE_SETTINGS, AgentConfig, MemberConfig, QueueConfig, RouterConfig, check_queue, parse_agent,
    queue_setting,
)
from .config_limits import MAX_AGENTS  # the agents a router takes (reload_plan.py imports it from here)
from .errors import ConfigError, StateError, UnknownIdError

#: The kind of change (the ``arg`` of the compiled core's OP_MEMBER row).
ADD, REMOVE, UPDATE = 0, 1, 2
MEMBER_SETTINGS = ("tier", "penalty", "position", "weight")


class MemberChange(NamedTuple):
    """A checked membership change: what it is, and the configuration after it."""

    kind: int  # ADD, REMOVE or UPDATE
    agent: int  # the agent's index
    queue: int  # the queue's index
    config: RouterConfig  # the configuration with the change made
    staffed_before: bool  # the agent was a member serving from the first step (its login staffed the queue)


def _member_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise StateError(f"{name} must be an integer from 0 to {MAX_MEMBER_VALUE}, got {v!r}")
    v = int(v.__index__())
    if not 0 <= v <= MAX_MEMBER_VALUE:
        raise StateError(f"{name} must be an integer from 0 to {MAX_MEMBER_VALUE}, got {v!r}")
    return v


def _weight(v: Any) -> float:
    w = math.nan
    if not isinstance(v, (bool, str, bytes)) and hasattr(v, "__float__"):
        try:
            w = float(v)
        except (TypeError, ValueError, OverflowError):
            pass
    if not (math.isfinite(w) and w > 0):
        raise StateError(f"weight must be a finite number > 0, got {v!r}")
    return w


def check_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """``settings`` without the ones left ``None``, each checked: tier, penalty and position integers from
    0 to 2**31 - 1, weight a finite number > 0."""
    out: dict[str, Any] = {}
    for name, v in settings.items():
        if v is None:
            continue
        if name not in MEMBER_SETTINGS:
            raise StateError(f"unknown member setting {name!r} (one of: {', '.join(MEMBER_SETTINGS)})")
        out[name] = _weight(v) if name == "weight" else _member_int(name, v)
    return out


def plan_change(cfg: RouterConfig, kind: int, agent_id: Hashable, queue: str, agent_index: dict,
                queue_index: dict, settings: dict[str, Any]) -> MemberChange:
    """Check a membership change and build the configuration after it, changing nothing. Raises
    UnknownIdError for an unknown agent or queue, StateError for a bad setting, a second membership, a
    missing one, or an update that changes nothing."""
    try:
        a = agent_index[agent_id]
    except (KeyError, TypeError):
        raise UnknownIdError(f"unknown agent {agent_id!r}") from None
    try:
        qi = queue_index[queue]
    except (KeyError, TypeError):
        raise UnknownIdError(f"unknown queue {queue!r}") from None
    given = check_settings(settings)
    q = cfg.queues[qi]
    aid = agent_id
    members = list(q.members)
    at = next((i for i, m in enumerate(members) if m.agent == aid), -1)
    if kind == ADD:
        if at >= 0:
            raise StateError(f"agent {agent_id!r} is already a member of queue {q.name!r}; "
                             "change its settings with member_update")
        given.setdefault("position", len(members))  # as a member listed last in the configuration
        members.append(MemberConfig(agent=aid, **given))
    elif at < 0:
        raise StateError(f"agent {agent_id!r} is not a member of queue {q.name!r}")
    elif kind == REMOVE:
        del members[at]
    else:
        if not given:
            raise StateError("member_update: nothing to change; give tier, penalty, position or weight")
        members[at] = replace(members[at], **given)
    staffed = at >= 0 and q.members[at].from_step == 0
    queues = cfg.queues[:qi] + (replace(q, members=tuple(members)),) + cfg.queues[qi + 1:]
    return MemberChange(kind, a, qi, replace(cfg, queues=queues), staffed)


class QueueChange(NamedTuple):
    """A checked change of a queue's settings: the queue and the configuration after it."""

    queue: int
    config: RouterConfig


def plan_queue(cfg: RouterConfig, queue: str, queue_index: dict, settings: dict[str, Any]) -> QueueChange:
    """Check a change of queue settings (config.QUEUE_SETTINGS, each checked as in a configuration file;
    ``overflow`` or ``max_penalty`` None removes it) and build the configuration after it, changing
    nothing. Raises UnknownIdError for an unknown queue, ConfigError naming the setting otherwise."""
    try:
        qi = queue_index[queue]
    except (KeyError, TypeError):
        raise UnknownIdError(f"unknown queue {queue!r}") from None
    if not settings:
        raise ConfigError(f"queue_update: nothing to change; give one or more of: {', '.join(QUEUE_SETTINGS)}")
    q = cfg.queues[qi]
    raw = {"name": q.name, **settings}
    names = [x.name for x in cfg.queues if not x.removed]
    given = {k: queue_setting(raw, k, q.name, names) for k in settings}
    check_queue(replace(q, **given), q.name)
    queues = cfg.queues[:qi] + (replace(q, **given),) + cfg.queues[qi + 1:]
    return QueueChange(qi, replace(cfg, queues=queues))


def member_penalty(q: QueueConfig, agent_id: Hashable) -> float:
    """The penalty of ``agent_id``'s membership of ``q`` (0 when it is none)."""
    return float(next((m.penalty for m in q.members if m.agent == agent_id), 0))


class AgentAdd(NamedTuple):
    """A checked new agent and the configuration with it, last."""

    agent: AgentConfig
    config: RouterConfig


class _InUse:
    """The agent ids in use, as parse_agent's ``seen``, without copying them: an engine's id index answers
    ``in`` at once, where a set of every id cost O(agents) per added agent. What parse_agent adds is not kept."""

    def __init__(self, ids: Container) -> None:
        self.ids = ids

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self.ids

    def add(self, agent_id: object) -> None:
        pass


def plan_agent_add(cfg: RouterConfig, raw: Any, in_use: Container | None = None) -> AgentAdd:
    """Check an agent table as the configuration file's (``id``, ``skills``, ``capacity``, its own
    settings) for an agent added at run time: its id new, its skills among the router's; no ``groups`` (it
    joins queues with member_add). ConfigError names what is wrong. ``in_use``: the ids of ``cfg``'s agents
    (an engine's id index), if the caller has them."""
    if len(cfg.agents) >= MAX_AGENTS:
        raise ConfigError(f"agent_add: this router has {MAX_AGENTS:,} agents, its limit")
    seen = _InUse(in_use) if in_use is not None else {a.id for a in cfg.agents}
    agent = parse_agent(raw, "agent", list(cfg.channels), list(cfg.skills), seen, fixed_skills=True)
    if agent.groups:
        raise ConfigError("agent.groups: an agent added at run time joins queues with member_add")
    return AgentAdd(agent, replace(cfg, agents=cfg.agents + (agent,)))


def refuse_logged_in(agent_id: Hashable, logged_in: bool, reload: bool = False) -> None:
    """StateError when the agent to remove is logged in (``reload``: the removal is a reload's). No timer
    changes presence, so this is checked before the timers due."""
    if logged_in and reload:
        raise StateError(f"reload: agent {agent_id!r} is logged in: log it out before a reload removes it")
    if logged_in:
        raise StateError(f"agent {agent_id!r} is logged in: log it out before removing it")


class AgentRemove(NamedTuple):
    """A checked removal: the agent's row, the queues it leaves (in order), the configuration without it."""

    agent: int
    queues: tuple[int, ...]
    config: RouterConfig


def plan_agent_remove(cfg: RouterConfig, agent_id: Hashable, agent_index: dict) -> AgentRemove:
    """Check the removal of an agent (the engine checks that it is logged out) and build the configuration
    without it and its memberships, changing nothing. UnknownIdError for an unknown agent; StateError for a
    queue's dedicated agent (the queue names it)."""
    try:
        a = agent_index[agent_id]
    except (KeyError, TypeError):
        raise UnknownIdError(f"unknown agent {agent_id!r}") from None
    for q in cfg.queues:
        if q.dedicated_agent == agent_id:
            raise StateError(f"agent {agent_id!r} is the dedicated agent of queue {q.name!r}: it cannot be "
                             "removed while the configuration names it")
    left = tuple(i for i, q in enumerate(cfg.queues) if any(m.agent == agent_id for m in q.members))
    queues = tuple(replace(q, members=tuple(m for m in q.members if m.agent != agent_id)) if i in left else q
                   for i, q in enumerate(cfg.queues))
    agents = tuple(x for x in cfg.agents if x.id != agent_id)
    return AgentRemove(a, left, replace(cfg, agents=agents, queues=queues))
