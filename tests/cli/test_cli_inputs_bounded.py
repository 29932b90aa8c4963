"""Inputs that ran a command out of memory, hung it, or had it overwrite its own input (a bad-input audit of the
command line): each is refused before the work, in one line, exit 2 (docs/cli.md)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_import_cli import one_error_line, run

from busyhour.adapters.importers import SourceError, import_asterisk
from busyhour.adapters.importers.asterisk_conf import MAX_TEMPLATE_DEPTH
from busyhour.sim.limits import MAX_AGENT_PERIODS, MAX_PERIODS
from busyhour.sim.scenario import ScenarioError, parse_scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _chain(n: int) -> str:
    """Templates t0 <- t1 <- … <- t(n-1), and a queue inheriting the last: n levels."""
    return "[t0](!)\nweight=1\n" + "".join(f"[t{i}](!,t{i - 1})\nweight=1\n" for i in range(1, n)) + f"[q](t{n - 1})\n"


def test_template_chains_deeper_than_the_limit_are_refused_however_long(tmp_path):
    f = tmp_path / "queues.conf"
    f.write_text(_chain(MAX_TEMPLATE_DEPTH))
    assert import_asterisk(f).queues == 1  # the queue inherits through MAX_TEMPLATE_DEPTH levels: the limit
    for n in (MAX_TEMPLATE_DEPTH + 1, 20_000):  # 20,000 used to take 2.7 GB (each level copied its chain)
        f.write_text(_chain(n))
        with pytest.raises(SourceError, match=f"templates nested deeper than {MAX_TEMPLATE_DEPTH}"):
            import_asterisk(f)


def test_templates_that_expand_past_a_million_options_are_refused(tmp_path):
    """Each level names the one before 40 times: 40^k copies of t0's option at level k."""
    f = tmp_path / "queues.conf"
    f.write_text("[t0](!)\nweight=1\n" + "".join(f"[t{i}](!,{','.join([f't{i - 1}'] * 40)})\n" for i in range(1, 6))
                 + "[q](t5)\n")
    with pytest.raises(SourceError, match="expand to more than 1,000,000 options"):
        import_asterisk(f)


def test_an_imported_name_past_the_configuration_limits_is_a_usage_error_naming_the_file(tmp_path):
    f = tmp_path / "queues.conf"
    f.write_text("[q]\nmember => PJSIP/" + "a" * 300 + "\n")
    line = one_error_line(run("import", "asterisk", f), 2)
    assert "queues.conf: not a configuration busyhour takes: agents[0].id: an agent id is at most 128 bytes" in line


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this system")
@pytest.mark.parametrize("args", [("import", "asterisk"), ("import", "freeswitch"), ("staff",)])
def test_a_named_pipe_as_input_is_refused_not_waited_on(tmp_path, args):
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    extra = ("--sl", "80/20") if args == ("staff",) else ()
    line = one_error_line(run(*args, fifo, *extra), 2)
    assert "in.fifo: is a named pipe, not a regular file" in line


@pytest.mark.parametrize("make_args", [
    lambda d: ("simulate", d / "s.toml", "-r", "2", "-f", "json", "--out", d / "s.toml"),
    lambda d: ("simulate", d / "s.toml", "-r", "2", "--out", d / "x.png", "--plot", d / "x.png"),
    lambda d: ("simulate", d / "link.toml", "-r", "2", "--out", d / "s.toml"),  # through a symlink
    lambda d: ("sweep", d / "s.toml", "--agents", "5:6", "--out", d / "x.png", "--plot", d / "x.png"),
    lambda d: ("import", "asterisk", d / "q.conf", "--out", d / "q.conf"),
    lambda d: ("demo", "--scenario", d / "s.toml", "--out", d / "s.toml"),
])
def test_an_output_naming_an_input_or_another_output_is_refused_before_the_run(tmp_path, make_args):
    shutil.copy(EXAMPLES / "busy_hour.toml", tmp_path / "s.toml")
    (tmp_path / "link.toml").symlink_to(tmp_path / "s.toml")
    (tmp_path / "q.conf").write_text("[q]\nmember => PJSIP/1\n")
    before = (tmp_path / "s.toml").read_bytes()
    line = one_error_line(run(*make_args(tmp_path)), 2)
    assert "names the same file" in line
    assert (tmp_path / "s.toml").read_bytes() == before and not (tmp_path / "x.png").exists()


