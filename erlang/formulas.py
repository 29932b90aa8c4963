"""Erlang B and Erlang C: blocking, waiting, service level, ASA, trunks.

All functions are numpy-vectorised: every argument may be a scalar or an
array, arguments broadcast together, and a scalar result is returned as a
Python ``float``/``int``.  Server and agent counts are whole numbers (a
fraction of an agent is not a planning quantity); loads are in Erlangs
(calls per second x AHT in seconds).  Invalid input raises ``ValueError``
naming the argument.

Numerics (see ``kernels.py`` and ``docs/erlang.md``): the positive-term
recursion ``1/B(n) = 1 + (n/A)/B(n-1)`` started where earlier terms are
below 1e-20 relative, with exponent scaling; no factorials, no cancellation.
Relative error <= 1e-12 in practice (<= 1e-10 guaranteed by the tests against
mpmath) for loads 0.01 to 50,000 Erlangs and up to 100,000 servers; values
below ~1e-300 are returned as the nearest tiny double or 0.0.

Limits (checked before any work; see ``_validate``): counts 0 to 10**9; a
load is 0 or a finite number >= 1e-18 Erlangs; a service-level threshold 0
to 86,400 s (a day); the searches (:func:`trunks_for_blocking`, the staffing
functions) need a load below 1e9 Erlangs and raise ``ValueError`` when no
count up to 10**9 meets the target.  Every function answers in bounded time
for any accepted input (at most about 61 sqrt(A) + 350 recursion steps per
value, about 2 x 10**6 near 10**9 Erlangs, plus a capped Newton iteration;
ascending counts above the load share one walk,
``kernels.inv_erlang_b_walk``).  :func:`erlang_c_metrics` gives P(wait),
service level, ASA and occupancy from one walk per count.  ``work``
estimates the steps of a whole input, for callers that bound it (the
command line does).
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

import numpy as np

from . import _validate as v
from . import kernels as k


def erlang_b(servers, load):
    """Blocking probability B(servers, load) of an M/M/N/N loss system.

    ``servers = 0`` gives 1; ``load = 0`` (with servers >= 1) gives 0.
    """
    shape, (n, a) = v.flat(v.count("servers", servers), v.load("load", load))
    out = np.empty(n.shape[0])
    k.erlang_b_kernel(n, a, out)
    return v.shaped(out, shape)


def carried_load(servers, load):
    """Load carried by ``servers`` lines, ``load (1 - B(servers, load))`` Erlangs, without cancellation.

    Stays right when blocking rounds to 1: 10 lines under 1e300 Erlangs carry
    10 Erlangs (``load * (1 - erlang_b(...))`` would give 0)."""
    shape, (n, a) = v.flat(v.count("servers", servers), v.load("load", load))
    out = np.empty(n.shape[0])
    k.carried_load_kernel(n, a, out)
    return v.shaped(out, shape)


class ExtendedErlangB(NamedTuple):
    """Result of :func:`extended_erlang_b` (loads in Erlangs)."""

    blocking: float | np.ndarray
    """Probability that an attempt (first or retry) is blocked."""
    offered_load_erl: float | np.ndarray
    """Total offered load: fresh calls plus retries."""
    base_load_erl: float | np.ndarray
    """Fresh load (the ``load`` argument)."""
    carried_load_erl: float | np.ndarray
    """Load carried by the servers: offered x (1 - blocking)."""
    lost_load_erl: float | np.ndarray
    """Load of callers who give up for good: (1 - recall) x offered x blocking."""
    iterations: int | np.ndarray
    """Newton/bisection steps used to reach the fixed point."""


def extended_erlang_b(servers, load, recall) -> ExtendedErlangB:
    """Erlang B with retries: a fraction ``recall`` of blocked callers try again.

    The total offered load x is the fixed point of
    ``x = load + recall * x * B(servers, x)``.  Since the lost traffic x B(n, x)
    grows with slope in (0, 1), ``g(x) = x - load - recall x B`` is increasing
    with g(load) <= 0 <= g(load / (1 - recall)): the fixed point is unique and
    is solved to full double precision by Newton steps kept inside that
    bracket.  ``recall`` must be in [0, 1).
    """
    shape, (n, a, r) = v.flat(v.count("servers", servers), v.load("load", load),
                              v.real("recall", recall, high=1.0, high_open=True))
    with np.errstate(over="ignore"):
        ceiling = a / (1.0 - r)
    if not np.all(np.isfinite(ceiling)):
        raise ValueError("load / (1 - recall) must be finite: the retries would offer infinite load")
    x = np.empty(n.shape[0])
    b = np.empty(n.shape[0])
    it = np.empty(n.shape[0], dtype=np.int64)
    k.extended_erlang_b_kernel(n, a, r, x, b, it)
    carried = np.empty(n.shape[0])
    k.carried_load_kernel(n, x, carried)
    lost = (1.0 - r) * x * b
    return ExtendedErlangB(v.shaped(b, shape), v.shaped(x, shape), v.shaped(a.copy(), shape),
                           v.shaped(carried, shape), v.shaped(lost, shape), v.shaped(it, shape))


def trunks_for_blocking(load, target):
    """Least number of lines N with B(N, load) <= target (target in (0, 1)); load below 1e9 Erlangs."""
    shape, (a, t) = v.flat(v.load("load", load, search=True), v.probability("target", target))
    out = np.empty(a.shape[0], dtype=np.int64)
    k.trunks_kernel(a, t, out)
    return v.shaped(v.found(out, "line"), shape)


def load_for_blocking(servers, target):
    """Offered load (Erlangs) at which ``servers`` lines block with probability ``target``.

    The load carried at that point is ``offered x (1 - target)``.  Zero servers
    carry nothing: the result is 0.0.  Solved by safeguarded Newton on log B to
    relative precision ~1e-15.  A target so small that the load would be
    below 1e-18 Erlangs raises ``ValueError``.
    """
    shape, (n, t) = v.flat(v.count("servers", servers), v.probability("target", target))
    out = np.empty(n.shape[0])
    k.load_for_blocking_kernel(n, t, out)
    if np.any(out < 0):
        raise ValueError(f"target is too small: the load would be below {v.MIN_LOAD_ERL:g} Erlangs")
    return v.shaped(out, shape)


class ErlangCResult(NamedTuple):
    """Result of :func:`erlang_c_metrics`; each field a float (or array)."""

    p_wait: float | np.ndarray
    """Probability of waiting, C(N, A); 1 when agents <= load."""
    service_level: float | np.ndarray
    """P(wait <= threshold_s); 0 when agents <= load."""
    asa_s: float | np.ndarray
    """Average speed of answer, seconds, C AHT / (N - A); inf when agents <= load."""
    occupancy: float | np.ndarray
    """Fraction of time agents are busy, min(A / N, 1) (as :func:`occupancy`)."""


def _c_family(agents, load, aht_s=1.0, threshold_s=0.0):
    """One Erlang C kernel pass: ``(shape, n, a, p_wait, sl, asa_s)`` as flat arrays."""
    n = v.count("agents", agents)
    a = v.load("load", load)
    aht = v.real("aht_s", aht_s, low_open=True)
    thr = v.wait("threshold_s", threshold_s)
    shape, (n, a, aht, thr) = v.flat(n, a, aht, thr)
    p_wait = np.empty(n.shape[0])
    sl = np.empty(n.shape[0])
    asa_aht = np.empty(n.shape[0])
    with np.errstate(over="ignore"):
        x_sl = thr / aht  # inf (a long threshold over a tiny AHT) is a valid limit
    k.erlang_c_kernel(n, a, x_sl, p_wait, sl, asa_aht)
    with np.errstate(over="ignore", invalid="ignore"):
        asa_s = asa_aht * aht  # an absurd AHT near 1e308 overflows to inf seconds
    return shape, n, a, p_wait, sl, asa_s


def erlang_c_metrics(agents, load, aht_s, threshold_s=20.0) -> ErlangCResult:
    """P(wait), service level, ASA and occupancy of M/M/N from one Erlang C walk per count.

    Bit for bit what :func:`erlang_c`, :func:`service_level`, :func:`asa` and
    :func:`occupancy` return for the same arguments, at a third of their
    combined cost (they share this kernel call; ascending counts at one load
    share one walk, as in each of them).
    """
    shape, n, a, p_wait, sl, asa_s = _c_family(agents, load, aht_s, threshold_s)
    return ErlangCResult(v.shaped(p_wait, shape), v.shaped(sl, shape), v.shaped(asa_s, shape),
                         v.shaped(_occupancy(n, a), shape))


def erlang_c(agents, load):
    """Probability of waiting (Erlang C) in M/M/N; 1 when agents <= load."""
    shape, _, _, p_wait, _, _ = _c_family(agents, load)
    return v.shaped(p_wait, shape)


def service_level(agents, load, aht_s, threshold_s):
    """P(wait <= threshold_s) in M/M/N: 1 - C exp(-(N - A) t / AHT); 0 when agents <= load.

    Evaluated as ``(1 - C) - C expm1(-(N - A) t / AHT)``, a sum of two
    non-negative terms, so small service levels keep full relative precision.
    ``threshold_s`` is 0 to 86,400 s (a day, ``_validate.MAX_WAIT_S``).
    """
    shape, _, _, _, sl, _ = _c_family(agents, load, aht_s, threshold_s)
    return v.shaped(sl, shape)


def asa(agents, load, aht_s):
    """Average speed of answer in seconds, C AHT / (N - A); ``inf`` when agents <= load."""
    shape, _, _, _, _, asa_s = _c_family(agents, load, aht_s)
    return v.shaped(asa_s, shape)


def _occupancy(n: np.ndarray, a: np.ndarray) -> np.ndarray:
    nf = n.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(n > a, a / np.where(n > 0, nf, 1.0), np.where(a > 0, 1.0, 0.0))
    return out.astype(np.float64)


def occupancy(agents, load):
    """Fraction of time agents are busy, min(A / N, 1).

    With agents <= load the queue grows without bound and every agent is busy
    (1.0); zero agents with zero load give 0.0.
    """
    shape, (n, a) = v.flat(v.count("agents", agents), v.load("load", load))
    return v.shaped(_occupancy(n, a), shape)


def scheduled_staff(agents, shrinkage):
    """Agents to schedule so that ``agents`` remain after ``shrinkage`` (in [0, 1)).

    The exact ceiling of ``agents / (1 - shrinkage)``, with the shrinkage
    read as the decimal it prints as (``0.2`` is 1/5, so 80 / (1 - 0.2) is
    exactly 100, not 101; ``scheduled_staff(10**9, 0.999999)`` is 10**15).
    Integer arithmetic throughout, no rounding tolerance.
    """
    shape, (n, s) = v.flat(v.count("agents", agents),
                           v.real("shrinkage", shrinkage, high=1.0, high_open=True))
    kept = {x: 1 - Fraction(repr(x)) for x in set(s.tolist())}  # 1 - shrinkage, exact
    out = np.array([-((-ni * f.denominator) // f.numerator) for ni, f in
                    zip(n.tolist(), (kept[x] for x in s.tolist()))], dtype=object)
    if out.size and max(out) > np.iinfo(np.int64).max:
        raise ValueError("agents / (1 - shrinkage) is too large to schedule (shrinkage too close to 1)")
    return v.shaped(out.astype(np.int64), shape)


def load_erlangs(calls, interval_s, aht_s):
    """Offered load in Erlangs: calls per interval x AHT / interval length."""
    c = v.real("calls", calls)
    i = v.real("interval_s", interval_s, low_open=True)
    h = v.real("aht_s", aht_s, low_open=True)
    with np.errstate(over="ignore"):
        out = c * h / i
    if not np.all(np.isfinite(out)):
        raise ValueError("calls x aht_s / interval is not a finite load")
    return out.item() if out.ndim == 0 else out


__all__ = ["ErlangCResult", "ExtendedErlangB", "asa", "carried_load", "erlang_b", "erlang_c", "erlang_c_metrics",
           "extended_erlang_b", "load_erlangs",
           "load_for_blocking", "occupancy", "scheduled_staff", "service_level",
           "trunks_for_blocking"]
