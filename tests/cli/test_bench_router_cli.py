"""``busyhour bench router`` end to end, small: every engine's row, as JSON and as the table."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from busyhour.cli.main import app

SMALL = ["bench", "router", "--workload", "100", "--lifecycles", "1000", "--max-seconds", "1", "--backlog", "0"]


def test_every_engine_reports_its_rate_and_its_cpu_per_lifecycle():
    r = CliRunner().invoke(app, SMALL + ["--engine", "all", "-f", "json"])
    assert r.exit_code == 0, r.output
    runs = json.loads(r.stdout)["runs"]
    assert [x["engine"] for x in runs] == ["python", "per-call", "compiled"]
    for x in runs:
        assert x["lifecycles"] >= 1000 or x["seconds"] >= 1.0
        # CPU time over the timed lifecycles: positive, and no more than the two cores could give in the wall time
        assert 0 < x["cpu_us_per_lifecycle"] <= 2 * x["seconds"] * 1e6 / x["lifecycles"] + 100, x
        # the compiled run's time inside Router.submit: part of its wall time (the driver's work is the rest)
        if x["engine"] == "compiled":
            assert 0 < x["submit_us_per_lifecycle"] < x["seconds"] * 1e6 / x["lifecycles"], x
        else:
            assert x["submit_us_per_lifecycle"] == 0.0, x


def test_the_table_has_the_cpu_column():
    r = CliRunner().invoke(app, SMALL + ["--engine", "compiled"])
    assert r.exit_code == 0, r.output
    assert "CPU µs per" in r.stdout and "lifecycles/s" in r.stdout and "compiled" in r.stdout
