"""The journal's lock file: a failure to take the lock is a JournalError naming it, and leaves no descriptor open."""

import errno
import fcntl
import os

import pytest

from busyhour.router.server.journal import Journal, JournalError


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_lock_held_elsewhere_names_the_holder_and_closes_the_file(tmp_path):
    j, _ = Journal.open(tmp_path)
    try:
        before = _open_fds()
        with pytest.raises(JournalError, match=rf"locked by another process \(pid {os.getpid()}\)"):
            Journal.open(tmp_path)
        assert _open_fds() == before
    finally:
        j.close()


@pytest.mark.parametrize("fail_read", [False, True])
def test_other_lock_failures_are_journal_errors_and_close_the_file(tmp_path, monkeypatch, fail_read):
    if fail_read:  # the lock is held, and reading who holds it fails too
        def flock(fd, op):
            raise BlockingIOError(errno.EWOULDBLOCK, "held")

        def pread(fd, n, at):
            raise OSError(errno.EIO, "Input/output error")
        monkeypatch.setattr(os, "pread", pread)
    else:
        def flock(fd, op):
            raise OSError(errno.ENOLCK, "No locks available")
    monkeypatch.setattr(fcntl, "flock", flock)
    before = _open_fds()
    with pytest.raises(JournalError, match="pid \\?" if fail_read else "No locks available"):
        Journal.open(tmp_path)
    assert _open_fds() == before
