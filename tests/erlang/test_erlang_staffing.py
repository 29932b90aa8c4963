"""Staffing and trunk sizing: every answer is the least one that meets its target.

Invariants checked:
1. agents_for_service_level / agents_for_asa: N meets the target, N - 1 does
   not (or breaks the occupancy cap), across 0.01 to 50,000 Erlangs.
2. trunks_for_blocking: B(N) <= target < B(N - 1).
3. load_for_blocking inverts erlang_b; the carried load is below the lines.
4. extended_erlang_b solves its fixed point, reduces to Erlang B at recall 0,
   and its offered load grows with recall.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.erlang import (
    agents_for_asa,
    agents_for_service_level,
    asa,
    erlang_b,
    extended_erlang_b,
    load_for_blocking,
    occupancy,
    service_level,
    trunks_for_blocking,
)

LOADS = st.floats(min_value=0.01, max_value=50_000.0)


@settings(max_examples=60, deadline=None)
@given(a=LOADS, aht=st.floats(20, 1800), t=st.floats(0, 300), tgt=st.floats(0.01, 0.999),
       cap=st.one_of(st.none(), st.floats(0.5, 1.0)))
def test_agents_for_service_level_minimal(a, aht, t, tgt, cap):
    n = agents_for_service_level(a, aht, t, tgt, max_occupancy=cap)
    assert service_level(n, a, aht, t) >= tgt
    assert cap is None or occupancy(n, a) <= cap
    below_ok = service_level(n - 1, a, aht, t) >= tgt and (cap is None or occupancy(n - 1, a) <= cap)
    assert not below_ok


@settings(max_examples=40, deadline=None)
@given(a=LOADS, aht=st.floats(20, 1800), target=st.floats(0.5, 600.0))
def test_agents_for_asa_minimal(a, aht, target):
    n = agents_for_asa(a, aht, target)
    assert asa(n, a, aht) <= target
    assert asa(n - 1, a, aht) > target


def test_known_staffing_example():
    # 10 Erlangs, AHT 180 s, 80 % in 20 s -> 14 agents: SL 88.8 % (13 agents give 79.6 %),
    # the worked example of callcentrehelper.com's "Erlang C formula made simple".
    assert agents_for_service_level(10.0, 180, 20, 0.8) == 14
    assert agents_for_service_level(10.0, 180, 20, 0.79) == 13
    assert agents_for_service_level(10.0, 180, 20, 0.8, max_occupancy=0.7) == 15
    assert agents_for_service_level(0.0, 180, 20, 0.8) == 1


def test_staffing_is_vectorised_at_large_loads():
    loads = np.array([0.01, 1.0, 100.0, 10_000.0, 50_000.0])
    ns = agents_for_service_level(loads, 240.0, 20.0, 0.8)
    assert ns.dtype.kind == "i" and ns.shape == loads.shape
    assert np.all(ns > loads)
    assert np.all(service_level(ns, loads, 240.0, 20.0) >= 0.8)
    assert np.all(service_level(ns - 1, loads, 240.0, 20.0) < 0.8)


@settings(max_examples=40, deadline=None)
@given(a=LOADS, tgt=st.floats(1e-9, 0.99))
def test_trunks_minimal(a, tgt):
    n = trunks_for_blocking(a, tgt)
    assert erlang_b(n, a) <= tgt
    assert erlang_b(n - 1, a) > tgt


def test_trunks_examples():
    assert trunks_for_blocking(120.0, 0.01) == 138
    assert trunks_for_blocking(0.0, 0.01) == 1
    a = load_for_blocking(130, 0.01)
    assert erlang_b(130, a) == pytest.approx(0.01, rel=1e-13)
    assert trunks_for_blocking(a * (1 - 1e-9), 0.01) == 130
    assert load_for_blocking(0, 0.01) == 0.0


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 100_000), tgt=st.floats(1e-8, 0.9))
def test_load_for_blocking_carries_less_than_lines(n, tgt):
    a = load_for_blocking(n, tgt)
    assert erlang_b(n, a) == pytest.approx(tgt, rel=1e-12)
    assert a * (1 - tgt) < n


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 500), a=st.one_of(st.just(0.0), st.floats(1e-18, 600.0)), r=st.floats(0.0, 0.95))
def test_extended_erlang_b_fixed_point(n, a, r):
    res = extended_erlang_b(n, a, r)
    x, b = res.offered_load_erl, res.blocking
    assert x == pytest.approx(a + r * x * b, rel=1e-12, abs=1e-12)
    assert b == pytest.approx(erlang_b(n, x), rel=1e-12, abs=1e-300)
    assert res.carried_load_erl <= n + 1e-9
    assert res.carried_load_erl + res.lost_load_erl == pytest.approx(a, rel=1e-10, abs=1e-12)
    assert a <= x <= (a / (1 - r) if r < 1 else math.inf) * (1 + 1e-12)


def test_extended_erlang_b_limits():
    base = extended_erlang_b(10, 8.0, 0.0)
    assert base.blocking == erlang_b(10, 8.0) and base.offered_load_erl == 8.0
    xs = [extended_erlang_b(10, 8.0, r).offered_load_erl for r in (0.0, 0.3, 0.6, 0.9)]
    assert xs == sorted(xs) and xs[0] < xs[-1]
    with pytest.raises(ValueError, match="^recall "):
        extended_erlang_b(10, 8.0, 1.0)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: agents_for_service_level(-1.0, 180, 20, 0.8), "load"),
        (lambda: agents_for_service_level(5.0, 0, 20, 0.8), "aht_s"),
        (lambda: agents_for_service_level(5.0, 180, 20, 1.0), "target"),
        (lambda: agents_for_service_level(5.0, 180, 20, 0.8, max_occupancy=0.0), "max_occupancy"),
        (lambda: agents_for_asa(5.0, 180, 0.0), "target_s"),
        (lambda: trunks_for_blocking(5.0, 0.0), "target"),
        (lambda: trunks_for_blocking(float("nan"), 0.1), "load"),
    ],
)
def test_invalid_input(call, name):
    with pytest.raises(ValueError, match=rf"^{name} "):
        call()
