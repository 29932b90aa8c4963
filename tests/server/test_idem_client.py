"""The request field ``client``: the idempotency key (client name, request id) whatever connection a request
comes on (docs/protocol.md, "Retries are safe"; router/server/host.py, "Idempotency").

Checked at the host (pure, no sockets) and on a real server with a journal:
1. Two copies of an engine request with the same ``client`` and ``id`` from two routing ids (what a resend on
   a new socket looks like once libzmq has renamed the old connection) are applied once, in one wake-up or in
   two; the second copy gets the first reply byte for byte.
2. Without ``client`` the key is the routing id: the same copies are two requests (the engine sees both).
3. A name and a routing id of the same bytes are one client (one namespace).
4. The journal record holds the name's bytes where it held the routing id (format unchanged), and a replay,
   a snapshot plus the records after it, and a server restart rebuild the key; a journal written before
   ``client`` existed replays, and a named retry of one of its requests is recognised (invariant 3).
5. A bad ``client`` (not a string, empty, over 255 bytes, starting with a zero byte) is ``bad_request``
   naming the field, alone in a frame or inside a batch, for engine ops and queries; nothing changes and
   nothing is journaled.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgpack
import pytest

from busyhour.router.server import protocol as P
from busyhour.router.server.host import Host
from test_host import CONFIG, work
from wire import Peer, kinds, spawn

LOGIN = {"v": 1, "id": 1, "op": "login", "agent": "a1", "ready": True, "client": "pbx-1"}
ARRIVE = {"v": 1, "id": 2, "op": "arrive", "call": "c1", "queue": "sales", "client": "pbx-1"}
RENAMED = b"\x00\x80\x00\x00\x01"  # the kind of routing id libzmq gives a connection it hands over


def _host() -> Host:
    host = Host(CONFIG)
    host.step(0.0, [work(b"pbx-1", LOGIN)])
    return host


def _reply(out, i: int = 0) -> dict:
    return msgpack.unpackb(out.replies[i][1])


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_same_client_and_id_from_two_routing_ids_in_one_wake_up_is_applied_once(engine):
    host = Host(CONFIG, engine=engine)
    host.step(0.0, [work(b"pbx-1", LOGIN)])
    out = host.step(1.0, [work(RENAMED, ARRIVE), work(b"pbx-1", ARRIVE)])   # the unread copy, then the resend
    assert out.replies[1][1] == out.replies[0][1] and _reply(out)["ok"]       # invariant 1
    assert out.applied == 1 and out.ops[1] == ("arrive", "repeat")
    assert [c[0] for c in msgpack.unpackb(out.record)[2]] == [b"pbx-1"]     # journaled under the name
    assert host.engine.counts == (1, 0)


def test_same_client_and_id_across_wake_ups_is_applied_once():
    host = _host()
    first = host.step(1.0, [work(RENAMED, ARRIVE)])
    before = host.digest()
    again = host.step(1.0, [work(b"another-socket", ARRIVE)])               # next wake-up, same clock
    assert again.replies[0][1] == first.replies[0][1]                        # invariant 1
    assert again.record is None and again.applied == 0 and host.digest() == before


def test_without_client_two_routing_ids_are_two_requests():
    host = _host()
    bare = {k: v for k, v in ARRIVE.items() if k != "client"}
    out = host.step(1.0, [work(RENAMED, bare), work(b"pbx-1", bare)])
    assert out.applied == 2                                                  # invariant 2: the engine saw both
    assert _reply(out, 0)["ok"] and _reply(out, 1)["error"]["code"] == P.STATE


def test_a_name_and_a_routing_id_of_the_same_bytes_are_one_client():
    host = _host()
    bare = {k: v for k, v in ARRIVE.items() if k != "client"}
    first = host.step(1.0, [work(b"pbx-1", bare)])                           # keyed by the routing id
    again = host.step(2.0, [work(b"other", ARRIVE)])                         # keyed by the name "pbx-1"
    assert again.replies[0][1] == first.replies[0][1] and again.applied == 0  # invariant 3
    other = host.step(3.0, [work(b"other", {**ARRIVE, "client": "pbx-2"})])   # another name: another request
    assert other.applied == 1 and _reply(other)["error"]["code"] == P.STATE


def test_replay_and_snapshot_rebuild_the_key_of_a_name():
    live = Host(CONFIG)
    records = [live.step(0.0, [work(b"pbx-1", LOGIN)]).record]
    first = live.step(1.0, [work(RENAMED, ARRIVE)])
    records.append(first.record)
    second = {**ARRIVE, "id": 3, "call": "c2"}
    records.append(live.step(2.0, [work(RENAMED, second)]).record)
    snapped = Host(CONFIG)
    for r in records[:2]:
        snapped.replay(r)
    replayed, restored = Host(CONFIG), Host(CONFIG)
    for r in records:
        replayed.replay(r)
    restored.load_blob(snapped.to_blob())                                    # snapshot after the arrive ...
    restored.replay(records[2])                                              # ... then the journal's tail
    for host in (replayed, restored):                                        # invariant 4
        host.step(3.0, [])
        before = host.digest()
        out = host.step(3.0, [work(b"new-socket", ARRIVE), work(b"new-socket", second)])
        assert out.replies[0][1] == first.replies[0][1] and out.applied == 0
        assert host.digest() == before and host.engine.counts == (2, 0)


def test_a_journal_written_before_client_existed_replays_and_a_named_retry_matches_it():
    """Records as servers without ``client`` wrote them (routing-id bytes first), built here literally."""
    old = [msgpack.packb(["b", 0.0, [[b"pbx-1", 1, "login", {"agent": "a1", "ready": True}]], 1]),
           msgpack.packb(["b", 1.0, [[b"pbx-1", 2, "arrive", {"call": "c1", "queue": "sales"}]], 4])]
    host = Host(CONFIG)
    for r in old:
        host.replay(r)
    host.step(2.0, [])
    before = host.digest()
    out = host.step(2.0, [work(b"a-new-socket", ARRIVE)])                   # client "pbx-1", id 2
    assert out.applied == 0 and _reply(out)["ok"] and host.digest() == before
    assert [e[2] for e in _reply(out)["events"]] == ["CALL_ARRIVED", "CALL_OFFERED", "AGENT_STATE"]


BAD_CLIENTS = [
    ("", "1 to 255 bytes"), ("x" * 256, "1 to 255 bytes"), ("é" * 128, "1 to 255 bytes"),
    ("\x00pbx", "zero byte"), ("\x00", "zero byte"), (None, "must be a string"), (7, "must be a string"),
    (1.5, "must be a string"), (True, "must be a string"), (b"pbx-1", "must be a string"),
    (["pbx-1"], "must be a string"), ({"name": "pbx-1"}, "must be a string"),
]


@pytest.mark.parametrize("value, words", BAD_CLIENTS)
def test_a_bad_client_is_refused_naming_it_and_changes_nothing(value, words):
    host = _host()
    bad = [{**ARRIVE, "client": value}, {"v": 1, "id": 9, "op": "ping", "client": value}]
    out = host.step(1.0, [work(b"pbx-1", bad[0]), work(b"pbx-1", bad[1]),
                          work(b"pbx-1", ARRIVE, bad[0], batch=True)])
    batch = msgpack.unpackb(out.replies[2][1])
    for err in (_reply(out, 0), _reply(out, 1), batch[1]):                  # invariant 5
        assert err["ok"] is False and err["error"]["code"] == P.BAD_REQUEST
        assert "'client'" in err["error"]["message"] and words in err["error"]["message"]
    assert batch[0]["ok"] and out.applied == 1                               # a failing request fails alone
    again = host.step(2.0, [work(b"pbx-1", bad[0])])
    assert again.record is None and _reply(again)["error"]["code"] == P.BAD_REQUEST
    fresh, idle = _host(), _host()
    fresh.step(1.0, [work(b"pbx-1", bad[0]), work(b"pbx-1", bad[1])])
    idle.step(1.0, [])
    assert fresh.digest() == idle.digest()


def test_client_of_255_bytes_is_taken_and_invalid_utf8_is_a_bad_frame():
    host = _host()
    for name in ("x" * 255, "é" * 127, "k"):
        assert _reply(host.step(1.0, [work(b"r", {**ARRIVE, "call": name[:3], "client": name})]))["ok"]
    before = host.digest()
    frame = msgpack.packb({**ARRIVE, "client": "@@"}).replace(b"\xa2@@", b"\xa2\xff\xfe")  # a str, not UTF-8
    with pytest.raises(P.ProtocolError) as exc:
        P.decode_frame(frame)
    assert exc.value.code == P.BAD_FRAME and host.digest() == before
    assert P.decode_frame(msgpack.packb(ARRIVE))[0][0].client == b"pbx-1"


# ----------------------------------------------------------------- a real server, restarted
CENTER = """
[[agents]]
id = "a1"
[[agents]]
id = "a2"
[[queues]]
name = "sales"
members = ["a1", "a2"]
ring_timeout_s = 30.0
"""


def test_a_resend_from_a_new_socket_after_restarts_is_not_applied_again(tmp_path: Path):
    """Snapshot (SIGTERM) then journal tail (kill -9): both rebuild the key of a name; each resend comes from a
    new socket with a new routing id."""
    cfg, journal = tmp_path / "center.toml", tmp_path / "journal"
    cfg.write_text(CENTER)
    arrive = {"v": 1, "id": 77, "op": "arrive", "call": "sip-1", "queue": "sales", "client": "pbx-1"}
    second = {**arrive, "id": 78, "call": "sip-2"}
    srv = spawn(cfg, journal=journal, log_path=tmp_path / "log1")
    peer = Peer(srv.commands, b"pbx-1-socket-1")
    try:
        assert peer.ask("login", agent="a1", ready=True, client="pbx-1")["ok"]
        first = peer.raw(msgpack.packb(arrive))
        assert msgpack.unpackb(first)["ok"]
        assert srv.stop() == 0                                               # a snapshot holds the arrive
        srv = spawn(cfg, journal=journal, log_path=tmp_path / "log2")
        peer.close()
        peer = Peer(srv.commands, b"pbx-1-socket-2")
        assert peer.raw(msgpack.packb(arrive)) == first
        first2 = peer.raw(msgpack.packb(second))
        assert msgpack.unpackb(first2)["ok"]
        srv.kill()                                                           # the journal's tail holds second
        time.sleep(0.2)
        srv = spawn(cfg, journal=journal, log_path=tmp_path / "log3")
        peer.close()
        peer = Peer(srv.commands, b"pbx-1-socket-3")
        assert peer.raw(msgpack.packb(second)) == first2                     # the first replies, byte for byte
        assert peer.raw(msgpack.packb(arrive)) == first
        evs = peer.ask("events_since", seq=0)["result"]["events"]
        assert kinds(evs).count("CALL_ARRIVED") == 2                         # each applied once
    finally:
        peer.close()
        srv.kill()
