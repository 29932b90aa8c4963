"""Typed result records of one simulation run, computed from per-call logs.

Definitions (each call attempt — a redial is a new attempt — is binned by
its *arrival* time; calls that arrive during warm-up are deleted):

* ``offered``: attempts that arrived in the window; ``answered`` reached an
  agent (``CALL_CONNECTED``); ``abandoned`` hung up first (``CALL_ENDED``
  ``abandoned*``); ``other`` left another way (``exited:*``/``rejected:*``,
  e.g. max wait, queue full) or was still waiting when the run stopped.
* ``service_level`` = answered within ``sl_threshold_s`` / offered (every
  abandon counts against it, however short).
* ``p_wait`` = share of offered attempts not connected at arrival.
* ``p_abandon`` = abandoned / offered; ``asa_s`` = mean wait of answered calls.
* wait percentiles are over answered calls.
* ``occupancy`` = (talk + after-call work) / staffed time (logged in and not
  on a break) within the bin; per agent it is ``utilisation``.
* ``max_queue`` = most calls waiting at once (all queues) during the bin.

Little's law (``LittleCheck``): the time-average number of waiting calls
over the window, integrated from the router's events, against arrival rate ×
mean time in queue of the window's calls (time to connect or leave); these
differ by edge effects (calls waiting across the window's ends), so the
record also carries the whole-run identity ∫ L dt = Σ W, which must hold to
rounding whenever every wait the router reports is accounted for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["AgentStats", "CallLog", "LittleCheck", "RunResult", "Stats", "agent_records", "busy_in_bins", "compute_stats",
           "new_record", "stats_from"]

#: Disposition codes in ``CallLog.disposition``.
UNFINISHED, COMPLETED, ABANDONED, OTHER = 0, 1, 2, 3


@dataclass(frozen=True)
class Stats:
    start_s: float
    end_s: float
    offered: int
    answered: int
    abandoned: int
    other: int
    service_level: float
    asa_s: float
    p_wait: float
    p_abandon: float
    occupancy: float
    max_queue: int
    wait_p50_s: float
    wait_p90_s: float
    wait_p95_s: float
    wait_p99_s: float
    callbacks: int
    redials: int


@dataclass(frozen=True)
class AgentStats:
    agent_id: str
    team: str
    calls: int
    staffed_s: float
    busy_s: float
    utilisation: float


@dataclass(frozen=True)
class LittleCheck:
    mean_in_queue: float  # L, time average over the window
    arrival_rate_per_s: float  # λ
    mean_time_in_queue_s: float  # W
    window_s: float
    queue_area_all_s: float  # ∫ number waiting dt over the whole run (from events)
    wait_sum_all_s: float  # Σ time in queue of every call that left the queue

    @property
    def identity_gap(self) -> float:
        """Relative gap of the whole-run identity ∫L dt = Σ W (exact up to rounding)."""
        return abs(self.queue_area_all_s - self.wait_sum_all_s) / max(self.wait_sum_all_s, 1e-9)

    @property
    def relative_gap(self) -> float:
        lw = self.arrival_rate_per_s * self.mean_time_in_queue_s
        return abs(self.mean_in_queue - lw) / max(lw, 1e-12)


@dataclass(frozen=True)
class RunResult:
    scenario: str
    replication: int
    seed: int
    overall: Stats
    intervals: tuple[Stats, ...]
    queues: tuple[tuple[str, Stats], ...]
    agents: tuple[AgentStats, ...]
    little: LittleCheck
    calls_simulated: int
    router_events: int
    sim_end_s: float
    wall_s: float
    engine: str = "simpy"  # which driver ran: "compiled" (fast.py) or "simpy" (driver.py); same numbers


@dataclass(frozen=True, eq=False)
class CallLog:
    """Per-attempt arrays written by the driver (index = call id)."""

    arrival_s: np.ndarray
    queue: np.ndarray  # int: queue index
    wait_s: np.ndarray  # connect − arrival, or leave − arrival; nan while waiting
    answered: np.ndarray  # bool
    disposition: np.ndarray  # UNFINISHED / COMPLETED / ABANDONED / OTHER
    busy_start_s: np.ndarray  # connect time (nan if never connected)
    busy_end_s: np.ndarray  # release + after-call work
    agent: np.ndarray  # int agent index, -1 if never connected
    redial: np.ndarray  # bool: this attempt is a redial
    callback: np.ndarray  # bool: converted to a callback


def busy_in_bins(start_s: np.ndarray, end_s: np.ndarray, edges_s: np.ndarray) -> np.ndarray:
    """Total length of the spans [start, end) inside each bin of ``edges_s``.

    Uses F(x) = Σ clip(x − start, 0, end − start): bin k gets F(e_{k+1}) − F(e_k).
    O(spans × bins) in vector operations: one (edges × spans) array at a time, up to ``_BLOCK`` values
    (each row is summed as the 1-D sum of that edge's values would be).
    """
    ok = np.isfinite(start_s) & np.isfinite(end_s)
    s = start_s[ok]
    length = end_s[ok] - s

    def clipped_sums(e: np.ndarray) -> np.ndarray:
        x = np.subtract(e[:, None], s)
        # in place: one block-sized temporary, not two; np.clip(x, 0.0, length) is min(max(x, 0), length),
        # the same values, but two plain ufuncs run about a third faster than the clip ufunc
        np.maximum(x, 0.0, out=x)
        np.minimum(x, length, out=x)
        return x.sum(axis=1)

    step = max(1, _BLOCK // max(s.size, 1))
    cum = np.concatenate([clipped_sums(edges_s[i:i + step]) for i in range(0, edges_s.size, step)] or [np.zeros(0)])
    return np.diff(cum)


_BLOCK = 1 << 18  # values per (edges × spans) block of busy_in_bins: 2 MiB of float64


def compute_stats(log: CallLog, sel: np.ndarray, start_s: float, end_s: float, sl_threshold_s: float,
                  busy_s: float, staffed_s: float, max_queue: int) -> Stats:
    """Stats of the attempts selected by the boolean mask ``sel`` — the definitions, one group at a time
    (measure.py computes all groups at once with groups.py, which the tests hold equal to this)."""
    ans = sel & log.answered
    answered = int(ans.sum())
    waits = log.wait_s[ans]
    pct = np.percentile(waits, [50, 90, 95, 99]) if answered else np.full(4, math.nan)
    return stats_from(start_s, end_s, offered=int(sel.sum()), answered=answered,
                      abandoned=int((sel & (log.disposition == ABANDONED)).sum()),
                      within_sl=int((waits <= sl_threshold_s).sum()), not_waiting=int((waits <= 0.0).sum()),
                      wait_sum_s=float(waits.sum()), wait_pct_s=pct, callbacks=int((sel & log.callback).sum()),
                      redials=int((sel & log.redial).sum()), busy_s=busy_s, staffed_s=staffed_s,
                      max_queue=max_queue)


def stats_from(start_s: float, end_s: float, *, offered: int, answered: int, abandoned: int, within_sl: int,
               not_waiting: int, wait_sum_s: float, wait_pct_s, callbacks: int, redials: int, busy_s: float,
               staffed_s: float, max_queue: int) -> Stats:
    """``Stats`` from a group's counts: ``within_sl`` answered within the threshold, ``not_waiting``
    answered at once (wait <= 0), ``wait_sum_s`` the sum of answered waits, ``wait_pct_s`` their
    50th, 90th, 95th and 99th percentiles."""
    nan = math.nan
    if offered:
        sl = float(within_sl) / offered
        p_wait = 1.0 - float(not_waiting) / offered
        p_ab = abandoned / offered
    else:
        sl = p_wait = p_ab = nan
    return new_record(Stats, (
        start_s, end_s, offered, answered, abandoned, offered - answered - abandoned, sl,
        wait_sum_s / answered if answered else nan, p_wait, p_ab, busy_s / staffed_s if staffed_s > 0 else nan,
        int(max_queue), float(wait_pct_s[0]), float(wait_pct_s[1]), float(wait_pct_s[2]), float(wait_pct_s[3]),
        callbacks, redials))


def agent_records(agent_ids, teams, calls, staffed_s, busy_s, utilisation) -> tuple[AgentStats, ...]:
    """The ``AgentStats`` of each agent from parallel sequences (of one length: ValueError otherwise): the
    objects ``new_record`` makes, each attribute dict made whole and set at once (a run makes one per agent;
    the test holds the keys to the fields, in order)."""
    make, set_attr, out = object.__new__, object.__setattr__, []
    for a, t, c, st, b, u in zip(agent_ids, teams, calls, staffed_s, busy_s, utilisation, strict=True):
        rec = make(AgentStats)
        set_attr(rec, "__dict__", {"agent_id": a, "team": t, "calls": c, "staffed_s": st, "busy_s": b,
                                   "utilisation": u})
        out.append(rec)
    return tuple(out)


_FIELDS: dict[type, tuple[str, ...]] = {}


def new_record(cls: type, values: tuple) -> object:
    """``cls(*values)`` for a frozen dataclass without ``__post_init__`` (Stats, AgentStats), about twice as
    fast: the same object — attributes set in field order — without ``__init__``'s ``object.__setattr__``
    per field (a run makes one per interval, queue and agent)."""
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f.name for f in fields(cls))
    if len(values) != len(names):
        raise TypeError(f"{cls.__name__} has {len(names)} fields, got {len(values)} values")
    obj = object.__new__(cls)
    obj.__dict__.update(zip(names, values))
    return obj
