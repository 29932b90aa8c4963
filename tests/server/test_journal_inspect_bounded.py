"""Reading a journal one record at a time (busyhour.router.server.journal_reader): bounded reads and memory.

Invariants checked:
1. ``journal inspect`` on a journal whose last segment is a huge sparse file, or starts with a garbage length,
   reports the torn tail exactly as before (exit 0, the same message), without one read over the largest legal
   record, without reading the rest of the file, and with a memory peak far below the file's size.
2. A garbage length in a segment that is not the last is corruption in the middle: exit 1, one line.
3. The server's recovery (Journal.open) takes the same bounded path: it drops and truncates the torn tail and
   returns every record before it.
4. Reading with a tiny read-ahead gives exactly what the default one gives, on any cut or flipped file (records
   straddle every refill boundary); a record larger than the read-ahead is read on its own.
"""

from __future__ import annotations

import json
import os
import tempfile
import tracemalloc
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from busyhour.cli.main import app
from busyhour.router.server import journal_reader
from busyhour.router.server.journal import MAX_PAYLOAD_BYTES, Journal, JournalError
from busyhour.router.server.journal_format import frame

HEADER = {"format": 1, "epoch_unix_s": 1_700_000_000.0, "config_sha256": "ab" * 32, "created_unix_s": 1.0}
TAIL_BYTES = 256 << 20  # a sparse segment far larger than the largest legal record (64 MiB)


def make_journal(d: Path, records: int = 5) -> Path:
    j, _ = Journal.open(d)
    j.write_header(HEADER)
    for i in range(records):
        j.append(msgpack.packb(["b", i * 0.5, [[b"pbx", i, "arrive", {"call": f"c{i}", "queue": "q"}]], i + 1]))
    j.commit()
    j.close()
    return d


def add_sparse_segment(d: Path, first: int, head: bytes = b"") -> Path:
    seg = d / f"journal-{first:012d}.log"
    with open(seg, "wb") as f:
        f.write(head)
        f.truncate(TAIL_BYTES)
    return seg


@pytest.fixture
def reads(monkeypatch) -> list[int]:
    """The size of every os.pread call while the test runs."""
    sizes: list[int] = []
    real = os.pread

    def recording(fd: int, size: int, offset: int) -> bytes:
        sizes.append(size)
        return real(fd, size, offset)

    monkeypatch.setattr(os, "pread", recording)
    return sizes


def inspect_json(d: Path) -> tuple[int, dict | None, str]:
    r = CliRunner().invoke(app, ["journal", "inspect", str(d), "-f", "json"])
    return r.exit_code, json.loads(r.stdout) if r.exit_code == 0 else None, r.stderr


def test_sparse_tail_reported_at_once_with_bounded_reads(tmp_path, reads):
    d = make_journal(tmp_path / "j")
    seg = add_sparse_segment(d, 5)
    tracemalloc.start()
    try:
        code, doc, err = inspect_json(d)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0, err
    assert doc["records"] == 5 and doc["segments"] == 2 and doc["bytes"] == (d / "journal-000000000000.log"
                                                                            ).stat().st_size + TAIL_BYTES
    assert doc["torn"] == (f"{seg}: offset 0 (record 5): impossible length 0; {TAIL_BYTES} bytes dropped "
                           "(a live server may be writing it; open repairs a torn tail)")
    assert reads and max(reads) <= MAX_PAYLOAD_BYTES
    assert sum(reads) < 4 << 20  # the header of the bad record, not the 256 MiB after it
    assert peak_bytes < 16 << 20, peak_bytes


def test_garbage_length_in_last_segment_is_a_torn_tail(tmp_path, reads):
    d = make_journal(tmp_path / "j")
    seg = add_sparse_segment(d, 5, head=b"\xff" * 8)
    code, doc, err = inspect_json(d)
    assert code == 0, err
    assert doc["records"] == 5
    assert doc["torn"].startswith(f"{seg}: offset 0 (record 5): impossible length 4294967295; {TAIL_BYTES} bytes")
    assert reads and max(reads) <= MAX_PAYLOAD_BYTES
    assert sum(reads) < MAX_PAYLOAD_BYTES  # at most a candidate record or two near the start, never the file


def test_garbage_length_in_an_earlier_segment_is_an_error(tmp_path, reads):
    d = make_journal(tmp_path / "j")
    seg = add_sparse_segment(d, 5, head=b"\xff" * 8)
    (d / "journal-000000000006.log").write_bytes(frame(b"later"))
    code, _, err = inspect_json(d)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "Traceback" not in err
    assert f"{seg}: offset 0 (record 5): impossible length 4294967295, and a later segment follows" in lines[0]
    assert max(reads) <= MAX_PAYLOAD_BYTES and sum(reads) < 4 << 20


