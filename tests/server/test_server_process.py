"""`busyhour serve` as a real process on loopback: recovery, idempotency across restarts, timers
that fell due while it was down, gap filling, bad frames, SIGTERM, metrics. Bounded in time."""

from __future__ import annotations

import os
import time
import urllib.request
from pathlib import Path

import msgpack
import pytest

from busyhour.bench.serverproc import ServerStartError
from wire import Listener, Peer, kinds, server_log, spawn

CONFIG = """
[[agents]]
id = "a1"
[[agents]]
id = "a2"
[[queues]]
name = "sales"
members = ["a1", "a2"]
ring_timeout_s = 1.0
wrap_up_s = 0.5
"""


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    p = tmp_path / "center.toml"
    p.write_text(CONFIG)
    return p


def test_kill9_restart_keeps_every_acknowledged_command_and_retries_apply_once(cfg, tmp_path):
    journal = tmp_path / "journal"
    srv = spawn(cfg, journal=journal, log_path=tmp_path / "log1")
    peer = Peer(srv.commands, b"pbx-1")
    try:
        assert peer.ask("login", agent="a1", ready=True)["ok"]
        first = peer.raw(msgpack.packb({"v": 1, "id": 77, "op": "arrive", "call": "sip-1", "queue": "sales"}))
        assert kinds(msgpack.unpackb(first)["events"]) == ["CALL_ARRIVED", "CALL_OFFERED", "AGENT_STATE"]
        srv.kill()                                             # crash right after the acknowledgement
        time.sleep(1.2)                                        # the 1 s offer lease runs out while it is down
        srv = spawn(cfg, journal=journal, log_path=tmp_path / "log2")
        peer.close()
        peer = Peer(srv.commands, b"pbx-1")
        again = peer.raw(msgpack.packb({"v": 1, "id": 77, "op": "arrive", "call": "sip-1", "queue": "sales"}))
        assert again == first                                  # the first reply, byte for byte: not applied twice
        history = peer.ask("events_since", seq=0)["result"]
        assert history["more"] is False
        evs = history["events"]
        assert [e[0] for e in evs] == list(range(1, len(evs) + 1))   # gap-free across the restart
        assert kinds(evs).count("CALL_ARRIVED") == 1
        expired = [e for e in evs if e[2] == "OFFER_EXPIRED"]
        offered = [e for e in evs if e[2] == "CALL_OFFERED"][0]
        assert expired and expired[0][1] == pytest.approx(offered[7])  # fired at its own deadline
        snap = peer.ask("snapshot")["result"]
        assert [c["call"] for c in snap["calls"]] == ["sip-1"]
        assert snap["seq"] >= evs[-1][0]
        assert peer.ask("login", agent="a2", ready=True)["ok"]     # serves new requests
    finally:
        peer.close()
        srv.kill()


def test_torn_journal_tail_is_dropped_and_the_server_starts(cfg, tmp_path):
    journal = tmp_path / "journal"
    srv = spawn(cfg, journal=journal)
    peer = Peer(srv.commands, b"pbx-2")
    try:
        assert peer.ask("login", agent="a1")["ok"]
        srv.kill()
        segment = sorted(journal.glob("journal-*.log"))[-1]
        with open(segment, "ab") as fh:
            fh.write(b"\x40\x00\x00\x00\x01\x02\x03")          # a record cut short by the crash
        srv = spawn(cfg, journal=journal, log_path=tmp_path / "log")
        peer.close()
        peer = Peer(srv.commands, b"pbx-2")
        assert peer.ask("agent", agent="a1")["result"]["state"].startswith("NOT_READY")
        assert "torn" in server_log(srv).lower() or "dropped" in server_log(srv).lower()
    finally:
        peer.close()
        srv.kill()


def test_late_subscriber_fills_its_gap_and_bad_frames_never_stop_the_server(cfg, tmp_path):
    srv = spawn(cfg, extra=["--max-frame-bytes", "4096"])
    peer = Peer(srv.commands, b"pbx-3")
    try:
        for a in ("a1", "a2"):
            assert peer.ask("login", agent=a, ready=True)["ok"]
        listener = Listener(srv.events)                        # joins after 2 events went out
        time.sleep(0.3)
        assert peer.ask("arrive", call="c1", queue="sales")["ok"]
        got = listener.collect(0.5)
        assert got and got[0]["seq0"] > 1                      # a gap: seq 1..seq0-1 were missed
        fill = peer.ask("events_since", seq=0, limit=got[0]["seq0"] - 1)["result"]
        assert [e[0] for e in fill["events"]] == list(range(1, got[0]["seq0"])) and fill["more"]
        listener.close()
        for junk in (b"", b"\xc1\xc1", msgpack.packb([1, 2]), msgpack.packb({"v": 1}), os.urandom(200)):
            reply = msgpack.unpackb(peer.raw(junk))
            for r in reply if isinstance(reply, list) else [reply]:
                assert r["ok"] is False and r["error"]["code"] in ("bad_frame", "bad_request", "bad_version")
        big = Peer(srv.commands, b"big")
        big.timeout_ms = 500
        assert big.raw(b"\x00" * 8192) is None                # over --max-frame-bytes: ZeroMQ drops the peer
        big.close()
        assert peer.ask("ping")["ok"] and srv.alive()
    finally:
        peer.close()
        srv.kill()


