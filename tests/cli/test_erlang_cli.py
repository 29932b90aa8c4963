"""``busyhour erlang b|c|a``, ``staff``, ``trunks`` and ``bench erlang`` through typer's CliRunner.

The numbers asserted come from the library functions (tested on their own),
so these tests check the wiring: options, formats, exit codes, messages.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from busyhour.cli.main import app
from busyhour.erlang import agents_for_erlang_a, erlang_b, load_for_blocking, service_level, trunks_for_blocking

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "forecast_weekday.csv"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_erlang_c_required_agents_json():
    r = run("erlang", "c", "--load", "10", "--aht-s", "180", "--sl", "80/20", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["summary"]["required agents"] == 14
    by_n = {row["agents"]: row for row in doc["rows"]}
    assert by_n[14]["service_level"] == service_level(14, 10.0, 180, 20)
    assert by_n[13]["service_level"] < 0.8 <= by_n[14]["service_level"]


def test_erlang_c_what_if_table_from_calls():
    r = run("erlang", "c", "--calls", "100", "--interval-min", "30", "--aht-s", "180", "--agents", "11:15")
    assert r.exit_code == 0, r.output
    assert "88.84%" in r.stdout and "0.6821" in r.stdout
    r = run("erlang", "c", "--load", "5", "--agents", "3,4,9", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["agents"] for row in rows] == ["3", "4", "9"]
    assert rows[0]["asa_s"] == "inf" and rows[0]["service_level"] == "0.0"


def test_erlang_b_and_extended():
    r = run("erlang", "b", "--servers", "1,2", "--load", "1", "-f", "json")
    assert [row["blocking"] for row in json.loads(r.stdout)["rows"]] == [0.5, erlang_b(2, 1.0)]
    r = run("erlang", "b", "--servers", "10", "--load", "8", "--recall", "0.5", "-f", "json")
    row = json.loads(r.stdout)["rows"][0]
    assert row["load_erl"] > 8.0 and row["blocking"] > erlang_b(10, 8.0)


def test_erlang_a_required_agents():
    r = run("erlang", "a", "--load", "10", "--aht-s", "180", "--patience-s", "120", "--sl", "80/20", "-f", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["summary"]["required agents"] == agents_for_erlang_a(10.0, 180, 120, 20, target_sl=0.8)
    assert {"p_abandon", "service_level_of_answered", "mean_wait_s"} <= set(doc["rows"][0])


def test_trunks_both_ways():
    r = run("trunks", "--load", "120", "--blocking", "0.01", "-f", "json")
    assert json.loads(r.stdout)["rows"][0]["lines"] == trunks_for_blocking(120.0, 0.01) == 138
    r = run("trunks", "--lines", "130", "--blocking", "0.01", "-f", "json")
    row = json.loads(r.stdout)["rows"][0]
    assert row["offered_erl"] == load_for_blocking(130, 0.01)
    assert row["carried_erl"] == pytest.approx(row["offered_erl"] * 0.99)


def test_staff_table_csv_json_and_plot(tmp_path):
    r = run("staff", str(EXAMPLE), "--sl", "80/20", "--shrinkage", "0.3")
    assert r.exit_code == 0, r.output
    assert "peak" in r.stdout and "10:30" in r.stdout
    r = run("staff", str(EXAMPLE), "--sl", "80/20", "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 24 and rows[0]["interval_start"] == "08:00"
    assert all(float(row["service_level"]) >= 0.8 for row in rows)
    png = tmp_path / "staffing.png"
    r = run("staff", str(EXAMPLE), "--sl", "80/20", "--patience-s", "150", "--max-occupancy", "0.9",
            "--plot", str(png), "-f", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["summary"]["model"] == "erlang_a" and doc["summary"]["p_abandon"] > 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "args, message",
    [
        (["erlang", "c", "--load", "-3", "--agents", "4"], "--load must be finite and >= 0"),
        (["erlang", "c", "--load", "3", "--aht-s", "0", "--agents", "4"], "--aht-s must be"),
        (["erlang", "c", "--load", "3", "--sl", "80-20"], "expected PERCENT/SECONDS"),
        (["erlang", "c", "--load", "3", "--agents", "a:b"], "expected N, FIRST:LAST"),
        (["erlang", "c", "--load", "3"], "give --agents"),
        (["erlang", "c", "--load", "3", "--calls", "9", "--agents", "4"], "exactly one of --load"),
        (["erlang", "a", "--load", "3", "--patience-s", "-1", "--agents", "4"], "--patience-s must be"),
        (["trunks", "--load", "5", "--blocking", "1.5"], "--blocking must be"),
        (["staff", "missing.csv", "--sl", "80/20"], "missing.csv: cannot read"),
        (["staff", "EXAMPLE", "--sl", "80/20", "--shrinkage", "1"], "--shrinkage must be"),
    ],
)
def test_bad_input_exits_2_with_message(args, message):
    args = [str(EXAMPLE) if a == "EXAMPLE" else a for a in args]
    r = run(*args)
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output


def test_bad_forecast_names_line_and_column(tmp_path):
    bad = tmp_path / "forecast.csv"
    bad.write_text("interval_start,calls,aht_s\n08:00,10,200\n08:30,abc,200\n")
    r = run("staff", str(bad), "--sl", "80/20")
    assert r.exit_code == 2
    assert "forecast.csv line 3, column calls: 'abc' is not a number" in r.output


def test_bench_erlang_json(tmp_path, monkeypatch):
    import busyhour.bench.erlang_bench as eb

    monkeypatch.setattr(eb, "sl_workload", lambda size=10_000, f=eb.sl_workload: f(200))
    out = tmp_path / "bench.json"
    r = run("bench", "erlang", "--json", str(out), "--repeats", "3", "--no-peers")
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["sl_evals_10k_ms"] > 0 and doc["staffing_day_96_ms"] > 0


def test_subprocess_smoke():
    cmd = [sys.executable, "-m", "busyhour.cli.main", "erlang", "c", "--load", "10", "--aht-s", "180",
           "--agents", "14", "--format", "csv"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    row = next(csv.DictReader(io.StringIO(p.stdout)))
    assert float(row["service_level"]) == service_level(14, 10.0, 180, 20)

