"""``busyhour staff FORECAST.csv`` and ``busyhour bench erlang`` (see erlang_cmds.py)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Optional

import typer

from .common import format_option, info, input_path, out_option, plot_option, write_output
from .erlang_output import Column, Format, check_table_rows, check_wait, emit, option_error, parse_sl, usage

STAFF_COLS = [
    Column("interval_start", "interval"), Column("calls", "calls", "{:.0f}"), Column("aht_s", "AHT (s)", "{:.0f}"),
    Column("load_erl", "load (Erl)", "{:.2f}"), Column("agents", "agents", "{:d}"),
    Column("scheduled", "scheduled", "{:d}"), Column("service_level", "SL", "{:.1%}"),
    Column("asa_s", "ASA (s)", "{:.1f}"), Column("occupancy", "occupancy", "{:.1%}"),
    Column("p_abandon", "abandon", "{:.2%}"), Column("trunks", "trunks", "{:d}"),
]


def plot_plan(plan, path: Path) -> None:
    """Two panels: required and scheduled agents, and service level, per interval (format from the suffix)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r.interval_start for r in plan.intervals]
    x = range(len(labels))
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    ax1.bar(x, [r.agents for r in plan.intervals], color="#4C72B0", label="required agents")
    ax1.step(x, [r.scheduled for r in plan.intervals], where="mid", color="#DD8452",
             label="scheduled (after shrinkage)")
    ax1.set_ylabel("agents")
    ax1.legend(loc="upper right")
    ax1.set_title(f"Staffing plan ({plan.model.replace('_', ' ').title()}): "
                  f"{plan.target_sl:.0%} within {plan.threshold_s:g} s, "
                  f"peak {plan.peak_agents} agents at {plan.peak_interval}")
    ax2.plot(x, [100 * r.service_level for r in plan.intervals], marker="o", color="#55A868", label="service level")
    ax2.axhline(100 * plan.target_sl, color="grey", linestyle="--",
                label=f"target {plan.target_sl:.0%} within {plan.threshold_s:g} s")
    ax2.set_ylabel("service level (%)")
    ax2.set_ylim(min(100 * plan.target_sl - 5, min(100 * r.service_level for r in plan.intervals) - 2), 100.5)
    ax2.legend(loc="lower right")
    step = max(1, len(labels) // 16)
    ax2.set_xticks(list(x)[::step], labels[::step], rotation=45, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_staff(forecast: Path = typer.Argument(..., help="CSV: interval_start,calls[,aht_s][,interval_min].",
                                                callback=input_path),
              sl: str = typer.Option(..., "--sl", help="Service level target, e.g. 80/20 (80 % within 20 s)."),
              aht_s: Optional[float] = typer.Option(None, "--aht-s", help="AHT, s, for rows without aht_s."),
              shrinkage: float = typer.Option(0.0, "--shrinkage", help="Fraction of paid time off the phones."),
              max_occupancy: Optional[float] = typer.Option(None, "--max-occupancy", help="Occupancy cap, e.g. 0.9."),
              patience_s: Optional[float] = typer.Option(None, "--patience-s",
                                                         help="Mean patience, s (0 to 86400): use Erlang A."),
              trunk_blocking: float = typer.Option(0.01, "--trunk-blocking", help="Blocking target for trunks."),
              plot: Optional[Path] = plot_option("Save a plot of agents and SL per interval (png, pdf, svg, …)."),
              fmt: Format = format_option(), out: Optional[Path] = out_option()) -> None:
    """Agents, scheduled staff, SL, ASA, occupancy, abandonment and trunks for every forecast interval.

    The forecast file is at most 50 MB and 200,000 intervals; the table format shows at most 10,000
    (use -f csv or -f json for more; see docs/erlang.md)."""
    from busyhour.erlang import ForecastError, plan_staffing, read_forecast

    target, threshold_s = parse_sl(sl)
    check_wait(patience_s, "--patience-s", allow_inf=True)
    try:
        fc = read_forecast(forecast)
    except ForecastError as exc:
        usage(str(exc))
    check_table_rows(len(fc.intervals), fmt, fc.source)
    try:
        plan = plan_staffing(fc, target_sl=target, threshold_s=threshold_s, aht_s=aht_s, shrinkage=shrinkage,
                             max_occupancy=max_occupancy, patience_s=patience_s, trunk_blocking=trunk_blocking)
    except ValueError as exc:
        option_error(exc)
    summary = {
        "model": plan.model, "total calls": f"{plan.total_calls:.0f}",
        "agent hours": f"{plan.agent_hours:.1f}", "scheduled hours": f"{plan.scheduled_hours:.1f}",
        "day service level": f"{plan.service_level:.1%}", "day ASA (s)": f"{plan.asa_s:.1f}",
        "day occupancy": f"{plan.occupancy:.1%}", "day abandonment": f"{plan.p_abandon:.2%}",
        "trunk blocking": f"{trunk_blocking:g}",
        "peak": f"{plan.peak_agents} agents at {plan.peak_interval} ({plan.peak_scheduled} scheduled, "
                f"{plan.peak_trunks} trunks)",
    }
    if fmt is Format.json:
        summary = {k: getattr(plan, k) for k in plan._fields if k != "intervals"}
    cols = STAFF_COLS if plan.model == "erlang_a" or fmt is not Format.table else \
        [c for c in STAFF_COLS if c.field != "p_abandon"]
    emit(list(plan.intervals), cols, fmt, summary=None if fmt is Format.csv else summary,
         title=f"{fc.source}: {target:.0%} within {threshold_s:g} s, shrinkage {shrinkage:.0%}", out=out)
    if plot is not None:
        try:
            plot_plan(plan, plot)
        except OSError as exc:
            usage(f"--plot: cannot write {plot}: {exc.strerror}")
        info(f"plot written: {plot}")


def render_figures(result: dict[str, Any], fmt: Format) -> str:
    """A flat dict of figures as ``key value`` lines (table), ``key,value`` rows (csv) or a JSON object."""
    if fmt is Format.json:
        return json.dumps(result, indent=2) + "\n"
    if fmt is Format.csv:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["key", "value"])
        for key, value in result.items():
            w.writerow([key, "; ".join(map(str, value)) if isinstance(value, list) else value])
        return buf.getvalue()
    lines = []
    pad = max((len(k) for k in result), default=0)
    for key, value in result.items():
        if isinstance(value, list):
            lines += [f"{key}:"] + [f"  - {item}" for item in value]
            continue
        if isinstance(value, float) and math.isfinite(value):
            value = f"{value:.4g}"
        lines.append(f"{key:<{pad}}  {value}")
    return "\n".join(lines) + "\n"


def cmd_bench_erlang(json_path: Optional[Path] = out_option("Also write the figures as JSON to FILE.", flag="--json"),
                     repeats: int = typer.Option(15, "--repeats", min=3, max=1000,
                                                 help="Timed repeats (median reported)."),
                     peers: bool = typer.Option(True, "--peers/--no-peers", help="Also time pyworkforce if installed."),
                     fmt: Format = format_option(), out: Optional[Path] = out_option()) -> None:
    """Time 10,000 service-level evaluations and a 96-interval staffing day (vs pyworkforce)."""
    from busyhour.bench.erlang_bench import run

    result = run(repeats=repeats, peers=peers)
    write_output(render_figures(result, fmt), out)
    if json_path is not None:
        write_output(render_figures(result, Format.json), json_path)
