"""``busyhour bench sip``: bad input is refused in one line before anything starts; the run's limits hold."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from busyhour.bench import sip_bench
from busyhour.cli.main import app

runner = CliRunner()


def one_line_error(result, code: int, needle: str) -> None:
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert result.exit_code == code, result.output
    assert len(lines) == 1 and lines[0].startswith("busyhour: error: ") and needle in lines[0], lines


@pytest.fixture(autouse=True)
def no_run(monkeypatch):
    """These tests must be refused before anything starts."""
    def refuse(**kw):
        raise AssertionError("the bench started")
    monkeypatch.setattr(sip_bench, "run", refuse)


def test_json_path_checked_first(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    one_line_error(runner.invoke(app, ["bench", "sip", "--json", str(tmp_path)]), 2, "is a directory")
    one_line_error(runner.invoke(app, ["bench", "sip", "--json", str(tmp_path / "file.txt" / "x.json")]), 2,
                   "not a folder")
    one_line_error(runner.invoke(app, ["bench", "sip", "--json", str(tmp_path / "x.txt")]), 2, ".json")


def test_bad_fsync_policy():
    one_line_error(runner.invoke(app, ["bench", "sip", "--fsync", "sometimes"]), 2, "--fsync")


@pytest.mark.parametrize("args", [["--agents", "0"], ["--step-s", "0.5"], ["--max-rate", "9000"]])
def test_out_of_range_options_are_usage_errors(args):
    result = runner.invoke(app, ["bench", "sip", *args])
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.mark.parametrize("kw, needle", [({"agents": 0}, "agents"), ({"step_s": 100.0}, "step_s"),
                                        ({"max_rate": 0}, "max_rate"), ({"talk_ms": -1}, "talk_ms")])
def test_run_checks_limits_before_starting(kw, needle, monkeypatch):
    monkeypatch.undo()
    monkeypatch.setattr(sip_bench, "SipStack", None)      # a check that passed would fail on this
    with pytest.raises(ValueError, match=needle):
        sip_bench.run(**kw)


def test_router_config_lists_every_agent():
    text = sip_bench.router_toml(3, ring_timeout_s=7.0)
    assert text.count("[[agents]]") == 3 and 'members = ["g0", "g1", "g2"]' in text and "ring_timeout_s = 7.0" in text
