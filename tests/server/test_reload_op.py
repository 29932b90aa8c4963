"""The ``reload`` op in the engine host (router/server/host.py, reloads.py), without sockets.

Invariants checked:
1. The protocol refuses a reload without ``config``, with a non-string or blank one, or one over
   MAX_CONFIG_BYTES; bad TOML, a bad configuration and a difference that needs a restart are refused by
   name; every refusal leaves the digest and the configuration running unchanged.
2. A reload applied with calls in progress keeps them, gives the plan's events, and its reply's result is
   the plan's summary; the compiled and the Python host give byte-identical replies, rows and records.
3. A reload cuts the wake-up's batch: a frame [op, reload, op] answers as the three applied one by one.
4. A resent reload (same client, same id) gets the first reply byte for byte and is not applied again,
   in the same wake-up and after a replay.
5. Replaying the journal records (also from a snapshot taken after a reload) rebuilds the same digest,
   the same configuration running and the same next seq, on either engine.
"""

from __future__ import annotations

import msgpack
import pytest

from busyhour.router import parse_toml
from busyhour.router.server import protocol as P
from busyhour.router.server.host import Host
from busyhour.router.server.reloads import text_sha256
from test_host import work

BASE = """
skills = ["es"]

[[agents]]
id = "a1"
skills = { es = 3 }

[[agents]]
id = "a2"

[[queues]]
name = "sales"
members = ["a1"]
ring_timeout_s = 10
max_wait_no_agents_s = 30

[[queues]]
name = "support"
members = ["a2"]
"""
# a2 joins sales, sales rings longer, a3 is a new agent who joins support
GROWN = (BASE.replace('members = ["a1"]\nring_timeout_s = 10', 'members = ["a1", "a2"]\nring_timeout_s = 20')
         .replace('name = "support"\nmembers = ["a2"]', 'name = "support"\nmembers = ["a2", "a3"]')
         + '\n[[agents]]\nid = "a3"\n')
RESTART_ONLY = BASE.replace('skills = ["es"]', 'skills = ["es", "fr"]')  # skills cannot change at run time


def req(rid, op, **fields) -> dict:
    return {"v": 1, "id": rid, "op": op, **fields}


def reply(out, i: int = 0):
    return msgpack.unpackb(out.replies[i][1])


def busy_host(engine: str) -> Host:
    """a2 connected on a support call, one sales call waiting for a2 (a1 logged out)."""
    host = Host(parse_toml(BASE), engine=engine, config_text=BASE)
    host.step(0.0, [work(b"k", req(1, "login", agent="a2", ready=True))])
    host.step(1.0, [work(b"k", req(2, "arrive", call="s1", queue="support"))])
    host.step(2.0, [work(b"k", req(3, "accept", call="s1", agent="a2"))])
    host.step(3.0, [work(b"k", req(4, "arrive", call="w1", queue="sales"))])
    return host


@pytest.mark.parametrize("fields, code, words", [
    ({}, P.BAD_REQUEST, "needs field 'config'"),
    ({"config": 3}, P.BAD_REQUEST, "must be the text of a TOML configuration"),
    ({"config": b"[[agents]]"}, P.BAD_REQUEST, "must be the text of a TOML configuration"),
    ({"config": "  \n"}, P.BAD_REQUEST, "must be the text of a TOML configuration"),
    ({"config": "#" * (P.MAX_CONFIG_BYTES + 1)}, P.TOO_LARGE, "longer than 16,777,216 bytes"),
    ({"config": BASE, "extra": 1}, P.BAD_REQUEST, "has no field 'extra'"),
])
def test_the_protocol_refuses_a_bad_config_field(fields, code, words):
    with pytest.raises(P.ProtocolError) as info:
        P.validate(req(1, "reload", **fields))
    assert info.value.code == code and words in info.value.message


