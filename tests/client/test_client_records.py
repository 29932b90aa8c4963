"""The client's records: ``Reply.from_wire`` builds the same frozen record the constructor builds.

``from_wire`` skips the frozen dataclass's ``__init__`` for speed (records.py ``_reply``); these tests hold
it to the constructor: equal, same repr and hash, still frozen, for ok and error replies, with well-formed,
malformed and missing events. They fail loudly if ``Reply`` gains a field or a ``__post_init__``.
"""

from __future__ import annotations

import dataclasses

import pytest

from busyhour.client.records import Event, Reply, events_from_wire

ROWS = [[10, 1.5, "CALL_ARRIVED", 7, None, "sales", "", 0.0], [11, 1.5, "CALL_OFFERED", 7, "a1", "sales", "", 15.0]]


def test_reply_has_the_fields_the_fast_path_sets_and_no_post_init():
    assert [f.name for f in dataclasses.fields(Reply)] == [
        "id", "ok", "events", "result", "error_code", "error_message", "received_s"]
    assert not hasattr(Reply, "__post_init__")


@pytest.mark.parametrize("m, want", [
    ({"id": 5, "ok": True, "events": ROWS},
     Reply(5, True, tuple(Event(*r) for r in ROWS), None, None, None, 2.5)),
    ({"id": "r1", "ok": True, "events": [], "result": {"seq": 3}}, Reply("r1", True, (), {"seq": 3}, None, None, 2.5)),
    ({"id": 6, "ok": False, "error": {"code": "state", "message": "already logged in"}},
     Reply(6, False, (), None, "state", "already logged in", 2.5)),
    ({"id": 7, "ok": False, "error": "not a map"},
     Reply(7, False, (), None, "internal", "the server gave no message", 2.5)),
    ({"id": 8, "ok": True, "events": [ROWS[0], [1, 2], "x", ROWS[1]]},  # malformed rows are skipped
     Reply(8, True, (Event(*ROWS[0]), Event(*ROWS[1])), None, None, None, 2.5)),
    ({"id": 9, "ok": True, "events": "nope"}, Reply(9, True, (), None, None, None, 2.5)),
])
def test_from_wire_equals_the_constructor(m, want):
    got = Reply.from_wire(m, 2.5)
    assert got == want and repr(got) == repr(want)
    if want.result is None:  # (a result map is not hashable)
        assert hash(got) == hash(want)
    assert type(got) is Reply and all(type(e) is Event for e in got.events)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.ok = False


def test_events_from_wire_keeps_only_eight_value_rows():
    assert events_from_wire(ROWS) == tuple(Event(*r) for r in ROWS)
    assert events_from_wire([ROWS[1], [0] * 9, None]) == (Event(*ROWS[1]),)
    assert events_from_wire(None) == ()
