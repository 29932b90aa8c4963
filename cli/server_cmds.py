"""``busyhour serve`` and ``busyhour keys generate``: parse, check, hand over to router/server."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import typer

from busyhour.files import NotRegularFile, check_regular, path_problem

from .common import EXIT_USAGE, fail, info

keys_app = typer.Typer(help="CurveZMQ keys for the server and its clients.", no_args_is_help=True)

_HOSTPORT = re.compile(r"^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$")


def _metrics_addr(text: str) -> tuple[str, int]:
    m = _HOSTPORT.match(text)
    if not m or not 0 < int(m.group(2)) < 65536:
        fail(f"--metrics: expected HOST:PORT such as 127.0.0.1:9464, got {text!r}", EXIT_USAGE)
    return m.group(1).strip("[]"), int(m.group(2))


def serve(
    config: Path = typer.Argument(..., help="Router configuration (TOML, docs/routing.md)."),
    bind: str = typer.Option("tcp://127.0.0.1:5570", help="Command socket (ROUTER); clients use DEALER."),
    pub: str = typer.Option("tcp://127.0.0.1:5571", help="Event stream (PUB)."),
    journal: Optional[Path] = typer.Option(None, help="Journal folder: commands survive a crash and are replayed."),
    fsync: str = typer.Option("batch", help="always | batch | interval:MS | never (see docs/server.md)."),
    metrics: Optional[str] = typer.Option(None, help="Serve Prometheus metrics on HOST:PORT (e.g. 127.0.0.1:9464)."),
    curve_keys: Optional[Path] = typer.Option(None, help="Key folder from 'busyhour keys generate': CurveZMQ on."),
    insecure: bool = typer.Option(False, help="Allow a non-loopback bind without CurveZMQ (prints a warning)."),
    max_frame_bytes: int = typer.Option(1 << 20, min=1024, max=64 << 20, help="Largest frame accepted."),
    idempotency_window: int = typer.Option(1_000_000, min=1, max=10_000_000,
                                           help="Engine requests whose replies are kept for retries."),
    events_kept: int = typer.Option(1_000_000, min=1000, max=10_000_000, help="Recent events kept in memory."),
    snapshot_every: int = typer.Option(200_000, min=100, max=100_000_000,
                                       help="Engine requests between snapshots."),
    snapshot_interval_s: float = typer.Option(300.0, min=10, max=86_400,
                                              help="Also snapshot after this long, if any request came in."),
    keep_snapshots: int = typer.Option(2, min=1, max=1000, help="Snapshots kept; the journal is kept from the "
                                                                "oldest of them (docs/server.md)."),
    engine: str = typer.Option("auto", help="auto | compiled | python: the compiled core applies each "
                                            "wake-up's requests in one run; python serves every "
                                            "configuration (docs/server.md)."),
) -> None:
    """Serve one routing engine over ZeroMQ (docs/server.md, docs/protocol.md)."""
    from busyhour.router.errors import ConfigError
    from busyhour.router.server.journal import JournalError, parse_fsync
    from busyhour.router.server.loop import ServerError, ServerOptions, StartupError, run
    from busyhour.router.server.security import SecurityError

    from busyhour.router.server.engines import ENGINES

    try:
        check_regular(config)  # the server opens it: a pipe would hold the start-up until something writes to it
    except (FileNotFoundError, NotRegularFile) as exc:  # as 'busyhour server reload' says it (client/wire.py)
        fail(f"{config}: {path_problem(exc, 'is a folder')}; give the configuration file (TOML)", EXIT_USAGE)
    except OSError as exc:
        fail(f"{config}: {path_problem(exc)}", EXIT_USAGE)
    if engine not in ENGINES:
        fail(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}", EXIT_USAGE)
    try:
        parse_fsync(fsync)
    except ValueError as exc:
        fail(f"--fsync: {exc}", EXIT_USAGE)
    if journal is not None and journal.exists() and not journal.is_dir():
        fail(f"--journal {journal}: exists and is not a folder", EXIT_USAGE)
    if curve_keys is not None and not curve_keys.is_dir():
        fail(f"--curve-keys {curve_keys}: no such folder (make one with 'busyhour keys generate')", EXIT_USAGE)
    opts = ServerOptions(config=config, bind=bind, pub=pub, journal=journal, fsync=fsync,
                         metrics=_metrics_addr(metrics) if metrics else None, curve_keys=curve_keys,
                         insecure=insecure, max_frame_bytes=max_frame_bytes, idem_capacity=idempotency_window,
                         ring_capacity=events_kept, snapshot_every=snapshot_every,
                         snapshot_interval_s=snapshot_interval_s, engine=engine,
                         keep_snapshots=keep_snapshots)
    try:
        code = run(opts)
    except ConfigError as exc:  # the configuration file: bad input, as docs/cli.md's exit codes say
        fail(str(exc), EXIT_USAGE)
    except (StartupError, SecurityError) as exc:  # an endpoint, the journal folder, a public bind, the keys: the
        fail(str(exc), EXIT_USAGE)                # user's input or environment, refused before anything is served
    except (ServerError, JournalError) as exc:  # while serving (a journal write fails, a bug)
        fail(str(exc))
    raise typer.Exit(code)


@keys_app.command("generate")
def keys_generate(
    directory: str = typer.Argument(..., help="Folder for the keys (created if missing; its parent must exist)."),
    client: list[str] = typer.Option(["client"], "--client", "-c", help="A client name; repeat for several."),
) -> None:
    """Create the server keypair and one keypair per client (docs/server.md, Security)."""
    from busyhour.router.server.security import SecurityError, generate

    try:
        written = generate(directory, client)  # a str: typer would make "" the current folder, Path(".")
    except SecurityError as exc:  # each about the folder or names given: usage errors
        fail(str(exc), EXIT_USAGE)
    for p in written:
        typer.echo(str(p))
    info(f"give {Path(directory) / 'server.key'} and clients/NAME.key_secret to each client; "
         "the server admits every clients/*.key")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
