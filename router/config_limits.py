"""The bounds of a router configuration (docs/routing.md §12, "Limits"), checked by config.py.

A configuration reaches the engine from a file, from the server's
``reload`` and ``queue_add`` and from Python; each bound here holds for all
of them, so a name or count the file accepts is one every operation and the
wire protocol can name again, and nothing a configuration says can make the
engine allocate without bound or loop without time passing.
"""

from __future__ import annotations

import math
from typing import Any

from .errors import ConfigError

MAX_ID_BYTES = 128  #: an agent id, queue, skill, group or channel name (UTF-8), as the wire protocol takes them
INT_ID_RANGE = (-(1 << 63), (1 << 63) - 1)  #: an integer agent id fits in int64 (the protocol's integers)
MAX_AGENTS = 1_000_000  #: agents a router takes (the configuration's and those added at run time)
MAX_QUEUES = 10_000  #: queue rows a router takes (the configuration's and those added at run time)
MAX_SKILLS = 1_000  #: distinct skills (the skill table holds agents × skills bytes)
MAX_CHANNELS = 64
MAX_STEPS = 64  #: escalation steps of one queue
MAX_SECONDS = 1e9  #: any finite number of seconds, or other number, in a configuration (about 31 years)
#: The shortest ring timeout and ring-progressively step: each ends in a new offer at once, so a shorter one
#: would repeat without time passing (below the clock's resolution at large times) and flood the events.
MIN_RING_S = 0.1


def check_name(v: Any, path: str, what: str = "a name") -> str:
    """``v`` if it is a non-empty string of at most :data:`MAX_ID_BYTES` bytes of UTF-8."""
    if not isinstance(v, str) or not v:
        raise ConfigError(f"{path}: {what} must be a non-empty string, got {short(v)}")
    if 4 * len(v) > MAX_ID_BYTES and len(v.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise ConfigError(f"{path}: {what} is at most {MAX_ID_BYTES} bytes of UTF-8, got {short(v)}")
    if has_control_characters(v):  # printed in tables, logs and metrics' labels
        raise ConfigError(f"{path}: {what} must not contain control characters, got {short(v)}")
    return v


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a C0 or C1 control character (an escape sequence would reach a terminal); the
    simulator's scenario text is held to the same rule (sim/validate.py)."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def check_agent_id(v: Any, path: str) -> Any:
    """``v`` if it is an agent id: a name (:func:`check_name`) or an integer that fits in int64."""
    if isinstance(v, int) and not isinstance(v, bool):
        if not INT_ID_RANGE[0] <= v <= INT_ID_RANGE[1]:
            raise ConfigError(f"{path}: an integer agent id must fit in int64, got {short(v)}")
        return v
    if not isinstance(v, str):
        raise ConfigError(f"{path}: must be a string or integer, got {short(v)}")
    return check_name(v, path, "an agent id")


def check_count(n: int, limit: int, path: str, what: str) -> None:
    if n > limit:
        raise ConfigError(f"{path}: at most {limit:,} {what}, got {n:,}")


def check_seconds_bound(v: float, path: str) -> None:
    """A finite value of at most :data:`MAX_SECONDS` (infinity is each caller's own rule)."""
    if math.isfinite(v) and v > MAX_SECONDS:
        raise ConfigError(f"{path}: must be at most {MAX_SECONDS:g}, got {v:g}")


def short(v: Any, none: str = "None") -> str:
    """A short, safe description of a value for an error message, at most 50 characters: never a huge integer's
    digits (Python refuses to print more than 4,300), nor a container's items (a whole table; a wire array may
    be nested past the recursion limit), nor more than the first 40 characters of a string or bytes (a cut one
    ends in ``...``). ``none`` names None: the wire protocol (protocol.py) says ``nil``."""
    if v is None:
        return none
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 64:
        return f"an integer of {v.bit_length()} bits"
    if isinstance(v, dict):
        return f"a map of {len(v):,} {'entry' if len(v) == 1 else 'entries'}"
    if isinstance(v, (list, tuple, set, frozenset)):
        return f"{'a set' if isinstance(v, (set, frozenset)) else 'an array'} of {len(v):,} " \
               f"{'item' if len(v) == 1 else 'items'}"
    cut = isinstance(v, (str, bytes, bytearray)) and len(v) > 40
    text = repr(v[:40]) + "..." if cut else repr(v)
    return text if len(text) <= 50 else text[:47] + "..."
