"""Paths a user names, opened as regular files: the one check every reader of such a path makes.

A path may name a folder, a named pipe, a socket or a device as well as a file.
Opening a named pipe to read it waits for a writer (forever, when there is
none), opening a socket fails with "No such device or address", and reading
a device such as /dev/zero need never end. :func:`open_regular` opens without
waiting (``O_NONBLOCK``) and then checks the file it opened (``fstat``), so a
path swapped between a check and the open cannot slip through;
:func:`check_regular` is the same check by name (``stat``), for a path that
other code opens later, or that must not be opened at all (an output: opening
a pipe or a device has effects). Either raises :class:`NotRegularFile`, an
``OSError`` that says what the path is instead (``kind``); each caller words
its own message with it, naming its option or file (:func:`path_problem`
gives the common words).

``devices=True`` lets character and block devices through (a reader that
bounds what it reads, and so may take ``/dev/stdin`` or a tape): what a
folder, a pipe or a socket never is.

Only the standard library is imported here, so every layer may import this
module (router, client, erlang, sim, adapters, cli).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

__all__ = ["DEVICE", "DIRECTORY", "PIPE", "SOCKET", "SPECIAL", "FileTooLarge", "NotRegularFile", "check_regular",
           "kind_of", "open_regular", "path_problem", "read_limited"]

DIRECTORY, PIPE, SOCKET, DEVICE, SPECIAL = "a directory", "a named pipe", "a socket", "a device", "a special file"


class NotRegularFile(OSError):
    """``filename`` is not a regular file; ``kind`` says what it is (:data:`DIRECTORY`, :data:`PIPE`, …)."""

    def __init__(self, path: str | os.PathLike[str], kind: str):
        super().__init__(errno.EISDIR if kind == DIRECTORY else None, f"{kind}, not a regular file", os.fspath(path))
        self.kind = kind

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def kind_of(mode: int, devices: bool = False) -> str | None:
    """What a path of ``st_mode`` ``mode`` is when a reader must refuse it, None for a regular file (and, with
    ``devices``, for a device)."""
    if stat.S_ISREG(mode) or devices and (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
        return None
    if stat.S_ISDIR(mode):
        return DIRECTORY
    if stat.S_ISFIFO(mode):
        return PIPE
    if stat.S_ISSOCK(mode):
        return SOCKET
    return DEVICE if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else SPECIAL


def check_regular(path: str | os.PathLike[str], *, devices: bool = False) -> os.stat_result:
    """``path``'s ``stat`` (through symlinks); :class:`NotRegularFile` when it is not a regular file, and the
    ``OSError`` of ``stat`` (``FileNotFoundError``, …) as it comes. Opens nothing."""
    st = os.stat(path)
    kind = kind_of(st.st_mode, devices)
    if kind is not None:
        raise NotRegularFile(path, kind)
    return st


def open_regular(path: str | os.PathLike[str], *, devices: bool = False) -> BinaryIO:
    """``path`` opened to read in binary (a blocking file); :class:`NotRegularFile` when it is not a regular file,
    checked on the opened file, and the ``OSError`` of ``open`` as it comes. Never waits for a writer."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # what opening a socket says: name it instead (or raise the error if it is not)
            check_regular(path, devices=devices)
        raise
    try:
        kind = kind_of(os.fstat(fd).st_mode, devices)
        if kind is not None:
            raise NotRegularFile(path, kind)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class FileTooLarge(ValueError):
    """A file over a reader's size limit: ``size`` is its size, or the bytes read when it grew while being read
    (then ``limit`` + 1, as no more is read)."""

    def __init__(self, path: str | os.PathLike[str], size: int, limit: int):
        super().__init__(f"{os.fspath(path)}: {size:,} bytes, over the {limit:,}-byte limit")
        self.size, self.limit = size, limit


def read_limited(path: str | os.PathLike[str], limit: int | None, *, devices: bool = False) -> bytes:
    """The bytes of the regular file ``path`` (:func:`open_regular`), at most ``limit`` of them: a larger file
    is :class:`FileTooLarge`, found by its size before reading and by what was read if it grew meanwhile (never
    more than ``limit`` + 1 bytes are read). ``limit`` None reads the whole file."""
    with open_regular(path, devices=devices) as fh:
        if limit is None:
            return fh.read()
        size = os.fstat(fh.fileno()).st_size
        data = fh.read(limit + 1) if size <= limit else b""
    size = max(size, len(data))
    if size > limit:
        raise FileTooLarge(path, size, limit)
    return data


def path_problem(exc: OSError, directory: str = "is a directory") -> str:
    """The words after a path's name in a message for ``exc`` from :func:`check_regular` or :func:`open_regular`:
    ``no such file``; ``directory`` for a folder; ``is a named pipe, not a regular file`` (and the like);
    otherwise ``cannot read: <reason>``."""
    if isinstance(exc, NotRegularFile):
        return directory if exc.kind == DIRECTORY else f"is {exc.strerror}"
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return f"cannot read: {exc.strerror or exc}"
