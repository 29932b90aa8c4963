"""``busyhour bench server``: call lifecycles per second through ``busyhour serve`` over ZeroMQ.

The server(s) and the load generators (bench/loadgen.py) are separate
processes on loopback. A lifecycle is arrive → offer → accept → release with
the agent freed (wrap-up 0, so the agent is AVAILABLE again in the release's
reply). Two runs on the same servers:

1. **max**: closed loop, every generator keeps each of its agents busy and
   sends whatever is due in each tick (as fast as the server answers);
2. **at_80**: fixed arrival rate at 80 % of the max run's lifecycles/s.

Latency is from the arrive request sent to the CALL_OFFERED received (as the
generator's clock sees it, so it includes the generator's own Python work).
With ``modules=2`` the queues are split over two servers, each generator
routes a request to the module of its queue, and each module's lifecycles
are reported with their sum; on a 2-core machine the two servers and the
generators share the same two cores, which bounds the ratio.
"""

from __future__ import annotations

import base64
import json
import math
import os
import pickle
import queue as queue_mod
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .loadgen import LoadResult, LoadSpec
from .serverproc import ServerProcess, write_config

LIMITS = {"calls": (100, 100_000_000), "max_seconds": (1.0, 3600.0), "generators": (1, 16), "modules": (1, 2),
          "agents": (1, 100_000), "queues": (1, 1000), "ring_delay_s": (0.0, 60.0), "talk_s": (0.0, 600.0),
          "busy_share": (0.05, 1.0)}
RESULT_MARGIN_S = 60.0  # wait this much beyond a run's own bound for the generators to report


@dataclass(frozen=True)
class BenchSetup:
    frames: str = "single"
    fsync: str = "batch"
    modules: int = 1
    generators: int = 2
    agents: int = 800  # per generator
    queues: int = 8  # per generator
    calls: int = 200_000  # per run, over all generators
    max_seconds: float = 10.0
    ring_delay_s: float = 0.0
    talk_s: float = 0.0
    seed: int = 1
    engine: str = "auto"  # the server's --engine
    busy_share: float = 0.5  # the max run keeps this share of each queue's members busy (the rest stay free, so
    # the 80 % run's calls find an agent and its latency is the server's, not a wait for an agent)

    def check(self) -> None:
        for name, (lo, hi) in LIMITS.items():
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and lo <= v <= hi):
                raise ValueError(f"{name} must be in {lo:g}–{hi:g}, got {v!r}")
        if self.frames not in ("single", "batched"):
            raise ValueError(f"frames must be single or batched, got {self.frames!r}")
        if self.engine not in ("auto", "compiled", "python"):
            raise ValueError(f"engine must be auto, compiled or python, got {self.engine!r}")
        if self.queues > self.agents:
            raise ValueError(f"queues ({self.queues}) must not exceed agents ({self.agents}) per generator")
        if self.modules > self.queues:
            raise ValueError("need at least one queue per module in each generator")


@dataclass(frozen=True)
class RunFigures:
    mode: str  # "closed-loop" or "fixed-rate"
    rate_per_s: float | None
    calls: int
    lifecycles: int
    seconds: float
    lifecycles_per_s: float
    bhca: float
    lifecycles_per_s_by_module: list[float]
    latency_ms: dict[str, float]
    ratios: dict[str, float]
    requests: int
    failed_requests: int
    unfinished: int
    frames_sent: int
    errors: dict[str, int]
    waited_share: float  # calls not offered in their arrive's reply (no agent free): share of calls arrived
    latency_ms_at_once: dict[str, float]  # latency_ms of the calls offered in their arrive's reply
    server_cpu_us_per_lifecycle: float | None  # the servers' CPU time over the run per lifecycle (None: no /proc)


def layout(setup: BenchSetup) -> list[dict[str, tuple[str, ...]]]:
    """Per module: queue name -> member agents. Generator g owns queues g{g}q{k}; queue k is on module k % modules."""
    per_queue = setup.agents // setup.queues
    modules: list[dict[str, tuple[str, ...]]] = [{} for _ in range(setup.modules)]
    for g in range(setup.generators):
        for k in range(setup.queues):
            n = per_queue + (1 if k < setup.agents % setup.queues else 0)
            modules[k % setup.modules][f"g{g}q{k}"] = tuple(f"g{g}q{k}a{j}" for j in range(n))
    return modules


def start_servers(setup: BenchSetup, workdir: Path, extra_args: tuple[str, ...] = ()) -> list[ServerProcess]:
    from busyhour.router.core_compile import jit_disabled, warm_up_router

    if setup.engine != "python" and not jit_disabled():
        warm_up_router()  # fills numba's disk cache here, so no server waits out its ready timeout compiling
    servers = []
    for m, queues in enumerate(layout(setup)):
        cfg = write_config(workdir / f"module{m}.toml", {q: list(a) for q, a in queues.items()},
                           ring_timeout_s=600.0, wrap_up_s=0.0)
        s = ServerProcess(cfg, workdir / f"journal{m}", fsync=setup.fsync,
                          extra_args=("--engine", setup.engine, *extra_args),
                          log_path=workdir / f"server{m}.log")
        s.start()
        servers.append(s)
    return servers


