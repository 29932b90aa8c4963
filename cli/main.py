"""The ``busyhour`` command: a thin typer shell that parses and prints.

Each command group lives in its own module with a ``register(app, bench_app)``
function. Command modules import heavy dependencies (numba, simpy, matplotlib)
inside the command functions, so that ``busyhour erlang c`` starts fast.
The shared style (one-line errors, exit codes, ``--format``, ``--out``,
``--version``) lives in :mod:`busyhour.cli.common`; see docs/cli.md.
"""

from __future__ import annotations

import importlib

import typer

from .common import CliGroup, version_option

app = typer.Typer(
    name="busyhour",
    cls=CliGroup,
    help="Contact-center routing, Erlang staffing and simulation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks: routing throughput, Erlang speed, simulator speed.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@app.callback()
def _root(version: bool = version_option()) -> None:
    """Contact-center routing, Erlang staffing and simulation."""


_COMMAND_MODULES = ("demo_cmd", "erlang_cmds", "sim_cmds", "router_cmds", "server_cmds", "journal_cmds",
                    "bench_server_cmds", "bench_sip_cmds", "warmup_cmd", "import_cmds", "server_reload_cmd")
for _name in _COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"busyhour.cli.{_name}")
    except ModuleNotFoundError as exc:  # a command group not written yet
        if exc.name != f"busyhour.cli.{_name}":
            raise
        continue
    _mod.register(app, bench_app)


def main() -> None:
    """The ``busyhour`` console script: errors in one line, exit 2 usage / 1 failure / 130 Ctrl-C."""
    app(prog_name="busyhour")


if __name__ == "__main__":
    main()
