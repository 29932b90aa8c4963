"""Reading a journal back when it is opened: the torn-tail repair, the snapshot to start from, and the records after
it, streamed from disk.

Specification
-------------
The format and the recovery rules are those of :mod:`busyhour.router.server.journal`. :func:`recover` reads a
journal folder its caller has locked, in this order:

1. the leftovers of an atomic write cut short (``header.bin.tmp``, ``snapshot-<N>.bin.tmp``) are deleted and the
   header is read;
2. the last segment is read to its end, keeping no record: its whole good records are counted, and a torn tail is
   truncated away (fsynced) and logged; a bad record with a valid one after it is a :class:`JournalError`;
3. the newest snapshot whose CRC checks out and whose record count the segments reach is chosen;
4. the earlier segments holding records after that snapshot are read to their end, keeping no record: a bad record,
   or a segment holding other than the records its name and the next segment's name say, is a JournalError.

The records after the snapshot are then handed out as :class:`JournalRecords`, which reads them from disk again,
one at a time, each time it is iterated. So a damaged journal is refused before the caller applies any record, the
snapshot is chosen knowing how many records survived the torn-tail repair, and memory stays bounded by one record
(64 MiB at most) plus the reader's 1 MiB read-ahead, whatever a segment holds (``segment_bytes``, up to 4 GiB, plus
the commit that crossed it).

Why two reads and not one: steps 2 to 4 must see every record after the snapshot before the first may be applied
(step 3 needs the last segment's count; a record applied before damage found later would be replayed from a journal
that is refused). Keeping the records between the two reads is what made recovery's memory grow with the journal;
reading them again costs O(bytes) of reads and CRCs, mostly from the page cache, small next to applying them.

:func:`segment_records` (also behind :meth:`Journal.read_all_records`) streams the records of a list of segments,
one at a time, and checks that each segment holds the records its name says.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from pathlib import Path
from typing import Iterator, NamedTuple, Sequence

from .journal_format import HEADER, SEGMENT, SNAPSHOT, JournalError, numbered, read_snapshot
from .journal_reader import FrameReader, read_header
from .journal_types import Recovery

log = logging.getLogger("busyhour.journal")

Segments = Sequence[tuple[int, Path]]  # (index of its first record, path), oldest first


def segment_records(segments: Segments, end: int, *, start: int = 0, stop: int | None = None,
                    limit_bytes: int | None = None) -> Iterator[tuple[int, bytes]]:
    """(index, payload) of every record with ``start <= index`` (``< stop`` at segment granularity) in
    ``segments``, oldest first, read one at a time; the last segment holds the records before ``end`` and is read
    to ``limit_bytes`` (None: to its end). A bad record or a segment holding other than the records its name and
    the next one's say is a JournalError (raised once the records before it have been handed out); a record past
    what a segment should hold is never handed out."""
    bounds = [first for first, _ in segments[1:]] + [end]
    for k, ((first, path), seg_end) in enumerate(zip(segments, bounds)):
        if seg_end <= start:
            continue
        if stop is not None and first >= stop:
            return
        reader = FrameReader(path, first, last=False, limit=limit_bytes if k == len(segments) - 1 else None)
        for payload in reader:
            index = first + reader.records - 1
            if start <= index < seg_end:
                yield index, payload
        if reader.records != seg_end - first:
            raise JournalError(f"{path}: holds {reader.records} records, expected {seg_end - first} "
                               "(a segment is missing or damaged)")


class JournalRecords:
    """The records a recovery replays (those after its snapshot), read from disk one at a time each time this is
    iterated; ``len`` is known without reading. Compares equal to a list or tuple of the same payloads.

    Iterate it before the journal is snapshotted or pruned (which may delete its segments); records committed
    after the recovery are not part of it. An OS error while reading is a JournalError naming the file."""

    __hash__ = None  # type: ignore[assignment]  # compares by content, which is on disk

    def __init__(self, segments: Segments, start: int, end: int, last_bytes: int) -> None:
        self._segments, self._start, self._end, self._last_bytes = tuple(segments), start, end, last_bytes

    def __len__(self) -> int:
        return self._end - self._start

    def __iter__(self) -> Iterator[bytes]:
        if not len(self):
            return
        try:
            for _, payload in segment_records(self._segments, self._end, start=self._start,
                                              limit_bytes=self._last_bytes):
                yield payload
        except OSError as exc:
            raise JournalError(f"{exc.filename or self._segments[0][1].parent}: cannot read the journal: "
                               f"{exc.strerror or exc}") from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, (list, tuple, JournalRecords)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    def __repr__(self) -> str:
        return f"JournalRecords(records {self._start} .. {self._end - 1}, {len(self)} records)"


class Recovered(NamedTuple):
    """What :func:`recover` found on disk, for the journal to carry on from."""

    recovery: Recovery
    segments: list[tuple[int, Path]]  # every retained segment, oldest first
    records_total: int  # records in the journal (the next record's index)
    last_segment_bytes: int  # bytes of whole good records in the last segment (where the next write goes)
    bytes_total: int  # bytes of every retained segment


def recover(directory: Path) -> Recovered:
    """Repair and check the (locked) journal in ``directory`` and say what to replay (see the module docstring).
    OSError is left to the caller."""
    for p in directory.iterdir():  # leftovers of an atomic write cut short
        if p.name.endswith(".tmp") and (p.name[:-4] == HEADER or SNAPSHOT.fullmatch(p.name[:-4])):
            p.unlink()
    header = read_header(directory)
    segments = numbered(directory, SEGMENT)
    records_total = good = bytes_total = 0
    torn = None
    if segments:
        last_first, last_path = segments[-1]
        reader = FrameReader(last_path, last_first, last=True)
        deque(reader, maxlen=0)  # counted and checked, not kept
        good, torn = reader.good, reader.torn
        if torn:
            log.warning("journal: torn tail dropped: %s", torn)
            with open(last_path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        records_total = last_first + reader.records
        bytes_total = sum(p.stat().st_size for _, p in segments)
    if records_total and header is None:
        raise JournalError(f"{directory}: holds {records_total} records but no {HEADER}")
    meta, blob = newest_snapshot(directory, records_total)
    start = meta["record"] if meta is not None else 0
    first_retained = segments[0][0] if segments else 0
    if start < first_retained:
        raise JournalError(f"{directory}: records before {first_retained} were pruned and no usable "
                           f"snapshot covers them")
    if segments:  # the earlier segments: checked now, so nothing is applied from a journal that is refused
        deque(segment_records(segments[:-1], segments[-1][0], start=start), maxlen=0)
    records = JournalRecords(segments, start, records_total, good)
    return Recovered(Recovery(header, meta, blob, records, torn), segments, records_total, good, bytes_total)


def newest_snapshot(directory: Path, records_total: int) -> tuple[dict | None, bytes | None]:
    """(meta, blob) of the newest snapshot whose CRC checks out and whose record count is its name's and at most
    ``records_total`` (each one skipped is logged), else (None, None)."""
    for n, path in reversed(numbered(directory, SNAPSHOT)):
        try:
            meta, blob = read_snapshot(path)
        except JournalError as exc:
            log.warning("journal: unreadable snapshot skipped: %s", exc)
            continue
        if meta.get("record") != n or n > records_total:
            log.warning("journal: snapshot %s skipped: record %s, journal has %d records",
                        path, meta.get("record"), records_total)
            continue
        return meta, blob
    return None, None
