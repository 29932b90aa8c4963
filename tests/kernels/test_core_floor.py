"""router/core_floor.py: the compiled ``t // iv`` equals Python's, sign of zero included.

Runs compiled and with ``NUMBA_DISABLE_JIT=1`` (then it is Python's ``//``).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from busyhour.router.core_floor import floor_div
from busyhour.router.core_jit import entry

MAX_T = 1e12  # core_layout.MAX_TIME_S
times = st.floats(-MAX_T, MAX_T, allow_nan=False)
intervals = st.one_of(st.floats(1.0, 1e7), st.sampled_from([1.0, 3.0, 60.0, 900.0, 0.1 + 899.9, 1e300]))


@entry
def _div(t, iv):
    return floor_div(t, iv)


@entry
def _div_all(ts, iv, out):
    for i in range(ts.shape[0]):
        out[i] = floor_div(ts[i], iv)


@entry
def _div_int(t, iv):
    return floor_div(t, iv)


def test_integer_times_divide_as_floats():
    assert _div_int(-7, 2.0) == -7 // 2.0 == -4.0 and _div_int(1_000_000_000_000, 900.0) == 1e12 // 900.0


def _same(a: float, b: float) -> bool:
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


@settings(max_examples=2000, deadline=None)
@given(t=times, iv=intervals)
@example(t=-1e-300, iv=900.0)
@example(t=-0.0, iv=900.0)
@example(t=0.0, iv=3.0)
@example(t=1e12, iv=3.0)
@example(t=-1e12, iv=7.0)
@example(t=5.0, iv=1e300)
@example(t=839949043465.3668, iv=551.7979025745755)  # one ulp from a multiple: floor(t / iv) is one too high
@example(t=2125558451.1584601, iv=967.7302154163585)
@example(t=-5.0, iv=1e300)
def test_floor_div_is_pythons(t, iv):
    assert _same(_div(t, iv), t // iv), (t, iv)


@settings(max_examples=200, deadline=None)
@given(k=st.integers(-10**9, 10**9), iv=intervals.filter(lambda v: v < 1e6))
def test_at_and_next_to_interval_boundaries(k, iv):
    """The times where rounding could put the quotient on the wrong side of an integer: k * iv and its
    neighbours one ulp away."""
    edge = k * iv
    if not abs(edge) <= MAX_T:
        return
    ts = np.array([np.nextafter(edge, -np.inf), edge, np.nextafter(edge, np.inf)])
    out = np.empty(3)
    _div_all(ts, iv, out)
    assert [float(x) for x in out] == [float(t) // iv for t in ts]
