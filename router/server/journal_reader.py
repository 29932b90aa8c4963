"""Reading a journal from disk one record at a time: the header, the segments, and ``busyhour journal inspect``.

Specification
-------------
The format and the recovery rules are those of :mod:`busyhour.router.server.journal`. A file of record frames is
read frame by frame: the 8-byte frame header ``[u32 length][u32 CRC32]``, then exactly ``length`` bytes, each with
one ``os.pread``. A length of 0 or over :data:`MAX_PAYLOAD_BYTES` (64 MiB) is reported from its header alone, so no
read asks for more than 64 MiB whatever the size of the file, and memory stays within one record plus what the
caller keeps (:func:`inspect` keeps no payload).

A bad record in the last segment is a torn tail only if no whole record with a matching CRC sits anywhere after it
(:func:`valid_record_at_or_after`). That search reads the rest of the file in 1 MiB windows; it skips the file's
holes (``SEEK_DATA``) and windows of zero bytes (a record never starts there: its length would be 0), so a sparse
or zero-filled tail is decided at once.

Cost: O(bytes) reads, one CRC per record. The search after a bad record in the last segment costs O(bytes after
it), plus a CRC of up to 64 MiB per offset whose 4 bytes read as a plausible length (random data has many).
"""

from __future__ import annotations

import errno
import os
import zlib
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np

from .journal_format import (FRAME, HEADER, HEADER_MAGIC, MAX_PAYLOAD_BYTES, SEGMENT, SNAPSHOT, JournalError,
                             JournalInfo, check_folder, check_snapshot, numbered, open_regular, unpack)

WINDOW_BYTES = 1 << 20  # bytes looked at per step of the search for a valid record after a bad one
#: Most payload bytes the search checksums before it gives up (about a second): random bytes after a bad record
#: read as a plausible length at about one offset in 64, and each costs a CRC of up to 64 MiB, so a tail of tens
#: of MiB of random bytes could take hours. Giving up is an error, never a guess: nothing is dropped.
MAX_SEARCH_CRC_BYTES = 2 << 30


class SearchTooLong(Exception):
    """The search for a valid record after a bad one passed :data:`MAX_SEARCH_CRC_BYTES`."""
_SEEK_DATA = getattr(os, "SEEK_DATA", None)


def read_at(fd: int, size: int, offset: int) -> bytes:
    """``size`` bytes at ``offset`` of ``fd``; fewer only where the file ends."""
    got = os.pread(fd, size, offset)
    if len(got) in (0, size):
        return got
    parts = [got]
    done = len(got)
    while done < size:
        more = os.pread(fd, size - done, offset + done)
        if not more:
            break
        parts.append(more)
        done += len(more)
    return b"".join(parts)


def _maybe_data(fd: int, base: int, offset: int) -> int | None:
    """The first offset >= ``offset`` where a record header could start: 3 bytes before the next byte that is not
    in a hole (a header starting earlier has a length of 0), or None when only a hole follows."""
    if _SEEK_DATA is None:
        return offset
    try:
        data = os.lseek(fd, base + offset, _SEEK_DATA) - base
    except OSError as exc:
        return None if exc.errno == errno.ENXIO else offset  # ENXIO: a hole to the end; else no SEEK_DATA here
    return max(offset, data - 3)


def valid_record_at_or_after(fd: int, base: int, end: int, start: int) -> int | None:
    """The first offset >= ``start`` (relative to ``base``, before ``end``) where a whole record with a matching
    CRC sits, else None. Reads ``WINDOW_BYTES`` at a time (a vectorised look at each window). Raises
    :class:`SearchTooLong` once it has checksummed ``MAX_SEARCH_CRC_BYTES`` of candidate payloads."""
    lo, crc_bytes = start, 0
    while lo < end - 8:
        lo = _maybe_data(fd, base, lo)
        if lo is None or lo >= end - 8:
            return None
        hi = min(lo + WINDOW_BYTES, end - 8)  # offsets lo..hi-1 have a full header and at least 1 byte after it
        window = read_at(fd, hi - lo + 7, base + lo)
        arr = np.frombuffer(window, dtype=np.uint8)
        m = min(hi - lo, len(arr) - 7)  # fewer when the file shrank while being read
        if m > 0 and arr.any():
            length = arr[0:m].astype(np.uint32)
            for k in range(1, 4):
                length |= arr[k:m + k].astype(np.uint32) << np.uint32(8 * k)
            view = memoryview(window)
            for at in np.flatnonzero((length > 0) & (length <= MAX_PAYLOAD_BYTES)).tolist():
                size, crc = FRAME.unpack_from(window, at)
                q, at = lo + at, at + 8
                if q + 8 + size > end:
                    continue
                crc_bytes += size
                if crc_bytes > MAX_SEARCH_CRC_BYTES:
                    raise SearchTooLong
                payload = view[at:at + size] if at + size <= len(window) else read_at(fd, size, base + q + 8)
                if len(payload) == size and zlib.crc32(payload) == crc:
                    return q
        lo = hi
    return None


