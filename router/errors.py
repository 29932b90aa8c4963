"""Exceptions raised by the router (whenever one is raised, state is unchanged), and the argument
checks both engines share."""

import math
import numbers

import numpy as np

from .core_layout import MAX_TIME_S


class RouterError(Exception):
    """Base class for every error the router raises on bad input."""


class ConfigError(RouterError, ValueError):
    """Malformed configuration; the message names the key path."""


class UnknownIdError(RouterError, KeyError):
    """A call, agent, queue or skill id that the router does not know."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class StateError(RouterError):
    """An operation that is illegal in the current state (e.g. ready while logged out)."""


class OfferError(StateError):
    """An accept/reject for an offer that is not (or no longer) ringing."""


class TimeError(RouterError, ValueError):
    """``now`` went backwards, or is not a finite number."""


def real_seconds(now: object) -> float:
    """``now`` as a float: any finite real number (int, float, numpy integer or float) within ±MAX_TIME_S
    (1e12 s, about 31,700 years); TimeError otherwise."""
    if type(now) is float and -MAX_TIME_S <= now <= MAX_TIME_S:  # the common case (NaN fails both comparisons)
        return now
    if isinstance(now, (bool, np.bool_)) or not isinstance(now, numbers.Real):
        raise TimeError(f"now must be a finite number of seconds, got {now!r}")
    t = float(now)
    if not math.isfinite(t):
        raise TimeError(f"now must be a finite number of seconds, got {now!r}")
    if not -MAX_TIME_S <= t <= MAX_TIME_S:
        raise TimeError(f"now must be within ±{MAX_TIME_S:.0e} seconds (about 31,700 years), got {now!r}")
    return t


def flag(value: object, name: str) -> bool:
    """A yes/no argument: True, False, 0 or 1 (numpy booleans and integers too); StateError otherwise."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise StateError(f"{name} must be True or False, got {value!r}")


def check_reason(reason: object, what: str = "not-ready") -> None:
    """A not-ready or pause reason: a non-empty string without ':'."""
    if not isinstance(reason, str) or not reason or ":" in reason:
        raise StateError(f"{what} reason must be a non-empty string without ':', got {reason!r}")
