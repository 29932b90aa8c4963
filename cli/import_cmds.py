"""``busyhour import asterisk|freeswitch``: another PBX's queue configuration → a busyhour TOML configuration.

A thin shell over :mod:`busyhour.adapters.importers`: the TOML goes to stdout
(or ``--out FILE``, checked before the file is read); the options that were
approximated or not mapped are printed on stderr as a table (and are also
comments at the top of the TOML). A problem in the input file is one line,
``busyhour: error: FILE:LINE: problem``, exit 2. See docs/import.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from .common import EXIT_USAGE, fail, info, input_path, out_option, write_output

import_app = typer.Typer(help="Import a queue configuration from Asterisk or FreeSWITCH (prints busyhour TOML).",
                         no_args_is_help=True)
OUT = out_option("Write the TOML configuration to FILE instead of stdout.")


def _notes_table(result: Any) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(stderr=True)
    if not console.is_terminal:  # a log file or a pipe: keep each row on a few lines
        console.width = 160
    if not result.notes:
        console.print("every option was mapped")
        return
    t = Table(title=f"{len(result.notes)} options approximated or not mapped", title_justify="left")
    for col in ("where", "scope", "option", "value", "status", "why"):
        t.add_column(col, overflow="fold")
    for n in result.notes:
        scope = f"{n.scope} ({n.count})" if n.count > 1 else n.scope
        where = Path(n.where).name  # file:line, without the folder
        t.add_row(*(escape(x) for x in (where, scope, n.option, n.value, n.status, n.reason)))
    console.print(t)


def _run(call: Any, out: Optional[Path]) -> None:
    from busyhour.adapters.importers import SourceError

    try:
        result = call()
    except SourceError as exc:
        fail(str(exc), EXIT_USAGE)
    _notes_table(result)
    write_output(result.toml, out)
    info(f"imported {result.queues} queues and {result.agents} agents; {len(result.notes)} options approximated "
         "or not mapped (listed above and at the top of the configuration)")


@import_app.command("asterisk")
def asterisk_cmd(
    queues_conf: Path = typer.Argument(..., metavar="QUEUES.CONF", help="Asterisk queues.conf (includes followed).",
                                       callback=input_path),
    agents: Optional[Path] = typer.Option(None, "--agents", metavar="AGENTS.CONF",
                                          help="Asterisk agents.conf: the Agent/<id> members it defines.",
                                          callback=input_path),
    out: Optional[Path] = OUT,
) -> None:
    """Asterisk queues.conf (app_queue) → busyhour TOML."""
    from busyhour.adapters.importers import import_asterisk

    _run(lambda: import_asterisk(queues_conf, agents), out)


@import_app.command("freeswitch")
def freeswitch_cmd(
    callcenter_xml: Path = typer.Argument(..., metavar="CALLCENTER.CONF.XML",
                                          help="FreeSWITCH callcenter.conf.xml (mod_callcenter).", callback=input_path),
    out: Optional[Path] = OUT,
) -> None:
    """FreeSWITCH callcenter.conf.xml (mod_callcenter) → busyhour TOML."""
    from busyhour.adapters.importers import import_freeswitch

    _run(lambda: import_freeswitch(callcenter_xml), out)


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
