"""Argument checking shared by the public Erlang functions.

Every check raises ``ValueError`` whose message starts with the argument's
name, e.g. ``"load must be finite and >= 0 (got -1.0)"``.  Arrays are checked
element-wise and the first offending value is quoted.
"""

from __future__ import annotations

import math

import numpy as np

#: Largest server / agent count accepted (int64 arithmetic stays exact far beyond).
MAX_COUNT = 10**9


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> object:
    return arr[bad].flat[0] if arr.ndim else arr.item()


def real(name: str, value, *, low: float = 0.0, low_open: bool = False,
         allow_inf: bool = False, high: float | None = None, high_open: bool = False) -> np.ndarray:
    """Return ``value`` as a float64 array after checking ``low <= value (<= high)``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number (got {value!r})") from None
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
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # pragma: no cover - numpy accepts almost anything
        raise ValueError(f"{name} must be a whole number (got {value!r})") from None
    if arr.dtype.kind in "iub":
        ints = arr.astype(np.int64)
        bad = (ints < 0) | (ints > MAX_COUNT)
    elif arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr < 0) | (arr > MAX_COUNT)
        bad |= ~bad & (arr != np.floor(np.where(bad, 0.0, arr)))
        ints = np.where(bad, 0, arr).astype(np.int64)
    else:
        raise ValueError(f"{name} must be a whole number (got {value!r})")
    if np.any(bad):
        raise ValueError(f"{name} must be a whole number between 0 and {MAX_COUNT} "
                         f"(got {_first_bad(arr, bad)!r})")
    return ints


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
