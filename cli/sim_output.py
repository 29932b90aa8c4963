"""Shared by ``simulate``, ``sweep`` and ``demo``: loading with limits, ``--sl``, progress, tables, output.

Loading (``load``): the scenario file is checked (exists, a regular file,
at most 64 MB), parsed with every limit of docs/scenarios.md, and the
run's size (calls × replications × points) is estimated before anything
runs; above the limit the command refuses unless ``--force``.
"""

from __future__ import annotations

import enum
import gc
import io
import math
import os
import sys
from pathlib import Path
from typing import Optional

import typer

from busyhour.cli.common import EXIT_INTERRUPTED, EXIT_USAGE, OutputFormat, fail, info, write_output

FORCE_HELP = "run even when the estimated calls × replications exceed the limit (docs/scenarios.md)"


def parse_sl(text: Optional[str]) -> Optional[tuple[float, float]]:
    """``"80/20"`` or ``"0.8/20"`` → (0.80, 20.0): the share answered within the threshold, as in ``erlang --sl``
    (above 1 it is a percent); here the target may be 100 %, the threshold 0 to 86,400 s."""
    if text is None:
        return None
    pct, sep, thr = text.partition("/")
    try:
        p, t = float(pct), float(thr)
    except ValueError:
        p = t = math.nan
    share = p / 100.0 if p > 1.0 else p
    if not sep or not (0 < share <= 1) or not (0 <= t <= 86_400):
        fail(f"--sl: expected PERCENT/SECONDS such as 80/20 (or 0.8/20), a target above 0 and at most 100 %, "
             f"seconds 0 to 86400 (got {text!r})", EXIT_USAGE)
    return share, t


def load(path: Path, seed: Optional[int], sl: Optional[str] = None):
    """The scenario (with ``--sl``'s threshold applied), the seed to use and the SL target."""
    from dataclasses import replace

    from busyhour.sim.limits import check_seed
    from busyhour.sim.routing import check_router_config
    from busyhour.sim.scenario import ScenarioError, load_scenario

    target_thr = parse_sl(sl)
    try:
        if seed is not None:
            check_seed(seed, "--seed")
        scn = load_scenario(path)
        if target_thr is not None:
            scn = replace(scn, sl_threshold_s=target_thr[1])
        check_router_config(scn)
    except ScenarioError as exc:
        fail(str(exc), EXIT_USAGE)
    return scn, (scn.seed if seed is None else seed), (0.8 if target_thr is None else target_thr[0])


def preflight(scn, runs: int, force: bool, dask: Optional[str], agent_runs: Optional[float] = None) -> None:
    """Size estimate and the Dask address, before any work (``agent_runs``: limits.check_size's)."""
    from busyhour.sim.limits import check_size
    from busyhour.sim.scenario import ScenarioError

    try:
        est = check_size(scn, runs, force=force, agent_runs=agent_runs)
    except ScenarioError as exc:
        fail(str(exc), EXIT_USAGE)
    if est.calls_total > 1_000_000:
        info(f"about {est.calls_per_run:,.0f} calls × {est.runs:,} runs = {est.calls_total:,.0f} calls")
    if dask:
        check_dask(dask)


def check_dask(address: str) -> None:
    """The extra installed (found, not yet imported: that takes seconds), the address well formed and a Dask
    scheduler answering there — all before any work."""
    import importlib.util

    from busyhour.sim.jobs import DaskError, check_dask_address

    if importlib.util.find_spec("distributed") is None:
        fail("--dask needs the Dask extra: pip install 'busyhour[dask]'", EXIT_USAGE)
    try:
        check_dask_address(address)
    except ValueError as exc:
        fail(f"--dask: {exc}", EXIT_USAGE)
    except DaskError as exc:
        fail(f"--dask: {exc}")


def progress(total: float, label: str):
    """A rich progress bar on stderr (only on a terminal) with elapsed time and ETA."""
    from rich.console import Console
    from rich.progress import (BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=True,
                    disable=not sys.stderr.isatty())


class Bar:
    """``with Bar(total, label) as tick: run(progress=tick)`` — ``tick(done)`` sets the completed count."""

    def __init__(self, total: float, label: str, workers_note: str = "") -> None:
        self.total, self.label, self.note = total, label, workers_note

    def __enter__(self):
        self.prog = progress(self.total, self.label).__enter__()
        self.task = self.prog.add_task(f"{self.label}{self.note}", total=self.total)
        return self

    def __call__(self, done: float) -> None:
        self.prog.update(self.task, completed=done, description=self.label)

    def __exit__(self, *exc) -> None:
        self.prog.__exit__(*exc)


def console(file=None):
    from rich.console import Console

    if file is not None:
        return Console(file=file, width=140, force_terminal=False, color_system=None)
    return Console(width=None if sys.stdout.isatty() else 140)


def emit(fmt: OutputFormat, out: Optional[Path], *, table=None, text: str = "") -> None:
    """Print ``table(console)`` (format table) or ``text`` (csv/json) on stdout or into ``out``."""
    if fmt is OutputFormat.table:
        if out is None:
            table(console())
            return
        buf = io.StringIO()
        table(console(buf))
        write_output(buf.getvalue(), out)
        return
    write_output(text, out)


def interrupted(done: int, planned: int, what: str = "replications") -> None:
    info(f"interrupted: partial results, {done} of {planned} {what} finished")


