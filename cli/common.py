"""The one CLI style every ``busyhour`` command shares.

- Errors: exactly one line ``busyhour: error: <message>`` on stderr; exit 2
  for usage errors (a bad or missing option, a path refused before the run)
  and 1 for failures.  No traceback unless ``BUSYHOUR_DEBUG=1``.  Ctrl-C
  exits 130.  :class:`CliGroup` applies this to the root command, so it holds
  both for the installed ``busyhour`` script and for ``CliRunner`` tests.
- Results: ``--format/-f table|csv|json`` (:func:`format_option`) on stdout,
  or into ``--out FILE`` (:func:`out_option`, :func:`write_output`).
- Status lines ("plot written: …") always go to stderr (:func:`info`), so
  stdout carries only the results.
- Output paths are checked before any work (:func:`check_output_path`).

This module imports only typer/click and :mod:`busyhour.files` (the standard
library; matplotlib lazily, for plot paths), so the CLI starts fast.
"""

from __future__ import annotations

import enum
import math
import os
import sys
import traceback
from pathlib import Path
from typing import Any, Iterable, Literal, NoReturn, Optional

import typer
from typer.core import TyperGroup

from busyhour.files import NotRegularFile, check_regular

try:  # recent typer carries its own copy of click: its exceptions are the ones raised
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as click_exc  # type: ignore[no-redef]

_NoArgsIsHelp = getattr(click_exc, "NoArgsIsHelpError", ())

PROG = "busyhour"
DEBUG_ENV = "BUSYHOUR_DEBUG"
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class OutputFormat(str, enum.Enum):
    """The closed set of result formats: ``table`` for people, ``csv`` and ``json`` for scripts."""

    table = "table"
    csv = "csv"
    json = "json"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def error_line(message: str) -> str:
    """The error line without its newline: ``busyhour: error: <message>`` (whitespace collapsed)."""
    return f"{PROG}: error: {_one_line(message)}"


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``busyhour: error: <message>`` on stderr and exit with ``code``.

    Use code 1 for failures and 2 (``EXIT_USAGE``) for usage errors.  Raises
    SystemExit, which ``except Exception`` blocks do not swallow."""
    typer.echo(error_line(message), err=True)
    raise SystemExit(code)


def info(message: str) -> None:
    """Print a status line (``plot written: out.png``) on stderr; stdout is for results only."""
    typer.echo(message, err=True)


def package_version() -> str:
    """The installed busyhour version (``importlib.metadata``), or ``unknown`` when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PROG)
    except PackageNotFoundError:
        return "unknown"


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {package_version()}")
        raise typer.Exit()


def version_option() -> Any:
    """The root command's ``--version`` option: prints ``busyhour X.Y.Z`` and exits 0."""
    return typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                        help="Show the version and exit.")


def format_option(default: OutputFormat = OutputFormat.table, help: str | None = None) -> Any:
    """A ``--format/-f table|csv|json`` option (an :class:`OutputFormat`)."""
    return typer.Option(default, "--format", "-f", case_sensitive=False,
                        help=help or "Output format: table (people), csv or json (scripts).")


def _plot_suffixes() -> dict[str, str]:
    from matplotlib.figure import Figure

    return Figure().canvas.get_supported_filetypes()


