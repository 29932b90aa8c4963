"""Work estimates for evaluating many counts at once, so a caller can refuse a range before starting.

One value costs at most ~61 sqrt(load) + 350 recursion steps (see ``kernels.py``),
which is fast for one count but adds up: 100,000 counts near 10**9 would take
minutes.  These functions estimate the total in *steps*, the unit of the Erlang
B recursion (about 2-3 ns each on a 2-core Xeon), modelling the kernels:

* A fresh walk to count n at load a: the truncated start ``s``, the fused part
  up to ``min(n, floor(a) + 1)`` and single steps beyond it, capped where 1/B
  passes 1e560 (about 51 sqrt(a) + 300 steps past the load).
* :func:`erlang_b_steps`, :func:`erlang_c_steps`: a count above the load that
  follows a count above the same load whose walk stopped at or below it
  (the previous count, or the saturation point) continues that walk
  (``kernels.inv_erlang_b_walk``): only the steps between them count.
  Erlang C costs nothing at or below the load (C = 1 there).
* :func:`erlang_a_steps`: a fresh walk plus the exact queue sums (their
  length J where the tail drops below 1e-18), each term weighted
  ``QUEUE_TERM_STEPS``.
* :func:`load_for_blocking_steps`, :func:`extended_erlang_b_steps`: a fixed
  number of fresh walks per count (``SOLVER_WALKS``, ``RECALL_WALKS``) at the
  solver's start or the top of its bracket.
* Every value adds ``PER_COUNT_STEPS``.

Estimates, not bounds: they are within a small factor of the measured time
for the inputs tried (docs/erlang.md, "Limits").  ``MAX_WORK_STEPS`` is the
limit the command line applies.  Pure numpy; cost O(number of counts).
"""

from __future__ import annotations

import numpy as np

#: The most estimated steps the command line starts on: about half a minute on a 2-core Xeon, where a step
#: took 0.7-1.5 ns (trunks --lines 1:100000, 3.8e10 steps, 27 s; 500 Erlang B counts at 10**9, 3.2e8 steps,
#: 0.24 s; 1,000 extended Erlang B counts near 10**9, 2.5e9 steps, 3.6 s).
MAX_WORK_STEPS = 4 * 10**10
#: Steps past the load after which 1/B > 1e560 and the walk stops (51 sqrt(a) + 300).
SATURATION_SQRT, SATURATION_CONST = 51.0, 300.0
#: One Erlang A queue term (several multiplies and a division) in steps.
QUEUE_TERM_STEPS = 5.0
#: Fixed cost of one value (loop, exp and log of the result) in steps.
PER_COUNT_STEPS = 50.0
#: Fresh walks per count: load_for_blocking's safeguarded Newton (at its start, half the count),
#: extended Erlang B's fixed point (at the top of its bracket).
SOLVER_WALKS = 40
RECALL_WALKS = 8


def _arrays(counts, load) -> tuple[np.ndarray, np.ndarray]:
    n = np.asarray(counts, dtype=np.float64).reshape(-1)
    a = np.broadcast_to(np.asarray(load, dtype=np.float64), n.shape)
    return n, a


