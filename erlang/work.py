"""Work estimates for evaluating many counts at once, so a caller can refuse a range before starting.

One value costs at most ~61 sqrt(load) + 350 recursion steps (see ``kernels.py``),
which is fast for one count but adds up: 100,000 counts near 10**9 would take
minutes.  These functions estimate the total in *steps*, the unit of the Erlang
B recursion (a single step, about 2 ns on a 2-core Xeon), modelling the kernels:

* A fresh walk to count n at load a: the truncated start ``s``, the fused part
  up to ``min(n, floor(a) + 1)`` (``FUSED_STEP`` each: two recursion steps per
  loop) and single steps beyond it, capped where 1/B passes 1e560 (about
  51 sqrt(a) + 300 steps past the load).
* :func:`erlang_b_steps`, :func:`erlang_c_steps`: a count above the load that
  follows a count above the same load whose walk stopped at or below it
  (the previous count, or the saturation point) continues that walk
  (``kernels.inv_erlang_b_walk``): only the steps between them count.
  Erlang C costs nothing at or below the load (C = 1 there); one Erlang C
  walk gives P(wait), SL and ASA (``erlang_c_metrics``).
* :func:`erlang_a_steps`: a fresh walk plus the exact queue sums, their length
  from :func:`queue_terms`, each term weighted ``QUEUE_TERM_STEPS``.
* :func:`load_for_blocking_steps`: the solver's walks at half the count; how
  many depends on the target and the count (:func:`solver_walks`, measured).
* :func:`extended_erlang_b_steps`: walks at the load and near the fixed point
  (estimated in closed form), one Newton step where B is negligible.
* Every value adds ``PER_COUNT_STEPS``, every call ``CALL_STEPS`` (Erlang C
  and A, which return records, ``RECORD_CALL_STEPS``), every solver iteration
  ``ITERATION_STEPS``.

Estimates, not bounds: measured seconds per estimated step stayed within
0.59-5.0 ns (median 1.8 ns, within about 3x of it either way) over a grid of
all estimators, loads 1 to 1e9, single counts and ranges of up to 3,000
counts in any order (docs/erlang.md, "Command line", gives the grid and the
command).  ``MAX_WORK_STEPS`` is the limit the command line
applies.  Pure numpy; cost O(number of counts).
"""

from __future__ import annotations

import numpy as np

#: The most estimated steps the command line starts on: about half a minute on this 2-core Xeon, where the
#: time per estimated step measured 0.59-5.0 ns (median 1.8 ns) over a grid of 666 inputs of every estimator
#: (loads 1 to 1e9, one count to 3,000 counts in any order; docs/erlang.md, "Command line", has the grid and
#: the command) and 0.98-4.2 ns on the inputs that took a millisecond or more: 36 s at the median, 20 s to a
#: minute and a half across that band.  trunks --lines 1:100000 (1.4e10 steps at --blocking 0.01) took 28 s.
MAX_WORK_STEPS = 2 * 10**10
#: Steps past the load after which 1/B > 1e560 and the walk stops (51 sqrt(a) + 300).
SATURATION_SQRT, SATURATION_CONST = 51.0, 300.0
#: One Erlang A queue term (several multiplies and a division) in steps.
QUEUE_TERM_STEPS = 5.0
#: Fixed cost of one value (loop, exp and log of the result) in steps.
PER_COUNT_STEPS = 25.0
#: A step of the fused part (two recursion steps per loop, up to the load) against a single step past it.
FUSED_STEP = 0.7
#: Fixed cost of one call (argument checks, arrays, the result) in steps: 20-50 us; a call that returns a
#: record (``erlang_c_metrics``: four arrays, ``erlang_a``: seven and the queue check) 75-140 us.
CALL_STEPS = 25_000.0
RECORD_CALL_STEPS = 60_000.0
#: Fixed cost of one solver iteration (its logs, exps and the bracket), in steps.
ITERATION_STEPS = 80.0
#: Iterations of load_for_blocking's safeguarded Newton (measured 10-80, whatever the count).
SOLVER_ITERATIONS = 40
#: Iterations of extended Erlang B's Newton where B(n, load) is not negligible (measured 3-8).
RECALL_ITERATIONS = 6
#: ln(1e18): a sum's tail below 1e-18 of its total is dropped.
TAIL_LOG = 41.4


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
    return np.where(live, FUSED_STEP * (m - s) + single, 0.0)


def _sequence_steps(counts, load, above_only: bool) -> float:
    call = RECORD_CALL_STEPS if above_only else CALL_STEPS
    n, a = _arrays(counts, load)
    fresh = walk_steps(n, a)
    if above_only:
        fresh = np.where(n > a, fresh, 0.0)
    if n.size < 2:
        return float(fresh.sum() + PER_COUNT_STEPS * n.size + call)
    end = np.floor(a) + 1.0 + SATURATION_SQRT * np.sqrt(a) + SATURATION_CONST  # where the walk saturates
    reached = np.minimum(n, end)  # the count a walk to n stops at
    shared = (n[:-1] > a[:-1]) & (a[:-1] > 0) & (a[1:] == a[:-1]) & (reached[:-1] <= n[1:])
    later = np.where(shared, np.maximum(reached[1:] - reached[:-1], 0.0), fresh[1:])
    return float(fresh[0] + later.sum() + PER_COUNT_STEPS * n.size + call)


def erlang_b_steps(counts, load) -> float:
    """Estimated steps of ``erlang_b`` (or ``carried_load``) over ``counts`` in that order."""
    return _sequence_steps(counts, load, above_only=False)


