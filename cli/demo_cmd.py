"""``busyhour demo``: the default busy-hour scenario through the real router.

Runs examples/busy_hour.toml with replications, prints per-interval service
level beside the Erlang C prediction (busyhour.erlang) and the staffing the
simulation suggests (a short sweep with common random numbers). Under a
minute on two cores. ``busyhour demo --router`` runs the routing engine's own
demo instead (``busyhour.router.demo``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

DEFAULT_SCENARIO = Path(__file__).resolve().parent.parent / "examples" / "busy_hour.toml"


def _router_demo() -> None:
    from busyhour.router.demo import main  # the routing engine's scripted busy half-hour

    main()


def demo_cmd(
    router: bool = typer.Option(False, "--router", help="run the routing engine's own demo instead"),
    scenario: Path = typer.Option(DEFAULT_SCENARIO, "--scenario", help="scenario TOML (default: the busy hour)"),
    replications: int = typer.Option(20, "--replications", "-r", min=2, max=10_000),
    staffing_replications: int = typer.Option(6, "--staffing-replications", min=2, max=10_000,
                                              help="replications per point of the staffing sweep"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1),
    plot: Optional[Path] = typer.Option(None, "--plot", help="also write a PNG (simulated vs Erlang C)"),
) -> None:
    """Simulate the default busy-hour scenario: SL per interval vs Erlang C, and suggested staffing."""
    if router:
        _router_demo()
        return
    from rich.console import Console
    from rich.table import Table

    from busyhour.cli.sim_cmds import _load, _progress, _short
    from busyhour.sim.planning import erlang_service_level, interval_loads, suggest_agents
    from busyhour.sim.replicate import replicate

    scn, seed = _load(scenario, None)
    con = Console(width=None if sys.stdout.isatty() else 120)
    con.print(f"[bold]{scn.name}[/]: {len(scn.queues)} queues ({', '.join(q.name for q in scn.queues)}), "
              f"{scn.n_agents} agents in {len(scn.teams)} teams, {scn.horizon_s / 3600:g} h from {scn.clock(0)}, "
              f"{replications} replications through the real router")
    with _progress(replications, "simulating") as prog:
        task = prog.add_task("sim", total=replications)
        summary = replicate(scn, replications, seed=seed, workers=workers, progress=lambda k: prog.advance(task, k))
    loads = interval_loads(scn)
    erlang = erlang_service_level(scn)
    thr = f"{scn.sl_threshold_s:g} s"
    t = Table(title=f"service level ({thr}) per interval: simulation (mean ± 95% CI) vs Erlang C")
    for col in ("interval", "calls", "load E", "agents", "Erlang C SL", "simulated SL", "abandon", "occupancy", "max queue"):
        t.add_column(col, justify="right", no_wrap=True)
    for k, (iv, il) in enumerate(zip(summary.intervals, loads)):
        t.add_row(scn.clock(iv.start_s), f"{iv.offered.mean:.0f}", f"{il.load_erlangs:.1f}", f"{il.scheduled_agents:.1f}",
                  "–" if erlang is None else f"{100 * erlang[k]:.1f}%", _short(iv.service_level, True),
                  _short(iv.p_abandon, True), _short(iv.occupancy, True), f"{iv.max_queue.mean:.1f}")
    con.print(t)
    con.print(f"overall: SL {_short(summary.service_level, True)}, abandonment {_short(summary.p_abandon, True)}, "
              f"ASA {_short(summary.asa_s)} s, occupancy {_short(summary.occupancy, True)}")
    if erlang is not None:
        con.print("Erlang C pools every scheduled agent and ignores abandonment, redials, skills and escalation; "
                  "the simulation drives the production routing engine with all of them.")
    base = scn.n_agents
    candidates = sorted({max(1, round(base * f)) for f in (0.9, 1.0, 1.1, 1.2, 1.3)})
    total = len(candidates) * staffing_replications
    with _progress(total, "staffing sweep") as prog:
        task = prog.add_task("sweep", total=total)
        sug = suggest_agents(scn, candidates, staffing_replications, seed=seed, workers=workers,
                             progress=lambda k: prog.advance(task, k))
    def worst(p) -> float:
        return min((i.service_level.mean for i in p.summary.intervals if i.service_level.mean == i.service_level.mean),
                   default=float("nan"))

    rows = ", ".join(f"{p.agents}: worst interval {100 * worst(p):.0f}%" for p in sug.sweep.points)
    con.print(f"staffing sweep (same callers at every size; {staffing_replications} replications): {rows}")
    if sug.agents is None:
        con.print(f"[bold]suggested staffing[/]: more than {candidates[-1]} agents to hold "
                  f"{100 * sug.target:.0f}/{scn.sl_threshold_s:g} "
                  f"in every interval with this schedule")
    else:
        con.print(f"[bold]suggested staffing[/]: {sug.agents} agents (teams in the same proportions, same schedule) "
                  f"hold {100 * sug.target:.0f}/{scn.sl_threshold_s:g} in every interval; the scenario has {base}")
    if plot is not None:
        from busyhour.sim.plot import plot_summary

        plot_summary(summary, plot, erlang_sl=erlang)
        con.print(f"plot written to {plot}")


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
