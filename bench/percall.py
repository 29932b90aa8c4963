"""Per-operation cost of ``Router``'s per-call methods: ``python -m busyhour.bench.percall``.

A tight loop with nothing of its own to do: ``--agents`` agents in one
queue, all ready, and ``--lifecycles`` calls, each an ``call_arrive``, an
``offer_accept`` of the offer it got and a ``call_release`` (no wrap-up, so
the agent is free again at once). What it times is three per-call
operations a lifecycle and the loop around them; it reports microseconds
per operation on the wall clock and on the process's CPU clock (the
machine's other users show in the first only), as one :class:`PerCallResult`.
``--ids str`` names the calls by strings (mapped to the core's integers),
``--no-stats`` builds the router with ``collect_stats=False``.

Bounded: ``--lifecycles`` ≤ 10,000,000 and ``--max-seconds`` ≤ 600 (the loop
stops at whichever comes first); ``--agents`` 1..10,000.
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

MAX_LIFECYCLES = 10_000_000
MAX_SECONDS = 600.0
MAX_AGENTS = 10_000


class PerCallResult(NamedTuple):
    agents: int
    lifecycles: int  # done (fewer than asked if ``max_seconds`` ran out)
    ops: int  # three per lifecycle
    wall_us_per_op: float
    cpu_us_per_op: float
    stats: bool
    ids: str  # "int" or "str"


def run(lifecycles: int = 100_000, agents: int = 100, *, stats: bool = True, ids: str = "int",
        max_seconds: float = 60.0) -> PerCallResult:
    from busyhour.router import Router

    if not 1 <= lifecycles <= MAX_LIFECYCLES or not 1 <= agents <= MAX_AGENTS \
            or not 0 < max_seconds <= MAX_SECONDS or ids not in ("int", "str"):
        raise ValueError(f"lifecycles 1..{MAX_LIFECYCLES:,}, agents 1..{MAX_AGENTS:,}, max seconds (0, "
                         f"{MAX_SECONDS:.0f}], ids int or str")
    names = [f"a{i}" for i in range(agents)]
    router = Router.from_config({"agents": [{"id": a} for a in names], "queues": [{"name": "q", "members": names}]},
                                collect_stats=stats)
    for a in names:
        router.agent_login(0.0, a, ready=True)
    arrive, accept, release = router.call_arrive, router.offer_accept, router.call_release
    named = ids == "str"
    t = 1.0
    done = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    stop = wall0 + max_seconds
    for c in range(lifecycles):
        if named:
            c = f"call-{c}"  # made here, not ahead: 10M of them would hold ~700 MB
        offered = arrive(t, c, "q")[-2]  # CALL_OFFERED, then the agent's state
        accept(t, c, offered.agent_id)
        release(t + 0.001, c)
        t += 0.01
        done += 1
        if not done & 1023 and time.perf_counter() >= stop:
            break
    wall_s, cpu_s = time.perf_counter() - wall0, time.process_time() - cpu0
    ops = 3 * done
    return PerCallResult(agents, done, ops, 1e6 * wall_s / ops, 1e6 * cpu_s / ops, stats, ids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lifecycles", type=int, default=100_000, help=f"calls (1..{MAX_LIFECYCLES:,})")
    ap.add_argument("--agents", type=int, default=100, help=f"agents in the one queue (1..{MAX_AGENTS:,})")
    ap.add_argument("--ids", default="int", help="call ids: int or str")
    ap.add_argument("--no-stats", action="store_true", help="collect_stats=False")
    ap.add_argument("--max-seconds", type=float, default=60.0,
                    help=f"stop the loop after this long (≤ {MAX_SECONDS:.0f} s)")
    a = ap.parse_args()
    try:
        r = run(a.lifecycles, a.agents, stats=not a.no_stats, ids=a.ids, max_seconds=a.max_seconds)
    except ValueError as exc:
        ap.error(str(exc))
    print(f"{r.lifecycles:,} lifecycles ({r.ops:,} operations), {r.agents} agents, ids {r.ids}, "
          f"statistics {'on' if r.stats else 'off'}: {r.wall_us_per_op:.2f} µs per operation "
          f"({r.cpu_us_per_op:.2f} µs CPU)")


if __name__ == "__main__":
    main()
