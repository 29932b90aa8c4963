"""Plots (matplotlib's object API, no pyplot state, no GUI backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from busyhour.sim.replicate import Summary
from busyhour.sim.sweep import SweepResult

__all__ = ["plot_summary", "plot_sweep"]


def _figure(rows: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2 * rows), layout="constrained")
    return fig, fig.subplots(rows, 1, squeeze=False)[:, 0]


def plot_summary(s: Summary, path: str | Path, *, erlang_sl: list[float] | None = None, target: float = 0.8) -> None:
    """Service level and abandonment per interval with 95% CIs (and Erlang C, when given)."""
    fig, (ax1, ax2) = _figure(2)
    x = np.array([i.start_s / 60 for i in s.intervals])
    for ax, name, label in ((ax1, "service_level", "service level"), (ax2, "p_abandon", "abandonment")):
        mean = np.array([getattr(i, name).mean for i in s.intervals], dtype=float)
        lo = np.array([getattr(i, name).ci95[0] for i in s.intervals], dtype=float)
        hi = np.array([getattr(i, name).ci95[1] for i in s.intervals], dtype=float)
        ax.plot(x, mean, marker="o", label=f"simulated ({s.replications} replications)")
        ax.fill_between(x, lo, hi, alpha=0.25, label="95% CI")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if erlang_sl is not None:
        ax1.plot(x, erlang_sl, ls="--", marker="x", label="Erlang C (pooled)")
    ax1.axhline(target, color="grey", lw=0.8)
    ax1.set_ylim(0, 1.02)
    ax1.set_title(f"{s.scenario}: per interval")
    ax1.legend(loc="lower left")
    ax2.set_xlabel("interval start (minutes)")
    fig.savefig(path, dpi=110)


def plot_sweep(result: SweepResult, path: str | Path, *, target: float = 0.8) -> None:
    """Service level and abandonment against seat count, one line per strategy."""
    fig, (ax1, ax2) = _figure(2)
    for strat in result.strategies():
        pts = [p for p in result.points if p.strategy == strat]
        n = [p.agents for p in pts]
        for ax, name in ((ax1, "service_level"), (ax2, "p_abandon")):
            mean = [getattr(p.summary, name).mean for p in pts]
            err = np.array([[m - getattr(p.summary, name).ci95[0], getattr(p.summary, name).ci95[1] - m]
                            for p, m in zip(pts, mean)], dtype=float).T
            ax.errorbar(n, mean, yerr=np.nan_to_num(err), marker="o", capsize=3, label=strat)
    ax1.axhline(target, color="grey", lw=0.8)
    ax1.set_ylabel("service level")
    ax2.set_ylabel("abandonment")
    ax2.set_xlabel("agents")
    ax1.set_title(f"{result.scenario}: sweep (95% CIs)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=110)