@pytest.mark.parametrize("engine", ["compiled", "python"])
@pytest.mark.parametrize("text, words", [
    ("[[agents]\nid = 1\n", "reload config: not valid TOML"),
    ('[[agents]]\nid = "a1"\n[[queues]]\nname = "sales"\nmembers = ["ghost"]\n', "reload config: queues[0]"),
    (RESTART_ONLY, "reload: these differences need a restart: skills"),
    (BASE.replace('skills = { es = 3 }', 'skills = { es = 2 }'), "agents['a1'] (its skills, capacity or own settings)"),
])
def test_a_refused_reload_names_the_problem_and_changes_nothing(engine, text, words):
    host = busy_host(engine)
    host.step(4.0, [])
    before, track = host.digest(), host.config_track
    out = host.step(4.0, [work(b"k", req(9, "reload", config=text))])
    r = reply(out)
    assert r["ok"] is False and r["error"]["code"] == P.BAD_REQUEST and words in r["error"]["message"]
    assert host.digest() == before and host.config_track == track and out.ops == [("reload", P.BAD_REQUEST)]
    if "TOML" in words:
        assert "line 1" in r["error"]["message"]  # where the loader found the problem


def test_a_reload_keeps_the_calls_and_both_engines_answer_alike():
    outs = []
    for engine in ("compiled", "python"):
        host = busy_host(engine)
        out = host.step(4.0, [work(b"k", req(9, "reload", config=GROWN))])
        outs.append((out, host))
    (c, ch), (p, ph) = outs
    assert c.replies == p.replies and c.rows == p.rows and c.record == p.record and ch.digest() == ph.digest()
    r = reply(c)
    assert r["ok"] is True
    kinds = [(e[2], e[4], e[5]) for e in r["events"]]
    assert kinds[:4] == [("AGENT_ADDED", "a3", None), ("QUEUE_UPDATED", None, "sales"),
                         ("MEMBER_ADDED", "a2", "sales"), ("MEMBER_ADDED", "a3", "support")]
    assert r["result"] == {"config_sha256": text_sha256(GROWN), "changed": True, "agents_added": ["a3"],
                           "queues": [{"queue": "sales", "settings": ["ring_timeout_s"], "members_added": ["a2"],
                                       "members_updated": [], "members_removed": []},
                                      {"queue": "support", "settings": [], "members_added": ["a3"],
                                       "members_updated": [], "members_removed": []}],
                           "queues_added": [], "queues_removed": [], "agents_removed": []}
    calls = {v.call: v.state for v in ch.engine.live_calls()}
    assert calls == {"s1": "CONNECTED", "w1": "WAITING"}  # a2 is busy: the waiting call stays
    assert ch.config_track.sha256 == text_sha256(GROWN) and ch.config_track.reloaded_s == 4.0
    assert ch.snapshot_meta(0)["agents"] == 3  # the engine's agents, the added one included
    again = ch.step(5.0, [work(b"k", req(10, "reload", config=GROWN))])  # an equal configuration: nothing
    assert reply(again)["ok"] and reply(again)["result"]["changed"] is False and reply(again)["events"] == []


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_a_reload_cuts_the_batch_and_answers_as_one_by_one(engine):
    frame = [req(20, "arrive", call="w2", queue="sales"), req(21, "reload", config=GROWN),
             req(22, "arrive", call="w3", queue="sales"), req(23, "ready", agent="a2")]
    batched, single = busy_host(engine), busy_host(engine)
    out = batched.step(4.0, [work(b"k", *frame, batch=True)])
    one = [reply(single.step(4.0, [work(b"k", r)])) for r in frame]
    assert msgpack.unpackb(out.replies[0][1]) == one and batched.digest() == single.digest()
    assert [op for op, _ in out.ops] == ["arrive", "reload", "arrive", "ready"]


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_a_resent_reload_gets_its_first_reply_and_is_not_applied_again(engine):
    host = busy_host(engine)
    first = host.step(4.0, [work(b"k", req(9, "reload", config=GROWN))])
    records = [first.record]
    after = host.digest()
    # the same id in one frame with an op that undoes part of it: the resend is answered from memory
    out = host.step(5.0, [work(b"k", req(9, "reload", config=GROWN), req(11, "member_remove", agent="a2",
                                                                           queue="sales"),
                              req(9, "reload", config=GROWN), batch=True)])
    records.append(out.record)
    replies = msgpack.unpackb(out.replies[0][1])
    assert msgpack.packb(replies[0]) == first.replies[0][1] == msgpack.packb(replies[2])
    assert out.ops == [("reload", "repeat"), ("member_remove", "ok"), ("reload", "repeat")]
    assert host.digest() != after  # the member_remove applied, the resent reload did not
    replayed = Host(parse_toml(BASE), engine=engine, config_text=BASE)
    for r in _records(busy_host, engine) + records:
        replayed.replay(r)
    assert replayed.step(6.0, [work(b"k", req(9, "reload", config=GROWN))]).replies[0][1] == first.replies[0][1]


