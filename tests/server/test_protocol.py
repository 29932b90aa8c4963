"""Protocol v1 (router/server/protocol.py) against docs/protocol.md: every bad-input class, round trips."""

from __future__ import annotations

import math

import msgpack
import pytest

from busyhour.router.events import Event
from busyhour.router.codes import EventKind
from busyhour.router.server import protocol as P


def _one(req) -> P.Command | P.Refused:
    items, batch = P.decode_frame(msgpack.packb(req))
    assert not batch and len(items) == 1
    return items[0]


def test_valid_request_keeps_only_documented_fields():
    cmd = _one({"v": 1, "id": 7, "op": "arrive", "call": "sip-1", "queue": "sales", "priority": 3,
                "skills": {"es": 2}, "context": {"account": 42}, "max_wait_s": 45})
    assert cmd == P.Command(7, "arrive", {"call": "sip-1", "queue": "sales", "priority": 3, "skills": {"es": 2},
                                          "context": {"account": 42}, "max_wait_s": 45.0})


def test_batch_decodes_in_order_and_fails_alone():
    frame = msgpack.packb([{"v": 1, "id": 1, "op": "ping"}, {"v": 1, "id": 2, "op": "nope"},
                           {"v": 1, "id": "x", "op": "login", "agent": "a"}])
    items, batch = P.decode_frame(frame)
    assert batch
    assert items[0] == P.Command(1, "ping", {})
    assert isinstance(items[1], P.Refused) and items[1].code == P.UNKNOWN_OP and items[1].rid == 2
    assert items[2] == P.Command("x", "login", {"agent": "a"})


@pytest.mark.parametrize("frame, code", [
    (b"\xc1", P.BAD_FRAME),                      # never-used msgpack byte
    (b"\x92\x01", P.BAD_FRAME),                  # truncated array
    (msgpack.packb(5), P.BAD_FRAME),             # not a map or array
    (msgpack.packb("arrive"), P.BAD_FRAME),
    (msgpack.packb([]), P.BAD_FRAME),
    (msgpack.packb([{"v": 1, "id": i, "op": "ping"} for i in range(P.MAX_BATCH + 1)]), P.TOO_LARGE),
])
def test_unusable_frames_are_refused_whole(frame, code):
    with pytest.raises(P.ProtocolError) as info:
        P.decode_frame(frame)
    assert info.value.code == code


