"""``busyhour serve`` start-up errors: an endpoint the OS refuses or a journal folder that cannot be used is exit 2
with one line naming the endpoint or path and the reason, no traceback and no ready line; a failure while serving
stays exit 1. The bind is tried before the journal is read (and replayed, which may compile the routing core).

Each server runs as a subprocess on loopback, bounded by TIMEOUT_S (it fails before compiling anything).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest
from typer.testing import CliRunner

from busyhour.bench.serverproc import free_ports
from busyhour.cli.main import app
from busyhour.router.server import loop
from busyhour.router.server.journal import Journal, JournalError
from busyhour.router.server.reloads import text_sha256
from busyhour.router.server.runtime import StartupError

TIMEOUT_S = 60
CONFIG = """
[[agents]]
id = "a1"
[[queues]]
name = "sales"
members = ["a1"]
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "center.toml"
    p.write_text(CONFIG)
    return p


@pytest.fixture
def taken_port():
    """A loopback port held by a listening socket of this test."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", free_ports(1)[0]))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


def serve(cfg: Path, *args: str) -> tuple[int, str]:
    """Run ``busyhour serve`` to its end; (exit code, its one error line). It must not get to its ready line."""
    cmd_port, pub_port = free_ports(2)
    argv = [str(Path(sys.executable).with_name("busyhour")), "serve", str(cfg),
            "--bind", f"tcp://127.0.0.1:{cmd_port}", "--pub", f"tcp://127.0.0.1:{pub_port}", *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert "ready" not in r.stdout and "Traceback" not in r.stderr, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.startswith("busyhour: error: ")]
    assert len(lines) == 1, r.stderr
    return r.returncode, lines[0]


@pytest.mark.parametrize("option", ["--bind", "--pub"])
def test_a_port_in_use_is_exit_2_naming_the_endpoint(cfg, taken_port, option):
    endpoint = f"tcp://127.0.0.1:{taken_port}"
    code, line = serve(cfg, option, endpoint)  # the later option wins over serve()'s own
    assert code == 2
    assert line == f"busyhour: error: cannot bind {endpoint} ({option}): Address already in use"


def test_a_missing_journal_parent_is_exit_2(cfg, tmp_path):
    journal = tmp_path / "missing" / "journal"
    code, line = serve(cfg, "--journal", str(journal))
    assert code == 2 and f"{journal}: parent folder {journal.parent} does not exist" in line
    assert not journal.parent.exists()


def test_a_journal_path_that_is_a_file_or_under_a_file_is_exit_2(cfg, tmp_path):
    plain = tmp_path / "journal.txt"
    plain.write_text("not a folder")
    code, line = serve(cfg, "--journal", str(plain))
    assert code == 2 and str(plain) in line and "not a folder" in line
    code, line = serve(cfg, "--journal", str(plain / "journal"))
    assert code == 2 and f"parent folder {plain} is not a folder" in line
    assert plain.read_text() == "not a folder"


def written_journal(directory: Path) -> Path:
    j, _ = Journal.open(directory)
    j.write_header({"format": 1, "epoch_unix_s": 1_700_000_000.0, "config_sha256": "ab" * 32,
                    "created_unix_s": 1.0})
    for i in range(3):
        j.append(b"x" * (10 + i))
    j.close()
    return directory


def test_a_corrupt_or_unreadable_journal_is_exit_2_naming_the_file(cfg, tmp_path):
    journal = written_journal(tmp_path / "journal")
    seg = sorted(journal.glob("journal-*.log"))[0]
    data = bytearray(seg.read_bytes())
    data[9] ^= 0xFF  # in the first of three records: damage in the middle
    seg.write_bytes(bytes(data))
    code, line = serve(cfg, "--journal", str(journal))
    assert code == 2 and f"{seg}: offset 0 (record 0): CRC mismatch" in line and "corrupt in the middle" in line
    seg.unlink()
    seg.mkdir()  # a segment that cannot be read (as root, a folder stands in for a file without permission)
    code, line = serve(cfg, "--journal", str(journal))
    assert code == 2 and line == f"busyhour: error: {seg}: not a regular file"
    seg.rmdir()
    os.mkfifo(seg)  # opening a pipe to read it would wait for a writer: the server would never start
    code, line = serve(cfg, "--journal", str(journal))
    assert code == 2 and line == f"busyhour: error: {seg}: not a regular file"


def test_a_journal_that_does_not_replay_is_exit_2_naming_why(cfg, tmp_path):
    """A record that goes otherwise here than where it was written (another version's rules, say): the replay stops
    at it, exit 2, naming its time."""
    j, _ = Journal.open(tmp_path / "journal")
    j.write_header({"format": 1, "epoch_unix_s": 1_700_000_000.0, "config_sha256": text_sha256(CONFIG),
                    "created_unix_s": 1.0, "engine": "python"})
    j.append(msgpack.packb(["b", 1.5, [[b"pbx", 1, "arrive", {"call": "c1", "queue": "sales"}]], 99]))
    j.close()
    code, line = serve(cfg, "--journal", str(tmp_path / "journal"), "--engine", "python")
    assert code == 2 and "replaying the record at time 1.5 gave last seq" in line and "the journal says 99" in line


def test_the_bind_is_tried_before_the_journal_is_read(cfg, tmp_path, taken_port):
    journal = written_journal(tmp_path / "journal")
    seg = sorted(journal.glob("journal-*.log"))[0]
    seg.write_bytes(b"\x00" * 9 + seg.read_bytes()[9:])
    code, line = serve(cfg, "--journal", str(journal), "--bind", f"tcp://127.0.0.1:{taken_port}")
    assert code == 2 and f"cannot bind tcp://127.0.0.1:{taken_port} (--bind)" in line


@pytest.mark.parametrize("error, code", [(StartupError("cannot bind tcp://x (--bind): nope"), 2),
                                         (JournalError("journal write failed: disk full"), 1)])
def test_start_up_errors_are_2_and_failures_while_serving_1(cfg, monkeypatch, error, code):
    def refuse(opts):
        raise error

    monkeypatch.setattr(loop, "run", refuse)
    r = CliRunner().invoke(app, ["serve", str(cfg)])
    assert r.exit_code == code and r.stderr.strip() == f"busyhour: error: {error}"
