"""``busyhour warmup``: compile the routing core and the simulation loop ahead of time.

numba compiles on first use and caches the result on disk, so the first run
after an install waits 13-30 s, by the machine. Run this once (e.g. in a container
build) and later runs start at once.
"""

from __future__ import annotations

import time

import typer


def register(app: typer.Typer, bench_app: typer.Typer) -> None:
    @app.command("warmup")
    def warmup_cmd() -> None:
        """Compile (or load from numba's cache) every compiled kernel: routing core, simulation loop."""
        from busyhour.router import core_compile
        from busyhour.router.core_handle import run_batch_h
        from busyhour.router.core_compile import (
            ROUTER_COMPILE_S, cache_folder, cached, jit_disabled, router_dispatchers, warm_up_router,
        )
        from busyhour.sim.fast import sim_compile_estimate_s
        from busyhour.sim.fast_loop import run_loop

        core_compile._told.update({"the routing core", "the simulation loop"})  # this command says it itself
        jit_off = jit_disabled()
        if jit_off:
            typer.echo("NUMBA_DISABLE_JIT=1: numba compiles nothing, the kernels run as Python; "
                       "checking that they run", err=True)
        for what, fresh, estimate_s, warm in (
                ("routing core", not cached(router_dispatchers()), lambda: ROUTER_COMPILE_S, warm_up_router),
                ("simulation loop", not cached([run_loop]), sim_compile_estimate_s, _warm_up_sim)):
            if not jit_off:  # the loop's estimate is asked after the core is ready: less when it reuses its kernels
                doing = f"compiling, once: ~{estimate_s():.0f} s" if fresh else "loading from the cache"
                typer.echo(f"{what}: {doing} ...", err=True)
            secs = warm()
            how = "not compiled: NUMBA_DISABLE_JIT=1" if jit_off else "compiled" if fresh else "cached"
            typer.echo(f"{what}: ready ({how}, {secs:.1f} s)")
        folder = cache_folder(run_batch_h)
        if folder is not None and not jit_off:  # a folder the run-time user cannot write is not used (docs/server.md)
            typer.echo(f"cache: {folder}")


def _warm_up_sim() -> float:
    """Run a one-minute M/M/c scenario on the compiled path (compiles its loop)."""
    from busyhour.sim.driver import simulate
    from busyhour.sim.scenario import parse_scenario

    t0 = time.perf_counter()
    scn = parse_scenario({"horizon_min": 2, "interval_min": 1, "drain_min": 1, "seed": 1, "queues": [
        {"name": "q", "calls_per_interval": [5, 5], "handle_time": {"dist": "exponential", "mean_s": 30},
         "patience": {"dist": "exponential", "mean_s": 60}, "skills": {"s": 1}}],
        "teams": [{"name": "t", "agents": 2, "skills": {"s": 1}}]})
    simulate(scn, engine="compiled")
    return time.perf_counter() - t0
