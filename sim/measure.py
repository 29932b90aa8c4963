"""From a finished run's call rows and queue-length changes to a ``RunResult``.

All vectorised numpy; definitions in results.py. The window is
``[warmup_s, horizon_s)``: attempts are selected by arrival time, busy and
staffed time and the queue-length integral are clipped to it.
"""

from __future__ import annotations

import math
import time

import numpy as np

from busyhour.sim.groups import GroupCounts, group_counts, window_counts
from busyhour.sim.results import (
    AgentStats, CallLog, LittleCheck, RunResult, Stats, agent_records, busy_in_bins, stats_from,
)

__all__ = ["ONE_PASS_CALLS", "call_log", "queue_profile", "staffed_arrays", "summarise_run"]


def call_log(run) -> CallLog:
    n_first = run.n_first
    n = len(run.arrival)
    return CallLog(
        arrival_s=np.asarray(run.arrival, dtype=np.float64), queue=np.asarray(run.queue, dtype=np.int64),
        wait_s=np.asarray(run.wait, dtype=np.float64), answered=~np.isnan(np.asarray(run.connect, dtype=np.float64)),
        disposition=np.asarray(run.disp, dtype=np.int8), busy_start_s=np.asarray(run.connect, dtype=np.float64),
        busy_end_s=np.asarray(run.busy_end, dtype=np.float64), agent=np.asarray(run.agent, dtype=np.int64),
        redial=np.arange(n) >= n_first, callback=np.asarray(run.callback, dtype=bool),
    )


def queue_profile(q_t: list[float], q_d: list[int], edges_s: np.ndarray,
                  whole_to_s: float | None = None) -> tuple[np.ndarray, float] | tuple[np.ndarray, float, float]:
    """Max number waiting in each bin, and the integral of the number waiting over [edges[0], edges[-1]);
    with ``whole_to_s`` also the integral over [0, whole_to_s) (what ``queue_profile`` over the edges
    [0, whole_to_s] gives)."""
    t = np.asarray(q_t, dtype=np.float64)
    n = np.cumsum(np.asarray(q_d, dtype=np.int64))
    if t.size == 0:
        empty = np.zeros(edges_s.size - 1, dtype=np.int64), 0.0
        return empty if whole_to_s is None else (*empty, 0.0)
    last = np.empty(t.size, dtype=bool)  # the count after all changes at one instant (times are finite)
    np.not_equal(t[1:], t[:-1], out=last[:-1])
    last[-1] = True
    t, n = t[last], n[last]

    t_next, n_f = t[1:], n.astype(np.float64)  # what n * (float array) casts n to, once for both areas

    def area(lo: float, hi: float) -> float:
        seg_end = np.append(t_next, max(hi, t[-1]))
        # np.maximum(x, 0.0) is what np.clip(x, 0.0, None) calls
        return float((n_f * np.maximum(np.minimum(seg_end, hi) - np.maximum(t, lo), 0.0)).sum())

    # t is sorted: bin k's changes are t[first[k]:first[k + 1]], so each bin's max is a reduceat over the
    # counts (a max is exact in any order), and first[k] - 1 is the last change before bin k opens
    first = np.searchsorted(t, edges_s, side="left")
    out = np.zeros(edges_s.size - 1, dtype=np.int64)
    filled = first[1:] > first[:-1]
    if filled.any():
        out[filled] = np.maximum(np.maximum.reduceat(n[:first[-1]], first[:-1][filled]), 0)
    before = first[:-1] - 1
    carried = np.where(before >= 0, n[np.maximum(before, 0)], 0)
    profile = np.maximum(out, carried), area(edges_s[0], edges_s[-1])
    return profile if whole_to_s is None else (*profile, area(0.0, whole_to_s))


