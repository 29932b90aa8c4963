"""The Kamailio adapter's bridge decisions, without Kamailio (adapters/kamailio/bh_bridge.py).

Facts from SIP workers and router events go in; protocol requests (the
outbox) and native actions (offer / final / cancel) come out. Runs anywhere
(pyzmq and msgpack only); the SIP path itself is covered by
test_kamailio_e2e.py.
"""

from __future__ import annotations

import pytest

from kamailio_modules import bh

CFG = {"router": {"commands": "tcp://127.0.0.1:1", "events": "tcp://127.0.0.1:2"}, "adapter": {"ipc": "ipc://x",
       "name": "k1"}, "agents": {"a1": "sip:a1@127.0.0.1:5091", "a2": "sip:a2@127.0.0.1:5092"}}


def ev(seq, kind, call="c1", agent=None, detail=""):
    return [seq, float(seq), kind, call, agent, "sales", detail, 0.0]


def sent(b):
    """The requests queued since the last call, as (op, fields) without v/id."""
    out = [(r["op"], {k: v for k, v in r.items() if k not in ("v", "id", "op")}) for r in b.outbox]
    b.outbox.clear()
    return [x for x in out if x[0] != "ping"]


def reply(b, op, ok=True, **body):
    rid = next(r for r, p in b.pending.items() if p.req["op"] == op)
    b.on_reply({"id": rid, "ok": ok, **body}, 0.0)


@pytest.fixture
def b():
    br = bh.Bridge(CFG)
    br.last_seq, br.boot, br.last_heard_s = 0, "boot1", 0.0
    return br


def arrive(b, call="c1"):
    b.on_fact({"k": "arrive", "c": call, "q": "sales", "cseq": "1 INVITE", "ti": 7, "tl": 9, "priority": 3}, 0.0)


def test_arrive_offer_answer_bye(b):
    arrive(b)
    assert sent(b) == [("arrive", {"call": "c1", "queue": "sales", "context": {"kamailio": "k1"}, "priority": 3})]
    b.on_stream({"seq0": 1, "seq1": 2, "events": [ev(1, "CALL_ARRIVED"), ev(2, "CALL_OFFERED", agent="a1")]})
    assert list(b.actions) == [("offer", 7, 9, "sip:a1@127.0.0.1:5091")]
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)       # a retransmitted 200: accepted once
    assert sent(b) == [("accept", {"call": "c1", "agent": "a1"})]
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    assert sent(b) == [("release", {"call": "c1"})] and "c1" not in b.calls


@pytest.mark.parametrize("code, expect", [(603, [("reject", {"call": "c1", "agent": "a1", "busy": False})]),
                                          (486, [("reject", {"call": "c1", "agent": "a1", "busy": True})]),
                                          (408, [])])
def test_declined_branch_rejects_and_holds_again(b, code, expect):
    arrive(b)
    b.on_stream({"seq0": 1, "seq1": 1, "events": [ev(1, "CALL_OFFERED", agent="a1")]})
    sent(b)
    b.on_fact({"k": "failed", "c": "c1", "code": code, "ti": 7, "tl": 10}, 0.0)
    assert sent(b) == expect
    b.on_stream({"seq0": 2, "seq1": 2, "events": [ev(2, "CALL_OFFERED", agent="a2")]})
    assert b.actions[-1] == ("offer", 7, 10, "sip:a2@127.0.0.1:5092")


def test_expired_offer_cancels_branch_and_next_offer_waits_for_the_hold(b):
    arrive(b)
    b.on_stream({"seq0": 1, "seq1": 1, "events": [ev(1, "CALL_OFFERED", agent="a1")]})
    b.actions.clear()
    b.on_stream({"seq0": 2, "seq1": 3, "events": [ev(2, "OFFER_EXPIRED", agent="a1"),
                                                  ev(3, "CALL_OFFERED", agent="a2")]})
    assert list(b.actions) == [("cancel", "c1", "1 INVITE")]
    sent(b)
    b.on_fact({"k": "failed", "c": "c1", "code": 487, "ti": 7, "tl": 11}, 0.0)
    assert sent(b) == []                                 # our own cancel: no reject
    assert b.actions[-1] == ("offer", 7, 11, "sip:a2@127.0.0.1:5092")


@pytest.mark.parametrize("detail, code", [("exited:timeout", 480), ("rejected:no-agents", 480),
                                          ("rejected:queue-full", 486), ("exited:escalation", 503)])
def test_queue_exit_gives_final_response(b, detail, code):
    arrive(b)
    b.on_stream({"seq0": 1, "seq1": 1, "events": [ev(1, "CALL_ENDED", detail=detail)]})
    assert b.actions[-1][:4] == ("final", 7, 9, code) and "c1" not in b.calls