def test_sigterm_drains_snapshots_and_exits_zero_and_metrics_are_served(cfg, tmp_path):
    journal = tmp_path / "journal"
    srv = spawn(cfg, journal=journal, metrics=True)
    port = srv.metrics_port
    peer = Peer(srv.commands, b"pbx-4")
    try:
        assert peer.ask("login", agent="a1", ready=True)["ok"]
        assert peer.ask("arrive", call="m1", queue="sales")["ok"]
        assert peer.ask("nope")["error"]["code"] == "unknown_op"
        time.sleep(1.1)                                        # the live gauges refresh once a second
        assert peer.ask("ping")["ok"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
        assert 'busyhour_requests_total{op="arrive",status="ok"} 1.0' in text
        assert 'busyhour_requests_total{op="?",status="unknown_op"} 1.0' in text
        assert "busyhour_journal_fsync_seconds_count" in text and "busyhour_calls_waiting" in text
        before = peer.ask("snapshot")["result"]
        assert srv.stop() == 0
        assert list(journal.glob("snapshot-*.bin"))
        srv = spawn(cfg, journal=journal, log_path=tmp_path / "log")
        peer.close()
        peer = Peer(srv.commands, b"pbx-4")
        after = peer.ask("snapshot")["result"]
        assert after["seq"] >= before["seq"]
        assert [c["call"] for c in after["calls"]] == [c["call"] for c in before["calls"]]
        assert "replayed 0 journal records" in server_log(srv)      # the snapshot holds everything
    finally:
        peer.close()
        srv.kill()


def test_events_older_than_memory_are_rebuilt_from_the_journal(cfg, tmp_path):
    journal = tmp_path / "journal"
    srv = spawn(cfg, journal=journal, extra=["--events-kept", "1000"])
    peer = Peer(srv.commands, b"pbx-5")
    try:
        for i in range(24):                                    # 24 frames x 100 requests: 2,400 agent events
            batch = [{"v": 1, "id": i * 100 + k, "op": "login" if k % 2 == 0 else "logout", "agent": "a1"}
                     for k in range(100)]
            replies = msgpack.unpackb(peer.raw(msgpack.packb(batch)))
            assert all(r["ok"] for r in replies)
        last = peer.ask("ping")["result"]["seq"]
        assert last >= 2400
        got, seq = [], 0
        while True:                                            # pages of at most 700, from seq 0
            page = peer.ask("events_since", seq=seq, limit=700)["result"]
            got += page["events"]
            seq = page["events"][-1][0] if page["events"] else seq
            if not page["more"]:
                break
        assert [e[0] for e in got] == list(range(1, last + 1))
        assert [e[6] for e in got[:4]] == ["NOT_READY:login", "LOGGED_OUT", "NOT_READY:login", "LOGGED_OUT"]
    finally:
        peer.close()
        srv.kill()


def test_history_is_rebuilt_from_a_kept_snapshot_and_gone_before_it(cfg, tmp_path):
    from busyhour.router.server.host import Work
    from busyhour.router.server.loop import Server, ServerOptions
    from busyhour.router.server import protocol as P

    server = Server(ServerOptions(config=cfg, journal=tmp_path / "j", ring_capacity=10))
    server.recover()
    try:
        def step(t, reqs):
            items, batch = P.decode_frame(msgpack.packb(reqs))
            out = server.host.step(t, [Work([b"c"], b"c", items, batch)])
            server.journal.append(out.record)
            server.journal.commit()

        rid = 0
        for block in range(4):                                 # 4 x 30 login/logout events, a snapshot after each (the newest 2 kept)
            for k in range(30):
                rid += 1
                step(block * 100.0 + k, [{"v": 1, "id": rid, "op": "login" if k % 2 == 0 else "logout",
                                          "agent": "a1"}])
            server.snapshot()
        last = server.host.last_seq
        assert last == 120 and server.host.oldest_kept_seq > 100  # memory holds only the newest events
        first_kept = server.host.oldest_kept_seq
        events, more = server.host.events_since(95, 50)        # after the oldest kept snapshot (seq 90): rebuilt
        assert [e.seq for e in events] == list(range(96, first_kept)) and more
        assert server.host.events_since(first_kept - 1, 50)[0][0].seq == first_kept   # then from memory
        with pytest.raises(P.ProtocolError) as info:            # before the oldest kept snapshot (two are kept)
            server.host.events_since(70, 5)
        assert info.value.code == P.GONE
    finally:
        server.close()


def test_a_journal_is_replayed_by_the_engine_that_wrote_it(cfg, tmp_path):
    journal = tmp_path / "journal"
    srv = spawn(cfg, journal=journal, extra=("--engine", "python"))
    assert srv.ready_line.endswith("engine=python")
    peer = Peer(srv.commands, b"pbx-e")
    try:
        assert peer.ask("login", agent="a1", ready=True)["ok"]
        assert peer.ask("arrive", call="c1", queue="sales")["ok"]
    finally:
        peer.close()
        srv.kill()
    with pytest.raises(ServerStartError, match="written by the python engine; start with --engine python"):
        spawn(cfg, journal=journal, extra=("--engine", "compiled"))
    srv = spawn(cfg, journal=journal)  # auto: the journal's engine, although auto would pick compiled here
    peer = Peer(srv.commands, b"pbx-e")
    try:
        assert srv.ready_line.endswith("engine=python")
        assert [c["call"] for c in peer.ask("snapshot")["result"]["calls"]] == ["c1"]
        assert len(peer.ask("ping")["result"]["boot"]) == 32  # the server's boot id survives the engine switch
    finally:
        peer.close()
        srv.kill()
    fresh = spawn(cfg, journal=tmp_path / "journal2")
    try:
        assert fresh.ready_line.endswith("engine=compiled")
    finally:
        fresh.kill()
