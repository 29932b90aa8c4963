"""``busyhour journal inspect DIR``: what a server journal holds and what a restart will replay."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import typer

from .common import EXIT_USAGE, OutputFormat, fail, format_option

journal_app = typer.Typer(help="Server journals: inspect what a restart will replay.", no_args_is_help=True)


def _utc(unix_s: float | None) -> str:
    if unix_s is None:
        return "-"
    return datetime.fromtimestamp(unix_s, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)


def summary(info: Any) -> dict[str, Any]:
    """The figures shown for a :class:`JournalInfo`, as one flat mapping (also the JSON document)."""
    usable = [s for s in info.snapshots if "error" not in s]
    newest = usable[-1] if usable else None
    end = info.first_record + info.records
    epoch = info.epoch_unix_s
    header = dict(info.header) if info.header is not None else None
    if header is not None and isinstance(header.get("config_toml"), str):  # the text itself is not shown
        header["config_toml_bytes"] = len(header.pop("config_toml").encode("utf-8"))
    return {
        "path": info.path,
        "segments": info.segments,
        "first_record": info.first_record,
        "records": info.records,
        "bytes": info.bytes,
        "first_time_s": info.first_time_s,
        "last_time_s": info.last_time_s,
        "epoch_unix_s": epoch,
        "first_time_utc": _utc(epoch + info.first_time_s) if epoch is not None and info.first_time_s is not None
        else None,
        "last_time_utc": _utc(epoch + info.last_time_s) if epoch is not None and info.last_time_s is not None
        else None,
        "commands": info.commands,
        "arrivals": info.arrivals,
        "reloads": info.reloads,
        "last_seq": info.last_seq,
        "snapshots": info.snapshots,
        "replay_from_record": newest["record"] if newest else info.first_record,
        "replay_records": end - (newest["record"] if newest else info.first_record),
        "torn": info.torn,
        "undecodable": info.undecodable,
        "header": header,
    }


def _table(doc: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    header = doc["header"] or {}
    t = Table(title=escape(f"journal {doc['path']}"), show_header=False)
    t.add_column("what", style="bold")
    t.add_column("value")
    t.add_row("format", str(header.get("format", "-")) if doc["header"] else "no header (a new journal)")
    t.add_row("epoch", _utc(doc["epoch_unix_s"]))
    if header.get("config_sha256"):
        t.add_row("config sha256", str(header["config_sha256"])[:16] + "…")
    if doc["header"]:
        kept = header.get("config_toml_bytes")
        t.add_row("first config", f"kept in the header ({kept:,} bytes)" if kept is not None
                  else "not kept (the file it started with must stay)")
    t.add_row("segments", str(doc["segments"]))
    end = doc["first_record"] + doc["records"]
    t.add_row("records", f"{doc['records']:,}" + (f" (records {doc['first_record']:,} – {end - 1:,})"
                                                  if doc["records"] else ""))
    t.add_row("bytes", f"{doc['bytes']:,}")
    if doc["first_time_s"] is not None:
        span = doc["last_time_s"] - doc["first_time_s"]
        t.add_row("time span", f"{doc['first_time_s']:.3f} s – {doc['last_time_s']:.3f} s ({span:.3f} s)")
        t.add_row("wall clock", f"{doc['first_time_utc']} – {doc['last_time_utc']}")
    t.add_row("commands", f"{doc['commands']:,}")
    t.add_row("calls arrived", f"{doc['arrivals']:,}")
    t.add_row("reloads", f"{doc['reloads']:,}")
    t.add_row("last seq", "-" if doc["last_seq"] is None else f"{doc['last_seq']:,}")
    t.add_row("snapshots", str(len(doc["snapshots"])))
    t.add_row("a restart replays", f"{doc['replay_records']:,} records (from record {doc['replay_from_record']:,})")
    t.add_row("torn tail", escape(doc["torn"] or "none"))
    if doc["undecodable"]:
        t.add_row("undecodable records", f"{doc['undecodable']:,}")
    console = Console(width=max(100, Console().width))
    console.print(t)
    if doc["snapshots"]:
        s = Table(title="snapshots")
        for col in ("file", "record", "time_s", "seq", "calls_live", "agents", "blob bytes"):
            s.add_column(col, justify="left" if col == "file" else "right")
        for snap in doc["snapshots"]:
            if "error" in snap:
                s.add_row(snap["file"], str(snap["record"]), f"[red]{escape(snap['error'])}[/red]", "", "", "", "")
                continue
            s.add_row(snap["file"], *(str(snap.get(k, "-")) for k in ("record", "time_s", "seq", "calls_live",
                                                                         "agents", "blob_bytes")))
        console.print(s)


def _csv(doc: dict[str, Any]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["field", "value"])
    for key, value in doc.items():
        if key == "snapshots":
            w.writerow(["snapshots", len(value)])
        elif key == "header":
            for hk, hv in (value or {}).items():
                w.writerow([f"header.{hk}", hv])
        else:
            w.writerow([key, "" if value is None else value])
    return out.getvalue()


@journal_app.command("inspect")
def inspect_cmd(
    directory: Path = typer.Argument(..., metavar="DIR", help="The journal folder (serve --journal DIR)."),
    fmt: OutputFormat = format_option(),
) -> None:
    """Show what a journal holds: records, time span, calls, last seq, snapshots, what a restart replays.

    Read-only: takes no lock and repairs nothing, so it is safe on the journal of a running server."""
    from busyhour.router.server.journal import JournalError, inspect

    if not directory.exists():
        fail(f"{directory}: no such journal folder", EXIT_USAGE)
    try:
        info = inspect(directory)
    except JournalError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{directory}: cannot read the journal: {exc.strerror or exc}")
    doc = summary(info)
    if fmt == OutputFormat.json:
        typer.echo(json.dumps(doc, indent=2, default=_jsonable))
    elif fmt == OutputFormat.csv:
        typer.echo(_csv(doc), nl=False)
    else:
        _table(doc)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(journal_app, name="journal")
