"""The client's copies of the server's limits equal the server's own (client/framing.py, client/wire.py against
router/server/protocol.py, router/server/runtime.py and the options of ``busyhour serve`` and ``server reload``).

The client cannot import the server's definitions: anything under ``busyhour.router`` runs router/__init__.py,
which imports numba (about 1 s; ``import busyhour.client`` takes about 0.15 s and loads no numba), and the CLI
imports every command module at start-up, so cli/ cannot import the client's either. These tests keep the
copies one in value, and the first keeps the reason for them true.
"""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys

from busyhour.cli.server_cmds import serve
from busyhour.cli.server_reload_cmd import reload_cmd
from busyhour.client import framing, wire
from busyhour.router.server import protocol as P
from busyhour.router.server.runtime import ServerOptions


def _option(command, name):
    return inspect.signature(command).parameters[name].default  # typer's OptionInfo: default, min, max


def _server_default(name):
    return next(f.default for f in dataclasses.fields(ServerOptions) if f.name == name)


def test_the_client_loads_neither_numba_nor_the_router():
    code = ("import sys, busyhour.client; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numba' or m.startswith('busyhour.router')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_the_protocol_constants_match():
    assert framing.VERSION == P.VERSION
    assert framing.MAX_BATCH == P.MAX_BATCH
    assert framing.QUERY_OPS == frozenset(P.QUERY_OPS)
    assert wire.MAX_CONFIG_BYTES == P.MAX_CONFIG_BYTES
    assert wire.MAX_IDENTITY_BYTES == P.MAX_CLIENT_BYTES  # a client name is its routing id


def test_the_frame_limits_and_defaults_match_the_server_and_its_commands():
    frame = _option(serve, "max_frame_bytes")
    assert framing.MAX_FRAME_BYTES == frame.default == _server_default("max_frame_bytes")
    assert (framing.MIN_FRAME_BYTES, framing.MAX_FRAME_LIMIT) == (frame.min, frame.max)
    assert wire.DEFAULT_COMMANDS == _option(serve, "bind").default == _server_default("bind")
    assert wire.DEFAULT_COMMANDS == _option(reload_cmd, "endpoint").default
    assert _option(serve, "pub").default == _server_default("pub")
    assert wire.MAX_TIMEOUT_S == _option(reload_cmd, "timeout_s").max
