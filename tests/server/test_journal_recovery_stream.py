"""Recovery streams the records it replays (busyhour.router.server.journal_recovery), and Journal.open's errors.

Invariants checked:
1. Memory while opening a journal and replaying it does not grow with the records a segment holds: the tracemalloc
   peak of open + iterating every record stays under a fixed bound far below the segment's size, for 2,000 and for
   16,000 records alike (the records were once held in a list: a peak of the whole segment).
2. Replay after recovery gives the records, the torn-tail report, the record count and the host state (digest, next
   seq) that the live writer had: across segments, after a snapshot, with a torn last record dropped.
3. Damage before the last record is still refused by Journal.open, before any record is handed out; a segment that
   vanishes afterwards is a JournalError naming it while the records are read, never a bare OSError.
4. ``read_header`` opens header.bin once.
5. An OS error anywhere in Journal.open is one JournalError: the file, "cannot open the journal", the OS's reason;
   the lock is released.
"""

from __future__ import annotations

import logging
import tracemalloc
from pathlib import Path

import pytest

from busyhour.router import parse_config
from busyhour.router.server import journal as jmod
from busyhour.router.server import journal_reader
from busyhour.router.server.host import Host, Work
from busyhour.router.server import protocol as P
from busyhour.router.server.journal import Journal, JournalError, JournalRecords
from busyhour.router.server.journal_reader import read_header

HEADER = {"format": 1, "epoch_unix_s": 1_700_000_000.0, "config_sha256": "ab" * 32, "created_unix_s": 1.0}
RECORD_BYTES = 1000
PEAK_LIMIT_BYTES = 3 << 20  # the 1 MiB read-ahead and a few records, with room to spare


def payload(i: int, size: int = RECORD_BYTES) -> bytes:
    return f"record-{i:07d}-".encode().ljust(size, b"x")


def one_segment_journal(d: Path, records: int) -> Path:
    j, _ = Journal.open(d, segment_bytes=1 << 30)
    j.write_header(HEADER)
    for i in range(records):
        j.append(payload(i))
    j.commit()
    j.close()
    assert len(list(d.glob("journal-*.log"))) == 1
    return d


def replay_peak_bytes(d: Path) -> tuple[int, int]:
    """(tracemalloc peak while opening and replaying every record, records replayed)."""
    tracemalloc.start()
    try:
        j, rec = Journal.open(d, segment_bytes=1 << 30)
        count = 0
        for i, p in enumerate(rec.records):
            assert p[:15] == f"record-{i:07d}-".encode()
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    j.close()
    return peak, count


def test_replay_memory_does_not_grow_with_the_records_of_a_segment(tmp_path):
    peaks = {}
    for n in (2_000, 16_000):
        d = one_segment_journal(tmp_path / f"j{n}", n)
        peak, count = replay_peak_bytes(d)
        assert count == n
        peaks[n] = peak
    assert peaks[16_000] < PEAK_LIMIT_BYTES, peaks  # the segment holds about 16 MB
    assert peaks[16_000] < peaks[2_000] + (256 << 10), peaks


def test_many_records_across_segments_with_a_snapshot_and_a_torn_tail(tmp_path, caplog):
    d = tmp_path / "j"
    j, _ = Journal.open(d, segment_bytes=64 << 10)
    j.write_header(HEADER)
    for i in range(3_000):
        j.append(payload(i, 20 + i % 300))
        if i % 7 == 6:
            j.commit()
        if i == 1_234:
            j.snapshot({"seq": i}, b"state")
    j.close()
    segs = sorted(d.glob("journal-*.log"))
    assert len(segs) > 5
    whole = segs[-1].read_bytes()
    segs[-1].write_bytes(whole[:-5])  # the last record torn
    with caplog.at_level(logging.WARNING, logger="busyhour.journal"):
        j, rec = Journal.open(d, segment_bytes=64 << 10)
    assert "torn tail dropped" in caplog.text and rec.torn is not None and str(segs[-1]) in rec.torn
    expected = [payload(i, 20 + i % 300) for i in range(1_235, 2_999)]
    assert isinstance(rec.records, JournalRecords) and len(rec.records) == len(expected)
    assert list(rec.records) == expected and rec.records == expected and rec.records != expected[:-1]
    assert list(rec.records) == expected  # iterated again: read again from disk
    assert rec.snapshot_meta["record"] == 1_235 and j.records_total == 2_999
    assert segs[-1].stat().st_size == len(whole) - 8 - (20 + 2_999 % 300)  # truncated at the torn record
    j.append(b"after")
    j.commit()
    j.close()
    j, rec = Journal.open(d, segment_bytes=64 << 10)
    assert rec.torn is None and list(rec.records) == expected + [b"after"]
    assert list(j.read_all_records(1_235)) == list(enumerate(expected + [b"after"], start=1_235))
    j.close()


