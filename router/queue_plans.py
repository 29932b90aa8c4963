"""Queues added and removed at run time, and a reload's plan: the checks and the configuration after them.

``queue_add`` takes a queue table as in the configuration file; the queue
gets a new row, last, or the row of a removed queue of the same name (so a
name keeps one row: its statistics go on). ``queue_remove`` takes a queue
out: its waiting and ringing calls move to ``to`` (refused without one while
it holds any), its members leave it, and its row stays, marked removed, with
no members, so no index moves; its connected calls finish as they would
have. A queue that another one overflows to, at once or at an escalation
step, cannot be removed. :func:`plan_reload` turns a whole new configuration
into these changes, matching queues and agents by name and id
(docs/routing.md §16). Each function changes nothing; the engines apply.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, NamedTuple

from .config import (
    _QUEUE_KEYS, QueueConfig, RouterConfig, _check_keys, _parse_queue, agent_groups,
)
from .config_limits import MAX_QUEUES, check_name  # the queue rows a router takes (reload_plan.py imports it from here)
from .errors import ConfigError, StateError, UnknownIdError


def live_names(cfg: RouterConfig) -> list[str]:
    """The names of the queues a router runs (removed ones left out), in row order."""
    return [q.name for q in cfg.queues if not q.removed]


def removed_queue(q: QueueConfig) -> QueueConfig:
    """What a removed queue's row keeps: its settings, with no members and no queue or agent named."""
    return replace(q, members=(), removed=True, dedicated_agent=None, overflow=None,
                   escalation=tuple(replace(s, overflow=None) for s in q.escalation))


class QueueAdd(NamedTuple):
    """A checked new queue: its row (new and last, or a removed queue's of the same name) and the
    configuration with it."""

    queue: int
    config: RouterConfig


def plan_queue_add(cfg: RouterConfig, raw: Any) -> QueueAdd:
    """Check a queue table as the configuration file's (its members among the router's agents, its skills
    among the router's, its overflow queues running) for a queue added at run time. ConfigError names what
    is wrong; a name in use is a StateError."""
    if not isinstance(raw, dict):
        raise ConfigError(f"queue: expected a table (name, strategy, members, …), got {type(raw).__name__}")
    _check_keys(raw, _QUEUE_KEYS, "queue")
    name = check_name(raw.get("name"), "queue.name", "a queue name")
    names = live_names(cfg)
    if name in names:
        raise StateError(f"queue {name!r} already exists; change it with queue_update and member_add")
    row = next((i for i, q in enumerate(cfg.queues) if q.name == name), len(cfg.queues))
    if row == len(cfg.queues) and row >= MAX_QUEUES:
        raise ConfigError(f"queue_add: this router has {MAX_QUEUES:,} queues, its limit")
    q = _parse_queue(raw, "queue", [*names, name], {a.id for a in cfg.agents}, agent_groups(cfg.agents),
                     set(cfg.skills))
    return QueueAdd(row, replace(cfg, queues=cfg.queues[:row] + (q,) + cfg.queues[row + 1:]))


class QueueRemove(NamedTuple):
    """A checked removal: the queue's row, the row its calls move to (-1: none given), its members (agent
    row, whether it staffed the queue) in order, and the configuration after it."""

    queue: int
    to: int
    members: tuple[tuple[int, bool], ...]
    config: RouterConfig


def plan_queue_remove(cfg: RouterConfig, queue: str, to: str | None, queue_index: dict,
                      agent_index: dict) -> QueueRemove:
    """Check the removal of ``queue`` (the engine checks that it holds no waiting or ringing call when
    ``to`` is None). UnknownIdError for an unknown queue; StateError when ``to`` is the queue itself or
    another queue overflows to it."""
    try:
        qi = queue_index[queue]
    except (KeyError, TypeError):
        raise UnknownIdError(f"unknown queue {queue!r}") from None
    ti = -1
    if to is not None:
        try:
            ti = queue_index[to]
        except (KeyError, TypeError):
            raise UnknownIdError(f"unknown queue {to!r}") from None
        if ti == qi:
            raise StateError(f"queue {queue!r} cannot send its calls to itself: name another queue in `to`")
    refs = [x.name for x in cfg.queues if not x.removed and x.name != queue
            and (x.overflow == queue or any(s.overflow == queue for s in x.escalation))]
    if refs:
        raise StateError(f"queue {queue!r} is the overflow of queue(s) {', '.join(map(repr, refs))}: change "
                         "their overflow or escalation steps first")
    queues = cfg.queues[:qi] + (removed_queue(cfg.queues[qi]),) + cfg.queues[qi + 1:]
    return removal(cfg, qi, ti, agent_index, replace(cfg, queues=queues))


def removal(cfg: RouterConfig, qi: int, to: int, agent_index: dict, after: RouterConfig) -> QueueRemove:
    """The removal of queue row ``qi`` of ``cfg`` (its members leaving, in order), the configuration then
    ``after`` (queue_remove's, or a reload's)."""
    return QueueRemove(qi, to, tuple((agent_index[m.agent], m.from_step == 0) for m in cfg.queues[qi].members),
                       after)


def refuse_calls(queue: str, calls: int, reload: bool = False) -> None:
    """StateError when queue ``queue``, to be removed with nowhere to send its calls, holds ``calls`` waiting or
    ringing calls (``reload``: the removal is a reload's)."""
    if calls and reload:
        raise StateError(f"reload: queue {queue!r} holds {calls} waiting or ringing call(s): move them (call_move) "
                         "or remove the queue with queue_remove(to=…) first")
    if calls:
        raise StateError(f"queue {queue!r} holds {calls} waiting or ringing call(s): name the queue they move to "
                         "(to=…)")
