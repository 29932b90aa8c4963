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
duplicated descriptor and sets an event; it never touches the journal or the
engine. The loop polls :meth:`BackgroundFsync.fileno` (a pipe written once per
finished fsync).
"""

from __future__ import annotations

import os
import queue
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
        self._done = threading.Event()
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
            self._done.set()
            os.write(self._w, b"!")

    def finished(self, wait: bool = False) -> FsyncDone | None:
        """The fsync that finished (once), or None if none ran or it is still running (``wait``: block).

        Every call empties the wake-up pipe first: the thread writes to it just after setting the event, so a
        byte may arrive after the result was taken; left unread, it would keep the loop's poll returning."""
        try:
            while os.read(self._r, 64):
                pass
        except BlockingIOError:
            pass
        if not self.busy or not (self._done.is_set() or (wait and self._done.wait())):
            return None
        self._done.clear()
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
