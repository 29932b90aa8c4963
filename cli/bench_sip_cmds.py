"""``busyhour bench sip``: calls per second through Kamailio + ``busyhour serve`` + SIPp (bench/sip_bench.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from .common import EXIT_USAGE, fail, info, out_option


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @bench_app.command("sip")
    def bench_sip(
        json_path: Optional[Path] = out_option("write the figures as JSON here", flag="--json", suffixes=(".json",)),
        agents: int = typer.Option(400, min=1, max=5_000, help="agents (spread over 4 SIPp phones)"),
        talk_ms: int = typer.Option(200, min=0, max=60_000, help="talk time of every call, ms"),
        step_s: float = typer.Option(5.0, min=1.0, max=60.0, help="seconds of calls per rate step"),
        max_rate: float = typer.Option(1000.0, min=1.0, max=5_000.0, help="highest offered rate, calls/s"),
        fsync: str = typer.Option("batch", help="the server's journal fsync policy"),
    ) -> None:
        """Highest call rate the whole SIP loop sustains with zero failed calls, and the router's CPU share.

        Needs Debian's kamailio, kamailio-python3-modules, python3-zmq,
        python3-msgpack and sip-tester (see docs/adapters.md)."""
        if not re.fullmatch(r"always|batch|never|interval:[0-9]{1,6}", fsync):
            fail(f"--fsync must be always, batch, never or interval:MS, got {fsync!r}", EXIT_USAGE)
        from busyhour.bench.sip_bench import run, write_json
        from busyhour.bench.sip_stack import missing_packages

        missing = missing_packages()
        if missing:
            fail("bench sip needs the Debian packages " + " ".join(missing))
        try:
            result = run(agents=agents, talk_ms=talk_ms, step_s=step_s, max_rate=max_rate, fsync=fsync)
        except (ValueError, RuntimeError) as exc:
            fail(str(exc))
        for step in result.steps:
            info(f"offered {step.rate_target:g}/s: {step.connected}/{step.calls} connected, {step.failed} failed "
                 f"({step.final_responses} final responses), "
                 f"{step.wall_cps:g} calls/s over {step.seconds:g} s, router CPU {step.router_cpu:.0%}, "
                 f"kamailio CPU {step.kamailio_cpu:.0%}")
        typer.echo(f"sustained {result.sustained_cps:g} calls/s with zero failed calls "
                   f"(router CPU {result.router_cpu:.0%} of a core, kamailio {result.kamailio_cpu:.0%}; "
                   f"{result.cores} cores)")
        if json_path is not None:
            write_json(result, json_path)
            info(f"json written: {json_path}")
