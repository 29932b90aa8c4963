"""decode_fast.py (msgspec) against protocol.py's general path, and msgspec's encoding against msgpack's bytes.

The one-pass decoder may decline any frame (the general path then decodes it), but a frame it
decodes must give exactly the general path's commands: same ids, ops, field values of the same
types in the same order, same client bytes. Generated frames mix valid requests with every kind of
bad value, so both the accepting and the declining branches are exercised."""

from __future__ import annotations

import math

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from busyhour.client import framing
from busyhour.router.server import decode_fast as F
from busyhour.router.server import protocol as P
from busyhour.router.server import replies

HOT = {  # op -> (required fields, the optional field the fast path takes)
    "arrive": (("call", "queue"), "priority"), "accept": (("call", "agent"), None),
    "reject": (("call", "agent"), "busy"), "release": (("call",), "wrap_up_s"), "abandon": (("call",), None),
    "login": (("agent",), "ready"), "logout": (("agent",), None), "ready": (("agent",), None),
    "not_ready": (("agent",), "reason"),
}
GOOD = {"call": st.one_of(st.integers(-(1 << 63), (1 << 63) - 1), st.text(min_size=1, max_size=40)),
        "agent": st.one_of(st.integers(0, 10**6), st.text(min_size=1, max_size=40)),
        "queue": st.text(min_size=1, max_size=40), "priority": st.integers(0, P.MAX_PRIORITY),
        "busy": st.booleans(), "ready": st.booleans(),
        "wrap_up_s": st.one_of(st.integers(0, 10**9), st.floats(0, 1e9)),
        "reason": st.text(min_size=1, max_size=20).filter(lambda s: ":" not in s)}
BAD = st.one_of(  # values some field refuses (and some it takes): bounds, types, nil, non-finite, long
    st.none(), st.booleans(), st.just(""), st.just(1 << 63), st.just(-(1 << 63)), st.just((1 << 64) - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.just(-0.5), st.just(1e9 + 1), st.just(P.MAX_PRIORITY + 1),
    st.text(min_size=30, max_size=70), st.just("é" * 65), st.just("x" * 129), st.just("a:b"), st.binary(max_size=4),
    st.lists(st.integers(-9, 9), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(-9, 9), max_size=2))
CLIENT = st.one_of(st.just("gen-1"), st.text(min_size=1, max_size=12), st.just(""), st.just("\x00x"),
                   st.just("y" * 256), st.just("é" * 128), st.integers(-9, 9), st.none(), st.binary(max_size=3))


@st.composite
def request(draw):
    op = draw(st.sampled_from([*HOT, *HOT, "transfer", "ping", "nope", 7, None]))
    req = {"v": draw(st.sampled_from([1, 1, 1, 1.0, True, 2, "1"])),
           "id": draw(st.one_of(GOOD["call"], GOOD["call"], BAD)), "op": op}
    required, optional = HOT.get(op, (("call",), None))
    for name in required:
        if draw(st.integers(0, 19)):  # now and then a required field is missing
            req[name] = draw(GOOD[name] if draw(st.integers(0, 3)) else BAD)
    if optional is not None and draw(st.booleans()):
        req[optional] = draw(GOOD[optional] if draw(st.booleans()) else BAD)
    if draw(st.integers(0, 2)) == 0:
        req["client"] = draw(CLIENT)
    if draw(st.integers(0, 9)) == 0:
        req[draw(st.sampled_from(["channel", "context", "extra", "skills"]))] = draw(BAD)
    return req


def strict(decoded) -> str:
    """Everything the host reads of a decode, with the types and order plain equality would hide (1 == 1.0)."""
    items, batch = decoded
    return repr((batch, [(type(c).__name__, c[0], type(c[0]).__name__, c[1],
                          [(k, v, type(v).__name__) for k, v in c[2].items()] if type(c[2]) is dict else c[2],
                          *c[3:]) for c in items]))


def general(frame: bytes):
    try:
        return P.decode_general(frame)
    except P.ProtocolError as exc:
        return exc


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(request(), st.lists(request(), min_size=1, max_size=4)))
def test_a_frame_decoded_in_one_pass_is_what_the_general_path_gives(obj):
    frame = msgpack.packb(obj, use_bin_type=True)
    hot, gen = F.decode_hot(frame), general(frame)
    if hot is not None:
        assert not isinstance(gen, P.ProtocolError), gen
        assert all(type(c) is P.Command for c in gen[0]), gen  # the general path refused nothing
        assert strict(hot) == strict(gen)
    got = P.decode_frame(frame) if not isinstance(gen, P.ProtocolError) else None
    if got is not None:
        assert strict(got) == strict(gen)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_garbage_bytes_are_left_to_the_general_path(frame):
    hot, gen = F.decode_hot(frame), general(frame)
    if hot is not None:
        assert not isinstance(gen, P.ProtocolError) and strict(hot) == strict(gen)


