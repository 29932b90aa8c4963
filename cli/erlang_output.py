"""Printing for the Erlang commands: rich tables for people, CSV/JSON for scripts.

A closed set of formats (``table``, ``csv``, ``json``; see :mod:`.common`).
Rows are typed records (NamedTuples); ``Column`` says which field to show,
its heading and how to format it in a table.  CSV and JSON print raw values
(full precision; infinity is ``inf`` in CSV and ``null`` in JSON) under
snake_case keys.  The ``answer`` of a search (``required_agents``) is a
summary line in the table, a ``summary`` key in JSON and a column in CSV.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Callable, NamedTuple, NoReturn, Optional

import typer

from .common import EXIT_USAGE, OutputFormat, fail, write_output

Format = OutputFormat  # the name the Erlang commands use

#: Most counts a --agents / --servers / --lines list or range may hold.
MAX_COUNTS = 100_000
#: Largest count accepted (the Erlang functions' limit).
MAX_COUNT = 10**9
#: Most rows the table format prints: rich lays out about 1,500 rows a second (a few seconds for a week of
#: 5-minute intervals, 2,016 rows), and nobody reads more in a terminal.  CSV and JSON have no such limit
#: (they print 100,000 rows in about a second).
MAX_TABLE_ROWS = 10_000


class Column(NamedTuple):
    field: str
    heading: str
    fmt: str | Callable[[Any], str] = "{}"
    """A format string, or a function of the value, for the table cell."""


def erl_cell(x: float) -> str:
    """Erlangs for a table: 3 decimals, or 4 significant digits beyond 10 million (1e+300, not 300 digits)."""
    return f"{x:.3f}" if abs(x) < 1e7 else f"{x:.4g}"


def prob_cell(x: float) -> str:
    """A probability for a table: 6 decimals, or 3 significant digits below 0.001."""
    return f"{x:.6f}" if x == 0 or x >= 1e-3 else f"{x:.3g}"


def usage(message: str) -> NoReturn:
    """A one-line usage error (exit 2): bad or missing options, unreadable input files."""
    fail(message, EXIT_USAGE)


_OPTION_NAMES = {
    "aht_s": "--aht-s", "patience_s": "--patience-s", "threshold_s": "--threshold-s", "load": "--load",
    "shrinkage": "--shrinkage", "max_occupancy": "--max-occupancy", "recall": "--recall",
    "target_s": "--asa-s", "trunk_blocking": "--trunk-blocking", "max_abandon": "--max-abandon",
    "servers": "--servers", "agents": "--agents", "calls": "--calls", "interval_s": "--interval-min",
}


def option_error(exc: ValueError, names: dict[str, str] | None = None) -> NoReturn:
    """Exit with a library ValueError ("aht_s must be ...") as a usage error naming the option.

    ``names`` maps library argument names to this command's options where the
    general mapping is ambiguous (``target`` is ``--blocking`` for trunks)."""
    msg = str(exc)
    name = msg.split(" ", 1)[0]
    mapping = {**_OPTION_NAMES, **(names or {})}
    if name in mapping:
        msg = mapping[name] + msg[len(name):]
    usage(msg)


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
    return col.fmt(value) if callable(col.fmt) else col.fmt.format(value)


def render(rows: list, columns: list[Column], fmt: Format, *, title: str = "",
           summary: dict[str, Any] | None = None, answer: dict[str, Any] | None = None,
           width: Optional[int] = None) -> Optional[str]:
    """``rows`` (records) as text in ``fmt``; ``summary``: extra key/value pairs (table, JSON);
    ``answer``: the result of a search (table and JSON summary, and a CSV column).

    A table for the terminal (``width`` None) is printed directly (rich colours) and None returned."""
    summary = {**(answer or {}), **(summary or {})}
    if fmt is Format.json:
        doc: dict[str, Any] = {"rows": [{c.field: _plain(getattr(r, c.field)) for c in columns} for r in rows]}
        if summary:
            doc["summary"] = {k: _plain(v) for k, v in summary.items()}
        return json.dumps(doc, indent=2, allow_nan=False) + "\n"
    if fmt is Format.csv:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        extra = list((answer or {}).items())
        w.writerow([c.field for c in columns] + [k for k, _ in extra])
        for r in rows:
            values = [_plain(getattr(r, c.field)) for c in columns] + [_plain(v) for _, v in extra]
            w.writerow(["inf" if v is None else v for v in values])
        return buf.getvalue()
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
    buf = io.StringIO() if width is not None else None
    console = Console(file=buf, width=max(needed, width or 0), color_system=None) if buf else Console()
    if console.width < needed:  # never truncate numbers: a wide table beats a wrong-looking one
        console = Console(width=needed)
    console.print(table)
    if summary:
        labels = {k: k.replace("_", " ") for k in summary}
        pad = max(len(v) for v in labels.values())
        for k, v in summary.items():
            console.print(f"{labels[k]:<{pad}}  {v}", highlight=False)
    return buf.getvalue() if buf is not None else None


def emit(rows: list, columns: list[Column], fmt: Format, *, title: str = "",
         summary: dict[str, Any] | None = None, answer: dict[str, Any] | None = None,
         out: Optional[Path] = None) -> None:
    """Print ``rows`` in ``fmt`` (see :func:`render`) on stdout, or write them to ``out``."""
    text = render(rows, columns, fmt, title=title, summary=summary, answer=answer,
                  width=100 if out is not None else None)
    if text is not None:
        write_output(text, out)


def parse_sl(text: str) -> tuple[float, float]:
    """``80/20`` or ``0.8/20`` -> (0.8, 20.0): a target above 1 is a percent, up to 1 a fraction
    (as in ``busyhour sim --sl``), so ``1/20`` is 100 %, which no queue reaches; 1 % is ``0.01/20``."""
    try:
        left, right = text.split("/")
        target, threshold = float(left), float(right)
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected PERCENT/SECONDS such as 80/20",
                                 param_hint="'--sl'") from None
    share = target / 100.0 if target > 1.0 else target
    if not 0.0 < share < 1.0:
        read = "is not a number" if math.isnan(target) else \
            f"reads as the fraction {share:g} ({share:.0%})" if target <= 1.0 else f"reads as {target:g} %"
        raise typer.BadParameter(f"{text!r}: the target {left.strip()} {read}; it must be above 0 and "
                                 "below 100 % (a number above 1 is a percent, up to 1 a fraction: 80 or 0.8 "
                                 "for 80 %, 0.01 for 1 %)", param_hint="'--sl'")
    from busyhour.erlang._validate import MAX_WAIT_S

    if not 0.0 <= threshold <= MAX_WAIT_S:  # NaN fails too
        raise typer.BadParameter(f"{text!r}: the seconds {right.strip()} must be a finite number >= 0 and at most "
                                 f"{MAX_WAIT_S:,.0f} (a day)", param_hint="'--sl'")
    return share, threshold


def check_wait(value: Optional[float], option: str, *, positive: bool = False, allow_inf: bool = False) -> None:
    """Refuse, before any work, a time in seconds outside the library's bound (0 to a day; see
    ``busyhour.erlang._validate.wait``), naming ``option``; None (not given) passes."""
    from busyhour.erlang._validate import wait

    if value is None:
        return
    try:
        wait(option, value, positive=positive, allow_inf=allow_inf)
    except ValueError as exc:
        usage(str(exc))


def check_table_rows(rows: int, fmt: Format, what: str) -> None:
    """Refuse, before any work, a table of more than MAX_TABLE_ROWS rows (``what`` names the input)."""
    if fmt is Format.table and rows > MAX_TABLE_ROWS:
        usage(f"{what} gives {rows:,} rows; the table format shows at most {MAX_TABLE_ROWS:,}: "
              "use -f csv or -f json for more")


def check_work(steps: float, what: str, ascending_helps: bool = False) -> None:
    """Refuse, before any work, an evaluation estimated at more than MAX_WORK_STEPS recursion steps
    (see busyhour.erlang.work); ``what`` names the counts, e.g. ``--agents 10:20 at 5 Erl``."""
    from busyhour.erlang.work import MAX_WORK_STEPS

    if steps > MAX_WORK_STEPS:
        usage(f"{what} needs about {steps:.1e} recursion steps, more than the limit of {MAX_WORK_STEPS:.0e} "
              "(about half a minute): give fewer counts or a STEP (FIRST:LAST:STEP)"
              + (", and list counts in ascending order" if ascending_helps else ""))


def parse_counts(text: str, hint: str) -> list[int]:
    """``14`` / ``10:20`` / ``10:20:2`` (inclusive) / ``10,12,15`` -> a list of counts.

    At most MAX_COUNTS counts, each 0 to MAX_COUNT; sizes are checked before
    any list is built (``0:1000000000`` is refused at once)."""
    limits = f"counts must be whole numbers 0 to {MAX_COUNT:,}, at most {MAX_COUNTS:,} of them"
    if text.count(",") >= MAX_COUNTS:
        raise typer.BadParameter(f"{text[:40]!r}...: {limits}", param_hint=hint)
    try:
        if ":" in text and "," not in text:
            parts = [int(x) for x in text.split(":")]
            if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] <= 0):
                raise ValueError
            values: range | list[int] = range(parts[0], parts[1] + 1, parts[2] if len(parts) == 3 else 1)
        else:
            values = [int(x) for x in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{text!r}: expected N, FIRST:LAST[:STEP] or N,N,...",
                                 param_hint=hint) from None
    if len(values) > MAX_COUNTS:  # a range's length is known before it is built
        raise typer.BadParameter(f"{text!r} holds {len(values):,} counts: {limits}", param_hint=hint)
    if not values or min(values) < 0 or max(values) > MAX_COUNT:
        raise typer.BadParameter(f"{text!r}: {limits}", param_hint=hint)
    return list(values)
