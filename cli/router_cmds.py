"""``busyhour bench router``: routing-core throughput (see bench/router_bench.py)."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from .common import EXIT_USAGE, OutputFormat, fail, format_option, info, out_option, write_output

SIZES = ("100", "1k", "10k", "100k")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @bench_app.command("router")
    def bench_router(
        workload: str = typer.Option("10k", help=f"agents: one of {', '.join(SIZES)}, or 'all'"),
        lifecycles: int = typer.Option(200_000, min=1_000, max=1_000_000_000,
                                        help="lifecycles to time (bounded by --max-seconds)"),
        max_seconds: float = typer.Option(20.0, min=1.0, max=3600.0, help="time limit per workload (1 to 3,600 s)"),
        stats: bool = typer.Option(False, "--stats/--no-stats", help="also derive interval statistics"),
        skills: Optional[int] = typer.Option(None, min=1, max=4096, help="override the workload's skill count"),
        queues: Optional[int] = typer.Option(None, min=1, max=10_000, help="override the workload's queue count"),
        fast_paths: bool = typer.Option(True, "--fast-paths/--no-fast-paths",
                                        help="available-member index where the strategy allows (off: kernel scan)"),
        strategy: str = typer.Option("longest-idle-agent", help="routing strategy of every queue"),
        engine: str = typer.Option("compiled", help="compiled (Router.submit batches), per-call (Router's per-call "
                                   "methods), python (ReferenceRouter, the specification), both (python and "
                                   "compiled) or all three"),
        batch: int = typer.Option(256, min=1, max=100_000, help="compiled: lifecycles per submitted batch"),
        json_path: Optional[Path] = out_option("also write the figures as JSON to FILE", flag="--json"),
        fmt: OutputFormat = format_option(),
        out: Optional[Path] = out_option(),
        backlog: int = typer.Option(100_000, min=0, max=10_000_000,
                                    help="compiled: callers waiting in the outage-burst row (0: no backlog row)"),
    ) -> None:
        """Full call lifecycles per second through the router at ~90 % occupancy."""
        if workload != "all" and workload not in SIZES:
            fail(f"--workload must be one of {', '.join(SIZES)} or 'all', got {workload!r}", EXIT_USAGE)
        from rich.console import Console
        from rich.table import Table

        from busyhour.bench.router_batch import run as run_compiled
        from busyhour.bench.router_bench import run, workload as make_workload, write_json
        from busyhour.router import STRATEGIES, ConfigError

        if engine not in ("compiled", "python", "per-call", "both", "all"):
            fail(f"--engine must be compiled, python, per-call, both or all, got {engine!r}", EXIT_USAGE)
        if strategy not in STRATEGIES:
            fail(f"--strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}", EXIT_USAGE)
        if 0 < backlog < 1_000:
            fail(f"--backlog must be 0 or at least 1,000 callers, got {backlog}", EXIT_USAGE)

        console = Console(width=max(120, Console().width), stderr=True)  # the status spinner
        results = []
        engines = {"both": ("python", "compiled"), "all": ("python", "per-call", "compiled")}.get(engine, (engine,))
        for w in (SIZES if workload == "all" else (workload,)):
            wl = make_workload(w, skills=skills, queues=queues)
            for e in engines:
                with console.status(f"routing workload {w} on the {e} engine (warm-up, correctness check, timing)"):
                    try:
                        if e in ("python", "per-call"):
                            results.append(run(wl, lifecycles=lifecycles, max_seconds=max_seconds, stats=stats,
                                               fast_paths=fast_paths, strategy=strategy, engine=e))
                        else:
                            results.append(run_compiled(wl, lifecycles=lifecycles, max_seconds=max_seconds,
                                                        batch=batch, strategy=strategy, stats=stats))
                    except ConfigError as exc:
                        fail(str(exc), EXIT_USAGE)
        back = _backlog(console, backlog) if backlog and "compiled" in engines else None
        if fmt is not OutputFormat.table:
            rows = [asdict(r) for r in results]
            if fmt is OutputFormat.json:
                doc = rows[0] if len(rows) == 1 else {"runs": rows, **rows[-1]}
                if back is not None:
                    doc = {**doc, "backlog": back._asdict()}
                text = json.dumps(doc, indent=2) + "\n"
            else:
                buf = io.StringIO()
                w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
                w.writeheader()
                w.writerows(rows)
                text = buf.getvalue()
            write_output(text, out)
            if json_path is not None:
                write_json(results, json_path)
                info(f"written: {json_path}")
            return
        table = Table(title="router lifecycles (arrive → offer → accept → release → wrap-up end)")
        # skills and queues are in the JSON and CSV (and in the name of a workload they were changed for)
        for col in ("workload", "engine", "agents", "lifecycles/s", "CPU µs per lifecycle", "BHCA", "decision p50 µs",
                    "decision p99 µs", "occupancy"):
            table.add_column(col, justify="right", min_width=max(len(word) for word in col.split()))
        for r in results:
            table.add_row(r.workload, r.engine, f"{r.agents:,}", f"{r.lifecycles_per_s:,.0f}",
                          f"{r.cpu_us_per_lifecycle:.2f}", f"{r.bhca / 1e6:,.0f} M", f"{r.decision_ns_p50 / 1e3:.1f}",
                          f"{r.decision_ns_p99 / 1e3:.1f}", f"{r.occupancy:.1%}")
        tables = [table] if back is None else [table, _backlog_table(back)]
        if out is None:
            for t in tables:
                Console(width=console.width).print(t)
        else:
            buf = io.StringIO()
            for t in tables:
                Console(file=buf, width=console.width, color_system=None).print(t)
            write_output(buf.getvalue(), out)
        if json_path is not None:
            write_json(results, json_path)
            info(f"written: {json_path}")


def _backlog(console, callers: int):
    """The outage-burst row: ``callers`` waiting, then drained (bench/router_backlog.py)."""
    from busyhour.bench.router_backlog import run as run_backlog

    with console.status(f"backlog: {callers:,} callers arrive with nobody answering, then are drained"):
        return run_backlog(callers)


def _backlog_table(b):
    from rich.table import Table

    table = Table(title=f"backlog (compiled): {b.callers:,} callers waiting, then drained by {b.agents:,} agents")
    for col in ("arrivals ops/s, first 5K waiting", f"… last 5K of {b.callers:,}", "arrivals, slowest tenth",
                "cost growth", "drain, slowest tenth", "drain mean ops/s"):
        table.add_column(col, justify="right")
    table.add_row(f"{b.fill_ops_per_s_first:,.0f}", f"{b.fill_ops_per_s_last:,.0f}", f"{b.fill_ops_per_s_min:,.0f}",
                  f"{b.growth:.2f}×", f"{b.drain_ops_per_s_min:,.0f}", f"{b.drain_ops_per_s_mean:,.0f}")
    return table
