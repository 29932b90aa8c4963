"""Router configuration files: TOML text or a file, read with a size limit and validated (config.py)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from busyhour.files import FileTooLarge, path_problem, read_limited

from .config import RouterConfig, parse_config
from .errors import ConfigError


def toml_problem(text: str) -> tuple[dict | None, str | None]:
    """(the parsed table, None), or (None, why ``text`` is not TOML this program reads): a syntax error (with
    its line and column), arrays or tables nested past Python's recursion limit, or an integer of more digits
    than Python converts (4,300). tomllib raises the last two as other exceptions than its own."""
    try:
        return tomllib.loads(text), None
    except tomllib.TOMLDecodeError as exc:
        return None, str(exc)
    except RecursionError:
        return None, "arrays or tables nested too deep"
    except ValueError as exc:  # int("1" * 5000): "Exceeds the limit (4300 digits) for integer string conversion"
        return None, f"a value this program cannot read ({str(exc)[:120]})"


def parse_toml(text: str, source: str = "configuration") -> RouterConfig:
    """Validate a TOML router configuration given as text; ``source`` names it in errors
    (``"<source>: not valid TOML: … (at line N, column M)"``)."""
    raw, problem = toml_problem(text)
    if problem is not None:
        raise ConfigError(f"{source}: not valid TOML: {problem}")
    return parse_config(raw)


def read_toml_text(path: str | Path, max_bytes: int | None = None) -> str:
    """The text of a TOML file (UTF-8); ConfigError naming the file if it cannot be read or, with
    ``max_bytes``, is larger (checked before reading)."""
    try:
        data = read_limited(path, max_bytes)  # a named pipe is refused, never waited on
    except FileTooLarge as exc:
        raise ConfigError(f"{path}: {exc.size:,} bytes, over the {max_bytes:,}-byte limit") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {path_problem(exc)}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text (byte {exc.start})") from None


def load_toml(path: str | Path) -> RouterConfig:
    """Read and validate a TOML router configuration."""
    return parse_toml(read_toml_text(path), str(path))
