"""Plots (matplotlib's object API, no pyplot state, no GUI backend).

Service level and abandonment are drawn in percent; the service-level target
is a labelled dashed line; per-interval plots put clock times (from the
scenario's ``start_clock``) on the x axis; sweep plots have integer agent
ticks, strategies' error bars dodged sideways so they do not overlap, and —
with two or more strategies — a third panel with the paired difference in
service level against the first strategy (common random numbers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from busyhour.sim.replicate import Summary
from busyhour.sim.scenario import Scenario
from busyhour.sim.sweep import SweepResult

__all__ = ["plot_summary", "plot_sweep"]


def _figure(rows: int):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.0 * rows), layout="constrained")
    return fig, fig.subplots(rows, 1, squeeze=False, sharex=True)[:, 0]


def _percent(ax) -> None:
    from matplotlib.ticker import PercentFormatter

    ax.yaxis.set_major_formatter(PercentFormatter(100))


def _target(ax, target: float, threshold_s: float) -> None:
    ax.axhline(100 * target, color="tab:red", ls="--", lw=1, label=f"target {100 * target:g}% in {threshold_s:g} s")


def plot_summary(s: Summary, path: str | Path, scn: Scenario, *, erlang_sl: list[float] | None = None,
                 target: float = 0.8, partial: bool = False):
    """Service level and abandonment (%) per interval with 95% CIs against clock time (and Erlang C, when given).
    Returns the matplotlib Figure (already saved to ``path``)."""
    fig, (ax1, ax2) = _figure(2)
    x = np.array([i.start_s for i in s.intervals], dtype=float)
    for ax, name, label in ((ax1, "service_level", "service level"), (ax2, "p_abandon", "abandonment")):
        mean = 100 * np.array([getattr(i, name).mean for i in s.intervals], dtype=float)
        lo = 100 * np.array([getattr(i, name).ci95[0] for i in s.intervals], dtype=float)
        hi = 100 * np.array([getattr(i, name).ci95[1] for i in s.intervals], dtype=float)
        ax.plot(x, mean, marker="o", label=f"simulated ({s.replications} replications)")
        ax.fill_between(x, lo, hi, alpha=0.25, label="95% CI")
        ax.set_ylabel(f"{label} (%)")
        _percent(ax)
        ax.grid(alpha=0.3)
    if erlang_sl is not None:
        ax1.plot(x, 100 * np.asarray(erlang_sl, dtype=float), ls=":", marker="x", label="Erlang C (pooled)")
    _target(ax1, target, scn.sl_threshold_s)
    ax1.set_ylim(0, 102)
    ax1.set_title(f"{s.scenario}: per interval{' (partial: interrupted)' if partial else ''}")
    ax1.legend(loc="lower left", fontsize="small")
    ticks = x[:: max(1, len(x) // 12)]
    ax2.set_xticks(ticks, [scn.clock(t) for t in ticks])
    ax2.set_xlabel("interval start (clock time)")
    fig.savefig(path, dpi=110)
    return fig


def plot_sweep(result: SweepResult, path: str | Path, *, target: float = 0.8, threshold_s: float = 20.0):
    """SL and abandonment (%) against seat count per strategy; with two strategies or more, the paired ΔSL.
    Returns the matplotlib Figure (already saved to ``path``)."""
    from matplotlib.ticker import MaxNLocator

    strategies = result.strategies()
    paired = len(strategies) > 1
    fig, axes = _figure(3 if paired else 2)
    counts = sorted({p.agents for p in result.points})
    step = min(np.diff(counts), default=1)
    width = 0.3 * step / max(len(strategies), 1)  # dodge: strategies side by side around each count
    for k, strat in enumerate(strategies):
        pts = [p for p in result.points if p.strategy == strat]
        dx = (k - (len(strategies) - 1) / 2) * width
        n = np.array([p.agents for p in pts], dtype=float) + dx
        for ax, name in zip(axes[:2], ("service_level", "p_abandon")):
            ests = [getattr(p.summary, name) for p in pts]
            _errorbar(ax, n, ests, strat, f"C{k}")
        if paired and k > 0:
            diffs = [result.paired_difference(p) for p in pts]
            _errorbar(axes[2], n, diffs, f"{strat} − {strategies[0]}", f"C{k}")
    _target(axes[0], target, threshold_s)
    axes[0].set_ylabel("service level (%)")
    axes[1].set_ylabel("abandonment (%)")
    if paired:
        axes[2].axhline(0, color="grey", lw=0.8)
        axes[2].set_ylabel("ΔSL, paired (points)")
    axes[-1].set_xlabel("agents")
    if len(counts) <= 15:
        axes[-1].set_xticks(counts)
    else:
        axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    title = f"{result.scenario}: sweep (mean, 95% CIs)"
    axes[0].set_title(title + (" (partial: interrupted)" if result.partial else ""))
    for ax in axes[:2]:
        _percent(ax)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.savefig(path, dpi=110)
    return fig


def _errorbar(ax, x, ests, label: str, color: str) -> None:
    mean = np.array([np.nan if e is None else 100 * e.mean for e in ests], dtype=float)
    lo = np.array([np.nan if e is None else 100 * e.ci95[0] for e in ests], dtype=float)
    hi = np.array([np.nan if e is None else 100 * e.ci95[1] for e in ests], dtype=float)
    err = np.nan_to_num(np.vstack([mean - lo, hi - mean]))
    ax.errorbar(x, mean, yerr=np.clip(err, 0, None), marker="o", capsize=3, label=label, color=color)
