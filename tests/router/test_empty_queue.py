"""Join and leave rules for an empty queue (Asterisk's joinempty / leavewhenempty), on both engines:
docs/routing.md §6, "Empty queues".

Each test sets up the agent states that make one condition hold (or not) and checks that a call is
refused on entry, leaves while waiting, or stays; a rule without that condition must not act."""

from __future__ import annotations

import re

import pytest
from router_helpers import ended, engine, of, offered

from busyhour.router import ConfigError, EventKind

pytestmark = pytest.mark.usefixtures("each_engine")

NO_AGENTS_IN, NO_AGENTS_OUT = "rejected:no-agents", "exited:no-agents"


def _router(agents=("a1", "a2"), members=None, **queue):
    cfg = {"agents": [{"id": a} for a in agents],
           "queues": [{"name": "q", "members": list(agents if members is None else members), **queue},
                      {"name": "other", "members": list(agents)}]}
    return engine().from_config(cfg)


def _fates(events):
    return [(call, detail) for _, call, detail in ended(events)]


# ------------------------------------------------------------------ join_empty
@pytest.mark.parametrize("rule, refused", [(["unavailable"], True), (["invalid"], True), (["unknown"], True),
                                           (["paused"], False), ([], False)])
def test_join_refused_when_every_member_is_logged_out(rule, refused):
    r = _router(join_empty=rule)
    ev = r.call_arrive(1.0, "c1", "q")
    assert _fates(ev) == ([("c1", NO_AGENTS_IN)] if refused else [])
    assert [e.kind for e in ev][0] == EventKind.CALL_ARRIVED  # it joins, then is refused, as max_length does


def test_join_allowed_while_one_member_is_usable_and_refused_once_none_is():
    r = _router(join_empty=["paused", "unavailable"])
    r.agent_login(0.0, "a1")  # NOT_READY: paused
    assert _fates(r.call_arrive(1.0, "c1", "q")) == [("c1", NO_AGENTS_IN)]
    r.agent_ready(2.0, "a1")
    ev = r.call_arrive(3.0, "c2", "q")
    assert offered(ev) == ["a1"] and _fates(ev) == []


def test_join_with_paused_counts_a_pause_in_this_queue_only():
    r = _router(join_empty=["paused"])
    r.agent_login(0.0, "a1", ready=True)
    r.agent_login(0.0, "a2", ready=True)
    r.member_pause(1.0, "a1", "q")
    r.member_pause(1.0, "a2", "other")
    assert _fates(r.call_arrive(2.0, "c1", "q")) == []  # a2 is paused elsewhere only
    r.member_pause(3.0, "a2", "q")
    assert _fates(r.call_arrive(4.0, "c2", "q")) == [("c2", NO_AGENTS_IN)]


def test_join_refusal_overflows_like_the_no_agents_limit():
    r = _router(join_empty=["unavailable"], overflow="other")
    ev = r.call_arrive(1.0, "c1", "q")
    assert [e.kind for e in ev][:2] == [EventKind.CALL_ARRIVED, EventKind.CALL_OVERFLOWED]
    assert of(ev, EventKind.CALL_ARRIVED)[-1].queue == "other" and _fates(ev) == []


def test_a_queue_without_members_is_empty_for_any_rule():
    r = _router(members=[], join_empty=["wrapup"])
    assert _fates(r.call_arrive(1.0, "c1", "q")) == [("c1", NO_AGENTS_IN)]


def test_a_call_with_a_preferred_agent_and_a_move_in():
    r = _router(join_empty=["unavailable"])
    assert _fates(r.call_arrive(1.0, "c1", "q", preferred_agent="a1")) == []  # exempt, as from no-agents
    r.call_arrive(2.0, "c2", "other")
    assert _fates(r.call_move(3.0, "c2", "q")) == [("c2", NO_AGENTS_IN)]  # checked on every entry


def test_join_with_inuse_ringing_and_wrapup():
    r = _router(agents=("a1",), join_empty=["inuse"], wrap_up_s=5.0)
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "q")  # rings a1
    assert _fates(r.call_arrive(1.0, "c2", "q")) == []  # ringing is not "inuse"
    r.offer_accept(2.0, "c1", "a1")
    assert _fates(r.call_arrive(2.0, "c3", "q")) == [("c3", NO_AGENTS_IN)]
    r.queue_update(3.0, "q", join_empty=["ringing", "wrapup"])
    assert _fates(r.call_arrive(3.0, "c4", "q")) == []  # busy is neither ringing nor wrap-up
    r.call_release(4.0, "c1")  # wrap-up until 9; c2 and c4 wait
    assert _fates(r.call_arrive(5.0, "c5", "q")) == [("c5", NO_AGENTS_IN)]


# ------------------------------------------------------------------ leave_when_empty
def _waiting(r, t, *calls, queue="q"):
    for c in calls:
        ev = r.call_arrive(t, c, queue)
        assert offered(ev) == [] and _fates(ev) == []


