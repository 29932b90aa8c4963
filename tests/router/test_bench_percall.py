"""bench/percall.py: a small run of each kind, and its bounds."""

from __future__ import annotations

import subprocess
import sys

import pytest

from busyhour.bench.percall import PerCallResult, run


@pytest.mark.parametrize("ids,stats", [("int", True), ("str", False)])
def test_a_small_run_does_every_lifecycle(ids, stats):
    r = run(lifecycles=500, agents=3, ids=ids, stats=stats)
    assert isinstance(r, PerCallResult) and (r.lifecycles, r.ops, r.ids, r.stats) == (500, 1_500, ids, stats)
    assert r.wall_us_per_op > 0 and r.cpu_us_per_op > 0


def test_the_time_bound_stops_the_loop():
    r = run(lifecycles=10_000_000, agents=2, max_seconds=0.05)
    assert 0 < r.lifecycles < 10_000_000 and r.ops == 3 * r.lifecycles


@pytest.mark.parametrize("args", [["--lifecycles", "0"], ["--agents", "10001"], ["--ids", "uuid"],
                                  ["--max-seconds", "601"]])
def test_out_of_range_arguments_get_a_usage_error(args):
    done = subprocess.run([sys.executable, "-m", "busyhour.bench.percall", *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "lifecycles 1..10,000,000" in done.stderr