class FrameReader:
    """The record frames of one file from byte ``base`` (at most ``limit`` bytes), read one at a time.

    Iterate it for the payloads; afterwards ``good`` is the bytes of whole good records, ``torn`` the torn-tail
    description (``last`` only) or None, ``size`` the bytes looked at, ``records`` how many were read. Offsets in
    messages count from ``base``; record numbers from ``first``. Raises JournalError for corruption that is not a
    torn tail, as soon as it is found. Small records come from a read-ahead of ``WINDOW_BYTES``; a record larger
    than that is read on its own, so one read asks for at most max(``WINDOW_BYTES``, 64 MiB) bytes."""

    def __init__(self, path: Path, first: int, *, last: bool, base: int = 0, limit: int | None = None) -> None:
        self.path, self.first, self.last, self.base, self.limit = path, first, last, base, limit
        self.size = self.good = self.records = 0
        self.torn: str | None = None
        self._buf, self._buf_at = b"", 0

    def _take(self, fd: int, pos: int, k: int, n: int) -> bytes | memoryview:
        """``k`` bytes at ``pos`` (fewer where the file ends), from the read-ahead, reading on when it runs out."""
        off = pos - self._buf_at
        if off < 0 or off + k > len(self._buf):
            self._buf = read_at(fd, min(max(k, WINDOW_BYTES), n - pos), self.base + pos)
            self._buf_at, off = pos, 0
            if k >= len(self._buf):  # a record read on its own (or the end of the file): no copy
                return self._buf
        return memoryview(self._buf)[off:off + k]

    def __iter__(self) -> Iterator[bytes]:
        with open_regular(self.path) as f:
            yield from self.frames(f.fileno())

    def frames(self, fd: int) -> Iterator[bytes]:
        """The payloads, read from ``fd``: ``path`` already opened (and checked) by the caller."""
        n = max(0, os.fstat(fd).st_size - self.base)
        self.size = n = n if self.limit is None else min(n, self.limit)
        self._buf, self._buf_at = b"", 0
        pos = 0
        unpack_from, crc32 = FRAME.unpack_from, zlib.crc32
        while pos < n:
            buf, off = self._buf, pos - self._buf_at
            if off + 8 <= len(buf):  # the common case: a whole good record inside the read-ahead
                size, crc = unpack_from(buf, off)
                if 0 < size <= MAX_PAYLOAD_BYTES and off + 8 + size <= len(buf):
                    payload = buf[off + 8:off + 8 + size]
                    if crc32(payload) == crc:
                        pos += 8 + size
                        self.good, self.records = pos, self.records + 1
                        yield payload
                        continue
            problem, size = None, 0  # otherwise: read on, or say what is wrong
            head = self._take(fd, pos, min(8, n - pos), n)
            if len(head) < min(8, n - pos):  # the file shrank while being read: it ends here
                self.size = n = pos + len(head)
                if pos == n:
                    break
            if n - pos < 8:
                problem = f"{n - pos} bytes, shorter than a record header"
            else:
                size, crc = FRAME.unpack(head)
                if size == 0 or size > MAX_PAYLOAD_BYTES:
                    problem = f"impossible length {size}"
                elif pos + 8 + size > n:
                    problem = f"a {size}-byte record cut short after {n - pos - 8} bytes"
                else:
                    payload = self._take(fd, pos + 8, size, n)
                    if len(payload) < size:
                        self.size = n = pos + 8 + len(payload)
                        problem = f"a {size}-byte record cut short after {len(payload)} bytes"
                    elif zlib.crc32(payload) != crc:
                        problem = "CRC mismatch"
            if problem is None:
                pos += 8 + size
                self.good, self.records = pos, self.records + 1
                yield payload if isinstance(payload, bytes) else bytes(payload)
                continue
            self._buf = b""
            self._bad(fd, pos, n, problem)
            return
        self._buf = b""

    def _bad(self, fd: int, pos: int, n: int, problem: str) -> None:
        where = f"{self.path}: offset {pos} (record {self.first + self.records})"
        try:
            after = valid_record_at_or_after(fd, self.base, n, pos + 1) if self.last else None
        except SearchTooLong:
            raise JournalError(f"{where}: {problem}, and the {n - pos} bytes after it are not a torn tail's (no "
                               f"run of zeros; telling whether a valid record follows would take checksums of over "
                               f"{MAX_SEARCH_CRC_BYTES >> 30} GiB): the journal may be corrupt in the middle (restore "
                               f"a backup, or truncate the file at offset {pos} to drop what follows)") from None
        if not self.last or after is not None:
            follow = f"a valid record follows at offset {after}" if after is not None else "a later segment follows"
            raise JournalError(f"{where}: {problem}, and {follow}: the journal is corrupt in the middle "
                               f"(restore a backup, or truncate the file at offset {pos} to drop the records after it)")
        self.torn = f"{where}: {problem}; {n - pos} bytes dropped"


