"""Garbage-collector pauses of the server's host under load: ``python -m busyhour.bench.host_gc``.

The server's engine host (router/server/host.py, no sockets) is fed the
benchmark's lifecycles in one process: ``--agents`` agents in 8 queues, all
ready; each wake-up takes ``--arrivals`` new calls as one batched frame and
the answers and releases of the previous wake-up's offers as another. The
loop's collector settings are applied as ``busyhour serve`` applies them
(``quiet_gc``) once the host has run its first wake-up. Every collection is
timed on the thread's CPU clock (``gc.callbacks``), by generation.

Prints the count, the total and the median and largest pause per generation,
the wake-ups' CPU time and the events kept, as one ``HostGcResult`` each run.
Bounded: at most ``--ticks`` wake-ups (≤ 5,000) and ``--arrivals`` ≤ 5,000.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from dataclasses import dataclass

import msgpack

MAX_TICKS = 5_000
MAX_ARRIVALS = 5_000


@dataclass(frozen=True)
class GenerationPauses:
    generation: int
    count: int
    total_ms: float
    median_ms: float
    max_ms: float


@dataclass(frozen=True)
class HostGcResult:
    ticks: int
    calls: int
    cpu_s: float
    events_kept: int
    pauses: tuple[GenerationPauses, ...]


def run(ticks: int = 1_000, arrivals: int = 300, agents: int = 400) -> HostGcResult:
    from busyhour.router.config import parse_config
    from busyhour.router.server import protocol as P
    from busyhour.router.server.host import Host, Work
    from busyhour.router.server.runtime import quiet_gc

    if not 1 <= ticks <= MAX_TICKS or not 1 <= arrivals <= MAX_ARRIVALS or not 8 <= agents <= 100_000:
        raise ValueError(f"ticks 1..{MAX_TICKS}, arrivals 1..{MAX_ARRIVALS}, agents 8..100,000")
    cfg = parse_config({"agents": [{"id": f"a{i}"} for i in range(agents)],
                        "queues": [{"name": f"q{j}", "members": [f"a{i}" for i in range(j, agents, 8)]}
                                   for j in range(8)]})
    host, rid = Host(cfg, engine="compiled"), [0]

    def frame(reqs: list[dict]) -> Work:
        for r in reqs:
            rid[0] += 1
            r.update(v=1, id=rid[0])
        items, batch = P.decode_frame(msgpack.packb(reqs))
        return Work([b"bench"], b"bench", items, batch)

    now = 1.0
    host.step(now, [frame([{"op": "login", "agent": f"a{i}", "ready": True} for i in range(agents)])])
    quiet_gc()
    pauses: dict[int, list[float]] = {}
    started = [0.0]

    def timed(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.thread_time()
        else:
            pauses.setdefault(info["generation"], []).append(time.thread_time() - started[0])

    gc.callbacks.append(timed)
    try:
        calls, offered = 0, []
        t0 = time.thread_time()
        for _ in range(ticks):
            now += 0.01
            works = []
            if offered:
                works.append(frame([{"op": "accept", "call": c, "agent": a} for c, a in offered]
                                   + [{"op": "release", "call": c} for c, _ in offered]))
            works.append(frame([{"op": "arrive", "call": f"c{calls + k}", "queue": f"q{(calls + k) % 8}"}
                                for k in range(arrivals)]))
            calls += arrivals
            out = host.step(now, works)
            offered = [(r[3], r[4]) for r in out.rows if r[2] == "CALL_OFFERED"]
        cpu_s = time.thread_time() - t0
    finally:
        gc.callbacks.remove(timed)
    by_gen = tuple(GenerationPauses(g, len(p), 1e3 * sum(p), 1e3 * statistics.median(p), 1e3 * max(p))
                   for g, p in sorted(pauses.items()))
    return HostGcResult(ticks, calls, cpu_s, len(host._ring), by_gen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ticks", type=int, default=1_000, help=f"wake-ups (1..{MAX_TICKS})")
    ap.add_argument("--arrivals", type=int, default=300, help=f"new calls per wake-up (1..{MAX_ARRIVALS})")
    ap.add_argument("--agents", type=int, default=400, help="agents (8..100,000)")
    a = ap.parse_args()
    try:
        r = run(a.ticks, a.arrivals, a.agents)
    except ValueError as exc:
        ap.error(str(exc))
    print(f"{r.ticks} wake-ups, {r.calls:,} calls, {r.cpu_s:.2f} s CPU, {r.events_kept:,} events kept")
    for p in r.pauses:
        print(f"  generation {p.generation}: {p.count} collections, {p.total_ms:.0f} ms in all, "
              f"median {p.median_ms:.2f} ms, largest {p.max_ms:.1f} ms")


if __name__ == "__main__":
    main()