def check_output_path(path: str | os.PathLike[str], *, kind: Literal["file", "plot"] = "file",
                      suffixes: Iterable[str] | None = None, option: str | None = None) -> Path:
    """Check, before any work, that ``path`` can be written; return it as a Path.

    Refused (``typer.BadParameter``, a one-line usage error, exit 2): an existing
    directory; a path below a file; a folder that cannot be created or written;
    a suffix outside ``suffixes`` (e.g. ``(".json",)``); for ``kind="plot"``, a
    suffix that matplotlib cannot write (its ``get_supported_filetypes()``:
    png, pdf, svg, …).  Missing parent folders are created here, before the
    run (like ``mkdir -p``), so ``--json out/x.json`` works in a fresh clone.
    ``option`` names the option in the message (``--plot``)."""
    hint = f"'{option}'" if option else None
    text = os.fspath(path)
    if not text.strip():
        raise typer.BadParameter("empty path; give a file name", param_hint=hint)
    p = Path(text).expanduser()
    if p.is_dir() or text.endswith(("/", os.sep)):
        what = "is a directory" if p.is_dir() else "ends in a slash, so it names a folder"
        raise typer.BadParameter(f"{text}: {what}; give a file name such as {text.rstrip('/')}/"
                                 f"{'plot.png' if kind == 'plot' else 'out.json'}", param_hint=hint)
    _check_suffix(p, text, kind, suffixes, hint)
    parent = p.parent
    existing = next(d for d in (parent, *parent.parents) if d.exists() or d == d.parent)
    if not existing.is_dir():
        raise typer.BadParameter(f"{text}: {existing} is not a folder", param_hint=hint)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise typer.BadParameter(f"{text}: folder {existing} is not writable", param_hint=hint)
    if existing != parent:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise typer.BadParameter(f"{text}: cannot create folder {parent} ({exc.strerror or exc})",
                                     param_hint=hint) from None
    if p.exists() and not os.access(p, os.W_OK):
        raise typer.BadParameter(f"{text}: file is not writable", param_hint=hint)
    _try_open(p, text, hint)
    return p


def _try_open(p: Path, text: str, hint: Optional[str]) -> None:
    """Open ``p`` for writing as the run will, changing nothing: a new file is made and removed at once, an
    existing regular file opened without truncating it. The permission checks above pass where a file still
    cannot be made (``/proc``, ``/sys``; root passes every permission check), and a run that found out only
    when writing its results lost all its work. Other existing paths (a terminal, a pipe) are left to the run:
    opening a pipe with no reader would block."""
    try:
        st = check_regular(p)
    except FileNotFoundError:
        st = None
    except NotRegularFile:
        return
    except OSError as exc:
        raise typer.BadParameter(f"{text}: cannot write ({exc.strerror or exc})", param_hint=hint) from None
    flags = os.O_WRONLY | (os.O_CREAT | os.O_EXCL if st is None else os.O_NONBLOCK)
    try:
        fd = os.open(p, flags, 0o666)
    except FileExistsError:
        return  # made by something else meanwhile (or a dangling symlink): the run opens it as it finds it
    except OSError as exc:
        what = "create the file" if st is None else "write the file"
        raise typer.BadParameter(f"{text}: cannot {what} ({exc.strerror or exc})", param_hint=hint) from None
    os.close(fd)
    if st is None:
        try:
            os.unlink(p)
        except OSError:
            pass  # gone already, or the folder refuses removal: an empty file is left where the run will write


def _check_suffix(p: Path, text: str, kind: str, suffixes: Iterable[str] | None, hint: Optional[str]) -> None:
    suffix = p.suffix.lower()
    if suffixes is not None:
        allowed = [s.lower() if s.startswith(".") else "." + s.lower() for s in suffixes]
        if suffix not in allowed:
            raise typer.BadParameter(f"{text}: the file name must end in {' or '.join(allowed)}", param_hint=hint)
    if kind == "plot":
        kinds = _plot_suffixes()
        if suffix.lstrip(".") not in kinds:
            shown = ", ".join(sorted(kinds))
            what = f"'{suffix}' is not an image format" if suffix else "no file extension"
            raise typer.BadParameter(f"{text}: {what}; use one of {shown}", param_hint=hint)


def _claim(ctx: Any, p: Path, name: str, output: bool) -> None:
    """Refuse an output path that an input or another output of the same command names too (through any
    symlink): the run would overwrite the input, or one output the other, and say nothing."""
    seen = ctx.meta.setdefault("busyhour.paths", [])
    key = os.path.realpath(os.path.expanduser(os.fspath(p)))
    for other_key, other, other_output in seen:
        if other_key == key and (output or other_output):
            what = "both would be written there" if output and other_output else "the run would overwrite it"
            raise typer.BadParameter(f"{p}: {other} names the same file ({what}); give another file name",
                                     param_hint=f"'{name}'")
    seen.append((key, name, output))


def _path_callback(kind: Literal["file", "plot"], suffixes: Iterable[str] | None):
    def check(ctx: Any, param: Any, value: Optional[Path]) -> Optional[Path]:
        if value is None or ctx.resilient_parsing:
            return value
        name = param.opts[0] if param.opts else None
        p = check_output_path(value, kind=kind, suffixes=suffixes, option=name)
        _claim(ctx, p, _label(param), True)
        return p
    return check


