"""Erlang A (M/M/N+M): queues where callers hang up after an exponential patience.

Solved exactly as a birth-death chain (``kernels.erlang_a_point``): no simulation, no
approximation beyond dropping a queue tail below 1e-18 of the total.  The
service level counts calls answered within the threshold among all offered
calls (abandoned calls count against it), as in Mandelbaum & Zeltyn,
"The M/M/n+G queue: summary of performance measures".

Limits: loads as in :mod:`.formulas` (the search below 1e9 Erlangs, answers up
to 10**9 agents); patience and threshold 0 to 86,400 s (a day; patience
also inf); an evaluation whose queue would hold more than 5,000,000
callers ((load - agents) x patience_s / aht_s) is refused.  ``patience_s = inf``
is Erlang C (identical results for N > A); ``patience_s = 0`` is the Erlang B
loss system.  Zero agents and agents below
the load are valid (the queue is stable with abandonment).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _validate as v
from . import kernels as k


class ErlangAResult(NamedTuple):
    """Performance of an M/M/N+M queue; each field a float (or array)."""

    p_wait: float | np.ndarray
    """Probability that a caller finds every agent busy (has to queue)."""
    p_abandon: float | np.ndarray
    """Probability that a caller hangs up before being answered."""
    asa_s: float | np.ndarray
    """Mean wait of answered calls, seconds (immediate answers count as 0); inf if none is answered."""
    mean_wait_s: float | np.ndarray
    """Mean time in queue over all callers, answered or abandoned, seconds."""
    service_level: float | np.ndarray
    """P(answered within threshold_s), over all offered calls."""
    service_level_of_answered: float | np.ndarray
    """P(wait <= threshold_s | answered)."""
    occupancy: float | np.ndarray
    """Carried load / agents = load (1 - p_abandon) / agents; 0 with no agents."""


def _args(agents, load, aht_s, patience_s, threshold_s):
    return (v.count("agents", agents), v.load("load", load),
            v.real("aht_s", aht_s, low_open=True),
            v.wait("patience_s", patience_s, allow_inf=True), v.wait("threshold_s", threshold_s))


def _check_queue_length(n, a, aht, patience):
    finite = np.isfinite(patience) & (patience > 0)
    with np.errstate(over="ignore", invalid="ignore"):
        queue = np.where(finite, (a - n) * np.where(finite, patience, 0.0) / aht, 0.0)
    if np.any(queue > k.MAX_QUEUE_TERMS / 2):
        raise ValueError("patience_s is too long for this overload: the queue would hold more than "
                         f"{k.MAX_QUEUE_TERMS // 2:,} callers ((load - agents) x patience_s / aht_s); "
                         "use patience_s=inf (Erlang C) or more agents")


def erlang_a(agents, load, aht_s, patience_s, threshold_s=20.0) -> ErlangAResult:
    """Erlang A measures for ``agents`` serving ``load`` Erlangs with mean patience ``patience_s``."""
    shape, (n, a, aht, pat, thr) = v.flat(*_args(agents, load, aht_s, patience_s, threshold_s))
    _check_queue_length(n, a, aht, pat)
    out = np.empty((7, n.shape[0]))
    k.erlang_a_kernel(n, a, aht, pat, thr, out)
    return ErlangAResult(*(v.shaped(out[i].copy(), shape) for i in range(7)))


def agents_for_erlang_a(load, aht_s, patience_s, threshold_s=20.0, *, target_sl=None,
                        max_abandon=None, max_occupancy=None):
    """Least agents with SL >= ``target_sl`` and P(abandon) <= ``max_abandon`` in M/M/N+M.

    At least one of ``target_sl`` / ``max_abandon`` must be given; an optional
    ``max_occupancy`` additionally caps the Erlang A occupancy
    (carried load / agents = load (1 - P(abandon)) / agents).
    """
    if target_sl is None and max_abandon is None:
        raise ValueError("target_sl or max_abandon must be given")
    a = v.load("load", load, search=True)
    aht = v.real("aht_s", aht_s, low_open=True)
    pat = v.wait("patience_s", patience_s, allow_inf=True)
    thr = v.wait("threshold_s", threshold_s)
    tsl = np.nan if target_sl is None else v.probability("target_sl", target_sl)
    mab = np.nan if max_abandon is None else v.probability("max_abandon", max_abandon)
    occ = 1.0 if max_occupancy is None else v.real("max_occupancy", max_occupancy,
                                                   low_open=True, high=1.0)
    shape, (a, aht, pat, thr, tsl, mab, occ) = v.flat(a, aht, pat, thr,
                                                       np.asarray(tsl, float), np.asarray(mab, float),
                                                       np.asarray(occ, float))
    out = np.empty(a.shape[0], dtype=np.int64)
    try:
        k.staff_a_kernel(a, aht, pat, thr, tsl, mab, occ, out)
    except ValueError:  # the kernel refuses queues beyond MAX_QUEUE_TERMS callers
        raise ValueError("patience_s is too long for this load: the search meets queues of more than "
                         f"{k.MAX_QUEUE_TERMS:,} callers ((load - agents) x patience_s / aht_s); use "
                         "patience_s=inf (Erlang C) or a shorter patience") from None
    return v.shaped(v.found(out, "agent"), shape)


__all__ = ["ErlangAResult", "agents_for_erlang_a", "erlang_a"]
