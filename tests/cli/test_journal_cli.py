"""``busyhour journal inspect DIR``: table, json and csv output, read-only use, one-line errors.

The figures come from :func:`busyhour.router.server.journal.inspect` (tested in tests/server/test_journal.py);
these tests check the wiring: what is shown, formats, exit codes, messages.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import msgpack
import pytest
from typer.testing import CliRunner

from busyhour.cli.main import app
from busyhour.router.server.journal import Journal

runner = CliRunner()
EPOCH = 1_764_500_000.0


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def journal_dir(tmp_path) -> Path:
    d = tmp_path / "journal"
    j, _ = Journal.open(d)
    j.write_header({"format": 1, "epoch_unix_s": EPOCH, "config_sha256": "cd" * 32, "created_unix_s": EPOCH})
    arrive = [[b"pbx", i, "arrive", {"call": f"c{i}", "queue": "sales"}] for i in range(3)]
    j.append(msgpack.packb(["b", 0.5, arrive, 6]))
    j.append(msgpack.packb(["a", 15.5, [], 8]))
    j.commit()
    j.snapshot({"time_s": 15.5, "seq": 8, "calls_live": 3, "agents": 2}, b"engine")
    j.append(msgpack.packb(["b", 20.25, [[b"pbx", 9, "accept", {"call": "c0", "agent": "a1"}]], 10]))
    j.close()
    return d


def test_inspect_json(journal_dir):
    r = run("journal", "inspect", journal_dir, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert (doc["records"], doc["segments"], doc["commands"], doc["arrivals"]) == (3, 2, 4, 3)
    assert (doc["first_time_s"], doc["last_time_s"], doc["last_seq"]) == (0.5, 20.25, 10)
    assert doc["epoch_unix_s"] == EPOCH and doc["first_time_utc"].startswith("2025-11-30 ")
    assert (doc["replay_from_record"], doc["replay_records"]) == (2, 1)
    assert [s["record"] for s in doc["snapshots"]] == [2] and doc["snapshots"][0]["calls_live"] == 3
    assert doc["torn"] is None and doc["header"]["config_sha256"] == "cd" * 32


def test_inspect_table_and_csv(journal_dir):
    r = run("journal", "inspect", journal_dir)
    assert r.exit_code == 0, r.output
    for text in ("records", "calls arrived", "last seq", "a restart replays", "snapshot-000000000002.bin",
                 "20.250 s", "torn tail"):
        assert text in r.stdout, text
    r = run("journal", "inspect", journal_dir, "-f", "csv")
    assert r.exit_code == 0, r.output
    rows = dict(csv.reader(io.StringIO(r.stdout)))
    assert rows["records"] == "3" and rows["arrivals"] == "3" and rows["header.format"] == "1"


def test_inspect_reports_a_torn_tail_without_repairing_it(journal_dir):
    seg = sorted(journal_dir.glob("journal-*.log"))[-1]
    seg.write_bytes(seg.read_bytes()[:-2])
    size = seg.stat().st_size
    r = run("journal", "inspect", journal_dir, "-f", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["records"] == 2 and "offset 0" in doc["torn"] and seg.name in doc["torn"]
    assert seg.stat().st_size == size


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("busyhour: error: "), lines
    return lines[0]


def test_inspect_errors_are_one_line(tmp_path, journal_dir):
    r = run("journal", "inspect", tmp_path / "missing")
    assert r.exit_code == 2 and "no such journal folder" in one_error_line(r.stderr)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    r = run("journal", "inspect", tmp_path / "other")
    assert r.exit_code == 1 and "not a journal" in one_error_line(r.stderr)
    assert "empty or new folder" not in r.stderr  # that hint is for serve --journal, which creates one
    seg = sorted(journal_dir.glob("journal-*.log"))[0]
    data = bytearray(seg.read_bytes())
    data[10] ^= 0xFF  # inside the first of two records: corruption in the middle
    seg.write_bytes(bytes(data))
    r = run("journal", "inspect", journal_dir)
    assert r.exit_code == 1 and "corrupt in the middle" in one_error_line(r.stderr) and "Traceback" not in r.output


@pytest.mark.parametrize("name", ["header.bin", "journal-*.log", "snapshot-*.bin"])
def test_inspect_refuses_a_pipe_in_the_journal_at_once(journal_dir, name):
    """Opening a named pipe to read it waits for a writer: inspect (and a server's start) would never end."""
    path = sorted(journal_dir.glob(name))[0]
    path.unlink()
    os.mkfifo(path)
    script = Path(sys.executable).with_name("busyhour")  # a process, so that a wait on the pipe fails the test
    r = subprocess.run([str(script), "journal", "inspect", str(journal_dir), "-f", "json"], capture_output=True,
                       text=True, timeout=60)
    if name.startswith("snapshot"):  # a snapshot that cannot be read is listed with its error, as a damaged one is
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["snapshots"][0]["error"] == f"{path}: not a regular file"
    else:
        assert r.returncode == 1 and one_error_line(r.stderr) == f"busyhour: error: {path}: not a regular file"


def test_installed_script_prints_one_line(tmp_path):
    script = Path(sys.executable).with_name("busyhour")
    r = subprocess.run([str(script), "journal", "inspect", str(tmp_path / "nope")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "no such journal folder" in one_error_line(r.stderr)
