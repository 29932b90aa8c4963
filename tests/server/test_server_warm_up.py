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
