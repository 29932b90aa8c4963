"""Limits: every input the simulator takes is bounded and refused, naming the key, before any work.

Each row is a probe that used to hang, blow up memory, crash with a traceback
or run silently wrong; the test requires a ``ScenarioError`` (a ``ValueError``)
whose message names the key, within a time bound.
"""

from __future__ import annotations

import copy
import math
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from busyhour.sim import limits
from busyhour.sim.routing import check_router_config
from busyhour.sim.scenario import ScenarioError, load_scenario, parse_scenario
from busyhour.sim.sweep import MAX_POINTS, parse_agent_range
from sim_helpers import raw_from

BASE = {
    "horizon_s": 3600, "interval_s": 900, "seed": 3,
    "queues": [{"name": "q", "calls_per_interval": [10, 20, 30, 40],
                "handle_time": {"dist": "lognormal", "mean_s": 180, "cv": 1.0}}],
    "teams": [{"name": "t", "agents": 5, "skills": {"q": 1}}],
}


def _raw(**changes) -> dict:
    return raw_from(BASE, changes)


PROBES = [
    ("calls_per_interval 1e9", _raw(queue={"calls_per_interval": [1e9, 60, 60, 60]}), "queues[0].calls_per_interval"),
    ("calls_per_hour inf", _raw(queue={"calls_per_hour": math.inf}), "queues[0].calls_per_hour[0]"),
    ("horizon_min 52560000", {**{k: v for k, v in _raw().items() if k != "horizon_s"}, "horizon_min": 52560000},
     "horizon_s: at most"),
    ("horizon inf", {**_raw(), "horizon_s": math.inf}, "horizon_s"),
    ("interval 1e-300", {**_raw(), "interval_s": 1e-300}, "interval_s"),
    ("interval inf", {**_raw(), "interval_s": math.inf}, "interval_s"),
    ("too many intervals", {**_raw(), "horizon_s": 7 * 86400, "interval_s": 60}, "interval_s: 10080 intervals"),
    ("bench-sized horizon is fine, its intervals are not", {**_raw(), "horizon_s": 1e7, "interval_s": 3600},
     "interval_s: 2778 intervals"),
    ("drain a year", {**_raw(), "drain_s": 365 * 86400}, "drain_s"),
    ("agents 1e8", _raw(team={"agents": 100_000_000}), "agents"),
    ("seed -1", {**_raw(), "seed": -1}, "seed"),
    ("seed 2**64", {**_raw(), "seed": 2**64}, "seed"),
    ("redial max_attempts 1e6", _raw(queue={"redial": {"probability": 0.5, "max_attempts": 1_000_000}}),
     "redial.max_attempts"),
    ("burst of 1e12 calls/h", _raw(bursts=[{"queue": "q", "start_s": 0, "duration_s": 3600, "extra_calls_per_h": 1e12}]),
     "calls per replication"),
    ("burst forever", _raw(bursts=[{"queue": "q", "start_s": 0, "duration_s": math.inf, "multiplier": 2}]), "bursts[0]"),
    ("shift after the run", _raw(team={"shifts": [{"start_s": 3600, "end_s": 7200}]}), "teams[0].shifts[0]: starts at"),
    ("break after the run", _raw(team={"breaks": [{"start_s": 5000, "duration_s": 60}]}), "teams[0].breaks[0]: starts at"),
    ("queue no team serves", _raw(queue={"skills": {"spanish": 1}}), "queues[0]: no team serves 'q'"),
]
PROBES[1][1]["queues"][0].pop("calls_per_interval")  # calls_per_hour alone


@pytest.mark.parametrize(("raw", "message"), [p[1:] for p in PROBES], ids=[p[0] for p in PROBES])
def test_out_of_bounds_scenarios_are_refused_fast(raw, message):
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_scenario(raw)
    assert time.perf_counter() - t0 < 2.0


def test_limits_at_the_edge_are_accepted():
    scn = parse_scenario({**_raw(team={"agents": limits.MAX_AGENTS}), "seed": limits.MAX_SEED,
                          "horizon_s": limits.MAX_HORIZON_S, "interval_s": 86400,
                          "queues": [{**BASE["queues"][0], "calls_per_interval": 1}]})
    assert scn.n_agents == limits.MAX_AGENTS and scn.seed == limits.MAX_SEED and scn.n_intervals == 366


def test_the_size_estimate_refuses_without_force_and_names_the_numbers():
    scn = parse_scenario(_raw(queue={"calls_per_interval": [100_000] * 4}))  # 400,000 calls per replication
    assert limits.estimate_calls(scn) == pytest.approx(400_000)
    with pytest.raises(ScenarioError, match=r"400,000 calls × 100 runs = 40,000,000 calls.*--force"):
        limits.check_size(scn, 100)
    assert limits.check_size(scn, 100, force=True).calls_total == pytest.approx(40_000_000)
    assert limits.check_size(scn, 10).calls_total == pytest.approx(4_000_000)


def test_the_estimate_counts_bursts_and_redials():
    scn = parse_scenario(_raw(queue={"redial": {"probability": 0.5, "max_attempts": 3}},
                              bursts=[{"queue": "q", "start_s": 0, "duration_s": 1800, "extra_calls_per_h": 200}]))
    assert limits.estimate_calls(scn) == pytest.approx((100 + 100) * (1 + 0.5 + 0.25))


def test_with_agents_is_bounded():
    scn = parse_scenario(_raw())
    with pytest.raises(ScenarioError, match="agents"):
        scn.with_agents(limits.MAX_AGENTS + 1)
    with pytest.raises(ScenarioError, match="agents"):
        scn.with_agents(-1)