def specs(setup: BenchSetup, servers: list[ServerProcess], *, run_id: int, rate_per_s: float | None,
          calls: int, max_seconds: float, timeout_s: float = 2.0, retries: int = 5,
          garbage_share: float = 0.0, drain_s: float = 10.0) -> list[LoadSpec]:
    mods = layout(setup)
    module_of = {q: m for m, qs in enumerate(mods) for q in qs}
    members = {q: a for qs in mods for q, a in qs.items()}
    out = []
    for g in range(setup.generators):
        qs = tuple((q, module_of[q], members[q]) for q in (f"g{g}q{k}" for k in range(setup.queues)))
        n = calls // setup.generators + (1 if g < calls % setup.generators else 0)
        out.append(LoadSpec(name=f"gen{g}-run{run_id}-{os.getpid()}", modules=tuple(s.commands for s in servers),
                            queues=qs, calls=n, call_base=(run_id * 64 + g + 1) * 10**9, max_seconds=max_seconds,
                            rate_per_s=None if rate_per_s is None else rate_per_s / setup.generators,
                            ring_delay_s=setup.ring_delay_s, talk_s=setup.talk_s, frames=setup.frames,
                            timeout_s=timeout_s, retries=retries, drain_s=drain_s, garbage_share=garbage_share,
                            seed=setup.seed * 1000 + run_id * 64 + g, busy_share=setup.busy_share))
    return out


