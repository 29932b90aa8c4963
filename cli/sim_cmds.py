"""``busyhour simulate``, ``busyhour sweep`` and ``busyhour bench sim``: parse, call busyhour.sim, print.

Bad input (a scenario mistake, an unknown strategy, a bad range, a path that
cannot be written) prints one line naming the problem and exits with code 2
before any work; a failing run exits 1; Ctrl-C stops the run within a couple
of seconds, prints what finished (marked partial) and exits 130.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from busyhour.cli.common import EXIT_USAGE, OutputFormat, fail, format_option, info, input_path, out_option, plot_option
from busyhour.cli.sim_output import (FORCE_HELP, Bar, Engine, check_engine, emit, engine_line, engine_option,
                                     exit_interrupted, interrupted, load, preflight, short, summary_tables)

MAX_REPLICATIONS = 10_000
STREAMING_HELP = ("accumulate the statistics as calls finish, in memory independent of the number of calls, "
                  "for long runs (compiled path only; wait percentiles within 0.55 %: docs/simulation.md)")
SL_HELP = "service-level target and threshold, PERCENT/SECONDS such as 80/20 (default: 80 % within the scenario's sl_threshold_s)"


def simulate_cmd(
    scenario: Path = typer.Argument(..., help="scenario TOML (docs/scenarios.md)", callback=input_path),
    replications: int = typer.Option(20, "--replications", "-r", min=1, max=MAX_REPLICATIONS, help="independent runs"),
    seed: Optional[int] = typer.Option(None, "--seed", help="overrides the scenario's seed (0 to 2**63-1)"),
    fmt: OutputFormat = format_option(help="table, csv (overall, per queue, per interval) or json (docs/outputs.md)"),
    out: Optional[Path] = out_option(),
    sl: Optional[str] = typer.Option(None, "--sl", help=SL_HELP),
    plot: Optional[Path] = plot_option("Save SL and abandonment per interval to FILE (png, pdf, svg, …)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=256, help="local processes (default: CPU count)"),
    dask: Optional[str] = typer.Option(None, "--dask", help="run on a Dask cluster, e.g. tcp://host:8786"),
    event_log: Optional[Path] = out_option("CSV of every router event of replication 0.", flag="--event-log"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    engine: Engine = engine_option(),
    streaming_stats: bool = typer.Option(False, "--streaming-stats", help=STREAMING_HELP),
) -> None:
    """Simulate a scenario through the real routing engine, with replications and 95% CIs."""
    scn, seed, target = load(scenario, seed, sl)
    from busyhour.sim.driver import SimulationError, simulate
    from busyhour.sim.fast import check_streaming

    check_engine(scenario, [scn], engine)
    if streaming_stats:
        try:
            check_streaming(scn, engine.value)
        except SimulationError as exc:
            fail(f"{scenario}: --streaming-stats: {exc}", EXIT_USAGE)
    preflight(scn, replications, force, dask)
    from busyhour.sim.export import simulate_csv, simulate_document
    from busyhour.sim.jobs import DaskError, Interrupted
    from busyhour.sim.replicate import run_jobs, summarise

    runs: list = [None] * replications
    first = 1 if event_log is not None else 0  # replication 0 runs here when its events are logged
    partial = False
    try:
        with Bar(replications, "replications", " (starting workers…)" if workers != 1 and replications > 1 else "") as bar:
            if first:
                try:
                    runs[0] = simulate(scn, 0, seed=seed, event_log=event_log, progress=bar, engine=engine.value,
                                       streaming_stats=streaming_stats)
                except OSError as exc:  # the event log is the only file this run writes (a full disk, a device)
                    fail(f"--event-log {event_log}: cannot write: {exc.strerror or exc}")
                bar(1)
            if replications > first:
                try:
                    runs[first:] = run_jobs([(scn, r, seed) for r in range(first, replications)], workers=workers,
                                            dask_address=dask, progress=lambda k: bar(first + k), engine=engine.value,
                                            streaming_stats=streaming_stats)
                except Interrupted as exc:
                    runs[first:], partial = exc.results, True
    except KeyboardInterrupt:  # during the logged replication
        partial = True
    except DaskError as exc:
        fail(f"--dask: {exc}")
    except SimulationError as exc:
        fail(f"{scenario}: {exc}")
    finished = [r for r in runs if r is not None]
    if partial:
        interrupted(len(finished), replications)
        if not finished:
            exit_interrupted()
    summary = summarise(finished)
    if plot is not None:
        from busyhour.sim.plot import plot_summary

        plot_summary(summary, plot, scn, target=target, partial=partial)
        info(f"plot written: {plot}")
    if fmt is OutputFormat.json:
        doc = simulate_document(summary, scn, target=target, partial=partial, planned_replications=replications)
        emit(fmt, out, text=json.dumps(doc, indent=2, allow_nan=False) + "\n")
    elif fmt is OutputFormat.csv:
        emit(fmt, out, text=simulate_csv(summary, scn, partial=partial))
    else:
        tables = summary_tables(summary, scn, target, partial, replications)

        def draw(con) -> None:
            tables(con)
            con.print(engine_line(summary.engine))

        emit(fmt, out, table=draw)
    if partial:
        exit_interrupted()


def _deprecated_out(flag: str, value: Optional[Path], fmt: OutputFormat, out: Optional[Path]):
    if value is None:
        return fmt, out
    if out is not None:
        fail(f"{flag}: give --out FILE with --format instead ({flag} is a deprecated alias)", EXIT_USAGE)
    if fmt is not OutputFormat.table and fmt.value != flag[2:]:  # table is the default: not told apart from no -f
        fail(f"{flag} FILE writes {flag[2:]}; it cannot be combined with --format {fmt.value}", EXIT_USAGE)
    info(f"{flag} FILE is deprecated: use --format {flag[2:]} --out FILE")
    return OutputFormat(flag[2:]), value


def sweep_cmd(
    scenario: Path = typer.Argument(..., help="scenario TOML (docs/scenarios.md)", callback=input_path),
    agents: str = typer.Option(..., "--agents", help="seat counts FROM:TO[:STEP] (TO included) or a comma list"),
    strategies: Optional[str] = typer.Option(None, "--strategies", help="comma list of router strategies"),
    replications: int = typer.Option(10, "--replications", "-r", min=1, max=MAX_REPLICATIONS),
    seed: Optional[int] = typer.Option(None, "--seed", help="overrides the scenario's seed (0 to 2**63-1)"),
    fmt: OutputFormat = format_option(help="table, csv or json: one row per point, with the paired ΔSL"),
    out: Optional[Path] = out_option(),
    sl: Optional[str] = typer.Option(None, "--sl", help=SL_HELP),
    plot: Optional[Path] = plot_option("Save SL, abandonment and ΔSL against agents to FILE (png, pdf, svg, …)."),
    csv_out: Optional[Path] = out_option("Deprecated: same as --format csv --out FILE.", flag="--csv"),
    json_out: Optional[Path] = out_option("Deprecated: same as --format json --out FILE.", flag="--json"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, max=256),
    dask: Optional[str] = typer.Option(None, "--dask", help="run on a Dask cluster, e.g. tcp://host:8786"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    engine: Engine = engine_option(),
) -> None:
    """Service level and abandonment against seat count, per routing strategy (same callers everywhere)."""
    if csv_out is not None and json_out is not None:
        fail("--csv and --json: give one (or --format with --out)", EXIT_USAGE)
    fmt, out = _deprecated_out("--csv", csv_out, fmt, out)
    fmt, out = _deprecated_out("--json", json_out, fmt, out)
    scn, seed, target = load(scenario, seed, sl)
    from busyhour.sim.routing import check_router_config
    from busyhour.sim.scenario import ScenarioError
    from busyhour.sim.sweep import SweepInterrupted, parse_agent_range, sweep

    try:
        counts = parse_agent_range(agents)
        strats = [s.strip() for s in strategies.split(",") if s.strip()] if strategies else None
        for s in strats or ():
            try:
                check_router_config(scn.with_strategy(s))
            except ScenarioError:
                fail(f"--strategies: unknown strategy {s!r}", EXIT_USAGE)
    except ScenarioError as exc:
        fail(str(exc), EXIT_USAGE)
    check_engine(scenario, [scn.with_strategy(s) for s in strats] if strats else [scn], engine)
    total = len(counts) * len(strats or [None]) * replications
    preflight(scn, total, force, dask, agent_runs=sum(counts) * len(strats or [None]) * replications)
    from busyhour.sim.driver import SimulationError
    from busyhour.sim.jobs import DaskError

    try:
        with Bar(total, "sweep", " (starting workers…)" if workers != 1 and total > 1 else "") as bar:
            result = sweep(scn, counts, strats, replications, seed=seed, workers=workers, dask_address=dask,
                           progress=bar, force=force, engine=engine.value)
    except SweepInterrupted as exc:
        result = exc.result
        interrupted(sum(p.summary.replications for p in result.points), total, "runs")
        if not result.points:
            exit_interrupted()
    except ScenarioError as exc:
        fail(str(exc), EXIT_USAGE)
    except DaskError as exc:
        fail(f"--dask: {exc}")
    except SimulationError as exc:
        fail(f"{scenario}: {exc}")
    _sweep_output(result, scn, fmt, out, plot, target, replications)
    if result.partial:
        exit_interrupted()


def _sweep_output(result, scn, fmt, out, plot, target: float, replications: int) -> None:
    from busyhour.sim.export import sweep_csv, sweep_document

    if plot is not None:
        from busyhour.sim.plot import plot_sweep

        plot_sweep(result, plot, target=target, threshold_s=scn.sl_threshold_s)
        info(f"plot written: {plot}")
    if fmt is OutputFormat.json:
        doc = sweep_document(result, target=target, threshold_s=scn.sl_threshold_s, planned_replications=replications)
        emit(fmt, out, text=json.dumps(doc, indent=2, allow_nan=False) + "\n")
        return
    if fmt is OutputFormat.csv:
        emit(fmt, out, text=sweep_csv(result, target=target))
        return
    from rich.table import Table

    mark = " — PARTIAL (interrupted)" if result.partial else ""
    t = Table(title=f"{result.scenario}: sweep, {replications} replications per point, seed {result.seed} "
                    f"(mean ± 95% CI; target {100 * target:g}% in {scn.sl_threshold_s:g} s){mark}")
    paired = len(result.strategies()) > 1
    cols = ["strategy", "agents", "SL", "abandon", "ASA s", "occupancy", "meets target"]
    if paired:
        cols.append(f"ΔSL vs {result.strategies()[0]} (paired)")
    for col in cols:
        t.add_column(col, justify="right", no_wrap=True)
    from busyhour.sim.export import meets_target

    for p in result.points:
        s = p.summary
        cells = [p.strategy, str(p.agents), short(s.service_level, True), short(s.p_abandon, True), short(s.asa_s),
                 short(s.occupancy, True), "yes" if meets_target(p, target) else "no"]
        if paired:
            diff = result.paired_difference(p)
            cells.append("" if diff is None else short(diff, True))
        t.add_row(*cells)
    emit(fmt, out, table=lambda con: con.print(t))


def bench_sim_cmd(
    fmt: OutputFormat = format_option(help="table, csv or json (the figures)"),
    out: Optional[Path] = out_option(),
    json_out: Optional[Path] = out_option("Also write the figures as JSON to FILE.", flag="--json"),
    calls: int = typer.Option(1_000_000, "--calls", min=1000, max=5_000_000, help="simulated calls per timed run"),
    repeats: int = typer.Option(3, "--repeats", min=1, max=50, help="timed runs (the median is reported)"),
    ciw: bool = typer.Option(True, "--ciw/--no-ciw", help="run the same workload in Ciw when installed"),
    busy_hour: bool = typer.Option(True, "--busy-hour/--no-busy-hour",
                                   help="also time examples/busy_hour.toml (busy_hour_* figures)"),
) -> None:
    """Simulated calls per second on M/M/100 at 90 Erlangs through the real engine (and Ciw side by side)."""
    from busyhour.bench.sim_bench import run_benchmark

    try:
        report = run_benchmark(calls=calls, repeats=repeats, with_ciw=ciw, busy_hour=busy_hour)
    except AssertionError as exc:
        fail(f"correctness check failed before timing: {exc}")
    if json_out is not None:
        try:
            json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            fail(f"{json_out}: cannot write: {exc.strerror or exc}")
        info(f"written: {json_out}")
    scalars = {k: v for k, v in report.items() if not isinstance(v, list)}
    if fmt is OutputFormat.json:
        emit(fmt, out, text=json.dumps(report, indent=2) + "\n")
    elif fmt is OutputFormat.csv:
        import csv
        import io

        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([list(scalars), list(scalars.values())])
        emit(fmt, out, text=buf.getvalue())
    else:
        from rich.table import Table

        t = Table(title="bench sim")
        t.add_column("figure")
        t.add_column("value", justify="right")
        for k, v in scalars.items():
            t.add_row(k, f"{v:,.4g}" if isinstance(v, float) else str(v))
        emit(fmt, out, table=lambda con: con.print(t))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("simulate")(simulate_cmd)
    app.command("sweep")(sweep_cmd)
    bench_app.command("sim")(bench_sim_cmd)
