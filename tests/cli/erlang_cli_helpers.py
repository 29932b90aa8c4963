"""Shared by the Erlang command tests: run the CLI in-process and read a one-line refusal (the fixtures ``no_work`` and
``no_reading``, which forbid any evaluation, are in conftest.py)."""

from __future__ import annotations

from typer.testing import CliRunner

from busyhour.cli.main import app

runner = CliRunner()
#: Every evaluation the Erlang commands can start.
WORK = ("erlang_b", "erlang_c", "erlang_c_metrics", "erlang_a", "carried_load", "service_level", "asa",
        "load_for_blocking", "extended_erlang_b", "plan_staffing", "agents_for_service_level", "agents_for_asa",
        "agents_for_erlang_a")


def run(*args: str):
    return runner.invoke(app, list(args))


def refused(r) -> str:
    """The one error line of a refusal (exit 2, nothing on stdout, no traceback)."""
    assert r.exit_code == 2, r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("busyhour: error: "), r.stderr
    assert r.stdout == "" and "Traceback" not in r.output
    return lines[0]
