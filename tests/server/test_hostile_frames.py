"""Small frames that used to stop the server or to be answered wrongly (docs/protocol.md, Limits and Error codes).

Each case was a few kilobytes, within every documented limit: maps nested ~1,000 deep, a context that the
journal's encoder could not write again, a reload naming an id the reply could not encode, TOML nested past
Python's recursion limit, a ring timeout shorter than the clock's resolution. Each must now be refused with a
reply naming the problem, leave the engine as it was, and leave the host answering the next request.
"""

from __future__ import annotations

import msgpack
import pytest
from test_host import CONFIG, _TOML, work

from busyhour.router.server import protocol as P
from busyhour.router.server.host import Host
from busyhour.router.server.plain import MAX_CONTEXT_DEPTH, plain_problem


def nested(depth: int, leaf=1) -> dict:
    v = leaf
    for _ in range(depth):
        v = {"a": v}
    return v


def arrive(rid: int = 1, **fields) -> dict:
    return {"v": 1, "id": rid, "op": "arrive", "call": f"c{rid}", "queue": "sales", **fields}


def _error(host: Host, t: float, req: dict) -> dict | None:
    out = host.step(t, [work(b"k", req)])
    return msgpack.unpackb(out.replies[0][1]).get("error")


def test_a_frame_of_maps_nested_a_thousand_deep_is_a_bad_frame_or_refusal_not_an_exception():
    for frame in (b"\x81\xa1a" * 1000 + b"\x01", msgpack.packb(arrive(call=nested(1000)))):
        try:
            items, _ = P.decode_frame(frame)
        except P.ProtocolError as exc:
            assert exc.code == P.BAD_FRAME
        else:
            assert all(isinstance(i, P.Refused) and i.code == P.BAD_REQUEST for i in items), items


@pytest.mark.parametrize("context, words", [
    (nested(MAX_CONTEXT_DEPTH + 1 - 1, leaf=[1]), f"nested more than {MAX_CONTEXT_DEPTH} deep"),
    (nested(990), f"nested more than {MAX_CONTEXT_DEPTH} deep"),
    ({"t": msgpack.Timestamp(5, 0)}, "got Timestamp"),
    ({"e": [msgpack.ExtType(7, b"zz")]}, "'context.e[0]' must hold only nil"),
    ({"m": {1.5: "x"}}, "key of type float"),
])
def test_a_context_that_could_not_be_written_again_is_a_bad_request(context, words):
    item = P.decode_frame(msgpack.packb(arrive(context=context)))[0][0]
    assert isinstance(item, P.Refused) and item.code == P.BAD_REQUEST and words in item.message, item


def test_plain_context_values_at_the_depth_limit_are_kept():
    ctx = {"n": None, "b": True, "i": -(1 << 63), "u": (1 << 64) - 1, "f": 1.5, "s": "x", "y": b"\x00",
           "deep": nested(MAX_CONTEXT_DEPTH - 1), "l": [1, [2, {"k": 3, 4: 5}]]}
    cmd = P.decode_frame(msgpack.packb(arrive(context=ctx)))[0][0]
    assert isinstance(cmd, P.Command) and cmd.fields["context"] == ctx
    assert plain_problem("context", {"x": 1 << 64}) == "field 'context.x' holds an integer beyond 64 bits"


def test_empty_and_non_utf8_frames_say_what_is_wrong():
    with pytest.raises(P.ProtocolError, match="the frame is empty") as info:
        P.decode_frame(b"")
    assert info.value.code == P.BAD_FRAME
    bad = msgpack.packb({"v": 1, "id": 1, "op": "abandon", "call": "x"}).replace(b"\xa1x", b"\xa2\xff\xfe")
    with pytest.raises(P.ProtocolError, match="not valid UTF-8") as info:
        P.decode_frame(bad)
    assert info.value.code == P.BAD_FRAME