@pytest.mark.parametrize("req, code, words", [
    ({"id": 1, "op": "ping"}, P.BAD_VERSION, "'v'"),
    ({"v": 2, "id": 1, "op": "ping"}, P.BAD_VERSION, "'v'"),
    ({"v": True, "id": 1, "op": "ping"}, P.BAD_VERSION, "'v'"),
    ({"v": 1, "op": "ping"}, P.BAD_REQUEST, "'id'"),
    ({"v": 1, "id": 1.5, "op": "ping"}, P.BAD_REQUEST, "'id'"),
    ({"v": 1, "id": True, "op": "ping"}, P.BAD_REQUEST, "'id'"),
    ({"v": 1, "id": "x" * 65, "op": "ping"}, P.BAD_REQUEST, "64 bytes"),
    ({"v": 1, "id": (1 << 64) - 1, "op": "ping"}, P.BAD_REQUEST, "int64"),  # a uint64 msgpack can carry
    ({"v": 1, "id": 1}, P.BAD_REQUEST, "'op'"),
    ({"v": 1, "id": 1, "op": 3}, P.BAD_REQUEST, "'op'"),
    ({"v": 1, "id": 1, "op": "dance"}, P.UNKNOWN_OP, "dance"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "c"}, P.BAD_REQUEST, "'queue'"),
    ({"v": 1, "id": 1, "op": "arrive", "call": None, "queue": "q"}, P.BAD_REQUEST, "'call'"),
    ({"v": 1, "id": 1, "op": "arrive", "call": 1.5, "queue": "q"}, P.BAD_REQUEST, "'call'"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "", "queue": "q"}, P.BAD_REQUEST, "'call'"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "c" * 129, "queue": "q"}, P.BAD_REQUEST, "128 bytes"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "c", "queue": "q", "priority": -1}, P.BAD_REQUEST, "'priority'"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "c", "queue": "q", "priority": True}, P.BAD_REQUEST, "'priority'"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "c", "queue": "q", "skills": {"es": 9}}, P.BAD_REQUEST, "es"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "c", "queue": "q", "skills": [1]}, P.BAD_REQUEST, "'skills'"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "c", "queue": "q", "context": {"k": "x" * 20000}}, P.TOO_LARGE,
     "16384"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "c", "queue": "q", "context": {1: 2}}, P.BAD_REQUEST, "context"),
    ({"v": 1, "id": 1, "op": "arrive", "call": "c", "queue": "q", "colour": "red"}, P.BAD_REQUEST, "colour"),
    ({"v": 1, "id": 1, "op": "release", "call": "c", "wrap_up_s": -1}, P.BAD_REQUEST, "'wrap_up_s'"),
    ({"v": 1, "id": 1, "op": "release", "call": "c", "wrap_up_s": math.nan}, P.BAD_REQUEST, "'wrap_up_s'"),
    ({"v": 1, "id": 1, "op": "release", "call": "c", "wrap_up_s": math.inf}, P.BAD_REQUEST, "'wrap_up_s'"),
    ({"v": 1, "id": 1, "op": "reject", "call": "c", "agent": "a", "busy": 1}, P.BAD_REQUEST, "'busy'"),
    ({"v": 1, "id": 1, "op": "member_add", "agent": "a", "queue": "q", "tier": -1}, P.BAD_REQUEST, "'tier'"),
    ({"v": 1, "id": 1, "op": "member_add", "agent": "a", "queue": "q", "penalty": 1 << 31}, P.BAD_REQUEST, "'penalty'"),
    ({"v": 1, "id": 1, "op": "member_update", "agent": "a", "queue": "q", "weight": "2"}, P.BAD_REQUEST, "'weight'"),
    ({"v": 1, "id": 1, "op": "queue_update", "queue": "q", "max_wait_s": math.nan}, P.BAD_REQUEST, "'max_wait_s'"),
    ({"v": 1, "id": 1, "op": "queue_update", "queue": "q", "max_length": 1.5}, P.BAD_REQUEST, "'max_length'"),
    ({"v": 1, "id": 1, "op": "queue_update", "queue": "q", "overflow": 3}, P.BAD_REQUEST, "'overflow'"),
    ({"v": 1, "id": 1, "op": "queue_update", "queue": "q", "strategy": 7}, P.BAD_REQUEST, "'strategy'"),
    ({"v": 1, "id": 1, "op": "queue_update", "queue": "q", "skills": {"s": 1}}, P.BAD_REQUEST, "skills"),
    ({"v": 1, "id": 1, "op": "agent_add", "agent": "n", "capacity": {"voice": -1}}, P.BAD_REQUEST, "capacity"),
    ({"v": 1, "id": 1, "op": "agent_add", "agent": "n", "groups": ["g"]}, P.BAD_REQUEST, "groups"),
    ({"v": 1, "id": 1, "op": "not_ready", "agent": "a", "reason": "a:b"}, P.BAD_REQUEST, "':'"),
    ({"v": 1, "id": 1, "op": "queue_add"}, P.BAD_REQUEST, "needs field 'queue'"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": "vip"}, P.BAD_REQUEST, "must be a queue table"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {}}, P.BAD_REQUEST, "must be a queue table"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": None}}, P.BAD_REQUEST, "TOML queue table"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": b"vip"}}, P.BAD_REQUEST, "TOML queue table"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {1: "vip"}}, P.BAD_REQUEST, "'queue key'"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": "v", "members": [["a"]]}}, P.BAD_REQUEST,
     "'queue.members[0]'"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": "v", "members": [{"agent": {}}]}}, P.BAD_REQUEST,
     "'queue.members[0].agent'"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": "v", "groups": [[1]]}}, P.BAD_REQUEST, "'queue.groups'"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": "v", "dedicated_agent": [1]}}, P.BAD_REQUEST,
     "'queue.dedicated_agent'"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": "v", "escalation": [{"after_s": 1, "add_groups": [{}]}]}},
     P.BAD_REQUEST, "add_groups"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": "v", "x": [[[[[1]]]]]}}, P.BAD_REQUEST, "TOML queue table"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": "v", "members": ["a" * 100] * 12000}}, P.TOO_LARGE,
     "1,048,576"),
    ({"v": 1, "id": 1, "op": "queue_add", "queue": {"name": "v"}, "to": "q"}, P.BAD_REQUEST, "has no field 'to'"),
    ({"v": 1, "id": 1, "op": "queue_remove"}, P.BAD_REQUEST, "needs field 'queue'"),
    ({"v": 1, "id": 1, "op": "queue_remove", "queue": 3}, P.BAD_REQUEST, "'queue'"),
    ({"v": 1, "id": 1, "op": "queue_remove", "queue": {"name": "v"}}, P.BAD_REQUEST, "'queue'"),
    ({"v": 1, "id": 1, "op": "queue_remove", "queue": "q", "to": ""}, P.BAD_REQUEST, "'to'"),
    ({"v": 1, "id": 1, "op": "queue_remove", "queue": "q", "to": 5}, P.BAD_REQUEST, "'to'"),
    ({"v": 1, "id": 1, "op": "transfer", "call": "c"}, P.BAD_REQUEST, "exactly one"),
    ({"v": 1, "id": 1, "op": "transfer", "call": "c", "queue": "q", "agent": "a"}, P.BAD_REQUEST, "exactly one"),
    ({"v": 1, "id": 1, "op": "events_since", "seq": -1}, P.BAD_REQUEST, "'seq'"),
    ({"v": 1, "id": 1, "op": "events_since", "seq": 0, "limit": 10_001}, P.BAD_REQUEST, "'limit'"),
])
def test_each_bad_request_class_names_the_problem(req, code, words):
    try:
        item = _one(req)
    except P.ProtocolError as exc:  # frame-level refusal
        assert exc.code == code
        return
    assert isinstance(item, P.Refused), item
    assert item.code == code
    assert words in item.message
    assert item.rid == (req.get("id") if isinstance(req.get("id"), (int, str)) and not isinstance(req.get("id"), bool)
                        else None)


