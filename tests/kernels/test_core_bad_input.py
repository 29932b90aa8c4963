"""Bad input is refused by both engines, and a bad batch row is a no-op.

Each defect has a test on the Python engine (``ReferenceRouter``) and on the compiled
core (``Router``, per call and as batch rows): reserved call ids on rows
other than ``arrive``, times of ``-inf``/``inf``/NaN on a fresh engine, times beyond ±1e12 s, a
login or reject flag that is not 0 or 1, and numpy integer and float times
(accepted exactly like the same Python float). The batch fuzz corrupts random
rows of a valid stream — every op, with every reserved id in ``call`` and
every non-finite or out-of-range value in ``time_s`` and ``arg`` — and requires the corrupted
batch to give the same events as the stream without the rows that must fail,
those rows failing.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from busyhour.router import EventKind, Router, ReferenceRouter, StateError, TimeError, UnknownIdError
from busyhour.router.core_layout import (
    ERR_BAD_ARG, ERR_TIME, NO_ID, OK, OP_ABANDON, OP_ACCEPT, OP_ADVANCE, OP_ARRIVE, OP_DTYPE, OP_LOGIN,
    OP_LOGOUT, OP_NOT_READY, OP_READY, OP_REJECT, OP_RELEASE,
)

CFG = {"skills": ["s"], "agents": [{"id": f"a{i}", "skills": {"s": 1}} for i in range(3)],
       "queues": [{"name": "q0", "members": ["a0", "a1"], "wrap_up_s": 2.0, "max_wait_s": 30.0},
                  {"name": "q1", "members": ["a1", "a2"], "ring_timeout_s": 4.0, "reject_delay_s": 1.0}]}
RESERVED = (NO_ID, NO_ID + 1)
NON_FINITE = (-math.inf, math.inf, math.nan)
BEYOND = (1.0000001e12, -1.0000001e12, 1e300)  # finite, past ±MAX_TIME_S


def _engines():
    return [ReferenceRouter.from_config(CFG), ReferenceRouter.from_config(CFG, collect_stats=False), Router.from_config(CFG)]


@pytest.mark.parametrize("now", NON_FINITE)
def test_non_finite_time_on_a_fresh_engine_is_refused(now):
    for r in _engines():
        with pytest.raises(TimeError, match="finite"):
            r.call_arrive(now, 1, "q0")
        with pytest.raises(TimeError, match="finite"):
            r.advance(now)
        ev = r.call_arrive(0.0, 1, "q0")  # the engine still works, from its first real time
        assert [e.kind for e in ev] == [EventKind.CALL_ARRIVED, EventKind.CALL_QUEUED]
        assert r.advance(31.0)[-1].detail == "exited:timeout"
    fast = Router.from_config(CFG)
    rows = np.array([(OP_ARRIVE, now, 1, -1, 0, 0, 0.0), (OP_ADVANCE, now, 0, -1, -1, 0, 0.0),
                     (OP_ARRIVE, 0.0, 2, -1, 0, 0, 0.0)], dtype=OP_DTYPE)
    res = fast.submit(rows)
    assert list(res.status) == [ERR_TIME, ERR_TIME, OK] and fast.now == 0.0


@pytest.mark.parametrize("now", BEYOND)
def test_times_beyond_the_bound_are_refused_with_the_bound_named(now):
    """A finite time past ±1e12 s (a far-future ``advance`` used to make the statistics loop over every interval
    since the last change) is refused like a non-finite one; ±1e12 itself is a time like any other."""
    for r in _engines():
        with pytest.raises(TimeError, match=r"within ±1e\+12"):
            r.call_arrive(now, 1, "q0")
        with pytest.raises(TimeError, match=r"within ±1e\+12"):
            r.advance(np.float64(now))
        assert r.now == -math.inf
        r.agent_login(-1e12, "a0", ready=True)
        r.advance(1e12)
        assert r.now == 1e12 and (r._stats is None or r.stats().agents[0].idle_s == 2e12)
    fast = Router.from_config(CFG)
    rows = np.array([(OP_ARRIVE, now, 1, -1, 0, 0, 0.0), (OP_ADVANCE, 3.0, 0, -1, -1, 0, 0.0)], dtype=OP_DTYPE)
    res = fast.submit(rows)
    assert list(res.status) == [ERR_TIME, OK] and fast.now == 3.0
    assert "beyond ±1e12 s" in fast.describe(rows, res.status)[0]


@pytest.mark.parametrize("op", [OP_ACCEPT, OP_REJECT, OP_RELEASE, OP_ABANDON])
@pytest.mark.parametrize("cid", RESERVED)
def test_reserved_call_ids_never_reach_another_call(op, cid):
    fast = Router.from_config(CFG)
    setup = np.array([(OP_ARRIVE, 0.0, 7, -1, 0, 0, 0.0), (OP_ARRIVE, 0.0, 8, -1, 0, 0, 0.0),
                      (OP_ABANDON, 0.5, 8, -1, -1, 0, 0.0)], dtype=OP_DTYPE)  # 8 leaves a deleted row behind
    assert (fast.submit(setup).status == OK).all()
    res = fast.submit(np.array([(op, 1.0, cid, 0, -1, 0, 0.0)], dtype=OP_DTYPE))
    assert res.status[0] == ERR_BAD_ARG and len(res.events) == 0
    assert "reserved call id" in fast.describe(np.array([(op, 1.0, cid, 0, -1, 0, 0.0)], dtype=OP_DTYPE),
                                               res.status)[0]
    assert fast.call_state(7).name == "WAITING" and fast.counts == (2, 1)
    # the per-call methods have no reserved ids: they map them (router/fast_ids.py), as any id the core
    # cannot hold, so a reserved id names no call until one arrives with it, then that call only
    py = ReferenceRouter.from_config(CFG)
    py.call_arrive(0.0, 7, "q0")
    for r in (fast, py):
        with pytest.raises(UnknownIdError, match=f"unknown call {cid}"):
            r.call_abandon(1.0, cid)
        assert r.call_state(7).name == "WAITING"
        r.call_arrive(1.0, cid, "q0")
        assert [e.call_id for e in r.call_abandon(1.0, cid) if e.kind == EventKind.CALL_ENDED] == [cid]
        assert r.call_state(7).name == "WAITING"
    assert fast.counts == (3, 2) and py.counts == (2, 1)


@pytest.mark.parametrize("value", [math.nan, math.inf, -1.0, 2.0, 0.5])
def test_login_and_reject_flags_must_be_zero_or_one(value):
    fast = Router.from_config(CFG)
    rows = np.array([(OP_LOGIN, 0.0, 0, 0, -1, 0, value), (OP_LOGIN, 0.0, 0, 1, -1, 0, 1.0),
                     (OP_ARRIVE, 0.0, 5, -1, 1, 0, 0.0), (OP_REJECT, 1.0, 5, 1, -1, 0, value)], dtype=OP_DTYPE)
    res = fast.submit(rows)
    assert list(res.status) == [ERR_BAD_ARG, OK, OK, ERR_BAD_ARG]
    assert fast.agent_state("a0") == "LOGGED_OUT" and fast.agent_state("a1") == "RESERVED"
    for r in (ReferenceRouter.from_config(CFG), Router.from_config(CFG)):
        with pytest.raises(StateError, match="ready"):
            r.agent_login(0.0, "a0", ready=value)
        assert r.agent_state("a0") == "LOGGED_OUT"
        r.agent_login(0.0, "a1", ready=np.bool_(True))
        r.call_arrive(0.0, 5, "q1")
        with pytest.raises(StateError, match="busy"):
            r.offer_reject(1.0, 5, "a1", busy=value)
        assert r.agent_state("a1") == "RESERVED"


@pytest.mark.parametrize("kind", [np.int64, np.int32, np.float32, np.float64, int, float])
def test_numpy_scalar_times_are_accepted_like_floats(kind):
    for make in (ReferenceRouter.from_config, Router.from_config):
        plain, typed = make(CFG), make(CFG)
        for t, call in ((0, None), (2, 1), (4, None), (8, 1)):
            if call is None:
                want = plain.agent_login(float(t), "a0", ready=True) if t == 0 else plain.advance(float(t))
                got = typed.agent_login(kind(t), "a0", ready=True) if t == 0 else typed.advance(kind(t))
            elif t == 2:
                want, got = plain.call_arrive(float(t), call, "q0"), typed.call_arrive(kind(t), call, "q0")
            else:
                want, got = plain.offer_accept(float(t), call, "a0"), typed.offer_accept(kind(t), call, "a0")
            assert got == want and all(type(e.time_s) is float for e in got)
        with pytest.raises(TimeError, match="finite number"):
            typed.advance(np.bool_(True))
        with pytest.raises(TimeError, match="finite number"):
            typed.advance("9")


# ---------------------------------------------------------------- batch fuzz
OPS = (OP_ARRIVE, OP_ACCEPT, OP_REJECT, OP_RELEASE, OP_ABANDON, OP_LOGIN, OP_LOGOUT, OP_READY, OP_NOT_READY,
       OP_ADVANCE)
_CALL_OPS = {OP_ARRIVE, OP_ACCEPT, OP_REJECT, OP_RELEASE, OP_ABANDON}


def _valid_arg(op: int, k: int) -> float:
    if op in (OP_REJECT, OP_LOGIN):
        return float(k % 2)
    if op == OP_RELEASE:
        return (math.nan, 0.0, 1.5)[k % 3]
    if op == OP_NOT_READY:
        return 2.0  # "break", registered first
    return 0.0


def _must_fail(op: int, field: str, value: float) -> bool:
    """Whether a row whose ``field`` was set to ``value`` must fail (else it is a valid row as it is)."""
    if field == "time_s":
        return True
    if field == "call":
        return op in _CALL_OPS
    if op in (OP_REJECT, OP_LOGIN, OP_NOT_READY):
        return True
    return op == OP_RELEASE and not math.isnan(value)


ROWS = st.lists(st.tuples(st.sampled_from(OPS), st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0, 7.0]),
                          st.integers(0, 1000)), min_size=5, max_size=80)
CORRUPT = st.lists(st.tuples(st.integers(0, 79), st.sampled_from(
    [("call", v) for v in RESERVED] + [("time_s", v) for v in NON_FINITE + BEYOND] + [("arg", v) for v in NON_FINITE])),
    max_size=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, corrupt=CORRUPT)
def test_bad_rows_are_no_ops_in_any_batch(rows, corrupt):
    ops = np.zeros(len(rows), dtype=OP_DTYPE)
    now = 0.0
    for i, (op, dt, k) in enumerate(rows):
        now += dt
        ops[i] = (op, now, 1 + k % 6, k % 3, k % 2, k % 3, _valid_arg(op, k))
    bad = ops.copy()
    fails = np.zeros(len(ops), dtype=bool)
    for i, (field, value) in corrupt:
        if i < len(ops):
            bad[field][i] = value
            fails[i] |= _must_fail(int(ops[i]["op"]), field, value)
    keep = bad[~fails]  # the corrupted rows that are still valid stay, as corrupted
    got_r, want_r = Router.from_config(CFG), Router.from_config(CFG)
    for r in (got_r, want_r):
        assert r.reason_code("break") == 2
    got, want = got_r.submit(bad), want_r.submit(keep)
    assert (got.status[fails] != OK).all()
    assert list(got.status[~fails]) == list(want.status)
    assert got_r.to_events(got.events) == want_r.to_events(want.events)
    assert got_r.counts == want_r.counts and got_r.next_deadline() == want_r.next_deadline()


def test_callback_numbers_are_bounded(monkeypatch):
    import busyhour.router.fast as fast_module

    r = Router.from_config({"agents": [{"id": "a"}], "queues": [{"name": "q", "members": ["a"]}]})
    with pytest.raises(StateError, match="256 characters"):
        r.number_code("9" * 257)
    monkeypatch.setattr(fast_module, "MAX_NUMBER_CODES", 3)  # code 0 is "none": room for two numbers
    assert (r.number_code("+1"), r.number_code("+2"), r.number_code("+1")) == (1, 2, 1)
    with pytest.raises(StateError, match="callback numbers, its limit"):
        r.number_code("+3")


def test_strided_and_read_only_batches_run_like_their_copies():
    """A batch that is a strided view or read-only is copied into the layout the core is bound to; a one-row
    batch's status array is the caller's own (a fresh array each time, never a shared template)."""
    rows = np.zeros(8, dtype=OP_DTYPE)
    rows[0::2] = [(OP_LOGIN, 0.0, 0, 0, -1, 0, 1.0), (OP_ARRIVE, 1.0, 2**40, -1, 0, 0, 0.0),
                  (OP_ACCEPT, 2.0, 2**40, 0, -1, 0, 0.0), (OP_RELEASE, 3.0, 2**40, -1, -1, 0, math.nan)]
    want = Router.from_config(CFG).submit(np.ascontiguousarray(rows[0::2]))
    frozen = rows[0::2].copy()
    frozen.flags.writeable = False
    for ops in (rows[0::2], frozen):
        assert not ops.flags.carray
        got = Router.from_config(CFG).submit(ops)
        assert got.status.tolist() == want.status.tolist() == [OK] * 4
        assert got.events.tobytes() == want.events.tobytes()
    r = Router.from_config(CFG)
    first = r.submit(rows[0:1]).status
    first[0] = 99  # the caller may write its status array
    second = r.submit(np.array([(OP_ADVANCE, 0.5, 0, -1, -1, 0, 0.0)], dtype=OP_DTYPE)).status
    assert second.tolist() == [OK] and first is not second
