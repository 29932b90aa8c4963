"""Printing for the Erlang commands: rich tables for people, CSV/JSON for scripts.

A closed set of formats (``table``, ``csv``, ``json``).  Rows are typed
records (NamedTuples); ``Column`` says which field to show, its heading and
how to format it in a table.  CSV and JSON print raw values (full precision;
infinity is ``inf`` in CSV and ``null`` in JSON).
"""

from __future__ import annotations

import csv
import enum
import io
import json
import math
import sys
from typing import Any, NamedTuple

import typer


class Format(str, enum.Enum):
    table = "table"
    csv = "csv"
    json = "json"


class Column(NamedTuple):
    field: str
    heading: str
    fmt: str = "{}"


def fail(message: str, *, code: int = 2) -> typer.Exit:
    """Print ``Error: message`` to stderr and return the Exit to raise."""
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


_OPTION_NAMES = {
    "aht_s": "--aht-s", "patience_s": "--patience-s", "threshold_s": "--threshold-s", "load": "--load",
    "shrinkage": "--shrinkage", "max_occupancy": "--max-occupancy", "recall": "--recall",
    "target_s": "--asa-s", "trunk_blocking": "--trunk-blocking", "max_abandon": "--max-abandon",
    "servers": "--servers", "agents": "--agents", "calls": "--calls", "interval_s": "--interval-min",
}


def option_error(exc: ValueError, names: dict[str, str] | None = None) -> typer.Exit:
    """Turn a library ValueError ("aht_s must be ...") into a CLI error naming the option.

    ``names`` maps library argument names to this command's options where the
    general mapping is ambiguous (``target`` is ``--blocking`` for trunks)."""
    msg = str(exc)
    name = msg.split(" ", 1)[0]
    mapping = {**_OPTION_NAMES, **(names or {})}
    if name in mapping:
        msg = mapping[name] + msg[len(name):]
    return fail(msg)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _cell(col: Column, value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "∞"
    return col.fmt.format(value)


def emit(rows: list, columns: list[Column], fmt: Format, *, title: str = "",
         summary: dict[str, Any] | None = None) -> None:
    """Print ``rows`` (records) in ``fmt``; ``summary`` is extra key/value lines (table, JSON)."""
    if fmt is Format.json:
        doc: dict[str, Any] = {"rows": [{c.field: _plain(getattr(r, c.field)) for c in columns} for r in rows]}
        if summary:
            doc["summary"] = {k: _plain(v) for k, v in summary.items()}
        typer.echo(json.dumps(doc, indent=2, allow_nan=False))
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([c.field for c in columns])
        for r in rows:
            w.writerow(["inf" if _plain(getattr(r, c.field)) is None else _plain(getattr(r, c.field))
                        for c in columns])
        sys.stdout.write(buf.getvalue())
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title or None, title_justify="left")
    cells = [[_cell(c, getattr(r, c.field)) for c in columns] for r in rows]
    for i, c in enumerate(columns):
        table.add_column(c.heading, justify="left" if c.fmt == "{}" else "right", no_wrap=True)
    for row in cells:
        table.add_row(*row)
    widths = [max([len(c.heading)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    needed = sum(widths) + 3 * len(columns) + 1
    console = Console()
    if console.width < needed:  # never truncate numbers: a wide table beats a wrong-looking one
        console = Console(width=needed)
    console.print(table)
    if summary:
        width = max(len(k) for k in summary)
        for k, v in summary.items():
            console.print(f"{k:<{width}}  {v}", highlight=False)


def parse_sl(text: str) -> tuple[float, float]:
    """``80/20`` or ``0.8/20`` -> (0.8, 20.0)."""
    try:
        left, right = text.split("/")
        target, threshold = float(left), float(right)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected PERCENT/SECONDS such as 80/20",
                                 param_hint="'--sl'") from None
    if target > 1.0:
        target /= 100.0
    if not (0.0 < target < 1.0) or not (math.isfinite(threshold) and threshold >= 0):
        raise typer.BadParameter(f"{text!r}: the target must be between 0 and 100 % (exclusive) and the "
                                 "seconds >= 0", param_hint="'--sl'")
    return target, threshold


def parse_counts(text: str, hint: str) -> list[int]:
    """``14`` / ``10:20`` / ``10:20:2`` (inclusive) / ``10,12,15`` -> a list of counts."""
    try:
        if "," in text:
            out = [int(x) for x in text.split(",")]
        elif ":" in text:
            parts = [int(x) for x in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] <= 0):
                raise ValueError
            out = list(range(parts[0], parts[1] + 1, parts[2] if len(parts) == 3 else 1))
        else:
            out = [int(text)]
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected N, FIRST:LAST[:STEP] or N,N,...",
                                 param_hint=hint) from None
    if not out or min(out) < 0 or len(out) > 100_000:
        raise typer.BadParameter(f"{text!r}: counts must be >= 0 (at most 100,000 of them)", param_hint=hint)
    return out
