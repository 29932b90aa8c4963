"""Limits on what a simulation may be asked to do, checked before any work.

Every limit is documented in docs/scenarios.md ("Limits"). Scenario files get
the per-scenario ones when they are parsed (``check_scenario``); the size of
a whole run — calls per replication × replications × sweep points — is
checked by ``check_size`` before a replication starts, and can be lifted with
``force=True`` (``--force`` on the command line) up to the hard per-run cap,
which bounds the memory of one replication.

The calls estimate is the forecast's expectation: every interval's calls,
plus the bursts' extra calls, times ``1 + p + … + p^(m−1)`` for a queue that
redials with probability ``p`` up to ``m`` attempts (as if every caller
abandoned, so it is an upper estimate of the redials).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

from busyhour.files import FileTooLarge, NotRegularFile, path_problem, read_limited
from busyhour.router.config_limits import short
from busyhour.sim.validate import ScenarioError

__all__ = ["MAX_AGENTS", "MAX_AGENT_PERIODS", "MAX_AGENT_RUNS", "MAX_PERIODS", "MAX_CALLS_PER_INTERVAL", "MAX_CALLS_PER_RUN",
           "MAX_CALLS_TOTAL", "MAX_DRAIN_S", "MAX_FILE_BYTES", "MAX_HORIZON_S", "MAX_INTERVALS",
           "MAX_REDIAL_ATTEMPTS", "MAX_REPLICATIONS", "MAX_SEED", "MIN_INTERVAL_S", "SizeEstimate", "read_file",
           "check_seed", "check_size", "estimate_calls"]

MAX_HORIZON_S = 366 * 86_400.0  #: a year
MIN_INTERVAL_S = 60.0  #: one minute
MAX_INTERVALS = 2_016  #: a week of 5-minute intervals
MAX_DRAIN_S = 86_400.0  #: a day after the horizon at most
MAX_DURATION_S = 86_400.0  #: a distribution's mean or value, sl_threshold_s, break_spread_s
MAX_PRIORITY = 1_000_000
MAX_CALLS_PER_INTERVAL = 1_000_000.0  #: per queue per interval (calls_per_hour is converted first)
MAX_AGENTS = 10_000  #: over all teams
MAX_PERIODS = 1_000  #: shifts, or breaks, of one team
MAX_AGENT_PERIODS = 1_000_000  #: agents × (shifts + breaks) over all teams: each is a login/logout or break pair
MAX_REDIAL_ATTEMPTS = 10
MAX_REPLICATIONS = 10_000
MAX_SEED = 2**63 - 1
MAX_CALLS_PER_RUN = 5_000_000  #: hard: bounds one replication's memory (about 1 KB per call)
MAX_CALLS_TOTAL = 20_000_000  #: calls × replications × points without ``--force``
MAX_AGENT_RUNS = 20_000_000  #: agents × replications (summed over a sweep's points) without ``--force``
MAX_FILE_BYTES = 64 * 1024 * 1024  #: a scenario TOML or a durations CSV


class SizeEstimate(NamedTuple):
    calls_per_run: float
    runs: int

    @property
    def calls_total(self) -> float:
        return self.calls_per_run * self.runs


def read_file(path: Path, what: str = "file") -> bytes:
    """The bytes of ``path``; ScenarioError when it is missing, not a regular file (checked on the file opened, so
    a path swapped for a pipe is never waited on) or larger than ``MAX_FILE_BYTES`` (more is never read)."""
    try:
        return read_limited(path, MAX_FILE_BYTES)
    except FileTooLarge as exc:  # (also when it grew while it was read)
        raise ScenarioError(f"{path}: {exc.size} bytes, more than the {MAX_FILE_BYTES} allowed for a {what}") from None
    except OSError as exc:
        raise _file_error(path, exc, what) from None


def _file_error(path: Path, exc: OSError, what: str) -> ScenarioError:
    if isinstance(exc, NotRegularFile):
        return ScenarioError(f"{path}: {path_problem(exc)}, expected a {what}")
    return ScenarioError(f"{path}: {path_problem(exc)}")


def check_seed(seed: object, key: str = "seed") -> int:
    """A seed must be an integer in [0, 2**63 − 1]."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ScenarioError(f"{key}: must be an integer from 0 to {MAX_SEED} (got {short(seed)})")
    return int(seed)


