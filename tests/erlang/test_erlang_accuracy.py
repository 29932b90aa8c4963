"""Accuracy against a 40-digit mpmath reference, 0.01 to 50,000 Erlangs, up to 100,000 servers.

Reference: B(N, A) = pmf(N; A) / cdf(N; A) of the Poisson law, with the cdf
from mpmath's regularized upper incomplete gamma Q(N + 1, A) for N >= A, and
the falling-term series 1/B = sum_j N!/((N-j)! A^j) for N < A (where mpmath's
gammainc does not converge reliably); C, SL and ASA
from B by their closed forms in 40-digit arithmetic.  Required: relative
error <= 1e-10 wherever the true value is a normal double (> 1e-300).
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.erlang import asa, erlang_b, erlang_c, load_for_blocking, service_level

REL = 1e-10
TINY = mp.mpf("1e-300")


def ref_b(n: int, a: float) -> mp.mpf:
    with mp.workdps(40):
        if n == 0:
            return mp.mpf(1)
        am = mp.mpf(a)
        if n < a:  # 1/B = sum_j n(n-1)...(n-j+1) / a^j, terms fall at once
            total = term = mp.mpf(1)
            for j in range(1, n + 1):
                term *= (n - j + 1) / am
                total += term
                if term < total * mp.mpf("1e-45"):
                    break
            return 1 / total
        log_pmf = n * mp.log(am) - am - mp.loggamma(n + 1)
        return mp.exp(log_pmf) / mp.gammainc(n + 1, am, mp.inf, regularized=True)


def ref_c_family(n: int, a: float, aht: float, t: float):
    with mp.workdps(40):
        if n <= a:
            return mp.mpf(1), mp.mpf(0), mp.inf
        b = ref_b(n, a)
        am = mp.mpf(a)
        c = n * b / (n - am * (1 - b))
        return c, 1 - c * mp.exp(-(n - am) * mp.mpf(t) / aht), c * aht / (n - am)


def close(x: float, ref) -> bool:
    if ref < TINY:
        return x <= 1e-290
    return abs(mp.mpf(x) - ref) <= REL * ref


def grid():
    for a in (0.01, 0.37, 1.0, 7.3, 48.5, 512.25, 4999.9, 20_000.0, 50_000.0):
        s = math.sqrt(a)
        ns = {0, 1, 2, int(a / 2), int(a - 3 * s), int(a), int(a) + 1, int(a + s), int(a + 3 * s),
              int(a + 10 * s), int(a + 30 * s), 100_000}
        for n in sorted(x for x in ns if 0 <= x <= 100_000):
            yield n, a


@pytest.mark.parametrize("a", sorted({a for _, a in grid()}))
def test_erlang_b_grid(a):
    ns = np.array([n for n, aa in grid() if aa == a])
    got = erlang_b(ns, a)
    bad = [(int(n), g, mp.nstr(ref_b(int(n), a), 17)) for n, g in zip(ns, got) if not close(g, ref_b(int(n), a))]
    assert not bad


@pytest.mark.parametrize("a", [0.01, 1.0, 7.3, 512.25, 50_000.0])
def test_erlang_c_sl_asa_grid(a):
    aht, t = 240.0, 20.0
    for n, aa in grid():
        if aa != a or n <= a:
            continue
        c, sl, q = ref_c_family(n, a, aht, t)
        assert close(erlang_c(n, a), c), (n, a)
        assert close(service_level(n, a, aht, t), sl), (n, a)
        assert close(asa(n, a, aht), q), (n, a)


def test_small_service_level_keeps_relative_precision():
    # N just above A and t = 1 s: SL ~ 1e-4, computed without cancellation.
    n, a, aht, t = 1000, 999.9, 300.0, 1.0
    _, sl, _ = ref_c_family(n, a, aht, t)
    assert sl < 1e-2
    assert close(service_level(n, a, aht, t), sl)


@settings(max_examples=25, deadline=None)
@given(a=st.floats(0.01, 50_000.0), z=st.floats(-4.0, 12.0))
def test_erlang_b_random(a, z):
    n = max(0, int(a + z * math.sqrt(a)))
    assert close(erlang_b(n, a), ref_b(n, a))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 100_000), tgt=st.floats(1e-6, 0.5))
def test_load_for_blocking_inverts(n, tgt):
    a = load_for_blocking(n, tgt)
    with mp.workdps(40):
        assert abs(ref_b(n, a) / mp.mpf(tgt) - 1) < 1e-12