CONFIG = parse_config({"agents": [{"id": "a1"}, {"id": "a2"}],
                       "queues": [{"name": "sales", "members": ["a1", "a2"], "ring_timeout_s": 10}]})


def test_replayed_host_state_and_next_seq_match_the_live_host(tmp_path):
    live = Host(CONFIG, engine="python")
    d = tmp_path / "j"
    j, _ = Journal.open(d, segment_bytes=4 << 10)
    j.write_header(HEADER)
    rid, now = 0, 0.0
    for agent in ("a1", "a2"):
        rid += 1
        frame = P.decode_frame(P.pack({"v": 1, "id": rid, "op": "login", "agent": agent, "ready": True}))[0]
        j.append(live.step(now, [Work([b"k"], b"k", frame, False)]).record)
    for i in range(400):
        now += 3.0
        rid += 1
        op = {"v": 1, "id": rid, "op": "arrive", "call": f"c{i}", "queue": "sales"} if i % 2 == 0 else \
            {"v": 1, "id": rid, "op": "release", "call": f"c{i - 1}"}
        out = live.step(now, [Work([b"k"], b"k", P.decode_frame(P.pack(op))[0], False)])
        if out.record is not None:
            j.append(out.record)
        if i % 5 == 0:
            j.commit()
        if i == 150:
            j.snapshot(live.snapshot_meta(j.records_total), live.to_blob())
    j.close()
    assert len(list(d.glob("journal-*.log"))) > 2 and live.last_seq > 400
    j, rec = Journal.open(d)
    replayed = Host(CONFIG, engine="python")
    replayed.load_blob(rec.snapshot_blob)
    for p in rec.records:
        replayed.replay(p)
    j.close()
    assert (replayed.last_seq, replayed.digest()) == (live.last_seq, live.digest())


def test_damage_before_the_last_record_is_refused_by_open(tmp_path):
    d = tmp_path / "j"
    j, _ = Journal.open(d, segment_bytes=1024)
    j.write_header(HEADER)
    for i in range(60):
        j.append(payload(i, 40))
        j.commit()
    j.close()
    segs = sorted(d.glob("journal-*.log"))
    middle = segs[1]
    data = middle.read_bytes()
    middle.write_bytes(data[:-48])  # a record gone from a segment that is not the last
    with pytest.raises(JournalError, match=f"{middle}: holds .* records, expected"):
        Journal.open(d)
    middle.write_bytes(data)
    j, rec = Journal.open(d)
    middle.unlink()  # gone after open: reading the records says so, naming the file
    with pytest.raises(JournalError, match=f"{middle}: cannot read the journal: No such file"):
        list(rec.records)
    j.close()


def test_read_header_opens_the_file_once(tmp_path, monkeypatch):
    d = one_segment_journal(tmp_path / "j", 1)
    opened = []
    real = journal_reader.open_regular
    monkeypatch.setattr(journal_reader, "open_regular", lambda path: opened.append(path) or real(path))
    assert read_header(d) == HEADER
    assert opened == [d / "header.bin"]


def test_an_os_error_in_open_is_one_message_naming_the_file(tmp_path, monkeypatch):
    d = one_segment_journal(tmp_path / "j", 3)
    seg = sorted(d.glob("journal-*.log"))[0]
    real = journal_reader.open_regular

    def refuse(path):
        if path == seg:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(journal_reader, "open_regular", refuse)
    with pytest.raises(JournalError) as err:
        Journal.open(d)
    assert str(err.value) == f"{seg}: cannot open the journal: Permission denied"
    monkeypatch.undo()

    def unlistable(directory, create):
        raise PermissionError(13, "Permission denied", str(directory))

    monkeypatch.setattr(jmod, "check_folder", unlistable)
    with pytest.raises(JournalError) as err:
        Journal.open(d)
    assert str(err.value) == f"{d}: cannot open the journal: Permission denied"
    monkeypatch.undo()
    j, rec = Journal.open(d)  # the failed opens released the lock
    assert len(rec.records) == 3
    j.close()