def test_callers_leave_when_the_last_member_logs_out_in_queue_order():
    r = _router(leave_when_empty=["unavailable"])
    r.agent_login(0.0, "a1")  # not ready: calls wait
    _waiting(r, 1.0, "c1", "c2")
    r.call_arrive(1.5, "c3", "q", priority=5)
    ev = r.agent_logout(2.0, "a1")
    assert _fates(ev) == [("c3", NO_AGENTS_OUT), ("c1", NO_AGENTS_OUT), ("c2", NO_AGENTS_OUT)]
    assert all(e.time_s == 2.0 for e in of(ev, EventKind.CALL_ENDED))


def test_leave_on_not_ready_of_the_last_ready_member_and_not_without_paused():
    for rule, leaves in ((["paused"], True), (["unavailable", "wrapup"], False)):
        r = _router(agents=("a1",), leave_when_empty=rule)
        r.agent_login(0.0, "a1", ready=True)
        r.call_arrive(1.0, "c1", "q")
        r.offer_accept(1.0, "c1", "a1")
        _waiting(r, 2.0, "c2")
        assert _fates(r.agent_not_ready(3.0, "a1")) == ([("c2", NO_AGENTS_OUT)] if leaves else [])


def test_leave_on_a_member_pause():
    r = _router(leave_when_empty=["paused"])
    r.agent_login(0.0, "a1", ready=True)
    r.agent_login(0.0, "a2")
    r.member_pause(0.5, "a1", "q")  # a2 is not ready, a1 paused here: empty now, nobody waits yet
    ev = r.call_arrive(1.0, "c1", "q")
    assert [e.kind for e in ev] == [EventKind.CALL_ARRIVED, EventKind.CALL_QUEUED, EventKind.CALL_ENDED]
    r.member_unpause(2.0, "a1", "q")
    r.member_pause(2.0, "a1", "other")  # a pause in another queue does not count here
    r.call_arrive(4.0, "c2", "q")  # rings a1
    r.offer_accept(4.0, "c2", "a1")
    _waiting(r, 5.0, "c3")  # a1 busy (usable under "paused")
    assert _fates(r.member_pause(6.0, "a1", "q")) == [("c3", NO_AGENTS_OUT)]


def test_inuse_the_last_usable_member_going_on_a_call():
    r = _router(agents=("a1", "a2"), leave_when_empty=["inuse", "unavailable"])
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "q")  # rings a1
    _waiting(r, 1.5, "c2")  # ringing is not "inuse": it waits
    ev = r.offer_accept(2.0, "c1", "a1")
    assert _fates(ev) == [("c2", NO_AGENTS_OUT)]


def test_ringing_and_a_ringing_call_is_not_ended_but_checked_when_it_waits_again():
    r = _router(agents=("a1",), leave_when_empty=["ringing", "paused"])
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "q")  # rings a1: the queue is empty for waiting callers now
    ev = r.call_arrive(1.0, "c2", "q")
    assert _fates(ev) == [("c2", NO_AGENTS_OUT)]
    r.member_pause(2.0, "a1", "q")  # paused: empty, but c1 rings, so it stays
    assert r.call_state("c1").name == "OFFERED"
    ev = r.offer_reject(3.0, "c1", "a1")  # back to waiting, in an empty queue: it leaves then
    assert _fates(ev) == [("c1", NO_AGENTS_OUT)]


def test_wrapup_and_delay_locks_count_as_usable():
    r = _router(agents=("a1",), leave_when_empty=["wrapup", "ringing", "inuse", "paused"], wrap_up_s=5.0,
                reject_delay_s=10.0)
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(1.0, "c1", "q")
    r.offer_reject(1.0, "c1", "a1")  # a reject delay: a1 still counts as usable
    assert r.call_state("c1").name == "WAITING"
    r.advance(11.0)  # the delay ends: c1 rings a1 again
    r.offer_accept(11.0, "c1", "a1")
    ev = r.call_release(12.0, "c1")  # wrap-up: nobody waits, nothing to end
    assert _fates(ev) == [("c1", "completed")]
    ev = r.call_arrive(13.0, "c2", "q")  # enters during the wrap-up: waits, then leaves at once
    assert _fates(ev) == [("c2", NO_AGENTS_OUT)]


def test_escalation_with_penalty_leaves_at_the_step_that_reaches_nobody():
    members = [{"agent": "a1", "penalty": 1}, {"agent": "a2", "penalty": 0}]
    esc = [{"after_s": 5.0, "max_penalty": 0}]
    for rule, leaves in ((["penalty", "unavailable"], True), (["unavailable"], False)):
        r = _router(members=members, escalation=esc, leave_when_empty=rule)
        r.agent_login(0.0, "a1")  # logged in, not ready: reachable at step 0 only
        _waiting(r, 1.0, "c1")
        ev = r.advance(6.0)  # step 1, 5 s after its entry
        assert [e.kind for e in ev][0] == EventKind.CALL_ESCALATED
        assert _fates(ev) == ([("c1", NO_AGENTS_OUT)] if leaves else [])


