"""The server's journal (busyhour.router.server.journal): framing, torn tails, snapshots, locking (its fsync
policies: test_journal_fsync.py).

Invariants checked:
1. What was committed is what is recovered, in order, also across reopen and across segments.
2. A torn or corrupt LAST record (cut at any byte, or any byte flipped) is dropped, reported and truncated away;
   every earlier record survives.
3. Corruption before the last record is a JournalError naming the file and offset, never a silent skip.
4. Recovery after a snapshot returns the snapshot and only the records after it; pruning keeps the newest
   ``keep_snapshots`` snapshots and every segment they need; a damaged newest snapshot falls back to an older one.
5. One process per journal folder (flock); the second open fails at once with a clear message.
6. kill -9 of a writer loses no record it reported committed, and recovery yields a prefix of what it wrote.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.router.server import journal as jmod
from busyhour.router.server.journal import MAX_PAYLOAD_BYTES, Journal, JournalError, inspect

HEADER = {"format": 1, "epoch_unix_s": 1_700_000_000.0, "config_sha256": "ab" * 32, "created_unix_s": 1.0}


def payload(i: int, size: int = 40) -> bytes:
    return f"record-{i:06d}-".encode().ljust(size, b"x")


def write(directory: Path, n: int, *, per_commit: int = 1, **kw) -> Journal:
    j, rec = Journal.open(directory, **kw)
    if rec.header is None:
        j.write_header(HEADER)
    start = j.records_total
    for i in range(start, start + n):
        j.append(payload(i))
        if (i + 1 - start) % per_commit == 0:
            j.commit()
    j.commit()
    return j


def segment(directory: Path) -> Path:
    return sorted(directory.glob("journal-*.log"))[-1]


def test_round_trip_and_reopen_appends_after_existing(tmp_path):
    d = tmp_path / "j"
    j = write(d, 10, per_commit=3)
    assert (j.records_total, j.first_retained_record) == (10, 0)
    assert j.last_commit is not None and j.last_commit.records == 1
    j.close()
    j.close()  # idempotent
    j, rec = Journal.open(d)
    assert rec.header == HEADER and rec.snapshot_meta is None and rec.torn is None
    assert rec.records == [payload(i) for i in range(10)]
    for i in range(10, 13):
        j.append(payload(i))
    timing = j.commit()
    assert (timing.records, timing.bytes) == (3, 3 * (8 + 40))
    j.close()
    j, rec = Journal.open(d)
    assert rec.records == [payload(i) for i in range(13)]
    assert list(j.read_all_records()) == list(enumerate(rec.records))
    assert j.bytes_total == 13 * 48
    j.close()


def test_segments_roll_and_read_back(tmp_path):
    d = tmp_path / "j"
    j = write(d, 100, per_commit=7, segment_bytes=1024)
    j.close()
    segs = sorted(d.glob("journal-*.log"))
    assert len(segs) > 3
    firsts = [int(p.stem.split("-")[1]) for p in segs]
    assert firsts[0] == 0 and firsts == sorted(firsts)
    j, rec = Journal.open(d, segment_bytes=1024)
    assert rec.records == [payload(i) for i in range(100)]
    j.close()


def test_torn_last_record_cut_at_every_byte(tmp_path, caplog):
    d = tmp_path / "j"
    write(d, 5).close()
    seg = segment(d)
    whole = seg.read_bytes()
    last_start = len(whole) - 48
    for cut in range(last_start, len(whole)):
        seg.write_bytes(whole[:cut])
        with caplog.at_level(logging.WARNING, logger="busyhour.journal"):
            caplog.clear()
            j, rec = Journal.open(d)
        assert rec.records == [payload(i) for i in range(4)], cut
        if cut == last_start:
            assert rec.torn is None
        else:
            assert rec.torn is not None and f"offset {last_start}" in rec.torn and str(seg) in rec.torn
            assert "torn tail dropped" in caplog.text
        assert seg.stat().st_size == last_start  # truncated away
        j.append(payload(99))  # appends continue cleanly after the cut
        j.close()
        j, rec = Journal.open(d)
        assert rec.records == [payload(i) for i in range(4)] + [payload(99)] and rec.torn is None
        j.close()


def test_flipped_byte_in_last_record_is_dropped(tmp_path):
    d = tmp_path / "j"
    write(d, 5).close()
    seg = segment(d)
    whole = seg.read_bytes()
    last_start = len(whole) - 48
    for k in range(last_start, len(whole)):
        bad = bytearray(whole)
        bad[k] ^= 0xFF
        seg.write_bytes(bytes(bad))
        j, rec = Journal.open(d)
        assert rec.records == [payload(i) for i in range(4)] and rec.torn is not None, k
        j.close()


def test_flipped_byte_in_the_middle_is_an_error(tmp_path):
    d = tmp_path / "j"
    write(d, 5).close()
    seg = segment(d)
    whole = seg.read_bytes()
    for k in range(48 * 2, 48 * 3):  # every byte of record 2 of 5
        bad = bytearray(whole)
        bad[k] ^= 0xFF
        seg.write_bytes(bytes(bad))
        with pytest.raises(JournalError, match="corrupt in the middle") as err:
            Journal.open(d)
        assert str(seg) in str(err.value) and "offset 96" in str(err.value), k
        with pytest.raises(JournalError):
            inspect(d)
        assert seg.read_bytes() == bytes(bad)  # never truncated
    seg.write_bytes(whole)
    j, rec = Journal.open(d)  # the lock was released by the failed opens
    assert len(rec.records) == 5
    j.close()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=64), min_size=1, max_size=12), st.data())
def test_any_cut_or_flip_recovers_a_prefix_or_refuses(payloads, data):
    """Cut the file anywhere: exactly the whole records before the cut come back. Flip any byte: a flip in the
    last record drops it; a flip anywhere before is a JournalError."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "j"
        j, _ = Journal.open(d)
        j.write_header(HEADER)
        for p in payloads:
            j.append(p)
        j.close()
        seg = segment(d)
        whole = seg.read_bytes()
        ends = [sum(8 + len(p) for p in payloads[:k + 1]) for k in range(len(payloads))]
        cut = data.draw(st.integers(0, len(whole)), label="cut")
        seg.write_bytes(whole[:cut])
        j, rec = Journal.open(d)
        kept = sum(1 for e in ends if e <= cut)
        assert rec.records == payloads[:kept]
        assert (rec.torn is None) == (cut in ends or cut == 0)
        j.close()
        flip = data.draw(st.integers(0, len(whole) - 1), label="flip")
        bad = bytearray(whole)
        bad[flip] ^= data.draw(st.integers(1, 255), label="mask")
        seg.write_bytes(bytes(bad))
        if flip >= (ends[-2] if len(ends) > 1 else 0):
            j, rec = Journal.open(d)
            assert rec.records == payloads[:-1] and rec.torn is not None
            j.close()
        else:
            with pytest.raises(JournalError, match="corrupt in the middle"):
                Journal.open(d)


