"""Least agents for an Erlang C target: service level or ASA, with an occupancy cap.

Both searches start at the first agent count above the load (and at the
occupancy floor ceil(load / max_occupancy)) and step upwards one agent at a
time, advancing the Erlang B recursion by one term per step: O(sqrt(A)) work
per value even at 50,000 Erlangs.  Loads must be below 1e9 Erlangs and the
answer at most 10**9 agents (else ``ValueError``); thresholds and ASA
targets at most 86,400 s (a day).  The scan evaluates exactly the arithmetic
of :func:`~busyhour.erlang.service_level` / :func:`~busyhour.erlang.asa`, so
the answer N meets the target and N - 1 does not, bit for bit.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from . import kernels as k


def _occ(max_occupancy):
    if max_occupancy is None:
        return np.asarray(1.0)
    return v.real("max_occupancy", max_occupancy, low_open=True, high=1.0)


def agents_for_service_level(load, aht_s, threshold_s, target, max_occupancy=None):
    """Least agents N with service_level(N, load, aht_s, threshold_s) >= target.

    With ``max_occupancy`` also load / N <= max_occupancy.  Zero load needs
    one agent (zero agents answer nobody).
    """
    a = v.load("load", load, search=True)
    aht = v.real("aht_s", aht_s, low_open=True)
    thr = v.wait("threshold_s", threshold_s)
    tgt = v.probability("target", target)
    shape, (a, aht, thr, tgt, occ) = v.flat(a, aht, thr, tgt, _occ(max_occupancy))
    out = np.empty(a.shape[0], dtype=np.int64)
    with np.errstate(over="ignore"):
        x_sl = thr / aht  # inf (a huge threshold over a tiny AHT) is a valid limit
    k.staff_kernel(a, aht, x_sl, tgt, 0, occ, out)
    return v.shaped(v.found(out, "agent"), shape)


def agents_for_asa(load, aht_s, target_s, max_occupancy=None):
    """Least agents N with asa(N, load, aht_s) <= target_s (seconds, above 0 up to 86,400, a day)."""
    a = v.load("load", load, search=True)
    aht = v.real("aht_s", aht_s, low_open=True)
    tgt = v.wait("target_s", target_s, positive=True)
    shape, (a, aht, tgt, occ) = v.flat(a, aht, tgt, _occ(max_occupancy))
    out = np.empty(a.shape[0], dtype=np.int64)
    k.staff_kernel(a, aht, np.zeros_like(a), tgt, 1, occ, out)
    return v.shaped(v.found(out, "agent"), shape)


__all__ = ["agents_for_asa", "agents_for_service_level"]
