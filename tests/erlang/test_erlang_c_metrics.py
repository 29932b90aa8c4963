"""``erlang_c_metrics``: every Erlang C measure from one walk per count.

Invariants checked:
1. Each field equals, bit for bit, the single-purpose function (``erlang_c``, ``service_level``,
   ``asa``, ``occupancy``) for the same arguments: random counts in any order, loads from 0 to near
   10**9, broadcasting arrays of AHT and threshold, and the edge cases N = 0, N <= A, A = 0.
2. One call runs the Erlang C kernel once (the point of the function), whatever the number of counts.
3. Scalars give Python floats; arrays keep their shape.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import busyhour.erlang as E
from busyhour.erlang import ErlangCResult, asa, erlang_c, erlang_c_metrics, occupancy, service_level
from busyhour.erlang._validate import MAX_WAIT_S


def same(x, y) -> bool:
    """Equal bit for bit, as arrays (inf == inf; no NaN is ever produced)."""
    x, y = np.asarray(x), np.asarray(y)
    return x.shape == y.shape and x.dtype == y.dtype and np.array_equal(x, y)


def check_identical(n, a, aht_s, threshold_s):
    m = erlang_c_metrics(n, a, aht_s, threshold_s)
    assert isinstance(m, ErlangCResult)
    shape = np.broadcast(n, a, aht_s, threshold_s).shape  # erlang_c and occupancy see n and a at that shape
    nb, ab = (n, a) if shape == () else (np.broadcast_to(n, shape), np.broadcast_to(a, shape))
    assert same(m.p_wait, erlang_c(nb, ab))
    assert same(m.service_level, service_level(n, a, aht_s, threshold_s))
    assert same(m.asa_s, asa(nb, ab, np.broadcast_to(aht_s, shape)))
    assert same(m.occupancy, occupancy(nb, ab))


LOADS = st.one_of(st.just(0.0), st.floats(1e-18, 1e-3), st.floats(1e-3, 1e4), st.floats(1e4, 9.99e8))


@settings(max_examples=150, deadline=None)
@given(load=LOADS, data=st.data())
def test_fields_equal_the_single_functions_bit_for_bit(load, data):
    lo = max(0, int(load) - 50)
    ns = np.array(data.draw(st.lists(st.integers(lo, min(10**9, lo + 3 * int(math.sqrt(load)) + 200)),
                                     min_size=1, max_size=40)), dtype=np.int64)
    if data.draw(st.booleans()):
        ns = np.sort(ns)  # ascending: the shared walk
    aht_s = data.draw(st.floats(1e-3, 1e5))
    threshold_s = data.draw(st.floats(0.0, MAX_WAIT_S))
    check_identical(ns, load, aht_s, threshold_s)


@pytest.mark.parametrize("n, a", [(0, 0.0), (0, 5.0), (1, 0.0), (3, 3.0), (2, 7.5), (14, 10.0), (10**9, 1e300),
                                  (10**9, 998e6), (10**9, 1e-18)])
def test_edge_cases_are_identical(n, a):
    for aht_s, t_s in [(180.0, 20.0), (1e-300, MAX_WAIT_S), (1e300, 0.0)]:
        check_identical(n, a, aht_s, t_s)


def test_broadcasting_arrays_are_identical():
    n = np.array([[11, 12, 13], [30, 20, 10]])
    aht = np.array([[180.0], [60.0]])
    thr = np.array([0.0, 20.0, 86_400.0])
    check_identical(n, 10.0, aht, thr)
    m = erlang_c_metrics(n, 10.0, aht, thr)
    assert all(np.shape(f) == (2, 3) for f in m)


def test_scalars_are_python_floats():
    m = erlang_c_metrics(14, 10.0, 180, 20)
    assert all(type(f) is float for f in m)
    assert m.p_wait == 0.17413193359504986 and m.service_level == 0.8883500191794669
    assert erlang_c_metrics(14, 10.0, 180) == m  # threshold_s defaults to 20 s, as in erlang_a


def test_one_kernel_call_per_evaluation(monkeypatch):
    calls = []
    kernel = E.kernels.erlang_c_kernel

    def counted(*args):
        calls.append(len(args[0]))
        return kernel(*args)

    monkeypatch.setattr(E.kernels, "erlang_c_kernel", counted)
    erlang_c_metrics(np.arange(1_000, 0, -1), 500.5, 180.0, 20.0)
    assert calls == [1000]
