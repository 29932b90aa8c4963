"""Streaming statistics: a run's ``RunResult`` accumulated chunk by chunk, in O(agents + intervals) memory.

The normal summary (measure.py) keeps every call's row until the run ends.
:class:`StreamStats` instead takes the calls as they finish and the
queue-length changes as they happen, in chunks (the compiled loop hands them
over at every interval boundary), and keeps per group — each interval, the
window, each queue — only counts, sums and a histogram of answered waits;
per agent its busy time and calls; per interval the busy time, the most
calls waiting and the queue-length integral.

Same definitions as results.py, and the same numbers as the normal mode
except where the order of floating-point additions changes (sums now add
chunk by chunk): ASA, occupancy, busy and staffed seconds, Little's
figures agree to a relative 1e-9; counts, service level, p_wait, p_abandon
and max_queue are exact. Wait **percentiles** come from the histogram: bins
of relative width 2^(1/64) − 1 ≈ 1.1 % between 2^-10 s and 2^25 s, read at
their geometric middle, so a percentile is within 0.55 % (and 1 ms) of the
exact one (tests/sim/test_stream_stats.py holds both to those tolerances).

Memory: (intervals + queues + 1) × ``N_BINS`` int64 counts (18 KiB a
group; 36 MiB at the 2,016-interval limit) plus O(agents); nothing per call.
"""

from __future__ import annotations

import math
import time

import numpy as np

from busyhour.sim.measure import _per_agent, _rows, _stats_row, agent_stats, staffed_arrays
from busyhour.sim.groups import GroupCounts, group_counts, window_groups
from busyhour.sim.results import CallLog, LittleCheck, RunResult, busy_in_bins

__all__ = ["LOG2_LO", "LOG2_HI", "N_BINS", "SUB", "StreamStats", "wait_bins", "histogram_percentiles"]

SUB = 64  # bins per doubling of the wait
LOG2_LO, LOG2_HI = -10, 25  # positive waits below 2^-10 s share the first bin, above 2^25 s the last
N_BINS = 1 + (LOG2_HI - LOG2_LO) * SUB  # bin 0: no wait (<= 0)
_Q = np.array([0.5, 0.9, 0.95, 0.99])


def wait_bins(w: np.ndarray) -> np.ndarray:
    """The histogram bin of each wait: 0 for w <= 0, else 1 + SUB·(log2 w − LOG2_LO), clipped."""
    out = np.zeros(w.shape, dtype=np.int64)
    pos = w > 0
    k = np.floor((np.log2(w[pos]) - LOG2_LO) * SUB)
    out[pos] = 1 + np.clip(k, 0, N_BINS - 2).astype(np.int64)
    return out


def _bin_values() -> np.ndarray:
    k = np.arange(N_BINS - 1)
    mid = np.exp2(LOG2_LO + (k + 0.5) / SUB)  # geometric middle of each positive bin
    return np.concatenate(([0.0], mid))


_VALUES = _bin_values()


def histogram_percentiles(hist: np.ndarray) -> np.ndarray:
    """np.percentile's 'linear' method on each row's histogram (order statistics read as bin middles);
    nan rows for empty histograms."""
    n = hist.sum(axis=1)
    cum = np.cumsum(hist, axis=1)
    out = np.full((hist.shape[0], _Q.size), np.nan)
    for g in np.nonzero(n)[0]:
        vi = (n[g] - 1) * _Q
        lo = np.floor(vi)
        hi = np.minimum(lo + 1, n[g] - 1)
        a = _VALUES[np.searchsorted(cum[g], lo, side="right")]  # the bin of order statistic lo
        b = _VALUES[np.searchsorted(cum[g], hi, side="right")]
        out[g] = a + (b - a) * (vi - lo)
    return out


