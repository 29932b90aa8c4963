"""``busyhour erlang b|c|a``, ``staff``, ``trunks`` and ``bench erlang`` through typer's CliRunner.

The numbers asserted come from the library functions (tested on their own),
so these tests check the wiring: options, formats, exit codes, messages.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from busyhour.cli.main import app
from busyhour.erlang import (
    agents_for_erlang_a, agents_for_service_level, erlang_b, load_for_blocking, service_level, trunks_for_blocking,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "forecast_weekday.csv"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args))


def test_erlang_c_required_agents_json():
    r = run("erlang", "c", "--load", "10", "--aht-s", "180", "--sl", "80/20", "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["summary"]["required_agents"] == 14
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
    assert doc["summary"]["required_agents"] == agents_for_erlang_a(10.0, 180, 120, 20, target_sl=0.8)
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



# ---- probes: huge inputs, lenient options, output paths (each failed before the limits existed) ----

def one_error_line(r) -> str:
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("busyhour: error: "), r.stderr
    assert "Traceback" not in r.output and "np." not in r.output
    return lines[0]


@pytest.mark.parametrize("args, needle", [
    (["erlang", "c", "--load", "1e20", "--sl", "80/20"], "--load must be below 1e+09 Erlangs"),
    (["erlang", "c", "--load", "1e16", "--sl", "80/20"], "--load must be below 1e+09 Erlangs"),
    (["erlang", "c", "--load", "1e300", "--asa-s", "10"], "--load must be below 1e+09 Erlangs"),
    (["erlang", "c", "--load", "1e9", "--sl", "80/20"], "--load must be below 1e+09 Erlangs"),
    (["erlang", "a", "--load", "1e300", "--patience-s", "60", "--sl", "80/20"], "--load must be below"),
    (["trunks", "--load", "1e300"], "--load must be below 1e+09 Erlangs"),
    (["trunks", "--load", "1e17"], "--load must be below 1e+09 Erlangs"),
    (["erlang", "c", "--calls", "1e12", "--aht-s", "1e6", "--sl", "80/20"], "the load (--calls x --aht-s"),
    (["erlang", "c", "--load", "10", "--agents", "0:1000000000"], "holds 1,000,000,001 counts"),
    (["erlang", "b", "--load", "10", "--servers", "0:10000000000:2"], "counts"),
    (["erlang", "c", "--load", "10", "--agents", "2000000000"], "0 to 1,000,000,000"),
    (["erlang", "c", "--load", "10", "--agents", ""], "expected N, FIRST:LAST"),
    (["erlang", "b", "--servers", "10", "--load", "5", "--recall", "-0.1"], "--recall must be"),
    (["erlang", "b", "--servers", "10", "--load", "5", "--recall", "nan"], "--recall must be"),
    (["erlang", "b", "--servers", "10", "--load", "5", "--recall", "-inf"], "--recall must be"),
    (["erlang", "b", "--servers", "10", "--load", "5", "--recall", "1"], "--recall must be"),
    (["erlang", "c", "--calls", "10", "--aht-s", "180", "--interval-min", "1e-300", "--agents", "3"],
     "--interval-min must be between 1 and 10080"),
    (["staff", "/dev/zero", "--sl", "80/20"], "larger than 50 MB"),
])
def test_probe_refused_fast_in_one_line(args, needle):
    t0 = time.perf_counter()
    r = run(*args)
    elapsed = time.perf_counter() - t0
    assert r.exit_code == 2, r.output
    line = one_error_line(r)
    assert needle in line
    assert "--agents" not in line or "--agents" in args
    assert elapsed < 5.0


def test_erlang_b_carried_load_under_huge_load():
    doc = json.loads(run("erlang", "b", "--servers", "10", "--load", "1e300", "-f", "json").stdout)
    assert doc["rows"][0]["carried_erl"] == pytest.approx(10.0, rel=1e-12)
    doc = json.loads(run("trunks", "--lines", "10", "--blocking", "0.999999", "-f", "json").stdout)
    assert doc["rows"][0]["carried_erl"] == pytest.approx(doc["rows"][0]["offered_erl"] * 1e-6, rel=1e-6)


def _keys(doc) -> set[str]:
    if isinstance(doc, dict):
        return set(doc) | set().union(*(_keys(v) for v in doc.values()))
    if isinstance(doc, list):
        return set().union(*(_keys(v) for v in doc)) if doc else set()
    return set()


@pytest.mark.parametrize("args", [
    ["erlang", "b", "--servers", "5:7", "--load", "4"],
    ["erlang", "b", "--servers", "5", "--load", "4", "--recall", "0.3"],
    ["erlang", "c", "--load", "10", "--sl", "80/20"],
    ["erlang", "c", "--load", "10", "--asa-s", "15", "--agents", "12:14"],
    ["erlang", "a", "--load", "10", "--patience-s", "120", "--sl", "80/20"],
    ["trunks", "--load", "20"],
    ["staff", "EXAMPLE", "--sl", "80/20"],
])
def test_json_keys_are_snake_case_and_csv_has_the_answer(args):
    args = [str(EXAMPLE) if a == "EXAMPLE" else a for a in args]
    r = run(*args, "-f", "json")
    assert r.exit_code == 0, r.output
    bad = [k for k in _keys(json.loads(r.stdout)) if not re.fullmatch(r"[a-z][a-z0-9_]*", k)]
    assert bad == []
    rows = list(csv.DictReader(io.StringIO(run(*args, "-f", "csv").stdout)))
    assert rows and all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in rows[0])
    if "--sl" in args and args[0] == "erlang":
        need = json.loads(r.stdout)["summary"]["required_agents"]
        assert {int(row["required_agents"]) for row in rows} == {need}


def test_required_agents_in_csv_matches_the_library():
    rows = list(csv.DictReader(io.StringIO(run("erlang", "c", "--load", "10", "--sl", "80/20", "-f", "csv").stdout)))
    assert int(rows[0]["required_agents"]) == agents_for_service_level(10.0, 180, 20, 0.8) == 14


def test_out_writes_the_file_and_stdout_stays_empty(tmp_path):
    out = tmp_path / "new" / "c.json"
    r = run("erlang", "c", "--load", "10", "--sl", "80/20", "-f", "json", "--out", str(out))
    assert r.exit_code == 0 and r.stdout == "" and f"written: {out}" in r.stderr
    assert json.loads(out.read_text())["summary"]["required_agents"] == 14
    table = tmp_path / "c.txt"
    assert run("erlang", "c", "--load", "10", "--sl", "80/20", "--out", str(table)).exit_code == 0
    assert "required agents  14" in table.read_text()


@pytest.mark.parametrize("plot, needle", [("DIR", "is a directory"), ("out.txt", "'.txt' is not an image format")])
def test_staff_plot_path_checked_before_the_run(tmp_path, plot, needle):
    target = tmp_path if plot == "DIR" else tmp_path / plot
    r = run("staff", str(EXAMPLE), "--sl", "80/20", "--plot", str(target))
    assert r.exit_code == 2 and r.stdout == ""  # refused before the plan was computed or printed
    assert needle in one_error_line(r)
    assert not (tmp_path / "out.txt").exists() and not Path(f"{tmp_path}.png").exists()


def test_staff_plot_status_on_stderr(tmp_path):
    png = tmp_path / "plan.png"
    r = run("staff", str(EXAMPLE), "--sl", "80/20", "-f", "csv", "--plot", str(png))
    assert r.exit_code == 0 and f"plot written: {png}" in r.stderr and "plot" not in r.stdout
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("text, needle", [
    ("interval_start,calls,aht_s\n2026-03-02T08:00,10,200\n2026-03-02T08:30+01:00,10,200\n", "with a UTC offset"),
    ("interval_start,calls,aht_s\n08:00,10,200\n2026-03-02T08:30,10,200\n", "use one form throughout"),
    ("interval_start,calls,aht_s,interval_min\n08:00,10,200,60\n08:30,10,200,30\n", "before the previous interval"),
    ("interval_start,calls,aht_s,interval_min\n08:00,10,200,1e-300\n", "interval_min: '1e-300' must be between"),
    ("interval_start,calls,aht_s\n08:00,1e300,200\n08:30,10,200\n", "load of interval 08:00"),
    ("interval_start,calls,aht_s\n08:00,10,200\n24:30,10,200\n", "is not HH:MM"),
])
def test_staff_refuses_inconsistent_forecasts(tmp_path, text, needle):
    bad = tmp_path / "forecast.csv"
    bad.write_text(text)
    r = run("staff", str(bad), "--sl", "80/20")
    assert r.exit_code == 2
    assert needle in one_error_line(r)


def test_bench_paths_checked_before_the_run(tmp_path, monkeypatch):
    import busyhour.bench.erlang_bench as eb

    ran: list = []
    monkeypatch.setattr(eb, "run", lambda **kw: ran.append(kw) or {"sl_evals_10k_ms": 1.0})
    for args in (["bench", "erlang", "--json", str(tmp_path)], ["bench", "erlang", "--out", str(tmp_path)],
                 ["bench", "router", "--json", str(tmp_path)]):
        r = run(*args)
        assert r.exit_code == 2 and "is a directory" in one_error_line(r)
    assert ran == []
    out = tmp_path / "fresh" / "x.json"  # a missing folder is created, as in a fresh clone
    r = run("bench", "erlang", "--json", str(out), "-f", "csv")
    assert r.exit_code == 0 and json.loads(out.read_text()) == {"sl_evals_10k_ms": 1.0}
    assert r.stdout == "key,value\nsl_evals_10k_ms,1.0\n"


VALUES = st.sampled_from(["0", "5e-324", "1e-300", "0.5", "10", "1e9", "1e16", "1e300", "1e400", "inf", "-inf", "nan",
                          "-1", "true", "abc", "", "0:1000000000", "3:5", "1,2,3", "80/20", "100/20", "0/0", "10**9"])
COMMANDS = {
    "erlang b": (["erlang", "b"], ["--servers", "--load", "--recall"]),
    "erlang c sl": (["erlang", "c"], ["--load", "--aht-s", "--sl"]),
    "erlang c asa": (["erlang", "c"], ["--calls", "--aht-s", "--interval-min", "--asa-s", "--max-occupancy"]),
    "erlang c what-if": (["erlang", "c"], ["--load", "--threshold-s", "--agents"]),
    "erlang a": (["erlang", "a"], ["--load", "--patience-s", "--agents", "--max-abandon"]),
    "trunks load": (["trunks"], ["--load", "--blocking"]),
    "trunks lines": (["trunks"], ["--lines", "--blocking"]),
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.sampled_from(sorted(COMMANDS)), data=st.data())
def test_cli_extreme_values_answer_or_refuse_in_one_line(which, data):
    """Any value in any option: exit 0 with output, or exit 2 with one error line; never 1, a traceback or a hang."""
    command, options = COMMANDS[which]
    args = [*command]
    for opt in options:
        args += [opt, data.draw(VALUES, label=opt)]
    t0 = time.perf_counter()
    r = run(*args)
    assert time.perf_counter() - t0 < 10.0, args
    assert r.exit_code in (0, 2), (args, r.output)
    if r.exit_code == 0:
        assert r.stdout.strip() and not r.stderr.strip()
    else:
        one_error_line(r)
