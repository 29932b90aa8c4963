"""The docs speak to users: no development notes in docs/*.md or README.md.

A development note ("the issue asks…", "in this session", "TODO") means
nothing to someone reading the documentation of an installed package; the
test names the file and line of each one it finds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
PHRASES = ("the issue", "issue asks", "this session", "earlier session", "last session", "previous session",
           "same session", "we were asked", "TODO")
PATTERNS = [re.compile(r"\b" + re.escape(p) + r"\b", re.IGNORECASE) for p in PHRASES]


def development_notes(text: str) -> list[tuple[int, str]]:
    """(line number, phrase) of every development-note phrase, each phrase checked on its own."""
    return [(n, m.group(0)) for n, line in enumerate(text.splitlines(), 1) for pat in PATTERNS
            for m in pat.finditer(line)]


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_no_development_notes(path):
    found = development_notes(path.read_text(encoding="utf-8"))
    assert not found, f"{path.name}: " + "; ".join(f"line {n}: {phrase!r}" for n, phrase in found)


def test_the_check_finds_a_note():
    assert development_notes("Fine.\nAs the issue asks, we do X.\n") == [(2, "the issue"), (2, "issue asks")]
    assert development_notes("todo lists\nA TODO here") == [(1, "todo"), (2, "TODO")]
    assert development_notes("Tissue samples; this sessionless API") == []
