"""A reader for Asterisk's configuration format (queues.conf, agents.conf).

Grammar (as Asterisk's config loader reads it):

* ``[name]`` opens a section; ``[name](!)`` a template (not a queue);
  ``[name](tpl1,tpl2)`` a section that first inherits every entry of the
  templates, in that order; ``[name](!,tpl)`` both; ``[name](+)`` adds entries
  to a section defined earlier.
* ``key = value`` and ``key => value`` (the same; ``member =>`` is the usual
  spelling); a key may repeat (one ``member`` line per member).
* ``;`` starts a comment (``\\;`` is a literal semicolon); ``;--`` … ``--;``
  is a block comment, possibly over several lines.
* ``#include FILE`` / ``#include "FILE"`` is **followed**: relative paths are
  taken from the including file's folder, wildcards are expanded, at most
  :data:`MAX_INCLUDE_DEPTH` deep and :data:`MAX_FILES` files in all, all of
  them together within the importer's size limit; an include cycle or a
  missing file is an error (``#tryinclude`` skips a missing file).
  ``#exec`` is **not** run: it is listed as not mapped.

Errors are :class:`SourceError` (``FILE:LINE: problem``). Cost: linear in the
input, template inheritance O(sections × entries inherited).
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from .common import Notes, SourceError, read_bounded

MAX_INCLUDE_DEPTH = 8
MAX_FILES = 64
MAX_TEMPLATE_DEPTH = 16
MAX_EXPANDED_OPTIONS = 1_000_000  # options of all sections, their templates' included

_SECTION = re.compile(r"^\[([^\[\]]+)\]\s*(?:\(([^()]*)\))?\s*$")


class Entry(NamedTuple):
    key: str
    value: str
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class Section:
    name: str
    file: str
    line: int
    template: bool = False
    parents: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


class _Reader:
    def __init__(self, notes: Notes) -> None:
        self.notes = notes
        self.budget = [0]
        self.files = 0
        self.lines: list[tuple[str, int, str]] = []

    def read(self, path: Path, label: str, depth: int, stack: tuple[Path, ...]) -> None:
        self.files += 1
        if self.files > MAX_FILES:
            raise SourceError(label, None, f"more than {MAX_FILES} files with the includes")
        in_block = False
        for n, raw in enumerate(read_bounded(path, self.notes, budget=self.budget, label=label), 1):
            text, in_block = _strip_comments(raw, in_block)
            stripped = text.strip()
            if stripped.startswith("#"):
                self.directive(stripped, path, label, n, depth, stack)
            elif stripped:
                self.lines.append((label, n, stripped))
        if in_block:
            raise SourceError(label, None, "a ';--' block comment is not closed with '--;'")

    def directive(self, text: str, path: Path, label: str, n: int, depth: int, stack: tuple[Path, ...]) -> None:
        word, _, arg = text[1:].partition(" ")
        word, arg = word.strip().lower(), arg.strip().strip('"').strip()
        if word == "exec":
            self.notes.skip(f"{label}:{n}", "file", "#exec", arg, "not run: the importer does not execute programs")
            return
        if word not in ("include", "tryinclude"):
            raise SourceError(label, n, f"unknown directive '#{word}' (known: #include, #tryinclude, #exec)")
        if not arg:
            raise SourceError(label, n, f"#{word} needs a file name")
        if depth >= MAX_INCLUDE_DEPTH:
            raise SourceError(label, n, f"includes nested deeper than {MAX_INCLUDE_DEPTH}")
        target = Path(arg) if os.path.isabs(arg) else path.parent / arg
        if glob.has_magic(str(target)):
            found = sorted(Path(p) for p in glob.glob(str(target)))[: MAX_FILES + 1]
        else:
            found = [target] if target.exists() else []
        if not found:
            if word == "tryinclude":
                return
            raise SourceError(label, n, f"#include: no such file {arg!r}")
        for f in found:
            real = f.resolve()
            if real in stack:
                raise SourceError(label, n, f"#include cycle: {arg!r} includes itself")
            self.read(f, str(f) if os.path.isabs(arg) else os.path.join(os.path.dirname(label), os.path.relpath(
                f, path.parent)), depth + 1, stack + (real,))


def _strip_comments(line: str, in_block: bool) -> tuple[str, bool]:
    """``line`` without its comments, and whether a block comment is still open after it."""
    if not in_block and "\\" not in line:  # the common case: no escape, so the first ';' is a comment
        cut = line.find(";")
        if cut < 0:
            return line, False
        if not line.startswith(";--", cut):
            return line[:cut], False
    out: list[str] = []
    i = 0
    while i < len(line):
        if in_block:
            end = line.find("--;", i)
            if end < 0:
                return "".join(out), True
            i, in_block = end + 3, False
            continue
        c = line[i]
        if c == "\\" and line.startswith(";", i + 1):
            out.append(";")
            i += 2
        elif c == ";":
            if line.startswith(";--", i):
                in_block, i = True, i + 3
                continue
            break
        else:
            out.append(c)
            i += 1
    return "".join(out), in_block


def read_sections(path: str | os.PathLike[str], notes: Notes, label: str | None = None) -> list[Section]:
    """The sections of an Asterisk configuration file (includes followed), templates resolved.

    Template sections are returned too (``template=True``) so that callers can skip them."""
    p = Path(path)
    name = label or str(path)
    reader = _Reader(notes)
    from .common import MAX_FILE_BYTES

    reader.budget[0] = MAX_FILE_BYTES
    reader.read(p, name, 0, (p.resolve(),))
    sections: dict[str, Section] = {}
    order: list[Section] = []
    current: Section | None = None
    for file, n, text in reader.lines:
        if text.startswith("["):
            current = _section(text, file, n, sections, order)
            continue
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise SourceError(file, n, f"expected 'key = value', '[section]' or a directive, got {text[:40]!r}")
        if current is None:
            raise SourceError(file, n, f"'{key.strip()}' before any [section]")
        value = value[1:] if value.startswith(">") else value
        current.entries.append(Entry(key.strip().lower(), value.strip(), file, n))
    _inherit(order, sections)
    return order


def _section(text: str, file: str, n: int, sections: dict[str, Section], order: list[Section]) -> Section:
    m = _SECTION.match(text)
    if not m:
        raise SourceError(file, n, f"malformed section header {text[:40]!r} (expected [name] or [name](options))")
    name = m.group(1).strip()
    opts = [o.strip() for o in (m.group(2) or "").split(",") if o.strip()]
    if not name:
        raise SourceError(file, n, "empty section name")
    if "+" in opts:
        if name not in sections:
            raise SourceError(file, n, f"[{name}](+) adds to a section that is not defined before it")
        return sections[name]
    if name in sections:
        first = sections[name]
        raise SourceError(file, n, f"section [{name}] defined twice (first at {first.where}); "
                                   f"write [{name}](+) to add to it")
    parents = tuple(o for o in opts if o != "!")
    for par in parents:
        if par not in sections:
            raise SourceError(file, n, f"[{name}] inherits from [{par}], which is not defined before it")
    sec = Section(name, file, n, template="!" in opts, parents=parents)
    sections[name] = sec
    order.append(sec)
    return sec


def _inherit(order: list[Section], sections: dict[str, Section]) -> None:
    """Put each section's inherited entries (its templates', in order, recursively) before its own.

    Checked first, in the order the sections are defined (a parent always comes before): the length of each
    inheritance chain (MAX_TEMPLATE_DEPTH) and the options the templates expand to (MAX_EXPANDED_OPTIONS): a
    chain of 20,000 templates, or templates each naming the previous one many times, would otherwise take
    memory growing with the square of the file (or faster)."""
    depth: dict[str, int] = {}
    size: dict[str, int] = {}
    total = 0
    for sec in order:
        depth[sec.name] = 1 + max((depth[p] for p in sec.parents), default=-1)
        if depth[sec.name] > MAX_TEMPLATE_DEPTH:
            raise SourceError(sec.file, sec.line, f"templates nested deeper than {MAX_TEMPLATE_DEPTH}")
        size[sec.name] = len(sec.entries) + sum(size[p] for p in sec.parents)
        total += size[sec.name]
        if total > MAX_EXPANDED_OPTIONS:
            raise SourceError(sec.file, sec.line, f"the sections' templates expand to more than "
                                                  f"{MAX_EXPANDED_OPTIONS:,} options in all")
    resolved: dict[str, list[Entry]] = {}
    for sec in order:
        resolved[sec.name] = [e for par in sec.parents for e in resolved[par]] + sec.entries
        sec.entries = list(resolved[sec.name])
