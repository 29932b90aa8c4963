"""Erlang A (M/M/N+M) against an independent high-precision reference and its limits.

Invariants checked:
1. Agreement (1e-10 relative) with an mpmath reference that builds the chain
   from its rates and gets the answered-within-t probability from the explicit
   hypoexponential density of the offered wait (no Beta/negative-binomial
   identity, no rearranged sums), P(abandon) from theta E[Q] / lambda.
2. patience_s = inf is Erlang C exactly (N > A); patience -> inf converges to it.
   A second reference (Beta-function form, 40 digits) covers 2,000 agents.
3. patience_s = 0 is the Erlang B loss system; patience -> 0 converges to it.
4. Zero agents: everyone abandons; N < A is stable and finite.
5. SL rises and P(abandon) falls with agents; SL <= 1 - P(abandon) <= 1.
6. agents_for_erlang_a returns the least N meeting its targets.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.erlang import (
    agents_for_erlang_a,
    asa,
    erlang_a,
    erlang_b,
    erlang_c,
    occupancy,
    service_level,
)
from busyhour.erlang._validate import MAX_WAIT_S


def ref_erlang_a(n, a, aht, patience, t):
    with mp.workdps(80):
        mu, th = 1 / mp.mpf(aht), 1 / mp.mpf(patience)
        lam = mp.mpf(a) * mu
        pi = [mp.mpf(1)]
        for k in range(1, n + 1):
            pi.append(pi[-1] * lam / (k * mu))
        j = 0
        while True:  # queue states n + j + 1
            pi.append(pi[-1] * lam / (n * mu + (j + 1) * th))
            j += 1
            if pi[-1] < mp.mpf("1e-40") * sum(pi) and n * mu + (j + 1) * th > lam:
                break
        z = sum(pi)
        pi = [p / z for p in pi]
        queue = pi[n:]
        p_wait = sum(queue)
        eq = sum(i * p for i, p in enumerate(queue))
        p_ab = th * eq / lam
        sl = sum(pi[:n])
        wait_served = mp.mpf(0)
        p_served = sum(pi[:n])
        for jj, p in enumerate(queue):
            rates = [n * mu + i * th for i in range(jj + 1)]
            for i, r in enumerate(rates):
                ci = mp.fprod(rk / (rk - r) for kk, rk in enumerate(rates) if kk != i)
                sl += p * ci * r * (1 - mp.exp(-(r + th) * t)) / (r + th)
                wait_served += p * ci * r / (r + th) ** 2
                p_served += p * ci * r / (r + th)
        return dict(p_wait=p_wait, p_abandon=p_ab, asa_s=wait_served / p_served, mean_wait_s=eq / lam,
                    service_level=sl, service_level_of_answered=sl / p_served,
                    occupancy=mp.mpf(a) * (1 - p_ab) / n, p_served=p_served)


CASES = [
    (10, 8.0, 180.0, 120.0, 20.0),
    (5, 8.0, 180.0, 120.0, 20.0),  # fewer agents than the load
    (1, 0.3, 300.0, 60.0, 10.0),
    (20, 25.0, 240.0, 600.0, 30.0),
    (30, 22.5, 200.0, 45.0, 0.0),
]


@pytest.mark.parametrize("case", CASES)
def test_against_mpmath_reference(case):
    got = erlang_a(*case)
    ref = ref_erlang_a(*case)
    with mp.workdps(80):  # the reference is self-consistent: answered + abandoned = 1
        assert abs(ref["p_served"] + ref["p_abandon"] - 1) < mp.mpf("1e-25")
    for field in got._fields:
        assert abs(getattr(got, field) - ref[field]) <= 1e-10 * abs(ref[field]) + 1e-300, field


@pytest.mark.parametrize("n, a", [(10, 8.0), (101, 100.0), (5200, 5000.0)])
def test_infinite_patience_is_erlang_c(n, a):
    r = erlang_a(n, a, 240.0, math.inf, 20.0)
    assert r.p_wait == erlang_c(n, a)
    assert r.service_level == service_level(n, a, 240.0, 20.0)
    assert r.asa_s == asa(n, a, 240.0)
    assert r.p_abandon == 0.0
    assert r.occupancy == occupancy(n, a)
    aht_s = MAX_WAIT_S / 1e9  # the longest patience, 1e9 AHTs: the model depends on patience / AHT only
    t_s = 20.0 * aht_s / 240.0
    far, near = erlang_a(n, a, aht_s, math.inf, t_s), erlang_a(n, a, aht_s, MAX_WAIT_S, t_s)
    assert near.service_level == pytest.approx(far.service_level, rel=1e-6)
    assert near.asa_s == pytest.approx(far.asa_s, rel=1e-6)


@pytest.mark.parametrize("n, a", [(1, 1.0), (10, 12.0), (300, 280.0)])
def test_zero_patience_is_erlang_b(n, a):
    b = erlang_b(n, a)
    r = erlang_a(n, a, 180.0, 0.0, 20.0)
    assert r.p_abandon == pytest.approx(b, rel=1e-15)
    assert r.service_level == pytest.approx(1 - b, rel=1e-15)
    near = erlang_a(n, a, 180.0, 1e-7, 20.0)
    assert near.p_abandon == pytest.approx(b, rel=1e-6)
    assert near.p_wait == pytest.approx(b, rel=1e-6)


def ref_beta(n, a, aht, patience, t):
    """Second reference for large systems: P(served within t | j) = c/(c+j+1) I_p(j+1, c+1)."""
    with mp.workdps(40):
        am, c, ap = mp.mpf(a), n * mp.mpf(patience) / aht, mp.mpf(a) * patience / aht
        p = -mp.expm1(-mp.mpf(t) / patience)
        inv_b = mp.gammainc(n + 1, am, mp.inf, regularized=True) / mp.exp(n * mp.log(am) - am - mp.loggamma(n + 1))
        rho, s_rho, s_ab, s_sl, j = mp.mpf(1), 0, 0, 0, 0
        while True:
            s_rho += rho
            s_ab += rho * (j + 1) / (c + j + 1)
            s_sl += rho * c / (c + j + 1) * mp.betainc(j + 1, c + 1, 0, p, regularized=True)
            rho *= ap / (c + j + 1)
            j += 1
            if ap < c + j + 1 and rho < s_rho * mp.mpf("1e-30"):
                break
        z = inv_b - 1 + s_rho
        return s_rho / z, s_ab / z, (inv_b - 1 + s_sl) / z


def test_large_system_against_beta_reference():
    got = erlang_a(2000, 2100.0, 240.0, 180.0, 20.0)
    for value, ref in zip((got.p_wait, got.p_abandon, got.service_level), ref_beta(2000, 2100.0, 240.0, 180.0, 20.0)):
        assert abs(value - ref) <= 1e-12 * ref


def test_zero_agents_and_overload():
    r = erlang_a(0, 12.0, 180.0, 90.0, 20.0)
    assert (r.p_wait, r.p_abandon, r.service_level, r.occupancy) == (1.0, 1.0, 0.0, 0.0)
    assert r.mean_wait_s == pytest.approx(90.0)
    assert math.isinf(r.asa_s)
    big = erlang_a(4000, 5000.0, 240.0, 300.0, 20.0)
    assert big.p_abandon >= 1 - 4000 / 5000 - 1e-12  # carried load cannot exceed the agents
    assert 0.0 < big.service_level < 1.0 - big.p_abandon
    assert 0.99 < big.occupancy <= 1.0


def test_vectorised_what_if_table():
    ns = np.arange(0, 40)
    r = erlang_a(ns, 25.0, 240.0, 180.0, 20.0)
    assert r.service_level.shape == (40,)
    assert np.all(np.diff(r.service_level) > 0)
    assert np.all(np.diff(r.p_abandon) < 0)
    assert np.all(r.service_level <= 1 - r.p_abandon + 1e-15)
    assert np.all((r.service_level_of_answered >= r.service_level) & (r.service_level_of_answered <= 1))


@settings(max_examples=30, deadline=None)
@given(a=st.floats(0.05, 2000.0), pat=st.floats(5.0, 3600.0), aht=st.floats(30.0, 900.0),
       t=st.floats(0.0, 120.0), z=st.floats(-3.0, 4.0))
def test_properties(a, pat, aht, t, z):
    n = max(0, int(a + z * math.sqrt(a)))
    r = erlang_a(n, a, aht, pat, t)
    vals = np.array(r, dtype=float)
    assert not np.any(np.isnan(vals))
    assert 0 <= r.p_abandon <= r.p_wait <= 1
    assert 0 <= r.service_level <= 1 - r.p_abandon + 1e-12
    assert r.mean_wait_s == pytest.approx(r.p_abandon * pat, rel=1e-12)
    assert 0 <= r.occupancy <= 1 + 1e-12


@settings(max_examples=20, deadline=None)
@given(a=st.floats(0.1, 3000.0), pat=st.floats(10.0, 1200.0), tsl=st.floats(0.5, 0.95),
       mab=st.one_of(st.none(), st.floats(0.005, 0.2)))
def test_agents_for_erlang_a_minimal(a, pat, tsl, mab):
    n = agents_for_erlang_a(a, 240.0, pat, 20.0, target_sl=tsl, max_abandon=mab)
    ok = erlang_a(n, a, 240.0, pat, 20.0)
    assert ok.service_level >= tsl and (mab is None or ok.p_abandon <= mab)
    if n > 0:
        worse = erlang_a(n - 1, a, 240.0, pat, 20.0)
        assert worse.service_level < tsl or (mab is not None and worse.p_abandon > mab)


def test_agents_for_erlang_a_vectorised_and_errors():
    loads = np.array([5.0, 50.0, 500.0])
    ns = agents_for_erlang_a(loads, 240.0, 180.0, 20.0, target_sl=0.8, max_occupancy=0.85)
    assert ns.shape == (3,) and np.all(loads / ns <= 0.85)
    with pytest.raises(ValueError, match="target_sl or max_abandon"):
        agents_for_erlang_a(5.0, 240.0, 180.0, 20.0)
    with pytest.raises(ValueError, match="^patience_s "):
        erlang_a(3, 2.0, 180.0, -1.0, 20.0)
    with pytest.raises(ValueError, match="^target_sl "):
        agents_for_erlang_a(5.0, 240.0, 180.0, 20.0, target_sl=1.0)