def exit_interrupted() -> None:
    """Exit 130 at once: the partial results are out and the pool's workers are gone, so the
    interpreter's own teardown (up to seconds once the compiled kernels are loaded) is skipped. A collection
    first frees the pool that Ctrl-C left unreachable: its semaphores are unlinked as they are freed, and
    multiprocessing's resource tracker would otherwise warn of "leaked semaphore objects" after the exit."""
    gc.collect()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def fmt_est(e, pct: bool = False) -> str:
    """``mean [lo, hi]`` (or the mean alone with one replication)."""
    if e.mean != e.mean:
        return "–"
    if pct:
        return f"{100 * e.mean:5.1f}% [{100 * e.ci95[0]:5.1f}, {100 * e.ci95[1]:5.1f}]" if e.n > 1 else f"{100 * e.mean:5.1f}%"
    return f"{e.mean:7.1f} [{e.ci95[0]:.1f}, {e.ci95[1]:.1f}]" if e.n > 1 else f"{e.mean:7.1f}"


def short(e, pct: bool = False) -> str:
    """``mean ±half-width``."""
    if e is None or e.mean != e.mean:
        return "–"
    half = (e.ci95[1] - e.ci95[0]) / 2 if e.n > 1 else math.nan
    if pct:
        return f"{100 * e.mean:.1f}%" + (f" ±{100 * half:.1f}" if half == half else "")
    return f"{e.mean:.1f}" + (f" ±{half:.1f}" if half == half else "")


def summary_tables(s, scn, target: float, partial: bool, planned: int):
    """The ``simulate`` table view: overall, per queue, per interval (clock times)."""
    from rich.table import Table

    def draw(con) -> None:
        mark = f" — PARTIAL: {s.replications} of {planned} replications finished" if partial else ""
        t = Table(title=f"{s.scenario}: {s.replications} replications, seed {s.seed} (mean [95% CI]){mark}")
        for col in ("measure", "value"):
            t.add_column(col, no_wrap=True)
        t.add_row(f"service level ({scn.sl_threshold_s:g} s; target {100 * target:g}%)", fmt_est(s.service_level, True))
        t.add_row("p(wait)", fmt_est(s.p_wait, True))
        t.add_row("abandonment", fmt_est(s.p_abandon, True))
        t.add_row("ASA (s)", fmt_est(s.asa_s))
        t.add_row("wait p90 / p99 (s, answered)", f"{short(s.wait_p90_s)} / {short(s.wait_p99_s)}")
        t.add_row("occupancy", fmt_est(s.occupancy, True))
        t.add_row("calls offered", fmt_est(s.offered))
        t.add_row("callbacks / redials", f"{short(s.callbacks)} / {short(s.redials)}")
        con.print(t)
        q = Table(title="per queue (mean ± 95% CI half-width)")
        for col in ("queue", "offered", "SL", "abandon", "ASA s", "wait p90 s", "callbacks", "redials"):
            q.add_column(col, justify="right", no_wrap=True)
        for name, e in s.queues:
            q.add_row(name, f"{e['offered'].mean:.0f}", short(e["service_level"], True), short(e["p_abandon"], True),
                      short(e["asa_s"]), short(e["wait_p90_s"]), short(e["callbacks"]), short(e["redials"]))
        con.print(q)
        it = Table(title="per interval, by arrival time (mean ± 95% CI half-width)")
        for col in ("interval", "offered", "SL", "abandon", "ASA s", "occupancy", "max queue"):
            it.add_column(col, justify="right", no_wrap=True)
        for i in s.intervals:
            it.add_row(f"{scn.clock(i.start_s)}-{scn.clock(i.end_s)}", f"{i.offered.mean:.0f}",
                       short(i.service_level, True), short(i.p_abandon, True), short(i.asa_s),
                       short(i.occupancy, True), f"{i.max_queue.mean:.1f}")
        con.print(it)
    return draw


class Engine(str, enum.Enum):
    """Which simulation driver runs: the compiled loop when it can (auto), always it, or the SimPy driver."""

    auto = "auto"
    compiled = "compiled"
    simpy = "simpy"


_ENGINE_TEXT = {"compiled": "the compiled simulation loop", "simpy": "the SimPy driver on Router"}


def engine_line(engine: str) -> str:
    """The table outputs' last line: which driver ran (``compiled+simpy`` when replications differed)."""
    return f"engine: {engine} — {_ENGINE_TEXT.get(engine, 'both drivers')}"


def engine_option():
    return typer.Option(Engine.auto, "--engine", case_sensitive=False,
                        help="auto: the compiled loop when it runs the scenario, else the SimPy driver; "
                             "compiled: insist on it; simpy: the SimPy driver (same numbers)")


def check_engine(scenario, scenarios, engine: Engine) -> None:
    """Exit 2 naming what keeps ``--engine compiled`` off any of ``scenarios`` (before anything runs)."""
    from busyhour.sim.driver import SimulationError
    from busyhour.sim.fast import choose_engine

    try:
        for scn in scenarios:
            choose_engine(scn, engine.value)
    except SimulationError as exc:
        fail(f"{scenario}: --engine compiled: {str(exc).removeprefix('the compiled path cannot run this scenario: ')}"
             " (use --engine auto or simpy)", EXIT_USAGE)
