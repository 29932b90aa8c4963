"""``busyhour bench server`` and ``busyhour bench soak``: the routing server measured over ZeroMQ.

Thin: parse, check (the JSON path before any work), call bench/server_bench.py
or bench/soak.py, print a table. See docs/performance.md.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import typer

from .common import EXIT_FAILURE, EXIT_USAGE, fail, info, out_option


def _fsync(text: str) -> str:
    from busyhour.router.server.journal import parse_fsync

    try:
        return str(parse_fsync(text))
    except ValueError as exc:
        fail(f"--fsync: {exc}", EXIT_USAGE)


def _write(path: Optional[Path], body: object) -> None:
    if path is None:
        return
    try:
        path.write_text(json.dumps(body, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    except OSError as exc:
        fail(f"{path}: cannot write: {exc.strerror or exc}")
    info(f"written: {path}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @bench_app.command("server")
    def bench_server(
        json_path: Optional[Path] = out_option("Write the figures as JSON to FILE.", flag="--json",
                                               suffixes=(".json",)),
        frames: str = typer.Option("single", help="single (one request per frame), batched (one array frame "
                                                  "per tick), or both"),
        fsync: str = typer.Option("batch", help="the server's journal policy: always | batch | interval:MS | never"),
        modules: int = typer.Option(1, min=1, max=2, help="servers with disjoint queue sets (clients route by queue)"),
        generators: int = typer.Option(2, min=1, max=16, help="load-generator processes"),
        agents: int = typer.Option(800, min=1, max=100_000, help="simulated agents per generator"),
        busy_share: float = typer.Option(0.5, min=0.05, max=1.0, help="the max run keeps this share of each "
                                         "queue's agents busy; the rest stay free for the 80 % run"),
        queues: int = typer.Option(8, min=1, max=1000, help="queues per generator"),
        calls: int = typer.Option(200_000, min=100, max=100_000_000, help="calls per run (bounded by --max-seconds)"),
        max_seconds: float = typer.Option(10.0, min=1.0, max=3600.0, help="arrivals stop after this; then a drain"),
        ring_delay_s: float = typer.Option(0.0, min=0.0, max=60.0, help="agent answers an offer after this"),
        talk_s: float = typer.Option(0.0, min=0.0, max=600.0, help="agent talks this long, then releases"),
        seed: int = typer.Option(1, min=0, max=2**31 - 1, help="random seed"),
        engine: str = typer.Option("auto", help="the server's engine: auto | compiled | python, or both "
                                                "(compiled and python, one after the other)"),
    ) -> None:
        """Lifecycles per second through 'busyhour serve' on loopback, at max and at 80 % of it."""
        if frames not in ("single", "batched", "both"):
            fail(f"--frames must be single, batched or both, got {frames!r}", EXIT_USAGE)
        if engine not in ("auto", "compiled", "python", "both"):
            fail(f"--engine must be auto, compiled, python or both, got {engine!r}", EXIT_USAGE)
        policy = _fsync(fsync)
        from busyhour.bench.server_bench import BenchSetup, run

        results = []
        runs = [(f, e) for f in (("single", "batched") if frames == "both" else (frames,))
                for e in (("compiled", "python") if engine == "both" else (engine,))]
        for f, e in runs:
            setup = BenchSetup(frames=f, fsync=policy, modules=modules, generators=generators, agents=agents,
                               queues=queues, calls=calls, max_seconds=max_seconds, ring_delay_s=ring_delay_s,
                               talk_s=talk_s, seed=seed, engine=e, busy_share=busy_share)
            try:
                setup.check()
                results.append(run(setup, progress=info))
            except ValueError as exc:
                fail(str(exc), EXIT_USAGE)
            except RuntimeError as exc:
                fail(str(exc))
        _print_bench(results)
        from busyhour.bench.server_bench import as_json

        _write(json_path, as_json(results))

    @bench_app.command("soak")
    def bench_soak(
        calls: int = typer.Option(100_000, min=100, max=10_000_000, help="calls over the whole soak"),
        kills: int = typer.Option(3, min=0, max=1000, help="SIGKILL + restart of the server, at random moments"),
        json_path: Optional[Path] = out_option("Write the results as JSON to FILE.", flag="--json",
                                               suffixes=(".json",)),
        frames: str = typer.Option("single", help="single or batched frames"),
        garbage_share: float = typer.Option(0.01, min=0.0, max=0.5, help="share of frames followed by garbage"),
        generators: int = typer.Option(2, min=1, max=16, help="load-generator processes"),
        agents: int = typer.Option(200, min=1, max=100_000, help="simulated agents per generator"),
        max_seconds: float = typer.Option(600.0, min=5.0, max=86_400.0, help="arrivals stop after this"),
        seed: int = typer.Option(1, min=0, max=2**31 - 1, help="random seed (kill moments, garbage)"),
    ) -> None:
        """Calls through a server that is SIGKILLed and restarted: nothing lost, stuck or applied twice."""
        if frames not in ("single", "batched"):
            fail(f"--frames must be single or batched, got {frames!r}", EXIT_USAGE)
        from busyhour.bench.soak import run

        try:
            r = run(calls, kills, frames=frames, generators=generators, agents=agents, queues=min(4, agents),
                    garbage_share=garbage_share, max_seconds=max_seconds, seed=seed, progress=info)
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)
        except RuntimeError as exc:
            fail(str(exc))
        _print_soak(r)
        _write(json_path, asdict(r))
        bad = {k: getattr(r, k) for k in ("lost_calls", "stuck_agents", "double_booked", "duplicates_applied")
               if getattr(r, k)}
        if bad or not r.replay_matches:
            shown = ", ".join(f"{k}={v}" for k, v in bad.items()) or "replay does not match"
            fail(f"soak failed: {shown}", EXIT_FAILURE)


def _print_bench(results: list) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="busyhour serve over ZeroMQ (arrive → offer → accept → release)")
    for col in ("frames", "engine", "fsync", "modules", "run", "lifecycles/s", "BHCA", "per module",
                "offer p50/p99/p99.9 ms", "waited", "server CPU µs/lifecycle", "proc. fail", "premature",
                "release fail", "connection"):
        table.add_column(col, justify="right")
    for r in results:
        for name, f in r.runs.items():
            lat = f.latency_ms
            table.add_row(r.frames, r.engine, r.fsync, str(r.modules), "max" if name == "max" else "80 %",
                          f"{f.lifecycles_per_s:,.0f}", f"{f.bhca / 1e6:,.1f} M",
                          " + ".join(f"{x:,.0f}" for x in f.lifecycles_per_s_by_module),
                          f"{lat['p50']:.2f} / {lat['p99']:.2f} / {lat['p999']:.2f}", f"{f.waited_share:.1%}",
                          "?" if f.server_cpu_us_per_lifecycle is None else f"{f.server_cpu_us_per_lifecycle:,.0f}",
                          f"{f.ratios['processing_failure']:.2g}", f"{f.ratios['premature_release']:.2g}",
                          f"{f.ratios['release_failure']:.2g}", f"{f.ratios['connection']:.4%}")
    Console(width=180).print(table)
    if results:
        info(results[0].caveat)


def _print_soak(r) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"fault soak: {r.kills} SIGKILLs, {r.elapsed_s:.0f} s")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for k in ("calls", "kills", "lost_calls", "stuck_agents", "double_booked", "duplicates_applied", "replay_matches",
              "resends", "reconnects", "garbage_frames"):
        table.add_row(k, str(getattr(r, k)))
    for k, v in r.ratios.items():
        table.add_row(k, f"{v:.4g}")
    Console(width=100).print(table)