def check_times(horizon_s: float, interval_s: float) -> None:
    """Horizon and interval, checked before anything is built from them."""
    if horizon_s > MAX_HORIZON_S:
        raise ScenarioError(f"horizon_s: at most {MAX_HORIZON_S:g} s (366 days) (got {horizon_s:g})")
    if not MIN_INTERVAL_S <= interval_s <= MAX_HORIZON_S:
        raise ScenarioError(f"interval_s: must be {MIN_INTERVAL_S:g} to {MAX_HORIZON_S:g} s (got {interval_s:g})")
    n = math.ceil(horizon_s / interval_s - 1e-9)
    if n > MAX_INTERVALS:
        raise ScenarioError(f"interval_s: {n} intervals in the horizon, at most {MAX_INTERVALS}")


def check_scenario(scn) -> None:
    """The per-scenario limits (horizon, intervals, volumes, agents, calls per run)."""
    check_times(scn.horizon_s, scn.interval_s)
    if not scn.drain_s <= MAX_DRAIN_S:
        raise ScenarioError(f"drain_s: at most {MAX_DRAIN_S:g} s (got {scn.drain_s:g})")
    for i, q in enumerate(scn.queues):
        top = max(q.calls_per_interval, default=0.0)
        if top > MAX_CALLS_PER_INTERVAL:
            raise ScenarioError(f"queues[{i}].calls_per_interval: at most {MAX_CALLS_PER_INTERVAL:g} calls per interval "
                                f"(got {top:g})")
        if not 1 <= q.redial.max_attempts <= MAX_REDIAL_ATTEMPTS:
            raise ScenarioError(f"queues[{i}].redial.max_attempts: must be 1 to {MAX_REDIAL_ATTEMPTS} "
                                f"(got {short(q.redial.max_attempts)})")
    check_agents(scn.n_agents, "teams: agents (total)")
    periods = sum(t.agents * (len(t.shifts) + len(t.breaks)) for t in scn.teams)
    if periods > MAX_AGENT_PERIODS:
        raise ScenarioError(f"teams: agents × (shifts + breaks) is {periods:,}, at most {MAX_AGENT_PERIODS:,} "
                            "(each is a pair of state changes the run holds in memory)")
    per_run = estimate_calls(scn)
    if per_run > MAX_CALLS_PER_RUN:
        raise ScenarioError(f"about {per_run:,.0f} calls per replication, more than the {MAX_CALLS_PER_RUN:,} "
                            "one replication may hold; shorten the horizon or lower the volumes")


def check_agents(n: int, key: str) -> None:
    if not 0 <= n <= MAX_AGENTS:
        raise ScenarioError(f"{key}: must be 0 to {MAX_AGENTS} (got {short(n)})")


def estimate_calls(scn) -> float:
    """Expected call attempts of one replication (an upper estimate of redials)."""
    total = 0.0
    for q in scn.queues:
        first = sum(q.calls_per_interval)
        first += sum(b.extra_calls_per_h * b.duration_s / 3600.0 for b in scn.bursts if b.queue == q.name)
        p, m = q.redial.probability, max(1, q.redial.max_attempts)
        total += first * sum(p**k for k in range(m))
    return total


def check_size(scn, runs: int, *, force: bool = False, agent_runs: float | None = None) -> SizeEstimate:
    """Refuse ``runs`` replications of ``scn`` above ``MAX_CALLS_TOTAL`` calls, or above ``MAX_AGENT_RUNS``
    agents summed over the runs (``agent_runs``; default ``scn``'s agents × ``runs``: a run costs per agent too,
    calls or none), unless ``force``; never above ``MAX_REPLICATIONS`` runs per point or ``MAX_CALLS_PER_RUN``
    per run. Returns the estimate."""
    est = SizeEstimate(estimate_calls(scn), int(runs))
    agent_runs = scn.n_agents * runs if agent_runs is None else agent_runs
    if agent_runs > MAX_AGENT_RUNS and not force:
        raise ScenarioError(f"{agent_runs:,.0f} agents over all runs (agents × runs), more than "
                            f"{MAX_AGENT_RUNS:,}; use --force (force=True) to run it anyway")
    if est.calls_per_run > MAX_CALLS_PER_RUN:
        raise ScenarioError(f"about {est.calls_per_run:,.0f} calls per replication, more than the "
                            f"{MAX_CALLS_PER_RUN:,} one replication may hold")
    if est.calls_total > MAX_CALLS_TOTAL and not force:
        raise ScenarioError(f"about {est.calls_per_run:,.0f} calls × {est.runs:,} runs = {est.calls_total:,.0f} calls, "
                            f"more than {MAX_CALLS_TOTAL:,}; use --force (force=True) to run it anyway")
    return est
