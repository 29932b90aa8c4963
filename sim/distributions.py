"""Duration distributions for handle time, after-call work, patience, delays.

Each distribution is a small frozen record with one signature,
``sample(rng, n) -> numpy.ndarray`` of seconds (float64), and ``mean_s``.
They are chosen by the scenario's ``dist`` key (see docs/scenarios.md):

==============  =====================================  ===========================
``dist``        parameters                             notes
==============  =====================================  ===========================
exponential     ``mean_s``                             memoryless (M/M/c theory)
lognormal       ``mean_s``, ``cv``                     talk times: right skewed
gamma           ``mean_s``, ``cv``                     cv < 1 is more regular
weibull         ``mean_s``, ``shape``                  patience: shape < 1 = impatient early
constant        ``value_s``                            deterministic
empirical       ``csv`` (path), optional ``column``    resampled with replacement
none            —                                      patience: never abandons (inf);
                                                       after-call work: 0 s
==============  =====================================  ===========================

No distribution owns a random state: the caller passes the
``numpy.random.Generator`` of the source it samples for (see streams.py).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from busyhour.sim.limits import MAX_DURATION_S

__all__ = [
    "Constant",
    "Distribution",
    "Empirical",
    "Exponential",
    "Gamma",
    "LogNormal",
    "Never",
    "Weibull",
    "load_durations_csv",
]


@dataclass(frozen=True)
class Exponential:
    mean_s: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.exponential(self.mean_s, n)


@dataclass(frozen=True)
class LogNormal:
    """Lognormal with the given mean and coefficient of variation (sd / mean)."""

    mean_s: float
    cv: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sigma2 = math.log1p(self.cv * self.cv)
        mu = math.log(self.mean_s) - sigma2 / 2.0
        return rng.lognormal(mu, math.sqrt(sigma2), n)


@dataclass(frozen=True)
class Gamma:
    """Gamma with the given mean and cv: shape = 1/cv², scale = mean·cv²."""

    mean_s: float
    cv: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        shape = 1.0 / (self.cv * self.cv)
        return rng.gamma(shape, self.mean_s / shape, n)


@dataclass(frozen=True)
class Weibull:
    """Weibull with the given mean and shape k: scale = mean / Γ(1 + 1/k)."""

    mean_s: float
    shape: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        scale = self.mean_s / math.gamma(1.0 + 1.0 / self.shape)
        return scale * rng.weibull(self.shape, n)


@dataclass(frozen=True)
class Constant:
    value_s: float

    @property
    def mean_s(self) -> float:
        return self.value_s

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, self.value_s, dtype=np.float64)


@dataclass(frozen=True)
class Never:
    """Patience that never runs out (``dist = "none"``): every draw is +inf."""

    @property
    def mean_s(self) -> float:
        return math.inf

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return np.full(n, math.inf, dtype=np.float64)


@dataclass(frozen=True, eq=False)
class Empirical:
    """Resamples (with replacement) durations observed in a CSV file."""

    values_s: np.ndarray
    source: str = ""

    @property
    def mean_s(self) -> float:
        return float(self.values_s.mean())

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return self.values_s[rng.integers(0, self.values_s.size, n)]


Distribution = Exponential | LogNormal | Gamma | Weibull | Constant | Never | Empirical


def load_durations_csv(path: Path, column: str | None = None, max_rows: int = 10_000_000,
                       text: str | None = None) -> np.ndarray:
    """Read positive durations (seconds) from ``path`` (or from ``text``, its contents already read).

    With a header row, ``column`` names the column (default: the first); a
    file of bare numbers has no header. Raises ``ValueError`` naming the file,
    line and problem.
    """
    values: list[float] = []
    with (open(path, newline="", encoding="utf-8") if text is None else io.StringIO(text, newline="")) as fh:
        rows = csv.reader(fh)
        col = 0
        for lineno, row in enumerate(rows, start=1):
            if lineno > max_rows:
                raise ValueError(f"{path}: more than {max_rows} rows")
            if not row or not "".join(row).strip():
                continue
            if lineno == 1 and not _is_number(row[0]):
                header = [h.strip() for h in row]
                if column is not None:
                    if column not in header:
                        raise ValueError(f"{path}: no column {column!r} (columns: {', '.join(header)})")
                    col = header.index(column)
                continue
            if col >= len(row) or not _is_number(row[col]):
                raise ValueError(f"{path}:{lineno}: not a number: {row[col][:40] if col < len(row) else ''!r}")
            v = float(row[col])
            if not 0.0 <= v <= MAX_DURATION_S:
                raise ValueError(f"{path}:{lineno}: durations must be 0 to {MAX_DURATION_S:g} s (got {v:g})")
            values.append(v)
    if not values:
        raise ValueError(f"{path}: no durations found")
    return np.asarray(values, dtype=np.float64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
