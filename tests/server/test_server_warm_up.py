"""The ready line means ready: the compiled engine's code is compiled (or loaded from numba's cache) first.

From an empty numba cache the routing core takes tens of seconds to compile.
Before this, ``busyhour serve`` printed its ready line at once and compiled on
the first request, which its client gave up on ("no reply after 5 retries").
``run`` now calls ``engines.warm_up`` after binding and before the ready line.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from busyhour.router.config import parse_toml
from busyhour.router.core_compile import router_dispatchers
from busyhour.router.server import engines, loop
from busyhour.router.server.loop import ServerOptions

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "router_center.toml"


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_the_ready_line_comes_after_the_warm_up(monkeypatch, engine):
    order: list = []
    monkeypatch.setattr(loop, "warm_up", lambda eng, log: order.append(("warm up", eng.kind)) or 0.0)
    monkeypatch.setattr(loop, "print", lambda *a, **k: order.append(a[0].split(" commands=")[0]), raising=False)
    monkeypatch.setattr(loop.Server, "serve_forever", lambda self: order.append("serve"))
    monkeypatch.setattr(loop.Server, "snapshot", lambda self: None)
    monkeypatch.setattr(loop.signal, "signal", lambda sig, handler: None)
    opts = ServerOptions(config=CONFIG, bind="tcp://127.0.0.1:0", pub="tcp://127.0.0.1:0", engine=engine)
    assert loop.run(opts) == 0
    assert order == [("warm up", engine), "busyhour serve: ready", "serve"]


def test_warm_up_readies_every_kernel_the_router_calls():
    eng = engines.make_engine(parse_toml(CONFIG.read_text(), str(CONFIG)), "compiled")
    secs = engines.warm_up(eng, logging.getLogger("test"))
    assert secs > 0.0
    missing = [d.py_func.__name__ for d in router_dispatchers() if not d.signatures]
    assert not missing, f"not compiled or loaded by the warm-up: {missing}"


def test_the_python_engine_needs_no_warm_up():
    eng = engines.make_engine(parse_toml(CONFIG.read_text(), str(CONFIG)), "python")
    assert engines.warm_up(eng, logging.getLogger("test")) == 0.0


def test_the_server_compiles_in_its_warm_up_after_the_bind_not_when_it_builds_the_engine(monkeypatch, capsys):
    """A Router compiles the core when made (core_compile.prepare_router), but the server's engine is made
    before the bind: its compile waits for ``warm_up``, so a bad address still fails at once, and the notice
    and the log line come there."""
    from busyhour.router import core_compile

    compiled: list = []
    monkeypatch.delenv("NUMBA_DISABLE_JIT", raising=False)
    monkeypatch.setattr(core_compile, "_told", set())
    monkeypatch.setattr(core_compile, "cached", lambda ds: bool(compiled))  # an empty cache until compiled
    monkeypatch.setattr(core_compile, "warm_up_router", lambda: compiled.append(1) or 1.5)
    eng = engines.make_engine(parse_toml(CONFIG.read_text(), str(CONFIG)), "compiled")
    assert compiled == [] and capsys.readouterr().err == ""
    logged: list = []
    monkeypatch.setattr(logging.Logger, "info", lambda self, msg, *a: logged.append(msg % a))
    assert engines.warm_up(eng, logging.getLogger("test")) == 1.5
    assert compiled == [1] and "compiling the routing core, once" in capsys.readouterr().err
    assert logged == ["routing core compiled in 1.5 s (numba's cache keeps it for later starts)"]
