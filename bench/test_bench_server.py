"""Server benchmark (``make bench``; excluded from the default test run).

The workload of ``busyhour bench server`` (bench/server_bench.py): the real
``busyhour serve`` in its own process, load generators in theirs, fixed
seeds; every lifecycle is checked (the ratios) before a figure is kept.
Writes ``$BUSYHOUR_BENCH_DIR/bench_server.json`` (default ``out/``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from busyhour.bench.server_bench import BenchSetup, run, write_json
from busyhour.bench.serverproc import ServerProcess, write_config
from busyhour.client import RouterClient

pytestmark = pytest.mark.benchmark

AGENTS = [f"a{i}" for i in range(500)]


@pytest.mark.parametrize("batched", [False, True], ids=["single", "batched"])
def test_bench_server_pipeline(benchmark, tmp_path, batched):
    """500 lifecycles (arrive, accept, release: three pipelines) from one blocking client."""
    cfg = write_config(tmp_path / "r.toml", {"q": AGENTS}, wrap_up_s=0.0)
    with ServerProcess(cfg, tmp_path / "journal") as server, RouterClient(server.commands) as c:
        c.pipeline([("login", {"agent": a, "ready": True}) for a in AGENTS], batched=True)
        base = [0]

        def lifecycles() -> None:
            calls = range(base[0], base[0] + len(AGENTS))
            base[0] += len(AGENTS)
            offers = c.pipeline([("arrive", {"call": k, "queue": "q"}) for k in calls], batched=batched)
            c.pipeline([("accept", {"call": e.call, "agent": e.agent}) for r in offers for e in r.events
                        if e.kind == "CALL_OFFERED"], batched=batched)
            done = c.pipeline([("release", {"call": k}) for k in calls], batched=batched)
            assert all(r.ok for r in done)

        lifecycles()  # untimed warm-up and correctness check
        benchmark.pedantic(lifecycles, rounds=10, warmup_rounds=1)


def test_bench_server_report():
    results = [run(BenchSetup(frames=f, calls=200_000, max_seconds=10.0)) for f in ("single", "batched")]
    for r in results:
        assert r.ratios == {"processing_failure": 0.0, "premature_release": 0.0, "release_failure": 0.0,
                            "connection": 1.0}
    out = Path(os.environ.get("BUSYHOUR_BENCH_DIR", "out"))
    out.mkdir(parents=True, exist_ok=True)
    write_json(results, out / "bench_server.json")
