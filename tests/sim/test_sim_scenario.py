"""Scenario validation: every kind of mistake gets a message naming the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from busyhour.sim import distributions as d
from busyhour.sim.routing import check_router_config, router_config
from busyhour.sim.scenario import ScenarioError, load_scenario, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE = {
    "horizon_s": 3600, "interval_s": 900,
    "queues": [{"name": "q", "calls_per_interval": [10, 20, 30, 40],
                "handle_time": {"dist": "exponential", "mean_s": 180}}],
    "teams": [{"name": "t", "agents": 5, "skills": {"q": 1}}],
}


def _with(path: str, value, base=BASE):
    raw = copy.deepcopy(base)
    node = raw
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if k.isdigit() else node[k]
    last = keys[-1]
    if value is DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return raw


DELETE = object()

CASES = [
    ("horizon_s", DELETE, "horizon_s: missing"),
    ("horizon_s", "1h", "horizon_s: must be a number"),
    ("horizon_min", 60, "horizon_s: give horizon_s or horizon_min, not both"),
    ("warmup_s", 3600, "warmup_s: must be >= 0 and < horizon_s"),
    ("colour", "blue", "colour: unknown key"),
    ("queues", [], "queues: needs at least one entry"),
    ("queues.0.name", DELETE, "queues[0].name: missing"),
    ("queues.0.handel_time", 3, "queues[0].handel_time: unknown key"),
    ("queues.0.handle_time", DELETE, "queues[0].handle_time: missing"),
    ("queues.0.handle_time", 180, "queues[0].handle_time: must be a table"),
    ("queues.0.handle_time", {"dist": "normal", "mean_s": 1}, "queues[0].handle_time.dist: must be one of"),
    ("queues.0.handle_time", {"dist": "exponential", "mean_s": -5}, "queues[0].handle_time.mean_s: must be in"),
    ("queues.0.handle_time", {"dist": "exponential", "mean": 5}, "queues[0].handle_time.mean: unknown key"),
    ("queues.0.handle_time", {"dist": "lognormal", "mean_s": 5, "cv": 0}, "queues[0].handle_time.cv: must be > 0"),
    ("queues.0.patience", {"dist": "weibull", "mean_s": 60}, "queues[0].patience.shape: missing"),
    ("queues.0.after_call_work", {"dist": "empirical", "csv": "nope.csv"}, "queues[0].after_call_work.csv:"),
    ("queues.0.calls_per_interval", [1, 2, 3], "queues[0].calls_per_interval: needs 1 or 4 values"),
    ("queues.0.calls_per_interval", [1, -2, 3, 4], "queues[0].calls_per_interval[1]: must be a number >= 0"),
    ("queues.0.calls_per_hour", 100, "queues[0]: give exactly one of calls_per_interval or calls_per_hour"),
    ("queues.0.skills", {"q": 7}, "queues[0].skills.q: skill level must be an integer 1-5"),
    ("queues.0.redial", {"probability": 1.5}, "queues[0].redial.probability: must be in [0.0, 1.0]"),
    ("queues.0.callback", {"accept_probability": 0.5}, "queues[0].callback.ewt_threshold_s: missing"),
    ("queues.0.overdispersion_cv", -1, "queues[0].overdispersion_cv: must be in"),
    ("queues.0.priority", 1.5, "queues[0].priority: must be int"),
    ("teams.0.agents", -1, "teams[0].agents: must be >= 0"),
    ("teams.0.agents", "five", "teams[0].agents: must be int"),
    ("teams.0.skills", {}, "teams[0].skills: a team needs at least one skill"),
    ("teams.0.queues", ["nope"], "teams[0].queues: no queue named 'nope'"),
    ("teams.0.shifts", [{"start_s": 0, "end_s": 100}, {"start_s": 50, "end_s": 200}], "teams[0].shifts: periods overlap"),
    ("teams.0.shifts", [{"start_s": 100, "end_s": 50}], "teams[0].shifts[0]: need 0 <= start < end"),
    ("teams.0.breaks", [{"start_s": 100}], "teams[0].breaks[0]: give exactly one of end_s or duration_s"),
    ("teams.0.answer_delay", {"dist": "constant"}, "teams[0].answer_delay.value_s: missing"),
    ("bursts", [{"queue": "x", "start_s": 0, "duration_s": 60, "multiplier": 2}], "bursts[0].queue: no queue named 'x'"),
    ("bursts", [{"queue": "q", "start_s": 0, "duration_s": 60}], "bursts[0]: give exactly one of extra_calls_per_h or multiplier"),
    ("bursts", [{"queue": "q", "start_s": 0, "duration_s": 0, "multiplier": 2}], "bursts[0].start_s/duration_s"),
]


@pytest.mark.parametrize(("path", "value", "message"), CASES, ids=[c[2].split(":")[0] + "-" + str(i) for i, c in enumerate(CASES)])
def test_mistake_names_the_key(path, value, message):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(_with(path, value))
    assert message in str(info.value)


def test_duplicate_queue_name():
    raw = copy.deepcopy(BASE)
    raw["queues"].append(copy.deepcopy(raw["queues"][0]))
    with pytest.raises(ScenarioError, match=r"queues\[1\]\.name: duplicate 'q'"):
        parse_scenario(raw)


def test_router_mistake_names_the_router_key():
    scn = parse_scenario(_with("queues.0.router", {"strategy": "fastest-first"}))
    with pytest.raises(ScenarioError, match=r"queues\[0\]\.strategy: unknown strategy 'fastest-first'"):
        check_router_config(scn)


def test_toml_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("horizon_s = [\n")
    with pytest.raises(ScenarioError, match="bad.toml: not valid TOML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "missing.toml")


def test_empirical_csv_errors_name_line(tmp_path):
    (tmp_path / "h.csv").write_text("handle_s\n100\nabc\n")
    raw = _with("queues.0.handle_time", {"dist": "empirical", "csv": "h.csv"})
    with pytest.raises(ScenarioError, match=r"queues\[0\]\.handle_time\.csv: .*h.csv:3: not a number"):
        parse_scenario(raw, base_dir=tmp_path)


@pytest.mark.parametrize("name", ["busy_hour.toml", "outage.toml", "multi_skill.toml"])
def test_examples_load_and_configure_the_router(name):
    scn = load_scenario(EXAMPLES / name)
    check_router_config(scn)
    assert scn.n_agents > 0 and scn.queues


def test_default_example_matches_the_issue():
    scn = load_scenario(EXAMPLES / "busy_hour.toml")
    assert len(scn.queues) == 3 and scn.n_agents == 60
    levels = {lvl for t in scn.teams for lvl in t.skills.values()}
    assert len(levels) >= 2
    assert isinstance(load_scenario(EXAMPLES / "multi_skill.toml").queues[0].handle_time, d.Empirical)


def test_minutes_and_defaults():
    scn = parse_scenario({**{k: v for k, v in BASE.items() if k != "horizon_s"}, "horizon_min": 60})
    assert scn.horizon_s == 3600 and scn.warmup_s == 0 and scn.sl_threshold_s == 20 and scn.n_intervals == 4
    q = scn.queues[0]
    assert isinstance(q.patience, d.Never) and q.after_call_work is None  # the router's wrap_up_s applies
    from busyhour.sim.routing import after_call_work

    assert after_call_work(scn, q) == d.Constant(0.0)
    scn12 = parse_scenario(_with("queues.0.router", {"wrap_up_s": 12}))
    assert after_call_work(scn12, scn12.queues[0]) == d.Constant(12.0)


def test_with_agents_splits_in_proportion():
    raw = copy.deepcopy(BASE)
    raw["teams"] = [{"name": "a", "agents": 30, "skills": {"q": 1}}, {"name": "b", "agents": 10, "skills": {"q": 2}}]
    scn = parse_scenario(raw)
    assert [t.agents for t in scn.with_agents(60).teams] == [45, 15]
    assert sum(t.agents for t in scn.with_agents(41).teams) == 41
    cfg = router_config(scn.with_agents(3).with_strategy("most-skilled-first"))
    assert len(cfg["agents"]) == 3 and cfg["queues"][0]["strategy"] == "most-skilled-first"


def test_burst_multiplier_becomes_extra_rate():
    raw = _with("bursts", [{"queue": "q", "start_s": 900, "duration_s": 900, "multiplier": 3}])
    scn = parse_scenario(raw)
    assert scn.bursts[0].extra_calls_per_h == pytest.approx(2 * 20 * 4)  # 20 calls per 15 min, x3


def test_the_documented_example_is_valid():
    import re

    doc = (EXAMPLES.parent / "docs" / "scenarios.md").read_text()
    block = re.search(r"```toml\n(.*?)```", doc, re.S).group(1)
    import tomllib

    scn = parse_scenario(tomllib.loads(block))
    check_router_config(scn)
    assert scn.bursts and scn.teams[1].shifts
