"""CLI: ``simulate``, ``sweep``, ``demo``, ``bench sim`` — outputs, formats, and bad input refused before work.

Every probe of a bad input is a row: it must exit 2 (usage) or 1 (failure)
with one ``busyhour: error:`` line naming the problem, within a time bound,
and never print a traceback. Ctrl-C and Dask probes: tests/cli/test_sim_cli_stop.py.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from busyhour.cli.main import app
from busyhour.sim.export import schema

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sim"))
from schema_check import errors  # noqa: E402  (tests/sim/schema_check.py)

EX = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()

SMALL = """
horizon_s = 3600
interval_s = 1800
seed = 2
start_clock = "09:00"
[[queues]]
name = "q"
calls_per_hour = 200
handle_time = { dist = "exponential", mean_s = 150 }
patience = { dist = "exponential", mean_s = 120 }
[[queues]]
name = "vip"
calls_per_hour = 40
handle_time = { dist = "exponential", mean_s = 150 }
[[teams]]
name = "t"
agents = 10
skills = { q = 1, vip = 1 }
"""


@pytest.fixture
def small(tmp_path):
    p = tmp_path / "small.toml"
    p.write_text(SMALL)
    return p


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_error(r, code: int, needle: str) -> None:
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == code, (r.stdout, r.stderr)
    assert lines and lines[-1].startswith("busyhour: error: ") and needle in lines[-1], lines
    assert "Traceback" not in r.output


def test_simulate_json_has_the_documented_keys(small):
    r = run("simulate", small, "--replications", 3, "--seed", 1, "--format", "json", "--workers", 1)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    for key in ("service_level", "p_wait", "p_abandon", "asa_s", "occupancy", "wait_p90_s", "redials"):
        assert set(out["overall"][key]) == {"mean", "ci95"} and len(out["overall"][key]["ci95"]) == 2
        lo, hi = out["overall"][key]["ci95"]
        assert lo <= out["overall"][key]["mean"] <= hi
    assert out["replications"] == 3 and len(out["intervals"]) == 2 and out["partial"] is False
    assert [i["start"] for i in out["intervals"]] == ["09:00", "09:30"]
    assert [q["queue"] for q in out["queues"]] == ["q", "vip"]


def test_simulate_same_seed_same_json(small):
    a = run("simulate", small, "-r", 2, "--seed", 4, "-f", "json", "--workers", 1).stdout
    b = run("simulate", small, "-r", 2, "--seed", 4, "-f", "json", "--workers", 2).stdout
    assert a == b and json.loads(a)["seed"] == 4


def test_simulate_table_csv_plot_and_event_log(small, tmp_path):
    r = run("simulate", small, "-r", 2, "--workers", 1, "--plot", tmp_path / "p.png", "--event-log", tmp_path / "e.csv")
    assert r.exit_code == 0, r.output
    assert "service level" in r.stdout and "per queue" in r.stdout and "09:30-10:00" in r.stdout
    assert "vip" in r.stdout  # per-queue rows in the table
    assert (tmp_path / "p.png").stat().st_size > 1000 and "plot written" in r.stderr
    assert (tmp_path / "e.csv").read_text().startswith("seq,time_s,kind,")
    r = run("simulate", small, "-r", 2, "--workers", 1, "--format", "csv", "--out", tmp_path / "s.csv")
    assert r.exit_code == 0 and r.stdout == ""
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    assert [(x["scope"], x["queue"], x["start"]) for x in rows] == [
        ("overall", "", "09:00"), ("queue", "q", "09:00"), ("queue", "vip", "09:00"),
        ("interval", "", "09:00"), ("interval", "", "09:30")]
    assert {"wait_p95_s", "callbacks", "redials", "partial"} <= set(rows[0])


def test_sl_option_sets_target_and_threshold(small):
    r = run("simulate", small, "-r", 2, "--workers", 1, "-f", "json", "--sl", "90/30")
    out = json.loads(r.stdout)
    assert (out["sl_target"], out["sl_threshold_s"]) == (0.9, 30.0)
    assert json.loads(run("simulate", small, "-r", 2, "--workers", 1, "-f", "json", "--sl", "0.9/30").stdout) == out
    strict = json.loads(run("simulate", small, "-r", 2, "--workers", 1, "-f", "json", "--sl", "90/0").stdout)
    assert strict["overall"]["service_level"]["mean"] <= out["overall"]["service_level"]["mean"]


@pytest.mark.parametrize(("content", "message"), [
    (SMALL.replace("mean_s = 150", "mean_s = -1", 1), "queues[0].handle_time.mean_s"),
    (SMALL.replace("agents = 10", "agents = 10\ncolour = 1"), "teams[0].colour: unknown key"),
    (SMALL + '[router]\nstrategy = "fastest"\n', "queues[0].strategy: unknown strategy"),
    ("horizon_s = [", "not valid TOML"),
    (SMALL.replace("seed = 2", "seed = -1"), "seed: must be an integer from 0"),
    (SMALL.replace("calls_per_hour = 200", "calls_per_interval = [1e9, 60]"), "at most 1e+06 calls per interval"),
    (SMALL.replace("horizon_s = 3600", "horizon_min = 52560000"), "horizon_s: at most"),
    (SMALL.replace("agents = 10", "agents = 100000000"), "teams: agents (total): must be 0 to 10000"),
    (SMALL.replace("calls_per_hour = 40", "calls_per_hour = 40\nskills = { spanish = 1 }"),
     "queues[1]: no team serves 'vip' (skills needed: spanish"),
    (SMALL.replace("skills = { q = 1, vip = 1 }", "skills = { q = 1, vip = 1 }\nshifts = [{ start_s = 4000, end_s = 5000 }]"),
     "starts at 4000 s, after the run ends"),
])
def test_bad_scenario_exits_2_naming_the_key(tmp_path, content, message):
    p = tmp_path / "bad.toml"
    p.write_text(content)
    t0 = time.perf_counter()
    r = run("simulate", p, "-r", 2)
    one_error(r, 2, message)
    assert time.perf_counter() - t0 < 5


@pytest.mark.parametrize(("args", "message"), [
    (("simulate", "{tmp}/missing.toml"), "no such file"),
    (("simulate", "{tmp}"), "is a directory"),
    (("simulate", "{small}", "--format", "xml"), "--format"),
    (("simulate", "{small}", "--seed", "-1"), "--seed: must be an integer from 0"),
    (("simulate", "{small}", "--sl", "80"), "--sl: expected PERCENT/SECONDS"),
    (("simulate", "{small}", "--sl", "180/20"), "--sl"),
    (("simulate", "{small}", "--plot", "{tmp}/afile/x.png"), "is not a folder"),
    (("simulate", "{small}", "--plot", "{tmp}/out.txt"), "not an image format"),
    (("simulate", "{small}", "--plot", "{tmp}"), "is a directory"),
    (("simulate", "{small}", "--out", "{tmp}/afile/x.json"), "is not a folder"),
    (("simulate", "{small}", "--event-log", "{tmp}/afile/e.csv"), "is not a folder"),
    (("simulate", "{small}", "-r", "0"), "--replications"),
    (("simulate", "{small}", "-r", "100000000"), "--replications"),
    (("sweep", "{small}", "--agents", "10:5"), "--agents"),
    (("sweep", "{small}", "--agents", "0:1000000000"), "--agents: counts must be 0 to 10000"),
    (("sweep", "{small}", "--agents", "8:10", "--strategies", "longest-idle-agent,telepathy"), "telepathy"),
    (("sweep", "{small}", "--agents", "8:10", "--csv", "{tmp}/afile/s.csv"), "is not a folder"),
    (("sweep", "{small}", "--agents", "8:10", "--json", "{tmp}/afile/s.json"), "is not a folder"),
    (("sweep", "{small}", "--agents", "8:10", "--plot", "{tmp}/s.txt"), "not an image format"),
    (("sweep", "{small}", "--agents", "8:10", "--seed", "-5"), "--seed"),
    (("demo", "--scenario", "{small}", "--plot", "{tmp}/afile/d.png"), "is not a folder"),
    (("demo", "--scenario", "{small}", "--sl", "0/20"), "--sl"),
    (("bench", "sim", "--json", "{tmp}/afile/out/x.json"), "is not a folder"),
    (("bench", "sim", "--calls", "999"), "--calls"),
])
def test_bad_arguments_exit_2_before_any_work(small, tmp_path, args, message):
    (tmp_path / "afile").write_text("a file, not a folder")
    t0 = time.perf_counter()
    r = run(*(a.format(tmp=tmp_path, small=small) for a in args))
    one_error(r, 2, message)
    assert time.perf_counter() - t0 < 5


def test_a_scenario_too_big_is_refused_unless_forced(tmp_path):
    p = tmp_path / "big.toml"
    p.write_text(SMALL.replace("calls_per_hour = 200", "calls_per_hour = 400000"))  # ~400,000 calls per replication
    r = run("simulate", p, "-r", 100)
    one_error(r, 2, "calls × 100 runs")
    assert "--force" in r.stderr
    r = run("sweep", p, "--agents", "10:20", "-r", 5)  # 11 points × 5 = 55 runs
    one_error(r, 2, "× 55 runs")


def test_sweep_outputs(small, tmp_path):
    r = run("sweep", small, "--agents", "8:12:2", "--strategies", "longest-idle-agent,round-robin", "-r", 2,
            "--workers", 1, "-f", "json", "--out", tmp_path / "s.json", "--plot", tmp_path / "s.png", "--sl", "85/15")
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "s.json").read_text())
    assert [(p["strategy"], p["agents"]) for p in doc["points"]][:3] == [("longest-idle-agent", n) for n in (8, 10, 12)]
    assert doc["sl_target"] == 0.85 and doc["sl_threshold_s"] == 15
    assert all(p["delta_sl"] is not None for p in doc["points"] if p["strategy"] == "round-robin")
    assert (tmp_path / "s.png").stat().st_size > 1000
    r = run("sweep", small, "--agents", "8:12:2", "--strategies", "longest-idle-agent,round-robin", "-r", 2,
            "--workers", 1, "-f", "csv")
    rows = r.stdout.strip().splitlines()
    assert len(rows) == 1 + 6 and rows[0].startswith("strategy,agents,replications,partial,service_level")
    assert "delta_sl,delta_sl_lo,delta_sl_hi" in rows[0]
    r = run("sweep", small, "--agents", "8,12", "-r", 2, "--workers", 1)
    assert r.exit_code == 0 and "meets target" in r.stdout


def test_sweep_csv_alias_still_writes_the_file(small, tmp_path):
    r = run("sweep", small, "--agents", "9:10", "-r", 2, "--workers", 1, "--csv", tmp_path / "s.csv")
    assert r.exit_code == 0, r.output
    assert "deprecated" in r.stderr
    assert (tmp_path / "s.csv").read_text().startswith("strategy,agents,")


def test_demo_runs_a_scenario(small):
    r = run("demo", "--scenario", small, "-r", 2, "--staffing-replications", 2, "--workers", 1, "--sl", "85/20")
    assert r.exit_code == 0, r.output
    assert "Erlang C" in r.stdout and "suggested staffing" in r.stdout and "85/20" in r.stdout
    r = run("demo", "--scenario", small, "-r", 2, "--staffing-replications", 2, "--workers", 1, "-f", "json")
    doc = json.loads(r.stdout)
    assert doc["staffing"]["target"] == 0.8 and doc["intervals"][0]["start"] == "09:00"
    assert errors(doc, schema("demo")) == []


def test_demo_help_shows_no_install_path():
    r = run("demo", "--help")
    assert r.exit_code == 0 and "busy_hour.toml" in r.stdout
    assert "site-packages" not in r.stdout and "/examples/" not in r.stdout


@pytest.mark.parametrize("calls", [1000, 20000])
def test_bench_sim_passes_its_own_check(tmp_path, calls):
    r = run("bench", "sim", "--calls", calls, "--repeats", 1, "--no-ciw", "--json", tmp_path / "b.json", "-f", "csv")
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "b.json").read_text())
    assert rep["calls_per_s"] > 0 and rep["calls"] == calls and "ciw_calls_per_s" not in rep
    assert errors(rep, schema("bench_sim")) == []
    assert r.stdout.startswith("workload,calls,")


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