def _records(make, engine: str) -> list[bytes]:
    """The records of busy_host's wake-ups."""
    host = Host(parse_toml(BASE), engine=engine, config_text=BASE)
    steps = [(0.0, req(1, "login", agent="a2", ready=True)), (1.0, req(2, "arrive", call="s1", queue="support")),
             (2.0, req(3, "accept", call="s1", agent="a2")), (3.0, req(4, "arrive", call="w1", queue="sales"))]
    return [host.step(t, [work(b"k", r)]).record for t, r in steps]


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_replay_and_a_snapshot_after_a_reload_rebuild_the_same_state(engine):
    live = Host(parse_toml(BASE), engine=engine, config_text=BASE)
    script = [(0.0, [req(1, "login", agent="a2", ready=True), req(2, "arrive", call="c1", queue="sales")]),
              (1.0, [req(3, "reload", config=GROWN), req(4, "login", agent="a3", ready=True)]),
              (2.0, [req(5, "arrive", call="c2", queue="support"), req(6, "reload", config=RESTART_ONLY)]),
              (30.0, [req(7, "arrive", call="c3", queue="sales")])]
    records, blobs = [], []
    for t, reqs in script:
        out = live.step(t, [work(b"k", *reqs, batch=True)])
        records.append(out.record)
        blobs.append(live.to_blob())
    assert [reply(live.step(31.0, [work(b"k", req(3, "reload", config=GROWN))]))["ok"]] == [True]
    for kind in ("compiled", "python"):
        replayed = Host(parse_toml(BASE), engine=kind, config_text=BASE)
        for r in records:
            replayed.replay(r)
        replayed.step(31.0, [])
        assert replayed.digest() == live.digest() and replayed.config_track == live.config_track
        assert replayed.last_seq == live.last_seq
    restored = Host(parse_toml(BASE), engine=engine, config_text=BASE)
    restored.load_blob(blobs[1])  # after the reload: the snapshot carries the configuration running
    assert restored.config_track.sha256 == text_sha256(GROWN)
    for r in records[2:]:
        restored.replay(r)
    restored.step(31.0, [])
    assert restored.digest() == live.digest()


def test_reloads_over_the_limit_of_a_wake_up_are_refused_and_not_remembered(monkeypatch):
    monkeypatch.setattr(P, "MAX_CONFIG_BYTES", len(GROWN) + 10)
    host = busy_host("python")
    out = host.step(4.0, [work(b"k", req(8, "reload", config=GROWN), req(9, "reload", config=GROWN), batch=True)])
    first, second = msgpack.unpackb(out.replies[0][1])
    assert first["ok"] and second["error"]["code"] == P.TOO_LARGE and "send this one again" in second["error"]["message"]
    assert reply(host.step(5.0, [work(b"k", req(9, "reload", config=GROWN))]))["ok"]  # judged afresh
    host.reload_refusal = "this server does not serve reload"
    refused = reply(host.step(6.0, [work(b"k", req(12, "reload", config=GROWN))]))
    assert refused["error"] == {"code": P.BAD_REQUEST, "message": "this server does not serve reload"}
