"""The compiled simulation path (sim/fast.py) against the SimPy driver: the same run, number for number.

Both paths drive routers that the parity tests hold event-for-event equal, in
the same order, with the same callers (common random numbers); so every
field of the result must match exactly — service level, waits, abandonment,
occupancy, per-interval and per-agent figures, Little's law areas, the
router's event count and the end time. Only the wall time differs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import busyhour.sim.fast as fast_path
from busyhour.sim.driver import SimulationError, simulate
from busyhour.sim.fast import unsupported
from sim_helpers import scenario_from
from busyhour.sim.scenario import load_scenario, parse_scenario
from busyhour.router.core_jit import entry
from busyhour.router.core_ref import state_ref
from busyhour.sim.fast_loop import ewt_s

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE = {
    "horizon_s": 3600, "interval_s": 900, "seed": 5,
    "queues": [{"name": "q", "calls_per_hour": 260, "handle_time": {"dist": "exponential", "mean_s": 150}}],
    "teams": [{"name": "t", "agents": 11, "skills": {"q": 1}}],
}

VARIANTS = {
    "mmc": {},
    "abandonment": {"queue": {"patience": {"dist": "exponential", "mean_s": 45}}},
    "wrap_up_lognormal": {"queue": {"handle_time": {"dist": "lognormal", "mean_s": 150, "cv": 0.8},
                                    "after_call_work": {"dist": "exponential", "mean_s": 20}}},
    "overload_max_wait": {"queue": {"calls_per_hour": 420, "router": {"max_wait_s": 40, "max_length": 6}}},
    "fewest_calls_factor": {"queue": {"router": {"strategy": "agent-with-fewest-calls"}},
                            "team": {"aht_factor": 1.3}},
    "burst": {"bursts": [{"queue": "q", "start_s": 1200, "duration_s": 600, "extra_calls_per_h": 300}],
              "queue": {"patience": {"dist": "weibull", "mean_s": 60, "shape": 1.5}}},
}


T = {"name": "t", "skills": {"q": 1}}
PRESENCE = {  # shifts and breaks: every path of driver.presence
    "breaks_while_on_calls": {"queue": {"calls_per_hour": 60, "handle_time": {"dist": "constant", "value_s": 600},
                                        "after_call_work": {"dist": "constant", "value_s": 20}},
                              "team": {"agents": 2, "breaks": [{"start_s": 300, "duration_s": 60},
                                                               {"start_s": 2000, "duration_s": 900}]}},
    "staggered_breaks": {"queue": {"patience": {"dist": "exponential", "mean_s": 120},
                                   "after_call_work": {"dist": "exponential", "mean_s": 15}},
                         "team": {"breaks": [{"start_s": 600, "duration_s": 300}, {"start_s": 2400, "duration_s": 120}],
                                  "break_spread_s": 900}},
    "shift_end_with_calls_waiting": {"queue": {"calls_per_hour": 380, "patience": {"dist": "exponential", "mean_s": 300}},
                                     "teams": [{**T, "agents": 7},
                                               {**T, "name": "late", "agents": 5, "shifts": [{"start_s": 0, "end_s": 1800}],
                                                "breaks": [{"start_s": 900, "duration_s": 200}]}]},
    "login_with_calls_waiting": {"queue": {"calls_per_hour": 200},
                                 "team": {"agents": 12, "shifts": [{"start_s": 900, "end_s": 3600}]}},
    "split_shifts_on_long_calls": {"queue": {"calls_per_hour": 90, "handle_time": {"dist": "constant", "value_s": 500},
                                             "patience": {"dist": "weibull", "mean_s": 200, "shape": 0.8}},
                                   "team": {"agents": 6, "shifts": [{"start_s": 0, "end_s": 1000},
                                                                    {"start_s": 1100, "end_s": 2500},
                                                                    {"start_s": 2600, "end_s": 3600}],
                                            "breaks": [{"start_s": 1900, "duration_s": 300}], "break_spread_s": 400}},
    "no_agents_limit_at_shift_end": {"queue": {"calls_per_hour": 300, "router": {"max_wait_no_agents_s": 30}},
                                     "team": {"agents": 8, "shifts": [{"start_s": 0, "end_s": 1500},
                                                                      {"start_s": 2400, "end_s": 3600}]}},
}
ANSWER_DELAYS = {  # offers scheduled on the heap, answer draws in the SimPy driver's order
    "exponential_answer": {"queue": {"patience": {"dist": "exponential", "mean_s": 60}},
                           "team": {"answer_delay": {"dist": "exponential", "mean_s": 4}}},
    "slower_than_ring_timeout": {"queue": {"patience": {"dist": "exponential", "mean_s": 90},
                                           "router": {"ring_timeout_s": 6, "no_answer_delay_s": 5}},
                                 "teams": [{**T, "agents": 5},
                                           {**T, "name": "slow", "agents": 7,
                                            "answer_delay": {"dist": "lognormal", "mean_s": 5, "cv": 1.0},
                                            "breaks": [{"start_s": 1200, "duration_s": 300}]}]},
    "many_offers_refill_the_draws": {"horizon_s": 2700, "queue": {"calls_per_hour": 15000,
                                                                  "handle_time": {"dist": "exponential", "mean_s": 80}},
                                     "team": {"agents": 350, "answer_delay": {"dist": "constant", "value_s": 1.5}}},
}
REDIALS = {  # new attempts appended to the call arrays, drawn from the queue's redial streams
    "redial_once": {"queue": {"calls_per_hour": 300, "patience": {"dist": "exponential", "mean_s": 30},
                              "redial": {"probability": 0.6, "max_attempts": 2}}},
    "outage_redials_up_to_four": {"queue": {"calls_per_hour": 330, "patience": {"dist": "weibull", "mean_s": 90, "shape": 0.7},
                                            "redial": {"probability": 0.7, "max_attempts": 4,
                                                       "delay": {"dist": "exponential", "mean_s": 120}}},
                                  "bursts": [{"queue": "q", "start_s": 900, "duration_s": 900, "multiplier": 2.5}]},
    "redials_shifts_and_answer_delays": {"queue": {"calls_per_hour": 300, "patience": {"dist": "exponential", "mean_s": 50},
                                                   "redial": {"probability": 0.5,
                                                              "delay": {"dist": "constant", "value_s": 45}},
                                                   "after_call_work": {"dist": "gamma", "mean_s": 20, "cv": 0.5}},
                                         "team": {"answer_delay": {"dist": "exponential", "mean_s": 3},
                                                  "shifts": [{"start_s": 0, "end_s": 2000}, {"start_s": 2100, "end_s": 3600}],
                                                  "breaks": [{"start_s": 1000, "duration_s": 240}], "break_spread_s": 300}},
}
CB = {"callback": {"ewt_threshold_s": 40, "accept_probability": 0.5}}
CALLBACKS = {  # callback offers: checks on the heap at CALL_QUEUED, position() in numba, patience exempt
    "callbacks_and_redials": {"queue": {**CB, "calls_per_hour": 330, "patience": {"dist": "exponential", "mean_s": 60},
                                        "redial": {"probability": 0.6, "max_attempts": 3}}},
    "callbacks_with_shifts_and_breaks": {"queue": {**CB, "calls_per_hour": 300,
                                                   "patience": {"dist": "weibull", "mean_s": 120, "shape": 0.8}},
                                         "team": {"shifts": [{"start_s": 0, "end_s": 1500}, {"start_s": 1700, "end_s": 3600}],
                                                  "breaks": [{"start_s": 900, "duration_s": 300}],
                                                  "break_spread_s": 600}},
    "callbacks_when_the_queue_empties": {  # nobody logged in: an infinite estimated wait converts every taker
        "queue": {"calls_per_hour": 320, "callback": {"ewt_threshold_s": 600, "accept_probability": 0.7},
                  "patience": {"dist": "exponential", "mean_s": 200}, "router": {"max_wait_no_agents_s": 120}},
        "team": {"agents": 9, "shifts": [{"start_s": 0, "end_s": 1200}, {"start_s": 1800, "end_s": 3600}]}},
    "callbacks_with_answer_delays": {"queue": {**CB, "calls_per_hour": 310, "patience": {"dist": "exponential", "mean_s": 90},
                                               "router": {"ring_timeout_s": 8}},
                                     "team": {"answer_delay": {"dist": "lognormal", "mean_s": 4, "cv": 1.2}}},
}


def scenario(changes: dict):
    return scenario_from(BASE, changes)


TWO_QUEUES = {
    "horizon_s": 3600, "interval_s": 900, "seed": 8,
    "queues": [{"name": "sales", "calls_per_hour": 150, "priority": 1, "skills": {"sales": 2},
                "handle_time": {"dist": "exponential", "mean_s": 200},
                "patience": {"dist": "exponential", "mean_s": 90},
                "router": {"strategy": "most-skilled-first", "max_wait_s": 120, "overflow": "support"}},
               {"name": "support", "calls_per_hour": 120, "skills": {"support": 1},
                "handle_time": {"dist": "gamma", "mean_s": 240, "cv": 0.6},
                "router": {"strategy": "agent-with-least-talk-time", "weight": 2.0, "wrap_up_s": 15}}],
    "teams": [{"name": "sales", "agents": 6, "skills": {"sales": 3, "support": 1}},
              {"name": "generalists", "agents": 8, "skills": {"sales": 2, "support": 2}}],
}


def _same(a, b):
    assert (a.engine, b.engine) == ("compiled", "simpy")
    assert repr(dataclasses.replace(a, wall_s=0.0, engine="")) == repr(dataclasses.replace(b, wall_s=0.0, engine=""))


def _both(scn, rep=0, logs=None, engine="compiled"):
    """Replication ``rep`` of ``scn`` on the compiled loop (``engine="auto"`` must pick it) and on the SimPy
    driver, required the same (``_same``); with ``logs`` (a folder) each writes its event log there, as
    fast.csv and simpy.csv. Returns the compiled run."""
    fast = simulate(scn, rep, engine=engine, event_log=logs / "fast.csv" if logs else None)
    _same(fast, simulate(scn, rep, engine="simpy", event_log=logs / "simpy.csv" if logs else None))
    return fast


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_compiled_path_gives_the_simpy_drivers_numbers(name):
    scn = scenario(VARIANTS[name])
    assert unsupported(scn) == []
    for rep in (0, 1):
        _both(scn, rep)


@pytest.mark.parametrize("name", sorted(PRESENCE))
def test_shifts_and_breaks_run_compiled_with_the_simpy_drivers_numbers(name):
    scn = scenario(PRESENCE[name])
    assert unsupported(scn) == []
    for rep in (0, 1):
        fast = _both(scn, rep)
        staffed = [a.staffed_s for a in fast.agents]
        assert min(staffed) < 3600 - 1e-9 and fast.overall.offered > 0  # presence changed staffed time
        assert all(a.utilisation <= 1.0 + 1e-9 for a in fast.agents if a.staffed_s > 0)


@pytest.mark.parametrize("name", sorted(ANSWER_DELAYS))
def test_answer_delays_run_compiled_with_the_simpy_drivers_numbers(name):
    scn = scenario(ANSWER_DELAYS[name])
    assert unsupported(scn) == []
    fast = _both(scn)
    assert fast.overall.p_wait > 0.2  # nobody answers at once: every caller waits


@pytest.mark.parametrize("name", sorted(REDIALS))
def test_redials_run_compiled_with_the_simpy_drivers_numbers(name):
    scn = scenario(REDIALS[name])
    assert unsupported(scn) == []
    for rep in (0, 1):
        fast = _both(scn, rep)
        assert fast.overall.redials > 16  # past the first spare rows of the call arrays
        assert fast.overall.redials <= fast.overall.abandoned  # only an abandon redials


@pytest.mark.parametrize("name", sorted(CALLBACKS))
def test_callback_offers_run_compiled_with_the_simpy_drivers_numbers(name):
    scn = scenario(CALLBACKS[name])
    assert unsupported(scn) == []
    for rep in (0, 1):
        fast = _both(scn, rep)
        assert fast.overall.callbacks > 3
        assert fast.overall.callbacks <= fast.overall.offered - fast.overall.abandoned  # a callback never hangs up


def test_callback_events_are_the_simpy_drivers_byte_for_byte(tmp_path):
    scn = scenario({**CALLBACKS["callbacks_with_answer_delays"],
                    "queue": {**CALLBACKS["callbacks_and_redials"]["queue"], "router": {"ring_timeout_s": 8}}})
    fast = _both(scn, logs=tmp_path)
    text = (tmp_path / "fast.csv").read_text()
    assert text == (tmp_path / "simpy.csv").read_text()
    assert text.count(",CALLBACK_REQUESTED,") >= fast.overall.callbacks > 3  # overall: arrivals in the horizon
    assert ",CALLBACK_OFFERED," in text and ",cb-" in text


@pytest.mark.parametrize("name", ["busy_hour", "multi_skill", "outage"])
def test_every_shipped_example_runs_compiled_with_the_simpy_drivers_numbers(name, tmp_path):
    scn = load_scenario(EXAMPLES / f"{name}.toml")
    assert unsupported(scn) == []
    fast = _both(scn, logs=tmp_path, engine="auto")  # auto: the compiled loop
    assert (tmp_path / "fast.csv").read_text() == (tmp_path / "simpy.csv").read_text()
    assert fast.overall.offered > 500


def test_callback_offers_stay_within_the_routers_number_codes(monkeypatch):
    monkeypatch.setattr(fast_path, "CB_MAX_CALLS", 1_000_000)  # the real bound is ~1e9 calls: past every limit
    big = scenario({"queue": {**CB, "calls_per_hour": 4_000_000}, "horizon_s": 3600})
    assert any("callback offers with more than" in w for w in unsupported(big))
    assert unsupported(scenario({"queue": {"calls_per_hour": 4_000_000}})) == []  # no callbacks: no bound
    monkeypatch.setattr(fast_path, "CB_CODES", 40)  # a run that needs more codes stops with a clear error
    with pytest.raises(SimulationError, match="callback offers"):
        simulate(scenario(CALLBACKS["callbacks_and_redials"]), 0, engine="compiled")


@pytest.mark.parametrize("name", ["split_shifts_on_long_calls", "no_agents_limit_at_shift_end"])
def test_the_event_log_is_the_simpy_drivers_byte_for_byte(name, tmp_path):
    scn = scenario({**PRESENCE[name], "queue": {**PRESENCE[name]["queue"], **REDIALS["redial_once"]["queue"]}})
    assert unsupported(scn) == []
    fast = _both(scn, logs=tmp_path)
    text = (tmp_path / "fast.csv").read_text()
    assert text == (tmp_path / "simpy.csv").read_text()
    assert text.count("\n") == fast.router_events + 1 and "NOT_READY:shift-end" in text


def test_two_queues_priorities_overflow_and_weights():
    scn = parse_scenario(TWO_QUEUES)
    assert unsupported(scn) == []
    fast = _both(scn)
    assert fast.overall.other == 0 and fast.overall.abandoned > 0  # overflow moved max-wait calls on


def test_auto_falls_back_and_compiled_refuses_naming_the_key():
    scn = scenario({"queue": {"router": {"strategy": "ring-all"}, "patience": {"dist": "exponential", "mean_s": 60}}})
    why = unsupported(scn)
    assert any(w.startswith("queues[0].strategy") for w in why)
    with pytest.raises(SimulationError, match=r"queues\[0\]\.strategy"):
        simulate(scn, 0, engine="compiled")
    auto = simulate(scn, 0)
    slow = simulate(scn, 0, engine="python")  # the SimPy driver's former name
    assert auto.engine == slow.engine == "simpy"
    assert repr(auto) == repr(dataclasses.replace(slow, wall_s=auto.wall_s))
    assert auto.overall.answered > 0
    with pytest.raises(ValueError, match="engine"):
        simulate(scn, 0, engine="fast")


def test_a_long_run_grows_the_routers_arrays_without_changing_results():
    """Overload: the queue grows to hundreds, far past the router's first array sizes."""
    scn = scenario({"queue": {"calls_per_hour": 1200, "patience": {"dist": "exponential", "mean_s": 3600}}})
    fast = _both(scn)
    assert fast.overall.max_queue > 300  # past the first 256 call slots


@entry
def _ewt_s(S, slot):
    return ewt_s(state_ref(S), slot)


def test_the_loops_estimated_wait_is_the_routers_position():
    """fast_loop.ewt_s (numba) against ReferenceRouter.position and Router.position (Python), call by call."""
    import math

    from busyhour.router import ReferenceRouter
    from busyhour.router.fast import Router

    cfg = {"agents": [{"id": f"a{i}"} for i in range(3)],
           "queues": [{"name": "q", "members": ["a0", "a1"], "expected_aht_s": 200},
                      {"name": "empty", "members": ["a2"]}]}
    fr, ref = Router.from_config(cfg), ReferenceRouter.from_config(cfg)
    for r in (fr, ref):
        r.agent_login(0.0, "a0", ready=False)
        r.agent_login(0.0, "a1", ready=False)
        for c in range(12):
            r.call_arrive(1.0 + c, c, "q" if c % 3 else "empty", priority=c % 2)
    for c in range(12):
        got = _ewt_s(fr._S, fr._slot(c))
        assert got == fr.position(c).ewt_s == ref.position(c).ewt_s
        assert math.isinf(got) == (c % 3 == 0) and (math.isinf(got) or got > 0)
