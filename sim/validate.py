"""Checks for scenario tables: each raises ``ScenarioError`` naming the key path."""

from __future__ import annotations

import math
from typing import Any

from busyhour.router.config_limits import has_control_characters, short

__all__ = ["ScenarioError"]


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the key."""


def _keys(t: Any, allowed: set[str], p: str) -> None:
    if not isinstance(t, dict):
        raise ScenarioError(f"{p or 'top level'}: must be a table")
    for k in t:
        if k not in allowed:
            raise ScenarioError(f"{p + '.' if p else ''}{k}: unknown key (allowed: {', '.join(sorted(allowed))})")


def _absent(t: dict, key: str, kp: str, required: bool) -> bool:
    """True when ``key`` is not in ``t`` (an error naming ``kp`` when it is required)."""
    if key in t:
        return False
    if required:
        raise ScenarioError(f"{kp}: missing")
    return True


def _get(t: dict, key: str, p: str, typ: type, *, required: bool = False, default: Any = None) -> Any:
    kp = f"{p}.{key}" if p else key
    if _absent(t, key, kp, required):
        return default
    v = t[key]
    if isinstance(v, bool) and typ is not bool or not isinstance(v, typ):
        raise ScenarioError(f"{kp}: must be {typ.__name__} (got {short(v)})")
    if typ is str and has_control_characters(v):  # printed in tables and titles
        raise ScenarioError(f"{kp}: must not contain control characters (got {short(v)})")
    return v


def _num(t: dict, key: str, p: str, *, lo: float | None = None, hi: float | None = None, required: bool = False, default: Any = None) -> Any:
    kp = f"{p}.{key}" if p else key
    if _absent(t, key, kp, required):
        return default
    v = t[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
        raise ScenarioError(f"{kp}: must be a number (got {short(v)})")
    if lo is not None and v < lo or hi is not None and v > hi:
        raise ScenarioError(f"{kp}: must be in [{lo if lo is not None else '-inf'}, "
                            f"{hi if hi is not None else 'inf'}] (got {short(v)})")
    return float(v)


def _time(t: dict, stem: str, p: str, *, required: bool = False, default: Any = None) -> Any:
    has_s, has_min = f"{stem}_s" in t, f"{stem}_min" in t
    if has_s and has_min:
        raise ScenarioError(f"{p + '.' if p else ''}{stem}_s: give {stem}_s or {stem}_min, not both")
    if has_min:
        return _num(t, f"{stem}_min", p, lo=0.0) * 60.0
    return _num(t, f"{stem}_s", p, lo=0.0, required=required, default=default)


def _list(t: dict, key: str, p: str, *, required: bool = False) -> list:
    v = _get(t, key, p, list, required=required, default=[])
    if required and not v:
        raise ScenarioError(f"{p + '.' if p else ''}{key}: needs at least one entry")
    return v


def _unique(names: list[str], key: str, field_: str) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            raise ScenarioError(f"{key}[{i}].{field_}: duplicate {n!r}")
        seen.add(n)
