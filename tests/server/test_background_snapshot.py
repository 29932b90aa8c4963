"""Periodic snapshots are written by a forked child while the loop goes on (router/server/loop.py).

The real ``busyhour serve`` with ``--snapshot-every 100``: snapshots appear
while requests are served, the history before the older kept snapshot is
pruned, and a server killed with SIGKILL restarts from them with the same
state; a snapshot child never holds the journal's lock for a restarted server.
"""

from __future__ import annotations

import time

from busyhour.bench.serverproc import ServerProcess, write_config
from busyhour.client import RouterClient

AGENTS = [f"a{i}" for i in range(20)]


def lifecycles(c: RouterClient, first: int, n: int) -> None:
    for k in range(first, first + n, len(AGENTS)):
        calls = range(k, min(k + len(AGENTS), first + n))
        offers = c.pipeline([("arrive", {"call": x, "queue": "q"}) for x in calls], batched=True)
        c.pipeline([("accept", {"call": e.call, "agent": e.agent}) for r in offers for e in r.events
                    if e.kind == "CALL_OFFERED"], batched=True)
        assert all(r.ok for r in c.pipeline([("release", {"call": x}) for x in calls], batched=True))


def test_background_snapshots_prune_and_restart(tmp_path):
    cfg = write_config(tmp_path / "r.toml", {"q": AGENTS}, wrap_up_s=0.0)
    journal = tmp_path / "journal"
    srv = ServerProcess(cfg, journal, extra_args=("--snapshot-every", "100"), log_path=tmp_path / "log")
    srv.start()
    try:
        with RouterClient(srv.commands, timeout_s=5.0) as c:
            c.pipeline([("login", {"agent": a, "ready": True}) for a in AGENTS], batched=True)
            for round_ in range(6):
                lifecycles(c, round_ * 100, 100)  # 300 engine requests a round: a snapshot or more each
            # a forked snapshot is renamed into place before the parent prunes the older ones (when it reaps
            # the child): wait until the set of snapshots has stayed the same for a second
            deadline = time.monotonic() + 20
            snaps, stable_since = None, time.monotonic()
            while time.monotonic() < deadline:
                c.ping()
                now = sorted(journal.glob("snapshot-*.bin"))
                if now != snaps:
                    snaps, stable_since = now, time.monotonic()
                elif time.monotonic() - stable_since > 1.0:
                    break
                time.sleep(0.05)
            assert len(snaps) == 2  # the two newest kept
            first_kept = int(snaps[0].stem.split("-")[1])
            assert all(int(p.stem.split("-")[1]) >= first_kept or p == sorted(journal.glob("journal-*.log"))[0]
                       for p in journal.glob("journal-*.log"))
            before = c.snapshot()
            stats_before = c.stats()["queues"]
        srv.kill()
        srv.start()  # the lock is free, the journal replays from a background snapshot
        with RouterClient(srv.commands, timeout_s=5.0) as c:
            after = c.snapshot()
            assert after["seq"] == before["seq"] and after["agents"] == before["agents"]
            assert c.stats()["queues"] == stats_before
            lifecycles(c, 10_000, 40)  # and it serves on
        assert "journal records (background)" in (tmp_path / "log").read_text()
    finally:
        srv.stop()
