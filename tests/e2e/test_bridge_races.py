"""The Kamailio bridge under hostile or racing SIP, without Kamailio (adapters/kamailio/bh_bridge.py, bh_sync.py).

Invariants (numbered as in the tests):
1. every fact carrying a held transaction gets a final response unless the bridge keeps it (no caller left
   suspended): a duplicate Call-ID, a branch failing for a call no longer held, a BYE overtaking its arrive;
2. a BYE in an early dialog ends the attempt like a CANCEL (abandon, branch cancelled, 487), never a
   fabricated accept; only a connected call's BYE is `release`;
3. no ghost: a refused accept or release ends the engine call, and the periodic reconcile abandons live calls
   of this adapter that the bridge does not hold;
4. an agent talking on a call the engine does not count is not ready until that call's BYE;
5. refused requests are logged, a bounded number per minute.
"""

from __future__ import annotations

import pytest
from test_bridge_logic import CFG, arrive, ev, reply, sent

from kamailio_modules import bh


@pytest.fixture
def b():
    br = bh.Bridge(CFG)
    br.last_seq, br.boot, br.last_heard_s = 0, "boot1", 0.0
    return br


def ringing(b, call="c1", agent="a1", seq=1):
    arrive(b, call)
    b.on_stream({"seq0": seq, "seq1": seq, "events": [ev(seq, "CALL_OFFERED", call=call, agent=agent)]})
    b.actions.clear()
    sent(b)


def test_duplicate_call_id_gets_482_and_the_first_call_goes_on(b):          # (1)
    arrive(b)
    sent(b)
    b.on_fact({"k": "arrive", "c": "c1", "q": "sales", "cseq": "1 INVITE", "ti": 70, "tl": 90}, 0.0)
    assert list(b.actions) == [("final", 70, 90, 482, "Duplicate Call-ID")]
    assert sent(b) == [] and (b.calls["c1"].ti, b.calls["c1"].tl) == (7, 9)
    b.on_stream({"seq0": 1, "seq1": 1, "events": [ev(1, "CALL_OFFERED", agent="a1")]})
    assert b.actions[-1] == ("offer", 7, 9, "sip:a1@127.0.0.1:5091")
    assert "Call-ID is already held" in b.warnings[0]


def test_arrive_refused_as_state_is_a_duplicate_and_logged(b):               # (1) (5)
    arrive(b)
    reply(b, "arrive", ok=False, error={"code": "state", "message": "call 'c1' is live"})
    assert list(b.actions) == [("final", 7, 9, 482, "Duplicate Call-ID")] and "c1" not in b.calls
    assert b.warnings == ["arrive 'c1' refused: state: call 'c1' is live"]


def test_bye_of_a_held_caller_abandons_and_answers_487(b):                    # (2)
    arrive(b)
    sent(b)
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    assert sent(b) == [("abandon", {"call": "c1"})] and "c1" not in b.calls
    assert list(b.actions) == [("final", 7, 9, 487, "Request Terminated")]


def test_bye_while_ringing_cancels_the_branch_and_its_failure_gets_487(b):    # (1) (2)
    ringing(b)
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    assert sent(b) == [("abandon", {"call": "c1"})]          # no accept
    assert list(b.actions) == [("cancel", "c1", "1 INVITE")]
    b.on_fact({"k": "failed", "c": "c1", "code": 487, "ti": 7, "tl": 12}, 0.0)
    assert b.actions[-1] == ("final", 7, 12, 487, "Request Terminated") and sent(b) == []


def test_cancel_after_the_answer_changes_nothing(b):                          # (2)
    ringing(b)
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)
    b.on_fact({"k": "cancel", "c": "c1"}, 0.0)
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    assert sent(b) == [("accept", {"call": "c1", "agent": "a1"}), ("release", {"call": "c1"})]


def test_bye_overtaking_its_arrive_still_answers_the_invite(b):               # (1)
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    arrive(b)
    assert sent(b) == [] and list(b.actions) == [("final", 7, 9, 487, "Request Terminated")]


