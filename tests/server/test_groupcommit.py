"""Group commit on a helper thread (router/server/groupcommit.py) and the loop's use of it.

A wake-up's replies go out only once an fsync that started after its record
was written has returned; the fsync runs on a helper thread while the loop
goes on; a failed fsync fails the journal (and so the server) without a reply.
"""

from __future__ import annotations

import select
import threading
import time
from pathlib import Path

import pytest

from busyhour.client import RouterClient
from busyhour.router.server import groupcommit
from busyhour.router.server.groupcommit import BackgroundFsync
from busyhour.router.server.journal import Journal, JournalError
from busyhour.router.server.loop import Server, ServerOptions

HEADER = {"format": 1, "epoch_unix_s": 1_700_000_000.0, "config_sha256": "ab" * 32, "created_unix_s": 1.0}


def test_deferred_commit_then_background_fsync(tmp_path, monkeypatch):
    j, _ = Journal.open(tmp_path / "j", fsync="batch")
    j.write_header(HEADER)
    fsynced = []
    real = groupcommit.os.fsync
    monkeypatch.setattr(groupcommit.os, "fsync", lambda fd: (fsynced.append(fd), real(fd))
                        if threading.current_thread().name == "journal-fsync" else real(fd))
    bg = BackgroundFsync()
    try:
        for i in range(3):
            j.append(b"r%d" % i)
            j.commit(defer_fsync=True)
        assert j._unsynced and fsynced == []  # written, not fsynced
        assert bg.finished() is None  # nothing ran yet
        bg.start(*j.fsync_handle())
        done = bg.finished(wait=True)
        assert done is not None and done.records == 3 and done.error is None and len(fsynced) == 1
        j.synced(done.records, done.error)
        assert not j._unsynced and bg.finished() is None  # reported once
        assert not select.select([bg.fileno()], [], [], 0.05)[0]  # its wake-up byte was taken with it
        j.append(b"r3")
        j.commit(defer_fsync=True)
        bg.start(*j.fsync_handle())
        with pytest.raises(RuntimeError):
            bg.start(*j.fsync_handle())  # one at a time
        j.synced(2)  # an fsync that covers fewer records than written leaves the journal unsynced
        assert j._unsynced
    finally:
        bg.close()
        j.close()
    j2, rec = Journal.open(tmp_path / "j")
    assert rec.records == [b"r0", b"r1", b"r2", b"r3"]
    j2.close()


def test_failed_background_fsync_fails_the_journal(tmp_path, monkeypatch):
    j, _ = Journal.open(tmp_path / "j", fsync="batch")
    j.write_header(HEADER)

    real = groupcommit.os.fsync

    def broken(fd):  # on the helper thread only
        if threading.current_thread().name == "journal-fsync":
            raise OSError(5, "Input/output error")
        real(fd)

    monkeypatch.setattr(groupcommit.os, "fsync", broken)
    bg = BackgroundFsync()
    try:
        j.append(b"x")
        j.commit(defer_fsync=True)
        bg.start(*j.fsync_handle())
        done = bg.finished(wait=True)
        assert done is not None and done.error == "Input/output error"
        with pytest.raises(JournalError, match="Input/output error"):
            j.synced(done.records, done.error)
        with pytest.raises(JournalError, match="failed earlier"):
            j.append(b"y")
    finally:
        bg.close()
        j._release()


def test_replies_wait_for_the_background_fsync(tmp_path, monkeypatch):
    """While the helper thread's fsync is held up, the loop goes on taking requests but answers none."""
    cfg = tmp_path / "r.toml"
    cfg.write_text('[[queues]]\nname = "sales"\nmembers = ["a1"]\n\n[[agents]]\nid = "a1"\n', encoding="utf-8")
    gate = threading.Event()
    entered = threading.Event()
    real = groupcommit.os.fsync

    def slow(fd):  # held up on the helper thread only (os.fsync is patched for every module)
        if threading.current_thread().name == "journal-fsync":
            entered.set()
            assert gate.wait(30)
        real(fd)

    monkeypatch.setattr(groupcommit.os, "fsync", slow)
    server = Server(ServerOptions(config=cfg, bind="tcp://127.0.0.1:0", pub="tcp://127.0.0.1:0",
                                  journal=tmp_path / "j", fsync="batch"))
    server.recover()
    server.bind()
    loop = threading.Thread(target=server.serve_forever, daemon=True)
    loop.start()
    try:
        with RouterClient(server.endpoints[0], timeout_s=10.0, retries=0) as c:
            pending = c.send([("login", {"agent": "a1", "ready": True})])
            assert entered.wait(10)  # the record is written and its fsync started
            second = c.send([("ping", {})])
            time.sleep(0.3)
            c._drain()
            assert pending.missing == 1 and second.missing == 1  # nothing answered before the fsync returned
            gate.set()
            assert c.collect(pending)[0].ok and c.collect(second)[0].ok
            assert c.agent("a1")["state"] == "AVAILABLE"
    finally:
        gate.set()
        server.stop()
        loop.join(10)
        server.close()
    assert not loop.is_alive()
    j, rec = Journal.open(Path(tmp_path / "j"))
    assert len(rec.records) + (1 if rec.snapshot_meta else 0) >= 1
    j.close()