def walk_steps(counts, load) -> np.ndarray:
    """Steps of a fresh Erlang B walk to each count at ``load`` (0 where there is nothing to walk)."""
    n, a = _arrays(counts, load)
    live = (n > 0) & (a > 0)
    a = np.where(live, a, 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        s = np.floor(np.minimum(n, a) - 10.0 * np.sqrt(a) - 45.0)
        r = n / a
        over = live & (r < 1.0)
        tail = np.ceil((50.0 - np.log1p(-np.where(over, r, 0.5))) / -np.log(np.where(over, r, 0.5))) + 2.0
        s = np.maximum(np.where(over, np.maximum(s, n - tail), s), 0.0)
        m = np.where(a >= n, n, np.minimum(n, np.floor(a) + 1.0))
        single = np.minimum(n - m, SATURATION_SQRT * np.sqrt(a) + SATURATION_CONST)
    return np.where(live, (m - s) + single, 0.0)


def _sequence_steps(counts, load, above_only: bool) -> float:
    n, a = _arrays(counts, load)
    fresh = walk_steps(n, a)
    if above_only:
        fresh = np.where(n > a, fresh, 0.0)
    if n.size < 2:
        return float(fresh.sum() + PER_COUNT_STEPS * n.size)
    end = np.floor(a) + 1.0 + SATURATION_SQRT * np.sqrt(a) + SATURATION_CONST  # where the walk saturates
    reached = np.minimum(n, end)  # the count a walk to n stops at
    shared = (n[:-1] > a[:-1]) & (a[1:] == a[:-1]) & (reached[:-1] <= n[1:])
    later = np.where(shared, np.maximum(reached[1:] - reached[:-1], 0.0), fresh[1:])
    return float(fresh[0] + later.sum() + PER_COUNT_STEPS * n.size)


def erlang_b_steps(counts, load) -> float:
    """Estimated steps of ``erlang_b`` (or ``carried_load``) over ``counts`` in that order."""
    return _sequence_steps(counts, load, above_only=False)


def erlang_c_steps(counts, load) -> float:
    """Estimated steps of ``erlang_c`` (and each of ``service_level``, ``asa``) over ``counts`` in that order."""
    return _sequence_steps(counts, load, above_only=True)


def erlang_a_steps(counts, load, aht_s, patience_s, threshold_s) -> float:
    """Estimated steps of ``erlang_a`` over ``counts``: a fresh walk and the queue sums per count."""
    n, a = _arrays(counts, load)
    if not 0.0 < patience_s < np.inf or load == 0.0:
        return float(walk_steps(n, a).sum())  # Erlang B / C limits: one walk each
    ratio = patience_s / aht_s
    c, ap = n * ratio, a * ratio
    queue = np.maximum(ap - c, 0.0) + 9.0 * np.sqrt(ap) + 45.0  # terms until the tail is below 1e-18
    p = -np.expm1(-threshold_s / patience_s)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        mean = (c + 1.0) * p / (1.0 - p)  # the service-level sum's negative binomial
        tail = np.where(mean < queue, 10.0 * np.sqrt((c + 1.0) * p) / (1.0 - p) + 50.0, 0.0)
    tail = np.nan_to_num(tail, nan=0.0, posinf=1e7)
    terms = np.minimum(queue, 1e7) + np.minimum(tail, 1e7)  # the kernel refuses longer sums
    return float((walk_steps(n, a) + QUEUE_TERM_STEPS * terms + PER_COUNT_STEPS).sum())


def load_for_blocking_steps(counts) -> float:
    """Estimated steps of ``load_for_blocking``: ``SOLVER_WALKS`` walks per count at half the count.

    (The solver starts there; the walks at its later loads are seldom dearer.)  ``target`` does not
    enter: the number of Newton steps it takes is not known in advance."""
    n, _ = _arrays(counts, 0.0)
    return float((SOLVER_WALKS * walk_steps(n, n / 2.0) + PER_COUNT_STEPS).sum())


def extended_erlang_b_steps(counts, load, recall) -> float:
    """Estimated steps of ``extended_erlang_b``: ``RECALL_WALKS`` walks per count at the larger end of the bracket."""
    n, a = _arrays(counts, load)
    with np.errstate(divide="ignore", over="ignore"):
        hi = a / (1.0 - float(recall))
    return float((RECALL_WALKS * np.maximum(walk_steps(n, a), walk_steps(n, hi)) + PER_COUNT_STEPS).sum())


__all__ = ["MAX_WORK_STEPS", "erlang_a_steps", "erlang_b_steps", "erlang_c_steps", "extended_erlang_b_steps",
           "load_for_blocking_steps", "walk_steps"]
