"""Messages that misled and options that were silently ignored (a bad-input audit of the command line): each case
is now one error line that names the option or file, exit 2 (docs/cli.md), before any work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_import_cli import one_error_line, run

from busyhour.sim.scenario import ScenarioError, load_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUSY = EXAMPLES / "busy_hour.toml"


@pytest.mark.parametrize("text", ["nan", "NaN", "-nan"])
def test_nan_for_a_bounded_number_says_it_is_not_a_number(text):
    """typer's range check called NaN "less than or equal to 3600", as if it were only too large."""
    line = one_error_line(run("server", "reload", "-c", BUSY, "--timeout-s", text), 2)
    assert f"'--timeout-s': not a number: '{text}'" in line
    line = one_error_line(run("bench", "router", "--max-seconds", text), 2)
    assert "'--max-seconds': not a number" in line


def test_an_out_of_range_number_still_names_the_range():
    line = one_error_line(run("server", "reload", "-c", BUSY, "--timeout-s", "5000"), 2)
    assert "less than or equal to 3600" in line


@pytest.mark.parametrize("args", [
    ["erlang", "c", "--agents", "5:7", "--load", "4", "--out", "{d}/x.json/"],
    ["simulate", str(BUSY), "-r", "1", "--plot", "{d}/p.png/"],
])
def test_an_output_path_ending_in_a_slash_is_refused_not_stripped(tmp_path, args):
    """typer's Path dropped the slash: ``--out x.json/`` wrote a file ``x.json``."""
    line = one_error_line(run(*[a.format(d=tmp_path) for a in args]), 2)
    assert "ends in a slash, so it names a folder" in line
    assert list(tmp_path.iterdir()) == []


def test_a_deprecated_output_flag_with_another_format_is_refused(tmp_path):
    """``sweep --csv a.csv -f json`` wrote CSV and ignored ``-f json``."""
    line = one_error_line(run("sweep", BUSY, "--agents", "60", "-r", "1", "--csv", tmp_path / "a.csv", "-f", "json"), 2)
    assert "--csv FILE writes csv; it cannot be combined with --format json" in line
    assert not (tmp_path / "a.csv").exists()


def test_demo_router_refuses_the_options_it_would_ignore(tmp_path):
    line = one_error_line(run("demo", "--router", "-r", "5", "--out", tmp_path / "x.json"), 2)
    assert "takes no options (got --replications, --out)" in line
    assert not (tmp_path / "x.json").exists()


def test_an_event_log_that_cannot_be_written_is_named(tmp_path):
    full = Path("/dev/full")
    if not full.exists():
        pytest.skip("no /dev/full on this system")
    r = run("simulate", BUSY, "-r", "1", "--event-log", full)
    lines = [x for x in r.stderr.splitlines() if x.strip()]  # a first run says it compiles, first
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    errors = [x for x in lines if x.startswith("busyhour: error: ")]
    assert errors == ["busyhour: error: --event-log /dev/full: cannot write: No space left on device"], lines


def _scenario(tmp_path: Path, old: str, new: str) -> Path:
    text = BUSY.read_text()
    assert old in text
    p = tmp_path / "s.toml"
    p.write_text(text.replace(old, new, 1))
    return p


@pytest.mark.parametrize("old, new, key", [
    ("seed = 1", "seed = 1" + "0" * 300, "seed"),
    ("agents = 36", "agents = -1" + "0" * 300, "teams[0].agents"),
    ("priority = 1", "priority = 1" + "0" * 300, "priority"),
])
def test_a_huge_integer_is_described_not_printed(tmp_path, old, new, key):
    with pytest.raises(ScenarioError, match=re.escape(key) + r".*\(got an integer of \d+ bits\)") as info:
        load_scenario(_scenario(tmp_path, old, new))
    assert len(str(info.value)) < 200


def test_empirical_durations_are_bounded(tmp_path):
    (tmp_path / "talk.csv").write_text("talk_s\n120\n1e308\n")
    p = _scenario(tmp_path, 'handle_time = { dist = "gamma", mean_s = 210, cv = 0.7 }',
                  'handle_time = { dist = "empirical", csv = "talk.csv" }')
    with pytest.raises(ScenarioError, match=r"talk.csv:3: durations must be 0 to 86400 s \(got 1e\+308\)"):
        load_scenario(p)
