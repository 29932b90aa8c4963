"""Read a call forecast from CSV.

Format (see ``docs/erlang.md``)::

    interval_start,calls,aht_s
    08:00,96,250
    08:30,131,245

* A header row, then one row per interval.  Blank lines and lines starting
  with ``#`` are skipped.  Column names are case-insensitive; unknown columns
  are an error (a typo such as ``aht`` must not silently fall back to the
  default AHT).
* ``interval_start`` (required): ``HH:MM`` or an ISO date-time
  (``2026-03-02T08:00``).  Starts must increase.
* ``calls`` (required): calls offered in the interval, a number >= 0.
* ``aht_s`` (optional): average handling time in seconds, > 0; when absent
  the planner's ``--aht-s`` applies to every row.
* ``interval_min`` (optional): interval length in minutes, between
  ``MIN_INTERVAL_MIN`` (1) and ``MAX_INTERVAL_MIN`` (10,080, a week).  Without
  it the length is the (constant) difference between consecutive starts; a
  single row then needs the column.  Intervals must not overlap: each starts
  at or after the end of the one before.
* All starts in one form: ``HH:MM`` everywhere, or ISO date-times that all
  carry a UTC offset or all lack one.
* Limits: at most ``MAX_FORECAST_BYTES`` (50 MB) and ``MAX_FORECAST_ROWS``
  (200,000) intervals, checked while reading.

Every error is a :class:`ForecastError` naming the file, line and column:
``forecast.csv line 7, column calls: 'abc' is not a number``.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from busyhour.files import FileTooLarge, NotRegularFile, path_problem, read_limited

KNOWN_COLUMNS = ("interval_start", "calls", "aht_s", "interval_min")
#: Largest forecast file read (bytes) and most interval rows accepted.
MAX_FORECAST_BYTES = 50 * 1024 * 1024
MAX_FORECAST_ROWS = 200_000
#: Interval length bounds, minutes.
MIN_INTERVAL_MIN = 1.0
MAX_INTERVAL_MIN = 7 * 24 * 60.0


class ForecastError(ValueError):
    """A forecast file that cannot be used; the message names line and column."""


class ForecastInterval(NamedTuple):
    """One forecast row."""

    interval_start: str
    calls: float
    aht_s: float | None
    interval_min: float


class Forecast(NamedTuple):
    """A parsed forecast: the rows and where they came from."""

    source: str
    intervals: tuple[ForecastInterval, ...]


def _minutes(text: str) -> tuple[float, str]:
    """(minutes, kind): since midnight for HH:MM (kind "clock"), or since the epoch for ISO
    date-times (kind "naive" or "aware"; naive ones are read as UTC, never the local zone)."""
    t = text.strip()
    if len(t) <= 5 and ":" in t:
        hh, mm = t.split(":")
        h, m = int(hh), int(mm)
        if not (0 <= h <= 23 and 0 <= m < 60 and len(mm) == 2) and (h, m, mm) != (24, 0, "00"):
            raise ValueError
        return h * 60.0 + m, "clock"
    d = datetime.fromisoformat(t)
    if d.tzinfo is None:
        return d.replace(tzinfo=timezone.utc).timestamp() / 60.0, "naive"
    return d.timestamp() / 60.0, "aware"


_KIND_TEXT = {"clock": "HH:MM", "naive": "a date-time without UTC offset", "aware": "a date-time with a UTC offset"}


def _number(where: str, text: str, *, positive: bool) -> float:
    try:
        x = float(text)
    except ValueError:
        raise ForecastError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(x) or x < 0 or (positive and x == 0):
        need = "> 0" if positive else ">= 0"
        raise ForecastError(f"{where}: {text!r} must be a finite number {need}")
    return x


def parse_forecast(lines, source: str = "forecast") -> Forecast:
    """Parse forecast CSV text given as an iterable of lines."""
    rows = []
    try:
        for i, r in enumerate(csv.reader(lines), start=1):
            if r and any(c.strip() for c in r) and not r[0].lstrip().startswith("#"):
                if len(rows) > MAX_FORECAST_ROWS:  # header + MAX_FORECAST_ROWS intervals already read
                    raise ForecastError(f"{source}: more than {MAX_FORECAST_ROWS:,} intervals; "
                                        f"at most {MAX_FORECAST_ROWS:,} are accepted")
                rows.append((i, r))
    except csv.Error as exc:
        raise ForecastError(f"{source}: not a CSV file ({exc})") from None
    if not rows:
        raise ForecastError(f"{source}: the file is empty (expected a header row "
                            "interval_start,calls[,aht_s][,interval_min])")
    head_line, header = rows[0]
    names = [h.strip().lower() for h in header]
    for col, name in enumerate(names, start=1):
        if name not in KNOWN_COLUMNS:
            raise ForecastError(f"{source} line {head_line}, column {col}: unknown column {name!r} "
                                f"(known: {', '.join(KNOWN_COLUMNS)})")
        if names.count(name) > 1:
            raise ForecastError(f"{source} line {head_line}, column {col}: duplicate column {name!r}")
    for need in ("interval_start", "calls"):
        if need not in names:
            raise ForecastError(f"{source} line {head_line}: missing required column {need!r}")
    if len(rows) == 1:
        raise ForecastError(f"{source}: no interval rows after the header (line {head_line})")
    idx = {name: names.index(name) for name in names}
    starts, calls, ahts, lengths = [], [], [], []
    first_kind = None
    for line, row in rows[1:]:
        if len(row) != len(names):
            raise ForecastError(f"{source} line {line}: expected {len(names)} fields, got {len(row)}")
        cell = {name: row[i].strip() for name, i in idx.items()}
        where = f"{source} line {line}, column "
        try:
            minute, kind = _minutes(cell["interval_start"])
        except (ValueError, OverflowError, OSError):
            raise ForecastError(f"{where}interval_start: {cell['interval_start']!r} is not HH:MM "
                                "or an ISO date-time") from None
        first_kind = first_kind or kind
        if kind != first_kind:
            raise ForecastError(f"{where}interval_start: {cell['interval_start']!r} is {_KIND_TEXT[kind]} but "
                                f"the first interval is {_KIND_TEXT[first_kind]}; use one form throughout")
        if starts and minute <= starts[-1][1]:
            raise ForecastError(f"{where}interval_start: {cell['interval_start']!r} does not come "
                                f"after the previous interval {starts[-1][0]!r}")
        starts.append((cell["interval_start"], minute, line))
        calls.append(_number(where + "calls", cell["calls"], positive=False))
        ahts.append(_number(where + "aht_s", cell["aht_s"], positive=True) if "aht_s" in cell else None)
        if "interval_min" in cell:
            length = _number(where + "interval_min", cell["interval_min"], positive=True)
            if not MIN_INTERVAL_MIN <= length <= MAX_INTERVAL_MIN:
                raise ForecastError(f"{where}interval_min: {cell['interval_min']!r} must be between "
                                    f"{MIN_INTERVAL_MIN:g} and {MAX_INTERVAL_MIN:g} minutes")
            if lengths and starts[-2][1] + lengths[-1] > minute:
                raise ForecastError(f"{where}interval_start: {cell['interval_start']!r} starts before the "
                                    f"previous interval ({starts[-2][0]!r}, {lengths[-1]:g} min) ends")
            lengths.append(length)
    if not lengths:
        steps = {b[1] - a[1] for a, b in zip(starts, starts[1:])}
        if len(rows) == 2:
            raise ForecastError(f"{source}: one interval only; add an interval_min column")
        if len(steps) != 1:
            first_bad = next(b for a, b in zip(starts, starts[1:]) if b[1] - a[1] != starts[1][1] - starts[0][1])
            raise ForecastError(f"{source} line {first_bad[2]}, column interval_start: intervals are not "
                                "evenly spaced; add an interval_min column")
        step = steps.pop()
        if not MIN_INTERVAL_MIN <= step <= MAX_INTERVAL_MIN:
            raise ForecastError(f"{source}: intervals are {step:g} minutes apart; the length must be between "
                                f"{MIN_INTERVAL_MIN:g} and {MAX_INTERVAL_MIN:g} minutes")
        lengths = [step] * len(starts)
    intervals = tuple(ForecastInterval(s[0], c, h, m) for s, c, h, m in zip(starts, calls, ahts, lengths))
    return Forecast(source, intervals)


def read_forecast(path: str | Path) -> Forecast:
    """Read and parse a forecast CSV file (see the module docstring for the format)."""
    p = Path(path)
    try:  # a device is read up to the limit; a pipe is never waited on
        data = read_limited(p, MAX_FORECAST_BYTES, devices=True)
    except FileTooLarge:
        raise ForecastError(f"{p}: larger than {MAX_FORECAST_BYTES // (1024 * 1024)} MB; "
                            "a forecast file is at most that size") from None
    except NotRegularFile as exc:
        raise ForecastError(f"{p}: {path_problem(exc, 'is a directory, not a forecast file')}") from None
    except OSError as exc:
        raise ForecastError(f"{p}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ForecastError(f"{p}: not a UTF-8 text file") from None
    if "\0" in text:
        raise ForecastError(f"{p}: not a text file (it contains NUL bytes)")
    return parse_forecast(text.splitlines(), source=p.name)


__all__ = ["Forecast", "ForecastError", "ForecastInterval", "parse_forecast", "read_forecast"]
