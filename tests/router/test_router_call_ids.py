"""Any call id a PBX uses, on both engines: strings, bytes, tuples, integers of any size, numpy integers.

Router maps ids that are not their own core id (router/fast_ids.py) for as long as the call lives; the
reference keeps them in a dict. Both must give the same events, errors and views, refuse the same ids, and
the compiled one must not keep a mapping once its call has ended or was refused.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from busyhour.router import EventKind, ReferenceRouter, Router, StateError, UnknownIdError
from busyhour.router.core_layout import NO_ID, OP_ABANDON, OP_AGENT, OP_ARRIVE, OP_DTYPE, OP_MEMBER, OP_MOVE

CFG = {"agents": [{"id": "a1"}, {"id": "a2"}],
       "queues": [{"name": "q", "members": ["a1", "a2"], "wrap_up_s": 0.0}, {"name": "other", "members": ["a2"]}]}
IDS = ["c-1", b"raw", ("trunk", 7), 10**30, -(10**25), NO_ID, NO_ID + 1, NO_ID - 5, 2**63 - 1, 0, -1, "", "é"]


def _play(r, ids) -> list:
    """Every id arrives, is answered or waits, is transferred, released or abandoned; the events, as data."""
    out = []
    r.agent_login(0.0, "a1", ready=True)
    r.agent_login(0.0, "a2", ready=True)
    t = 1.0
    for k, cid in enumerate(ids):
        t += 1.0
        ev = r.call_arrive(t, cid, "q", context={"k": k})
        out += ev
        offered = [e.agent_id for e in ev if e.kind == EventKind.CALL_OFFERED]
        out.append(r.call_view(cid))
        if offered and k % 3:
            out += r.offer_accept(t, cid, offered[0])
            if k % 3 == 2:
                out += r.transfer(t + 0.5, cid, queue="other", context={"moved": True})
            else:
                out += r.call_release(t + 0.5, cid)
        else:
            out += r.call_abandon(t + 0.5, cid)
        out += [r.live_calls(), r.all_agents()]
    out += r.advance(t + 100.0)
    for cid in r.live_calls():
        out += r.call_abandon(t + 100.0, cid.call)
    return out


def test_any_call_id_gives_the_same_events_and_views_on_both_engines():
    fast, ref = Router.from_config(CFG), ReferenceRouter.from_config(CFG)
    got, want = _play(fast, IDS), _play(ref, IDS)
    assert got == want
    named = {e.call_id for e in want if hasattr(e, "kind") and e.call_id is not None}
    assert named == set(IDS)
    assert fast._int == {} and fast._ext == {}  # every mapping went with its call
    assert fast.counts == ref.counts == (len(IDS), len(IDS))


def test_numpy_integers_name_the_same_call_as_python_integers():
    for r in (Router.from_config(CFG), ReferenceRouter.from_config(CFG)):
        r.agent_login(0.0, "a1", ready=True)
        ev = r.call_arrive(1.0, np.int64(5), "q")
        assert ev[0].call_id == 5 and type(ev[0].call_id) is int
        r.offer_accept(2.0, 5, "a1")
        assert r.call_state(np.int32(5)).name == "CONNECTED"
        with pytest.raises(StateError, match="call 5 is already in the system"):
            r.call_arrive(3.0, 5, "q")


@pytest.mark.parametrize("bad, message", [(None, "must not be None"), (True, "not bool"), (1.0, "not float"),
                                          (math.nan, "not float"), ([1], "must be hashable"),
                                          ({"a": 1}, "must be hashable")])
def test_ids_that_cannot_name_a_call_are_refused_and_change_nothing(bad, message):
    for r in (Router.from_config(CFG), ReferenceRouter.from_config(CFG)):
        r.agent_login(0.0, "a1", ready=True)
        with pytest.raises(UnknownIdError, match=message):
            r.call_arrive(1.0, bad, "q")
        with pytest.raises(UnknownIdError):
            r.call_abandon(1.0, bad)
        assert r.counts == (0, 0) and r.live_calls() == [] and r.now == 0.0


def test_a_refused_arrival_keeps_no_mapping_and_a_live_id_is_a_duplicate():
    fast = Router.from_config(CFG)
    with pytest.raises(UnknownIdError, match="unknown queue"):
        fast.call_arrive(1.0, "x", "nope")
    with pytest.raises(UnknownIdError, match="unknown skill"):
        fast.call_arrive(1.0, "x", "q", skills={"spanish": 2})
    assert fast._int == {} and fast.counts == (0, 0)
    fast.call_arrive(1.0, "x", "q")
    with pytest.raises(StateError, match=r"call 'x' is already in the system \(state WAITING\)"):
        fast.call_arrive(2.0, "x", "q")
    assert len(fast._int) == 1 and [c.call for c in fast.live_calls()] == ["x"]
    fast.call_abandon(3.0, "x")
    with pytest.raises(StateError, match=r"call 'x' has already ended \(abandoned\)"):
        fast.call_abandon(4.0, "x")
    assert fast._int == {}


def test_batch_rows_and_per_call_methods_name_the_same_integer_calls():
    fast = Router.from_config(CFG)
    res = fast.submit(np.array([(OP_ARRIVE, 1.0, 42, -1, 0, 0, math.nan)], dtype=OP_DTYPE))
    assert res.status[0] == 0
    assert fast.call_view(42).state == "WAITING"
    assert [e.kind for e in fast.call_abandon(2.0, 42)][-1] == EventKind.CALL_ENDED
    fast.call_arrive(3.0, "mapped", "q")  # a core id below NO_ID: a batch may not name it
    with pytest.raises(StateError, match="reserved for the ids the per-call methods map"):
        fast.submit(np.array([(OP_ABANDON, 4.0, NO_ID - 1, -1, -1, 0, 0.0)], dtype=OP_DTYPE))
    assert fast.call_view("mapped").state == "WAITING" and fast.now == 3.0


@pytest.mark.parametrize("table_op", [OP_MEMBER, OP_AGENT])
@pytest.mark.parametrize("rows", [1, 3])
def test_a_batch_may_not_carry_the_rows_that_change_the_tables(table_op, rows):
    """OP_MEMBER and OP_AGENT rows come from member_add and the like, which grow the tables first: a batch that
    holds one is refused whole, naming them, and changes nothing."""
    fast = Router.from_config(CFG)
    fast.call_arrive(0.5, "first", "q")
    before = (fast.counts, fast.now)
    ops = np.array([(OP_ARRIVE, 1.0, 42 + i, -1, 0, 0, math.nan) for i in range(rows - 1)]
                   + [(table_op, 1.0, NO_ID + 5, 0, 0, 0, 1.0)], dtype=OP_DTYPE)
    with pytest.raises(StateError, match="member_add / member_remove"):
        fast.submit(ops)
    assert (fast.counts, fast.now) == before == ((1, 0), 0.5)
    ops[-1]["op"] = OP_MOVE  # a code above them that is not a table row: run, and refused on its own row
    res = fast.submit(ops)
    assert list(res.status[:-1] == 0) == [True] * (rows - 1) and res.status[-1] != 0
