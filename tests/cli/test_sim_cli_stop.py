"""Stopping and unreachable clusters: Ctrl-C on ``simulate``/``sweep``/``demo``, bad ``--dask`` addresses.

1. SIGINT to the CLI process (a real subprocess, process pool of 2): it exits 130 within 2 s of the
   signal, says "partial" on stderr, and prints the finished replications marked PARTIAL when any finished.
2. A bad ``--dask`` address fails within 10 s with one error line: no scheme, not an address, an HTTP
   server, a refused port; without the Dask extra the message names ``pip install 'busyhour[dask]'``.
Every wait here is bounded (subprocess timeouts, socket timeouts).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from busyhour.bench.serverproc import process_tree_cpu_s
from busyhour.cli.main import app

EX = Path(__file__).resolve().parents[2] / "examples"
runner = CliRunner()


def _interrupt(args: list[str], busy_cpu_s: float) -> tuple[int, float, str, str]:
    """Start ``busyhour ARGS``; once it and its workers have used ``busy_cpu_s`` of CPU (imports take ~2 s of
    it, the rest is simulation, however loaded the machine; at most 60 s of waiting), send SIGINT; return
    (exit code, seconds to exit, stdout, stderr)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # A shell's background job starts with SIGINT ignored, and a child inherits that: start the CLI as a
    # terminal would, so that the suite means the same however it was launched.
    p = subprocess.Popen([sys.executable, "-m", "busyhour.cli.main", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=env,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60.0
        while time.monotonic() < deadline and p.poll() is None and process_tree_cpu_s(p.pid) < busy_cpu_s:
            time.sleep(0.2)
        assert p.poll() is None, "the run ended before the signal; give it more work"
        t0 = time.perf_counter()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        return p.returncode, time.perf_counter() - t0, out, err
    finally:
        if p.poll() is None:
            p.kill()
        if not p.stdout.closed:  # not communicated yet (ended before the signal, or killed): reap, close pipes
            p.communicate()


# Work for minutes (the compiled simulation runs busy_hour.toml at ~200,000 calls/s; --force: past the
# calls × replications limit), so that the signal, sent once the workers simulate, always finds the run going.
@pytest.mark.parametrize(("args", "bound_s"), [
    (["simulate", str(EX / "busy_hour.toml"), "-r", "10000", "--workers", "2", "--force"], 2.0),
    (["sweep", str(EX / "busy_hour.toml"), "--agents", "40:80", "-r", "400", "--workers", "2", "-f", "csv", "--force"],
     2.0),
    (["demo", "-r", "10000", "--workers", "2", "--force"], 2.0),
], ids=["simulate", "sweep", "demo"])
def test_ctrl_c_stops_within_2_s_and_prints_what_finished(args, bound_s):
    code, secs, out, err = _interrupt(args, busy_cpu_s=6.0)
    assert code == 130, err
    assert secs < bound_s, f"took {secs:.1f} s to stop"
    assert "interrupted: partial results" in err and "Traceback" not in err
    assert "leaked" not in err, err  # multiprocessing's resource tracker: the pool's semaphores not unlinked
    if "0 of" not in err:  # some replications finished: they are printed, marked partial
        assert "PARTIAL" in out or ",true" in out


def test_ctrl_c_in_process_prints_the_finished_replications():
    code, secs, out, err = _interrupt(["simulate", str(EX / "busy_hour.toml"), "-r", "10000", "--workers", "1",
                                       "-f", "json", "--force"], busy_cpu_s=5.0)
    assert code == 130 and secs < 2.0, err
    import json

    doc = json.loads(out)
    assert doc["partial"] is True and 1 <= doc["replications"] < doc["planned_replications"] == 10000


class _HttpServer:
    """A local server that answers every connection like a web server would (bounded: daemon thread)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1.0)
                try:
                    conn.recv(1024)  # waits for a request, as HTTP servers do
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def _refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def small(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text((EX / "busy_hour.toml").read_text())
    return p


@pytest.mark.parametrize(("address", "code", "message"), [
    ("127.0.0.1", 2, "expected tcp://HOST:PORT"),
    ("not-an-address", 2, "expected tcp://HOST:PORT"),
    ("tcp://127.0.0.1:99999", 2, "expected tcp://HOST:PORT"),
    ("http", 1, "is not a Dask scheduler"),
    ("refused", 1, "cannot connect to"),
])
def test_bad_dask_addresses_fail_within_10_s(small, address, code, message):
    pytest.importorskip("distributed")
    server = _HttpServer()
    try:
        address = {"http": f"tcp://127.0.0.1:{server.port}", "refused": f"tcp://127.0.0.1:{_refused_port()}"}.get(
            address, address)
        for cmd in (["simulate", str(small), "-r", "2"], ["sweep", str(small), "--agents", "50,60", "-r", "2"]):
            t0 = time.perf_counter()
            r = runner.invoke(app, [*cmd, "--dask", address])
            assert time.perf_counter() - t0 < 10
            lines = [x for x in r.stderr.splitlines() if x.strip()]
            assert r.exit_code == code and len(lines) == 1 and message in lines[0], r.stderr
            assert lines[0].startswith("busyhour: error: --dask: ")
    finally:
        server.close()


def test_dask_without_the_extra_names_the_extra(small, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    r = runner.invoke(app, ["simulate", str(small), "-r", "2", "--dask", "tcp://127.0.0.1:8786"])
    assert r.exit_code == 2 and "pip install 'busyhour[dask]'" in r.stderr
