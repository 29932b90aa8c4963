"""The result of an import: the TOML text, the notes, and what was imported."""

from __future__ import annotations

from typing import NamedTuple

from .common import Note


class ImportResult(NamedTuple):
    """``toml``: a busyhour router configuration (notes as comments on top), valid for ``parse_config``;
    ``notes``: every option approximated or not mapped; ``queues`` / ``agents``: how many were imported."""

    toml: str
    notes: tuple[Note, ...]
    queues: int
    agents: int
