"""The journal's files on disk: framing, snapshots, scanning with torn-tail detection, and ``inspect``.

The format and the recovery rules are specified in :mod:`busyhour.router.server.journal` (and docs/server.md);
this module holds the pure reading side, used by :class:`~busyhour.router.server.journal.Journal` and by
``busyhour journal inspect`` (which must never lock or change a journal).
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import msgpack
import numpy as np

MAX_PAYLOAD_BYTES = 64 << 20
MAX_META_BYTES = 1 << 20
MAX_HEADER_BYTES = MAX_META_BYTES + (16 << 20)  # the header may hold the startup configuration (16 MiB at most)
FRAME = struct.Struct("<II")
SNAP = struct.Struct("<4sIQI")
HEADER_MAGIC, SNAP_MAGIC = b"BHJH", b"BHJS"
SEGMENT = re.compile(r"journal-(\d{12,})\.log")
SNAPSHOT = re.compile(r"snapshot-(\d{12,})\.bin")
HEADER, LOCK = "header.bin", "LOCK"


class JournalError(Exception):
    """A journal that cannot be opened, read or written; the message names the file (and offset)."""


class JournalInfo(NamedTuple):
    """What :func:`inspect` found; times are server seconds (since ``epoch_unix_s``), None without records."""

    path: str
    segments: int
    records: int
    bytes: int
    snapshots: list[dict]
    first_time_s: float | None
    last_time_s: float | None
    arrivals: int
    commands: int
    last_seq: int | None
    torn: str | None
    epoch_unix_s: float | None
    first_record: int
    undecodable: int
    header: dict | None
    reloads: int = 0  # ``reload`` commands among the records


def frame(payload: bytes) -> bytes:
    """``[u32 length][u32 CRC32][payload]``, little-endian."""
    return FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def pack(obj: dict) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` so that a crash leaves the old file or the new one: temporary file, fsync, rename, dir fsync."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_snapshot(directory: Path, record: int, meta: dict, blob: bytes) -> None:
    """Write ``snapshot-<record>.bin`` atomically (safe in a forked child: plain file calls only)."""
    meta_bytes = pack({**meta, "record": record})
    if len(meta_bytes) > MAX_META_BYTES:
        raise JournalError(f"snapshot meta of {len(meta_bytes)} bytes, over {MAX_META_BYTES}")
    body = meta_bytes + bytes(blob)
    write_atomic(directory / f"snapshot-{record:012d}.bin",
                 SNAP.pack(SNAP_MAGIC, len(meta_bytes), len(blob), zlib.crc32(body)) + body)


def numbered(directory: Path, pattern: re.Pattern) -> list[tuple[int, Path]]:
    found = []
    for p in directory.iterdir():
        m = pattern.fullmatch(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def _valid_record_at_or_after(data: bytes, start: int) -> int | None:
    """The first offset >= start where a whole record with a matching CRC sits, else None (vectorised scan)."""
    n = len(data)
    arr = np.frombuffer(data, dtype=np.uint8)
    chunk = 1 << 20
    for lo in range(start, n - 8, chunk):
        hi = min(lo + chunk, n - 8)  # offsets lo..hi-1 have a full 8-byte header
        b = [arr[lo + k:hi + k].astype(np.int64) for k in range(4)]
        length = b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)
        offs = np.arange(lo, hi, dtype=np.int64)
        for q in offs[(length > 0) & (length <= MAX_PAYLOAD_BYTES) & (offs + 8 + length <= n)].tolist():
            size, crc = FRAME.unpack_from(data, q)
            if zlib.crc32(memoryview(data)[q + 8:q + 8 + size]) == crc:
                return q
    return None


def scan(data: bytes, path: Path, first: int, *, last: bool) -> tuple[list[bytes], int, str | None]:
    """Parse the frames of one segment: (payloads, bytes of whole good records, torn-tail description or None).

    Raises JournalError for corruption that is not a torn tail (see the module docstring)."""
    out: list[bytes] = []
    pos, n = 0, len(data)
    view = memoryview(data)
    while pos < n:
        problem = None
        if n - pos < 8:
            problem = f"{n - pos} bytes, shorter than a record header"
        else:
            size, crc = FRAME.unpack_from(data, pos)
            if size == 0 or size > MAX_PAYLOAD_BYTES:
                problem = f"impossible length {size}"
            elif pos + 8 + size > n:
                problem = f"a {size}-byte record cut short after {n - pos - 8} bytes"
            elif zlib.crc32(view[pos + 8:pos + 8 + size]) != crc:
                problem = "CRC mismatch"
        if problem is None:
            out.append(bytes(view[pos + 8:pos + 8 + size]))
            pos += 8 + size
            continue
        where = f"{path}: offset {pos} (record {first + len(out)})"
        after = _valid_record_at_or_after(data, pos + 1) if last else None
        if not last or after is not None:
            follow = f"a valid record follows at offset {after}" if after is not None else "a later segment follows"
            raise JournalError(f"{where}: {problem}, and {follow}: the journal is corrupt in the middle "
                               f"(restore a backup, or truncate the file at offset {pos} to drop the records after it)")
        return out, pos, f"{where}: {problem}; {n - pos} bytes dropped"
    return out, n, None


def read_file(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def read_snapshot(path: Path) -> tuple[dict, bytes]:
    data = read_file(path)
    if len(data) < SNAP.size:
        raise JournalError(f"{path}: {len(data)} bytes, shorter than a snapshot header")
    magic, meta_len, blob_len, crc = SNAP.unpack_from(data)
    if magic != SNAP_MAGIC or SNAP.size + meta_len + blob_len != len(data):
        raise JournalError(f"{path}: not a snapshot file (bad magic or size)")
    body = memoryview(data)[SNAP.size:]
    if zlib.crc32(body) != crc:
        raise JournalError(f"{path}: snapshot CRC mismatch")
    meta = unpack(bytes(body[:meta_len]))
    if not isinstance(meta, dict):
        raise JournalError(f"{path}: snapshot meta is not a map")
    return meta, bytes(body[meta_len:])


def read_header(directory: Path) -> dict | None:
    path = directory / HEADER
    if not path.exists():
        return None
    data = read_file(path)
    if not data.startswith(HEADER_MAGIC):
        raise JournalError(f"{path}: not a journal header (bad magic)")
    payloads, end, torn = scan(data[4:], path, 0, last=True)
    if torn or len(payloads) != 1 or end != len(data) - 4:
        raise JournalError(f"{path}: damaged header ({torn or 'wrong size'})")
    header = unpack(payloads[0])
    if not isinstance(header, dict):
        raise JournalError(f"{path}: the header is not a map")
    return header


def check_folder(directory: Path, *, create: bool) -> Path:
    if directory.exists() and not directory.is_dir():
        raise JournalError(f"{directory}: is a file, not a journal folder")
    if not directory.exists():
        if not create:
            raise JournalError(f"{directory}: no such journal folder")
        if not directory.parent.is_dir():
            raise JournalError(f"{directory}: parent folder {directory.parent} does not exist (create it first)")
        try:
            directory.mkdir()
        except OSError as exc:
            raise JournalError(f"{directory}: cannot create the journal folder: {exc.strerror or exc}") from None
        fsync_dir(directory.parent)
    names = {p.name for p in directory.iterdir()}
    ours = {n for n in names if n in (HEADER, LOCK) or SEGMENT.fullmatch(n) or SNAPSHOT.fullmatch(n)}
    if names and not ours:
        hint = "; give an empty or new folder" if create else ""
        raise JournalError(f"{directory}: not empty and not a journal (no {HEADER}, journal-*.log or {LOCK}){hint}")
    if create and not os.access(directory, os.W_OK | os.X_OK):
        raise JournalError(f"{directory}: journal folder is not writable")
    return directory


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

    A torn tail is reported (``torn``), not cut; corruption in the middle raises JournalError."""
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
            meta, blob = read_snapshot(path)
            snapshots.append({**meta, "file": path.name, "blob_bytes": len(blob)})
        except JournalError as exc:
            snapshots.append({"record": n, "file": path.name, "error": str(exc)})
    segments = numbered(d, SEGMENT)
    records = size = arrivals = commands = undecodable = reloads = 0
    first_t = last_t = last_seq = torn = None
    for i, (first, path) in enumerate(segments):
        data = read_file(path)
        last = i == len(segments) - 1
        payloads, _, torn = scan(data, path, first, last=last)
        if not last and first + len(payloads) != segments[i + 1][0]:
            raise JournalError(f"{path}: holds {len(payloads)} records but the next segment starts at record "
                               f"{segments[i + 1][0]} (a segment is missing or damaged)")
        size += len(data)
        records += len(payloads)
        for payload in payloads:
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
    if torn:
        torn += " (a live server may be writing it; open repairs a torn tail)"
    epoch = header.get("epoch_unix_s") if header else None
    return JournalInfo(str(d), len(segments), records, size, snapshots, first_t, last_t, arrivals, commands,
                       last_seq, torn, epoch, segments[0][0] if segments else 0, undecodable, header, reloads)
