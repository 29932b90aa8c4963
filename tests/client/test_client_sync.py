"""RouterClient against the real ``busyhour serve`` (a child process on loopback).

Invariants checked:

1. A round trip gives typed replies: the events the request caused, typed
   query results, and ``RouterRequestError`` with the protocol's code on the
   convenience methods (never on ``request``).
2. Pipelined requests, one frame each or one batch frame, get their own
   replies back in request order, matched by id (also from a fake server
   that answers last-first).
3. A reply lost in transit is recovered by resending the same frame with the
   same id, across a SIGKILL + restart of the server: the request is applied
   exactly once (one CALL_ARRIVED in the server's history).
4. After a server restart the client reconnects by itself; with no server
   it gives up with ``RouterUnavailable`` after its retries.
"""

from __future__ import annotations

import time

import pytest
from client_helpers import Reverser, restart

from busyhour.client import Ping, RouterClient, RouterRequestError, RouterUnavailable


def test_round_trip(server):
    with RouterClient(server.commands, timeout_s=2.0) as c:
        ping = c.ping()
        assert isinstance(ping, Ping) and ping.seq == 0 and ping.boot
        ev = c.login("a1", ready=True).events
        assert [(e.kind, e.agent, e.detail) for e in ev] == [("AGENT_STATE", "a1", "AVAILABLE")]
        reply = c.arrive("c1", "sales", priority=3, context={"caller": "+3312"})
        assert reply.ok and isinstance(reply.id, int)
        ev = reply.events
        kinds = [e.kind for e in ev]
        assert kinds[:2] == ["CALL_ARRIVED", "CALL_OFFERED"] and ev[1].agent == "a1"
        assert [e.seq for e in ev] == list(range(2, 2 + len(ev)))
        assert c.call("c1")["state"] == "OFFERED" and c.agent("a1")["state"] == "RESERVED"
        c.accept("c1", "a1")
        ended = c.release("c1").events
        assert ("CALL_ENDED", "completed") in [(e.kind, e.detail) for e in ended]
        with pytest.raises(RouterRequestError) as err:
            c.accept("nope", "a1")
        assert err.value.code == "unknown_id" and "nope" in err.value.message
        with pytest.raises(RouterRequestError) as err:
            c.login("a1")
        assert err.value.code == "state"
        reply = c.request("accept", call="nope", agent="a1")  # request() reports, never raises
        assert not reply.ok and reply.error_code == "unknown_id"
        assert c.request("no_such_op").error_code == "unknown_op"
        assert c.ping().seq == ended[-1].seq
        paused = c.pause("a1", "sales", reason="coaching").events  # one queue only
        assert [(e.kind, e.agent, e.queue, e.detail) for e in paused] == [("MEMBER_PAUSED", "a1", "sales", "coaching")]
        assert [e.kind for e in c.arrive("c2", "sales").events] == ["CALL_ARRIVED", "CALL_QUEUED"]
        with pytest.raises(RouterRequestError) as err:
            c.pause("a1", "sales")
        assert err.value.code == "state" and "already paused" in err.value.message
        assert [e.kind for e in c.priority("c2", 7).events] == ["PRIORITY_CHANGED", "CALL_QUEUED"]
        assert [e.kind for e in c.unpause("a1", "sales").events][:2] == ["MEMBER_UNPAUSED", "CALL_OFFERED"]
        removed = c.member_remove("a1", "sales").events  # the ringing offer rings on
        assert [(e.kind, e.agent, e.queue) for e in removed] == [("MEMBER_REMOVED", "a1", "sales")]
        with pytest.raises(RouterRequestError) as err:
            c.member_update("a1", "sales", penalty=1)
        assert err.value.code == "state" and "not a member" in err.value.message
        added = c.member_add("a1", "sales", penalty=2, weight=1.5).events
        assert [(e.kind, e.value) for e in added] == [("MEMBER_ADDED", 2.0)]
        assert [e.kind for e in c.member_update("a1", "sales", tier=0).events] == ["MEMBER_UPDATED"]
        assert [e.kind for e in c.queue_update("sales", ring_timeout_s=5.0, overflow=None).events] == ["QUEUE_UPDATED"]
        assert [(e.kind, e.agent) for e in c.agent_add("n9", capacity={"voice": 1}, wrap_up_s=3.0).events] == [
            ("AGENT_ADDED", "n9")]
        with pytest.raises(RouterRequestError) as err:
            c.agent_add("n9")
        assert err.value.code == "bad_request" and "duplicate" in err.value.message
        assert [(e.kind, e.agent) for e in c.agent_remove("n9").events] == [("AGENT_REMOVED", "n9")]
        with pytest.raises(RouterRequestError) as err:
            c.agent_remove("n9")
        assert err.value.code == "unknown_id"
        moved = c.move("c2", "support").events
        assert [(e.kind, e.detail) for e in moved][:1] == [("CALL_MOVED", "support")]
        with pytest.raises(RouterRequestError) as err:
            c.move("c2", "support")
        assert err.value.code == "state" and "already" in err.value.message
        with pytest.raises(RouterRequestError) as err:
            c.queue_update("sales", ring_timeout_s=-1)
        assert err.value.code == "bad_request" and "ring_timeout_s" in err.value.message
        with pytest.raises(RouterRequestError) as err:
            c.member_add("a1", "sales", tier=-1)
        assert err.value.code == "bad_request" and "tier" in err.value.message


