"""What both importers share: bounded reading, the notes on unmapped options, the TOML writer.

An importer turns a PBX's queue configuration into the raw dict that
:func:`busyhour.router.config.parse_config` accepts, plus a list of
:class:`Note` records: one per option it could only approximate or could not
map, each with the file and line it came from and the reason.
:func:`render_toml` writes both as one TOML document (the notes as comments at
the top) and checks it with ``parse_config`` before returning it.

Limits (checked before any parsing; see docs/import.md): an input file, and
all files it includes together, at most :data:`MAX_FILE_BYTES` (4 MiB); a line
at most :data:`MAX_LINE_CHARS`; at most :data:`MAX_QUEUES` queues,
:data:`MAX_AGENTS` agents and :data:`MAX_MEMBERS` queue memberships. A
number option above :data:`MAX_NUMBER` is noted and ignored.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from busyhour.files import NotRegularFile, open_regular, path_problem

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_LINE_CHARS = 8192
MAX_QUEUES = 10_000
MAX_AGENTS = 100_000
MAX_MEMBERS = 1_000_000
MAX_NUMBER = 1_000_000_000  # any number option (seconds, counts, weights); larger values are noted and ignored

APPROXIMATED = "approximated"
NOT_MAPPED = "not mapped"


class SourceError(ValueError):
    """A problem in an input file: ``str()`` is ``FILE:LINE: problem`` (or ``FILE: problem``)."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file, self.line, self.problem = file, line, problem
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {problem}")


class Note(NamedTuple):
    """One option that was approximated or not mapped.

    ``where`` is ``file:line``; ``scope`` the queue, agent or section it belongs to
    (``agents`` when one row stands for many agents, ``count`` of them)."""

    where: str
    scope: str
    option: str
    value: str
    status: str  # APPROXIMATED or NOT_MAPPED
    reason: str
    count: int = 1


@dataclass
class Notes:
    """The notes of one import, in the order they were found."""

    items: list[Note] = field(default_factory=list)

    def add(self, where: str, scope: str, option: str, value: Any, status: str, reason: str) -> None:
        self.items.append(Note(where, scope, option, _short(value), status, reason))

    def approx(self, where: str, scope: str, option: str, value: Any, reason: str) -> None:
        self.add(where, scope, option, value, APPROXIMATED, reason)

    def skip(self, where: str, scope: str, option: str, value: Any, reason: str) -> None:
        self.add(where, scope, option, value, NOT_MAPPED, reason)

    def merged(self) -> list[Note]:
        """The notes with the rows of scope ``agents``/``members`` that share option and reason merged into one."""
        out: list[Note] = []
        index: dict[tuple, int] = {}
        for n in self.items:
            if n.scope not in ("agents", "members"):
                out.append(n)
                continue
            key = (n.scope, n.option, n.status, n.reason)
            if key not in index:
                index[key] = len(out)
                out.append(n)
                continue
            first = out[index[key]]
            value = first.value if first.value == n.value or first.value.endswith("…") else first.value + " …"
            out[index[key]] = first._replace(value=value, count=first.count + n.count)
        return out