@pytest.mark.parametrize("req, shown", [
    ({"id": 1, "op": "ping"}, "field 'v' must be 1, got nil"),
    ({"v": 1, "id": 1, "op": {"a": [1]}}, "field 'op' must be a string, got a map of 1 entry"),
    ({"v": 1, "id": 1, "op": "z" * 1000}, "unknown op '" + "z" * 40 + "'..."),
    ({"v": 1, "id": 1, "op": "arrive", "call": [[[]]] * 5, "queue": "q"}, "got an array of 5 items"),
])
def test_a_refusal_shows_the_value_shortened(req, shown):
    """A value in a message is cut to its first 40 characters (marked), a map or array named by its size."""
    item = _one(req)
    assert isinstance(item, P.Refused) and item.message.endswith(shown), item.message


def test_replies_and_batch_join_are_valid_msgpack():
    ev = Event(3, 1.5, EventKind.CALL_OFFERED, "c1", "a1", "sales", "", 16.5)
    one = P.ok_reply(9, [ev])
    assert msgpack.unpackb(one) == {"id": 9, "ok": True,
                                    "events": [[3, 1.5, "CALL_OFFERED", "c1", "a1", "sales", "", 16.5]]}
    for n in (1, 15, 16, 70000):
        parts = [P.error_reply(i, P.STATE, "no") for i in range(n)]
        out = msgpack.unpackb(P.join_replies(parts, True))
        assert len(out) == n and out[-1] == {"id": n - 1, "ok": False, "error": {"code": "state", "message": "no"}}


def test_stream_frames_group_by_topic_and_count_per_topic():
    evs = [Event(1, 0.0, EventKind.CALL_ARRIVED, "c1", None, "sales", "", 0.0),
           Event(2, 0.0, EventKind.CALL_OFFERED, "c1", "a1", "sales", "", 15.0),
           Event(3, 0.0, EventKind.AGENT_STATE, None, "a1", None, "RESERVED", 0.0)]
    evs = [P.event_row(e) for e in evs]
    tseq: dict[bytes, int] = {}
    frames = dict(P.stream_frames(evs, tseq))
    assert set(frames) == {b"all", b"queue:sales", b"agent:a1"}
    body = msgpack.unpackb(frames[b"agent:a1"])
    assert (body["seq0"], body["seq1"], body["tseq"]) == (1, 3, 1)
    assert [e[0] for e in body["events"]] == [2, 3]
    assert [e[0] for e in msgpack.unpackb(frames[b"all"])["events"]] == [1, 2, 3]
    P.stream_frames(evs[:1], tseq)
    assert tseq == {b"all": 2, b"queue:sales": 2, b"agent:a1": 1}
    assert P.stream_frames([], tseq) == []