class _Child:
    """One generator process (``python -m busyhour.bench.loadgen``), spoken to over its stdin/stdout."""

    def __init__(self, spec: LoadSpec):
        self.proc = subprocess.Popen([sys.executable, "-m", "busyhour.bench.loadgen"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.lines: queue_mod.Queue = queue_mod.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.send(base64.b64encode(pickle.dumps(spec)).decode("ascii"))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("error: load generator exited")

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, timeout_s: float) -> str:
        try:
            line = self.lines.get(timeout=max(0.1, timeout_s))
        except queue_mod.Empty:
            raise RuntimeError(f"load generator gave no answer within {timeout_s:.0f} s") from None
        if line.startswith("error:"):
            raise RuntimeError(f"load generator: {line[7:]}")
        return line

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(5)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                f.close()


def run_generators(load: list[LoadSpec], on_start=None) -> list[LoadResult]:
    """One process per spec; all start at the same moment; ``on_start(start_at)`` runs in the parent then."""
    children: list[_Child] = []
    try:
        for s in load:
            children.append(_Child(s))
        for c in children:
            c.expect(120.0)  # "ready": logged in
        start_at = time.monotonic() + 0.2
        for c in children:
            c.send(repr(start_at))
        if on_start is not None:
            on_start(start_at)
        bound = max(s.max_seconds + s.drain_s + s.retries * (s.timeout_s + 1.0) for s in load) + RESULT_MARGIN_S
        end = time.monotonic() + bound
        return [_result(c.expect(end - time.monotonic()), i) for i, c in enumerate(children)]
    finally:
        for c in children:
            c.close()


def _result(line: str, index: int) -> LoadResult:
    """Generator ``index``'s result line, or a RuntimeError that says it could not be read (a line cut short
    when the generator was stopped while writing it)."""
    try:
        return pickle.loads(base64.b64decode(line, validate=True))
    except Exception as exc:  # binascii.Error, UnpicklingError, EOFError, …: the line is not a whole result
        raise RuntimeError(f"load generator {index} sent a result that could not be read ({len(line):,} characters:"
                           f" {type(exc).__name__}: {exc})") from None


def percentiles(lat_ms: np.ndarray) -> dict[str, float]:
    if lat_ms.size == 0:
        return {"p50": math.nan, "p99": math.nan, "p999": math.nan}
    p = np.percentile(lat_ms, [50, 99, 99.9])
    return {"p50": float(p[0]), "p99": float(p[1]), "p999": float(p[2])}


def ratios(results: list[LoadResult]) -> dict[str, float]:
    """The four ratios of docs/performance.md, from what the generators saw."""
    req = sum(r.requests for r in results) + sum(r.unfinished for r in results)
    failed = sum(r.failed_requests for r in results) + sum(r.unfinished for r in results)
    arrived = sum(r.calls_arrived for r in results)
    releases = sum(r.releases for r in results)
    return {"processing_failure": failed / req if req else 0.0,
            "premature_release": sum(r.premature for r in results) / arrived if arrived else 0.0,
            "release_failure": sum(r.release_failures for r in results) / releases if releases else 0.0,
            "connection": sum(r.connected for r in results) / arrived if arrived else 1.0}


def figures(results: list[LoadResult], modules: int, rate_per_s: float | None,
            server_cpu_s: float | None = None) -> RunFigures:
    t0 = min(r.first_send_s for r in results)
    t1 = max(r.last_done_s for r in results)
    seconds = max(t1 - t0, 1e-9)
    lifecycles = sum(r.lifecycles for r in results)
    by_module = [sum(r.lifecycles_by_module[m] for r in results) / seconds for m in range(modules)]
    lat = np.concatenate([np.frombuffer(r.latencies_ms, dtype=np.float32) for r in results])
    lat_now = np.concatenate([np.frombuffer(r.latencies_now_ms, dtype=np.float32) for r in results])
    arrived = sum(r.calls_arrived for r in results)
    errors: dict[str, int] = {}
    for r in results:
        for k, v in r.errors.items():
            errors[k] = errors.get(k, 0) + v
    rate = lifecycles / seconds
    return RunFigures("closed-loop" if rate_per_s is None else "fixed-rate", rate_per_s,
                      arrived, lifecycles, seconds, rate, rate * 3600.0, by_module,
                      percentiles(lat.astype(np.float64)), ratios(results), sum(r.requests for r in results),
                      sum(r.failed_requests for r in results), sum(r.unfinished for r in results),
                      sum(r.frames for r in results), errors,
                      sum(r.waited for r in results) / arrived if arrived else 0.0,
                      percentiles(lat_now.astype(np.float64)),
                      server_cpu_s * 1e6 / lifecycles if server_cpu_s is not None and lifecycles else None)


def servers_cpu_s(servers: list[ServerProcess]) -> float | None:
    """The servers' CPU seconds so far, summed (None if any cannot be read)."""
    each = [s.cpu_s() for s in servers]
    return None if any(c is None for c in each) else sum(each)


def _run_measured(setup: BenchSetup, servers: list[ServerProcess], rate_per_s: float | None, **kw) -> RunFigures:
    """One run of the generators, with the servers' CPU time from the start (the agents logged in, so a
    server's first use of the compiled core is not in it) to the last generator's result."""
    cpu0: list[float | None] = []
    results = run_generators(specs(setup, servers, rate_per_s=rate_per_s, **kw),
                             on_start=lambda start_at: cpu0.append(servers_cpu_s(servers)))
    cpu1 = servers_cpu_s(servers)
    cpu = cpu1 - cpu0[0] if cpu0 and cpu0[0] is not None and cpu1 is not None else None
    return figures(results, setup.modules, rate_per_s, cpu)


@dataclass(frozen=True)
class ServerBenchResult:
    frames: str
    fsync: str
    engine: str
    modules: int
    generators: int
    agents: int
    lifecycles_per_s: float  # the max run
    bhca: float
    latency_ms: dict[str, float]  # at 80 % of max
    latency_ms_at_max: dict[str, float]
    waited_share: float  # at 80 % of max: calls that waited for an agent (their latency includes that wait)
    latency_ms_at_once: dict[str, float]  # at 80 % of max: the calls offered in their arrive's reply
    server_cpu_us_per_lifecycle: float | None  # in the max run (None: no /proc to read it from)
    ratios: dict[str, float]  # worst of the two runs
    runs: dict[str, RunFigures]
    cpu_count: int
    caveat: str


def _worst(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: (min(a[k], b[k]) if k == "connection" else max(a[k], b[k])) for k in a}


def run(setup: BenchSetup, workdir: Path | None = None, progress=lambda msg: None) -> ServerBenchResult:
    setup.check()
    with tempfile.TemporaryDirectory(prefix="busyhour-bench-server-") as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        progress(f"starting {setup.modules} server(s), fsync {setup.fsync}")
        servers = start_servers(setup, work)
        try:
            progress(f"max run: closed loop, {setup.generators} generators, {setup.frames} frames")
            top = _run_measured(setup, servers, None, run_id=1, calls=setup.calls, max_seconds=setup.max_seconds)
            rate = 0.8 * top.lifecycles_per_s
            calls80 = max(100, min(setup.calls, int(rate * setup.max_seconds)))
            progress(f"80 % run: fixed rate {rate:,.0f} calls/s")
            at80 = _run_measured(setup, servers, rate, run_id=2, calls=calls80, max_seconds=setup.max_seconds)
        finally:
            for s in servers:
                s.stop()
    caveat = (f"{os.cpu_count()} CPU cores shared by {setup.modules} server process(es) and {setup.generators} "
              "load-generator process(es) on loopback: the figures are bounded by that sharing")
    return ServerBenchResult(setup.frames, setup.fsync, setup.engine, setup.modules, setup.generators,
                             setup.agents * setup.generators, top.lifecycles_per_s, top.bhca, at80.latency_ms,
                             top.latency_ms, at80.waited_share, at80.latency_ms_at_once,
                             top.server_cpu_us_per_lifecycle,
                             _worst(top.ratios, at80.ratios), {"max": top, "at_80": at80},
                             os.cpu_count() or 0, caveat)


def _clean(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def as_json(results: list[ServerBenchResult]) -> object:
    """The results as JSON-ready data (one object, or a list for several runs); NaN becomes null."""
    body = [_clean(asdict(r)) for r in results]
    return body[0] if len(body) == 1 else body


def write_json(results: list[ServerBenchResult], path: Path) -> None:
    Path(path).write_text(json.dumps(as_json(results), indent=2) + "\n", encoding="utf-8")


__all__ = ["BenchSetup", "ServerBenchResult", "RunFigures", "run", "as_json", "write_json"]
