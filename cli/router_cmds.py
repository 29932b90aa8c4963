"""``busyhour bench router``: routing-core throughput (see bench/router_bench.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

SIZES = ("100", "1k", "10k", "100k")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @bench_app.command("router")
    def bench_router(
        workload: str = typer.Option("10k", help=f"agents: one of {', '.join(SIZES)}, or 'all'"),
        lifecycles: int = typer.Option(200_000, min=1_000, help="lifecycles to time (bounded by --max-seconds)"),
        max_seconds: float = typer.Option(20.0, min=1.0, help="time limit per workload"),
        stats: bool = typer.Option(False, "--stats/--no-stats", help="also derive interval statistics"),
        skills: Optional[int] = typer.Option(None, min=1, max=4096, help="override the workload's skill count"),
        queues: Optional[int] = typer.Option(None, min=1, max=10_000, help="override the workload's queue count"),
        fast_paths: bool = typer.Option(True, "--fast-paths/--no-fast-paths",
                                        help="available-member index where the strategy allows (off: kernel scan)"),
        strategy: str = typer.Option("longest-idle-agent", help="routing strategy of every queue"),
        engine: str = typer.Option("compiled", help="compiled (FastRouter batches), python (Router calls) or both"),
        batch: int = typer.Option(256, min=1, max=100_000, help="compiled: lifecycles per submitted batch"),
        json_path: Optional[Path] = typer.Option(None, "--json", help="write the figures as JSON here"),
        backlog: int = typer.Option(100_000, min=0, max=10_000_000,
                                    help="compiled: callers waiting in the outage-burst row (0: no backlog row)"),
    ) -> None:
        """Full call lifecycles per second through the router at ~90 % occupancy."""
        if workload != "all" and workload not in SIZES:
            typer.echo(f"error: --workload must be one of {', '.join(SIZES)} or 'all', got {workload!r}", err=True)
            raise typer.Exit(2)
        from rich.console import Console
        from rich.table import Table

        from busyhour.bench.router_batch import run as run_compiled
        from busyhour.bench.router_bench import run, workload as make_workload, write_json
        from busyhour.router import STRATEGIES, ConfigError

        if engine not in ("compiled", "python", "both"):
            typer.echo(f"error: --engine must be compiled, python or both, got {engine!r}", err=True)
            raise typer.Exit(2)
        if strategy not in STRATEGIES:
            typer.echo(f"error: --strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}", err=True)
            raise typer.Exit(2)

        console = Console(width=max(120, Console().width))
        results = []
        engines = ("python", "compiled") if engine == "both" else (engine,)
        for w in (SIZES if workload == "all" else (workload,)):
            wl = make_workload(w, skills=skills, queues=queues)
            for e in engines:
                with console.status(f"routing workload {w} on the {e} engine (warm-up, correctness check, timing)"):
                    try:
                        if e == "python":
                            results.append(run(wl, lifecycles=lifecycles, max_seconds=max_seconds, stats=stats,
                                               fast_paths=fast_paths, strategy=strategy))
                        else:
                            results.append(run_compiled(wl, lifecycles=lifecycles, max_seconds=max_seconds,
                                                        batch=batch, strategy=strategy))
                    except ConfigError as exc:
                        typer.echo(f"error: {exc}", err=True)
                        raise typer.Exit(2) from None
        table = Table(title="router lifecycles (arrive → offer → accept → release → wrap-up end)")
        for col in ("workload", "engine", "agents", "skills", "queues", "lifecycles/s", "BHCA", "decision p50 µs", "decision p99 µs",
                    "occupancy"):
            table.add_column(col, justify="right")
        for r in results:
            table.add_row(r.workload, r.engine, f"{r.agents:,}", str(r.skills), str(r.queues), f"{r.lifecycles_per_s:,.0f}",
                          f"{r.bhca:,.0f}", f"{r.decision_ns_p50 / 1e3:.1f}", f"{r.decision_ns_p99 / 1e3:.1f}",
                          f"{r.occupancy:.1%}")
        console.print(table)
        if backlog and engine != "python":
            _backlog_row(console, backlog)
        if json_path is not None:
            write_json(results, json_path)
            console.print(f"wrote {json_path}")


def _backlog_row(console, callers: int) -> None:
    """The outage-burst row: ``callers`` waiting, then drained (bench/router_backlog.py)."""
    from rich.table import Table

    from busyhour.bench.router_backlog import run as run_backlog

    if callers < 1_000:
        typer.echo(f"error: --backlog must be 0 or at least 1,000 callers, got {callers}", err=True)
        raise typer.Exit(2)
    with console.status(f"backlog: {callers:,} callers arrive with nobody answering, then are drained"):
        b = run_backlog(callers)
    table = Table(title=f"backlog (compiled): {b.callers:,} callers waiting, then drained by {b.agents:,} agents")
    for col in ("arrivals ops/s, first 5K waiting", f"… last 5K of {b.callers:,}", "arrivals, slowest tenth",
                "cost growth", "drain, slowest tenth", "drain mean ops/s"):
        table.add_column(col, justify="right")
    table.add_row(f"{b.fill_ops_per_s_first:,.0f}", f"{b.fill_ops_per_s_last:,.0f}", f"{b.fill_ops_per_s_min:,.0f}",
                  f"{b.growth:.2f}×", f"{b.drain_ops_per_s_min:,.0f}", f"{b.drain_ops_per_s_mean:,.0f}")
    console.print(table)
