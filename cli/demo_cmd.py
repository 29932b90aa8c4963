"""``busyhour demo``: the default busy-hour scenario through the real router.

Runs the shipped busy_hour.toml example with replications, prints
per-interval service level beside the Erlang C prediction (busyhour.erlang)
and the staffing the simulation suggests (a short sweep with common random
numbers) for the ``--sl`` target. Under a minute on two cores. Ctrl-C prints
what finished, marked partial, and exits 130. ``busyhour demo --router``
runs the routing engine's own demo instead (``busyhour.router.demo``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from busyhour.cli.common import EXIT_USAGE, OutputFormat, fail, format_option, info, input_path, out_option, plot_option
from busyhour.cli.sim_output import (FORCE_HELP, Bar, Engine, check_engine, emit, engine_line, engine_option,
                                     exit_interrupted, interrupted, load, preflight, short)

DEFAULT_NAME = "busy_hour.toml"


def default_scenario() -> Path:
    """The shipped example (package data when installed, examples/ in a checkout)."""
    try:
        from busyhour.examples import path

        return Path(path(DEFAULT_NAME))
    except (ImportError, AttributeError, FileNotFoundError):
        return Path(__file__).resolve().parent.parent / "examples" / DEFAULT_NAME


def _router_demo() -> None:
    from busyhour.router.demo import main  # the routing engine's scripted busy half-hour

    main()


def demo_cmd(
    ctx: typer.Context,
    router: bool = typer.Option(False, "--router", help="run the routing engine's own demo instead"),
    scenario: Optional[Path] = typer.Option(None, "--scenario", callback=input_path,
                                            help=f"scenario TOML (default: the shipped {DEFAULT_NAME})"),
    replications: int = typer.Option(20, "--replications", "-r", min=2, max=10_000),
    staffing_replications: int = typer.Option(6, "--staffing-replications", min=2, max=10_000,
                                              help="replications per point of the staffing sweep"),
    sl: Optional[str] = typer.Option(None, "--sl", help="service-level target PERCENT/SECONDS such as 80/20 "
                                                        "(default: 80 % within the scenario's threshold)"),
    fmt: OutputFormat = format_option(help="table, csv (per interval) or json"),
    out: Optional[Path] = out_option(),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=256),
    plot: Optional[Path] = plot_option("Also save a plot to FILE (simulated vs Erlang C; png, pdf, svg, …)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    engine: Engine = engine_option(),
) -> None:
    """Simulate the default busy-hour scenario: SL per interval vs Erlang C, and suggested staffing."""
    if router:
        given = [p.opts[0] for p in ctx.command.params if p.name != "router"
                 and getattr(ctx.get_parameter_source(p.name), "name", "DEFAULT") != "DEFAULT"]
        if given:
            fail(f"--router runs the routing engine's scripted demo, which takes no options (got {', '.join(given)})",
                 EXIT_USAGE)
        _router_demo()
        return
    from busyhour.sim.jobs import Interrupted
    from busyhour.sim.limits import MAX_AGENTS
    from busyhour.sim.planning import erlang_service_level, interval_loads, suggest_agents
    from busyhour.sim.replicate import replicate, summarise
    from busyhour.sim.sweep import SweepInterrupted

    scn, seed, target = load(scenario or default_scenario(), None, sl)
    check_engine(scenario or default_scenario(), [scn], engine)
    base = scn.n_agents
    # at most the simulator's limit: a scenario near it was run, then its sweep failed after the work
    candidates = sorted({min(MAX_AGENTS, max(1, round(base * f))) for f in (0.9, 1.0, 1.1, 1.2, 1.3)})
    total = len(candidates) * staffing_replications
    preflight(scn, replications + total, force, None)
    info(f"{scn.name}: {len(scn.queues)} queues ({', '.join(q.name for q in scn.queues)}), {base} agents in "
         f"{len(scn.teams)} teams, {scn.horizon_s / 3600:g} h from {scn.clock(0)}, {replications} replications")
    loads, erlang = interval_loads(scn), erlang_service_level(scn)  # before the run: Ctrl-C then only prints
    partial, sug = False, None
    try:
        with Bar(replications, "simulating", " (starting workers…)" if workers != 1 else "") as bar:
            summary = replicate(scn, replications, seed=seed, workers=workers, progress=bar, force=True,
                                engine=engine.value)
        with Bar(total, "staffing sweep") as bar:
            sug = suggest_agents(scn, candidates, staffing_replications, target=target, seed=seed, workers=workers,
                                 progress=bar, force=True, engine=engine.value)
    except SweepInterrupted:
        partial = True
        info("interrupted: partial results (the staffing sweep did not finish)")
    except Interrupted as exc:
        finished = [r for r in exc.results if r is not None]
        interrupted(len(finished), replications)
        if not finished:
            exit_interrupted()
        summary, partial = summarise(finished), True
    rows = [{"start": scn.clock(iv.start_s), "end": scn.clock(iv.end_s), "calls": iv.offered.mean,
             "load_erlangs": il.load_erlangs, "scheduled_agents": il.scheduled_agents,
             "erlang_c_sl": None if erlang is None or erlang[k] != erlang[k] else erlang[k],
             "sl": iv.service_level, "p_abandon": iv.p_abandon, "occupancy": iv.occupancy, "max_queue": iv.max_queue}
            for k, (iv, il) in enumerate(zip(summary.intervals, loads))]
    if plot is not None:
        from busyhour.sim.plot import plot_summary

        plot_summary(summary, plot, scn, erlang_sl=erlang, target=target, partial=partial)
        info(f"plot written: {plot}")
    _output(fmt, out, scn, summary, rows, sug, target, base, candidates, partial, staffing_replications)
    if partial:
        exit_interrupted()


def _suggestion(sug, target: float, base: int, candidates: list[int], thr: float) -> dict:
    if sug is None:
        return {"agents": None, "status": "not run (interrupted)", "target": target, "threshold_s": thr, "points": []}
    pts = [{"agents": p.agents, "worst_interval_sl": _worst(p)} for p in sug.sweep.points]
    status = ("met" if sug.agents is not None else f"not met by {candidates[-1]} agents")
    return {"agents": sug.agents, "status": status, "target": target, "threshold_s": thr, "scenario_agents": base,
            "points": pts}


def _worst(p) -> float | None:
    vals = [i.service_level.mean for i in p.summary.intervals if i.service_level.mean == i.service_level.mean]
    return min(vals) if vals else None


def _output(fmt, out, scn, summary, rows, sug, target, base, candidates, partial, staffing_replications) -> None:
    from busyhour.sim.export import estimate_json as _e

    thr = scn.sl_threshold_s
    staffing = _suggestion(sug, target, base, candidates, thr)
    if fmt is OutputFormat.json:
        doc = {"format_version": 1, "kind": "demo", "scenario": scn.name, "seed": summary.seed,
               "replications": summary.replications, "partial": partial, "engine": summary.engine,
               "sl_target": target, "sl_threshold_s": thr,
               "intervals": [{**{k: v for k, v in r.items() if k not in ("sl", "p_abandon", "occupancy", "max_queue")},
                              "service_level": _e(r["sl"]), "p_abandon": _e(r["p_abandon"]),
                              "occupancy": _e(r["occupancy"]), "max_queue": _e(r["max_queue"])} for r in rows],
               "overall": {m: _e(getattr(summary, m)) for m in ("service_level", "p_abandon", "asa_s", "occupancy")},
               "staffing": staffing}
        emit(fmt, out, text=json.dumps(doc, indent=2, allow_nan=False) + "\n")
        return
    if fmt is OutputFormat.csv:
        head = ["start", "end", "calls", "load_erlangs", "scheduled_agents", "erlang_c_sl", "service_level",
                "service_level_lo", "service_level_hi", "p_abandon", "occupancy", "max_queue", "partial"]
        lines = [",".join(head)]
        for r in rows:
            cells = [r["start"], r["end"], r["calls"], r["load_erlangs"], r["scheduled_agents"],
                     "" if r["erlang_c_sl"] is None else r["erlang_c_sl"], r["sl"].mean, *r["sl"].ci95,
                     r["p_abandon"].mean, r["occupancy"].mean, r["max_queue"].mean, str(partial).lower()]
            lines.append(",".join("" if isinstance(c, float) and c != c else str(c) for c in cells))
        emit(fmt, out, text="\n".join(lines) + "\n")
        return
    from rich.table import Table

    def draw(con) -> None:
        mark = " — PARTIAL (interrupted)" if partial else ""
        t = Table(title=f"service level ({thr:g} s) per interval: simulation (mean ± 95% CI) vs Erlang C{mark}")
        for col in ("interval", "calls", "load E", "agents", "Erlang C SL", "simulated SL", "abandon", "occupancy",
                    "max queue"):
            t.add_column(col, justify="right", no_wrap=True)
        for r in rows:
            t.add_row(f"{r['start']}-{r['end']}", f"{r['calls']:.0f}", f"{r['load_erlangs']:.1f}",
                      f"{r['scheduled_agents']:.1f}", "–" if r["erlang_c_sl"] is None else f"{100 * r['erlang_c_sl']:.1f}%",
                      short(r["sl"], True), short(r["p_abandon"], True), short(r["occupancy"], True),
                      f"{r['max_queue'].mean:.1f}")
        con.print(t)
        con.print(f"overall: SL {short(summary.service_level, True)}, abandonment {short(summary.p_abandon, True)}, "
                  f"ASA {short(summary.asa_s)} s, occupancy {short(summary.occupancy, True)}")
        con.print("Erlang C pools every scheduled agent and ignores abandonment, redials, skills and escalation; "
                  "the simulation drives the production routing engine with all of them.")
        con.print(engine_line(summary.engine))
        goal = f"{100 * target:g}/{thr:g}"
        if sug is None:
            con.print("suggested staffing: not computed (interrupted)")
            return
        pts = ", ".join(f"{p['agents']}: worst interval {100 * p['worst_interval_sl']:.0f}%" for p in staffing["points"]
                        if p["worst_interval_sl"] is not None)
        con.print(f"staffing sweep (same callers at every size; {staffing_replications} replications): {pts}")
        if sug.agents is None:
            con.print(f"[bold]suggested staffing[/]: more than {candidates[-1]} agents to hold {goal} in every "
                      "interval with this schedule")
        else:
            con.print(f"[bold]suggested staffing[/]: {sug.agents} agents (teams in the same proportions, same "
                      f"schedule) hold {goal} in every interval; the scenario has {base}")
    emit(fmt, out, table=draw)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