def test_corrupt_earlier_segment_is_an_error(tmp_path):
    d = tmp_path / "j"
    write(d, 60, per_commit=5, segment_bytes=1024).close()
    first = sorted(d.glob("journal-*.log"))[0]
    data = bytearray(first.read_bytes())
    data[-3] ^= 0x01  # the last record of a segment that is not the last one
    first.write_bytes(bytes(data))
    with pytest.raises(JournalError, match=first.name):
        Journal.open(d, segment_bytes=1024)


def test_snapshot_prune_and_recover(tmp_path):
    d = tmp_path / "j"
    j = write(d, 0, segment_bytes=1024, keep_snapshots=2)
    for i in range(40):
        j.append(payload(i))
        if i % 3 == 2:
            j.commit()
        if i + 1 in (10, 20, 30):  # "record" counts the appended records, also those not committed yet
            j.snapshot({"time_s": float(i), "seq": i, "record": j.records_total}, f"state after {i + 1}".encode())
    j.close()
    assert [p.name for p in sorted(d.glob("snapshot-*.bin"))] == ["snapshot-000000000020.bin",
                                                                 "snapshot-000000000030.bin"]
    assert min(int(p.stem.split("-")[1]) for p in d.glob("journal-*.log")) == 20
    j, rec = Journal.open(d, segment_bytes=1024, keep_snapshots=2)
    assert rec.snapshot_meta == {"time_s": 29.0, "seq": 29, "record": 30}
    assert rec.snapshot_blob == b"state after 30"
    assert rec.records == [payload(i) for i in range(30, 40)]
    assert j.first_retained_record == 20 and j.list_snapshots() == [20, 30]
    assert list(j.read_all_records()) == [(i, payload(i)) for i in range(20, 40)]
    assert j.load_snapshot(20) == ({"time_s": 19.0, "seq": 19, "record": 20}, b"state after 20")
    j.close()
    # a damaged newest snapshot: recovery falls back to the older one and replays from there
    newest = d / "snapshot-000000000030.bin"
    data = bytearray(newest.read_bytes())
    data[-1] ^= 0xFF
    newest.write_bytes(bytes(data))
    j, rec = Journal.open(d, segment_bytes=1024)
    assert rec.snapshot_blob == b"state after 20" and rec.records == [payload(i) for i in range(20, 40)]
    j.close()
    # without any usable snapshot the pruned history cannot be rebuilt
    (d / "snapshot-000000000020.bin").unlink()
    with pytest.raises(JournalError, match="pruned"):
        Journal.open(d)


def test_second_open_fails_fast_in_process_and_in_another_process(tmp_path):
    d = tmp_path / "j"
    j = write(d, 3)
    with pytest.raises(JournalError, match=f"locked by another process \\(pid {os.getpid()}\\)"):
        Journal.open(d)
    code = ("import sys\nfrom busyhour.router.server.journal import Journal, JournalError\n"
            "try:\n    Journal.open(sys.argv[1])\nexcept JournalError as e:\n    print(e); sys.exit(3)\n")
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code, str(d)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and "locked by another process" in r.stdout, r.stderr
    assert time.monotonic() - t0 < 30  # fails at once, never waits for the lock
    j.close()
    j, rec = Journal.open(d)  # closing released the lock
    assert len(rec.records) == 3
    j.close()