class StreamStats:
    """Accumulates one run of ``scn`` (``n_agents`` agents); feed :meth:`add_calls` and
    :meth:`add_queue_changes`, then :meth:`result`."""

    def __init__(self, scn, n_agents: int) -> None:
        self.scn, self.n_agents = scn, n_agents
        self.w0, self.w1 = w0, w1 = scn.warmup_s, scn.horizon_s
        k0 = int(w0 // scn.interval_s)
        edges = np.minimum(np.arange(k0, scn.n_intervals + 1) * scn.interval_s, w1)
        edges[0] = w0
        self.edges = edges
        self.n_bins = nb = edges.size - 1
        self.nq = nq = len(scn.queues)
        g = nb + 1 + nq  # groups: the intervals, the window, the queues
        self.counts = np.zeros((7, g), dtype=np.int64)  # offered answered abandoned within_sl not_waiting cb redial
        self.wait_sum = np.zeros(g)
        self.hist = np.zeros((g, N_BINS), dtype=np.int64)
        self.busy_bins = np.zeros(nb)
        self.busy_agent = np.zeros(n_agents)
        self.calls_agent = np.zeros(n_agents, dtype=np.int64)
        self.n_in_win = 0
        self.win_wait_sum, self.win_wait_n = 0.0, 0  # the window's calls that left the queue
        self.wait_sum_all = 0.0  # every call's time in queue (Little's whole-run identity)
        # queue profile: the last count so far and when it changed; per bin its max and the count carried in
        self.q_n, self.q_t = 0, -math.inf
        self.maxq = np.zeros(nb, dtype=np.int64)
        self.carried = np.full(nb, -1, dtype=np.int64)  # -1: the bin has not opened yet
        self.area, self.area_all = 0.0, 0.0

    # ------------------------------------------------------------------ calls
    def add_calls(self, arrival_s, queue, wait_s, connect_s, disposition, busy_end_s, agent, callback, redial,
                  end_s: float | None = None) -> None:
        """Calls that finished (or, with ``end_s``, were still in the system when the run stopped at
        ``end_s``: a wait of nan means still waiting, a connected call is busy until ``end_s``)."""
        w0, w1, nb = self.w0, self.w1, self.n_bins
        answered = ~np.isnan(connect_s)
        busy_end = busy_end_s if end_s is None else np.where(answered & np.isnan(busy_end_s), end_s, busy_end_s)
        self.busy_bins += busy_in_bins(connect_s, busy_end, self.edges)
        self.busy_agent += _per_agent(agent, connect_s, busy_end, w0, w1, self.n_agents)
        in_win = (arrival_s >= w0) & (arrival_s < w1)
        bin_of = np.searchsorted(self.edges, arrival_s, side="right") - 1
        n_in = int(in_win.sum())
        self.n_in_win += n_in
        on = in_win & (agent >= 0)
        self.calls_agent += np.bincount(agent[on], minlength=self.n_agents)
        done = ~np.isnan(wait_s)
        self.win_wait_sum += float(wait_s[in_win & done].sum())
        self.win_wait_n += int((in_win & done).sum())
        self.wait_sum_all += float(np.nansum(wait_s))
        if end_s is not None:
            self.wait_sum_all += float((max(end_s, w1) - arrival_s[~done]).sum())
        # each window call in three groups: its interval, the window, its queue
        log = CallLog(arrival_s, queue, wait_s, answered, disposition, connect_s, busy_end, agent, redial, callback)
        rows, groups = window_groups(in_win, bin_of, queue, nb)
        g = group_counts(log, rows, groups, self.counts.shape[1], self.scn.sl_threshold_s, percentiles=False)
        self.counts += np.stack((g.offered, g.answered, g.abandoned, g.within_sl, g.not_waiting, g.callbacks,
                                 g.redials))
        self.wait_sum += g.wait_sum_s
        ans = answered[rows]
        np.add.at(self.hist, (groups[ans], wait_bins(wait_s[rows[ans]])), 1)

    # ------------------------------------------------------------------ queue length
    def add_queue_changes(self, q_t: np.ndarray, q_d: np.ndarray) -> None:
        """Changes of the number waiting (time, ±1), in time order, every change of an instant in one chunk."""
        if q_t.size == 0:
            return
        n = self.q_n + np.cumsum(q_d)
        last = np.append(np.nonzero(np.diff(q_t))[0], q_t.size - 1)  # the count after an instant's changes
        t, n = q_t[last], n[last]
        # the segment from the last point so far, then between this chunk's points
        pts_t, pts_n = np.concatenate(([self.q_t], t)), np.concatenate(([self.q_n], n))
        seg_s, seg_e, seg_n = pts_t[:-1], pts_t[1:], pts_n[:-1]
        self.area += float((seg_n * np.clip(np.minimum(seg_e, self.w1) - np.maximum(seg_s, self.w0), 0.0, None)).sum())
        self.area_all += float((seg_n * np.clip(seg_e - np.maximum(seg_s, 0.0), 0.0, None)).sum())
        bins = np.searchsorted(self.edges, t, side="right") - 1
        ok = (bins >= 0) & (bins < self.n_bins)
        np.maximum.at(self.maxq, bins[ok], n[ok])
        opens = self.edges[:-1]
        new = (opens > self.q_t) & (opens <= t[-1])  # bins opening now: the count carried in
        j = np.searchsorted(pts_t, opens[new], side="left") - 1
        self.carried[new] = pts_n[j]
        self.q_t, self.q_n = float(t[-1]), int(n[-1])

    # ------------------------------------------------------------------ the result
    def result(self, *, replication: int, seed: int, staffed_spans, staffed_from, end_s: float, agent_ids,
               agent_team, calls: int, events: int, wall0: float, engine: str) -> RunResult:
        scn, nb, w0, w1 = self.scn, self.n_bins, self.w0, self.w1
        hi_all = max(end_s, w1)
        self.area += self.q_n * max(min(max(w1, self.q_t), w1) - max(self.q_t, w0), 0.0)
        self.area_all += self.q_n * max(hi_all - max(self.q_t, 0.0), 0.0)
        carried = np.where(self.carried >= 0, self.carried, np.where(self.edges[:-1] > self.q_t, self.q_n, 0))
        maxq = np.maximum(self.maxq, carried)
        sp_a, sp_s, sp_e = staffed_arrays(staffed_spans, staffed_from, end_s)
        staffed_bins = busy_in_bins(sp_s, sp_e, self.edges)
        staffed_a = _per_agent(sp_a, sp_s, sp_e, w0, w1, self.n_agents)
        c = self.counts
        g = _rows(GroupCounts(offered=c[0], answered=c[1], abandoned=c[2], within_sl=c[3], not_waiting=c[4],
                              wait_sum_s=self.wait_sum, wait_pct_s=histogram_percentiles(self.hist), callbacks=c[5],
                              redials=c[6]))
        e = self.edges
        intervals = tuple(_stats_row(g, k, float(e[k]), float(e[k + 1]), float(self.busy_bins[k]),
                                     float(staffed_bins[k]), int(maxq[k])) for k in range(nb))
        overall = _stats_row(g, nb, w0, w1, float(self.busy_bins.sum()), float(staffed_bins.sum()),
                             int(maxq.max()) if maxq.size else 0)
        queues = tuple((q.name, _stats_row(g, nb + 1 + qi, w0, w1, math.nan, 0.0, 0))
                       for qi, q in enumerate(scn.queues))
        agents = agent_stats(scn, agent_ids, agent_team, self.calls_agent, staffed_a, self.busy_agent)
        little = LittleCheck(mean_in_queue=self.area / (w1 - w0), arrival_rate_per_s=self.n_in_win / (w1 - w0),
                             mean_time_in_queue_s=self.win_wait_sum / self.win_wait_n if self.win_wait_n else 0.0,
                             window_s=w1 - w0, queue_area_all_s=self.area_all, wait_sum_all_s=self.wait_sum_all)
        return RunResult(scenario=scn.name, replication=replication, seed=seed, overall=overall, intervals=intervals,
                         queues=queues, agents=agents, little=little, calls_simulated=calls, router_events=events,
                         sim_end_s=end_s, wall_s=time.perf_counter() - wall0, engine=engine)
