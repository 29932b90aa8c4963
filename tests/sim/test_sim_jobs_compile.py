"""Replications on a process pool when the simulation code is not compiled yet.

From an empty numba cache every process that runs a replication would
compile the same code at once (the parent and each worker: three compiles
sharing two cores, and three "compiling" notices). ``run_jobs`` then runs
the first replication alone, before the pool starts, and the workers load
what it compiled from the cache. With the code cached, the first
replication runs while the pool starts, as before.

The pool is replaced by a recorder here: what is tested is the order of
events, not multiprocessing.
"""

from __future__ import annotations

import queue
from types import SimpleNamespace

import pytest

import busyhour.sim.driver as driver
import busyhour.sim.fast as fast
import busyhour.sim.jobs as jobs
from busyhour.router import core_compile
from busyhour.router.core_handle import run_batch_h
from busyhour.sim.fast_loop import run_loop
from busyhour.sim.scenario import parse_scenario

RAW = {
    "horizon_s": 600, "interval_s": 300, "seed": 3,
    "queues": [{"name": "q", "calls_per_hour": 120, "handle_time": {"dist": "exponential", "mean_s": 60}}],
    "teams": [{"name": "t", "agents": 4, "skills": {"q": 1}}],
}


class _Queue:
    def get_nowait(self):
        raise queue.Empty

    def cancel_join_thread(self):
        pass

    def close(self):
        pass


class _Pool:
    def __init__(self, log):
        self.log = log

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap_unordered(self, fn, todo):
        done = iter([(job[0], f"worker {job[2]}") for job in todo])
        return SimpleNamespace(next=lambda timeout: next(done))


def _run(monkeypatch, pending: bool) -> tuple[list, list]:
    log: list[str] = []
    monkeypatch.setattr(fast, "compile_pending", lambda scn, engine: pending)
    monkeypatch.setattr(driver, "simulate", lambda scn, rep, **kw: log.append(f"here {rep}") or f"here {rep}")
    ctx = SimpleNamespace(Queue=_Queue, Pool=lambda n, initializer, initargs: log.append("pool starts") or _Pool(log))
    monkeypatch.setattr("multiprocessing.get_context", lambda method: ctx)
    ticks: list[float] = []
    results = jobs.run_jobs([("scenario", r, 1) for r in range(3)], workers=2, progress=ticks.append)
    assert ticks[-1] == pytest.approx(3)
    return log, results


def test_a_cold_cache_compiles_in_the_first_job_before_the_pool_starts(monkeypatch):
    log, results = _run(monkeypatch, pending=True)
    assert log == ["here 0", "pool starts"]
    assert results == ["here 0", "worker 1", "worker 2"]


def test_with_the_code_cached_the_first_job_runs_while_the_pool_starts(monkeypatch):
    log, results = _run(monkeypatch, pending=False)
    assert log == ["pool starts", "here 0"]
    assert results == ["here 0", "worker 1", "worker 2"]


def test_compile_pending_asks_the_cache_for_the_engine_that_will_run(monkeypatch):
    scn = parse_scenario(RAW)
    asked: list = []
    monkeypatch.setattr(core_compile, "cached", lambda ds: asked.append(list(ds)) or False)
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    assert fast.compile_pending(scn, "compiled") is True
    assert asked[-1] == [run_loop]
    assert fast.compile_pending(scn, "simpy") is True
    assert asked[-1] == core_compile.router_dispatchers()  # its first Router compiles every entry
    assert run_batch_h in asked[-1]
    monkeypatch.setattr(core_compile, "cached", lambda ds: True)
    assert fast.compile_pending(scn, "auto") is False
    monkeypatch.setattr(core_compile, "cached", lambda ds: False)
    assert fast.compile_pending(scn, "no-such-engine") is False  # the run itself refuses the engine
    monkeypatch.setenv("NUMBA_DISABLE_JIT", "1")
    assert fast.compile_pending(scn, "compiled") is False  # nothing is compiled at all