def _short(value: Any, limit: int = 60) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_bytes(path: str | os.PathLike[str], *, budget: list[int] | None = None, label: str | None = None) -> bytes:
    """The bytes of ``path``, refused past the size limit (``budget``: a one-element list of bytes still
    allowed, shared by a file and its includes), a NUL byte or a line longer than the line limit."""
    name = label or str(path)
    p = Path(path)
    left = MAX_FILE_BYTES if budget is None else budget[0]
    too_big = f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB (with its includes); an imported " \
              "configuration is at most that size"
    try:
        with open_regular(p, devices=True) as fh:  # never waits on a pipe
            data = fh.read(left + 1)  # a file larger than the limit, or /dev/zero, stops here
    except NotRegularFile as exc:
        raise SourceError(name, None, path_problem(exc, "is a directory, not a configuration file")) from None
    except OSError as exc:
        raise SourceError(name, None, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > left:
        raise SourceError(name, None, too_big)
    if budget is not None:
        budget[0] -= len(data)
    if b"\x00" in data:
        raise SourceError(name, data[: data.index(b"\x00")].count(b"\n") + 1, "contains a NUL byte; not a text file")
    for n, line in enumerate(data.split(b"\n"), 1):
        if len(line) > MAX_LINE_CHARS:
            raise SourceError(name, n, f"line longer than {MAX_LINE_CHARS:,} characters")
    return data


def read_bounded(path: str | os.PathLike[str], notes: Notes | None = None, *, budget: list[int] | None = None,
                 label: str | None = None) -> list[str]:
    """The lines of ``path`` (UTF-8, else Latin-1 with a note), after :func:`read_bytes`'s checks."""
    name = label or str(path)
    data = read_bytes(path, budget=budget, label=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        text = data.decode("latin-1")
        if notes is not None:
            notes.approx(f"{name}:{line}", "file", "encoding", "not UTF-8", "read as Latin-1; check the names")
    return text.splitlines()


def check_counts(file: str, queues: int, agents: int, members: int) -> None:
    """Refuse a configuration with more queues, agents or memberships than the documented limits."""
    for what, n, limit in (("queues", queues, MAX_QUEUES), ("agents", agents, MAX_AGENTS),
                           ("queue memberships", members, MAX_MEMBERS)):
        if n > limit:
            raise SourceError(file, None, f"{n:,} {what}; at most {limit:,} are imported")


# --- TOML ---------------------------------------------------------------------------------------------------

def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, str):  # a JSON string is a TOML basic string, once DEL is escaped too
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _toml_key(k: str) -> str:
    return k if k and all(c.isalnum() or c in "_-" for c in k) and k.isascii() else json.dumps(k)


def _comment(text: str) -> str:
    """One TOML comment line: whitespace collapsed, control characters (not allowed in comments) dropped."""
    clean = "".join(c for c in " ".join(text.split()) if c >= " " and c != "\x7f")
    return "# " + clean if clean else "#"


def notes_comment(notes: list[Note]) -> list[str]:
    """The notes as TOML comment lines (empty list when there are none)."""
    if not notes:
        return ["# Every option was mapped."]
    out = [f"# Options approximated or not mapped ({len(notes)}):"]
    for n in notes:
        scope = f"{n.scope} ({n.count})" if n.count > 1 else n.scope
        value = f" = {n.value}" if n.value else ""
        out.append(_comment(f"  {n.where} [{scope}] {n.option}{value}: {n.status}: {n.reason}"))
    return out


def render_toml(raw: dict[str, Any], notes: list[Note], header: list[str], label: str) -> str:
    """``raw`` as a TOML document with ``header`` and the notes as comments on top; checked by ``parse_config``.
    A configuration it refuses (a name or id past the limits of docs/routing.md §12 — a 200-character section
    name, a member interface of 8,000 characters) is a SourceError naming the file ``label`` and the key."""
    lines = [_comment(h) for h in header] + ["#"] + notes_comment(notes) + [""]
    for key, value in raw.items():
        if key not in ("agents", "queues"):
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    for table in ("agents", "queues"):
        for item in raw.get(table, []):
            lines += ["", f"[[{table}]]"]
            for key, value in item.items():
                if key == "members" and value:
                    lines.append("members = [")
                    lines += [f"  {_toml_value(m)}," for m in value]
                    lines.append("]")
                else:
                    lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    text = "\n".join(lines) + "\n"
    from busyhour.router.config import parse_config
    from busyhour.router.errors import ConfigError

    try:
        parse_config(tomllib.loads(text))  # the output is always a valid configuration
    except ConfigError as exc:
        raise SourceError(label, None, f"not a configuration busyhour takes: {exc}") from None
    return text