def erlang_c_steps(counts, load) -> float:
    """Estimated steps of ``erlang_c_metrics`` (or of each of ``erlang_c``, ``service_level``, ``asa``) over
    ``counts`` in that order."""
    return _sequence_steps(counts, load, above_only=True)


def queue_terms(counts, load, aht_s, patience_s) -> np.ndarray:
    """Terms J of the Erlang A queue sum: until rho_j = prod_{i<=j} a'/(c + i) is below 1e-18 of the sum.

    With ``d = c - a'`` (``c = n patience/aht``, ``a' = a patience/aht``): an overloaded queue first rises
    for ``-d`` terms; then ``ln rho`` falls by about ``ln(1 + (d+ + j/2)/a')`` a term, so the tail ends
    after ``J ~ ln(1e18) / ln(1 + (d+ + j0/2)/a')`` terms, with ``j0 = sqrt(d+^2 + 2 ln(1e18) a') - d+``
    (the quadratic answer, right when d is small; the logarithm is right when c >> a')."""
    n, a = _arrays(counts, load)
    ratio = patience_s / aht_s
    ap, d = a * ratio, (n - a) * ratio
    dp = np.maximum(d, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        j0 = np.sqrt(dp * dp + 2.0 * TAIL_LOG * ap) - dp
        fall = TAIL_LOG / np.log1p((dp + 0.5 * j0) / ap)
    fall = np.where(np.isfinite(fall), fall, 1.0)
    return np.maximum(-d, 0.0) + fall + 2.0


def erlang_a_steps(counts, load, aht_s, patience_s, threshold_s) -> float:
    """Estimated steps of ``erlang_a`` over ``counts``: a fresh walk and the queue sums per count."""
    n, a = _arrays(counts, load)
    if not 0.0 < patience_s < np.inf or load == 0.0:
        return float((walk_steps(n, a) + PER_COUNT_STEPS).sum() + RECORD_CALL_STEPS)  # Erlang B / C limits
    queue = queue_terms(n, a, aht_s, patience_s)
    c = n * (patience_s / aht_s)
    p = -np.expm1(-threshold_s / patience_s)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        mean = (c + 1.0) * p / (1.0 - p)  # the service-level sum's negative binomial
        tail = np.where(mean < queue, 10.0 * np.sqrt((c + 1.0) * p) / (1.0 - p) + 50.0, 0.0)
    tail = np.nan_to_num(tail, nan=0.0, posinf=1e7)
    terms = np.minimum(queue, 1e7) + np.minimum(tail, 1e7)  # the kernel refuses longer sums
    return float((walk_steps(n, a) + QUEUE_TERM_STEPS * terms + PER_COUNT_STEPS).sum() + RECORD_CALL_STEPS)


def solver_walks(counts, target) -> np.ndarray:
    """Walks of ``load_for_blocking``'s safeguarded Newton beyond two at half the count, as measured:
    ``1.8 log10(1 + ln(target)^2) log10(n)``; at 10**9 lines 3 for a target of 0.5 (the root is above the
    count, where walks are short), 22 at 0.01, 37 at 1e-6 and 92 at 1e-300; fewer for fewer lines."""
    n, _ = _arrays(counts, 0.0)
    return 1.8 * np.log10(1.0 + np.log(target) ** 2) * np.log10(np.maximum(n, 10.0))


def load_for_blocking_steps(counts, target=1e-300) -> float:
    """Estimated steps of ``load_for_blocking``: ``2 + solver_walks`` walks per count at half the count, and
    ``SOLVER_ITERATIONS`` iterations.

    The solver starts there and its later iterates, on the way down from above the count or up from the
    bottom of its bracket, cost about as much.  Without ``target`` the dearest (1e-300) is assumed."""
    n, _ = _arrays(counts, 0.0)
    walks = 2.0 + solver_walks(n, float(target))
    steps = walks * walk_steps(n, n / 2.0) + SOLVER_ITERATIONS * ITERATION_STEPS + PER_COUNT_STEPS
    return float(steps.sum() + CALL_STEPS)


def extended_erlang_b_steps(counts, load, recall) -> float:
    """Estimated steps of ``extended_erlang_b``: a walk at ``load``, Newton's walks near the fixed point x, and
    the walks for the blocking and the carried load at x.

    x is about ``load`` when the count is above the load and ``(load - recall n) / (1 - recall)`` (B ~ 1 - n/x)
    when the retries overload it; one iteration suffices where B(n, load) is negligible
    (n >= load + 10 sqrt(load) + 45), about ``RECALL_ITERATIONS`` elsewhere."""
    n, a = _arrays(counts, load)
    r = float(recall)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        x = np.maximum(a, (a - r * n) / (1.0 - r))
    x = np.where(np.isfinite(x), x, a)
    first, at_x = walk_steps(n, a), walk_steps(n, x)
    quiet = n >= a + 10.0 * np.sqrt(a) + 45.0
    walks = np.where(quiet, 3.0 * first, first + (RECALL_ITERATIONS + 1) * at_x)
    return float((walks + ITERATION_STEPS * RECALL_ITERATIONS + PER_COUNT_STEPS).sum() + CALL_STEPS)


__all__ = ["MAX_WORK_STEPS", "erlang_a_steps", "erlang_b_steps", "erlang_c_steps", "extended_erlang_b_steps",
           "load_for_blocking_steps", "queue_terms", "solver_walks", "walk_steps"]