def test_pipeline_single_and_batched_frames(server):
    with RouterClient(server.commands) as c:
        c.pipeline([("login", {"agent": a, "ready": True}) for a in ("a1", "a2", "a3")])
        for batched in (False, True):
            base = 100 if batched else 0
            reqs = [("arrive", {"call": base + i, "queue": "sales"}) for i in range(40)]
            reqs.insert(7, ("accept", {"call": "missing", "agent": "a1"}))  # fails alone
            replies = c.pipeline(reqs, batched=batched)
            assert len(replies) == 41
            assert [r.id for r in replies] == sorted(r.id for r in replies)  # request order
            assert not replies[7].ok and replies[7].error_code == "unknown_id"
            arrived = [r.events[0].call for i, r in enumerate(replies) if i != 7]
            assert arrived == [base + i for i in range(40)]  # each reply is its own request's
            offered = [e for r in replies for e in r.events if e.kind == "CALL_OFFERED"]
            assert len(offered) == (3 if not batched else 0)  # three agents, then everybody waits
            assert all(r.received_s > 0 for r in replies)


def test_replies_out_of_order_are_matched_by_id():
    fake = Reverser(30)  # answers the 30 requests last-first
    with RouterClient(fake.address, timeout_s=5.0, retries=0) as c:
        replies = c.pipeline([("call", {"call": k}) for k in range(30)])
        assert [r.result["call"] for r in replies] == list(range(30))
        assert [r.id for r in replies] == sorted(r.id for r in replies)
    fake.join()


def test_lost_reply_resent_across_restart_applied_once(server, dropper):
    with RouterClient(server.commands) as setup:
        setup.login("a1", ready=True)
    dropper.drop = 1
    c = RouterClient(dropper.address, identity="adapter-1", timeout_s=0.5, retries=40)
    try:
        pending = c.send([("arrive", {"call": "once", "queue": "sales"})])
        deadline = time.monotonic() + 10
        while dropper.dropped == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert dropper.dropped == 1  # the server applied it; the reply never reached the client
        restart(server)  # SIGKILL + restart from the journal while the client waits
        (reply,) = c.collect(pending)
        assert reply.ok and [e.kind for e in reply.events][:2] == ["CALL_ARRIVED", "CALL_OFFERED"]
        assert c.resends >= 1 and c.reconnects >= 1
        with RouterClient(server.commands) as check:
            arrivals = [e for e in check.fetch_events(0) if e.kind == "CALL_ARRIVED" and e.call == "once"]
            assert len(arrivals) == 1
            assert reply.events[0] == arrivals[0]  # the first reply, byte for byte
    finally:
        c.close()