def test_random_bytes_after_a_bad_record_end_the_search_with_an_error_not_hours(tmp_path, monkeypatch):
    """Random bytes read as a plausible length at ~1 offset in 64, each a CRC of up to 64 MiB: the search gives up
    at its budget with an error naming the offset, and drops nothing (open refuses too)."""
    d = make_journal(tmp_path / "j")
    seg = d / "journal-000000000005.log"
    seg.write_bytes(b"\xff" * 8 + np.random.default_rng(7).bytes(2 << 20))
    before = seg.read_bytes()
    checked: list[int] = []
    real = journal_reader.zlib.crc32
    monkeypatch.setattr(journal_reader, "MAX_SEARCH_CRC_BYTES", 4 << 20)
    monkeypatch.setattr(journal_reader.zlib, "crc32", lambda data, *a: checked.append(len(data)) or real(data, *a))
    code, _, err = inspect_json(d)
    assert code == 1 and "Traceback" not in err
    assert f"{seg}: offset 0 (record 5): impossible length 4294967295, and the {len(before)} bytes after" in err
    assert "may be corrupt in the middle" in err and "truncate the file at offset 0" in err
    assert sum(checked) <= (4 << 20) + MAX_PAYLOAD_BYTES  # the budget, and the candidate that passed it
    with pytest.raises(JournalError, match="may be corrupt in the middle"):
        Journal.open(d)
    assert seg.read_bytes() == before


def test_recovery_drops_the_sparse_tail_with_bounded_reads(tmp_path, reads):
    d = make_journal(tmp_path / "j", records=7)
    seg = add_sparse_segment(d, 7)
    j, rec = Journal.open(d)
    try:
        assert len(rec.records) == 7 and list(rec.records)[6] == msgpack.packb(
            ["b", 3.0, [[b"pbx", 6, "arrive", {"call": "c6", "queue": "q"}]], 7])
        assert rec.torn is not None and "impossible length 0" in rec.torn
        assert seg.stat().st_size == 0  # truncated away, as before
    finally:
        j.close()
    assert max(reads) <= MAX_PAYLOAD_BYTES and sum(reads) < 4 << 20


def test_a_record_larger_than_the_read_ahead_is_read_on_its_own(tmp_path, reads, monkeypatch):
    monkeypatch.setattr(journal_reader, "WINDOW_BYTES", 64)
    d = tmp_path / "j"
    j, _ = Journal.open(d)
    j.write_header(HEADER)
    big = msgpack.packb(["b", 1.0, [[b"pbx", 1, "arrive", {"call": "c" * 5000, "queue": "q"}]], 2])
    for p in (msgpack.packb(["a", 0.5, [], 1]), big, msgpack.packb(["a", 2.0, [], 3])):
        j.append(p)
    j.commit()
    j.close()
    code, doc, err = inspect_json(d)
    assert code == 0, err
    assert (doc["records"], doc["arrivals"], doc["last_seq"], doc["torn"]) == (3, 1, 3, None)
    assert len(big) in reads and max(reads) == len(big)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=90), min_size=1, max_size=10), st.data())
def test_a_tiny_read_ahead_reads_the_same(payloads, data):
    whole = b"".join(frame(p) for p in payloads)
    cut = data.draw(st.integers(0, len(whole)), label="cut")
    bad = bytearray(whole[:cut])
    if bad and data.draw(st.booleans(), label="flip"):
        bad[data.draw(st.integers(0, len(bad) - 1), label="at")] ^= data.draw(st.integers(1, 255), label="mask")
    window = data.draw(st.integers(1, 100), label="window")
    with tempfile.TemporaryDirectory() as tmp:
        seg = Path(tmp) / "journal-000000000000.log"
        seg.write_bytes(bytes(bad))
        results = []
        for w in (journal_reader.WINDOW_BYTES, window):
            saved, journal_reader.WINDOW_BYTES = journal_reader.WINDOW_BYTES, w
            try:
                reader = journal_reader.FrameReader(seg, 0, last=True)
                results.append((list(reader), reader.good, reader.torn))
            except JournalError as exc:
                results.append(str(exc))
            finally:
                journal_reader.WINDOW_BYTES = saved
        assert results[0] == results[1]
