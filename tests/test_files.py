"""busyhour.files: a user's path opened as a regular file, never waited on (files.py).

Invariants checked here:

1. A named pipe, a socket, a folder and (unless ``devices``) a device are refused with
   ``NotRegularFile`` naming what the path is; a regular file is read.
2. ``open_regular`` never waits: a pipe with no writer is refused at once.
3. ``open_regular`` checks the file it opened, not the name: a ``stat`` that says "regular" (the path
   swapped after it) changes nothing; a refused file's descriptor is closed.
4. ``check_regular`` opens nothing (an output path, a pipe or a device must not be opened).
5. ``NotRegularFile`` is an ``OSError``, so a caller's ``except OSError`` still words it.
"""

from __future__ import annotations

import errno
import os
import socket
import threading

import pytest

from busyhour import files
from busyhour.files import DEVICE, DIRECTORY, PIPE, SOCKET, NotRegularFile, check_regular, open_regular, path_problem

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX paths: named pipes, sockets, /dev/null")


@pytest.fixture
def paths(tmp_path):
    (tmp_path / "f.txt").write_bytes(b"abc")
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "dir").mkdir()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    yield tmp_path
    sock.close()


@pytest.mark.parametrize("name, kind", [("pipe", PIPE), ("sock", SOCKET), ("dir", DIRECTORY)])
def test_what_is_not_a_regular_file_is_refused_naming_what_it_is(paths, name, kind):
    for call in (open_regular, check_regular):
        with pytest.raises(NotRegularFile) as info:
            call(paths / name, devices=True)
        assert info.value.kind == kind and str(info.value) == f"{paths / name}: {kind}, not a regular file"
        assert isinstance(info.value, OSError) and info.value.filename == str(paths / name)
    assert (info.value.errno == errno.EISDIR) == (kind == DIRECTORY)


def test_a_regular_file_is_read_and_a_device_only_when_asked(paths):
    with open_regular(paths / "f.txt") as fh:
        assert fh.read() == b"abc"
    assert check_regular(paths / "f.txt").st_size == 3
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null here")
    for call in (open_regular, check_regular):
        with pytest.raises(NotRegularFile, match="a device, not a regular file"):
            call("/dev/null")
    with open_regular("/dev/null", devices=True) as fh:
        assert fh.read(10) == b""
    check_regular("/dev/null", devices=True)


def test_a_pipe_without_a_writer_is_refused_at_once(paths):
    out: list[BaseException] = []

    def attempt():
        try:
            open_regular(paths / "pipe")
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            out.append(exc)

    t = threading.Thread(target=attempt, daemon=True)
    t.start()
    t.join(10.0)
    if t.is_alive():  # a plain open() waits here for a writer; free the thread before failing
        with open(paths / "pipe", "wb"):
            pass
        pytest.fail("open_regular waited for a writer on a named pipe")
    assert len(out) == 1 and isinstance(out[0], NotRegularFile) and out[0].kind == PIPE


def test_the_opened_file_is_checked_not_the_name(paths, monkeypatch):
    real_stat = os.stat
    regular = real_stat(paths / "f.txt")
    monkeypatch.setattr(os, "stat", lambda *a, **k: regular)  # a check by name would now pass every path
    fds = set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    for name in ("pipe", "dir"):
        with pytest.raises(NotRegularFile):
            open_regular(paths / name)
    monkeypatch.setattr(os, "stat", real_stat)
    if fds is not None:
        assert set(os.listdir("/proc/self/fd")) == fds  # the refused descriptors are closed


def test_check_regular_opens_nothing(paths, monkeypatch):
    def no_open(*args, **kwargs):
        raise AssertionError("check_regular opened the path")

    monkeypatch.setattr(os, "open", no_open)
    assert check_regular(paths / "f.txt").st_size == 3
    with pytest.raises(NotRegularFile):
        check_regular(paths / "pipe")


def test_path_problem_words(paths):
    def problem(name, **kw):
        try:
            check_regular(paths / name)
        except OSError as exc:
            return path_problem(exc, **kw)
        return None

    assert problem("missing") == "no such file"
    assert problem("dir") == "is a directory" and problem("dir", directory="is a folder") == "is a folder"
    assert problem("pipe") == "is a named pipe, not a regular file"
    assert path_problem(PermissionError(errno.EACCES, "Permission denied")) == "cannot read: Permission denied"
    assert files.kind_of(os.stat(paths / "f.txt").st_mode) is None and DEVICE == "a device"


def test_read_limited_refuses_a_file_over_the_limit_before_or_while_reading(tmp_path, monkeypatch):
    p = tmp_path / "f"
    p.write_bytes(b"x" * 10)
    assert files.read_limited(p, 10) == b"x" * 10 and files.read_limited(p, None) == b"x" * 10
    with pytest.raises(files.FileTooLarge) as err:
        files.read_limited(p, 9)
    assert (err.value.size, err.value.limit) == (10, 9) and "10 bytes, over the 9-byte limit" in str(err.value)
    real_fstat = os.fstat  # the size said 4 when opened: it grew as it was read, and no more than limit + 1 is read
    monkeypatch.setattr(os, "fstat", lambda fd: os.stat_result((*real_fstat(fd)[:6], 4, *real_fstat(fd)[7:])))
    with pytest.raises(files.FileTooLarge) as err:
        files.read_limited(p, 5)
    assert err.value.size == 6
