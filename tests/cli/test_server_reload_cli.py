"""``busyhour server reload --config FILE``: what it prints, and one-line errors for a bad file, a refused
reload and an unreachable server (the reload itself: tests/server/test_reload_*.py)."""

from __future__ import annotations

import json
import os
import threading

import pytest
from typer.testing import CliRunner

from busyhour.cli.main import app
from busyhour.router.server.loop import Server, ServerOptions

runner = CliRunner()
BASE = '[[agents]]\nid = "a1"\n\n[[agents]]\nid = "a2"\n\n[[queues]]\nname = "sales"\nmembers = ["a1"]\n'
GROWN = BASE.replace('members = ["a1"]', 'members = ["a1", "a2"]\nring_timeout_s = 20')


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    cfg = tmp_path_factory.mktemp("served") / "center.toml"
    cfg.write_text(BASE)
    server = Server(ServerOptions(config=cfg, bind="tcp://127.0.0.1:0", pub="tcp://127.0.0.1:0"))
    server.recover()
    server.bind()
    loop = threading.Thread(target=server.serve_forever, daemon=True)
    loop.start()
    try:
        yield server.endpoints[0]
    finally:
        server.stop()
        loop.join(10)
        server.close()


def run(*args):
    return runner.invoke(app, ["server", "reload", *(str(a) for a in args)])


def one_error_line(result, code: int) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert len(lines) == 1 and lines[0].startswith("busyhour: error: ") and "Traceback" not in result.output
    return lines[0]


def test_a_reload_prints_what_changed_then_nothing_the_second_time(endpoint, tmp_path):
    path = tmp_path / "grown.toml"
    path.write_text(GROWN)
    first = run("--config", path, "--endpoint", endpoint)
    assert first.exit_code == 0, first.stderr
    assert "queues changed" in first.stdout and "ring_timeout_s" in first.stdout and "a2" in first.stdout
    assert "changes applied" in first.stderr
    again = run("--config", path, "--endpoint", endpoint, "--format", "json")
    doc = json.loads(again.stdout)
    assert doc["changed"] is False and doc["queues"] == [] and doc["events"] == 0
    assert "nothing changed" in again.stderr


def test_a_refused_reload_is_one_line_naming_the_reason(endpoint, tmp_path):
    path = tmp_path / "other.toml"
    path.write_text(BASE.replace('id = "a1"\n', 'id = "a1"\ncapacity = { voice = 2 }\n'))
    line = one_error_line(run("--config", path, "--endpoint", endpoint), 1)
    assert "the server refused the reload (bad_request)" in line and "need a restart: agents['a1']" in line


@pytest.mark.parametrize("make, code, words", [
    (lambda p: p, 2, "center.toml: no such file; give the configuration file (TOML)"),
    (lambda p: (p.mkdir(), p)[1], 2, "center.toml: is a folder"),
    (lambda p: (os.mkfifo(p), p)[1], 2, "center.toml: is a named pipe, not a regular file; give the configuration"),
    (lambda p: (p.write_bytes(b"\xff\xfe"), p)[1], 2, "not UTF-8"),
    (lambda p: (p.write_bytes(b"#" * ((16 << 20) + 1)), p)[1], 2, "over the 16,777,216-byte limit"),
])
def test_a_file_that_cannot_be_sent_is_refused_before_connecting(tmp_path, make, code, words):
    path = make(tmp_path / "center.toml")
    assert words in one_error_line(run("--config", path, "--endpoint", "tcp://127.0.0.1:1"), code)


def test_an_unreachable_server_is_one_line(tmp_path):
    path = tmp_path / "center.toml"
    path.write_text(BASE)
    line = one_error_line(run("--config", path, "--endpoint", "tcp://127.0.0.1:1", "--timeout-s", "0.2",
                              "--retries", "0"), 1)
    assert "no reply from tcp://127.0.0.1:1" in line


def test_config_is_required():
    result = runner.invoke(app, ["server", "reload"])
    assert result.exit_code == 2 and "--config" in result.output
