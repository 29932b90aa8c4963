"""Fanning replications out: this process, a local process pool, or a Dask cluster.

``run_jobs(jobs)`` runs ``(scenario, replication, seed)`` jobs and returns
their ``RunResult`` s in job order, whatever the completion order:

* ``workers=1``: one after the other in this process;
* otherwise a ``multiprocessing.Pool`` (forkserver context) whose workers
  ignore SIGINT, so Ctrl-C reaches only this process; the first job runs
  in this process while the pool starts, so progress shows at once (before
  the pool starts when it compiles the simulation code: the workers then
  load that from numba's cache instead of each compiling it too);
* ``dask_address``: a Dask ``distributed.Client``. The address is checked
  before anything runs (``check_dask_address``): it must be
  ``tcp://HOST:PORT``, ``tls://HOST:PORT`` or ``inproc://…``; a TCP
  scheduler must accept the connection and speak first with a Dask frame
  within ``CONNECT_TIMEOUT_S`` (an HTTP server, a closed port or a silent
  one is refused with a one-line ``DaskError``).

Progress: ``progress(done)`` is called with the number of jobs done so far
as a float — finished jobs plus the simulated fraction of running ones
(reported per interval or per 2 % of the horizon from inside each run; Dask
jobs report only when they finish).

Ctrl-C (``KeyboardInterrupt``) while jobs run: pending jobs are cancelled,
the pool's workers are terminated (a running replication is not waited for),
and ``Interrupted`` — a ``KeyboardInterrupt`` — is raised carrying the
finished results (``None`` for the others).
"""

from __future__ import annotations

import os
import queue as queue_mod
import re
import signal
import socket
import struct
import sys
from collections.abc import Callable, Sequence

__all__ = ["CONNECT_TIMEOUT_S", "DaskError", "Interrupted", "check_dask_address", "run_jobs"]

