"""The compiled core's first use: say that it compiles, or compile it ahead of time.

numba compiles the core the first time a process uses it and keeps the
machine code in its on-disk cache (``__pycache__`` beside the modules, or
numba's user cache directory when that is read-only), so only the first run
after an install waits. :func:`compile_notice` prints one line on stderr
when that wait is coming; :func:`warm_up_router` (``busyhour warmup``)
compiles everything a :class:`~busyhour.router.Router` uses.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Callable

import numpy as np

from .core_cache import jit_disabled

#: Compile time measured on a 2-core machine (first run after install), for the notice: 12.7-14.2 s on
#: 2026-12-04 (afternoon), 27-37 s on the slower host of earlier days (docs/performance.md, "First compile").
ROUTER_COMPILE_S = 15
_told: set[str] = set()


def _on_disk(d) -> bool:
    """Whether numba's disk cache holds code for ``d`` made from its current source (numba's own index
    check; its cache file object is private API, so anything unexpected counts as not cached)."""
    cache_file = getattr(getattr(d, "_cache", None), "_cache_file", None)
    try:
        return bool(cache_file._load_index())
    except Exception:  # noqa: BLE001 - a numba without this private API: say that a compile may come
        return False


def cached(dispatchers) -> bool:
    """Whether every numba dispatcher has compiled code in this process or in its disk cache."""
    return all(getattr(d, "signatures", None) or _on_disk(d) for d in dispatchers)


def will_compile(dispatchers) -> bool:
    """Whether calling ``dispatchers`` would compile first: numba compiles (:func:`jit_disabled` is False) and
    neither this process nor the disk cache holds their code."""
    return not jit_disabled() and not cached(dispatchers)


def cache_folder(dispatcher) -> str | None:
    """The folder numba keeps ``dispatcher``'s compiled code in: ``NUMBA_CACHE_DIR``'s, ``__pycache__`` beside
    the module, or the user's own cache when neither can be written to. None when unknown (no cache, or a numba
    without this private attribute)."""
    path = getattr(getattr(dispatcher, "_cache", None), "_cache_path", None)
    return path if isinstance(path, str) else None


def compile_notice(what: str, dispatchers, estimate_s: float | Callable[[], float]) -> None:
    """One line on stderr (once per process and ``what``) when ``dispatchers`` must be compiled first;
    ``estimate_s`` may be a function, called only then."""
    if what in _told or not will_compile(dispatchers):
        return
    _told.add(what)
    if callable(estimate_s):
        estimate_s = estimate_s()
    folder = next((f for f in map(cache_folder, dispatchers) if f is not None), None)
    where = f" in {folder}" if folder else ""
    print(f"busyhour: compiling {what}, once: ~{estimate_s:.0f} s (cached afterwards{where}; "
          "`busyhour warmup` compiles everything ahead of time)", file=sys.stderr, flush=True)


def router_dispatchers() -> list:
    from .core_handle import deadline_h, h_get_h, rank_of_h, run_batch_h
    from .core_ids import h_rebuild
    from .core_kernels import batch_flags, event_rows
    from .stats_core import stats_feed, stats_rehash

    return [run_batch_h, deadline_h, h_get_h, h_rebuild, rank_of_h, stats_feed, stats_rehash, event_rows, batch_flags]


def prepare_router() -> None:
    """Before a Router is used: when any kernel Router calls is neither compiled in this process nor in numba's
    disk cache, say so (:func:`compile_notice`) and compile them all now (:func:`warm_up_router`). Compiled
    only as used, a program that never calls one of them (``position()``, a growing call table) would find it
    missing, and be told it was compiling the core, at every run."""
    if not will_compile(router_dispatchers()):
        return
    compile_notice("the routing core", router_dispatchers(), ROUTER_COMPILE_S)
    warm_up_router()


def warm_up_router() -> float:
    """Compile (or load from the cache) every kernel Router calls; return the seconds it took."""
    from .core_layout import OP_ACCEPT, OP_ADVANCE, OP_ARRIVE, OP_DTYPE, OP_LOGIN
    from .fast import Router

    t0 = time.perf_counter()
    r = Router.from_config({"agents": [{"id": "a"}], "queues": [{"name": "q", "members": ["a"]}]}, calls=16,
                           notice=False)
    ops = np.array([(OP_LOGIN, 0.0, 0, 0, -1, 0, 1.0)] + [(OP_ARRIVE, 0.0, i, -1, 0, 0, 0.0) for i in range(1, 40)]
                   + [(OP_ACCEPT, 1.0, 1, 0, -1, 0, 0.0), (OP_ADVANCE, 2.0, 0, -1, -1, 0, 0.0)], dtype=OP_DTYPE)
    r.submit(ops)  # grows the call table on the way (h_rebuild)
    r.call_state(2)
    r.position(3)
    r.next_deadline()
    if not math.isfinite(r.now):
        raise RuntimeError("warm-up: the compiled core did not run")
    return time.perf_counter() - t0