def test_failed_branch_of_an_unknown_call_gets_a_final_response(b):           # (1)
    b.on_fact({"k": "failed", "c": "zz", "code": 486, "ti": 3, "tl": 4}, 0.0)
    assert list(b.actions) == [("final", 3, 4, 480, "Call Ended")]


def test_call_ended_elsewhere_while_ringing_cancels_the_branch(b):            # (1)
    ringing(b)
    b.on_stream({"seq0": 2, "seq1": 2, "events": [ev(2, "CALL_ENDED", detail="abandoned")]})
    assert list(b.actions) == [("cancel", "c1", "1 INVITE")]
    b.on_fact({"k": "failed", "c": "c1", "code": 487, "ti": 7, "tl": 12}, 0.0)
    assert b.actions[-1] == ("final", 7, 12, 480, "Call Ended") and "c1" not in b.calls


def test_refused_accept_keeps_the_call_and_puts_the_agent_right(b):          # (3) (4)
    ringing(b)
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)
    sent(b)
    reply(b, "accept", ok=False, error={"code": "offer", "message": "offer expired"})
    assert sent(b) == [("abandon", {"call": "c1"}), ("not_ready", {"agent": "a1", "reason": "off-queue-call"})]
    b.on_stream({"seq0": 2, "seq1": 2, "events": [ev(2, "AGENT_STATE", call=None, agent="a1",
                                                         detail="NOT_READY:off-queue-call")]})
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    assert sent(b) == [("ready", {"agent": "a1"})]


def test_refused_release_abandons(b):                                         # (3)
    ringing(b)
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    sent(b)
    reply(b, "release", ok=False, error={"code": "state", "message": "call 'c1' is OFFERED, not CONNECTED"})
    assert sent(b) == [("abandon", {"call": "c1"})]


@pytest.mark.parametrize("desk", [None, "NOT_READY:break"])
def test_answer_crossing_the_cancel_makes_the_agent_not_ready_until_bye(b, desk):  # (4)
    ringing(b)
    b.on_fact({"k": "cancel", "c": "c1"}, 0.0)
    assert sent(b) == [("abandon", {"call": "c1"})]
    b.on_fact({"k": "answered", "c": "c1"}, 0.0)            # the 200 won in SIP: they talk
    assert sent(b) == [("not_ready", {"agent": "a1", "reason": "off-queue-call"})]
    events = [ev(2, "AGENT_STATE", call=None, agent="a1", detail="NOT_READY:off-queue-call")]
    if desk:                                                 # the agent's desktop set another state meanwhile
        events.append(ev(3, "AGENT_STATE", call=None, agent="a1", detail=desk))
    b.on_stream({"seq0": 2, "seq1": len(events) + 1, "events": events})
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    assert sent(b) == ([] if desk else [("ready", {"agent": "a1"})])
    assert not b.off_book and not b.agent_state


def test_an_agent_on_two_calls_outside_the_engine_is_ready_after_the_last_bye(b):    # (4)
    for seq, call in ((1, "c1"), (2, "c2")):
        ringing(b, call=call, seq=seq)
        b.on_fact({"k": "cancel", "c": call}, 0.0)
        b.on_fact({"k": "answered", "c": call}, 0.0)            # each 200 won in SIP: the agent talks twice
    b.on_stream({"seq0": 3, "seq1": 3, "events": [ev(3, "AGENT_STATE", call=None, agent="a1",
                                                         detail="NOT_READY:off-queue-call")]})
    sent(b)
    b.on_fact({"k": "bye", "c": "c1"}, 0.0)
    assert sent(b) == [] and list(b.off_book) == ["c2"]          # still talking on c2
    b.on_fact({"k": "bye", "c": "c2"}, 0.0)
    assert sent(b) == [("ready", {"agent": "a1"})] and not b.off_book


