"""Simulator benchmark (``make bench``; excluded from the default test run).

Writes the report of ``busyhour bench sim`` to ``$BUSYHOUR_BENCH_DIR`` (default
``out/``) as bench_sim.json. The correctness check (p_wait against Erlang C,
Little's identity) runs before any timing, inside ``run_benchmark``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from busyhour.bench.sim_bench import run_benchmark, scenario

pytestmark = pytest.mark.benchmark


def test_bench_sim_report():
    report = run_benchmark(calls=int(os.environ.get("BUSYHOUR_BENCH_CALLS", 1_000_000)), repeats=3)
    out = Path(os.environ.get("BUSYHOUR_BENCH_DIR", "out"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_sim.json").write_text(json.dumps(report, indent=2))
    assert report["calls_per_s"] > 0 and report["engine_only_calls_per_s"] > 0
    assert report["busy_hour_variant_compiled_calls_per_s"] > 0 and report["busy_hour_engine"] == "compiled"


def test_bench_sim_pytest_benchmark(benchmark):
    from busyhour.sim.driver import simulate

    scn = scenario(100_000)
    simulate(scenario(10_000), 0)  # untimed warm-up
    run = benchmark.pedantic(simulate, args=(scn, 0), rounds=3, warmup_rounds=0)
    assert run.calls_simulated > 90_000
