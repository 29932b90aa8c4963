"""The journal's fsync policies (busyhour.router.server.journal): how they are written, and what each one syncs.

Invariants checked:
1. ``parse_fsync`` reads always, batch, never and interval:MS (1..60000), case and spaces aside, and reads back
   what ``str`` of a policy gives; anything else is a ValueError naming the forms.
2. A commit of several records fsyncs once per record with ``always``, once with ``batch``, never with ``never`` or
   within an interval; an empty commit writes nothing; ``close`` syncs what is not on disk yet.
3. ``interval:MS`` fsyncs at the first commit after the interval, and ``sync()`` forces what is pending.
"""

from __future__ import annotations

import os

import pytest

from busyhour.router.server import journal as jmod
from busyhour.router.server.journal import FsyncPolicy, parse_fsync
from test_journal import payload, write


@pytest.mark.parametrize(("text", "policy"), [
    ("always", FsyncPolicy("always")), ("batch", FsyncPolicy("batch")), (" Never ", FsyncPolicy("never")),
    ("interval:1", FsyncPolicy("interval", 1)), ("interval:60000", FsyncPolicy("interval", 60000)),
])
def test_parse_fsync(text, policy):
    assert parse_fsync(text) == policy
    assert parse_fsync(str(policy)) == policy


@pytest.mark.parametrize("text", ["", "sometimes", "interval", "interval:", "interval:0", "interval:60001",
                                  "interval:-5", "interval:1.5", "interval:x", "batch:5"])
def test_parse_fsync_refuses(text):
    with pytest.raises(ValueError, match="fsync policy must be always, batch, interval:MS"):
        parse_fsync(text)


@pytest.mark.parametrize(("policy", "fsyncs"), [("always", 3), ("batch", 1), ("never", 0), ("interval:60000", 0)])
def test_fsync_calls_per_commit(tmp_path, monkeypatch, policy, fsyncs):
    j = write(tmp_path / "j", 0, fsync=policy)
    calls = []
    real = os.fsync
    monkeypatch.setattr(jmod.os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    for i in range(3):
        j.append(payload(i))
    timing = j.commit()
    assert len(calls) == fsyncs and timing.records == 3
    assert (timing.fsync_s > 0) == (fsyncs > 0)
    assert j.commit().records == 0  # an empty commit writes nothing
    j.close()
    assert len(calls) >= 1  # close always fsyncs what is not on disk yet


def test_interval_policy_fsyncs_once_the_interval_passed(tmp_path, monkeypatch):
    j = write(tmp_path / "j", 0, fsync="interval:60000")
    calls = []
    monkeypatch.setattr(jmod.os, "fsync", lambda fd: calls.append(fd))
    j.append(payload(0))
    assert j.commit().fsync_s == 0.0 and calls == []  # within the interval: the OS holds it
    j._last_fsync -= 61.0  # the interval has passed since the last fsync
    j.append(payload(1))
    j.commit()
    assert len(calls) == 1
    j.append(payload(2))
    j.commit()
    assert len(calls) == 1
    assert j.sync() >= 0.0 and len(calls) == 2  # sync() forces what is pending
    assert j.sync() == 0.0 and len(calls) == 2  # nothing left to sync
    j.close()
