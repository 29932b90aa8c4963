"""``busyhour server reload``: send a configuration file to a running server and print what changed."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Optional

import typer

from .common import EXIT_USAGE, OutputFormat, fail, format_option, info

server_app = typer.Typer(help="Talk to a running server (busyhour serve).", no_args_is_help=True)


def _ids(values: Any) -> str:
    return ", ".join(str(v) for v in values)


def _rows(result: Any) -> list[tuple[str, str, str, str, str, str]]:
    """(queue, change, settings, members added, changed, removed) per queue added, changed or removed, as text,
    in the order the reload applies them."""
    return ([(name, "added", "", "", "", "") for name in result.queues_added]
            + [(q.queue, "changed", ", ".join(q.settings), _ids(q.members_added), _ids(q.members_updated),
                _ids(q.members_removed)) for q in result.queues]
            + [(name, "removed", "", "", "", "") for name in result.queues_removed])


def _document(result: Any) -> dict[str, Any]:
    return {"config_sha256": result.config_sha256, "changed": result.changed, "agents_added": list(result.agents_added),
            "queues_added": list(result.queues_added), "queues": [q._asdict() for q in result.queues],
            "queues_removed": list(result.queues_removed), "agents_removed": list(result.agents_removed),
            "events": len(result.events)}


def _table(result: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(width=max(100, Console().width))
    head = Table(title="reload", show_header=False)
    head.add_column("what", style="bold")
    head.add_column("value")
    head.add_row("configuration sha256", result.config_sha256)
    head.add_row("changed", "yes" if result.changed else "no: the server already runs this configuration")
    head.add_row("agents added", escape(_ids(result.agents_added)) or "-")
    head.add_row("agents removed", escape(_ids(result.agents_removed)) or "-")
    head.add_row("events", f"{len(result.events):,}")
    console.print(head)
    if result.queues or result.queues_added or result.queues_removed:
        t = Table(title="queues changed")
        for col in ("queue", "change", "settings", "members added", "members changed", "members removed"):
            t.add_column(col)
        for row in _rows(result):
            t.add_row(*(escape(v) or "-" for v in row))
        console.print(t)


@server_app.command("reload")
def reload_cmd(
    config: Path = typer.Option(..., "--config", "-c", help="The configuration file (TOML) to apply."),
    endpoint: str = typer.Option("tcp://127.0.0.1:5570", help="The server's command socket."),
    curve_keys: Optional[Path] = typer.Option(None, help="Client keys folder (busyhour keys generate), "
                                                         "if the server runs CurveZMQ."),
    curve_client: Optional[str] = typer.Option(None, help="The client name in --curve-keys, if it holds several."),
    timeout_s: float = typer.Option(10.0, min=0.1, max=3600, help="Seconds to wait for the reply (then retried)."),
    retries: int = typer.Option(2, min=0, max=100, help="Resends before giving up."),
    fmt: OutputFormat = format_option(),
) -> None:
    """Apply a configuration file to a running server, keeping its calls (docs/server.md, "Reloading").

    The file is read here and sent as the reload op; the server adds and removes agents and queues and applies
    queue members and settings, or refuses (naming the differences that need a restart, a queue removed that
    holds calls, an agent removed that is logged in) and changes nothing."""
    from busyhour.client import RouterClient, RouterRequestError, RouterUnavailable
    from busyhour.client.wire import read_config

    try:
        text = read_config(config)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        with RouterClient(endpoint, timeout_s=timeout_s, retries=retries, curve=curve_keys,
                          curve_client=curve_client) as client:
            result = client.reload(text)
    except ValueError as exc:  # bad keys folder, bad identity …
        fail(str(exc), EXIT_USAGE)
    except RouterRequestError as exc:
        fail(f"{config}: the server refused the reload ({exc.code}): {exc.message}")
    except RouterUnavailable as exc:
        fail(str(exc))
    if fmt == OutputFormat.json:
        typer.echo(json.dumps(_document(result), indent=2, default=str))
    elif fmt == OutputFormat.csv:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["queue", "change", "settings", "members_added", "members_updated", "members_removed"])
        w.writerows(_rows(result))
        typer.echo(out.getvalue(), nl=False)
    else:
        _table(result)
    info(f"reloaded {config}: " + ("changes applied" if result.changed else "nothing changed"))


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(server_app, name="server")
