"""The SimPy driver and a bare event loop on each engine, side by side: ``python -m busyhour.bench.sim_engines``.

Both run the simulator bench's M/M/100 scenario (bench/sim_bench.py): the
SimPy driver on a fifth of ``--calls``, the bare heapq loop on all of them,
alternating ``Router`` (the compiled core behind its per-call methods) and
``ReferenceRouter`` (the Python specification) for ``--repeats`` rounds in
one process, so a busy machine slows both alike. Prints the medians. The
driver and the bare loop import ``busyhour.router.Router`` when they run;
this swaps that name between runs and restores it.
"""

from __future__ import annotations

import argparse
import statistics


def run(calls: int = 100_000, repeats: int = 3) -> dict[str, dict[str, list[float]]]:
    import busyhour.router as R
    from busyhour.bench import sim_bench as B
    from busyhour.sim.driver import simulate

    if not 1_000 <= calls <= 5_000_000 or not 1 <= repeats <= 20:
        raise SystemExit("calls must be 1,000 to 5,000,000 and repeats 1 to 20")
    small = B.scenario(calls // 5)
    engines = {"compiled": R.Router, "reference": R.ReferenceRouter}
    simulate(B.check_scenario(calls), 0)  # untimed: imports, JIT
    out: dict[str, dict[str, list[float]]] = {n: {"simpy": [], "bare": []} for n in engines}
    original = R.Router
    try:
        for rep in range(repeats):
            for name, cls in engines.items():
                R.Router = cls
                done = simulate(small, rep, engine="simpy")
                out[name]["simpy"].append(done.calls_simulated / done.wall_s)
                out[name]["bare"].append(B.engine_only(calls))
    finally:
        R.Router = original
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    for name, d in run(a.calls, a.repeats).items():
        print(f"{name}: SimPy driver median {statistics.median(d['simpy']):,.0f} calls/s, "
              f"bare loop median {statistics.median(d['bare']):,.0f} calls/s")


if __name__ == "__main__":
    main()
