"""The Kamailio adapter's bridge with CurveZMQ keys (``router.curve_keys``), against a real
``busyhour serve --curve-keys``: its command and event sockets get through with an admitted key,
and not without one. The keys' checks at config load are one-line errors, and Kamailio's own python3
(the Debian one, not this venv) reads the keys."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from busyhour.bench.serverproc import ServerProcess
from busyhour.router.server.security import generate

from kamailio_modules import ADAPTER_DIR, bh, cfgmod

SERVER_CONFIG = '[[agents]]\nid = "a1"\n[[queues]]\nname = "sales"\nmembers = ["a1"]\n'


def _config(tmp_path: Path, commands: str, events: str, keys: str | None, name: str = "k.toml") -> Path:
    curve = f'curve_keys = "{keys}"\n' if keys else ""
    path = tmp_path / name
    path.write_text(f'[router]\ncommands = "{commands}"\nevents = "{events}"\n{curve}'
                    f'[adapter]\nipc = "ipc://{tmp_path / name}.ipc"\n')
    return path


def _heard(bridge, seconds: float) -> bool:
    """Tick the bridge (its ping goes out on the first tick) until the server's ping reply came, or time ran out."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        bridge.tick(time.monotonic())
        if bridge.boot is not None:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(scope="module")
def curve_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bridge-curve")
    keys = tmp / "keys"
    generate(keys, ["kam"])
    (tmp / "router.toml").write_text(SERVER_CONFIG)
    proc = ServerProcess(tmp / "router.toml", None, extra_args=("--curve-keys", str(keys)))
    proc.start()
    try:
        yield proc, keys
    finally:
        proc.stop()


def test_bridge_with_the_keys_talks_to_a_curve_server(curve_server, tmp_path):
    proc, keys = curve_server
    for with_keys, expected in ((True, True), (False, False)):
        cfg = cfgmod.load_config(str(_config(tmp_path, proc.commands, proc.events, str(keys) if with_keys else None,
                                             name=f"k{with_keys}.toml")))
        bridge = bh.Bridge(cfg)
        bridge.open()
        try:
            assert _heard(bridge, 10.0 if expected else 1.5) is expected
        finally:
            bridge.sock.context.destroy(linger=0)


def test_curve_keys_errors_name_the_key(tmp_path):
    keys = tmp_path / "keys"
    generate(keys, ["a", "b"])
    cases = [
        (str(tmp_path / "none"), None, "router.curve_keys must be a folder"),
        (str(keys), None, "need the secret key of exactly one client"),
        (str(keys), "c", "need the secret key of client 'c'"),
    ]
    for folder, client, words in cases:
        path = _config(tmp_path, "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", folder)
        if client:
            path.write_text(path.read_text().replace("[adapter]", f'curve_client = "{client}"\n[adapter]'))
        with pytest.raises(ValueError, match=words):
            cfgmod.load_config(str(path))
    path = _config(tmp_path, "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", str(keys))
    path.write_text(path.read_text().replace("[adapter]", 'curve_client = "b"\n[adapter]'))
    curve = cfgmod.load_config(str(path))["router"]["curve"]
    assert [len(k) for k in curve] == [40, 40, 40]
    path = _config(tmp_path, "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", None)
    path.write_text(path.read_text().replace("[adapter]", 'curve_client = "b"\n[adapter]'))
    with pytest.raises(ValueError, match="router.curve_client needs router.curve_keys"):
        cfgmod.load_config(str(path))


def test_kamailios_python_reads_the_keys(tmp_path, sip_packages):
    """Kamailio runs bh_config.py in the system's python3 (python3-zmq), not this venv: it reads the keys there."""
    from busyhour.bench.sip_stack import KAMAILIO_PYTHON
    keys = tmp_path / "keys"
    generate(keys, ["kam"])
    path = _config(tmp_path, "tcp://127.0.0.1:1", "tcp://127.0.0.1:2", str(keys))
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from bh_config import load_config; "
            "print(*(len(k) for k in load_config(sys.argv[2])['router']['curve']))")
    out = subprocess.run([KAMAILIO_PYTHON, "-c", code, str(ADAPTER_DIR), str(path)],
                         capture_output=True, text=True, timeout=60, env={})
    assert out.returncode == 0 and out.stdout.split() == ["40", "40", "40"], out.stderr