def test_ok_reply_rows_gives_the_bytes_of_ok_reply():
    ev = Event(3, 1.5, EventKind.CALL_OFFERED, "c1", "a1", "sales", "", 16.5)
    for rid in (0, 9, -1, 2**40, "r-1", "x" * 64):
        for evs in ([], [ev], [ev] * 20):
            assert P.ok_reply_rows(rid, [P.event_row(e) for e in evs]) == P.ok_reply(rid, evs)


def test_stream_frames_only_for_subscribed_topics():
    """An XPUB reports subscriptions (\\x01 prefix) and the last one leaving (\\x00 prefix); ZeroMQ matches by prefix."""
    evs = [Event(1, 0.0, EventKind.CALL_ARRIVED, "c1", None, "sales", "", 0.0),
           Event(2, 0.0, EventKind.CALL_OFFERED, "c1", "a1", "sales", "", 15.0),
           Event(3, 0.0, EventKind.AGENT_STATE, None, "a17", None, "RESERVED", 0.0)]
    evs = [P.event_row(e) for e in evs]
    want = P.Interest()
    tseq: dict[bytes, int] = {}
    assert P.stream_frames(evs, tseq, wanted=want) == [] and tseq == {}
    want.update(b"\x01all")
    assert not want.per_topic
    assert [t for t, _ in P.stream_frames(evs, tseq, wanted=want)] == [b"all"]
    want.update(b"\x01agent:a1")  # also matches agent:a17
    assert want.per_topic
    frames = dict(P.stream_frames(evs, tseq, wanted=want))
    assert set(frames) == {b"all", b"agent:a1", b"agent:a17"}
    assert msgpack.unpackb(frames[b"all"])["tseq"] == 2 and msgpack.unpackb(frames[b"agent:a1"])["tseq"] == 1
    want.update(b"\x00all")
    want.update(b"junk")  # not a subscription message: ignored
    assert set(dict(P.stream_frames(evs, tseq, wanted=want))) == {b"agent:a1", b"agent:a17"}
    want.update(b"\x00agent:a1")
    want.update(b"\x01")  # the empty prefix: every topic
    assert set(dict(P.stream_frames(evs, tseq, wanted=want))) == {b"all", b"queue:sales", b"agent:a1", b"agent:a17"}
    assert tseq == {b"all": 3, b"agent:a1": 3, b"agent:a17": 3, b"queue:sales": 1}


def test_queue_add_and_queue_remove_keep_their_fields():
    table = {"name": "vip", "strategy": "ring-all", "members": ["a1", {"agent": 7, "penalty": 1}],
             "ring_timeout_s": math.inf, "escalation": [{"after_s": 5, "add_groups": ["night"]}], "skills": {"es": 2}}
    cmd = _one({"v": 1, "id": 1, "op": "queue_add", "queue": table})
    assert cmd == P.Command(1, "queue_add", {"queue": table})
    assert _one({"v": 1, "id": 2, "op": "queue_remove", "queue": "vip", "to": "sales"}).fields == {
        "queue": "vip", "to": "sales"}
    assert _one({"v": 1, "id": 3, "op": "queue_remove", "queue": "vip", "to": None}).fields == {"queue": "vip"}
    assert "queue_add" in P.ENGINE_OPS and "queue_remove" in P.ENGINE_OPS


def test_queue_update_keeps_infinity_and_nil_which_remove_a_limit_or_an_overflow():
    req = {"v": 1, "id": 1, "op": "queue_update", "queue": "q", "max_wait_s": math.inf, "overflow": None,
           "max_penalty": None, "ring_timeout_s": 4}
    cmd = P.validate(req)
    assert cmd.fields == {"queue": "q", "max_wait_s": math.inf, "overflow": None, "max_penalty": None,
                          "ring_timeout_s": 4.0}
    assert "wrap_up_s" not in P.validate({"v": 1, "id": 2, "op": "release", "call": "c", "wrap_up_s": None}).fields
