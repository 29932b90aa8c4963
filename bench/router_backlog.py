"""Backlog benchmark: an outage burst of callers waiting, then drained, through ``Router.submit``.

Every agent is logged in but not ready (an outage: nobody answers), and
``callers`` calls arrive (one in ten with priority 1, so arrivals also land
in the middle of the waiting list); then the agents come back and drain the
queue: each batch answers and releases the pending offers (each release
frees the agent for the next call at once) while callers still waiting
abandon at random (removals from anywhere in the list). Operations per
second are timed per batch of ``batch`` rows, so the figures show the cost
as the list grows to ``callers`` and shrinks back: the waiting list is a
tree, each insert, remove and ``CALL_QUEUED`` position O(log n).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from busyhour.router import EventKind
from busyhour.router.core_layout import (
    OK, OP_ABANDON, OP_ACCEPT, OP_ARRIVE, OP_DTYPE, OP_LOGIN, OP_READY, OP_RELEASE,
)
from busyhour.router.fast import Router

_OFFERED, _ENDED = int(EventKind.CALL_OFFERED), int(EventKind.CALL_ENDED)


class BacklogResult(NamedTuple):
    callers: int  # waiting at the peak
    agents: int
    fill_ops_per_s_min: float  # the slowest tenth of the arrivals (ops / seconds over that tenth)
    fill_ops_per_s_first: float  # the first five batches (0 .. 5 batches waiting), median batch
    fill_ops_per_s_last: float  # the last five batches (up to ``callers`` waiting), median batch
    growth: float  # cost per arrival, last five batches over the first five (medians)
    drain_ops_per_s_min: float  # the slowest tenth of the drain
    drain_ops_per_s_mean: float  # the whole drain
    ops: int
    seconds: float


def _tenths_min(n_ops: list[int], secs: list[float]) -> float:
    """ops/s of the slowest tenth of the batches (a tenth's ops over its seconds)."""
    parts = np.array_split(np.arange(len(secs)), min(10, len(secs)))
    n, s = np.array(n_ops, dtype=float), np.array(secs)
    return float(min(n[p].sum() / s[p].sum() for p in parts))


def _config(agents: int) -> dict:
    return {"agents": [{"id": i} for i in range(agents)],
            "queues": [{"name": "q", "members": list(range(agents)), "ring_timeout_s": 30.0}]}


def _submit(r: Router, ops: np.ndarray) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    res = r.submit(ops)
    secs = time.perf_counter() - t0
    if not (res.status == OK).all():
        raise AssertionError("; ".join(r.describe(ops, res.status)[:3]))
    return res.events, secs


def run(callers: int = 100_000, *, agents: int = 1_000, batch: int = 1_000, abandon: float = 0.05,
        seed: int = 1) -> BacklogResult:
    """Fill the queue with ``callers`` waiting calls, then drain it (bounded: every call ends once)."""
    if not (1 <= agents <= 100_000 and 1_000 <= callers <= 10_000_000 and 100 <= batch <= callers):
        raise ValueError("backlog: need 1 <= agents <= 100,000, 1,000 <= callers <= 10,000,000, "
                         "100 <= batch <= callers")
    rng = np.random.default_rng(seed)
    r = Router.from_config(_config(agents), calls=callers + 1024, collect_stats=False)
    login = np.zeros(agents, dtype=OP_DTYPE)
    login["op"], login["agent"] = OP_LOGIN, np.arange(agents)  # logged in, not ready: nobody answers
    _submit(r, login)
    now, fill_n, fill_s, total_ops, total_s = 0.0, [], [], agents, 0.0
    for start in range(0, callers, batch):
        n = min(batch, callers - start)
        ops = np.zeros(n, dtype=OP_DTYPE)
        ops["op"], ops["queue"], ops["agent"] = OP_ARRIVE, 0, -1  # agent: no preferred agent
        ops["time_s"] = now + 1e-3 * np.arange(1, n + 1)
        ops["call"] = np.arange(start + 1, start + n + 1)
        ops["priority"] = rng.random(n) < 0.1
        now = float(ops["time_s"][-1])
        _, secs = _submit(r, ops)
        fill_n.append(n)
        fill_s.append(secs)
        total_ops, total_s = total_ops + n, total_s + secs
    if r.counts != (callers, 0):
        raise AssertionError(f"backlog: {r.counts[0] - r.counts[1]} calls live, expected {callers} waiting")
    ready = np.zeros(agents, dtype=OP_DTYPE)
    ready["op"], ready["agent"], ready["time_s"] = OP_READY, np.arange(agents), now
    events, _ = _submit(r, ready)
    gone = np.zeros(callers + 1, dtype=bool)  # offered or ended: not to be abandoned
    drain_n, drain_s = [], []
    while True:
        off = events[events["kind"] == _OFFERED]
        gone[off["call"]] = True
        gone[events["call"][events["kind"] == _ENDED]] = True
        if off.size == 0:
            break
        k = off.size
        waiting = np.flatnonzero(~gone[1:]) + 1
        n_ab = min(waiting.size, int(abandon * batch))
        ab = rng.choice(waiting, size=n_ab, replace=False) if n_ab else waiting[:0]
        gone[ab] = True
        ops = np.zeros(2 * k + n_ab, dtype=OP_DTYPE)
        ops["time_s"] = now + 1e-3 * np.arange(1, ops.size + 1)
        ops["op"][:n_ab], ops["call"][:n_ab] = OP_ABANDON, ab  # first: callers still waiting hang up
        acc, rel = ops[n_ab::2], ops[n_ab + 1::2]  # then every offer is answered and the call released
        acc["op"], acc["call"], acc["agent"] = OP_ACCEPT, off["call"], off["agent"]
        rel["op"], rel["call"], rel["arg"] = OP_RELEASE, off["call"], np.nan
        now = float(ops["time_s"][-1])
        events, secs = _submit(r, ops)
        drain_n.append(ops.size)
        drain_s.append(secs)
        total_ops, total_s = total_ops + ops.size, total_s + secs
    if r.counts != (callers, callers):
        raise AssertionError(f"backlog: {r.counts[0] - r.counts[1]} calls still live after the drain")
    rate = np.array(fill_n) / np.array(fill_s)
    first, last = float(np.median(rate[:5])), float(np.median(rate[-5:]))
    return BacklogResult(callers, agents, _tenths_min(fill_n, fill_s), first, last, first / last,
                         _tenths_min(drain_n, drain_s), sum(drain_n) / sum(drain_s), total_ops, total_s)