@pytest.mark.parametrize("text", ["0:1000000000", "0:10**9", "1," * 20_000 + "1", "0:20000", "5:9:0", "-3:4"])
def test_agent_ranges_are_checked_before_they_are_built(text):
    t0 = time.perf_counter()
    with pytest.raises(ScenarioError, match="--agents"):
        parse_agent_range(text)
    assert time.perf_counter() - t0 < 1.0


def test_agent_range_at_the_limit():
    assert len(parse_agent_range(f"0:{MAX_POINTS - 1}")) == MAX_POINTS


def test_a_directory_and_a_device_are_not_read(tmp_path):
    with pytest.raises(ScenarioError, match="is a directory"):
        load_scenario(tmp_path)
    if os.path.exists("/dev/zero"):
        t0 = time.perf_counter()
        with pytest.raises(ScenarioError, match="not a regular file"):
            load_scenario(Path("/dev/zero"))
        assert time.perf_counter() - t0 < 1.0


def test_an_empirical_csv_that_is_a_device_is_refused(tmp_path):
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero here")
    raw = _raw(queue={"handle_time": {"dist": "empirical", "csv": "/dev/zero"}})
    with pytest.raises(ScenarioError, match=r"queues\[0\].handle_time.csv: .*not a regular file"):
        parse_scenario(raw, base_dir=tmp_path)


def test_a_huge_file_is_refused_before_reading(tmp_path, monkeypatch):
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 1000)
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100)
    with pytest.raises(ScenarioError, match="more than the 100"):
        load_scenario(big)


EXTREME = [0, -0.0, 5e-324, 1e-300, 0.5, 1e300, math.inf, -math.inf, math.nan, -1, True, False, 2**64, -(2**63),
           10**30, "5", None, [], {}, [1e300], [math.nan]]
KEYS = [("queues", 0, "handle_time", "cv"), ("queues", 0, "handle_time", "dist"), ("horizon_s",), ("interval_s",), ("warmup_s",), ("drain_s",), ("sl_threshold_s",), ("seed",),
        ("queues", 0, "calls_per_interval"), ("queues", 0, "handle_time", "mean_s"),
        ("queues", 0, "overdispersion_cv"), ("queues", 0, "priority"), ("teams", 0, "agents"),
        ("teams", 0, "aht_factor"), ("teams", 0, "break_spread_s"), ("teams", 0, "shifts"),
        ("queues", 0, "patience"), ("queues", 0, "redial"), ("bursts",)]


CHANGES = st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(EXTREME)), min_size=1, max_size=3)


def _parsed(changes):
    """The scenario with ``changes`` applied, or None when it is refused (with a ScenarioError only)."""
    raw = copy.deepcopy(BASE)
    for path, value in changes:
        node = raw
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = copy.deepcopy(value)
    try:
        scn = parse_scenario(raw)
        check_router_config(scn)
    except ScenarioError:
        return None
    return scn


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CHANGES)
def test_extreme_values_give_a_scenario_or_a_clean_error(changes):
    """0, subnormals, 1e300, ±inf, nan, negatives, bools, huge ints, wrong types: a Scenario within the limits or
    a ScenarioError, in bounded time — never another exception, a hang or a huge allocation."""
    t0 = time.perf_counter()
    scn = _parsed(changes)
    if scn is not None:
        assert scn.n_intervals <= limits.MAX_INTERVALS and scn.n_agents <= limits.MAX_AGENTS
        assert limits.estimate_calls(scn) <= limits.MAX_CALLS_PER_RUN
    assert time.perf_counter() - t0 < 2.0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CHANGES)
def test_a_scenario_that_parses_also_runs(changes):
    """Whatever extreme value the checks let through, the run completes (the calls here are few)."""
    from busyhour.sim.driver import simulate

    scn = _parsed(changes)
    if scn is not None:
        run = simulate(scn, 0)
        assert run.overall.offered >= 0 and run.little.identity_gap < 1e-6


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40),
                 st.builds(lambda a, b, c: f"{a}:{b}:{c}", st.integers(-10**20, 10**20), st.integers(-10**20, 10**20),
                           st.integers(-10**20, 10**20)),
                 st.builds(lambda xs: ",".join(map(str, xs)), st.lists(st.integers(-10**6, 10**6), max_size=50))))
def test_any_agent_range_text_gives_counts_within_limits_or_an_error(text):
    t0 = time.perf_counter()
    try:
        counts = parse_agent_range(text)
    except ScenarioError as exc:
        assert str(exc).startswith("--agents")
    else:
        assert 1 <= len(counts) <= MAX_POINTS and all(0 <= n <= limits.MAX_AGENTS for n in counts)
    assert time.perf_counter() - t0 < 1.0


def test_files_are_checked_as_opened_and_never_waited_on(tmp_path, monkeypatch):
    """A scenario or durations CSV is checked on the file opened: a pipe is refused at once, and a file whose
    ``stat`` said small but that is larger when read is refused without reading past the limit."""
    fifo = tmp_path / "d.csv"
    os.mkfifo(fifo)
    with pytest.raises(ScenarioError, match=r"d\.csv: is a named pipe, not a regular file, expected a durations"):
        limits.read_file(fifo, "durations CSV")
    big = tmp_path / "s.toml"
    big.write_bytes(b"#" * 200)
    monkeypatch.setattr(limits, "MAX_FILE_BYTES", 100)
    with pytest.raises(ScenarioError, match="s.toml: 200 bytes, more than the 100"):
        limits.read_file(big, "scenario TOML file")
    real_fstat = os.fstat
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 10, *real_fstat(fd)[7:])))
    with pytest.raises(ScenarioError, match="s.toml: 101 bytes, more than the 100"):  # read stops at 101
        limits.read_file(big, "scenario TOML file")
