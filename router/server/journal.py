"""The server's journal: accepted commands on disk, snapshots, and recovery after a crash.

Specification
-------------
A journal is a folder:

- ``LOCK``: ``fcntl.flock``-ed exclusively by the one :class:`Journal` open on the folder (it holds that pid).
- ``header.bin``: ``b"BHJH"`` + one record frame (below) holding the header, a msgpack map. Written once,
  atomically (temporary file, fsync, rename, folder fsync).
- ``journal-<N>.log`` (segments): record frames back to back; ``N`` (12 digits) is the index of the segment's
  first record. Record indexes are global and gap-free from 0.
- ``snapshot-<N>.bin``: the state after the first ``N`` records: ``b"BHJS"``, u32 meta length, u64 blob length,
  u32 CRC32 of meta + blob, the meta (a msgpack map with ``record = N``), the blob (opaque). Written atomically.

A record frame is ``[u32 payload length][u32 zlib.crc32(payload)][payload]`` (little-endian); a payload holds
1 byte to 64 MiB.

Writing: :meth:`Journal.append` only buffers; :meth:`Journal.commit` writes the buffered records with one
``os.write`` on an ``O_APPEND`` descriptor, then fsyncs per the policy (:func:`parse_fsync`): ``always`` (a write
and an fsync per record), ``batch`` (one fsync per commit: group commit), ``interval:MS`` (a commit fsyncs when MS ms
have passed since the last fsync; :meth:`Journal.sync` forces one), ``never`` (the OS decides). A failed write or
fsync truncates the segment back to where the commit started (when it can) and fails the journal: every later call
raises :class:`JournalError` (after a failed fsync the page cache cannot be trusted).

Reading (:meth:`Journal.open`): the newest snapshot whose CRC checks out (an unreadable one is logged and the next
older one used), then every record after it. A bad record (short header, length 0 or over the limit, running past the
end of the file, wrong CRC) at the end of the LAST segment, with no valid record anywhere after it, is a torn write:
the file is truncated at its offset, a warning is logged and :attr:`Recovery.torn` describes it. A bad record with
any valid record after it, or a bad record in an earlier segment, is corruption in the middle: :class:`JournalError`
naming the file and offset. Nothing is skipped silently.

Snapshots (:meth:`Journal.snapshot`) fsync the segment, write the snapshot, start a new segment, keep the newest
``keep_snapshots`` and delete the segments wholly before the oldest one kept (old snapshots first, then segments,
oldest first, so a crash while pruning leaves a contiguous history).

Recovery (:mod:`~busyhour.router.server.journal_recovery`) checks every record to replay before it hands out any,
then :attr:`Recovery.records` reads them again one at a time as they are replayed: memory stays within one record and
the read-ahead, however many records a segment holds.

Cost: open reads the last segment and the segments after the snapshot once to check them (O(bytes)), and iterating
:attr:`Recovery.records` reads those after the snapshot once more, one record at a time
(:mod:`~busyhour.router.server.journal_reader`: no read over 64 MiB); a commit is one write syscall and at most one
fsync (``always``: one of each per record); :func:`inspect` reads every retained segment and keeps no record.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Iterator

from .journal_format import (HEADER, HEADER_MAGIC, LOCK, MAX_HEADER_BYTES, MAX_PAYLOAD_BYTES, SNAPSHOT, JournalError,
                             JournalInfo, check_folder, frame, fsync_dir, numbered, pack, read_snapshot, write_atomic,
                             write_snapshot)
from .journal_reader import inspect
from .journal_recovery import JournalRecords, recover, segment_records
from .journal_types import FSYNC_POLICIES, CommitTiming, FsyncPolicy, Recovery, parse_fsync

__all__ = ["FSYNC_POLICIES", "MAX_PAYLOAD_BYTES", "CommitTiming", "FsyncPolicy", "Journal", "JournalError",
           "JournalInfo", "JournalRecords", "Recovery", "inspect", "parse_fsync"]

class Journal:
    """An open journal (one per folder, enforced by the lock). Build it with :meth:`open`."""

    def __init__(self, directory: Path, policy: FsyncPolicy, segment_bytes: int, keep_snapshots: int) -> None:
        self.directory, self.policy = directory, policy
        self.segment_bytes, self.keep_snapshots = segment_bytes, keep_snapshots
        self.first_retained_record = 0
        self.records_total = 0
        self.bytes_total = 0
        self.last_commit: CommitTiming | None = None
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._segment_first = 0
        self._segment_size = 0
        self._segments: list[int] = []
        self._buffer: list[bytes] = []
        self._header = False
        self._unsynced = False
        self._last_fsync = time.monotonic()
        self._failed: str | None = None
        self._closed = False

    @classmethod
    def open(cls, directory: str | os.PathLike[str], *, fsync: str | FsyncPolicy = "batch",
             segment_bytes: int = 64 << 20, keep_snapshots: int = 2) -> tuple["Journal", Recovery]:
        """Open (or create) the journal in ``directory``, lock it and recover what it holds.

        Every failure is a JournalError naming the file (an OS error: the file it names, else the folder) and the
        reason; the lock is released again."""
        policy = parse_fsync(fsync)
        if not 1024 <= segment_bytes <= 1 << 32:
            raise ValueError(f"segment_bytes must be 1 KiB .. 4 GiB, got {segment_bytes}")
        if not 1 <= keep_snapshots <= 1000:
            raise ValueError(f"keep_snapshots must be 1 .. 1000, got {keep_snapshots}")
        self = None
        try:
            self = cls(check_folder(Path(directory), create=True), policy, segment_bytes, keep_snapshots)
            self._lock()
            return self, self._recover()
        except BaseException as exc:
            if self is not None:
                self._release()
            if isinstance(exc, OSError):  # the folder or a file in it cannot be read or repaired
                raise JournalError(f"{exc.filename or directory}: cannot open the journal: "
                                   f"{exc.strerror or exc}") from None
            raise

    def _lock(self) -> None:
        path = self.directory / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise JournalError(f"{path}: cannot open the lock file: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            except OSError:
                holder = "?"
            finally:
                os.close(fd)
            raise JournalError(f"{self.directory}: journal is locked by another process (pid {holder}); "
                               "is a server already running on it?") from None
        except BaseException:  # another lock failure (ENOLCK, …): Journal.open names it; the file is closed
            os.close(fd)
            raise
        self._lock_fd = fd  # closed by _release, also if what follows fails
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)

    def _recover(self) -> Recovery:
        found = recover(self.directory)
        self._header = found.recovery.header is not None
        self._segments = [n for n, _ in found.segments]
        self.records_total, self.bytes_total = found.records_total, found.bytes_total
        if found.segments:
            self.first_retained_record = found.segments[0][0]
            self._segment_first, self._segment_size = found.segments[-1][0], found.last_segment_bytes
            self._open_segment(found.segments[-1][1])
        elif self._header:  # a crash between the header and the first segment
            self._new_segment()
        return found.recovery

    def _open_segment(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def _new_segment(self) -> None:
        """Start ``journal-<records_total>.log`` (the old one fsynced first) unless the current one is empty."""
        if self._fd is not None and self._segment_first == self.records_total:
            return
        if self._fd is not None:
            if self._unsynced:
                self._fsync()
            os.close(self._fd)
            self._fd = None
        path = self.directory / f"journal-{self.records_total:012d}.log"
        self._open_segment(path)
        fsync_dir(self.directory)
        self._segment_first, self._segment_size = self.records_total, 0
        self._segments.append(self.records_total)

    def _usable(self) -> None:
        if self._closed:
            raise JournalError(f"{self.directory}: journal is closed")
        if self._failed:
            raise JournalError(f"{self.directory}: journal failed earlier ({self._failed}); restart the server")

    def write_header(self, header: dict, *, replace: bool = False) -> None:
        """Write the header of a new journal (atomically) and start its first segment; ``replace``: write the
        header of a journal that has one again (adding to it, atomically)."""
        self._usable()
        if self._header and not replace:
            raise JournalError(f"{self.directory}: the journal already has a header")
        payload = pack(dict(header))
        if len(payload) > MAX_HEADER_BYTES:
            raise JournalError(f"{self.directory}: header of {len(payload)} bytes, over {MAX_HEADER_BYTES}")
        write_atomic(self.directory / HEADER, HEADER_MAGIC + frame(payload))
        if not self._header:
            self._header = True
            self._new_segment()

    def append(self, payload: bytes) -> None:
        """Buffer one record (1 byte .. 64 MiB); nothing is written until :meth:`commit`."""
        self._usable()
        if not self._header:
            raise JournalError(f"{self.directory}: write_header() before the first record")
        size = len(payload)
        if not 1 <= size <= MAX_PAYLOAD_BYTES:
            raise JournalError(f"{self.directory}: record of {size} bytes; records hold 1 .. {MAX_PAYLOAD_BYTES}")
        self._buffer.append(frame(bytes(payload)))

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def _fsync(self) -> float:
        t0 = time.perf_counter()
        os.fsync(self._fd)
        self._unsynced = False
        self._last_fsync = time.monotonic()
        return time.perf_counter() - t0

    def commit(self, *, defer_fsync: bool = False) -> CommitTiming:
        """Write the buffered records (one write; ``always``: one per record) and fsync per the policy.

        ``defer_fsync`` (``batch`` only): write but leave the fsync to the caller, who runs it on another
        thread with :meth:`fsync_handle` and reports it with :meth:`synced`."""
        self._usable()
        frames, self._buffer = self._buffer, []
        size = sum(len(f) for f in frames)
        write_s = fsync_s = 0.0
        start = self._segment_size
        mode = self.policy.mode
        try:
            if frames and self._segment_size >= self.segment_bytes:
                self._new_segment()
                start = 0
            if mode == "always":
                for f in frames:
                    t0 = time.perf_counter()
                    self._write(f)
                    write_s += time.perf_counter() - t0
                    fsync_s += self._fsync()
            elif frames:
                t0 = time.perf_counter()
                self._write(b"".join(frames))
                write_s = time.perf_counter() - t0
                self._unsynced = True
            due = mode == "interval" and (time.monotonic() - self._last_fsync) * 1000.0 >= self.policy.interval_ms
            if self._unsynced and ((mode == "batch" and not defer_fsync) or due):
                fsync_s = self._fsync()
        except OSError as exc:
            self._failed = f"{self.directory / f'journal-{self._segment_first:012d}.log'}: {exc.strerror or exc}"
            try:
                if self._fd is not None:
                    os.ftruncate(self._fd, start)
            except OSError:
                pass
            raise JournalError(f"journal write failed: {self._failed}") from None
        self.records_total += len(frames)
        self.bytes_total += size
        self._segment_size += size
        self.last_commit = CommitTiming(len(frames), size, write_s, fsync_s)
        return self.last_commit

    def fsync_handle(self) -> tuple[int, int]:
        """(a duplicate of the segment's descriptor, records committed): fsync that descriptor on any thread,
        close it, then call :meth:`synced` with the record count (the records before it are then on disk)."""
        self._usable()
        assert self._fd is not None
        return os.dup(self._fd), self.records_total

    def synced(self, records: int, error: str | None = None) -> None:
        """An fsync from :meth:`fsync_handle` finished; ``error``: it failed, and so does the journal."""
        if error is not None:
            self._failed = f"fsync: {error}"
            raise JournalError(f"{self.directory}: {self._failed}")
        if records == self.records_total:
            self._unsynced = False
        self._last_fsync = time.monotonic()

    def sync(self) -> float:
        """fsync now if committed records are not yet on disk (``interval`` and ``never``); the seconds it took."""
        self._usable()
        if not self._unsynced:
            return 0.0
        try:
            return self._fsync()
        except OSError as exc:
            self._failed = f"fsync: {exc.strerror or exc}"
            raise JournalError(f"{self.directory}: {self._failed}") from None

    def snapshot(self, meta: dict, blob: bytes) -> None:
        """Commit, write ``snapshot-<records_total>.bin`` atomically, start a new segment, prune old history.

        ``blob`` must be the state after every record appended so far (committed or still buffered); the journal
        sets ``meta["record"]`` to that count (records appended but not committed are committed first)."""
        if not self._header:
            raise JournalError(f"{self.directory}: write_header() before the first snapshot")
        self.commit()
        self.sync()
        write_snapshot(self.directory, self.records_total, meta, blob)
        self._new_segment()
        self._prune()

    def cut(self) -> int:
        """For a snapshot written elsewhere (a forked child, :func:`write_snapshot`): commit, fsync, start a
        new segment and return the record count the snapshot must hold; call :meth:`prune` once it is written."""
        if not self._header:
            raise JournalError(f"{self.directory}: write_header() before the first snapshot")
        self.commit()
        self.sync()
        self._new_segment()
        return self.records_total

    def prune(self) -> None:
        """Delete history older than the kept snapshots (after a snapshot written elsewhere)."""
        self._usable()
        self._prune()

    def close_lock_copy(self) -> None:
        """In a forked child: close its copy of the lock, so the lock goes with the parent process."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _prune(self) -> None:
        snaps = numbered(self.directory, SNAPSHOT)
        if len(snaps) <= self.keep_snapshots:
            return
        for _, path in snaps[:-self.keep_snapshots]:
            path.unlink()
        oldest = snaps[-self.keep_snapshots][0]
        while len(self._segments) > 1 and self._segments[1] <= oldest:
            path = self.directory / f"journal-{self._segments[0]:012d}.log"
            self.bytes_total -= path.stat().st_size
            path.unlink()
            self._segments.pop(0)
        self.first_retained_record = self._segments[0]
        fsync_dir(self.directory)

    def list_snapshots(self) -> list[int]:
        """The record numbers of the snapshots on disk, oldest first."""
        return [n for n, _ in numbered(self.directory, SNAPSHOT)]

    def load_snapshot(self, record: int) -> tuple[dict, bytes]:
        """(meta, blob) of ``snapshot-<record>.bin``; JournalError if it is missing or damaged."""
        path = self.directory / f"snapshot-{record:012d}.bin"
        if not path.exists():
            raise JournalError(f"{path}: no such snapshot")
        return read_snapshot(path)

    def read_all_records(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, bytes]]:
        """Every committed, retained record with ``start <= index`` (``< stop`` at segment granularity) as
        (index, payload), oldest first, read one at a time (a damaged or short segment is a JournalError once the
        records before the damage have been handed out). Do not call :meth:`snapshot` while iterating (it prunes
        segments)."""
        segments = [(first, self.directory / f"journal-{first:012d}.log") for first in self._segments]
        # the segment being written (the last one): only what was committed
        yield from segment_records(segments, self.records_total, start=start, stop=stop,
                                   limit_bytes=self._segment_size)

    def close(self) -> None:
        """Commit what is buffered, fsync, close and unlock. Safe to call twice."""
        if self._closed:
            return
        try:
            if self._fd is not None and not self._failed:
                self.commit()
                self.sync()
        finally:
            self._release()

    def _release(self) -> None:
        self._closed = True
        for fd in (self._fd, self._lock_fd):
            if fd is not None:
                os.close(fd)  # closing the lock file releases the flock
        self._fd = self._lock_fd = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

