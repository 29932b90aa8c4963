"""The journal's files on disk: framing, writing, snapshots, the folder check.

The format and the recovery rules are specified in :mod:`busyhour.router.server.journal` (and docs/server.md);
reading record frames (one at a time), the header and ``busyhour journal inspect`` are in
:mod:`busyhour.router.server.journal_reader`. Nothing here locks or changes a journal except the writers.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path
from typing import Any, NamedTuple

import msgpack

from busyhour import files

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


def open_regular(path: Path):
    """``path`` opened for reading in binary; JournalError when it is not a regular file (opening a named pipe would
    wait for a writer, and a read of a device need never end). The check is made on the opened file."""
    try:
        return files.open_regular(path)
    except files.NotRegularFile:
        raise JournalError(f"{path}: not a regular file") from None


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


def _snapshot_head(f, path: Path) -> tuple[int, int, int]:
    """(meta length, blob length, CRC) from the snapshot header, checked against the file's size."""
    file_bytes = os.fstat(f.fileno()).st_size
    head = f.read(SNAP.size)
    if len(head) < SNAP.size:
        raise JournalError(f"{path}: {len(head)} bytes, shorter than a snapshot header")
    magic, meta_len, blob_len, crc = SNAP.unpack(head)
    if magic != SNAP_MAGIC or SNAP.size + meta_len + blob_len != file_bytes:
        raise JournalError(f"{path}: not a snapshot file (bad magic or size)")
    return meta_len, blob_len, crc


def _snapshot_meta(path: Path, data: bytes) -> dict:
    meta = unpack(data)
    if not isinstance(meta, dict):
        raise JournalError(f"{path}: snapshot meta is not a map")
    return meta


def read_snapshot(path: Path) -> tuple[dict, bytes]:
    """(meta, blob) of a snapshot file whose size and CRC check out; JournalError otherwise."""
    with open_regular(path) as f:
        meta_len, blob_len, crc = _snapshot_head(f, path)
        meta, blob = f.read(meta_len), f.read(blob_len)
    if len(meta) + len(blob) != meta_len + blob_len:
        raise JournalError(f"{path}: not a snapshot file (bad magic or size)")
    if zlib.crc32(blob, zlib.crc32(meta)) != crc:
        raise JournalError(f"{path}: snapshot CRC mismatch")
    return _snapshot_meta(path, meta), blob


def check_snapshot(path: Path) -> tuple[dict, int]:
    """(meta, blob bytes) of a snapshot file, checked as :func:`read_snapshot` does but read in 1 MiB pieces and
    without keeping the blob (for ``inspect``)."""
    with open_regular(path) as f:
        meta_len, blob_len, crc = _snapshot_head(f, path)
        left, crc_now = meta_len + blob_len, 0
        while left:
            piece = f.read(min(left, 1 << 20))
            if not piece:
                raise JournalError(f"{path}: not a snapshot file (bad magic or size)")
            crc_now, left = zlib.crc32(piece, crc_now), left - len(piece)
        if crc_now != crc:
            raise JournalError(f"{path}: snapshot CRC mismatch")
        f.seek(SNAP.size)
        return _snapshot_meta(path, f.read(meta_len)), blob_len


def check_folder(directory: Path, *, create: bool) -> Path:
    if directory.exists() and not directory.is_dir():
        raise JournalError(f"{directory}: is a file, not a journal folder")
    if not directory.exists():
        if not create:
            raise JournalError(f"{directory}: no such journal folder")
        if not directory.parent.is_dir():
            what = "is not a folder" if directory.parent.exists() else "does not exist (create it first)"
            raise JournalError(f"{directory}: parent folder {directory.parent} {what}")
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
