"""The ``busyhour`` command: a thin typer shell that parses and prints.

Each command group lives in its own module with a ``register(app, bench_app)``
function. Command modules import heavy dependencies (numba, simpy, matplotlib)
inside the command functions, so that ``busyhour erlang c`` starts fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="busyhour",
    help="Contact-center routing, Erlang staffing and simulation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
bench_app = typer.Typer(help="Benchmarks: routing throughput, Erlang speed, simulator speed.", no_args_is_help=True)
app.add_typer(bench_app, name="bench")

_COMMAND_MODULES = ("demo_cmd", "erlang_cmds", "sim_cmds", "router_cmds", "warmup_cmd")
for _name in _COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"busyhour.cli.{_name}")
    except ModuleNotFoundError as exc:  # a command group not written yet
        if exc.name != f"busyhour.cli.{_name}":
            raise
        continue
    _mod.register(app, bench_app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