def input_path(ctx: Any, param: Any, value: Optional[Path]) -> Optional[Path]:
    """The callback of an input file's argument or option: noted, so that no output of the command names it."""
    if value is not None and not ctx.resilient_parsing:
        _claim(ctx, value, _label(param), False)
    return value


def _label(param: Any) -> str:
    """How a message names a parameter: its option (``--out``) or its argument's metavar (``SCENARIO``)."""
    if param.opts and param.opts[0].startswith("-"):
        return param.opts[0]
    return getattr(param, "metavar", None) or (param.name or "argument").upper()


def out_option(help: str = "Write the results to FILE instead of stdout.", *, flag: str = "--out",
               suffixes: Iterable[str] | None = None) -> Any:
    """An ``--out FILE`` option (``Optional[Path]``) checked by :func:`check_output_path` at parse time. It is
    parsed as text first: typer's own ``Path`` would drop a trailing slash, and ``x.json/`` write ``x.json``."""
    return typer.Option(None, flag, metavar="FILE", help=help, parser=str, callback=_path_callback("file", suffixes))


def plot_option(help: str = "Save a plot to FILE (png, pdf, svg, …).", *, flag: str = "--plot") -> Any:
    """A ``--plot FILE`` option (``Optional[Path]``): the folder must exist and matplotlib must know the suffix."""
    return typer.Option(None, flag, metavar="FILE", help=help, parser=str, callback=_path_callback("plot", None))


def write_output(text: str, out: Optional[Path]) -> None:
    """Print ``text`` on stdout, or write it to ``out`` and say so on stderr."""
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        Path(out).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{out}: cannot write: {exc.strerror or exc}")
    info(f"written: {out}")


class CliGroup(TyperGroup):
    """The root command group: runs click in non-standalone mode and applies the one error style.

    Usage errors -> one line, exit 2; ``click_exc.ClickException`` -> one line, its
    exit code; any other exception -> one line naming its type, exit 1 (the
    traceback too when ``BUSYHOUR_DEBUG=1``); Ctrl-C -> exit 130.  ``--help``
    and a bare command still print help."""

    def main(self, args: Any = None, prog_name: Optional[str] = None, complete_var: Optional[str] = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        sys.exit(run_styled(lambda: super(CliGroup, self).main(args, prog_name or PROG, complete_var,
                                                               standalone_mode=False, **extra)))


def _nan_input(exc: Exception) -> Optional[str]:
    """The text a user gave when it reads as NaN. typer checks a number's range with pydantic, which calls NaN
    out of range ("Input should be less than or equal to 3600"), as if the number were only too large."""
    errors = getattr(exc.__cause__, "errors", None)
    try:
        raw = errors()[0].get("input") if callable(errors) else None
        return raw if isinstance(raw, str) and math.isnan(float(raw)) else None
    except (TypeError, ValueError, IndexError, AttributeError):
        return None


def run_styled(call: Any) -> int:
    """Run ``call()`` (a click main in non-standalone mode) and return the exit code, printing errors in style."""
    try:
        rv = call()
    except _NoArgsIsHelp as exc:  # a bare group: show its help
        exc.show()
        return EXIT_USAGE
    except click_exc.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else PROG
        nan = _nan_input(exc)
        if nan is not None:
            exc.message = f"not a number: {nan!r}"
        typer.echo(error_line(f"{exc.format_message()} (see '{where} --help')"), err=True)
        return EXIT_USAGE
    except click_exc.ClickException as exc:
        typer.echo(error_line(exc.format_message()), err=True)
        return exc.exit_code
    except typer.Abort:
        typer.echo(error_line("aborted"), err=True)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        typer.echo(error_line("interrupted"), err=True)
        return EXIT_INTERRUPTED
    except SystemExit:
        raise
    except Exception as exc:  # the last line of defence: never a traceback for a user
        if os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            traceback.print_exc()
        message = str(exc) or type(exc).__name__
        if isinstance(exc, MemoryError):
            message = "out of memory"
        typer.echo(error_line(f"{message} ({type(exc).__name__}; set {DEBUG_ENV}=1 for the traceback)"),
                   err=True)
        return EXIT_FAILURE
    return rv if isinstance(rv, int) else 0
