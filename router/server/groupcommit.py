"""Group commit off the loop's thread: fsync runs on a helper thread while the loop goes on.

With ``--fsync batch`` a wake-up's replies may go out only once its journal
record is on disk. Waiting for the fsync in the loop would stop the loop for
the disk's whole latency (0.3 ms to tens of ms on a shared virtual disk).
Instead the loop writes the record, hands an fsync to :class:`BackgroundFsync`
and holds the wake-up's replies and events; meanwhile it takes in and applies
the next wake-ups (writing their records too). When the fsync returns, every
held wake-up whose records it covers is answered, in order, and the next fsync
starts for whatever was written meanwhile: one fsync covers every wake-up that
arrived while the previous one ran.

Thread-safety: the helper thread only calls ``os.fsync``/``os.close`` on a
duplicated descriptor, stores the result and then writes one byte to a pipe; it
never touches the journal or the engine. That byte is the only signal: the loop
polls :meth:`BackgroundFsync.fileno` and :meth:`BackgroundFsync.finished`
takes the result exactly when it reads the byte, so every finished fsync wakes
the loop once and no stale byte keeps waking it.
"""

from __future__ import annotations

import os
import queue
import select
import threading
import time
from typing import NamedTuple


class FsyncDone(NamedTuple):
    """A finished background fsync: the records it covers, its seconds, and the error (None: it worked)."""

    records: int
    fsync_s: float
    error: str | None


class BackgroundFsync:
    """One helper thread running one fsync at a time (see the module docstring)."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._result: FsyncDone | None = None
        self.busy = False
        self._thread = threading.Thread(target=self._run, name="journal-fsync", daemon=True)
        self._thread.start()

    def fileno(self) -> int:
        """Readable when an fsync has finished (poll it with the sockets)."""
        return self._r

    def start(self, fd: int, records: int) -> None:
        """fsync ``fd`` (a duplicate, closed afterwards) on the helper thread; ``records`` is what it covers."""
        if self.busy:
            raise RuntimeError("an fsync is already running")
        self.busy = True
        self._jobs.put((fd, records))

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            fd, records = job
            t0 = time.perf_counter()
            error = None
            try:
                os.fsync(fd)
            except OSError as exc:
                error = exc.strerror or str(exc)
            finally:
                os.close(fd)
            self._result = FsyncDone(records, time.perf_counter() - t0, error)
            os.write(self._w, b"!")  # after the result: whoever reads this byte finds the result set

    def finished(self, wait: bool = False) -> FsyncDone | None:
        """The fsync that finished (once), or None if none ran or it is still running (``wait``: block).

        The result is taken together with the thread's wake-up byte (one per fsync, written after the
        result), so the pipe is empty again whenever this returns a result, and never holds a stale byte."""
        if not self.busy:
            return None
        if wait:
            select.select([self._r], [], [])
        try:
            if not os.read(self._r, 1):
                return None
        except BlockingIOError:
            return None
        self.busy = False
        result, self._result = self._result, None
        return result

    def close(self) -> None:
        """Wait for a running fsync, stop the thread, close the pipe. Safe to call twice."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join()
        for fd in (self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
        self._r = self._w = -1