def summarise_run(run, wall0: float, engine: str = "simpy") -> RunResult:
    """The run's ``RunResult``; ``wall0``: ``time.perf_counter()`` when the run started (its ``wall_s``
    ends once the results are summarised). ``run.staffed_spans``: the closed staffed spans, a list of
    (agent, start, end) or — from the compiled loop — three arrays (agents, starts, ends)."""
    scn = run.scn
    log = call_log(run)
    w0, w1 = scn.warmup_s, scn.horizon_s
    k0 = int(w0 // scn.interval_s)
    edges = np.minimum(np.arange(k0, scn.n_intervals + 1) * scn.interval_s, w1)
    edges[0] = w0
    in_win = (log.arrival_s >= w0) & (log.arrival_s < w1)
    bin_of = np.searchsorted(edges, log.arrival_s, side="right") - 1

    end_s = run.end_s
    sp_a, sp_s, sp_e = staffed_arrays(run.staffed_spans, run.staffed_from, end_s)
    # a call still talking when the run stopped (drain limit) is busy until the stop
    busy_end = np.where(log.answered & np.isnan(log.busy_end_s), end_s, log.busy_end_s)
    busy_bins = busy_in_bins(log.busy_start_s, busy_end, edges)
    staffed_bins = busy_in_bins(sp_s, sp_e, edges)
    maxq, area, area_all = queue_profile(run.q_t, run.q_d, edges, max(end_s, w1))

    n_bins, n_queues, thr = edges.size - 1, len(scn.queues), scn.sl_threshold_s
    # the window's calls by interval, as one group, by queue: all three groupings at once (window_counts),
    # or — for a long run — one pass each (its reordered waits are three times the window's answered calls)
    if np.count_nonzero(in_win) <= ONE_PASS_CALLS:
        g = window_counts(log, in_win, bin_of, n_bins, n_queues, thr)
        by_bin = whole = by_queue = _rows(g)
        o_whole, o_queue = n_bins, n_bins + 1
    else:
        idx = np.nonzero(in_win)[0]
        by_bin = _rows(group_counts(log, idx, bin_of[idx], n_bins, thr))
        whole = _rows(group_counts(log, idx, np.zeros(idx.size, dtype=np.int64), 1, thr))
        by_queue = _rows(group_counts(log, idx, log.queue[idx], n_queues, thr))
        o_whole = o_queue = 0
    e, bb, sb, mq = edges.tolist(), busy_bins.tolist(), staffed_bins.tolist(), maxq.tolist()
    intervals = tuple(_stats_row(by_bin, k, e[k], e[k + 1], bb[k], sb[k], mq[k]) for k in range(n_bins))
    overall = _stats_row(whole, o_whole, w0, w1, float(busy_bins.sum()), float(staffed_bins.sum()),
                         max(mq) if mq else 0)
    queues = tuple((q.name, _stats_row(by_queue, o_queue + qi, w0, w1, math.nan, 0.0, 0))
                   for qi, q in enumerate(scn.queues))

    n_agents = len(run.agent_ids)
    busy_a = _per_agent(log.agent, log.busy_start_s, busy_end, w0, w1, n_agents)
    staffed_a = _per_agent(sp_a, sp_s, sp_e, w0, w1, n_agents)
    calls_a = np.bincount(log.agent[in_win & (log.agent >= 0)], minlength=n_agents)
    agents = agent_stats(scn, run.agent_ids, run.agent_team, calls_a, staffed_a, busy_a)

    waits = log.wait_s[in_win]
    done = ~np.isnan(waits)
    waiting_at_end = np.isnan(log.wait_s)
    # np.nansum's own steps (a copy with the NaNs set to 0.0, then its sum), without its wrapper's cost
    wait_all = float(np.where(waiting_at_end, 0.0, log.wait_s).sum()
                     + (max(end_s, w1) - log.arrival_s[waiting_at_end]).sum())
    little = LittleCheck(mean_in_queue=area / (w1 - w0), arrival_rate_per_s=float(in_win.sum()) / (w1 - w0),
                         mean_time_in_queue_s=float(waits[done].mean()) if done.any() else 0.0, window_s=w1 - w0,
                         queue_area_all_s=area_all, wait_sum_all_s=wait_all)
    return RunResult(
        scenario=scn.name, replication=run.replication, seed=run.seed, overall=overall, intervals=intervals,
        queues=queues, agents=agents, little=little, calls_simulated=len(run.arrival),
        router_events=run.events, sim_end_s=end_s, wall_s=time.perf_counter() - wall0, engine=engine,
    )


#: Window calls up to which summarise_run counts the three groupings in one pass (three rows a call).
ONE_PASS_CALLS = 1 << 20


def staffed_arrays(closed, staffed_from, end_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(agent, start, end) arrays of the staffed spans: the closed ones in their order, then each agent
    still staffed (``staffed_from[a]`` not nan) from then to ``end_s``, by agent. ``closed``: a list of
    (agent, start, end), or three arrays."""
    if isinstance(closed, tuple) and len(closed) == 3 and isinstance(closed[0], np.ndarray):
        c_a, c_s, c_e = closed
    else:
        c_a = np.array([s[0] for s in closed], dtype=np.int64)
        c_s = np.array([s[1] for s in closed], dtype=np.float64)
        c_e = np.array([s[2] for s in closed], dtype=np.float64)
    sf = np.asarray(staffed_from, dtype=np.float64)
    open_a = np.nonzero(~np.isnan(sf))[0]
    return (np.concatenate((np.asarray(c_a, dtype=np.int64), open_a)),
            np.concatenate((np.asarray(c_s, dtype=np.float64), sf[open_a])),
            np.concatenate((np.asarray(c_e, dtype=np.float64), np.full(open_a.size, float(end_s)))))


def _rows(g: GroupCounts) -> GroupCounts:
    """``g`` with Python lists for columns (``wait_pct_s``: a list of rows), for one Stats per group."""
    return GroupCounts(*(a.tolist() for a in g))


def _stats_row(g: GroupCounts, k: int, start_s: float, end_s: float, busy_s: float, staffed_s: float,
               max_queue: int) -> Stats:
    """Group ``k``'s ``Stats`` from a GroupCounts of lists (:func:`_rows`)."""
    return stats_from(start_s, end_s, offered=g.offered[k], answered=g.answered[k], abandoned=g.abandoned[k],
                      within_sl=g.within_sl[k], not_waiting=g.not_waiting[k], wait_sum_s=g.wait_sum_s[k],
                      wait_pct_s=g.wait_pct_s[k], callbacks=g.callbacks[k], redials=g.redials[k], busy_s=busy_s,
                      staffed_s=staffed_s, max_queue=max_queue)


def agent_stats(scn, agent_ids, agent_team, calls: np.ndarray, staffed_s: np.ndarray,
                busy_s: np.ndarray) -> tuple[AgentStats, ...]:
    """Each agent's record from its calls, staffed and busy seconds (arrays by agent index)."""
    team = [t.name for t in scn.teams]
    staffed_s, busy_s = np.asarray(staffed_s, dtype=np.float64), np.asarray(busy_s, dtype=np.float64)
    util = np.divide(busy_s, staffed_s, out=np.full(staffed_s.shape, math.nan), where=staffed_s > 0)
    return agent_records(agent_ids, [team[tm] for tm in agent_team], calls.tolist(), staffed_s.tolist(),
                         busy_s.tolist(), util.tolist())


def _per_agent(agent: np.ndarray, start_s: np.ndarray, end_s: np.ndarray, w0: float, w1: float, n: int) -> np.ndarray:
    """Total length of each agent's spans inside [w0, w1)."""
    ok = (agent >= 0) & np.isfinite(start_s) & np.isfinite(end_s)
    length = np.maximum(np.minimum(end_s[ok], w1) - np.maximum(start_s[ok], w0), 0.0)  # np.clip(…, 0.0, None)
    return np.bincount(agent[ok], weights=length, minlength=n)
