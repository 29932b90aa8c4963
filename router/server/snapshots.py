"""The server's snapshots (docs/server.md, "The journal folder"): in a forked child while serving, so the loop
does not stop while the state is serialised and written, and in the process itself at shutdown.

Mixed into :class:`~busyhour.router.server.loop.Server` (uses its journal, host, ``_settle`` and the snapshot
bookkeeping it initialises: ``_snap_pid``, ``_snap_record``, ``_since_snapshot``, ``_last_snapshot``).
"""

from __future__ import annotations

import logging
import os
import time
import warnings

from .journal_format import write_snapshot

log = logging.getLogger("busyhour.server")


class Snapshotting:
    """Background and shutdown snapshots of the server's engine and idempotency table."""

    def _snapshot_in_background(self) -> None:
        """Snapshot from a forked child (copy-on-write), so the loop does not stop while the state is
        serialised and written; the parent starts a new segment at the snapshot's record and prunes the
        history once the child has written the file (:meth:`_snapshot_finished`)."""
        journal = self.journal
        if journal is None or self._snap_pid is not None:
            return  # the previous one is still being written: try again at the next wake-up
        self._settle()
        record = journal.cut()
        meta = self.host.snapshot_meta(record)
        with warnings.catch_warnings():  # the child only pickles and writes a file (no locks, sockets, logging)
            warnings.simplefilter("ignore", DeprecationWarning)  # Python >= 3.12 warns on fork with threads
            pid = os.fork()
        if pid == 0:  # the child: serialise and write, touch nothing else (no sockets, no logging)
            code = 1
            try:
                journal.close_lock_copy()
                write_snapshot(journal.directory, record, meta, self.host.to_blob())
                code = 0
            finally:
                os._exit(code)
        self._snap_pid, self._snap_record = pid, record
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()

    def _snapshot_finished(self, wait: bool = False) -> None:
        """Reap the snapshot child if it has exited (``wait``: wait for it); prune the history if it worked."""
        if self._snap_pid is None:
            return
        pid, status = os.waitpid(self._snap_pid, 0 if wait else os.WNOHANG)
        if pid == 0:
            return
        self._snap_pid = None
        code = os.waitstatus_to_exitcode(status)
        if code == 0 and self.journal is not None:
            self.journal.prune()
            log.info("snapshot after %d journal records (background)", self._snap_record)
        else:
            log.warning("background snapshot after %d journal records failed (exit %s); the journal keeps its "
                        "history and the next snapshot tries again", self._snap_record, code)

    def snapshot(self) -> None:
        """Snapshot now, in this process (at shutdown)."""
        if self.journal is None:
            return
        self._snapshot_finished(wait=True)
        self._settle()
        self.journal.snapshot(self.host.snapshot_meta(self.journal.records_total), self.host.to_blob())
        log.info("snapshot after %d journal records, seq %d", self.journal.records_total, self.host.last_seq)
        self._since_snapshot = 0
        self._last_snapshot = time.monotonic()