def test_penalty_counts_members_of_later_steps_and_the_max_penalty():
    cfg = {"agents": [{"id": "a1", "groups": ["backup"]}, {"id": "a2"}],
           "queues": [{"name": "q", "members": ["a2"], "leave_when_empty": ["penalty", "unavailable"],
                       "escalation": [{"after_s": 5.0, "add_groups": ["backup"]}]}]}
    r = engine().from_config(cfg)
    r.agent_login(0.0, "a1")  # a member from step 1 only
    r.agent_login(0.0, "a2")
    _waiting(r, 1.0, "c1")
    assert _fates(r.agent_logout(2.0, "a2")) == [("c1", NO_AGENTS_OUT)]  # a1 cannot serve step 0


def test_callbacks_and_preferred_calls_stay():
    r = _router(leave_when_empty=["unavailable"])
    r.agent_login(0.0, "a1")
    _waiting(r, 1.0, "c1", "c2")
    r.request_callback(1.5, "c1", "555")
    r.call_arrive(1.6, "c3", "q", preferred_agent="a2", preferred_fallback_s=100.0)
    assert _fates(r.agent_logout(2.0, "a1")) == [("c2", NO_AGENTS_OUT)]


def test_leaving_overflows_like_the_no_agents_limit():
    r = _router(leave_when_empty=["unavailable"], overflow="other")
    r.agent_login(0.0, "a1")
    _waiting(r, 1.0, "c1")
    ev = r.agent_logout(2.0, "a1")
    assert [e.detail for e in of(ev, EventKind.CALL_OVERFLOWED)] == ["other"] and _fates(ev) == []


# ------------------------------------------------------------------ run-time changes and errors
def test_queue_update_sets_and_removes_the_rules():
    r = _router(agents=("a1",))
    _waiting(r, 1.0, "c1", "c2")  # nobody logged in, no rule: they wait
    ev = r.queue_update(2.0, "q", leave_when_empty=["unavailable"])
    assert [e.kind for e in ev][0] == EventKind.QUEUE_UPDATED
    assert _fates(ev) == [("c1", NO_AGENTS_OUT), ("c2", NO_AGENTS_OUT)]
    r.queue_update(3.0, "q", leave_when_empty=[], join_empty=["invalid"])
    assert _fates(r.call_arrive(4.0, "c3", "q")) == [("c3", NO_AGENTS_IN)]
    r.queue_update(5.0, "q", join_empty=[])
    assert _fates(r.call_arrive(6.0, "c4", "q")) == []


def test_member_changes_and_reload_apply_the_rules():
    r = _router(leave_when_empty=["unavailable"])
    r.agent_login(0.0, "a1")
    _waiting(r, 1.0, "c1")
    assert _fates(r.member_remove(2.0, "a1", "q")) == [("c1", NO_AGENTS_OUT)]
    r.member_add(3.0, "a1", "q")
    _waiting(r, 4.0, "c2")
    from busyhour.router import parse_config
    cfg = parse_config({"agents": [{"id": "a1"}, {"id": "a2"}],
                        "queues": [{"name": "q", "members": ["a1", "a2"], "leave_when_empty": ["paused"]},
                                   {"name": "other", "members": ["a1", "a2"]}]})
    ev = r.reload(5.0, cfg)  # a1 NOT_READY is paused; a2 logged out counts (no "unavailable")
    assert _fates(ev) == []
    cfg2 = parse_config({"agents": [{"id": "a1"}, {"id": "a2"}],
                         "queues": [{"name": "q", "members": ["a1"], "leave_when_empty": ["paused"]},
                                    {"name": "other", "members": ["a1", "a2"]}]})
    assert _fates(r.reload(6.0, cfg2)) == [("c2", NO_AGENTS_OUT)]


@pytest.mark.parametrize("value, message", [
    (["paused", "busy"], "queues[0].join_empty: unknown condition 'busy' (allowed: paused, penalty, inuse"),
    ("paused", "queues[0].join_empty: must be a list of conditions"),
    ([1], "queues[0].join_empty: must be a list of conditions"),
])
def test_config_errors_name_the_key_and_the_allowed_values(value, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _router(join_empty=value)


def test_a_refused_queue_update_changes_nothing():
    r = _router(agents=("a1",))
    _waiting(r, 1.0, "c1")
    with pytest.raises(ConfigError, match=re.escape("q.leave_when_empty: unknown condition 'away'")):
        r.queue_update(2.0, "q", leave_when_empty=["unavailable", "away"])
    assert r.now == 1.0 and r.call_state("c1").name == "WAITING"
    assert _fates(r.agent_login(3.0, "a1")) == []


def test_the_configuration_keeps_the_conditions_in_one_order():
    from busyhour.router import parse_config
    cfg = parse_config({"agents": [{"id": "a"}], "queues": [
        {"name": "q", "members": ["a"], "leave_when_empty": ["wrapup", "paused", "wrapup"]}]})
    assert cfg.queues[0].leave_when_empty == ("paused", "wrapup") and cfg.queues[0].join_empty == ()
