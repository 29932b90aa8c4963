"""JSON documents against their shipped JSON Schemas, the CSV layouts, exact t quantiles.

Invariants:
1. ``simulate`` and ``sweep`` JSON documents validate against sim/schemas/*.json
   (a small validator, tests/sim/schema_check.py, that refuses keywords it does not know);
   the validator itself rejects documents with a missing, extra or mistyped field.
2. The CSVs carry clock times, per-queue rows, wait percentiles, callbacks, redials and,
   for sweeps, the paired ΔSL; every row has as many cells as the header.
3. Student-t quantiles match published values to their printed digits, for any df.
4. A paired ΔSL is the mean of per-replication differences (checked against a recomputation).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math

import pytest

from busyhour.sim.export import schema, simulate_csv, simulate_document, sweep_csv, sweep_document
from busyhour.sim.replicate import replicate
from busyhour.sim.scenario import parse_scenario
from busyhour.sim.sweep import sweep
from busyhour.sim.tdist import t_cdf, t_quantile

from schema_check import errors

RAW = {
    "horizon_s": 3600, "interval_s": 1800, "seed": 5, "start_clock": "08:30",
    "queues": [{"name": "a", "calls_per_hour": 150, "handle_time": {"dist": "exponential", "mean_s": 150},
                "patience": {"dist": "exponential", "mean_s": 90},
                "redial": {"probability": 0.5, "max_attempts": 2}},
               {"name": "b", "calls_per_hour": 60, "handle_time": {"dist": "exponential", "mean_s": 200}}],
    "teams": [{"name": "t", "agents": 9, "skills": {"a": 1, "b": 1}}],
}


@pytest.fixture(scope="module")
def summary_and_scenario():
    scn = parse_scenario(RAW)
    return replicate(scn, 3, workers=1), scn


@pytest.fixture(scope="module")
def sweep_result():
    return sweep(parse_scenario(RAW), [7, 9], ["longest-idle-agent", "round-robin"], 3, workers=1)


def test_simulate_document_follows_its_schema(summary_and_scenario):
    s, scn = summary_and_scenario
    doc = json.loads(json.dumps(simulate_document(s, scn, target=0.8), allow_nan=False))
    assert errors(doc, schema("simulate")) == []
    assert [q["queue"] for q in doc["queues"]] == ["a", "b"]
    assert [i["start"] for i in doc["intervals"]] == ["08:30", "09:00"] and doc["overall"]["end"] == "09:30"
    assert doc["overall"]["redials"]["mean"] > 0  # the scenario redials: the export carries them
    assert doc["overall"]["wait_p50_s"]["mean"] <= doc["overall"]["wait_p99_s"]["mean"]


def test_sweep_document_follows_its_schema(sweep_result):
    doc = json.loads(json.dumps(sweep_document(sweep_result, target=0.8, threshold_s=20, planned_replications=3),
                                allow_nan=False))
    assert errors(doc, schema("sweep")) == []
    base = [p for p in doc["points"] if p["strategy"] == "longest-idle-agent"]
    other = [p for p in doc["points"] if p["strategy"] == "round-robin"]
    assert all(p["delta_sl"] is None for p in base) and all(p["delta_sl"] is not None for p in other)


def test_the_validator_can_fail(summary_and_scenario):
    s, scn = summary_and_scenario
    doc = simulate_document(s, scn, target=0.8)
    for broken, what in ((lambda d: d.pop("queues"), "missing 'queues'"),
                         (lambda d: d.update(colour=1), "unexpected 'colour'"),
                         (lambda d: d["overall"].update(service_level={"mean": "high", "ci95": [0, 1]}), "expected"),
                         (lambda d: d["intervals"][0].update(start="8h30"), "does not match"),
                         (lambda d: d.update(partial="no"), "expected boolean")):
        bad = copy.deepcopy(doc)
        broken(bad)
        assert any(what in e for e in errors(bad, schema("simulate"))), what


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_simulate_csv_has_queues_clock_times_and_waits(summary_and_scenario):
    s, scn = summary_and_scenario
    text = simulate_csv(s, scn)
    rows = _rows(text)
    assert [r["scope"] for r in rows] == ["overall", "queue", "queue", "interval", "interval"]
    assert [r["queue"] for r in rows[1:3]] == ["a", "b"]
    assert [r["start"] for r in rows[3:]] == ["08:30", "09:00"] and rows[3]["start_s"] == "0.0"
    header = text.splitlines()[0].split(",")
    for col in ("wait_p90_s", "wait_p99_s_hi", "callbacks", "redials_lo", "service_level_lo"):
        assert col in header
    assert all(len(r) == len(header) for r in csv.reader(io.StringIO(text)))
    assert float(rows[0]["redials"]) == pytest.approx(s.redials.mean)


def test_sweep_csv_carries_the_paired_difference(sweep_result):
    rows = _rows(sweep_csv(sweep_result, target=0.8))
    rr9 = next(r for r in rows if r["strategy"] == "round-robin" and r["agents"] == "9")
    lia9 = next(p for p in sweep_result.points if p.strategy == "longest-idle-agent" and p.agents == 9)
    rrp9 = next(p for p in sweep_result.points if p.strategy == "round-robin" and p.agents == 9)
    diffs = [a.overall.service_level - b.overall.service_level for a, b in zip(rrp9.summary.runs, lia9.summary.runs)]
    assert float(rr9["delta_sl"]) == pytest.approx(sum(diffs) / len(diffs))
    assert float(rr9["delta_sl_lo"]) <= float(rr9["delta_sl"]) <= float(rr9["delta_sl_hi"])
    assert all(r["delta_sl"] == "" for r in rows if r["strategy"] == "longest-idle-agent")


@pytest.mark.parametrize(("df", "expected"), [(1, 12.706), (2, 4.303), (10, 2.228), (30, 2.042), (31, 2.040),
                                              (60, 2.000), (120, 1.980), (math.inf, 1.960)])
def test_t_quantile_matches_the_tables(df, expected):
    assert round(t_quantile(0.975, df), 3) == expected


def test_t_quantile_inverts_the_cdf_and_is_symmetric():
    for df in (1, 3, 7.5, 31, 200, 10_000):
        for p in (0.6, 0.9, 0.975, 0.9995):
            t = t_quantile(p, df)
            assert t_cdf(t, df) == pytest.approx(p, abs=1e-12)
            assert t_quantile(1 - p, df) == pytest.approx(-t)
    assert t_quantile(0.975, 31) < t_quantile(0.975, 30)  # beyond the old 30-df table the interval still narrows
    with pytest.raises(ValueError):
        t_quantile(1.0, 5)
    with pytest.raises(ValueError):
        t_quantile(0.9, 0)


def test_sweep_plot_is_in_percent_with_a_labelled_target_dodged_bars_and_the_paired_panel(sweep_result, tmp_path):
    from busyhour.sim.plot import plot_sweep

    fig = plot_sweep(sweep_result, tmp_path / "s.svg", target=0.85, threshold_s=15)
    sl_ax, ab_ax, delta_ax = fig.axes
    assert "%" in sl_ax.get_ylabel() and "%" in ab_ax.get_ylabel() and "ΔSL" in delta_ax.get_ylabel()
    target = [line for line in sl_ax.get_lines() if line.get_label() == "target 85% in 15 s"]
    assert target and target[0].get_ydata()[0] == 85
    assert list(delta_ax.get_xticks()) == [7, 9]  # integer agent ticks
    xs = {c.get_label(): c.lines[0].get_xdata() for c in sl_ax.containers}  # one errorbar per strategy
    assert set(xs) == {"longest-idle-agent", "round-robin"}
    assert all(a < b for a, b in zip(xs["longest-idle-agent"], xs["round-robin"]))  # dodged, not on top
    assert (tmp_path / "s.svg").stat().st_size > 1000


def test_summary_plot_has_clock_times_and_percent(summary_and_scenario, tmp_path):
    from busyhour.sim.plot import plot_summary

    s, scn = summary_and_scenario
    fig = plot_summary(s, tmp_path / "p.png", scn, target=0.8)
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["08:30", "09:00"]
    assert "%" in fig.axes[0].get_ylabel()
    assert any(line.get_label() == "target 80% in 20 s" for line in fig.axes[0].get_lines())


def test_meets_target_is_every_interval_at_target(sweep_result):
    from busyhour.sim.planning import meets_target

    for p in sweep_result.points:
        worst = min(i.service_level.mean for i in p.summary.intervals)
        assert meets_target(p, worst) and not meets_target(p, worst + 1e-9)
