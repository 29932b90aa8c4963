"""The Erlang API at its limits: every input answers or is refused, quickly and cleanly.

Invariants (docs/erlang.md, "Limits"):
1. huge loads (1e16 … 1e300) make the searches raise ValueError naming ``load`` in well under a second;
   evaluations (erlang_b, erlang_c, …) still answer;
2. the API raises only ValueError (wrong types: ArgumentTypeError, a TypeError and a ValueError), never
   ZeroDivisionError, and quotes offending values as plain numbers (no ``np.int64(…)``);
3. carried load stays right when blocking rounds to 1;
4. scheduled staff is the exact ceiling of agents / (1 - shrinkage), shrinkage read as its decimal;
5. every public function, fed extreme values of every type, answers or refuses within a time bound;
6. waits (thresholds, ASA targets, mean patience) are 0 to MAX_WAIT_S (a day; patience also inf), checked
   before any work with a message naming the argument and the bound.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from busyhour import erlang as E
from busyhour.erlang._validate import MAX_WAIT_S, ArgumentTypeError

#: Seconds any single call may take once compiled: the slowest accepted inputs (load_for_blocking
#: with 10**9 lines and a target near 1e-300) take about 2 s on one busy core; a hang never returns.
TIME_BOUND_S = 10.0


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    try:
        return fn(*args, **kwargs), None, time.perf_counter() - t0
    except ValueError as exc:  # includes ArgumentTypeError
        return None, exc, time.perf_counter() - t0


@pytest.fixture(scope="module", autouse=True)
def _compiled():
    """Compile every kernel first, so that the time bounds measure work, not numba."""
    E.agents_for_service_level(10.0, 180, 20, 0.8)
    E.agents_for_asa(10.0, 180, 10)
    E.trunks_for_blocking(10.0, 0.01)
    E.load_for_blocking(10, 0.01)
    E.extended_erlang_b(10, 8.0, 0.5)
    E.carried_load(10, 8.0)
    E.erlang_a(10, 8.0, 180, 120)
    E.agents_for_erlang_a(8.0, 180, 120, target_sl=0.8)


SEARCHES = {
    "agents_for_service_level": lambda a: E.agents_for_service_level(a, 180, 20, 0.8),
    "agents_for_asa": lambda a: E.agents_for_asa(a, 180, 10),
    "trunks_for_blocking": lambda a: E.trunks_for_blocking(a, 0.01),
    "agents_for_erlang_a": lambda a: E.agents_for_erlang_a(a, 180, 120, target_sl=0.8),
}


@pytest.mark.parametrize("load", [1e9, 1e16, 1e17, 1e20, 1e300])
@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_huge_load_search_refused_quickly(name, load):
    _, exc, dt = timed(SEARCHES[name], load)
    assert type(exc) is ValueError and str(exc).startswith("load must be below 1e+09 Erlangs"), exc
    assert "agents" not in str(exc).split("(")[0]  # blames the load, not an agent count
    assert dt < 0.5


@pytest.mark.parametrize("load", [1e16, 1e17, 1e20, 1e300])
def test_huge_load_evaluations_answer(load):
    assert E.erlang_b(10, load) == pytest.approx(1.0)
    assert E.carried_load(10, load) == pytest.approx(10.0, rel=1e-12)
    assert E.erlang_c(10**9, load) == 1.0 and E.service_level(10**9, load, 180, 20) == 0.0
    assert E.asa(10**9, load, 180) == math.inf and E.occupancy(10**9, load) == 1.0
    assert E.erlang_b(10**9, load) == pytest.approx(1.0 - 10**9 / load, rel=1e-9)


def test_search_just_below_the_limit_answers():
    n = E.agents_for_service_level(9.99e8, 180, 20, 0.8)
    assert 9.99e8 < n < 10**9
    assert E.service_level(n, 9.99e8, 180, 20) >= 0.8 > E.service_level(n - 1, 9.99e8, 180, 20)


@pytest.mark.parametrize("call, needle", [
    (lambda: E.agents_for_service_level(1000.0, 180, 20, 0.8, max_occupancy=1e-300), "no agent count up to"),
    (lambda: E.agents_for_asa(9.99e8, 1e300, 1e-300), "no agent count up to"),
    (lambda: E.trunks_for_blocking(9.99e8, 1e-300), "no line count up to"),
    (lambda: E.load_for_blocking(2, 1e-300), "below 1e-18 Erlangs"),
    (lambda: E.agents_for_erlang_a(1e8, 180, 120, target_sl=0.8), "patience_s is too long"),
    (lambda: E.extended_erlang_b(10, 1e308, 0.9), "must be finite"),
    (lambda: E.load_erlangs(1e300, 1e-300, 1e300), "not a finite load"),
    (lambda: E.erlang_b(3, 5e-324), "load must be 0 or at least 1e-18"),
    (lambda: E.erlang_a(1, 0.5, 2.2e-308, 1, 86_400), "patience_s / aht_s is too extreme"),
])
def test_unanswerable_inputs_refused_quickly(call, needle):
    _, exc, dt = timed(call)
    assert exc is not None and needle in str(exc)
    assert dt < TIME_BOUND_S


def test_extended_erlang_b_huge_load_carries_the_servers():
    res = E.extended_erlang_b(10**9, 1e300, 0.5)
    assert res.carried_load_erl == pytest.approx(1e9, rel=1e-9)
    assert res.blocking == pytest.approx(1.0)


def test_load_for_blocking_extremes_are_right():
    """Newton with a saturated log B used to stop at 300 steps far from the root."""
    for n, target in [(10**9, 1e-300), (10**9, 1 - 1e-16), (10**9, 0.01), (1, 1e-15)]:
        a = E.load_for_blocking(n, target)
        assert E.erlang_b(n, a) == pytest.approx(target, rel=1e-9)


@pytest.mark.parametrize("agents, shrinkage, expected", [
    (10**9, 0.999999, 10**15), (80, 0.2, 100), (7, 0.3, 10), (1, 0.5, 2), (3, 0.1, 4), (0, 0.9, 0),
    (10**9, 0.0, 10**9), (14, 0.35, 22),
])
def test_scheduled_staff_exact_ceiling(agents, shrinkage, expected):
    assert E.scheduled_staff(agents, shrinkage) == expected


@settings(max_examples=60, deadline=None)
@given(n=st.integers(0, 10**9), s=st.floats(0.0, 0.9999999, exclude_max=True))
def test_scheduled_staff_is_least_cover(n, s):
    kept = 1 - Fraction(repr(s))
    got = E.scheduled_staff(n, s)
    assert got * kept >= n and (got == 0 or (got - 1) * kept < n)


@pytest.mark.parametrize("call, needle", [
    (lambda: E.erlang_b(True, 1.0), "servers must be a whole number, not a bool"),
    (lambda: E.erlang_b(10, True), "load must be a number, not a bool"),
    (lambda: E.erlang_b(10, "5"), "load must be a number (got '5')"),
    (lambda: E.erlang_b("10", 5), "servers must be a whole number (got '10')"),
    (lambda: E.erlang_b(None, 5), "servers must be a whole number (got None)"),
    (lambda: E.erlang_c(10, None), "load must be a number (got None)"),
    (lambda: E.service_level(10, 5, "180", 20), "aht_s must be a number"),
    (lambda: E.erlang_b(np.array([1, 2]), np.array(["a", "b"])), "load must be a number"),
    (lambda: E.agents_for_service_level(5.0, 180, 20, None), "target must be a number (got None)"),
])
def test_wrong_types_are_clear_type_errors(call, needle):
    with pytest.raises(ArgumentTypeError) as info:
        call()
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    assert needle in str(info.value)


def test_numpy_scalars_are_numbers():
    assert E.erlang_b(np.int64(10), np.float32(5.0)) == E.erlang_b(10, 5.0)
    assert E.erlang_c(np.uint8(7), np.float64(5.0)) == E.erlang_c(7, 5.0)
    assert E.agents_for_service_level(np.float64(10.0), np.int32(180), np.int16(20), np.float64(0.8)) == 14


@pytest.mark.parametrize("call, quoted", [
    (lambda: E.erlang_b(np.array([3, -2], dtype=np.int64), 1.0), "(got -2)"),
    (lambda: E.erlang_b(np.int64(10**10), 1.0), "(got 10000000000)"),
    (lambda: E.erlang_b(5, np.float64(-1.5)), "(got -1.5)"),
    (lambda: E.erlang_b(10**30, 1.0), "(got 1e+30)"),
    (lambda: E.erlang_b(np.uint64(2**64 - 1), 1.0), "between 0 and 1,000,000,000"),
])
def test_messages_quote_plain_numbers(call, quoted):
    with pytest.raises(ValueError) as info:
        call()
    assert quoted in str(info.value) and "np." not in str(info.value)


# ---- the property test: extreme values of every kind into every public function ----

EXTREME = st.sampled_from([
    0, 1, 2, 7, 10**9, 10**9 + 1, 2**63, 10**30, -1, -0.0, 0.0, 5e-324, 2.2e-308, 1e-18, 1e-12, 0.5, 0.999999,
    1.0, 20.0, 180.0, 1e8, 9.99e8, 1e9, 1e16, 1e300, 1.7976931348623157e308, math.inf, -math.inf, math.nan,
    True, False, None, "5", np.int64(14), np.float32(2.5), np.float64(1e300), np.uint8(3),
])

PUBLIC = {
    "erlang_b": (E.erlang_b, 2), "carried_load": (E.carried_load, 2), "erlang_c": (E.erlang_c, 2),
    "service_level": (E.service_level, 4), "asa": (E.asa, 3), "occupancy": (E.occupancy, 2),
    "scheduled_staff": (E.scheduled_staff, 2), "load_erlangs": (E.load_erlangs, 3),
    "trunks_for_blocking": (E.trunks_for_blocking, 2), "load_for_blocking": (E.load_for_blocking, 2),
    "extended_erlang_b": (E.extended_erlang_b, 3), "agents_for_service_level": (E.agents_for_service_level, 5),
    "agents_for_asa": (E.agents_for_asa, 4), "erlang_a": (E.erlang_a, 5),
    "agents_for_erlang_a": (lambda a, h, p, t, sl: E.agents_for_erlang_a(a, h, p, t, target_sl=sl), 5),
}


def _valid_answer(result) -> bool:
    values = list(result) if isinstance(result, tuple) else [result]
    return all(isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x) for x in values)


@pytest.mark.parametrize("name", sorted(PUBLIC))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_extreme_values_answer_or_refuse_in_bounded_time(name, data):
    fn, arity = PUBLIC[name]
    args = [data.draw(EXTREME, label=f"arg{i}") for i in range(arity)]
    result, exc, dt = timed(fn, *args)
    assert dt < TIME_BOUND_S, f"{name}{tuple(args)} took {dt:.2f} s"
    if exc is None:
        assert _valid_answer(result), f"{name}{tuple(args)} -> {result!r}"
    else:
        assert str(exc) and "np." not in str(exc)


# ---- 6. waits are bounded by a day ----

WAITS = {  # name -> a call with that wait set to x
    "threshold_s": [lambda x: E.service_level(14, 10.0, 180, x), lambda x: E.erlang_c_metrics(14, 10.0, 180, x),
                    lambda x: E.agents_for_service_level(10.0, 180, x, 0.8),
                    lambda x: E.erlang_a(14, 10.0, 180, 120, x),
                    lambda x: E.agents_for_erlang_a(10.0, 180, 120, x, target_sl=0.8),
                    lambda x: E.plan_staffing([E.ForecastInterval("08:00", 100, 180, 30)], target_sl=0.8,
                                              threshold_s=x)],
    "target_s": [lambda x: E.agents_for_asa(10.0, 180, x)],
    "patience_s": [lambda x: E.erlang_a(14, 10.0, 180, x, 20),
                   lambda x: E.agents_for_erlang_a(10.0, 180, x, 20, target_sl=0.8),
                   lambda x: E.plan_staffing([E.ForecastInterval("08:00", 100, 180, 30)], target_sl=0.8,
                                             threshold_s=20, patience_s=x)],
}
CALLS = [(name, i) for name, calls in WAITS.items() for i in range(len(calls))]


@pytest.mark.parametrize("name, i", CALLS)
@pytest.mark.parametrize("x", [float(np.nextafter(MAX_WAIT_S, math.inf)), 1e6, 1e300, math.nan, -math.inf, -1.0])
def test_wait_beyond_a_day_or_not_a_number_is_refused(name, i, x, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("work started before the refusal")
    for kernel in ("erlang_c_kernel", "staff_kernel", "erlang_a_kernel", "staff_a_kernel"):
        monkeypatch.setattr(E.kernels, kernel, boom)
    with pytest.raises(ValueError) as info:
        WAITS[name][i](x)
    msg = str(info.value)
    assert msg.startswith(f"{name} must be ") and "86,400 s (a day)" in msg, msg


@pytest.mark.parametrize("name, i", CALLS)
def test_wait_of_a_day_answers(name, i):
    assert WAITS[name][i](MAX_WAIT_S) is not None


def test_infinite_wait_only_for_patience():
    assert E.erlang_a(14, 10.0, 180, math.inf, 20).p_abandon == 0.0
    for call in (lambda: E.service_level(14, 10.0, 180, math.inf), lambda: E.agents_for_asa(10.0, 180, math.inf),
                 lambda: E.erlang_a(14, 10.0, 180, 120, math.inf)):
        with pytest.raises(ValueError, match="86,400 s"):
            call()
    assert "or inf" in str(pytest.raises(ValueError, E.erlang_a, 14, 10.0, 180, 1e6).value)
    assert "above 0" in str(pytest.raises(ValueError, E.agents_for_asa, 10.0, 180, 0.0).value)
