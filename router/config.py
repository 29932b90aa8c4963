"""Router configuration: parsed from a dict or TOML file and validated.

Every problem raises :class:`ConfigError` whose message names the key path,
e.g. ``queues[1].ring_timeout_s: must be > 0, got -3``. The schema is
documented in docs/routing.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Hashable

from .codes import STRATEGY_ALIASES, STRATEGY_NAMES
from .empty import SETTINGS as EMPTY_SETTINGS, check_steps, parse_conditions
from .config_limits import (
    MAX_AGENTS, MAX_CHANNELS, MAX_QUEUES, MAX_SECONDS, MAX_SKILLS, MAX_STEPS, MIN_RING_S, check_agent_id, check_count,
    check_name, check_seconds_bound, short,
)
from .errors import ConfigError

MAX_LEVEL = 5
MAX_MEMBER_VALUE = 2**31 - 1  # the largest tier, position or penalty of a queue member
MAX_SECONDS_INT = 2**53  # an integer given for a number: beyond this, its float would not be the integer


@dataclass(frozen=True)
class EscalationStep:
    after_s: float
    min_level_drop: int = 0
    add_groups: tuple[str, ...] = ()
    max_penalty: int | None = None
    overflow: str | None = None


@dataclass(frozen=True)
class MemberConfig:
    agent: Hashable
    tier: int = 1
    position: int = 0
    penalty: int = 0
    weight: float = 1.0
    from_step: int = 0  # escalation step from which this member serves the queue


@dataclass(frozen=True)
class QueueConfig:
    name: str
    strategy: str = "longest-idle-agent"
    skills: tuple[tuple[str, int], ...] = ()
    members: tuple[MemberConfig, ...] = ()
    sl_threshold_s: float = 20.0
    max_wait_s: float = math.inf
    max_wait_no_agents_s: float = math.inf
    max_length: int = 0  # 0 = unlimited
    overflow: str | None = None
    wrap_up_s: float = 0.0
    ring_timeout_s: float = 15.0
    reject_delay_s: float = 0.0
    busy_delay_s: float = 0.0
    no_answer_delay_s: float = 0.0
    max_no_answer: int = 0  # 0 = never put the agent in NOT_READY
    ring_step_s: float = 5.0  # ring-progressively: add one agent every step
    preferred_fallback_s: float = 30.0
    dedicated_agent: Hashable | None = None
    escalation: tuple[EscalationStep, ...] = ()
    max_penalty: int | None = None
    weight: float = 1.0
    expected_aht_s: float = 180.0
    join_empty: tuple[str, ...] = ()  # empty.CONDITIONS: refused on entry to a queue empty under them
    leave_when_empty: tuple[str, ...] = ()  # waiting callers leave when the queue is empty under them
    removed: bool = False  # only in a running router's configuration: removed at run time (queue_remove)


@dataclass(frozen=True)
class AgentConfig:
    id: Hashable
    skills: tuple[tuple[str, int], ...] = ()
    capacity: tuple[tuple[str, int], ...] = (("voice", 1),)
    groups: tuple[str, ...] = ()
    # The agent's own settings (FreeSWITCH mod_callcenter keeps them per agent); None: the queue's.
    wrap_up_s: float | None = None
    reject_delay_s: float | None = None
    busy_delay_s: float | None = None
    no_answer_delay_s: float | None = None
    max_no_answer: int | None = None


@dataclass(frozen=True)
class RouterConfig:
    queues: tuple[QueueConfig, ...]
    agents: tuple[AgentConfig, ...]
    skills: tuple[str, ...]
    channels: tuple[str, ...] = ("voice", "chat")
    seed: int = 0
    interval_s: float = 900.0
    short_abandon_s: float = 5.0
    intervals_kept: int = 96  # statistics keep the per-interval rows of the last this many intervals
    extra: dict[str, Any] = field(default_factory=dict)


def _err(path: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {msg}")


def _num(d: dict, key: str, path: str, default: float, *, lo: float = 0.0, strict: bool = False,
         allow_inf: bool = True) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _err(f"{path}.{key}", f"must be a number, got {short(v)}")
    if isinstance(v, int) and abs(v) > MAX_SECONDS_INT:  # float() of a huge one overflows
        raise _err(f"{path}.{key}", f"must be a number from {lo:g} to {MAX_SECONDS:g}, got {short(v)}")
    v = float(v)
    if math.isnan(v) or (not allow_inf and math.isinf(v)):
        raise _err(f"{path}.{key}", f"must be a finite number, got {v!r}")
    if v < lo or (strict and v == lo):
        raise _err(f"{path}.{key}", f"must be {'>' if strict else '>='} {lo:g}, got {v:g}")
    check_seconds_bound(v, f"{path}.{key}")
    return v


def _int(d: dict, key: str, path: str, default: int | None, *, lo: int = 0, hi: int | None = None) -> int | None:
    v = d.get(key, default)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise _err(f"{path}.{key}", f"must be an integer, got {short(v)}")
    if v < lo or (hi is not None and v > hi):
        raise _err(f"{path}.{key}", f"must be in [{lo}, {hi if hi is not None else '∞'}], got {short(v)}")
    return v


def _check_keys(d: Any, allowed: set[str], path: str) -> None:
    if not isinstance(d, dict):
        raise _err(path, f"must be a table/dict, got {type(d).__name__}")
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise _err(f"{path}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")


def _skills(v: Any, path: str, known: set[str] | None) -> tuple[tuple[str, int], ...]:
    if v is None:
        return ()
    if not isinstance(v, dict):
        raise _err(path, f"must map skill name to level 1-{MAX_LEVEL}, got {v!r}")
    out = []
    for name, level in v.items():
        check_name(name, f"{path}.{name}" if isinstance(name, str) else path, "a skill name")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= MAX_LEVEL:
            raise _err(f"{path}.{name}", f"level must be an integer 1-{MAX_LEVEL}, got {level!r}")
        if known is not None and name not in known:
            raise _err(f"{path}.{name}", "unknown skill (not held by any agent nor listed in 'skills')")
        out.append((str(name), level))
    return tuple(out)


_QUEUE_KEYS = {f for f in QueueConfig.__dataclass_fields__ if f != "removed"} | {"groups"}
AGENT_SETTINGS = ("wrap_up_s", "reject_delay_s", "busy_delay_s", "no_answer_delay_s", "max_no_answer")
_AGENT_KEYS = {"id", "skills", "capacity", "groups", *AGENT_SETTINGS}
_TOP_KEYS = {"queues", "agents", "skills", "channels", "seed", "interval_s", "short_abandon_s", "intervals_kept"}
MIN_INTERVAL_S = 1.0
MAX_INTERVALS_KEPT = 100_000
_STEP_KEYS = {"after_s", "min_level_drop", "add_groups", "max_penalty", "overflow"}
_MEMBER_KEYS = {"agent", "tier", "position", "penalty", "weight"}


def parse_config(raw: dict[str, Any]) -> RouterConfig:
    """Validate ``raw`` and return a :class:`RouterConfig`."""
    _check_keys(raw, _TOP_KEYS, "config")
    channels = raw.get("channels", ["voice", "chat"])
    if not isinstance(channels, list) or not channels or not all(isinstance(c, str) for c in channels):
        raise _err("channels", "must be a non-empty list of channel names")
    if len(set(channels)) != len(channels):
        raise _err("channels", "duplicate channel name")
    check_count(len(channels), MAX_CHANNELS, "channels", "channels")
    for c in channels:
        check_name(c, "channels", "a channel name")

    agents_raw = raw.get("agents", [])
    if not isinstance(agents_raw, list):
        raise _err("agents", "must be a list")
    check_count(len(agents_raw), MAX_AGENTS, "agents", "agents")
    agents: list[AgentConfig] = []
    seen: set = set()
    skill_names: list[str] = list(raw.get("skills", []))
    if not all(isinstance(s, str) for s in skill_names):
        raise _err("skills", "must be a list of skill names")
    for s in skill_names:
        check_name(s, "skills", "a skill name")
    for i, a in enumerate(agents_raw):
        agents.append(parse_agent(a, f"agents[{i}]", channels, skill_names, seen))
    check_count(len(set(skill_names)), MAX_SKILLS, "skills", "distinct skills (listed or held by agents)")

    by_group = agent_groups(agents)

    queues_raw = raw.get("queues")
    if not isinstance(queues_raw, list) or not queues_raw:
        raise _err("queues", "must be a non-empty list of queues")
    check_count(len(queues_raw), MAX_QUEUES, "queues", "queues")
    names = []
    for i, q in enumerate(queues_raw):
        _check_keys(q, _QUEUE_KEYS, f"queues[{i}]")
        n = check_name(q.get("name"), f"queues[{i}].name", "a queue name")
        if n in names:
            raise _err(f"queues[{i}].name", f"duplicate queue name {n!r}")
        names.append(n)
    known_skills = set(skill_names)
    queues = tuple(_parse_queue(q, i, names, seen, by_group, known_skills) for i, q in enumerate(queues_raw))
    seed = _int(raw, "seed", "config", 0, lo=0, hi=2**63 - 1)
    return RouterConfig(
        queues=queues, agents=tuple(agents), skills=tuple(skill_names), channels=tuple(channels),
        seed=seed or 0,
        interval_s=_num(raw, "interval_s", "config", 900.0, lo=MIN_INTERVAL_S, allow_inf=False),
        short_abandon_s=_num(raw, "short_abandon_s", "config", 5.0, allow_inf=False),
        intervals_kept=_int(raw, "intervals_kept", "config", RouterConfig.intervals_kept, lo=1, hi=MAX_INTERVALS_KEPT),
    )


def parse_agent(a: Any, p: str, channels: list[str], skill_names: list[str], seen: set,
                fixed_skills: bool = False) -> AgentConfig:
    """One agent table at path ``p``: its id (not in ``seen``; added to it), skills (new names join
    ``skill_names`` unless ``fixed_skills``), capacity per channel, groups and own settings."""
    _check_keys(a, _AGENT_KEYS, p)
    if "id" not in a:
        raise _err(f"{p}.id", "missing")
    aid = check_agent_id(a["id"], f"{p}.id")
    if aid in seen:
        raise _err(f"{p}.id", f"duplicate agent id {aid!r}")
    sk = _skills(a.get("skills"), f"{p}.skills", set(skill_names) if fixed_skills else None)
    seen.add(aid)
    for s, _ in sk:
        if s not in skill_names:
            skill_names.append(s)
    cap_raw = a.get("capacity", {"voice": 1})
    if not isinstance(cap_raw, dict):
        raise _err(f"{p}.capacity", "must map channel to a count")
    for ch, n in cap_raw.items():
        if ch not in channels:
            raise _err(f"{p}.capacity.{ch}", f"unknown channel (channels: {', '.join(channels)})")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0 or n > 1000:
            raise _err(f"{p}.capacity.{ch}", f"must be an integer 0-1000, got {n!r}")
    groups = _names(a.get("groups", []), f"{p}.groups")
    own = {k: _num(a, k, p, 0.0, allow_inf=False) for k in AGENT_SETTINGS[:4] if k in a}
    if "max_no_answer" in a:
        own["max_no_answer"] = _int(a, "max_no_answer", p, 0, lo=0, hi=1_000_000)
    return AgentConfig(aid, sk, tuple(cap_raw.items()), tuple(groups), **own)


def agent_groups(agents) -> dict[str, list[Hashable]]:
    """Group name -> the ids of its agents (AgentConfig), in agent order."""
    by_group: dict[str, list[Hashable]] = {}
    for a in agents:
        for g in a.groups:
            by_group.setdefault(g, []).append(a.id)
    return by_group


def _is_id(v: Any) -> bool:
    return isinstance(v, (str, int)) and not isinstance(v, bool)


def _names(v: Any, path: str) -> list[str]:
    if not isinstance(v, list) or not all(isinstance(g, str) for g in v):
        raise _err(path, "must be a list of group names")
    for g in v:
        check_name(g, path, "a group name")
    return v


def _parse_queue(q: dict, i: int | str, names: list[str], agent_ids: set, by_group: dict,
                 known_skills: set[str]) -> QueueConfig:
    """Queue table ``q``, at ``queues[i]`` (or at path ``i``, a queue added at run time)."""
    p = i if isinstance(i, str) else f"queues[{i}]"
    _strategy(q, p)  # checked before the members, as it always was (the value comes with the settings below)
    members: list[MemberConfig] = []
    listed: set = set()

    def add(agent: Hashable, path: str, m: dict | None, from_step: int) -> None:
        if not _is_id(agent) or agent not in agent_ids:
            raise _err(path, f"unknown agent {agent!r}")
        if agent in listed:
            return  # first listing wins (explicit member or earlier group)
        listed.add(agent)
        m = m or {}
        members.append(MemberConfig(
            agent=agent, tier=_int(m, "tier", path, 1, lo=0, hi=MAX_MEMBER_VALUE) or 0,
            position=_int(m, "position", path, len(members), lo=0, hi=MAX_MEMBER_VALUE) or 0,
            penalty=_int(m, "penalty", path, 0, lo=0, hi=MAX_MEMBER_VALUE) or 0,
            weight=_num(m, "weight", path, 1.0, strict=True, allow_inf=False), from_step=from_step))

    raw_members = q.get("members", [])
    if not isinstance(raw_members, list):
        raise _err(f"{p}.members", "must be a list of agent ids or {agent = ..., tier = ...} tables")
    for j, m in enumerate(raw_members):
        mp = f"{p}.members[{j}]"
        if isinstance(m, dict):
            _check_keys(m, _MEMBER_KEYS, mp)
            if "agent" not in m:
                raise _err(f"{mp}.agent", "missing")
            add(m["agent"], mp, m, 0)
        else:
            add(m, mp, None, 0)
    for g in _names(q.get("groups", []), f"{p}.groups"):
        if g not in by_group:
            raise _err(f"{p}.groups", f"no agent is in group {g!r}")
        for a in by_group[g]:
            add(a, f"{p}.groups.{g}", None, 0)

    steps: list[EscalationStep] = []
    last = 0.0
    esc = q.get("escalation", [])
    if not isinstance(esc, list):
        raise _err(f"{p}.escalation", "must be a list of steps")
    check_count(len(esc), MAX_STEPS, f"{p}.escalation", "steps")
    for k, s in enumerate(esc):
        sp = f"{p}.escalation[{k}]"
        _check_keys(s, _STEP_KEYS, sp)
        if "after_s" not in s:
            raise _err(f"{sp}.after_s", "missing")
        after = _num(s, "after_s", sp, 0.0, strict=True, allow_inf=False)
        if after <= last:
            raise _err(f"{sp}.after_s", f"steps must have increasing after_s, got {after:g} after {last:g}")
        last = after
        ov = s.get("overflow")
        if ov is not None and (ov not in names or ov == q["name"]):
            raise _err(f"{sp}.overflow", f"unknown or same queue {ov!r}")
        groups = _names(s.get("add_groups", []), f"{sp}.add_groups")
        for g in groups:
            if g not in by_group:
                raise _err(f"{sp}.add_groups", f"no agent is in group {g!r}")
            for a in by_group[g]:
                add(a, f"{sp}.add_groups.{g}", None, k + 1)
        steps.append(EscalationStep(after, _int(s, "min_level_drop", sp, 0, lo=0, hi=4) or 0, tuple(groups),
                                    _int(s, "max_penalty", sp, None, lo=0), ov))

    settings = {k: queue_setting(q, k, p, names) for k in QUEUE_SETTINGS}
    dedicated = q.get("dedicated_agent")
    if dedicated is not None and (not _is_id(dedicated) or dedicated not in agent_ids):
        raise _err(f"{p}.dedicated_agent", f"unknown agent {dedicated!r}")
    config = QueueConfig(
        name=q["name"], skills=_skills(q.get("skills"), f"{p}.skills", known_skills),
        members=tuple(members),
        **settings,
        dedicated_agent=dedicated,
        escalation=tuple(steps),
        expected_aht_s=_num(q, "expected_aht_s", p, 180.0, strict=True, allow_inf=False),
    )
    check_queue(config, p)
    return config


def check_queue(q: QueueConfig, path: str) -> None:
    """The rules that tie a queue's settings together, for a configuration file and for a change at run time:
    a dedicated agent only with strategy preferred-agent; the escalation steps a leave rule can follow."""
    if q.dedicated_agent is not None and q.strategy != "preferred-agent":
        raise _err(f"{path}.dedicated_agent", f"only with strategy 'preferred-agent' (a queue with a dedicated agent "
                                              f"keeps it), not {q.strategy!r}")
    check_steps(q, path)


#: The queue settings a running engine can change (``queue_update``), checked by :func:`queue_setting`:
#: seconds (default, strictly positive, may be infinite) and integers (default, largest).
QUEUE_SECONDS = {"sl_threshold_s": (20.0, False, False), "max_wait_s": (math.inf, True, True),
                 "max_wait_no_agents_s": (math.inf, False, True), "wrap_up_s": (0.0, False, False),
                 "ring_timeout_s": (15.0, True, False), "reject_delay_s": (0.0, False, False),
                 "busy_delay_s": (0.0, False, False), "no_answer_delay_s": (0.0, False, False),
                 "ring_step_s": (5.0, True, False), "preferred_fallback_s": (30.0, False, True)}
RING_SECONDS = ("ring_timeout_s", "ring_step_s")  # at least MIN_RING_S (config_limits.py)
QUEUE_INTS = {"max_length": (0, 1_000_000_000), "max_no_answer": (0, 1_000_000),
              "max_penalty": (None, MAX_MEMBER_VALUE)}
QUEUE_SETTINGS = (*QUEUE_SECONDS, *QUEUE_INTS, "overflow", "weight", "strategy")
QUEUE_SETTINGS += EMPTY_SETTINGS  # join_empty, leave_when_empty (empty.py)


def _strategy(q: dict, path: str) -> str:
    """The queue's strategy: a busyhour name, or an Asterisk alias taken as the busyhour name."""
    strategy = q.get("strategy", "longest-idle-agent")
    strategy = STRATEGY_ALIASES.get(strategy, strategy) if isinstance(strategy, str) else strategy
    if not isinstance(strategy, str) or strategy not in STRATEGY_NAMES:
        raise _err(f"{path}.strategy", f"unknown strategy {strategy!r} (one of: {', '.join(STRATEGY_NAMES)}; "
                                       f"or Asterisk's {', '.join(STRATEGY_ALIASES)})")
    return strategy