def test_reconnect_after_restart_and_unavailable(server):
    c = RouterClient(server.commands, timeout_s=0.5, retries=40)
    try:
        c.login("a4", ready=True)
        seq = c.ping().seq
        restart(server)
        assert c.ping().seq == seq  # same state after the restart
        c.arrive("after", "support")
        assert c.call("after")["ringing"] == ["a4"]
    finally:
        c.close()
    server.stop()
    t0 = time.monotonic()
    with RouterClient(server.commands, timeout_s=0.1, retries=2) as gone:
        with pytest.raises(RouterUnavailable, match="after 2 retries"):
            gone.ping()
        partial = gone.collect(gone.send([("ping", {})]), partial=True)
        assert partial[0].error_code == "unavailable"
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("kwargs, match", [
    ({"timeout_s": 0}, "timeout_s"), ({"timeout_s": float("nan")}, "timeout_s"), ({"retries": -1}, "retries"),
    ({"identity": b""}, "identity"), ({"identity": b"\x00abc"}, "zero byte"), ({"identity": "x" * 256}, "identity"),
    ({"curve": ("short", "keys", "here")}, "40 z85"), ({"curve": 42}, "curve must be"),
])
def test_bad_settings_refused_with_a_clear_message(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RouterClient("tcp://127.0.0.1:1", **kwargs)


def test_pipeline_refuses_malformed_requests():
    with RouterClient("tcp://127.0.0.1:1", timeout_s=0.1, retries=0) as c:
        with pytest.raises(TypeError, match="pairs"):
            c.pipeline(["ping"])


def test_queue_add_and_queue_remove_round_trip_and_survive_a_restart(server):
    """A queue added over the wire takes calls; its removal is refused without ``to`` while it holds calls, and
    with ``to`` moves them; after a SIGKILL + restart the journal replays both to the same state."""
    with RouterClient(server.commands, timeout_s=5.0, retries=40) as c:
        added = c.queue_add({"name": "vip", "strategy": "ring-all", "members": ["a1", {"agent": "a2", "tier": 2}]})
        assert [(e.kind, e.agent, e.queue) for e in added.events] == [
            ("QUEUE_ADDED", None, "vip"), ("MEMBER_ADDED", "a1", "vip"), ("MEMBER_ADDED", "a2", "vip")]
        with pytest.raises(RouterRequestError) as err:
            c.queue_add({"name": "vip"})
        assert err.value.code == "state"
        with pytest.raises(RouterRequestError) as err:
            c.queue_add({"name": "x", "colour": "red"})
        assert err.value.code == "bad_request" and "colour" in err.value.message
        assert [e.kind for e in c.arrive("v1", "vip").events] == ["CALL_ARRIVED", "CALL_QUEUED"]
        c.arrive("v2", "vip")
        with pytest.raises(RouterRequestError) as err:
            c.queue_remove("vip")
        assert err.value.code == "state" and "to=" in err.value.message
        assert c.queue("vip")["waiting"] == 2
        removed = c.queue_remove("vip", to="support")
        assert [e.call for e in removed.events if e.kind == "CALL_MOVED"] == ["v1", "v2"]
        assert removed.events[-1].kind == "QUEUE_REMOVED" and removed.events[-1].queue == "vip"
        before = c.snapshot()
        assert {x["call"]: x["queue"] for x in before["calls"]} == {"v1": "support", "v2": "support"}
        restart(server)
        after = c.snapshot()
        assert {k: v for k, v in after.items() if k != "time_s"} == {k: v for k, v in before.items() if k != "time_s"}
        with pytest.raises(RouterRequestError) as err:
            c.queue("vip")
        assert err.value.code == "unknown_id"
        assert c.queue_add({"name": "vip", "members": ["a3"]}).events[0].kind == "QUEUE_ADDED"