@pytest.mark.parametrize("op", sorted(HOT))
def test_the_common_requests_take_the_one_pass(op):
    """Each common op, with and without its optional field, single and batched, named or not, is
    decoded by the fast path (so a change that makes it decline everything fails here)."""
    required, optional = HOT[op]
    req = {"v": 1, "id": 42, "op": op, **{n: f"{n}-1" for n in required}}
    value = {"priority": 3, "busy": True, "wrap_up_s": 5, "ready": True, "reason": "lunch"}.get(optional)
    for r in (req, {**req, optional: value} if optional else req, {**req, "client": "gen-1"}):
        for obj in (r, [r, r]):
            frame = msgpack.packb(obj, use_bin_type=True)
            hot = F.decode_hot(frame)
            assert hot is not None, obj
            assert strict(hot) == strict(P.decode_general(frame))


EDGES = [  # each differs from a valid request in one way the general path cares about
    {"client": None}, {"client": ""}, {"client": "\x00a"}, {"client": "x" * 256}, {"client": "é" * 128},
    {"client": "é" * 127}, {"id": None}, {"id": True}, {"id": 1.0}, {"id": ""}, {"id": "i" * 65}, {"id": "é" * 16},
    {"id": "é" * 17}, {"id": (1 << 63)}, {"id": -(1 << 63)}, {"v": 1.0}, {"v": True}, {"v": None}, {"op": None},
    {"call": None}, {"call": "c" * 129}, {"call": "é" * 32}, {"call": "é" * 33}, {"wrap_up_s": None},
    {"wrap_up_s": True}, {"wrap_up_s": -0.0}, {"wrap_up_s": 1e9}, {"wrap_up_s": math.inf}, {"wrap_up_s": 7},
    {"extra": None}, {"channel": "voice"},
]


@pytest.mark.parametrize("change", EDGES, ids=repr)
def test_edges_decode_as_the_general_path_decodes_them(change):
    req = {"v": 1, "id": 9, "op": "release", "call": "c1", **change}
    for obj in (req, [req], [{"v": 1, "id": 8, "op": "abandon", "call": "c0"}, req]):
        frame = msgpack.packb(obj, use_bin_type=True)
        hot, gen = F.decode_hot(frame), general(frame)
        if hot is not None:
            assert strict(hot) == strict(gen)
        assert strict(P.decode_frame(frame)) == strict(gen)


def test_known_refusals_keep_the_general_paths_message():
    frame = msgpack.packb({"v": 1, "id": 1, "op": "release", "call": "c", "wrap_up_s": math.nan})
    assert F.decode_hot(frame) is None
    (refused,), _ = P.decode_frame(frame)
    assert refused.code == P.BAD_REQUEST and "wrap_up_s" in refused.message


PACKABLE_INT = st.integers(-(1 << 63), (1 << 64) - 1)  # what msgpack can pack
PLAIN = st.recursive(
    st.one_of(st.none(), st.booleans(), PACKABLE_INT, st.floats(allow_nan=False), st.floats(), st.text(max_size=300),
              st.binary(max_size=300)),
    lambda inner: st.one_of(st.lists(inner, max_size=20), st.lists(inner, max_size=5).map(tuple),
                            st.dictionaries(st.one_of(st.text(max_size=8), PACKABLE_INT), inner, max_size=20)),
    max_leaves=60)


@settings(max_examples=400, deadline=None)
@given(PLAIN)
def test_msgspec_writes_msgpacks_bytes(value):
    want = msgpack.packb(value, use_bin_type=True)
    assert replies.pack(value) == want
    assert framing.pack(value) == want