def queue_setting(q: dict, key: str, path: str, names: list[str]) -> Any:
    """Queue setting ``key`` of the raw queue ``q`` (its default when absent), checked; ``names``: every
    queue's name (an overflow names one of them, not ``q['name']``)."""
    if key in QUEUE_SECONDS:
        default, strict, allow_inf = QUEUE_SECONDS[key]
        if key in RING_SECONDS:
            return _num(q, key, path, default, lo=MIN_RING_S, allow_inf=allow_inf)
        return _num(q, key, path, default, strict=strict, allow_inf=allow_inf)
    if key in QUEUE_INTS:
        default, hi = QUEUE_INTS[key]
        v = _int(q, key, path, default, lo=0, hi=hi)
        return v if default is None else v or 0
    if key == "weight":
        return _num(q, key, path, 1.0, strict=True, allow_inf=False)
    if key == "strategy":
        return _strategy(q, path)
    if key in EMPTY_SETTINGS:
        return parse_conditions(q.get(key, []), f"{path}.{key}")
    if key != "overflow":
        raise _err(f"{path}.{key}", f"not a queue setting that can change (one of: {', '.join(QUEUE_SETTINGS)})")
    t = q.get("overflow")
    if t is not None and (not isinstance(t, str) or t not in names):
        raise _err(f"{path}.overflow", f"unknown queue {t!r}")
    if t is not None and t == q.get("name"):
        raise _err(f"{path}.overflow", "a queue cannot overflow to itself")
    return t


from .config_files import load_toml, parse_toml, read_toml_text  # noqa: E402 - they use parse_config

__all__ = ["load_toml", "parse_toml", "read_toml_text"]  # re-exported: config files are read here too
