"""The driver: determinism, accounting, Little's law, shifts, breaks, redials, callbacks, bursts.

Invariants (checked on every run here):

1. every attempt is accounted for: offered = answered + abandoned + other;
2. Little's identity: ∫ (number waiting) dt from the router's events = Σ waits;
3. same scenario + seed + replication → identical results;
4. presence follows the schedule (shifts, breaks), redials and callbacks happen
   as configured, and the router's events are what the results are made of.
"""

from __future__ import annotations

import copy
import csv
import dataclasses

import numpy as np
import pytest

from busyhour.sim.driver import simulate
from busyhour.sim.scenario import parse_scenario
from sim_helpers import scenario_from

BASE = {
    "horizon_s": 3600, "interval_s": 900, "seed": 3,
    "queues": [{"name": "q", "calls_per_hour": 200, "handle_time": {"dist": "exponential", "mean_s": 150}}],
    "teams": [{"name": "t", "agents": 10, "skills": {"q": 1}}],
}


def scenario(**changes):
    return scenario_from(BASE, changes)


def check(run):
    o = run.overall
    assert o.offered == o.answered + o.abandoned + o.other
    assert run.little.identity_gap < 1e-9
    return run


def events(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_identical_results():
    scn = scenario(queue={"patience": {"dist": "exponential", "mean_s": 60},
                          "redial": {"probability": 0.5, "delay": {"dist": "exponential", "mean_s": 30}}})
    a, b = check(simulate(scn, 2)), check(simulate(scn, 2))
    assert repr(dataclasses.replace(a, wall_s=0.0)) == repr(dataclasses.replace(b, wall_s=0.0))
    assert check(simulate(scn, 3)).overall != a.overall


def test_event_log_is_the_routers(tmp_path):
    run = check(simulate(scenario(), 0, event_log=tmp_path / "ev.csv"))
    rows = events(tmp_path / "ev.csv")
    assert len(rows) == run.router_events
    assert [int(r["seq"]) for r in rows] == list(range(1, len(rows) + 1))
    ended = [r for r in rows if r["kind"] == "CALL_ENDED"]
    assert len(ended) == run.calls_simulated and all(r["detail"] == "completed" for r in ended)
    waits = [float(r["value"]) for r in rows if r["kind"] == "CALL_CONNECTED"]
    assert np.mean(waits) == pytest.approx(run.overall.asa_s)


def test_breaks_stop_new_calls(tmp_path):
    scn = scenario(team={"breaks": [{"start_s": 1200, "end_s": 1800}]})
    check(simulate(scn, 0, event_log=tmp_path / "ev.csv"))
    connects = [float(r["time_s"]) for r in events(tmp_path / "ev.csv") if r["kind"] == "CALL_CONNECTED"]
    assert connects and not any(1200 < t < 1800 for t in connects)
    assert any(t == 1800 for t in connects)  # the queue built up during the break is served at once


def test_shifts_hand_over_and_busy_agents_finish_their_call(tmp_path):
    raw = copy.deepcopy(BASE)
    raw["teams"] = [{"name": "early", "agents": 10, "skills": {"q": 1}, "shifts": [{"start_s": 0, "end_s": 1800}]},
                    {"name": "late", "agents": 10, "skills": {"q": 1}, "shifts": [{"start_s": 1800, "end_s": 3600}]}]
    run = check(simulate(parse_scenario(raw), 0, event_log=tmp_path / "ev.csv"))
    rows = events(tmp_path / "ev.csv")
    for r in rows:
        if r["kind"] == "CALL_CONNECTED":
            assert r["agent_id"].startswith("early" if float(r["time_s"]) < 1800 else "late")
    # an early agent still talking at 1800 is logged out when its call ends, not cut off
    ends = {r["call_id"]: float(r["time_s"]) for r in rows if r["kind"] == "CALL_ENDED"}
    outs = [float(r["time_s"]) for r in rows if r["kind"] == "AGENT_STATE" and r["detail"] == "LOGGED_OUT"]
    assert len(outs) >= 10 and min(outs) == 1800 and max(outs) <= max(ends.values())
    staffed = {a.team: 0.0 for a in run.agents}
    for a in run.agents:
        staffed[a.team] += a.staffed_s
    assert staffed["late"] == pytest.approx(18000.0)  # clipped to the horizon
    assert 18000.0 <= staffed["early"] <= 18000.0 + 10 * (max(outs) - 1800)


def test_abandon_and_redial():
    scn = scenario(queue={"calls_per_hour": 400, "patience": {"dist": "exponential", "mean_s": 30},
                          "redial": {"probability": 1.0, "max_attempts": 2,
                                     "delay": {"dist": "constant", "value_s": 60}}})
    run = check(simulate(scn, 0))
    o = run.overall
    assert o.abandoned > 0 and o.redials > 0
    assert o.redials <= o.abandoned  # only first attempts redial (max_attempts = 2)


def test_callbacks_keep_their_place_and_never_abandon():
    scn = scenario(queue={"calls_per_hour": 400, "patience": {"dist": "exponential", "mean_s": 60},
                          "callback": {"ewt_threshold_s": 0, "accept_probability": 1.0},
                          "router": {"expected_aht_s": 150}})
    run = check(simulate(scn, 0))
    o = run.overall
    assert o.callbacks > 0
    no_cb = check(simulate(scenario(queue={"calls_per_hour": 400, "patience": {"dist": "exponential", "mean_s": 60}}), 0))
    assert o.abandoned < no_cb.overall.abandoned


def test_burst_adds_the_outage_volume():
    reps = 20
    extra = []
    for r in range(reps):
        base = check(simulate(scenario(), r))
        burst = check(simulate(scenario(bursts=[{"queue": "q", "start_s": 900, "duration_s": 900, "multiplier": 3}]), r))
        assert [i.offered for i in burst.intervals][::2] == [i.offered for i in base.intervals][::2]
        extra.append(burst.intervals[1].offered - base.intervals[1].offered)
    expected = 2 * 200 / 4  # Poisson with this mean
    assert abs(np.mean(extra) - expected) <= 4 * np.sqrt(expected / reps)


def _talk_s(path):
    rows = events(path)
    start = {r["call_id"]: float(r["time_s"]) for r in rows if r["kind"] == "CALL_CONNECTED"}
    return {r["call_id"]: float(r["time_s"]) - start[r["call_id"]] for r in rows
            if r["kind"] == "CALL_ENDED" and r["detail"] == "completed"}


def test_answer_delay_and_aht_factor_apply_to_the_same_callers(tmp_path):
    slow = scenario(team={"answer_delay": {"dist": "constant", "value_s": 3}, "aht_factor": 2.0, "agents": 30})
    run = check(simulate(slow, 0, event_log=tmp_path / "slow.csv"))
    # 30 agents for ~17 Erlangs: nobody queues, everyone hears 3 s of ringing
    assert run.overall.asa_s == pytest.approx(3.0) and run.overall.p_wait == 1.0
    check(simulate(scenario(team={"agents": 30}), 0, event_log=tmp_path / "fast.csv"))
    fast, slow_talk = _talk_s(tmp_path / "fast.csv"), _talk_s(tmp_path / "slow.csv")
    assert fast.keys() == slow_talk.keys()
    assert all(slow_talk[c] == pytest.approx(2 * fast[c]) for c in fast)  # caller c's talk time, doubled


def test_router_max_wait_exits_count_as_other():
    scn = scenario(queue={"calls_per_hour": 600, "router": {"max_wait_s": 30}})
    run = check(simulate(scn, 0))
    assert run.overall.other > 0 and run.overall.abandoned == 0


def test_warmup_deletes_by_arrival_time():
    run = check(simulate(scenario(warmup_s=1000), 0))
    assert run.overall.start_s == 1000 and run.intervals[0].start_s == 1000 and run.intervals[0].end_s == 1800
    assert sum(i.offered for i in run.intervals) == run.overall.offered


def test_little_and_accounting_on_examples():
    from pathlib import Path

    from busyhour.sim.scenario import load_scenario

    for name in ("busy_hour.toml", "outage.toml", "multi_skill.toml"):
        run = check(simulate(load_scenario(Path(__file__).resolve().parents[2] / "examples" / name), 0))
        assert run.overall.offered > 500 and 0 < run.overall.occupancy <= 1.0
        assert all(0 <= a.utilisation <= 1.0 + 1e-9 for a in run.agents if a.staffed_s > 0)


ROBUST = {
    "horizon_s": 3600, "interval_s": 900, "seed": 3,
    "queues": [{"name": "q", "calls_per_hour": 300, "handle_time": {"dist": "exponential", "mean_s": 120},
                "patience": {"dist": "exponential", "mean_s": 60}, "redial": {"probability": 0.5},
                "callback": {"ewt_threshold_s": 30, "accept_probability": 0.3}, "router": {"ring_timeout_s": 4}}],
    "teams": [{"name": "fast", "agents": 5, "skills": {"q": 2}},
              {"name": "slow", "agents": 5, "skills": {"q": 1}, "answer_delay": {"dist": "exponential", "mean_s": 5},
               "breaks": [{"start_s": 600, "duration_s": 300}], "break_spread_s": 600,
               "shifts": [{"start_s": 0, "end_s": 2000}, {"start_s": 2500, "end_s": 3600}]}],
}


@pytest.mark.parametrize("strategy", ["ring-all", "ring-progressively", "longest-idle-agent", "round-robin", "top-down",
                                      "sequentially-by-agent-order", "agent-with-fewest-calls",
                                      "agent-with-least-talk-time", "random", "weighted-random", "most-skilled-first"])
def test_every_strategy_survives_slow_phones_breaks_split_shifts_callbacks(strategy, tmp_path):
    """Ring timeouts shorter than answer delays, ring-all races, split shifts, breaks, callbacks, redials."""
    run = check(simulate(parse_scenario(ROBUST).with_strategy(strategy), 0, event_log=tmp_path / "e.csv"))
    rows = events(tmp_path / "e.csv")
    callbacks = {r["call_id"] for r in rows if r["kind"] == "CALLBACK_REQUESTED"}
    abandoned = {r["call_id"] for r in rows if r["kind"] == "CALL_ENDED" and r["detail"].startswith("abandoned")}
    assert callbacks and not callbacks & abandoned  # a callback keeps its place and never hangs up
    assert run.overall.other == 0 and run.overall.redials > 0
    ended = [r["call_id"] for r in rows if r["kind"] == "CALL_ENDED"]
    assert len(ended) == len(set(ended)) == run.calls_simulated  # exactly one end per call


def test_router_wrap_up_applies_without_after_call_work(tmp_path):
    run = check(simulate(scenario(queue={"router": {"wrap_up_s": 12}}), 0, event_log=tmp_path / "e.csv"))
    last: dict[str, tuple[str, float]] = {}
    wraps = []
    for r in events(tmp_path / "e.csv"):
        if r["kind"] == "AGENT_STATE":
            prev = last.get(r["agent_id"])
            if prev and prev[0] == "WRAP_UP":
                wraps.append(float(r["time_s"]) - prev[1])
            last[r["agent_id"]] = (r["detail"], float(r["time_s"]))
    assert wraps and all(w == pytest.approx(12.0) for w in wraps)
    assert run.overall.occupancy > check(simulate(scenario(), 0)).overall.occupancy


def test_a_break_shorter_than_the_call_does_not_strand_the_agent(tmp_path):
    scn = scenario(queue={"calls_per_hour": 60, "handle_time": {"dist": "constant", "value_s": 600},
                          "after_call_work": {"dist": "constant", "value_s": 20}},
                   team={"agents": 2, "breaks": [{"start_s": 300, "duration_s": 60}, {"start_s": 2000, "duration_s": 900}]})
    run = check(simulate(scn, 0, event_log=tmp_path / "e.csv"))
    late = {r["agent_id"] for r in events(tmp_path / "e.csv") if r["kind"] == "CALL_CONNECTED" and float(r["time_s"]) > 3000}
    assert late == {"t-001", "t-002"}  # both came back after each break
    for a in run.agents:
        assert 0 < a.utilisation <= 1.0 + 1e-9 and a.staffed_s < 3600
