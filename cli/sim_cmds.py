"""``busyhour simulate``, ``busyhour sweep`` and ``busyhour bench sim``: parse, call busyhour.sim, print.

Bad input (a scenario mistake, an unknown strategy, a bad range) prints one
line naming the problem and exits with code 2; never a traceback.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Optional

import typer

FORMATS = ("table", "json", "csv")


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)


def _load(path: Path, seed: Optional[int]):
    from busyhour.sim.routing import check_router_config
    from busyhour.sim.scenario import ScenarioError, load_scenario

    try:
        scn = load_scenario(path)
        check_router_config(scn)
    except ScenarioError as exc:
        _fail(str(exc))
    return scn, (scn.seed if seed is None else seed)


def _progress(total: int, label: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.console import Console

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty())


def _console():
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 120)


def _fmt(e, pct: bool = False) -> str:
    if e.mean != e.mean:
        return "–"
    if pct:
        return f"{100 * e.mean:5.1f}% [{100 * e.ci95[0]:5.1f}, {100 * e.ci95[1]:5.1f}]" if e.n > 1 else f"{100 * e.mean:5.1f}%"
    return f"{e.mean:7.1f} [{e.ci95[0]:.1f}, {e.ci95[1]:.1f}]" if e.n > 1 else f"{e.mean:7.1f}"


def _short(e, pct: bool = False) -> str:
    if e.mean != e.mean:
        return "–"
    half = (e.ci95[1] - e.ci95[0]) / 2 if e.n > 1 else math.nan
    if pct:
        return f"{100 * e.mean:.1f}%" + (f" ±{100 * half:.1f}" if half == half else "")
    return f"{e.mean:.1f}" + (f" ±{half:.1f}" if half == half else "")


def print_summary(s, threshold_s: float, clock=lambda t: f"{int(t // 3600):02d}:{int(t % 3600 // 60):02d}") -> None:
    from rich.table import Table

    con = _console()
    t = Table(title=f"{s.scenario}: {s.replications} replications, seed {s.seed} (mean [95% CI])")
    for col in ("measure", "value"):
        t.add_column(col, no_wrap=True)
    t.add_row(f"service level ({threshold_s:g} s)", _fmt(s.service_level, True))
    t.add_row("p(wait)", _fmt(s.p_wait, True))
    t.add_row("abandonment", _fmt(s.p_abandon, True))
    t.add_row("ASA (s)", _fmt(s.asa_s))
    t.add_row("occupancy", _fmt(s.occupancy, True))
    t.add_row("calls offered", _fmt(s.offered))
    con.print(t)
    it = Table(title="per interval, by arrival time (mean ± 95% CI half-width)")
    for col in ("start", "offered", "SL", "abandon", "ASA s", "occupancy", "max queue"):
        it.add_column(col, justify="right", no_wrap=True)
    for i in s.intervals:
        it.add_row(clock(i.start_s), f"{i.offered.mean:.0f}",
                   _short(i.service_level, True), _short(i.p_abandon, True), _short(i.asa_s),
                   _short(i.occupancy, True), f"{i.max_queue.mean:.1f}")
    con.print(it)


def _interval_csv(s) -> str:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    cols = ("offered", "service_level", "p_wait", "p_abandon", "asa_s", "occupancy", "max_queue")
    w.writerow(["start_s", "end_s"] + [f"{c}{suf}" for c in cols for suf in ("", "_lo", "_hi")])
    for i in s.intervals:
        w.writerow([i.start_s, i.end_s] + [v for c in cols for v in (getattr(i, c).mean, *getattr(i, c).ci95)])
    return buf.getvalue()


def simulate_cmd(
    scenario: Path = typer.Argument(..., help="scenario TOML (docs/scenarios.md)"),
    replications: int = typer.Option(20, "--replications", "-r", min=1, max=100_000, help="independent runs"),
    seed: Optional[int] = typer.Option(None, "--seed", help="overrides the scenario's seed"),
    fmt: str = typer.Option("table", "--format", help="table | json | csv (per interval)"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="write a PNG of SL and abandonment per interval"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="local processes (default: CPU count)"),
    dask: Optional[str] = typer.Option(None, "--dask", help="run on a Dask cluster, e.g. tcp://host:8786"),
    event_log: Optional[Path] = typer.Option(None, "--event-log", help="CSV of every router event of replication 0"),
) -> None:
    """Simulate a scenario through the real routing engine, with replications and 95% CIs."""
    if fmt not in FORMATS:
        _fail(f"--format: must be one of {', '.join(FORMATS)} (got {fmt!r})")
    scn, seed = _load(scenario, seed)
    from busyhour.sim.driver import SimulationError, simulate
    from busyhour.sim.replicate import replicate, run_jobs, summarise

    with _progress(replications, "replications") as prog:
        task = prog.add_task("sim", total=replications)
        try:
            if event_log is not None:
                first = simulate(scn, 0, seed=seed, event_log=event_log)  # the logged replication
                prog.advance(task, 1)
                rest = run_jobs([(scn, r, seed) for r in range(1, replications)], workers=workers,
                                dask_address=dask, progress=lambda k: prog.advance(task, k)) if replications > 1 else []
                summary = summarise([first, *rest])
            else:
                summary = replicate(scn, replications, seed=seed, workers=workers, dask_address=dask,
                                    progress=lambda k: prog.advance(task, k))
        except OSError as exc:
            _fail(f"cannot run{' on the Dask cluster ' + dask if dask else ''}: {exc}")
        except SimulationError as exc:
            _fail(f"{scenario}: {exc}")
    if plot is not None:
        from busyhour.sim.plot import plot_summary

        plot_summary(summary, plot)
    if fmt == "json":
        typer.echo(json.dumps(summary.to_json(), indent=2, allow_nan=False))
    elif fmt == "csv":
        typer.echo(_interval_csv(summary), nl=False)
    else:
        print_summary(summary, scn.sl_threshold_s, scn.clock)


def sweep_cmd(
    scenario: Path = typer.Argument(..., help="scenario TOML (docs/scenarios.md)"),
    agents: str = typer.Option(..., "--agents", help="seat counts FROM:TO[:STEP] (TO included) or a comma list"),
    strategies: Optional[str] = typer.Option(None, "--strategies", help="comma list of router strategies"),
    replications: int = typer.Option(10, "--replications", "-r", min=1, max=100_000),
    seed: Optional[int] = typer.Option(None, "--seed"),
    plot: Optional[Path] = typer.Option(None, "--plot", help="PNG of SL and abandonment against agents"),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="write the points as CSV"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the points as JSON"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1),
    dask: Optional[str] = typer.Option(None, "--dask", help="run on a Dask cluster, e.g. tcp://host:8786"),
) -> None:
    """Service level and abandonment against seat count, per routing strategy (same callers everywhere)."""
    scn, seed = _load(scenario, seed)
    from busyhour.sim.driver import SimulationError
    from busyhour.sim.routing import check_router_config
    from busyhour.sim.scenario import ScenarioError
    from busyhour.sim.sweep import parse_agent_range, sweep

    try:
        counts = parse_agent_range(agents)
        strats = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else None
        for s in strats or ():
            try:
                check_router_config(scn.with_strategy(s))
            except ScenarioError:
                _fail(f"--strategies: unknown strategy {s!r}")
    except ScenarioError as exc:
        _fail(str(exc))
    total = len(counts) * len(strats or [None]) * replications
    with _progress(total, "sweep") as prog:
        task = prog.add_task("sweep", total=total)
        try:
            result = sweep(scn, counts, strats, replications, seed=seed, workers=workers, dask_address=dask,
                           progress=lambda k: prog.advance(task, k))
        except OSError as exc:
            _fail(f"cannot run{' on the Dask cluster ' + dask if dask else ''}: {exc}")
        except SimulationError as exc:
            _fail(f"{scenario}: {exc}")
    rows = result.rows()
    if csv_out is not None:
        import csv

        with open(csv_out, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    if json_out is not None:
        clean = [{k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in r.items()} for r in rows]
        Path(json_out).write_text(json.dumps({"scenario": result.scenario, "seed": seed, "points": clean}, indent=2))
    if plot is not None:
        from busyhour.sim.plot import plot_sweep

        plot_sweep(result, plot)
    from rich.table import Table

    t = Table(title=f"{result.scenario}: sweep, {replications} replications per point, seed {seed} (mean ± 95% CI)")
    paired = len(result.strategies()) > 1
    cols = ["strategy", "agents", "SL", "abandon", "ASA s", "occupancy"]
    if paired:
        cols.append(f"ΔSL vs {result.strategies()[0]} (paired)")
    for col in cols:
        t.add_column(col, justify="right", no_wrap=True)
    for p in result.points:
        s = p.summary
        cells = [p.strategy, str(p.agents), _short(s.service_level, True), _short(s.p_abandon, True), _short(s.asa_s),
                 _short(s.occupancy, True)]
        if paired:
            diff = result.paired_difference(p)
            cells.append("" if diff is None else _short(diff, True))
        t.add_row(*cells)
    _console().print(t)


def bench_sim_cmd(
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the figures as JSON"),
    calls: int = typer.Option(1_000_000, "--calls", min=1000, help="simulated calls per timed run"),
    repeats: int = typer.Option(3, "--repeats", min=1, max=50, help="timed runs (the median is reported)"),
    ciw: bool = typer.Option(True, "--ciw/--no-ciw", help="run the same workload in Ciw when installed"),
) -> None:
    """Simulated calls per second on M/M/100 at 90 Erlangs through the real engine (and Ciw side by side)."""
    from busyhour.bench.sim_bench import run_benchmark

    try:
        report = run_benchmark(calls=calls, repeats=repeats, with_ciw=ciw)
    except AssertionError as exc:
        _fail(f"correctness check failed before timing: {exc}")
    typer.echo(json.dumps(report, indent=2))
    if json_out is not None:
        Path(json_out).write_text(json.dumps(report, indent=2))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
    app.command("sweep")(sweep_cmd)
    bench_app.command("sim")(bench_sim_cmd)
