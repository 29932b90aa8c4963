"""Erlang B / C formulas: exact values, identities, monotonicity, edge cases, errors.

Invariants checked:
1. B(1, 1) = 1/2, B(2, 1) = 1/5 and B equals the exact rational recursion.
2. C = N B / (N - A (1 - B)) for N > A, C = 1 for N <= A, C >= B.
3. SL = 1 - C exp(-(N - A) t / AHT), ASA = C AHT / (N - A).
4. B falls with servers and rises with load; SL rises with agents and threshold.
5. Published values (Erlang B tables; the call-centre-helper Erlang C example).
6. Invalid input raises ValueError naming the argument.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.erlang import (
    asa,
    erlang_b,
    erlang_c,
    load_erlangs,
    load_for_blocking,
    occupancy,
    scheduled_staff,
    service_level,
)

LOADS = st.floats(min_value=0.01, max_value=50_000.0, allow_nan=False)


def exact_b(n: int, a: Fraction) -> Fraction:
    inv = Fraction(1)
    for i in range(1, n + 1):
        inv = 1 + Fraction(i) / a * inv
    return 1 / inv


def test_exact_small_values():
    assert erlang_b(1, 1.0) == 0.5
    assert erlang_b(2, 1.0) == pytest.approx(0.2, rel=1e-15)
    assert erlang_b(0, 7.5) == 1.0
    assert erlang_b(3, 0.0) == 0.0


@pytest.mark.parametrize("a", [Fraction(1, 4), Fraction(3), Fraction(29, 2), Fraction(40)])
def test_matches_exact_rational_recursion(a):
    for n in (1, 2, 5, 17, 40, 60):
        assert erlang_b(n, float(a)) == pytest.approx(float(exact_b(n, a)), rel=1e-14)


def test_published_erlang_b_table():
    # Offered Erlangs at 1 % blocking from standard Erlang B tables.
    table = {10: 4.461, 20: 12.031, 50: 37.901, 100: 84.064}
    for n, a in table.items():
        assert load_for_blocking(n, 0.01) == pytest.approx(a, abs=6e-4)


def test_call_centre_helper_example():
    # 100 calls / 30 min, AHT 180 s -> 10 Erlangs; published P(wait) 0.6821 at 11
    # agents and 0.1741 at 14 agents, SL(20 s) at 14 agents 88.8 %.
    a = load_erlangs(100, 1800, 180)
    assert a == pytest.approx(10.0)
    assert erlang_c(11, a) == pytest.approx(0.6821, abs=5e-5)
    assert erlang_c(14, a) == pytest.approx(0.1741, abs=5e-5)
    assert service_level(14, a, 180, 20) == pytest.approx(0.8884, abs=5e-5)


def test_erlang_c_saturated_and_identities():
    assert erlang_c(5, 5.0) == 1.0
    assert erlang_c(3, 7.2) == 1.0
    assert erlang_c(0, 0.0) == 1.0
    assert service_level(5, 5.0, 180, 20) == 0.0
    assert math.isinf(asa(4, 4.5, 180))
    assert occupancy(4, 4.5) == 1.0
    assert occupancy(0, 0.0) == 0.0
    assert erlang_c(1, 0.0) == 0.0
    assert service_level(1, 0.0, 180, 0) == 1.0
    assert asa(1, 0.0, 180) == 0.0


@settings(max_examples=60, deadline=None)
@given(a=LOADS, extra=st.floats(min_value=1e-3, max_value=3.0), t=st.floats(0, 600), aht=st.floats(1, 3600))
def test_identities(a, extra, t, aht):
    n = int(math.floor(a + extra * math.sqrt(a))) + 1
    b = erlang_b(n, a)
    c = erlang_c(n, a)
    assert c == pytest.approx(n * b / (n - a * (1 - b)), rel=1e-12, abs=1e-300)
    assert c >= b * (1 - 1e-14)
    assert service_level(n, a, aht, t) == pytest.approx(1 - c * math.exp(-(n - a) * t / aht), rel=1e-12, abs=1e-15)
    assert asa(n, a, aht) == pytest.approx(c * aht / (n - a), rel=1e-12, abs=1e-300)
    assert occupancy(n, a) == pytest.approx(a / n, rel=1e-15)


@settings(max_examples=60, deadline=None)
@given(a=LOADS, frac=st.floats(0.0, 2.0))
def test_blocking_monotone(a, frac):
    n = int(a * frac)
    ns = np.arange(max(0, n - 5), n + 6)
    b = erlang_b(ns, a)
    assert np.all(np.diff(b) <= 0)
    assert np.all(np.diff(b)[b[1:] > 1e-300] < 0)
    assert erlang_b(n, a * 1.01) >= erlang_b(n, a)


@settings(max_examples=60, deadline=None)
@given(a=LOADS, t=st.floats(0, 300), aht=st.floats(10, 1200))
def test_service_level_monotone(a, t, aht):
    ns = np.arange(int(a), int(a + 6 * math.sqrt(a)) + 8)
    sl = service_level(ns, a, aht, t)
    assert np.all((0 <= sl) & (sl <= 1))
    assert np.all(np.diff(sl) >= 0)
    assert np.all(service_level(ns, a, aht, t + 10) >= sl)
    q = asa(ns, a, aht)
    assert np.all(np.diff(q) <= 0)


def test_vectorised_broadcast_and_scalars():
    out = erlang_b(np.array([[1], [2]]), np.array([1.0, 2.0, 3.0]))
    assert out.shape == (2, 3)
    assert out[0, 0] == 0.5
    assert isinstance(erlang_c(10, 8.0), float)
    assert erlang_b(np.float64(2.0), 1) == pytest.approx(0.2)


def test_scheduled_staff():
    assert scheduled_staff(80, 0.2) == 100
    assert scheduled_staff(81, 0.2) == 102
    assert scheduled_staff(10, 0.0) == 10
    assert scheduled_staff(0, 0.5) == 0
    assert list(scheduled_staff(np.array([7, 14]), 0.3)) == [10, 20]


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: erlang_b(-1, 1.0), "servers"),
        (lambda: erlang_b(2.5, 1.0), "servers"),
        (lambda: erlang_b(2, -1.0), "load"),
        (lambda: erlang_b(2, float("nan")), "load"),
        (lambda: erlang_b(2, float("inf")), "load"),
        (lambda: erlang_c(2, "x"), "load"),
        (lambda: service_level(10, 5.0, 0.0, 20), "aht_s"),
        (lambda: service_level(10, 5.0, 180, -1), "threshold_s"),
        (lambda: asa(10, 5.0, -3), "aht_s"),
        (lambda: load_for_blocking(10, 1.0), "target"),
        (lambda: load_for_blocking(10, 0.0), "target"),
        (lambda: scheduled_staff(10, 1.0), "shrinkage"),
        (lambda: occupancy(np.array([1, -2]), 1.0), "agents"),
    ],
)
def test_invalid_input_names_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()


def test_no_nan_or_overflow_at_extremes():
    ns = np.array([0, 1, 10, 1000, 50_000, 100_000])
    for a in (0.01, 1.0, 5e4):
        b = erlang_b(ns, a)
        c = erlang_c(ns, a)
        sl = service_level(ns, a, 180, 20)
        q = asa(ns, a, 180)
        for arr in (b, c, sl):
            assert np.all(np.isfinite(arr)) and np.all((arr >= 0) & (arr <= 1))
        assert not np.any(np.isnan(q))
