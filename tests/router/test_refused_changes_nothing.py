"""A refused operation changes nothing, clock included — every error class, on both engines.

Each case sets up a router with a timer due *before* the refused operation's
``now`` (a ring that will expire, a wrap-up that will end, a max wait), then
makes an operation that must be refused. Afterwards the router must look
exactly as before (clock, next deadline, counts, agent and call states), and
advancing it must give exactly the events and states of a twin router that
never saw the refused operation. Under the old rule, some errors (logging in
twice, an accept by the wrong agent) fired those timers first, so this test
fails there.
"""

from __future__ import annotations

import math

import pytest

from busyhour.router import OfferError, ReferenceRouter, StateError, TimeError, UnknownIdError
from busyhour.router.fast import Router

CFG = {"skills": [], "agents": [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}],
       "queues": [{"name": "q", "members": ["a1", "a2"], "ring_timeout_s": 10.0, "wrap_up_s": 4.0,
                   "max_wait_s": 30.0},
                  {"name": "r", "members": ["a3"], "ring_timeout_s": 5.0, "max_wait_s": 8.0}]}


def _setup(r) -> None:
    """a1 rings call 1 (expires at 11), a2 wraps up call 2 until 7, call 3 waits in r (max wait: 11)."""
    r.agent_login(0.0, "a2", ready=True)
    r.call_arrive(0.5, 2, "q")
    r.offer_accept(1.0, 2, "a2")
    r.agent_login(1.0, "a1", ready=True)
    r.call_arrive(1.0, 1, "q")
    r.call_release(3.0, 2)
    r.call_arrive(3.0, 3, "r")


CASES = [  # (refused operation at t = 20, its error class)
    (lambda r: r.agent_login(20.0, "a1"), StateError),  # already logged in
    (lambda r: r.agent_logout(20.0, "a3"), StateError),  # not logged in
    (lambda r: r.agent_ready(20.0, "a3"), StateError),  # logged out
    (lambda r: r.agent_not_ready(20.0, "a3"), StateError),
    (lambda r: r.call_release(20.0, 1), StateError),  # ringing, not connected
    (lambda r: r.transfer(20.0, 3, queue="q"), StateError),  # waiting, not connected
    (lambda r: r.offer_accept(20.0, 1, "a3"), OfferError),  # never rung (not a member)
    (lambda r: r.offer_reject(20.0, 1, "a1"), OfferError),  # its ring expired at 11 (found on a copy)
    (lambda r: r.offer_accept(20.0, 3, "a3"), OfferError),  # it left at max wait 11 (on a copy)
    (lambda r: r.request_callback(20.0, 3, "+15550100"), StateError),  # it left at 11 (on a copy)
    (lambda r: r.offer_accept(20.0, 99, "a1"), UnknownIdError),
    (lambda r: r.agent_login(20.0, "ghost"), UnknownIdError),
    (lambda r: r.call_arrive(20.0, 7, "nowhere"), UnknownIdError),
    (lambda r: r.call_arrive(20.0, 1, "q"), StateError),  # duplicate id
    (lambda r: r.advance(math.nan), TimeError),
    (lambda r: r.call_arrive(2.0, 8, "q"), TimeError),  # before the last time (3)
]


def _call(r, c) -> str:
    try:
        return r.call_state(c).name
    except StateError as exc:  # ended
        return str(exc)


def _seen(r) -> tuple:
    return (r.now, r.next_deadline(), r.counts, [r.agent_state(a) for a in ("a1", "a2", "a3")],
            [_call(r, c) for c in (1, 3)])


@pytest.mark.parametrize("engine", [ReferenceRouter, Router])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_a_refused_operation_changes_nothing(engine, case):
    op, error = CASES[case]
    r, twin = engine.from_config(CFG), engine.from_config(CFG)
    _setup(r)
    _setup(twin)
    before = _seen(r)
    assert before[1] < 20.0  # a timer is due before the refused operation
    with pytest.raises(error):
        op(r)
    assert _seen(r) == before
    assert r.advance(40.0) == twin.advance(40.0)  # the due timers fire now, as if nothing had happened
    assert _seen(r) == _seen(twin)


@pytest.mark.parametrize("engine", [ReferenceRouter, Router])
def test_an_operation_checked_on_a_copy_still_happens_when_allowed(engine):
    """With a timer due (a2's wrap-up ends at 7), an accept that stays valid (the ring expires at 11) is
    applied after it."""
    r = engine.from_config(CFG)
    _setup(r)
    ev = r.offer_accept(8.0, 1, "a1")
    assert [(e.kind.name, e.agent_id) for e in ev] == [("AGENT_STATE", "a2"), ("CALL_CONNECTED", "a1"),
                                                       ("AGENT_STATE", "a1")]
    assert r.call_state(1).name == "CONNECTED" and r.now == 8.0


@pytest.mark.parametrize("engine", [ReferenceRouter, Router])
def test_an_accept_of_a_ringing_offer_makes_no_copy_when_only_other_timers_are_due(engine, monkeypatch):
    """The copy is the slow path (the whole state): an offer that rings now ends only by its call's own
    timers, so with only other timers due (a2's wrap-up) the accept is decided without one."""
    from busyhour.router import engine as engine_module, fast_trial

    def no_copy(*_a, **_k):
        raise AssertionError("decided on a copy")
    r = engine.from_config(CFG)
    _setup(r)
    monkeypatch.setattr(engine_module.copy, "deepcopy", no_copy)
    monkeypatch.setattr(fast_trial, "run_trial", no_copy)
    ev = r.offer_accept(8.0, 1, "a1")  # a2's wrap-up ended at 7: due, not fired yet
    assert [(e.kind.name, e.agent_id) for e in ev] == [("AGENT_STATE", "a2"), ("CALL_CONNECTED", "a1"),
                                                       ("AGENT_STATE", "a1")]
    with pytest.raises(AssertionError, match="decided on a copy"):  # call 3's max wait (11) is due: its own
        r.request_callback(12.0, 3, "+15550100")


@pytest.mark.parametrize("call, error", [
    (lambda r: r.member_pause(1.0, "a1", "nowhere"), TimeError),  # a bad time and an unknown queue: the time
    (lambda r: r.member_pause(1.0, "nobody", "q"), TimeError),
    (lambda r: r.member_unpause(math.nan, "a1", "nowhere"), TimeError),
    (lambda r: r.call_move(1.0, 1, "nowhere"), TimeError),
    (lambda r: r.call_move(1.0, 999, "nowhere"), TimeError),
    (lambda r: r.call_move(6.0, 999, "nowhere"), UnknownIdError),  # an unknown call and queue: the call
    (lambda r: r.member_pause(6.0, "nobody", "nowhere"), UnknownIdError),
])
def test_two_faults_give_the_same_error_on_both_engines(call, error):
    """Where an operation has two faults, both engines report the same one: the time first, then the ids in
    the order of the arguments."""
    out = []
    for cls in (ReferenceRouter, Router):
        r = cls.from_config(CFG)
        _setup(r)
        with pytest.raises(error) as err:
            call(r)
        out.append(str(err.value))
    assert out[0] == out[1]