CONNECT_TIMEOUT_S = 3.0
_ADDRESS = re.compile(r"(?P<scheme>tcp|tls)://(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during ``run_jobs``; ``results`` holds the finished runs in job order (``None`` for the rest)."""

    def __init__(self, results: list) -> None:
        super().__init__("interrupted")
        self.results = results


class DaskError(RuntimeError):
    """The Dask cluster cannot be used (extra not installed, unreachable, not a scheduler)."""


def check_dask_address(address: str) -> None:
    """Refuse a malformed address (``ValueError``) or an unusable scheduler (``DaskError``), in bounded time."""
    if address.startswith("inproc://"):
        return
    m = _ADDRESS.fullmatch(address.strip())
    if m is None or not 0 < int(m["port"]) < 65536:
        raise ValueError(f"expected tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786 (got {address!r})")
    host, port = m["host"].strip("[]"), int(m["port"])
    try:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise DaskError(f"cannot connect to {address}: {exc.strerror or exc}") from None
    with sock:
        if m["scheme"] == "tls":
            return  # the TLS handshake is the client's to do
        sock.settimeout(CONNECT_TIMEOUT_S)
        try:
            head = sock.recv(8, socket.MSG_WAITALL)
        except OSError:
            head = b""
    # A Dask scheduler greets first with a frame whose first 8 bytes are its length (little-endian).
    if len(head) < 8 or not 0 < struct.unpack("<Q", head)[0] < 1 << 20:
        raise DaskError(f"{address} is not a Dask scheduler (no Dask greeting within {CONNECT_TIMEOUT_S:g} s)")


def _client(address: str):
    try:
        from distributed import Client
    except ImportError:
        raise DaskError("--dask needs the Dask extra: pip install 'busyhour[dask]'") from None
    check_dask_address(address)
    try:
        return Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except Exception as exc:  # noqa: BLE001 — the client raises OSError, TimeoutError and worse for a bad peer
        raise DaskError(f"cannot connect to the Dask scheduler at {address}: {type(exc).__name__}: {exc}") from None


_PROGRESS = None  # a worker's queue for progress reports


def _init_worker(q) -> None:
    global _PROGRESS
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _PROGRESS = q


def _job(args: tuple):
    from busyhour.sim.driver import simulate

    i, scn, rep, seed, engine, streaming = args
    q = _PROGRESS
    return i, simulate(scn, rep, seed=seed, engine=engine, streaming_stats=streaming,
                       progress=None if q is None else (lambda f: q.put((i, f))))


def _start_method() -> str:
    """forkserver (safe beside threads), unless ``__main__`` is not a file it could re-import (``python -``)."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file and not os.path.exists(main_file):
        return "fork"
    return "forkserver"


def run_jobs(jobs: Sequence[tuple], *, workers: int | None = None, dask_address: str | None = None,
             progress: Callable[[float], None] | None = None, engine: str = "auto",
             streaming_stats: bool = False) -> list:
    """Run ``(scenario, replication, seed)`` jobs on ``engine`` (``simulate``'s, as is ``streaming_stats``);
    results in job order (see the module docstring)."""
    n = len(jobs)
    results: list = [None] * n
    part = [0.0] * n
    done = [0.0]  # sum(part), kept up to date in O(1) per report
    tick = progress or (lambda done: None)

    def report(i: int, frac: float) -> None:
        new = max(part[i], min(frac, 1.0))
        done[0] += new - part[i]
        part[i] = new
        tick(done[0])

    indexed = [(i, *job, engine, streaming_stats) for i, job in enumerate(jobs)]
    if dask_address:
        _run_dask(dask_address, indexed, results, report)
        return results
    workers = min(workers or os.cpu_count() or 1, n)
    try:
        if workers <= 1:
            for job in indexed:
                _run_here(job, results, report)
        else:
            _run_pool(workers, indexed, results, report)
    except KeyboardInterrupt:
        raise Interrupted(results) from None
    return results


def _run_here(job: tuple, results: list, report) -> None:
    from busyhour.sim.driver import simulate

    i, scn, rep, seed, eng, streaming = job
    results[i] = simulate(scn, rep, seed=seed, engine=eng, streaming_stats=streaming, progress=lambda f: report(i, f))
    report(i, 1.0)


def _compiles_first(job: tuple) -> bool:
    """Whether ``job`` would compile the simulation code first (numba's cache lacks it)."""
    from busyhour.sim.fast import compile_pending

    _, scn, _, _, eng, _ = job
    return compile_pending(scn, eng)


def _run_pool(workers: int, indexed: list, results: list, report) -> None:
    import multiprocessing

    # Code not yet in numba's cache is compiled by the first job here, before the workers start: they then
    # load it, instead of every process compiling the same code at once (three compiles sharing two cores).
    first_alone = _compiles_first(indexed[0])
    if first_alone:
        _run_here(indexed[0], results, report)
    ctx = multiprocessing.get_context(_start_method())
    q = ctx.Queue()
    try:
        with ctx.Pool(workers, initializer=_init_worker, initargs=(q,)) as pool:  # exit: terminate()
            it = pool.imap_unordered(_job, indexed[1:])
            if not first_alone:
                _run_here(indexed[0], results, report)  # while the pool starts
            done = 1
            while done < len(indexed):
                try:
                    i, res = it.next(timeout=0.1)
                except multiprocessing.TimeoutError:
                    pass
                else:
                    results[i] = res
                    report(i, 1.0)
                    done += 1
                for _ in range(10_000):  # drain what the workers reported
                    try:
                        report(*q.get_nowait())
                    except queue_mod.Empty:
                        break
    finally:
        q.cancel_join_thread()
        q.close()


def _run_dask(address: str, indexed: list, results: list, report) -> None:
    client = _client(address)
    with client:
        futures = client.map(_job, indexed, pure=False)
        try:
            for fut in futures:  # in job order; the cluster runs them all meanwhile
                i, res = fut.result()
                results[i] = res
                report(i, 1.0)
        except KeyboardInterrupt:
            client.cancel(futures)
            raise Interrupted(results) from None
