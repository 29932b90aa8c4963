"""Streaming statistics (stream_stats.py, ``streaming_stats=True``, ``--streaming-stats``) against the normal mode.

1. Every field of the ``RunResult`` is the normal mode's: integers (counts, max_queue, calls, events)
   exactly; floats within a relative 1e-9 — the same additions in another order (chunk by chunk, so
   rounding differs in the last digits; 1e-9 is far above the ~1e-15 seen and far below any
   modelling effect) —; wait percentiles within 0.55 % or 1 ms (the histogram reads each order
   statistic as its bin's geometric middle, bins 2^(1/64) wide). On the shipped examples and the
   compiled path's scenario variants (breaks, shifts, redials, callbacks, answer delays, overload).
2. ``histogram_percentiles`` is within that tolerance of ``np.percentile`` on random waits (zeros,
   ties, single values, wide ranges).
3. Streaming runs on the compiled path only: ``engine="simpy"`` and a scenario the compiled path
   cannot run are refused with one line naming why (API: ``SimulationError``; CLI: exit 2).
4. The CLI flag gives the normal mode's figures.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from typer.testing import CliRunner

from busyhour.cli.main import app
from busyhour.sim.driver import SimulationError, simulate
from busyhour.sim.scenario import load_scenario, parse_scenario
from busyhour.sim.stream_stats import histogram_percentiles, wait_bins, N_BINS
from test_fast_sim import ANSWER_DELAYS, CALLBACKS, PRESENCE, REDIALS, TWO_QUEUES, VARIANTS, scenario
from test_sim_engine_cli import RING_ALL, SCENARIO

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PCT = ("wait_p50_s", "wait_p90_s", "wait_p95_s", "wait_p99_s")
PCT_REL, PCT_ABS_S, FLOAT_REL = 0.0055, 1e-3, 1e-9


def _close(a, b, name: str, where: str) -> None:
    if isinstance(a, float) or isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            assert math.isnan(a) and math.isnan(b), (where, a, b)
        elif name in PCT:
            assert abs(a - b) <= max(PCT_REL * abs(b), PCT_ABS_S), (where, a, b)
        else:
            assert abs(a - b) <= FLOAT_REL * max(abs(a), abs(b)), (where, a, b)
    else:
        assert a == b, (where, a, b)


def assert_same_run(stream, full, where: str = "run") -> None:
    """Field by field, to the tolerances of the module docstring (wall time aside)."""
    for f in dataclasses.fields(full):
        if f.name == "wall_s":
            continue
        a, b = getattr(stream, f.name), getattr(full, f.name)
        if dataclasses.is_dataclass(b):
            assert_same_run(a, b, f"{where}.{f.name}")
        elif isinstance(b, tuple):
            assert len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b)):
                if isinstance(y, tuple):  # (queue name, Stats)
                    assert x[0] == y[0]
                    x, y = x[1], y[1]
                if dataclasses.is_dataclass(y):
                    assert_same_run(x, y, f"{where}.{f.name}[{i}]")
                else:
                    _close(x, y, f.name, f"{where}.{f.name}[{i}]")
        else:
            _close(a, b, f.name, f"{where}.{f.name}")


SCENARIOS = {
    **{f"example_{n}": (lambda n=n: load_scenario(EXAMPLES / f"{n}.toml")) for n in ("busy_hour", "multi_skill", "outage")},
    **{f"{k}": (lambda v=v: scenario(v)) for d in (VARIANTS, PRESENCE, REDIALS, CALLBACKS, ANSWER_DELAYS)
       for k, v in d.items()},
    "two_queues": lambda: parse_scenario(TWO_QUEUES),
    "warm_up": lambda: scenario({"warmup_s": 1000, "queue": {"calls_per_hour": 330}}),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_streaming_gives_the_normal_modes_figures(name):
    scn = SCENARIOS[name]()
    for rep in (0, 1):
        stream = simulate(scn, rep, streaming_stats=True)
        full = simulate(scn, rep)
        assert stream.engine == full.engine == "compiled"
        assert_same_run(stream, full)
        assert stream.overall.offered > 0


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300), scale=st.sampled_from([1e-4, 0.5, 30.0, 5e5]))
def test_histogram_percentiles_are_within_the_stated_tolerance(seed, n, scale):
    rng = np.random.default_rng(seed)
    w = np.round(rng.exponential(scale, n) * (rng.random(n) < 0.8), int(rng.integers(0, 5)))
    hist = np.bincount(wait_bins(w), minlength=N_BINS)[None, :]
    got = histogram_percentiles(hist)[0]
    want = np.percentile(w, [50, 90, 95, 99])
    assert np.all(np.abs(got - want) <= np.maximum(PCT_REL * np.abs(want), PCT_ABS_S)), (got, want)


def test_streaming_is_refused_where_the_compiled_path_does_not_run(tmp_path):
    ring = scenario({"queue": {"router": {"strategy": "ring-all"}}})
    with pytest.raises(SimulationError, match=r"streaming statistics need the compiled path.*queues\[0\]\.strategy"):
        simulate(ring, 0, streaming_stats=True)
    with pytest.raises(SimulationError, match="compiled path only, not engine='simpy'"):
        simulate(scenario({}), 0, streaming_stats=True, engine="simpy")
    p = tmp_path / "ring.toml"
    p.write_text(RING_ALL)
    r = CliRunner().invoke(app, ["simulate", str(p), "-r", "2", "--streaming-stats"])
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "Traceback" not in r.output
    assert "--streaming-stats" in lines[0] and "queues[0].strategy" in lines[0]


def test_the_cli_flag_gives_the_normal_modes_figures(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(SCENARIO)
    docs = []
    for flags in ([], ["--streaming-stats"]):
        r = CliRunner().invoke(app, ["simulate", str(p), "-r", "2", "--workers", "1", "-f", "json", *flags])
        assert r.exit_code == 0, r.output
        docs.append(json.loads(r.stdout))
    full, stream = docs
    assert stream["overall"]["offered"] == full["overall"]["offered"]
    assert stream["overall"]["service_level"]["mean"] == pytest.approx(full["overall"]["service_level"]["mean"],
                                                                         rel=FLOAT_REL)
    assert stream["overall"]["asa_s"]["mean"] == pytest.approx(full["overall"]["asa_s"]["mean"], rel=FLOAT_REL)
