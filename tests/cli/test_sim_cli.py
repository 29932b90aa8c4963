"""CLI: ``simulate``, ``sweep``, ``demo``, ``bench sim`` — outputs, formats, and exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from busyhour.cli.main import app

EX = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()

SMALL = """
horizon_s = 3600
interval_s = 1800
seed = 2
[[queues]]
name = "q"
calls_per_hour = 200
handle_time = { dist = "exponential", mean_s = 150 }
patience = { dist = "exponential", mean_s = 120 }
[[teams]]
name = "t"
agents = 10
skills = { q = 1 }
"""


@pytest.fixture
def small(tmp_path):
    p = tmp_path / "small.toml"
    p.write_text(SMALL)
    return p


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_simulate_json_has_the_documented_keys(small):
    r = run("simulate", small, "--replications", 3, "--seed", 1, "--format", "json", "--workers", 1)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    for key in ("service_level", "p_wait", "p_abandon", "asa_s", "occupancy"):
        assert set(out[key]) == {"mean", "ci95"} and len(out[key]["ci95"]) == 2
        lo, hi = out[key]["ci95"]
        assert lo <= out[key]["mean"] <= hi
    assert out["replications"] == 3 and len(out["intervals"]) == 2
    assert {"start_s", "service_level", "p_abandon", "max_queue"} <= set(out["intervals"][0])


def test_simulate_same_seed_same_json(small):
    a = run("simulate", small, "-r", 2, "--seed", 4, "--format", "json", "--workers", 1).stdout
    b = run("simulate", small, "-r", 2, "--seed", 4, "--format", "json", "--workers", 2).stdout
    assert a == b and json.loads(a)["seed"] == 4


def test_simulate_table_csv_plot_and_event_log(small, tmp_path):
    r = run("simulate", small, "-r", 2, "--workers", 1, "--plot", tmp_path / "p.png", "--event-log", tmp_path / "e.csv")
    assert r.exit_code == 0, r.output
    assert "service level" in r.stdout and "per interval" in r.stdout
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert (tmp_path / "e.csv").read_text().startswith("seq,time_s,kind,")
    r = run("simulate", small, "-r", 2, "--workers", 1, "--format", "csv")
    lines = r.stdout.strip().splitlines()
    assert r.exit_code == 0 and lines[0].startswith("start_s,end_s,offered") and len(lines) == 3


@pytest.mark.parametrize(("content", "message"), [
    (SMALL.replace("mean_s = 150", "mean_s = -1"), "queues[0].handle_time.mean_s"),
    (SMALL.replace("agents = 10", "agents = 10\ncolour = 1"), "teams[0].colour: unknown key"),
    (SMALL + '[router]\nstrategy = "fastest"\n', "queues[0].strategy: unknown strategy"),
    ("horizon_s = [", "not valid TOML"),
])
def test_bad_scenario_exits_2_naming_the_key(tmp_path, content, message):
    p = tmp_path / "bad.toml"
    p.write_text(content)
    r = run("simulate", p, "-r", 2)
    assert r.exit_code == 2 and message in r.stderr and "Traceback" not in r.output


def test_bad_arguments_exit_2(small, tmp_path):
    r = run("simulate", tmp_path / "missing.toml")
    assert r.exit_code == 2 and "no such file" in r.stderr
    r = run("simulate", small, "--format", "xml")
    assert r.exit_code == 2 and "--format" in r.stderr
    r = run("sweep", small, "--agents", "10:5")
    assert r.exit_code == 2 and "--agents" in r.stderr
    r = run("sweep", small, "--agents", "8:10", "--strategies", "longest-idle-agent,telepathy")
    assert r.exit_code == 2 and "telepathy" in r.stderr


def test_sweep_outputs(small, tmp_path):
    r = run("sweep", small, "--agents", "8:12:2", "--strategies", "longest-idle-agent,round-robin", "-r", 2,
            "--workers", 1, "--csv", tmp_path / "s.csv", "--json", tmp_path / "s.json", "--plot", tmp_path / "s.png")
    assert r.exit_code == 0, r.output
    assert "round-robin" in r.stdout
    rows = (tmp_path / "s.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 6 and rows[0].startswith("strategy,agents,replications,service_level")
    points = json.loads((tmp_path / "s.json").read_text())["points"]
    assert [(p["strategy"], p["agents"]) for p in points][:3] == [("longest-idle-agent", n) for n in (8, 10, 12)]
    assert (tmp_path / "s.png").stat().st_size > 1000


def test_demo_runs_a_scenario(small):
    r = run("demo", "--scenario", small, "-r", 2, "--staffing-replications", 2, "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "Erlang C" in r.stdout and "suggested staffing" in r.stdout


def test_bench_sim_small(tmp_path):
    r = run("bench", "sim", "--calls", 20000, "--repeats", 1, "--no-ciw", "--json", tmp_path / "b.json")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "b.json").read_text())
    assert rep["calls_per_s"] > 0 and rep["calls"] == 20000 and "ciw_calls_per_s" not in rep


def test_simulate_on_a_dask_cluster(small):
    distributed = pytest.importorskip("distributed")
    local = run("simulate", small, "-r", 2, "--format", "json", "--workers", 1).stdout
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        r = run("simulate", small, "-r", 2, "--format", "json", "--dask", c.scheduler_address)
    assert r.exit_code == 0, r.output
    assert r.stdout == local


def test_demo_router_keeps_the_engines_own_demo():
    r = run("demo", "--router")
    assert r.exit_code == 0, r.output


def test_event_log_does_not_change_the_results(small, tmp_path):
    plain = run("simulate", small, "-r", 3, "--format", "json", "--workers", 1).stdout
    logged = run("simulate", small, "-r", 3, "--format", "json", "--workers", 1, "--event-log", tmp_path / "e.csv")
    assert logged.exit_code == 0 and logged.stdout == plain
