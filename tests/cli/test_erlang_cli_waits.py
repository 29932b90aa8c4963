"""Times given to ``busyhour erlang c|a`` and ``staff`` are bounded by a day (docs/erlang.md, "Limits").

1. ``--threshold-s``, the seconds of ``--sl``, ``--asa-s`` and ``--patience-s`` beyond 86,400 s, negative
   or not a number are refused before any work: exit 2, one line naming the option and the bound.
2. ``--patience-s inf`` (Erlang C) stays valid; a day itself is accepted.
3. ``erlang c`` prints what :func:`erlang_c_metrics` gives, which equals the single functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from busyhour.erlang import asa, erlang_c, occupancy, service_level

from erlang_cli_helpers import refused, run

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "forecast_weekday.csv")


BAD = ["86400.5", "1e6", "inf", "nan", "-1"]
COMMANDS = {
    "--threshold-s": [["erlang", "c", "--load", "10", "--agents", "12"],
                      ["erlang", "a", "--load", "10", "--patience-s", "60", "--agents", "12"]],
    "--asa-s": [["erlang", "c", "--load", "10"]],
    "--patience-s": [["erlang", "a", "--load", "10", "--agents", "12", "--threshold-s", "20"],
                     ["staff", EXAMPLE, "--sl", "80/20"]],
}
CASES = [(opt, i, value) for opt, cmds in COMMANDS.items() for i in range(len(cmds)) for value in BAD
         if not (opt == "--patience-s" and value == "inf")]  # inf patience is Erlang C (test below)


@pytest.mark.parametrize("option, i, value", CASES)
def test_time_beyond_a_day_or_not_a_number_refused_before_work(option, i, value, no_reading):
    line = refused(run(*COMMANDS[option][i], option, value))
    assert f"error: {option} must be " in line and "86,400 s (a day)" in line, line


@pytest.mark.parametrize("command", [["erlang", "c", "--load", "10"],
                                     ["erlang", "a", "--load", "10", "--patience-s", "60"],
                                     ["staff", EXAMPLE]])
@pytest.mark.parametrize("seconds", ["86400.5", "1e6", "inf", "nan"])
def test_sl_seconds_beyond_a_day_refused_before_work(command, seconds, no_reading):
    line = refused(run(*command, "--sl", f"80/{seconds}"))
    assert "--sl" in line and f"the seconds {seconds} must be" in line and "86,400 (a day)" in line, line


def test_asa_target_zero_refused():
    line = refused(run("erlang", "c", "--load", "10", "--asa-s", "0"))
    assert "--asa-s must be above 0 and at most 86,400 s" in line


def test_a_day_is_accepted_and_inf_patience_is_erlang_c():
    doc = json.loads(run("erlang", "c", "--load", "10", "--agents", "11", "--threshold-s", "86400", "-f",
                         "json").stdout)
    assert doc["rows"][0]["service_level"] == service_level(11, 10.0, 180, 86_400)
    r = run("erlang", "c", "--load", "10", "--sl", "80/86400", "--asa-s", "86400", "-f", "json")
    assert r.exit_code == 0, r.output
    r = run("erlang", "a", "--load", "10", "--agents", "12", "--patience-s", "inf", "-f", "json")
    assert r.exit_code == 0 and json.loads(r.stdout)["rows"][0]["p_wait"] == erlang_c(12, 10.0)
    r = run("erlang", "a", "--load", "10", "--agents", "12", "--patience-s", "86400", "--threshold-s", "86400",
            "-f", "json")
    assert r.exit_code == 0, r.output
    r = run("staff", EXAMPLE, "--sl", "80/20", "--patience-s", "86400", "-f", "csv")
    assert r.exit_code == 0, r.output


def test_erlang_c_rows_equal_the_single_functions():
    ns = [3, 40, 11, 12, 10, 0, 13]  # not ascending, and at or below the load
    doc = json.loads(run("erlang", "c", "--load", "10", "--aht-s", "240", "--threshold-s", "15", "--agents",
                         ",".join(map(str, ns)), "-f", "json").stdout)
    for row, n in zip(doc["rows"], ns, strict=True):
        assert row["p_wait"] == erlang_c(n, 10.0) and row["service_level"] == service_level(n, 10.0, 240, 15)
        assert row["asa_s"] == (None if n <= 10 else asa(n, 10.0, 240)) and row["occupancy"] == occupancy(n, 10.0)
