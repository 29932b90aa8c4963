"""A reload's plan: a whole new configuration as the run-time changes that take the running one to it.

Queues are matched by name and agents by id, whatever their order in the
file (docs/routing.md §16). A reload adds agents and queues, changes queue
settings (those ``queue_update`` changes) and memberships, and removes
queues and agents, in that order, keeping every call and agent state. Any
other difference (an agent's skills or capacity, a queue's skills or
escalation steps, the router's skills, channels, seed or intervals) needs a
restart: ConfigError names every one, and nothing changes. The engine then
checks what depends on its state: a queue removed holds no waiting or
ringing call, an agent removed is logged out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Hashable, NamedTuple

from .config import QUEUE_SETTINGS, AgentConfig, MemberConfig, QueueConfig, RouterConfig
from .errors import ConfigError
from .membership import MAX_AGENTS
from .queue_plans import MAX_QUEUES, removed_queue


class QueueReload(NamedTuple):
    """What a reload changes in one queue: its new configuration, whether its settings change, and the
    members added, updated and removed (agent indices; with, for the last two, whether the agent staffed the
    queue before)."""

    queue: int
    config: QueueConfig
    settings_changed: bool
    added: tuple[int, ...]
    updated: tuple[tuple[int, bool], ...]
    removed: tuple[tuple[int, bool], ...]


class ReloadPlan(NamedTuple):
    """What a reload changes, in the order it is applied: agents added (in the new file's order), queues
    added (row, configuration), each running queue that changes, queues removed (names), agents removed
    (ids); ``config``: the running configuration after it (queues in row order, removed ones kept)."""

    agents: tuple[AgentConfig, ...]
    queues_added: tuple[tuple[int, QueueConfig], ...]
    queues: list[QueueReload]
    queues_removed: tuple[str, ...]
    agents_removed: tuple[Hashable, ...]
    config: RouterConfig

    @property
    def changes(self) -> bool:
        return bool(self.agents or self.queues_added or self.queues or self.queues_removed or self.agents_removed)


_FIXED_QUEUE = sorted(set(QueueConfig.__dataclass_fields__) - set(QUEUE_SETTINGS) - {"members", "removed"})


def _same_agent(a: AgentConfig, b: AgentConfig) -> bool:
    """Equal but for ``groups``, which only list members (the queues give those)."""
    return a == b or (a.groups != b.groups and replace(a, groups=b.groups) == b)


def _but_position(m: MemberConfig) -> tuple:
    return m.tier, m.penalty, m.weight, m.from_step


def _order(members: tuple[MemberConfig, ...], among: dict) -> list:
    """The agents of ``members`` that are in ``among``, in (position, listing) order: the order offers follow."""
    return [a for _, _, a in sorted((m.position, i, m.agent) for i, m in enumerate(members)) if a in among]


def plan_reload(cfg: RouterConfig, new: RouterConfig, agent_index: dict, n_rows: int) -> ReloadPlan:
    """The changes that take the running configuration ``cfg`` to ``new``, changing nothing (see the module
    docstring). ``agent_index``: the engine's agent id -> row; ``n_rows``: its agent rows (removed agents'
    included), so the agents added take rows ``n_rows``, ``n_rows + 1``, …"""
    if not isinstance(new, RouterConfig):
        raise ConfigError("reload: expected a RouterConfig (busyhour.router.parse_config or load_toml)")
    fixed = [name for name in ("skills", "channels", "seed", "interval_s", "short_abandon_s",
                                    "intervals_kept")
             if getattr(cfg, name) != getattr(new, name)]
    old_agents = {a.id: a for a in cfg.agents}
    new_agents = {a.id: a for a in new.agents}
    fixed += [f"agents[{a.id!r}] (its skills, capacity or own settings)" for a in new.agents
              if a.id in old_agents and not _same_agent(old_agents[a.id], a)]
    added = tuple(a for a in new.agents if a.id not in old_agents)
    if n_rows + len(added) > MAX_AGENTS:
        fixed.insert(0, f"agents (more than {MAX_AGENTS:,} rows)")
    live = {q.name: i for i, q in enumerate(cfg.queues) if not q.removed}
    new_queues = {q.name: q for q in new.queues}
    fixed += [f"queues[{q.name!r}].{k}" for q in new.queues if q.name in live
              for k in _FIXED_QUEUE if getattr(cfg.queues[live[q.name]], k) != getattr(q, k)]
    rows: list = list(cfg.queues)
    was_removed = {q.name: i for i, q in enumerate(cfg.queues) if q.removed}
    queues_added = []
    for q in new.queues:
        if q.name not in live:
            r = was_removed.get(q.name, len(rows))
            rows[r:r + 1] = [q]
            queues_added.append((r, q))
    if len(rows) > MAX_QUEUES:
        fixed.insert(0, f"queues (more than {MAX_QUEUES:,} rows)")
    if fixed:
        raise ConfigError(f"reload: these differences need a restart: {', '.join(fixed)}")
    index = {**agent_index, **{a.id: n_rows + k for k, a in enumerate(added)}}
    out = []
    for name, qi in live.items():
        if name in new_queues:
            r = _queue_reload(qi, cfg.queues[qi], new_queues[name], index)
            if r is not None:
                out.append(r)
            rows[qi] = new_queues[name]
        else:
            rows[qi] = removed_queue(cfg.queues[qi])
    agents = tuple(new_agents[a.id] for a in cfg.agents if a.id in new_agents) + added
    return ReloadPlan(added, tuple(queues_added), out, tuple(n for n in live if n not in new_queues),
                      tuple(a.id for a in cfg.agents if a.id not in new_agents),
                      replace(new, queues=tuple(rows), agents=agents))


def _queue_reload(qi: int, a: QueueConfig, b: QueueConfig, index: dict) -> QueueReload | None:
    """The changes to running queue ``qi`` from ``a`` to ``b`` (None: none)."""
    settings = any(getattr(a, k) != getattr(b, k) for k in QUEUE_SETTINGS)
    old = {m.agent: m for m in a.members}
    now = {m.agent: m for m in b.members}
    added = tuple(index[m.agent] for m in b.members if m.agent not in old)
    changed = [m for m in b.members if m.agent in old and old[m.agent] != m]
    if changed and _order(a.members, now) == _order(b.members, old):  # positions moved, the order did not
        changed = [m for m in changed if _but_position(old[m.agent]) != _but_position(m)]
    updated = tuple((index[m.agent], old[m.agent].from_step == 0) for m in changed)
    removed = tuple((index[m.agent], m.from_step == 0) for m in a.members if m.agent not in now)
    order = [m.agent for m in a.members if m.agent in now] != [m.agent for m in b.members if m.agent in old]
    if settings or added or updated or removed or order:
        return QueueReload(qi, b, settings, added, updated, removed)
    return None


__all__ = ["QueueReload", "ReloadPlan", "plan_reload"]
