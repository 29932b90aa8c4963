"""Forecast parsing and interval staffing plans.

Invariants checked:
1. The example weekday parses: 24 half-hour intervals 08:00-19:30, two peaks.
2. Every interval's agents are the least meeting the target (Erlang C or A),
   scheduled staff = agents / (1 - shrinkage) rounded up, trunks are the
   least lines for the trunk load at the trunk blocking.
3. Totals and peaks are consistent with the intervals.
4. Bad files fail with the file name, line and column in the message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from busyhour.erlang import (
    ForecastError,
    erlang_a,
    erlang_b,
    parse_forecast,
    plan_staffing,
    read_forecast,
    scheduled_staff,
    service_level,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "forecast_weekday.csv"


def test_example_forecast_shape():
    f = read_forecast(EXAMPLE)
    starts = [r.interval_start for r in f.intervals]
    assert starts[0] == "08:00" and starts[-1] == "19:30" and len(starts) == 24
    assert all(r.interval_min == 30 for r in f.intervals)
    calls = np.array([r.calls for r in f.intervals])
    morning, afternoon = calls[:10].argmax(), 10 + calls[10:].argmax()
    assert 4 <= morning <= 7 and 12 <= afternoon <= 16
    assert calls[8:12].min() < min(calls[morning], calls[afternoon]) * 0.6  # the lunch dip


def test_plan_erlang_c_minimal_and_consistent():
    f = read_forecast(EXAMPLE)
    plan = plan_staffing(f, target_sl=0.8, threshold_s=20, shrinkage=0.3, trunk_blocking=0.01)
    assert plan.model == "erlang_c" and len(plan.intervals) == 24
    for r in plan.intervals:
        assert r.load_erl == pytest.approx(r.calls * r.aht_s / 1800)
        sl_at = [service_level(n, r.load_erl, r.aht_s, 20) for n in (r.agents, r.agents - 1)]
        assert sl_at[0] >= 0.8 > sl_at[1]
        assert r.scheduled == scheduled_staff(r.agents, 0.3)
        trunk_load = r.load_erl * (1 + r.asa_s / r.aht_s)
        assert erlang_b(r.trunks, trunk_load) <= 0.01 < erlang_b(r.trunks - 1, trunk_load)
        assert r.trunks > r.agents
    peak = max(plan.intervals, key=lambda r: r.agents)
    assert (plan.peak_agents, plan.peak_interval) == (peak.agents, peak.interval_start)
    assert plan.agent_hours == pytest.approx(sum(r.agents for r in plan.intervals) * 0.5)
    assert plan.total_calls == sum(r.calls for r in plan.intervals)
    assert 0.8 <= plan.service_level <= 1.0


def test_plan_erlang_a_uses_patience():
    f = read_forecast(EXAMPLE)
    c = plan_staffing(f, target_sl=0.8, threshold_s=20)
    a = plan_staffing(f, target_sl=0.8, threshold_s=20, patience_s=120, max_occupancy=0.9)
    assert a.model == "erlang_a" and a.p_abandon > 0
    for r in a.intervals:
        res = erlang_a(r.agents, r.load_erl, r.aht_s, 120, 20)
        assert res.service_level >= 0.8 and res.occupancy <= 0.9
        worse = erlang_a(r.agents - 1, r.load_erl, r.aht_s, 120, 20)
        assert worse.service_level < 0.8 or worse.occupancy > 0.9
    assert a.agent_hours <= c.agent_hours


def test_default_aht_and_zero_calls():
    f = parse_forecast(["interval_start,calls", "09:00,0", "09:15,40", "09:30,55"], source="mem.csv")
    assert [r.interval_min for r in f.intervals] == [15, 15, 15]
    with pytest.raises(ValueError, match="aht_s must be given"):
        plan_staffing(f, target_sl=0.8, threshold_s=20)
    plan = plan_staffing(f, target_sl=0.8, threshold_s=20, aht_s=200)
    zero = plan.intervals[0]
    assert (zero.agents, zero.scheduled, zero.trunks, zero.service_level) == (0, 0, 0, 1.0)
    assert plan.intervals[1].load_erl == pytest.approx(40 * 200 / 900)


def test_iso_datetimes_and_explicit_interval():
    f = parse_forecast(["Interval_Start,Calls,AHT_S,interval_min", "2026-03-02T08:00,10,200,60"])
    assert f.intervals[0].interval_min == 60 and f.intervals[0].aht_s == 200


@pytest.mark.parametrize(
    "lines, message",
    [
        (["interval_start,calls", "08:00,12", "08:30,abc"], r"f\.csv line 3, column calls: 'abc' is not a number"),
        (["interval_start,calls,aht_s", "08:00,12,0"], r"line 2, column aht_s: '0' must be a finite number > 0"),
        (["interval_start,calls", "08:00,-3", "08:30,4"], r"line 2, column calls: '-3' must be"),
        (["interval_start,calls", "8h00,1", "08:30,4"], r"line 2, column interval_start: '8h00' is not HH:MM"),
        (["interval_start,calls", "08:30,1", "08:00,4"], r"line 3, column interval_start: '08:00' does not come after"),
        (["interval_start,calls,aht", "08:00,1,3"], r"line 1, column 3: unknown column 'aht'"),
        (["calls", "3"], r"line 1: missing required column 'interval_start'"),
        (["interval_start,calls", "08:00,1,9"], r"line 2: expected 2 fields, got 3"),
        (["interval_start,calls", "08:00,1", "08:30,1", "09:30,1"],
         r"line 4, column interval_start: intervals are not evenly"),
        (["interval_start,calls", "08:00,1"], r"one interval only"),
        (["# only a comment"], r"the file is empty"),
    ],
)
def test_bad_forecasts(lines, message):
    with pytest.raises(ForecastError, match=message):
        parse_forecast(lines, source="f.csv")


def test_unreadable_file(tmp_path):
    with pytest.raises(ForecastError, match="cannot read"):
        read_forecast(tmp_path / "missing.csv")
