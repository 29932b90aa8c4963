"""Scenario files: a duration distribution's table (``{ dist = "lognormal", mean_s = 180, cv = 1 }``).

Part of :mod:`busyhour.sim.scenario`; the keys of each ``dist`` are in
docs/scenarios.md. Errors name the full key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from busyhour.router.config_limits import short
from busyhour.sim import distributions as d
from busyhour.sim import limits
from busyhour.sim.validate import ScenarioError, _get, _keys, _num

#: The keys each ``dist`` takes besides ``dist``.
DIST_KEYS = {"exponential": {"mean_s"}, "lognormal": {"mean_s", "cv"}, "gamma": {"mean_s", "cv"},
              "weibull": {"mean_s", "shape"}, "constant": {"value_s"}, "empirical": {"csv", "column"}, "none": set()}


def parse_dist(t: dict, key: str, p: str, base_dir: Path, *, required: bool = False, default: Any = None, none: Any = None) -> Any:
    if key not in t:
        if required:
            raise ScenarioError(f"{p}.{key}: missing (e.g. {key} = {{ dist = \"exponential\", mean_s = 180 }})")
        return default
    spec, dp = t[key], f"{p}.{key}"
    if not isinstance(spec, dict):
        raise ScenarioError(f"{dp}: must be a table like {{ dist = \"exponential\", mean_s = 180 }}")
    kind = spec.get("dist")
    if not isinstance(kind, str) or kind not in DIST_KEYS:
        raise ScenarioError(f"{dp}.dist: must be one of {', '.join(DIST_KEYS)} (got {short(kind)})")
    _keys(spec, DIST_KEYS[kind] | {"dist"}, dp)
    if kind == "empirical":
        csv_path = base_dir / _get(spec, "csv", dp, str, required=True)
        try:
            text = limits.read_file(csv_path, "durations CSV").decode("utf-8")
            values = d.load_durations_csv(csv_path, _get(spec, "column", dp, str), text=text)
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"{dp}.csv: {exc}") from None
        return d.Empirical(values, str(csv_path))
    if kind == "none":
        return none if none is not None else d.Never()
    if kind == "constant":
        return d.Constant(_num(spec, "value_s", dp, lo=0.0, hi=limits.MAX_DURATION_S, required=True))
    mean = _num(spec, "mean_s", dp, lo=0.0, hi=limits.MAX_DURATION_S, required=True)
    if mean <= 0:
        raise ScenarioError(f"{dp}.mean_s: must be > 0 (got {mean:g})")
    if kind == "exponential":
        return d.Exponential(mean)
    if kind == "weibull":
        return d.Weibull(mean, positive(spec, "shape", dp, 0.1, 20.0))
    return (d.LogNormal if kind == "lognormal" else d.Gamma)(mean, positive(spec, "cv", dp, 0.01, 10.0))


def positive(t: dict, key: str, p: str, lo: float, hi: float) -> float:
    v = _num(t, key, p, required=True)
    if v <= 0:
        raise ScenarioError(f"{p}.{key}: must be > 0 (got {v:g})")
    if not lo <= v <= hi:
        raise ScenarioError(f"{p}.{key}: must be in [{lo:g}, {hi:g}] (got {v:g})")
    return v