def test_bad_folders_and_bad_use(tmp_path, monkeypatch):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(JournalError, match="is a file"):
        Journal.open(f)
    with pytest.raises(JournalError, match="does not exist"):
        Journal.open(tmp_path / "no" / "j")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("x")
    with pytest.raises(JournalError, match="not a journal.*give an empty or new folder"):
        Journal.open(other)
    with pytest.raises(ValueError, match="segment_bytes"):
        Journal.open(tmp_path / "j", segment_bytes=10)
    with pytest.raises(ValueError, match="fsync policy"):
        Journal.open(tmp_path / "j", fsync="often")
    j, rec = Journal.open(tmp_path / "j")
    assert rec.header is None and rec.records == []
    with pytest.raises(JournalError, match="write_header"):
        j.append(b"x")
    j.write_header(HEADER)
    with pytest.raises(JournalError, match="already has a header"):
        j.write_header(HEADER)
    with pytest.raises(JournalError, match="record of 0 bytes"):
        j.append(b"")
    with pytest.raises(JournalError, match=f"record of {MAX_PAYLOAD_BYTES + 1} bytes"):
        j.append(bytearray(MAX_PAYLOAD_BYTES + 1))
    j.append(b"ok")

    def full(fd, data):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(jmod.os, "write", full)
    with pytest.raises(JournalError, match="No space left"):
        j.commit()
    monkeypatch.undo()
    with pytest.raises(JournalError, match="failed earlier"):
        j.append(b"again")
    j.close()
    j, rec = Journal.open(tmp_path / "j")
    assert rec.records == [] and rec.header == HEADER
    j.close()
    with pytest.raises(JournalError, match="closed"):
        j.commit()


def test_unwritable_folder_refused(tmp_path, monkeypatch):
    d = tmp_path / "ro"
    d.mkdir()
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as root, chmod would not stop us: pretend
    with pytest.raises(JournalError, match="not writable"):
        Journal.open(d)


def test_records_without_header_refused(tmp_path):
    d = tmp_path / "j"
    write(d, 2).close()
    (d / "header.bin").unlink()
    with pytest.raises(JournalError, match="no header.bin"):
        Journal.open(d)


WRITER = """
import sys
from busyhour.router.server.journal import Journal
j, rec = Journal.open(sys.argv[1], fsync=sys.argv[2], segment_bytes=64 << 10)
j.write_header({"format": 1})
n = 0
while n < 200_000:
    for _ in range(1 + n % 5):
        j.append(f"r{n:07d}-".encode() * (1 + n % 37))
        n += 1
    j.commit()
    print(n, flush=True)
"""


@pytest.mark.parametrize("policy", ["batch", "never"])
def test_kill_9_loses_nothing_committed(tmp_path, policy):
    d = tmp_path / "j"
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(d), policy], stdout=subprocess.PIPE, text=True)
    reported = 0
    deadline = time.monotonic() + 5.0
    try:
        while reported < 3000 and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            reported = int(line)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        child.stdout.close()
    assert reported > 0, "the writer never committed"
    j, rec = Journal.open(d)
    n = len(rec.records)
    assert n >= reported
    assert rec.records == [f"r{i:07d}-".encode() * (1 + i % 37) for i in range(n)]
    j.close()


def test_inspect_reads_without_lock_or_repair(tmp_path):
    d = tmp_path / "j"
    j, _ = Journal.open(d)
    j.write_header(HEADER)
    cmds = [[b"pbx-1", 1, "arrive", {"call": "c1", "queue": "sales"}], [b"pbx-1", 2, "login", {"agent": "a1"}]]
    j.append(msgpack.packb(["b", 1.5, cmds, 4]))
    j.append(msgpack.packb(["a", 2.0, [], 5]))
    j.commit()
    j.snapshot({"time_s": 2.0, "seq": 5, "calls_live": 1, "agents": 2}, b"state")
    j.append(msgpack.packb(["b", 3.25, [[b"pbx-2", 7, "arrive", {"call": "c2", "queue": "sales"}]], 9]))
    j.commit()
    info = inspect(d)  # while the journal is open and locked
    assert (info.records, info.segments, info.first_record) == (3, 2, 0)
    assert (info.arrivals, info.commands, info.last_seq) == (2, 3, 9)
    assert (info.first_time_s, info.last_time_s, info.epoch_unix_s) == (1.5, 3.25, HEADER["epoch_unix_s"])
    assert info.snapshots[0]["record"] == 2 and info.snapshots[0]["calls_live"] == 1
    assert info.torn is None and info.undecodable == 0 and info.bytes == j.bytes_total
    j.close()
    seg = segment(d)
    seg.write_bytes(seg.read_bytes()[:-3])
    size = seg.stat().st_size
    info = inspect(d)
    assert info.torn is not None and info.records == 2 and seg.stat().st_size == size
    with pytest.raises(JournalError, match="no such journal folder"):
        inspect(tmp_path / "missing")