@pytest.mark.parametrize("desk", [None, "READY"])
def test_a_bye_that_never_comes_frees_the_agent_after_the_limit(b, desk):          # (4)
    b.now_s = 100.0
    ringing(b)
    b.on_fact({"k": "cancel", "c": "c1"}, 100.0)
    b.on_fact({"k": "answered", "c": "c1"}, 100.0)            # off book at 100 s; the BYE is lost
    events = [ev(2, "AGENT_STATE", call=None, agent="a1", detail="NOT_READY:off-queue-call")]
    if desk:                                                  # the desktop made the agent ready meanwhile
        events.append(ev(3, "AGENT_STATE", call=None, agent="a1", detail=desk))
    b.on_stream({"seq0": 2, "seq1": len(events) + 1, "events": events})
    sent(b)
    b.pending.clear()                                         # the router answered every request
    limit = b.off_book_max_s
    assert limit == 14_400                                    # the default
    b.timers(100.0 + limit - 1)
    assert sent(b) == [] and b.off_book == {"c1": ("a1", 100.0)}
    b.timers(100.0 + limit)
    assert sent(b) == ([] if desk else [("ready", {"agent": "a1"})])
    assert not b.off_book and not b.agent_state
    assert any("no BYE within 14400 s" in w and "'a1'" in w for w in b.warnings)
    b.on_fact({"k": "bye", "c": "c1"}, 100.0 + limit + 5)     # the BYE after all: nothing more to do
    assert sent(b) == []


def test_periodic_reconcile_abandons_ghosts_only(b):                          # (3)
    arrive(b, "mine")
    reply(b, "arrive", result={})
    b.reconciled_s = 0.0
    assert b.reconcile_s == 30.0                            # the default
    for now_s, due in ((1.0, False), (b.reconcile_s + 1, True)):
        b.timers(now_s)
        rid = [r for r, p in b.pending.items() if p.req["op"] == "ping"][-1]
        b.on_reply({"id": rid, "ok": True, "result": {"seq": 0, "boot": "boot1", "time_s": 1.0}}, now_s)
        assert (("snapshot", {}) in sent(b)) == due
    arrive(b, "late")                                        # arrives after the snapshot was asked
    b.on_fact({"k": "cancel", "c": "mine"}, 0.0)             # its abandon is in flight
    sent(b)
    calls = [{"call": c, "state": "WAITING", "ringing": [], "agent": None, "context": {"kamailio": k}}
             for c, k in (("ghost", "k1"), ("mine", "k1"), ("theirs", "k2"))]
    reply(b, "snapshot", result={"seq": 0, "time_s": 1.0, "agents": [], "calls": calls})
    assert sent(b) == [("abandon", {"call": "ghost"})]
    assert "late" in b.calls and not b.actions              # not in the snapshot yet: left alone


def test_refused_requests_are_rate_limited(b):                               # (5)
    for i in range(100):
        arrive(b, f"c{i}")
        reply(b, "arrive", ok=False, error={"code": "too_large", "message": "context over 16 KiB"})
    assert len(b.warnings) == bh.WARN_PER_MIN and b.warnings[0].startswith("arrive 'c0' refused: too_large")
    assert len(b.actions) == 100 and all(a[3] == 503 for a in b.actions)
    b.warnings.clear()
    b.now_s = 61.0
    b.warn("later")
    assert b.warnings == [f"{100 - bh.WARN_PER_MIN} more refused requests in the last minute", "later"]


def test_a_bridge_that_cannot_bind_closes_what_it_opened(tmp_path):
    """Bridge.open binding ``adapter.ipc`` in a folder that does not exist: the error comes out, and the DEALER
    and SUB sockets already made are closed (never a half-open bridge), so a later open starts clean."""
    cfg = {**CFG, "adapter": {**CFG["adapter"], "ipc": f"ipc://{tmp_path}/missing/b.ipc"}}
    bridge = bh.Bridge(cfg)
    with pytest.raises(Exception, match="No such file"):
        bridge.open()
    assert (bridge.sock, bridge.sub, bridge.pull) == (None, None, None)
    cfg["adapter"]["ipc"] = f"ipc://{tmp_path}/b.ipc"
    bridge.open()
    assert bridge.pull is not None
    ctx = bridge.sock.context
    for s in (bridge.sock, bridge.sub, bridge.pull):
        s.close(linger=0)
    ctx.term()