@pytest.mark.parametrize("req, words", [
    (arrive(max_wait_s=0), "field 'max_wait_s' must be a number > 0"),
    ({"v": 1, "id": 1, "op": "member_add", "agent": "a2", "queue": "support", "weight": 0},
     "field 'weight' must be a number > 0"),
    ({"v": 1, "id": 1, "op": "member_update", "agent": "a1", "queue": "sales"}, "needs one or more of: tier"),
    ({"v": 1, "id": 1, "op": "member_update", "agent": "a1", "queue": "sales", "tier": None}, "needs one or more"),
])
def test_values_out_of_range_are_bad_requests_not_state_errors(req, words):
    item = P.decode_frame(msgpack.packb(req))[0][0]
    assert isinstance(item, P.Refused) and item.code == P.BAD_REQUEST and words in item.message, item


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_hostile_requests_leave_the_host_serving_and_its_state_unchanged(engine):
    host = Host(CONFIG, engine=engine)
    host.step(0.0, [work(b"k", {"v": 1, "id": 100, "op": "login", "agent": "a1", "ready": True})])
    host.step(1.0, [])
    before = host.digest()  # the engine and the clock: every case below is sent at this same time
    cases = [
        (arrive(1, context={"t": msgpack.Timestamp(5, 0)}), P.BAD_REQUEST, "Timestamp"),
        (arrive(2, context=nested(990)), P.BAD_REQUEST, "nested more than"),
        ({"v": 1, "id": 3, "op": "reload", "config": _TOML + '[[agents]]\nid = 99999999999999999999\n'},
         P.BAD_REQUEST, "an integer agent id must fit in int64"),
        ({"v": 1, "id": 4, "op": "reload", "config": "x = " + "[" * 3000 + "]" * 3000 + "\n" + _TOML},
         P.BAD_REQUEST, "nested too deep"),
        ({"v": 1, "id": 5, "op": "queue_update", "queue": "sales", "ring_timeout_s": 1e-12}, P.BAD_REQUEST,
         "ring_timeout_s: must be >= 0.1"),
        ({"v": 1, "id": 6, "op": "queue_add", "queue": {"name": "q" * 129}}, P.BAD_REQUEST, "at most 128 bytes"),
        ({"v": 1, "id": 7, "op": "queue_add", "queue": {"name": "v", "ring_timeout_s": 1e-300}}, P.BAD_REQUEST,
         "ring_timeout_s: must be >= 0.1"),
    ]
    for req, code, words in cases:
        err = _error(host, 1.0, req)
        assert err is not None and err["code"] == code and words in err["message"], (req["id"], err)
        assert host.digest() == before, req["id"]
    assert _error(host, 1.0, arrive(50)) is None  # still serving: the call is offered to a1
    assert host.digest() != before


@pytest.mark.parametrize("engine", ["compiled", "python"])
def test_one_wake_up_takes_at_most_a_hundred_table_changes_and_a_resend_of_the_rest_is_applied(engine):
    """Each queue_add or agent_add copies tables that grow with the queues or agents (ms each at thousands): a
    frame of thousands blocked routing for a minute. The ones past the budget are refused, not remembered."""
    from busyhour.router.server.host import MAX_STRUCTURAL_PER_WAKE

    host = Host(CONFIG, engine=engine)
    reqs = [{"v": 1, "id": 1000 + k, "op": "queue_add", "queue": {"name": f"n{k}"}}
            for k in range(MAX_STRUCTURAL_PER_WAKE + 1)]
    out = msgpack.unpackb(host.step(1.0, [work(b"k", *reqs, batch=True)]).replies[0][1])
    assert [r.get("ok") for r in out[:-1]] == [True] * MAX_STRUCTURAL_PER_WAKE
    assert out[-1]["error"]["code"] == P.TOO_LARGE and "send this one again" in out[-1]["error"]["message"]
    assert _error(host, 2.0, reqs[-1]) is None  # the resend, in the next wake-up: applied
    assert _error(host, 2.0, reqs[0]) is None  # a repeat of an applied one: its first reply, not applied again
    assert _error(host, 2.0, {**reqs[0], "id": 5000})["code"] == P.STATE  # a new request: that queue exists
