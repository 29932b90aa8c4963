"""Importers from other PBXs' queue configurations to a busyhour router configuration.

``import_asterisk(queues.conf, agents.conf=None)`` and
``import_freeswitch(callcenter.conf.xml)`` return an :class:`ImportResult`:
the TOML text (valid for :func:`busyhour.router.config.parse_config`) and a
:class:`Note` for every option approximated or not mapped. A problem in an
input file raises :class:`SourceError` (``FILE:LINE: problem``). Limits and
the option mapping: docs/import.md.
"""

from .asterisk import import_asterisk
from .common import (
    APPROXIMATED, MAX_AGENTS, MAX_FILE_BYTES, MAX_LINE_CHARS, MAX_MEMBERS, MAX_NUMBER, MAX_QUEUES, NOT_MAPPED, Note,
    SourceError,
)
from .freeswitch import import_freeswitch
from .result import ImportResult

__all__ = ["import_asterisk", "import_freeswitch", "ImportResult", "Note", "SourceError", "APPROXIMATED",
           "NOT_MAPPED", "MAX_FILE_BYTES", "MAX_LINE_CHARS", "MAX_QUEUES", "MAX_AGENTS", "MAX_MEMBERS",
           "MAX_NUMBER"]
