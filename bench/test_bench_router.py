"""Router benchmark (``make bench``; excluded from the default test run).

The lifecycle workload of ``busyhour bench router`` (bench/router_bench.py):
correctness check before and after timing, untimed warm-up, fixed seeds.
Writes ``$BUSYHOUR_BENCH_DIR/bench_router.json`` (default ``out/``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from busyhour.bench.router_backlog import run as run_backlog
from busyhour.bench.router_batch import BatchDriver, run as run_compiled
from busyhour.bench.router_bench import WORKLOADS, LifecycleDriver, run, write_json

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize("size", ["1k", "10k"])
def test_bench_router_lifecycles(benchmark, size):
    d = LifecycleDriver(WORKLOADS[size])
    for _ in range(2_000):  # untimed warm-up (JIT, caches)
        d.step(None)
    d.check()
    benchmark.pedantic(lambda: [d.step(None) for _ in range(1_000)], rounds=20, warmup_rounds=1)
    d.check()


@pytest.mark.parametrize("size", ["1k", "10k"])
def test_bench_router_per_call_compiled_lifecycles(benchmark, size):
    """The same lifecycles through Router's per-call methods (the compiled core, one call per command)."""
    d = LifecycleDriver(WORKLOADS[size], engine="per-call")
    for _ in range(2_000):
        d.step(None)
    d.check()
    benchmark.pedantic(lambda: [d.step(None) for _ in range(1_000)], rounds=20, warmup_rounds=1)
    d.check()


@pytest.mark.parametrize("size", ["1k", "10k"])
def test_bench_router_compiled_lifecycles(benchmark, size):
    """The compiled core through Router.submit, 256 lifecycles per batch (bench/router_batch.py)."""
    d = BatchDriver(WORKLOADS[size])
    for _ in range(20):  # untimed warm-up
        d.step()
    d.check()
    benchmark.pedantic(lambda: [d.step() for _ in range(20)], rounds=20, warmup_rounds=1)
    d.check()


def test_bench_router_report():
    results = [run(size, lifecycles=100_000, max_seconds=15) for size in ("100", "1k", "10k")]
    results += [run_compiled(size, lifecycles=1_000_000, max_seconds=15) for size in ("100", "1k", "10k")]
    out = Path(os.environ.get("BUSYHOUR_BENCH_DIR", "out"))
    out.mkdir(parents=True, exist_ok=True)
    write_json(results, out / "bench_router.json")
    assert all(r.lifecycles_per_s > 0 and r.decision_ns_p99 >= r.decision_ns_p50 for r in results)
    assert all(0 < r.cpu_us_per_lifecycle < 1e6 for r in results)


def test_bench_router_backlog():
    """100,000 callers waiting (an outage burst), then drained (bench/router_backlog.py)."""
    b = run_backlog(100_000)
    assert b.callers == 100_000 and b.ops > 2 * b.callers and b.fill_ops_per_s_min > 0 and b.drain_ops_per_s_min > 0