def _team(**kw) -> dict:
    return {"name": "t", "agents": 10, "skills": {"s": 1}, **kw}


def test_shift_and_break_periods_are_bounded_before_the_run():
    raw = {"horizon_s": 3600.0, "interval_s": 900.0,
           "queues": [{"name": "q", "skills": {"s": 1}, "calls_per_interval": [10.0] * 4,
                       "handle_time": {"dist": "exponential", "mean_s": 180.0}}]}
    many = [{"start_s": float(k), "duration_s": 0.5} for k in range(MAX_PERIODS + 1)]
    with pytest.raises(ScenarioError, match=f"teams\\[0\\].shifts: at most {MAX_PERIODS:,} periods"):
        parse_scenario({**raw, "teams": [_team(shifts=many)]})
    ok = many[:MAX_PERIODS]
    assert len(parse_scenario({**raw, "teams": [_team(breaks=ok)]}).teams[0].breaks) == MAX_PERIODS
    agents = MAX_AGENT_PERIODS // (2 * MAX_PERIODS) + 1
    with pytest.raises(ScenarioError, match="agents × \\(shifts \\+ breaks\\) is .*, at most 1,000,000"):
        parse_scenario({**raw, "teams": [_team(agents=agents, shifts=ok, breaks=ok)]})


def test_bench_router_time_and_count_are_bounded():
    for args, words in ((("--max-seconds", "inf"), "--max-seconds"), (("--lifecycles", str(10**11)), "--lifecycles")):
        line = one_error_line(run("bench", "router", "--workload", "100", *args), 2)
        assert words in line


def test_runs_without_calls_are_bounded_by_the_agents_they_simulate(tmp_path):
    """A sweep of 10,000 seat counts × 10,000 replications of a scenario without calls passed the calls guard
    (0 calls) and would have run for hours: every run costs per agent too."""
    f = tmp_path / "quiet.toml"
    f.write_text('horizon_s = 3600\ninterval_s = 900\n[[queues]]\nname = "q"\ncalls_per_interval = [0, 0, 0, 0]\n'
                 'handle_time = { dist = "exponential", mean_s = 180 }\nskills = { s = 1 }\n'
                 '[[teams]]\nname = "t"\nagents = 10000\nskills = { s = 1 }\n')
    line = one_error_line(run("sweep", f, "-r", "10000", "--agents", "0:9999"), 2)
    assert "agents over all runs (agents × runs), more than 20,000,000; use --force" in line
    line = one_error_line(run("simulate", f, "-r", "10000"), 2)
    assert "100,000,000 agents over all runs" in line


@pytest.mark.parametrize("write, words", [
    (lambda p: p.write_text("queues = 1 = 2\n"), "not valid TOML"),
    (lambda p: p.write_text('[[queues]]\nname = "q"\ncolour = "red"\n'), "queues[0].colour: unknown key"),
    (lambda p: p.mkdir(), "is a folder; give the configuration file"),
    (lambda p: os.mkfifo(p), "is a named pipe, not a regular file; give the configuration file"),
])
def test_serve_with_a_bad_configuration_file_is_a_usage_error(tmp_path, write, words):
    cfg = tmp_path / "c.toml"
    write(cfg)
    args = ("--bind", f"ipc://{tmp_path}/c.sock", "--pub", f"ipc://{tmp_path}/p.sock")
    line = one_error_line(run("serve", cfg, *args), 2)
    assert words in line


def test_keys_generate_refuses_an_empty_folder_name_and_a_repeated_client_before_writing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert "an empty path" in one_error_line(run("keys", "generate", ""), 2)
    assert "given twice" in one_error_line(run("keys", "generate", "k", "-c", "a", "-c", "a"), 2)
    assert list(tmp_path.iterdir()) == []  # nothing written: not the current folder, not a half-made k/


def test_a_scenario_name_with_terminal_escapes_is_refused_before_it_is_printed(tmp_path):
    text = (EXAMPLES / "busy_hour.toml").read_text().replace('name = "busy-hour"', 'name = "a\\u001b[31mRED\\u0007"')
    f = tmp_path / "esc.toml"
    f.write_text(text)
    line = one_error_line(run("simulate", f, "-r", "2"), 2)
    assert "name: must not contain control characters" in line and "\x1b" not in line
