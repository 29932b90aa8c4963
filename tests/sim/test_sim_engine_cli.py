"""``busyhour simulate --engine auto|compiled|simpy``: the choice, what the output says, the refusal.

1. ``--engine compiled`` and ``--engine simpy`` give the same figures (JSON and CSV equal but for the
   engine), and every format names the engine that ran;
2. ``auto`` takes the compiled loop when it runs the scenario, else the SimPy driver;
3. ``--engine compiled`` on a scenario it cannot run (a ring strategy) fails before any work with one
   line naming the keys that keep it off (exit 2); an unknown engine is a usage error;
4. ``busyhour demo`` runs the shipped busy hour on the compiled loop and says so (table and JSON);
5. ``sweep`` and ``demo`` take the same ``--engine``: equal figures, the engine per sweep point, the refusal.
"""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from busyhour.cli.main import app
from busyhour.sim.export import schema
from schema_check import errors

runner = CliRunner()

SCENARIO = """
horizon_s = 3600
interval_s = 1800
seed = 2
[[queues]]
name = "q"
calls_per_hour = 220
handle_time = { dist = "exponential", mean_s = 150 }
patience = { dist = "exponential", mean_s = 90 }
redial = { probability = 0.4 }
[[teams]]
name = "t"
agents = 10
skills = { q = 1 }
breaks = [{ start_s = 900, duration_s = 300 }]
break_spread_s = 600
answer_delay = { dist = "exponential", mean_s = 3 }
"""
RING_ALL = SCENARIO.replace('redial = { probability = 0.4 }', 'router = { strategy = "ring-all" }')


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _write(tmp_path, text: str):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def test_compiled_and_simpy_print_the_same_figures_and_say_which_ran(tmp_path):
    scn = _write(tmp_path, SCENARIO)
    docs = {}
    for engine in ("compiled", "simpy", "auto"):
        r = run("simulate", scn, "-r", 3, "--workers", 1, "-f", "json", "--engine", engine)
        assert r.exit_code == 0, r.output
        docs[engine] = json.loads(r.stdout)
        assert errors(docs[engine], schema("simulate")) == []
    assert [docs[e]["engine"] for e in ("compiled", "simpy", "auto")] == ["compiled", "simpy", "compiled"]
    assert {**docs["compiled"], "engine": ""} == {**docs["simpy"], "engine": ""}
    assert docs["compiled"]["overall"]["redials"]["mean"] > 0
    rows = {}
    for engine in ("compiled", "simpy"):
        r = run("simulate", scn, "-r", 2, "--workers", 1, "-f", "csv", "--engine", engine)
        rows[engine] = list(csv.DictReader(io.StringIO(r.stdout)))
        assert {x["engine"] for x in rows[engine]} == {engine}
    assert [{**x, "engine": ""} for x in rows["compiled"]] == [{**x, "engine": ""} for x in rows["simpy"]]
    r = run("simulate", scn, "-r", 2, "--workers", 1, "--engine", "simpy")
    assert r.exit_code == 0 and "engine: simpy" in r.stdout


def test_auto_runs_the_simpy_driver_where_the_compiled_loop_cannot(tmp_path):
    r = run("simulate", _write(tmp_path, RING_ALL), "-r", 2, "--workers", 1)
    assert r.exit_code == 0, r.output
    assert "engine: simpy" in r.stdout


def test_compiled_refuses_naming_what_keeps_the_scenario_off_it(tmp_path):
    r = run("simulate", _write(tmp_path, RING_ALL), "-r", 2, "--engine", "compiled")
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "Traceback" not in r.output
    assert lines[0].startswith("busyhour: error: ") and "--engine compiled" in lines[0]
    assert "queues[0].strategy: 'ring-all'" in lines[0]
    r = run("simulate", _write(tmp_path, SCENARIO), "--engine", "fast")
    assert r.exit_code == 2 and "--engine" in r.stderr


def test_demo_runs_the_shipped_busy_hour_compiled_and_says_so(tmp_path):
    r = run("demo", "-r", 2, "--staffing-replications", 2, "--workers", 1, "-f", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["engine"] == "compiled" and errors(doc, schema("demo")) == []
    r = run("demo", "-r", 2, "--staffing-replications", 2, "--workers", 1)
    assert r.exit_code == 0 and "engine: compiled" in r.stdout


def _sweep(scn, *extra):
    return run("sweep", scn, "--agents", "9,11", "-r", 2, "--workers", 1, *extra)


def test_sweep_engine_choice_same_figures_and_named_per_point(tmp_path):
    scn = _write(tmp_path, SCENARIO)
    docs = {}
    for engine in ("compiled", "simpy"):
        r = _sweep(scn, "-f", "json", "--engine", engine)
        assert r.exit_code == 0, r.output
        docs[engine] = json.loads(r.stdout)
        assert errors(docs[engine], schema("sweep")) == []
        assert [p["engine"] for p in docs[engine]["points"]] == [engine, engine]
    strip = [{**p, "engine": ""} for p in docs["compiled"]["points"]]
    assert strip == [{**p, "engine": ""} for p in docs["simpy"]["points"]]
    r = _sweep(scn, "-f", "csv", "--strategies", "longest-idle-agent,ring-all")  # auto: ring-all on SimPy
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [(x["strategy"], x["engine"]) for x in rows] == [
        ("longest-idle-agent", "compiled"), ("longest-idle-agent", "compiled"), ("ring-all", "simpy"), ("ring-all", "simpy")]


def test_sweep_and_demo_compiled_refuse_before_any_work(tmp_path):
    r = _sweep(_write(tmp_path, SCENARIO), "--strategies", "longest-idle-agent,ring-all", "--engine", "compiled")
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "'ring-all'" in lines[0] and "--engine compiled" in lines[0]
    r = run("demo", "--scenario", _write(tmp_path, RING_ALL), "-r", 2, "--engine", "compiled")
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "'ring-all'" in lines[0]


def test_demo_on_the_simpy_driver_says_so(tmp_path):
    r = run("demo", "-r", 2, "--staffing-replications", 2, "--workers", 1, "-f", "json", "--engine", "simpy")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["engine"] == "simpy" and errors(doc, schema("demo")) == []
