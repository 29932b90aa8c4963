"""pytest-benchmark suite for busyhour.erlang (``make bench``; excluded from ``make test``).

Same workloads as ``busyhour bench erlang`` (bench/erlang_bench.py): untimed
warm-up first, a correctness check on the result, then the timing.  The
pyworkforce runs are skipped when it is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

from busyhour.bench.erlang_bench import _busyhour_calls, day_workload, sl_workload
from busyhour.erlang import agents_for_service_level, erlang_c, service_level

pytestmark = pytest.mark.benchmark


def test_bench_erlang_sl_evals_10k(benchmark):
    agents, load, aht, thr = sl_workload()
    sl_fn = _busyhour_calls()[0]
    first = sl_fn()  # warm-up (JIT / cache load)
    c = erlang_c(agents, load)
    assert np.allclose(first, 1 - c * np.exp(-(agents - load) * thr / aht), rtol=1e-12, atol=1e-15)
    out = benchmark(sl_fn)
    assert np.array_equal(out, first)


def test_bench_erlang_staffing_day_96(benchmark):
    calls, aht, interval_s = day_workload()
    load = calls * aht / interval_s
    day_fn = _busyhour_calls()[1]
    n = day_fn()
    assert np.all(service_level(n, load, aht, 20.0) >= 0.8)
    assert np.all(service_level(n - 1, load, aht, 20.0) < 0.8)
    assert np.array_equal(benchmark(day_fn), n)


def test_bench_erlang_staffing_plan_96(benchmark):
    plan_fn = _busyhour_calls()[2]
    plan = plan_fn()
    assert len(plan.intervals) == 96 and plan.service_level >= 0.8
    assert benchmark(plan_fn).peak_agents == plan.peak_agents


def test_bench_erlang_large_loads(benchmark):
    loads = np.linspace(1_000.0, 50_000.0, 96)
    agents_for_service_level(loads, 240.0, 20.0, 0.8)
    n = benchmark(agents_for_service_level, loads, 240.0, 20.0, 0.8)
    assert np.all(service_level(n, loads, 240.0, 20.0) >= 0.8)


def test_bench_pyworkforce_sl_evals_10k(benchmark):
    pytest.importorskip("pyworkforce")
    from busyhour.bench.erlang_bench import _pyworkforce_calls

    pw_sl = _pyworkforce_calls()[0]
    agents, load, _, _ = sl_workload()
    ours = _busyhour_calls()[0]()
    theirs = np.asarray(benchmark.pedantic(pw_sl, rounds=3, iterations=1), dtype=float)
    valid = agents > load
    assert np.allclose(theirs[valid], ours[valid], rtol=1e-9, atol=1e-15)


def test_bench_pyworkforce_staffing_day_96(benchmark):
    pytest.importorskip("pyworkforce")
    from busyhour.bench.erlang_bench import _pyworkforce_calls

    pw_day = _pyworkforce_calls()[1]
    theirs = benchmark.pedantic(pw_day, rounds=5, iterations=1)
    assert len(theirs) == 96