def read_header(directory: Path) -> dict | None:
    """The header map of the journal in ``directory``, or None when it has no ``header.bin``; JournalError when
    the file is not a whole header. The file is opened once: the magic and the frame come from the same file,
    even if a live server replaces it (atomically) meanwhile."""
    path = directory / HEADER
    if not path.exists():
        return None
    with open_regular(path) as f:
        magic = read_at(f.fileno(), len(HEADER_MAGIC), 0)
        if magic != HEADER_MAGIC:
            raise JournalError(f"{path}: not a journal header (bad magic)")
        reader = FrameReader(path, 0, last=True, base=len(HEADER_MAGIC))
        frames = reader.frames(f.fileno())
        payloads = list(islice(frames, 1))
        extra = sum(1 for _ in frames)  # the rest is read (for the torn-tail check) but not kept
    if reader.torn or len(payloads) + extra != 1 or reader.good != reader.size:
        raise JournalError(f"{path}: damaged header ({reader.torn or 'wrong size'})")
    header = unpack(payloads[0])
    if not isinstance(header, dict):
        raise JournalError(f"{path}: the header is not a map")
    return header


def _decode(payload: bytes) -> tuple[str, float, list, int] | None:
    """A host record ``[kind, time_s, cmds, seq_after]``, or None when the payload is not one."""
    try:
        kind, time_s, cmds, seq = unpack(payload)
    except Exception:  # any undecodable or differently shaped payload: inspect only counts it
        return None
    ok = isinstance(kind, str) and isinstance(time_s, (int, float)) and isinstance(cmds, list)
    return (kind, float(time_s), cmds, seq) if ok and isinstance(seq, int) else None


def inspect(directory: str | os.PathLike[str]) -> JournalInfo:
    """Read what a journal holds without locking or changing it (safe on a journal a live server writes).

    A torn tail is reported (``torn``), not cut; corruption in the middle raises JournalError. Records are read one
    at a time and none is kept: memory is bounded by the largest record (and snapshot meta), not the journal."""
    d = check_folder(Path(directory), create=False)
    for _ in range(3):
        try:
            return _inspect(d)
        except FileNotFoundError:  # a live server pruned a file while we read: look again
            continue
    raise JournalError(f"{d}: the journal kept changing while being read; try again")


def _inspect(d: Path) -> JournalInfo:
    header = read_header(d)
    snapshots = []
    for n, path in numbered(d, SNAPSHOT):
        try:
            meta, blob_bytes = check_snapshot(path)
            snapshots.append({**meta, "file": path.name, "blob_bytes": blob_bytes})
        except JournalError as exc:
            snapshots.append({"record": n, "file": path.name, "error": str(exc)})
    segments = numbered(d, SEGMENT)
    records = size = arrivals = commands = undecodable = reloads = 0
    first_t = last_t = last_seq = torn = None
    for i, (first, path) in enumerate(segments):
        last = i == len(segments) - 1
        reader = FrameReader(path, first, last=last)
        for payload in reader:
            rec = _decode(payload)
            if rec is None:
                undecodable += 1
                continue
            kind, time_s, cmds, last_seq = rec
            first_t = time_s if first_t is None else first_t
            last_t = time_s
            commands += len(cmds)
            ops = [c[2] for c in cmds if isinstance(c, list) and len(c) > 2]
            arrivals += ops.count("arrive")
            reloads += ops.count("reload")
        torn = reader.torn
        if not last and first + reader.records != segments[i + 1][0]:
            raise JournalError(f"{path}: holds {reader.records} records but the next segment starts at record "
                               f"{segments[i + 1][0]} (a segment is missing or damaged)")
        size += reader.size
        records += reader.records
    if torn:
        torn += " (a live server may be writing it; open repairs a torn tail)"
    epoch = header.get("epoch_unix_s") if header else None
    return JournalInfo(str(d), len(segments), records, size, snapshots, first_t, last_t, arrivals, commands,
                       last_seq, torn, epoch, segments[0][0] if segments else 0, undecodable, header, reloads)
