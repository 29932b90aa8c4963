"""Bounds of ``busyhour erlang b|c|a``, ``trunks`` and ``staff``: refused before any work, one line, exit 2.

1. The table format prints at most MAX_TABLE_ROWS rows; more is refused before anything is
   computed, pointing to ``-f csv`` / ``-f json`` (which still take the full range).
2. A range whose estimated recursion work exceeds MAX_WORK_STEPS is refused before the work.
3. Ascending counts above the load share one Erlang B walk: results equal the per-count
   scalar functions bit for bit (so 100,000 counts near 10**9 run in about a second).
4. ``--sl`` echoes what was wrong with the value; ``--sl`` with ``--threshold-s``,
   ``--interval-min`` or ``--aht-s`` (erlang b) without ``--calls`` and ``--max-occupancy``
   without a target are refused rather than ignored.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from busyhour.cli import erlang_output
from busyhour.cli.erlang_output import MAX_TABLE_ROWS
from busyhour.erlang import carried_load, erlang_b, erlang_c, service_level, work

from erlang_cli_helpers import refused, run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "forecast_weekday.csv"


# ---- 1. rows of the table format ----

@pytest.mark.parametrize("args, option", [
    (["erlang", "c", "--calls", "100", "--aht-s", "180", "--agents", "1:100000"], "--agents 1:100000"),
    (["erlang", "c", "--load", "10", "--sl", "80/20", "--agents", f"1:{MAX_TABLE_ROWS + 1}"], "--agents"),
    (["erlang", "b", "--load", "10", "--servers", "1:100000"], "--servers 1:100000"),
    (["erlang", "b", "--load", "10", "--servers", "1:100000", "--recall", "0.5"], "--servers"),
    (["erlang", "a", "--load", "10", "--patience-s", "60", "--agents", "1:100000"], "--agents 1:100000"),
    (["trunks", "--lines", "1:100000"], "--lines 1:100000"),
])
def test_table_rows_refused_before_work(args, option, no_work):
    line = refused(run(*args))
    assert option in line and f"at most {MAX_TABLE_ROWS:,}" in line and "-f csv" in line


def test_table_rows_at_the_limit_print_and_csv_takes_more(monkeypatch):
    monkeypatch.setattr(erlang_output, "MAX_TABLE_ROWS", 40)  # the boundary, without laying out 10,000 rows
    r = run("erlang", "b", "--load", "10", "--servers", "1:40")
    assert r.exit_code == 0 and "│      40 │" in r.stdout
    assert "at most 40" in refused(run("erlang", "b", "--load", "10", "--servers", "1:41"))
    r = run("erlang", "c", "--load", "10", "--agents", "1:100000", "-f", "csv")
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 100_001


def test_staff_table_rows_refused_before_planning(tmp_path, no_work):
    fc = tmp_path / "long.csv"
    fc.write_text("interval_start,calls,aht_s,interval_min\n"
                  + "".join(f"2026-01-{1 + i // 1440:02d}T{i // 60 % 24:02d}:{i % 60:02d},5,180,1\n"
                            for i in range(MAX_TABLE_ROWS + 1)))
    line = refused(run("staff", str(fc), "--sl", "80/20"))
    assert "long.csv" in line and f"{MAX_TABLE_ROWS + 1:,} rows" in line and "-f json" in line


# ---- 2. work of a range ----

@pytest.mark.parametrize("args, option", [
    (["erlang", "b", "--load", "1e9", "--servers", "999900001:1000000000", "-f", "csv"], "--servers"),
    (["erlang", "b", "--load", "999999000", "--servers", "999900001:1000000000", "--recall", "0.5", "-f", "csv"],
     "--servers"),
    (["erlang", "a", "--load", "1e6", "--patience-s", "600", "--agents", "0:99999", "-f", "csv"], "--agents 0:99999"),
    (["trunks", "--lines", "999900001:1000000000", "-f", "json"], "--lines 999900001:1000000000"),
    (["trunks", "--lines", "1:100000", "--blocking", "1e-300", "-f", "csv"], "--lines 1:100000 at blocking 1e-300"),
])
def test_work_over_the_limit_refused_before_work(args, option, no_work):
    line = refused(run(*args))
    assert option in line and f"limit of {work.MAX_WORK_STEPS:.0e}" in line and "STEP" in line


def test_work_estimate_counts_a_shared_walk_once():
    near = np.arange(999_900_001, 1_000_000_001)
    assert work.erlang_c_steps(near, 998e6) < work.MAX_WORK_STEPS / 100
    above = np.arange(999_950_001, 1_000_000_001)  # above a load of 999.95e6 and short of where 1/B saturates
    ascending, descending = work.erlang_b_steps(above, 999.95e6), work.erlang_b_steps(above[::-1], 999.95e6)
    assert descending > 1000 * ascending  # descending: a fresh walk each


# ---- 3. the shared walk is exact ----

def test_range_near_the_top_runs_and_equals_the_scalar_functions():
    r = run("erlang", "c", "--load", "998000000", "--agents", "999900001:1000000000", "-f", "csv")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 100_000
    for row in rows[:3] + rows[-3:]:
        n = int(row["agents"])
        assert float(row["p_wait"]) == erlang_c(n, 998e6)
        assert float(row["service_level"]) == service_level(n, 998e6, 180, 20)


@pytest.mark.parametrize("load", [0.37, 10.0, 99.5, 1234.567, 5e4 + 0.25, 2e6, 9.99e8])
def test_shared_walk_is_bit_for_bit_the_fresh_walk(load):
    rng = np.random.default_rng(int(load))
    lo = int(load)
    ns = np.sort(np.concatenate([np.arange(max(0, lo - 20), lo + 400),
                                 rng.integers(lo, min(10**9, lo + 3 * 10**6), 60)]))
    for f in (erlang_b, carried_load, erlang_c):
        vector = f(ns, load)
        assert [float(x) for x in vector] == [f(int(n), load) for n in ns], f.__name__
    sl = service_level(ns, load, 180.0, 20.0)
    assert [float(x) for x in sl] == [service_level(int(n), load, 180.0, 20.0) for n in ns]
    assert np.all(np.diff(sl[ns > load]) >= 0)  # service level rises with agents


# ---- 4. --sl and options that would be ignored ----

@pytest.mark.parametrize("sl, needles", [
    ("1/20", ["'1/20'", "the fraction 1 (100%)", "0.01 for 1 %"]),
    ("100/20", ["'100/20'", "reads as 100 %", "below 100 %"]),
    ("0/20", ["'0/20'", "above 0"]),
    ("nan/20", ["not a number"]),
    ("80/-5", ["'80/-5'", "the seconds -5 must be a finite number >= 0"]),
])
@pytest.mark.parametrize("command", [["erlang", "c", "--load", "10"],
                                     ["erlang", "a", "--load", "10", "--patience-s", "60"],
                                     ["staff", "EXAMPLE"]])
def test_sl_message_says_what_was_wrong(command, sl, needles):
    args = [str(EXAMPLE) if a == "EXAMPLE" else a for a in command]
    line = refused(run(*args, "--sl", sl))
    assert "--sl" in line and all(n in line for n in needles), line


def test_sl_one_percent_as_a_fraction_is_valid():
    r = run("erlang", "c", "--load", "10", "--sl", "0.01/20", "-f", "json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["summary"]["required_agents"] == 11


@pytest.mark.parametrize("args, needles", [
    (["erlang", "c", "--load", "10", "--sl", "80/20", "--threshold-s", "30"], ["--sl 80/20", "--threshold-s 30"]),
    (["erlang", "a", "--load", "10", "--patience-s", "60", "--sl", "80/20", "--threshold-s", "20"],
     ["--sl 80/20", "--threshold-s 20"]),
    (["erlang", "c", "--load", "10", "--agents", "12", "--interval-min", "60"], ["--interval-min", "--calls"]),
    (["erlang", "a", "--load", "10", "--patience-s", "60", "--agents", "12", "--interval-min", "30"],
     ["--interval-min", "--calls"]),
    (["erlang", "b", "--load", "10", "--servers", "12", "--interval-min", "60"], ["--interval-min", "--calls"]),
    (["erlang", "b", "--load", "10", "--servers", "12", "--aht-s", "60"], ["--aht-s", "--calls"]),
    (["erlang", "c", "--load", "10", "--agents", "12", "--max-occupancy", "0.9"], ["--max-occupancy", "--sl"]),
])
def test_ignored_options_refused(args, needles, no_work):
    line = refused(run(*args))
    assert all(n in line for n in needles), line


def test_defaults_still_apply_when_the_options_are_absent():
    doc = json.loads(run("erlang", "c", "--calls", "100", "--aht-s", "180", "--agents", "11", "-f", "json").stdout)
    assert doc["rows"][0]["load_erl"] == 10.0  # --interval-min 30
    assert doc["rows"][0]["service_level"] == service_level(11, 10.0, 180, 20)  # --threshold-s 20
    r = run("erlang", "c", "--load", "10", "--agents", "11", "--threshold-s", "30", "-f", "json")
    assert json.loads(r.stdout)["rows"][0]["service_level"] == service_level(11, 10.0, 180, 30)
    r = run("erlang", "c", "--calls", "100", "--interval-min", "60", "--aht-s", "180", "--agents", "11", "-f", "json")
    assert json.loads(r.stdout)["rows"][0]["load_erl"] == 5.0
