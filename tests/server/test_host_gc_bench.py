"""bench/host_gc.py: a small run, and its bounds."""

from __future__ import annotations

import subprocess
import sys

import pytest

from busyhour.bench.host_gc import HostGcResult, run


def test_a_small_run_reports_every_call_and_its_pauses():
    r = run(ticks=20, arrivals=50, agents=40)
    assert isinstance(r, HostGcResult) and (r.ticks, r.calls) == (20, 1_000)
    assert r.events_kept >= 2 * r.calls  # at least arrived and offered per call
    assert r.cpu_s > 0 and all(p.count > 0 and 0 <= p.median_ms <= p.max_ms for p in r.pauses)


@pytest.mark.parametrize("args", [["--ticks", "0"], ["--arrivals", "5001"], ["--agents", "3"]])
def test_out_of_range_arguments_get_a_usage_error(args):
    done = subprocess.run([sys.executable, "-m", "busyhour.bench.host_gc", *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr and "ticks 1..5000" in done.stderr
