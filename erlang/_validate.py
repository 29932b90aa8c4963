"""Argument checking shared by the public Erlang functions.

Every check raises ``ValueError`` whose message starts with the argument's
name, e.g. ``"load must be finite and >= 0 (got -1.0)"``.  Arrays are checked
element-wise and the first offending value is quoted (as a plain Python
number).  A value of the wrong type (a string, ``None``, a bool) raises
:class:`ArgumentTypeError`, which is both a ``TypeError`` and a ``ValueError``.
Python and numpy numbers (``np.int64``, ``np.float32``, arrays) are accepted.

Limits (docs/erlang.md): counts 0 to ``MAX_COUNT``; a positive load at least
``MIN_LOAD_ERL`` (smaller ones overflow the recursion's ratios); searches
(agents, lines) only for loads below ``MAX_COUNT``, since their answer
exceeds the load; waits (thresholds, ASA targets, mean patience) at most
``MAX_WAIT_S``, a day.
"""

from __future__ import annotations

import math

import numpy as np

from .kernels import MAX_COUNT, MIN_LOAD_ERL

#: Loads at or above this have no staffing / trunk answer within MAX_COUNT.
MAX_SEARCH_LOAD_ERL = float(MAX_COUNT)
#: Longest service-level threshold, ASA target or mean patience, in seconds: a day, the bound the simulator
#: puts on its durations and its sl_threshold_s (``sim.limits.MAX_DURATION_S``).  Planners work in seconds
#: to minutes; a mean patience that long is, for planning, no abandonment (give inf: Erlang C).
MAX_WAIT_S = 86_400.0


class ArgumentTypeError(TypeError, ValueError):
    """An argument of the wrong type (``erlang_b('10', 5)``, ``erlang_b(True, 1.0)``, ``None``)."""


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> object:
    x = arr[bad].flat[0] if arr.ndim else arr
    return x.item() if hasattr(x, "item") else x


def _numeric(name: str, value, what: str) -> np.ndarray:
    """``value`` as an array of a real numeric dtype; wrong types raise ArgumentTypeError."""
    if isinstance(value, (str, bytes)) or value is None:
        raise ArgumentTypeError(f"{name} must be {what} (got {value!r})")
    if type(value) is int and not -2**63 <= value < 2**63:  # beyond int64: compare it as a float
        value = math.copysign(math.inf, value) if abs(value) > 2**1023 else float(value)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"{name} must be {what} (got {value!r})") from None
    if arr.dtype.kind == "b":
        raise ArgumentTypeError(f"{name} must be {what}, not a bool (got {value!r})")
    if arr.dtype.kind not in "iuf":
        shown = value if arr.ndim == 0 else f"an array of {arr.dtype}"
        raise ArgumentTypeError(f"{name} must be {what} (got {shown!r})")
    return arr


def real(name: str, value, *, low: float = 0.0, low_open: bool = False,
         allow_inf: bool = False, high: float | None = None, high_open: bool = False) -> np.ndarray:
    """Return ``value`` as a float64 array after checking ``low <= value (<= high)``."""
    arr = _numeric(name, value, "a number").astype(np.float64)
    # NaN fails every comparison, so it is caught by the same tests
    if arr.ndim == 0:
        x = float(arr)
        good = (x > low if low_open else x >= low) and (
            (x < high if high_open else x <= high) if high is not None else (allow_inf or x < math.inf))
        if good:
            return arr
    ok = arr > low if low_open else arr >= low
    if high is not None:
        ok &= arr < high if high_open else arr <= high
    elif not allow_inf:
        ok &= arr < np.inf
    if not ok.all():
        bad = ~ok
        lo = f"> {low:g}" if low_open else f">= {low:g}"
        hi = "" if high is None else (f" and < {high:g}" if high_open else f" and <= {high:g}")
        fin = "" if allow_inf else "finite and "
        raise ValueError(f"{name} must be {fin}{lo}{hi} (got {_first_bad(arr, bad)!r})")
    return arr