def test_call_ended_by_another_client_releases_the_caller(b):
    arrive(b)
    b.on_stream({"seq0": 1, "seq1": 1, "events": [ev(1, "CALL_ENDED", detail="abandoned")]})
    assert b.actions[-1] == ("final", 7, 9, 480, "Call Ended") and "c1" not in b.calls


def test_arrive_errors_and_timeouts(b):
    arrive(b)
    reply(b, "arrive", ok=False, error={"code": "unknown_id", "message": "no queue"})
    assert b.actions[-1][:4] == ("final", 7, 9, 404)
    arrive(b, "c2")
    b.timers(b.arrive_timeout_s + 1)
    assert b.actions[-1][:4] == ("final", 7, 9, 503)
    assert ("abandon", {"call": "c2"}) in sent(b)


def test_refused_engine_request_is_reported(b):
    arrive(b)
    b.on_stream({"seq0": 1, "seq1": 1, "events": [ev(1, "CALL_OFFERED", agent="a1")]})
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)
    reply(b, "accept", ok=False, error={"code": "offer", "message": "offer expired"})
    assert b.warnings[0] == "accept 'c1' refused: offer: offer expired"


def test_answered_sent_again_before_the_bye_is_idempotent(b):
    """The cfg repeats `answered` just before the `bye` of a dialog whose 2xx it saw (same process, so in order)."""
    arrive(b)
    b.on_stream({"seq0": 1, "seq1": 1, "events": [ev(1, "CALL_OFFERED", agent="a1")]})
    sent(b)
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)          # the first worker's fact, overtaken
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)                # a retransmitted BYE
    assert sent(b) == [("accept", {"call": "c1", "agent": "a1"}), ("release", {"call": "c1"})]


def test_cancel_overtaking_its_arrive(b):
    b.on_fact({"k": "cancel", "c": "c1"}, 0.0)
    arrive(b)
    assert sent(b) == [] and "c1" not in b.calls


def test_caller_cancel_abandons_and_late_offer_is_ignored(b):
    arrive(b)
    b.on_fact({"k": "cancel", "c": "c1"}, 0.0)
    assert sent(b)[-1] == ("abandon", {"call": "c1"})
    b.on_stream({"seq0": 1, "seq1": 1, "events": [ev(1, "CALL_OFFERED", agent="a1")]})
    assert not b.actions


def test_gap_asks_events_since_then_gone_asks_snapshot(b):
    arrive(b)
    b.on_stream({"seq0": 5, "seq1": 5, "events": [ev(5, "CALL_OFFERED", agent="a1")]})
    assert not b.actions and sent(b)[-1] == ("events_since", {"seq": 0})
    reply(b, "events_since", ok=True, result={"events": [ev(1, "CALL_ARRIVED"), ev(2, "CALL_QUEUED")],
                                               "last_seq": 2, "more": False})
    assert b.last_seq == 2                   # stashed seq 5 still has a gap: asked again
    assert sent(b)[-1] == ("events_since", {"seq": 2})
    reply(b, "events_since", ok=False, error={"code": "gone", "message": "too old"})
    assert sent(b)[-1] == ("snapshot", {})
    reply(b, "snapshot", result={"seq": 5, "time_s": 1.0, "agents": [], "calls": [
        {"call": "c1", "state": "OFFERED", "ringing": ["a1"], "agent": None, "context": {"kamailio": "k1"}},
        {"call": "old", "state": "WAITING", "ringing": [], "agent": None, "context": {"kamailio": "k1"}},
        {"call": "other", "state": "WAITING", "ringing": [], "agent": None, "context": {}}]})
    assert b.actions[-1] == ("offer", 7, 9, "sip:a1@127.0.0.1:5091")
    assert sent(b) == [("abandon", {"call": "old"})]     # a leftover of ours; another adapter's call is left alone


def test_restarted_server_is_detected_by_boot(b):
    b.timers(10.0)
    reply(b, "ping", result={"seq": 0, "boot": "boot2", "time_s": 1.0, "epoch_unix_s": 0.0})
    assert sent(b) == [("events_since", {"seq": 0})]


def test_requests_carry_the_bridge_name_once_its_socket_is_open(b):
    """Once open() has named the bridge (its routing id), every request carries it as 'client': the server
    then knows a resend whatever connection it comes on (docs/protocol.md)."""
    arrive(b)
    assert all("client" not in r for r in b.outbox)  # not opened: nothing to name
    b.outbox.clear()
    b.client = "kamailio-42"
    arrive(b, "c2")
    assert b.outbox and all(r["client"] == "kamailio-42" for r in b.outbox)
