"""Fixtures for the client tests: the real ``busyhour serve`` as a child process on loopback.

``server``: a started server with a journal (so it can be SIGKILLed and
restarted with its state); ``dropper``: a relay that drops the replies it is
told to (client_helpers.Dropper), standing for replies lost on the network.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from client_helpers import QUEUES, Dropper

from busyhour.bench.serverproc import ServerProcess, write_config


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "router.toml", QUEUES, ring_timeout_s=600.0, wrap_up_s=0.0)


@pytest.fixture
def server(tmp_path: Path, config: Path):
    proc = ServerProcess(config, tmp_path / "journal", fsync="batch")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def dropper(server: ServerProcess):
    d = Dropper(server.commands)
    try:
        yield d
    finally:
        d.close()