def count(name: str, value) -> np.ndarray:
    """Return ``value`` as an int64 array of whole numbers in [0, MAX_COUNT]."""
    arr = _numeric(name, value, "a whole number")
    if arr.dtype.kind in "iu":
        bad = (arr < 0) | (arr > MAX_COUNT)  # compared before the cast: uint64 > int64 max stays bad
        ints = np.where(bad, 0, arr).astype(np.int64)
    else:
        bad = ~np.isfinite(arr) | (arr < 0) | (arr > MAX_COUNT)
        bad |= ~bad & (arr != np.floor(np.where(bad, 0.0, arr)))
        ints = np.where(bad, 0, arr).astype(np.int64)
    if np.any(bad):
        raise ValueError(f"{name} must be a whole number between 0 and {MAX_COUNT:,} "
                         f"(got {_first_bad(arr, bad)!r})")
    return ints


def load(name: str, value, *, search: bool = False) -> np.ndarray:
    """An offered load in Erlangs: 0, or finite and >= MIN_LOAD_ERL; below MAX_SEARCH_LOAD_ERL
    when a count is searched for (``search=True``)."""
    arr = real(name, value)
    bad = (arr > 0.0) & (arr < MIN_LOAD_ERL)
    if np.any(bad):
        raise ValueError(f"{name} must be 0 or at least {MIN_LOAD_ERL:g} Erlangs (got {_first_bad(arr, bad)!r})")
    if search:
        bad = arr >= MAX_SEARCH_LOAD_ERL
        if np.any(bad):
            raise ValueError(f"{name} must be below {MAX_SEARCH_LOAD_ERL:.0e} Erlangs to search for a count: "
                             f"the answer would exceed {MAX_COUNT:,} (got {_first_bad(arr, bad)!r})")
    return arr


def wait(name: str, value, *, positive: bool = False, allow_inf: bool = False) -> np.ndarray:
    """A waiting time in seconds: 0 (or > 0 with ``positive``) to ``MAX_WAIT_S``; ``inf`` too with
    ``allow_inf`` (a patience of inf is Erlang C).  NaN and -inf are refused with the same message."""
    arr = _numeric(name, value, "a number of seconds").astype(np.float64)
    ok = (arr > 0.0 if positive else arr >= 0.0) & ((arr <= MAX_WAIT_S) | (allow_inf & (arr == np.inf)))
    if not ok.all():
        span = "above 0 and at most" if positive else "between 0 and"
        raise ValueError(f"{name} must be {span} {MAX_WAIT_S:,.0f} s (a day){', or inf' if allow_inf else ''} "
                         f"(got {_first_bad(arr, ~ok)!r})")
    return arr


def found(out: np.ndarray, what: str) -> np.ndarray:
    """Check a search kernel's output: -1 means no count up to MAX_COUNT meets the target."""
    if np.any(out < 0):
        raise ValueError(f"no {what} count up to {MAX_COUNT:,} meets the target")
    return out


def probability(name: str, value) -> np.ndarray:
    """A target probability strictly inside (0, 1)."""
    return real(name, value, low=0.0, low_open=True, high=1.0, high_open=True)


def flat(*arrays: np.ndarray) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcast, then return the common shape and contiguous 1-d arrays.

    Arrays already of the common shape are passed through (the kernels never
    write to their inputs); others are materialised as fresh copies, so numba
    never sees a read-only broadcast view.
    """
    shapes = {x.shape for x in arrays if x.ndim}
    if not shapes:
        shape: tuple[int, ...] = ()
    elif len(shapes) == 1:
        shape = shapes.pop()
    else:
        try:
            shape = np.broadcast_shapes(*shapes)
        except ValueError as exc:
            raise ValueError(f"arguments do not broadcast together: {exc}") from None
    size = math.prod(shape)
    out = []
    for x in arrays:
        if x.shape == shape:
            out.append(np.ascontiguousarray(x).reshape(-1))
        elif x.ndim == 0:
            filled = np.empty(size, dtype=x.dtype)
            filled.fill(x)
            out.append(filled)
        else:
            out.append(np.array(np.broadcast_to(x, shape), order="C", copy=True).reshape(-1))
    return shape, out


def shaped(out: np.ndarray, shape: tuple[int, ...]):
    """A Python scalar for 0-d results, else an array of ``shape``."""
    if shape == ():
        return out.reshape(-1)[0].item()
    return out.reshape(shape)
