"""Scenario files: TOML → validated, frozen ``Scenario`` record.

The schema is documented key by key in docs/scenarios.md. Every mistake
raises ``ScenarioError`` whose message starts with the full key path
(``queues[1].handle_time.cv: must be > 0 (got -1)``); unknown keys are
errors too, so a typo never silently falls back to a default.

Times are seconds (keys ending ``_s``); the top-level times also accept
minutes (``horizon_min``), never both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from busyhour.router.config_files import toml_problem
from busyhour.router.config_limits import short
from busyhour.sim import distributions as d
from busyhour.sim import limits
from busyhour.sim.scenario_dist import parse_dist
from busyhour.sim.validate import ScenarioError, _get, _keys, _list, _num, _time, _unique

__all__ = ["Burst", "CallbackOffer", "Period", "QueueSpec", "Redial", "Scenario", "ScenarioError", "TeamSpec", "load_scenario",
           "parse_scenario", "run_cache"]


@dataclass(frozen=True)
class Period:
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Redial:
    probability: float = 0.0
    delay: d.Distribution = d.Exponential(300.0)
    max_attempts: int = 3


@dataclass(frozen=True)
class CallbackOffer:
    ewt_threshold_s: float = math.inf
    accept_probability: float = 0.0


@dataclass(frozen=True)
class QueueSpec:
    name: str
    calls_per_interval: tuple[float, ...]
    handle_time: d.Distribution
    after_call_work: d.Distribution | None = None  # None: the router queue's own wrap_up_s
    patience: d.Distribution = d.Never()
    overdispersion_cv: float = 0.0
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    redial: Redial = Redial()
    callback: CallbackOffer = CallbackOffer()
    router: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TeamSpec:
    name: str
    agents: int
    skills: dict[str, int]
    shifts: tuple[Period, ...] = ()
    breaks: tuple[Period, ...] = ()
    break_spread_s: float = 0.0
    answer_delay: d.Distribution = d.Constant(0.0)
    aht_factor: float = 1.0
    queues: tuple[str, ...] | None = None  # None: every queue whose skills the team holds


@dataclass(frozen=True)
class Burst:
    queue: str
    start_s: float
    duration_s: float
    extra_calls_per_h: float


@dataclass(frozen=True)
class Scenario:
    name: str
    horizon_s: float
    interval_s: float
    queues: tuple[QueueSpec, ...]
    teams: tuple[TeamSpec, ...]
    warmup_s: float = 0.0
    sl_threshold_s: float = 20.0
    seed: int = 1
    drain_s: float = 4 * 3600.0
    bursts: tuple[Burst, ...] = ()
    router: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    start_clock_s: float = 0.0  # display only: time of day at t = 0 ("08:00" → 28800)

    def __getstate__(self) -> dict:
        """Pickled without :func:`run_cache`'s entries (a process-pool job carries the scenario, not what
        this process built from it)."""
        state = dict(self.__dict__)
        state.pop(_RUN_CACHE, None)
        return state

    def clock(self, t_s: float) -> str:
        """``t_s`` as a time of day, e.g. ``"09:15"``."""
        m = int((self.start_clock_s + t_s) // 60)
        return f"{m // 60 % 24:02d}:{m % 60:02d}"

    @property
    def n_intervals(self) -> int:
        return math.ceil(self.horizon_s / self.interval_s - 1e-9)

    @property
    def n_agents(self) -> int:
        return sum(t.agents for t in self.teams)

    def with_agents(self, total: int) -> Scenario:
        """The same scenario with ``total`` agents, split over teams in proportion
        (largest remainder; a team never drops below 0)."""
        limits.check_agents(total, "agents")
        base = self.n_agents
        if base == 0:
            raise ScenarioError("teams: no agents to scale")
        exact = [t.agents * total / base for t in self.teams]
        counts = [math.floor(x) for x in exact]
        order = sorted(range(len(exact)), key=lambda i: (counts[i] - exact[i], i))
        for i in order[: total - sum(counts)]:
            counts[i] += 1
        return replace(self, teams=tuple(replace(t, agents=c) for t, c in zip(self.teams, counts)))

    def with_strategy(self, strategy: str) -> Scenario:
        """The same scenario with every queue routed by ``strategy``."""
        queues = tuple(replace(q, router={**q.router, "strategy": strategy}) for q in self.queues)
        return replace(self, queues=queues, router={**self.router, "strategy": strategy})


_RUN_CACHE = "_run_cache"


def run_cache(scn: Scenario) -> dict:
    """A dict kept on ``scn`` itself for what its runs build once and reuse (fast_setup.py: the parsed
    router configuration and the compiled loop's starting state, by seed). Not a field: not compared,
    printed or pickled, and a changed copy (``dataclasses.replace``) starts without it."""
    cache = scn.__dict__.get(_RUN_CACHE)
    if cache is None:
        cache = {}
        object.__setattr__(scn, _RUN_CACHE, cache)  # frozen: the dataclass refuses plain assignment
    return cache


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    data = limits.read_file(path, "scenario TOML file")
    try:
        raw, problem = toml_problem(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    if problem is not None:
        raise ScenarioError(f"{path}: not valid TOML: {problem}")
    try:
        return parse_scenario(raw, base_dir=path.parent, source=str(path))
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from None


_TOP = {"name", "horizon_s", "horizon_min", "interval_s", "interval_min", "warmup_s", "warmup_min",
        "drain_s", "drain_min", "sl_threshold_s", "seed", "start_clock", "queues", "teams", "bursts", "router"}
_QUEUE = {"name", "calls_per_interval", "calls_per_hour", "handle_time", "after_call_work", "patience",
          "overdispersion_cv", "priority", "skills", "redial", "callback", "router"}
_TEAM = {"name", "agents", "skills", "shifts", "breaks", "break_spread_s", "answer_delay", "aht_factor", "queues"}


def parse_scenario(raw: dict[str, Any], *, base_dir: Path = Path("."), source: str = "") -> Scenario:
    _keys(raw, _TOP, "")
    horizon = _time(raw, "horizon", "", required=True)
    interval = _time(raw, "interval", "", default=1800.0)
    if horizon <= 0 or interval <= 0:
        raise ScenarioError("horizon_s/interval_s: must be > 0")
    limits.check_times(horizon, interval)
    warmup = _time(raw, "warmup", "", default=0.0)
    if not 0 <= warmup < horizon:
        raise ScenarioError(f"warmup_s: must be >= 0 and < horizon_s ({horizon:g}) (got {warmup:g})")
    n_int = math.ceil(horizon / interval - 1e-9)
    qs = _list(raw, "queues", "", required=True)
    queues = tuple(_queue(q, f"queues[{i}]", n_int, interval, base_dir) for i, q in enumerate(qs))
    _unique([q.name for q in queues], "queues", "name")
    teams = tuple(_team(t, f"teams[{i}]", horizon, base_dir) for i, t in enumerate(_list(raw, "teams", "", required=True)))
    _unique([t.name for t in teams], "teams", "name")
    names = {q.name for q in queues}
    for i, t in enumerate(teams):
        for qn in t.queues or ():
            if qn not in names:
                raise ScenarioError(f"teams[{i}].queues: no queue named {qn!r} (queues: {', '.join(sorted(names))})")
    bursts = []
    for i, b in enumerate(_list(raw, "bursts", "")):
        p = f"bursts[{i}]"
        _keys(b, {"queue", "start_s", "start_min", "duration_s", "duration_min", "extra_calls_per_h", "multiplier"}, p)
        qn = _get(b, "queue", p, str, required=True)
        if qn not in names:
            raise ScenarioError(f"{p}.queue: no queue named {qn!r} (queues: {', '.join(sorted(names))})")
        start, dur = _time(b, "start", p, required=True), _time(b, "duration", p, required=True)
        if not (0 <= start < horizon and 0 < dur <= limits.MAX_HORIZON_S):
            raise ScenarioError(f"{p}.start_s/duration_s: need 0 <= start < horizon_s ({horizon:g}) and "
                                f"0 < duration <= {limits.MAX_HORIZON_S:g} (got {start:g}, {dur:g})")
        extra = _num(b, "extra_calls_per_h", p, lo=0.0)
        mult = _num(b, "multiplier", p, lo=1.0)
        if (extra is None) == (mult is None):
            raise ScenarioError(f"{p}: give exactly one of extra_calls_per_h or multiplier")
        if mult is not None:  # multiplier of the queue's mean rate during the burst
            q = next(q for q in queues if q.name == qn)
            lo, hi = int(start // interval), min(n_int, math.ceil((start + dur) / interval))
            rates = q.calls_per_interval[lo:hi] or (0.0,)
            extra = (mult - 1.0) * sum(rates) / len(rates) * 3600.0 / interval
        bursts.append(Burst(qn, start, dur, float(extra)))
    router = _get(raw, "router", "", dict, default={})
    _check_served(queues, teams)
    scn = Scenario(
        name=_get(raw, "name", "", str, default=Path(source).stem or "scenario"),
        horizon_s=horizon, interval_s=interval, queues=queues, teams=teams, warmup_s=warmup,
        sl_threshold_s=_num(raw, "sl_threshold_s", "", lo=0.0, hi=limits.MAX_DURATION_S, default=20.0),
        seed=limits.check_seed(_get(raw, "seed", "", int, default=1)), drain_s=_time(raw, "drain", "", default=4 * 3600.0),
        bursts=tuple(bursts), router=dict(router), source=source, start_clock_s=_clock(raw),
    )
    limits.check_scenario(scn)
    return scn


def _check_served(queues: tuple[QueueSpec, ...], teams: tuple[TeamSpec, ...]) -> None:
    """A queue no team serves (none holds its skills or lists it) would lose every call: an error."""
    from busyhour.sim.routing import serves

    for i, q in enumerate(queues):
        if not any(serves(t, q.name, q.skills) for t in teams):
            need = ", ".join(sorted(q.skills)) or "none"
            raise ScenarioError(f"queues[{i}]: no team serves {q.name!r} (skills needed: {need}; give a team "
                                f"those skills or list the queue in its queues)")


def _clock(raw: dict) -> float:
    text = _get(raw, "start_clock", "", str, default="00:00")
    hh, _, mm = text.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ScenarioError(f"start_clock: must be HH:MM (got {text!r})")
    return int(hh) * 3600.0 + int(mm) * 60.0


def _queue(q: Any, p: str, n_int: int, interval: float, base_dir: Path) -> QueueSpec:
    if not isinstance(q, dict):
        raise ScenarioError(f"{p}: must be a table")
    _keys(q, _QUEUE, p)
    name = _get(q, "name", p, str, required=True)
    per_int, per_h = q.get("calls_per_interval"), q.get("calls_per_hour")
    if (per_int is None) == (per_h is None):
        raise ScenarioError(f"{p}: give exactly one of calls_per_interval or calls_per_hour")
    key, vol, scale = ("calls_per_interval", per_int, 1.0) if per_h is None else ("calls_per_hour", per_h, interval / 3600.0)
    vols = vol if isinstance(vol, list) else [vol]
    if len(vols) not in (1, n_int):
        raise ScenarioError(f"{p}.{key}: needs 1 or {n_int} values (one per interval), got {len(vols)}")
    for j, v in enumerate(vols):
        if isinstance(v, bool) or not isinstance(v, int | float) or not (v >= 0 and math.isfinite(v)):
            raise ScenarioError(f"{p}.{key}[{j}]: must be a number >= 0 (got {short(v)})")
    volumes = tuple(float(v) * scale for v in (vols * n_int if len(vols) == 1 else vols))
    redial = Redial()
    if "redial" in q:
        r, rp = _get(q, "redial", p, dict), f"{p}.redial"
        _keys(r, {"probability", "delay", "max_attempts"}, rp)
        redial = Redial(_num(r, "probability", rp, lo=0.0, hi=1.0, default=0.0),
                        parse_dist(r, "delay", rp, base_dir, default=d.Exponential(300.0)),
                        _get(r, "max_attempts", rp, int, default=3))
    callback = CallbackOffer()
    if "callback" in q:
        c, cp = _get(q, "callback", p, dict), f"{p}.callback"
        _keys(c, {"ewt_threshold_s", "accept_probability"}, cp)
        callback = CallbackOffer(_num(c, "ewt_threshold_s", cp, lo=0.0, required=True),
                                 _num(c, "accept_probability", cp, lo=0.0, hi=1.0, default=1.0))
    return QueueSpec(
        name=name, calls_per_interval=volumes,
        handle_time=parse_dist(q, "handle_time", p, base_dir, required=True),
        after_call_work=parse_dist(q, "after_call_work", p, base_dir, default=None, none=d.Constant(0.0)),
        patience=parse_dist(q, "patience", p, base_dir, default=d.Never()),
        overdispersion_cv=_overdispersion(q, p),
        priority=_priority(q, p), skills=_skills(q, "skills", p),
        redial=redial, callback=callback, router=dict(_get(q, "router", p, dict, default={})),
    )


def _team(t: Any, p: str, horizon: float, base_dir: Path) -> TeamSpec:
    if not isinstance(t, dict):
        raise ScenarioError(f"{p}: must be a table")
    _keys(t, _TEAM, p)
    agents = _get(t, "agents", p, int, required=True)
    if agents < 0:
        raise ScenarioError(f"{p}.agents: must be >= 0 (got {short(agents)})")
    skills = _skills(t, "skills", p)
    if not skills:
        raise ScenarioError(f"{p}.skills: a team needs at least one skill")
    return TeamSpec(
        name=_get(t, "name", p, str, required=True), agents=agents, skills=skills,
        shifts=_periods(t, "shifts", p, horizon), breaks=_periods(t, "breaks", p, horizon),
        break_spread_s=_num(t, "break_spread_s", p, lo=0.0, hi=limits.MAX_DURATION_S, default=0.0),
        answer_delay=parse_dist(t, "answer_delay", p, base_dir, default=d.Constant(0.0)),
        aht_factor=_num(t, "aht_factor", p, lo=1e-3, hi=1e3, default=1.0),
        queues=_queue_names(t, p),
    )


def _queue_names(t: dict, p: str) -> tuple[str, ...] | None:
    if "queues" not in t:
        return None
    v = _get(t, "queues", p, list)
    if not all(isinstance(x, str) for x in v):
        raise ScenarioError(f"{p}.queues: must be a list of queue names (got {v!r})")
    return tuple(v)


def _periods(t: dict, key: str, p: str, horizon: float) -> tuple[Period, ...]:
    out = []
    periods = _list(t, key, p)
    if len(periods) > limits.MAX_PERIODS:
        raise ScenarioError(f"{p}.{key}: at most {limits.MAX_PERIODS:,} periods (got {len(periods):,})")
    for i, per in enumerate(periods):
        pp = f"{p}.{key}[{i}]"
        _keys(per, {"start_s", "start_min", "end_s", "end_min", "duration_s", "duration_min"}, pp)
        start = _time(per, "start", pp, required=True)
        has_end = "end_s" in per or "end_min" in per
        if has_end == ("duration_s" in per or "duration_min" in per):
            raise ScenarioError(f"{pp}: give exactly one of end_s or duration_s")
        end = _time(per, "end", pp) if has_end else start + _time(per, "duration", pp)
        if not 0 <= start < end:
            raise ScenarioError(f"{pp}: need 0 <= start < end (got {start:g}..{end:g})")
        if start >= horizon:
            raise ScenarioError(f"{pp}: starts at {start:g} s, after the run ends (horizon_s {horizon:g})")
        out.append(Period(start, end))
    out.sort(key=lambda x: x.start_s)
    for a, b in zip(out, out[1:]):
        if b.start_s < a.end_s:
            raise ScenarioError(f"{p}.{key}: periods overlap ({a.start_s:g}..{a.end_s:g} and {b.start_s:g}..{b.end_s:g})")
    return tuple(out)


def _overdispersion(q: dict, p: str) -> float:
    v = _num(q, "overdispersion_cv", p, lo=0.0, hi=10.0, default=0.0)
    if 0 < v < 0.01:
        raise ScenarioError(f"{p}.overdispersion_cv: must be 0 or in [0.01, 10] (got {v:g})")
    return v


def _priority(q: dict, p: str) -> int:
    v = _get(q, "priority", p, int, default=0)
    if not -limits.MAX_PRIORITY <= v <= limits.MAX_PRIORITY:
        raise ScenarioError(f"{p}.priority: must be in [-{limits.MAX_PRIORITY}, {limits.MAX_PRIORITY}] "
                            f"(got {short(v)})")
    return v


def _skills(t: dict, key: str, p: str) -> dict[str, int]:
    s = _get(t, key, p, dict, default={})
    for k, v in s.items():
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 5:
            raise ScenarioError(f"{p}.{key}.{k}: skill level must be an integer 1-5 (got {v!r})")
    return dict(s)
