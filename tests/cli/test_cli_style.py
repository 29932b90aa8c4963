"""The one CLI style (:mod:`busyhour.cli.common`): error lines, exit codes, --version, formats, paths.

Invariants checked:
1. every error is exactly one stderr line ``busyhour: error: …`` and never a traceback;
2. usage errors exit 2, failures 1, Ctrl-C 130; ``BUSYHOUR_DEBUG=1`` adds the traceback;
3. ``--version`` prints the installed version;
4. output paths are checked before any work: a directory, a path below a file, an unknown plot suffix are
   refused; missing folders are created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Optional

import pytest
import typer
from typer.testing import CliRunner

from busyhour.cli.common import (
    CliGroup, OutputFormat, check_output_path, fail, format_option, info, out_option, plot_option, write_output,
)
from busyhour.cli.main import app

runner = CliRunner()


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def assert_one_line_error(result, code: int, needle: str) -> None:
    lines = _error_lines(result.stderr)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("busyhour: error: "), lines
    assert needle in lines[0]
    assert "Traceback" not in result.output


def _toy_app(calls: list) -> typer.Typer:
    """A tiny app on the same root group, with commands that fail in each way."""
    toy = typer.Typer(cls=CliGroup, add_completion=False, pretty_exceptions_enable=False)

    @toy.command("boom")
    def boom() -> None:
        raise RuntimeError("disk on fire")

    @toy.command("ctrl-c")
    def ctrl_c() -> None:
        raise KeyboardInterrupt

    @toy.command("fail")
    def fail_cmd(code: int = 1) -> None:
        try:
            fail("no such queue 'x'", code)
        except Exception:  # fail() must not be swallowed by a broad except
            calls.append("swallowed")

    @toy.command("out")
    def out_cmd(fmt: OutputFormat = format_option(), out: Optional[Path] = out_option(suffixes=(".json",)),
                plot: Optional[Path] = plot_option()) -> None:
        calls.append("ran")
        info("status line")
        write_output(f"format={fmt.value}\n", out)

    return toy


def test_version():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0
    assert r.stdout.strip() == f"busyhour {version('busyhour')}"


@pytest.mark.parametrize("args, needle", [
    (["erlang", "c", "--lod", "3"], "No such option: --lod"),
    (["erlang", "c", "--load", "x", "--agents", "3"], "'--load'"),
    (["erlang", "c", "--load", "3", "--agents", "3", "-f", "yaml"], "'--format'"),
    (["nosuch"], "No such command 'nosuch'"),
])
def test_usage_errors_are_one_line_exit_2(args, needle):
    assert_one_line_error(runner.invoke(app, args), 2, needle)


def test_bare_group_shows_help():
    r = runner.invoke(app, ["erlang"])
    assert r.exit_code == 2 and "Usage" in r.output


def test_uncaught_exception_is_one_line_exit_1(monkeypatch):
    monkeypatch.delenv("BUSYHOUR_DEBUG", raising=False)
    assert_one_line_error(runner.invoke(_toy_app([]), ["boom"]), 1, "disk on fire (RuntimeError")


def test_debug_env_shows_traceback(monkeypatch):
    monkeypatch.setenv("BUSYHOUR_DEBUG", "1")
    r = runner.invoke(_toy_app([]), ["boom"])
    assert r.exit_code == 1 and "Traceback" in r.stderr and r.stderr.rstrip().splitlines()[-1].startswith(
        "busyhour: error: disk on fire")


def test_keyboard_interrupt_exits_130():
    assert runner.invoke(_toy_app([]), ["ctrl-c"]).exit_code == 130


@pytest.mark.parametrize("code", [1, 2])
def test_fail_is_one_line_and_not_swallowed(code):
    calls: list = []
    r = runner.invoke(_toy_app(calls), ["fail", "--code", str(code)])
    assert_one_line_error(r, code, "no such queue 'x'")
    assert calls == []


def test_format_out_and_info(tmp_path):
    calls: list = []
    toy = _toy_app(calls)
    r = runner.invoke(toy, ["out", "-f", "json"])
    assert r.exit_code == 0 and r.stdout == "format=json\n" and "status line" in r.stderr
    target = tmp_path / "r.json"
    r = runner.invoke(toy, ["out", "--format", "csv", "--out", str(target)])
    assert r.exit_code == 0 and r.stdout == "" and target.read_text() == "format=csv\n"
    assert f"written: {target}" in r.stderr


@pytest.mark.parametrize("args, needle", [
    (["--out", "{tmp}"], "is a directory"),
    (["--out", "{tmp}/file.txt/r.json"], "file.txt is not a folder"),
    (["--plot", "{tmp}/file.txt/deeper/x.png"], "file.txt is not a folder"),
    (["--out", "{tmp}/r.csv"], "must end in .json"),
    (["--plot", "{tmp}"], "is a directory"),
    (["--plot", "{tmp}/out.txt"], "'.txt' is not an image format"),
    (["--plot", "{tmp}/out"], "no file extension"),
])
def test_output_paths_refused_before_the_run(tmp_path, args, needle):
    (tmp_path / "file.txt").write_text("not a folder")
    calls: list = []
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = runner.invoke(_toy_app(calls), ["out", *args])
    assert_one_line_error(r, 2, needle)
    assert calls == []  # the command body never ran


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_a_folder_that_takes_no_new_file_is_refused_before_the_run():
    """/proc passes the permission checks for root (CI runs as root) but takes no new file: the run used to
    find out only when it wrote its results."""
    calls: list = []
    r = runner.invoke(_toy_app(calls), ["out", "--out", "/proc/busyhour-no-such-file.json"])
    assert_one_line_error(r, 2, "cannot create the file")
    assert calls == []


def test_checking_a_path_changes_nothing(tmp_path):
    new, old = tmp_path / "new.json", tmp_path / "old.json"
    old.write_text("kept")
    assert check_output_path(new) == new and not new.exists()  # made to try, then removed
    assert check_output_path(old) == old and old.read_text() == "kept"  # opened, not truncated


def test_missing_folders_are_created_before_the_run(tmp_path):
    calls: list = []
    target = tmp_path / "out" / "deeper" / "r.json"
    r = runner.invoke(_toy_app(calls), ["out", "--out", str(target), "--plot", str(tmp_path / "plots" / "p.svg")])
    assert r.exit_code == 0, r.output
    assert target.read_text() == "format=table\n" and (tmp_path / "plots").is_dir()


def test_check_output_path_accepts_good_paths(tmp_path):
    assert check_output_path(tmp_path / "a.png", kind="plot") == tmp_path / "a.png"
    assert check_output_path(tmp_path / "a.SVG", kind="plot").suffix == ".SVG"
    assert check_output_path(str(tmp_path / "x.json"), suffixes=("json",)) == tmp_path / "x.json"
    with pytest.raises(typer.BadParameter) as info_:
        check_output_path(tmp_path / "a.txt", kind="plot", option="--plot")
    assert info_.value.format_message().startswith("Invalid value for '--plot': ")


def test_console_script_has_no_traceback():
    """The real entry point (``main()``), in a subprocess: usage error and library failure."""
    env = {k: v for k, v in os.environ.items() if k != "BUSYHOUR_DEBUG"}
    code = "import sys; from busyhour.cli.main import main; sys.argv[0] = 'busyhour'; main()"
    p = subprocess.run([sys.executable, "-c", code, "erlang", "c", "--load", "3", "--agents", "x"],
                       capture_output=True, text=True, timeout=120, check=False, env=env)
    assert p.returncode == 2 and p.stdout == ""
    assert len(_error_lines(p.stderr)) == 1 and p.stderr.startswith("busyhour: error: ")


@pytest.mark.parametrize("command", [
    ["erlang", "b"], ["erlang", "c"], ["erlang", "a"], ["trunks"], ["staff"], ["bench", "erlang"], ["bench", "router"],
])
def test_every_erlang_and_bench_command_has_format_and_out(command):
    r = runner.invoke(app, [*command, "--help"], terminal_width=200)
    assert r.exit_code == 0
    assert "--format" in r.stdout and "-f" in r.stdout and "--out" in r.stdout
    bad = runner.invoke(app, [*command, "-f", "yaml"])
    assert_one_line_error(bad, 2, "'--format'")
