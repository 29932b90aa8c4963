"""framing.replies_from_frame (one typed msgspec pass) against the general path (reply_maps + Reply.from_wire).

Any frame, well-formed or not, gives the replies the general path gives; an event's time and value
come as floats (the Event record's declared types) where the general path would keep an int."""

from __future__ import annotations

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.client import framing
from busyhour.client.records import Reply

SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False), st.text(max_size=4))
ROW = st.tuples(st.integers(0, 10**12), st.floats(0, 1e6), st.sampled_from(["CALL_ARRIVED", "CALL_OFFERED"]),
                st.one_of(st.integers(0, 99), st.text(max_size=5), st.none()),
                st.one_of(st.text(max_size=5), st.none()), st.one_of(st.text(max_size=5), st.none()),
                st.text(max_size=8), st.floats(-1e3, 1e3)).map(list)
BAD_ROW = st.one_of(st.lists(SCALAR, max_size=9), SCALAR, ROW.map(lambda r: r[:7]), ROW.map(lambda r: [True, *r[1:]]))
REPLY = st.fixed_dictionaries(
    {"id": st.one_of(st.integers(0, 10**9), st.text(max_size=3), st.none()), "ok": st.one_of(st.just(True), SCALAR)},
    optional={"events": st.one_of(st.lists(ROW, max_size=4), st.lists(st.one_of(ROW, BAD_ROW), max_size=3), SCALAR),
              "result": st.one_of(SCALAR, st.dictionaries(st.text(max_size=3), SCALAR, max_size=3)),
              "error": st.one_of(SCALAR, st.fixed_dictionaries({}, optional={"code": SCALAR, "message": SCALAR})),
              "extra": SCALAR})
FRAME = st.one_of(REPLY, st.lists(REPLY, max_size=4), st.lists(st.one_of(REPLY, SCALAR), max_size=3), SCALAR)


def general(frame: bytes, t: float) -> list[Reply]:
    return [Reply.from_wire(m, t) for m in framing.reply_maps(frame)]


@settings(max_examples=500, deadline=None)
@given(FRAME)
def test_replies_decoded_in_one_pass_are_the_general_paths(obj):
    frame = msgpack.packb(obj, use_bin_type=True)
    assert repr(framing.replies_from_frame(frame, 2.5)) == repr(general(frame, 2.5))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=48))
def test_garbage_gives_what_the_general_path_gives(frame):
    assert repr(framing.replies_from_frame(frame, 1.0)) == repr(general(frame, 1.0))


def test_a_server_reply_frame_takes_the_typed_pass(monkeypatch):
    rows = [[7, 1.5, "CALL_OFFERED", "c1", "a1", "q", "", 0.0],
            [8, 1.5, "AGENT_STATE", None, "a1", None, "RESERVED", 0.0]]
    frame = msgpack.packb([{"id": 1, "ok": True, "events": rows}, {"id": 2, "ok": False, "error": {"code": "state",
                                                                                               "message": "m"}}])
    monkeypatch.setattr(framing, "reply_maps", lambda _frame: [])  # the general path would find nothing
    got = framing.replies_from_frame(frame, 3.0)
    assert [(r.id, r.ok, r.error_code, len(r.events), r.received_s) for r in got] == [(1, True, None, 2, 3.0),
                                                                                      (2, False, "state", 0, 3.0)]
    assert got[0].events[0].agent == "a1" and got[0].events[1].detail == "RESERVED"


def test_an_int_time_comes_as_a_float():
    frame = msgpack.packb({"id": 1, "ok": True, "events": [[1, 2, "CALL_ARRIVED", "c", None, "q", "", 0]]})
    (reply,) = framing.replies_from_frame(frame, 0.0)
    assert type(reply.events[0].time_s) is float and type(reply.events[0].value) is float
