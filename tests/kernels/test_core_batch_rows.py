"""The compiled core's batch API on long streams: growth while a batch runs, bad rows, a logout's long tail.

``Router.submit`` runs a whole array of rows in one core call; these tests
push it through tiny arrays (calls, timers, call ids and events grow in the
middle of a batch), rows that fail alone, and a logout that sets thousands
of no-agents timers — against the reference engine where it decides.
"""

from __future__ import annotations

import numpy as np
import pytest

from busyhour.router import EventKind, ReferenceRouter
from busyhour.router.core_layout import (
    OK, OP_ACCEPT, OP_ADVANCE, OP_ARRIVE, OP_DTYPE, OP_LOGIN, OP_LOGOUT, OP_NOT_READY,
)
from busyhour.router.fast import Router


def test_batch_grows_and_pauses_without_changing_results():
    """A long stream through tiny arrays: calls, timers, the call-id table and the event buffer all grow."""
    cfg = {"skills": ["s"], "agents": [{"id": f"a{i}", "skills": {"s": 1}} for i in range(3)],
           "queues": [{"name": "q", "members": ["a0", "a1", "a2"], "wrap_up_s": 1.0, "max_wait_s": 300.0}]}
    n = 3000
    ops = np.zeros(n + 3, dtype=OP_DTYPE)
    for i in range(3):
        ops[i] = (OP_LOGIN, 0.0, 0, i, -1, 0, 1.0)
    ops[3:]["op"] = OP_ARRIVE
    ops[3:]["agent"] = -1
    ops[3:]["time_s"] = np.arange(n) * 0.01
    ops[3:]["call"] = np.arange(n) + 1
    fast = Router.from_config(cfg, calls=16)
    res = fast.submit(ops)
    assert (res.status == OK).all()
    kinds = res.events["kind"]
    assert (kinds == EventKind.CALL_QUEUED).sum() == n - 3  # three were offered at once, the rest wait
    queued = res.events[kinds == EventKind.CALL_QUEUED]
    assert (queued["value"] == np.arange(1, n - 2)).all()  # positions 1, 2, 3, ...
    assert np.all(np.diff(res.events["seq"]) == 1)
    again = fast.submit(np.array([(OP_ADVANCE, 400.0, 0, -1, -1, 0, 0.0)], dtype=OP_DTYPE))
    ended = again.events[again.events["kind"] == EventKind.CALL_ENDED]
    # nobody answers: every call rings out now and then, and all reach max wait
    assert len(ended) == n and all(fast.detail_text(d) == "exited:timeout" for d in ended["detail"])
    assert fast.counts == (n, n)


def test_bad_rows_fail_alone_with_a_message():
    cfg = {"skills": ["s"], "agents": [{"id": "a", "skills": {"s": 1}}], "queues": [{"name": "q", "members": ["a"]}]}
    fast = Router.from_config(cfg)
    ops = np.array([(OP_LOGIN, 1.0, 0, 0, -1, 0, 1.0), (OP_ARRIVE, 1.0, 5, -1, 7, 0, 0.0),
                    (OP_ACCEPT, 1.0, 5, 0, -1, 0, 0.0), (OP_ARRIVE, 0.5, 6, -1, 0, 0, 0.0),
                    (OP_ARRIVE, 2.0, 6, -1, 0, 0, 0.0), (42, 2.0, 0, -1, -1, 0, 0.0)], dtype=OP_DTYPE)
    res = fast.submit(ops)
    assert [int(s) != OK for s in res.status] == [False, True, True, True, False, True]
    lines = fast.describe(ops, res.status)
    assert lines[0].startswith("ops[1] arrive: unknown queue")
    assert "unknown call" in lines[1] and "time" in lines[2] and "op 42" in lines[3]
    assert fast.agent_state("a") == "RESERVED"  # the good rows went through
    bad = np.array([(OP_NOT_READY, 3.0, 0, 0, -1, 0, 7.0)], dtype=OP_DTYPE)  # code 7 was never registered
    res = fast.submit(bad)
    assert res.status[0] != OK and "reason code" in fast.describe(bad, res.status)[0]
    ok = np.array([(OP_NOT_READY, 3.0, 0, 0, -1, 0, float(fast.reason_code("lunch")))], dtype=OP_DTYPE)
    assert fast.submit(ok).status[0] == OK and fast.agent_state("a") == "NOT_READY:lunch"  # the offer withdrawn


@pytest.mark.parametrize("limit_s", [0.0, 5.0])
def test_logout_emptying_a_long_queue_starts_every_no_agents_wait(limit_s):
    """The last agent logs out of a queue holding 6,000 callers: one no-agents timer each (the timer heap
    grows in the middle of the logout row), then every caller exits, in waiting order, as on ReferenceRouter."""
    cfg = {"agents": [{"id": "a"}], "queues": [{"name": "q", "members": ["a"], "max_wait_no_agents_s": limit_s}]}
    n = 6000
    ops = np.zeros(n + 3, dtype=OP_DTYPE)
    ops[0] = (OP_LOGIN, 0.0, 0, 0, -1, 0, 0.0)  # logged in, not ready: the callers wait
    ops[1:n + 1]["op"] = OP_ARRIVE
    ops[1:n + 1]["agent"] = -1
    ops[1:n + 1]["call"] = np.arange(1, n + 1)
    ops[1:n + 1]["priority"] = np.arange(1, n + 1) % 2
    ops[1:n + 1]["queue"] = 0
    ops[n + 1] = (OP_LOGOUT, 1.0, 0, 0, -1, 0, 0.0)
    ops[n + 2] = (OP_ADVANCE, 1.0 + limit_s, 0, -1, -1, 0, 0.0)
    fast = Router.from_config(cfg, calls=16)
    res = fast.submit(ops)
    assert (res.status == OK).all()
    py = ReferenceRouter.from_config(cfg, collect_stats=False)
    want = py.agent_login(0.0, "a")
    for i in range(1, n + 1):
        want += py.call_arrive(0.0, i, "q", priority=i % 2)
    want += py.agent_logout(1.0, "a") + py.advance(1.0 + limit_s)
    assert fast.to_events(res.events) == want
    ended = [e for e in want if e.kind == EventKind.CALL_ENDED]
    assert len(ended) == n and {e.detail for e in ended} == {"exited:no-agents"}
    assert [e.call_id for e in ended[:3]] == [1, 3, 5] and ended[0].time_s == 1.0 + limit_s


def test_per_call_events_are_the_batch_events_through_growth_long_reads_and_a_pickle():
    """The per-call methods read the core's buffers their own way (a few rows unpacked from the bytes, longer
    runs listed, counters through memoryviews made again when the state grows or is unpickled): the same
    records as the batch's rows through ``to_events``, for one-event, few-event and 40-event operations."""
    import pickle

    cfg = {"agents": [{"id": f"a{i}"} for i in range(40)],
           "queues": [{"name": "q", "members": [f"a{i}" for i in range(40)], "ring_timeout_s": 5.0}]}
    one = Router.from_config(cfg, calls=16)
    got, rows, offered = [], [], {}
    for i in range(40):
        got += one.agent_login(0.0, f"a{i}", ready=True)
        rows.append((OP_LOGIN, 0.0, 0, i, -1, 0, 1.0))
    for c in range(1, 41):  # 40 ringing offers
        got += one.call_arrive(1.0 + 0.01 * c, c, "q")
        rows.append((OP_ARRIVE, 1.0 + 0.01 * c, c, -1, 0, 0, float("nan")))
    one = pickle.loads(pickle.dumps(one))  # a snapshot's round trip
    evs = one.advance(10.0)  # they all ring out and are offered again: a long run of events
    assert len(evs) > 32
    got += evs
    rows.append((OP_ADVANCE, 10.0, 0, -1, -1, 0, 0.0))
    offered = {e.call_id: e.agent_id for e in got if e.kind == EventKind.CALL_OFFERED}
    for c in range(1, 41):
        got += one.offer_accept(10.0, c, offered[c])
        rows.append((OP_ACCEPT, 10.0, c, int(offered[c][1:]), -1, 0, 0.0))
    batch = Router.from_config(cfg, calls=16)
    res = batch.submit(np.array(rows, dtype=OP_DTYPE))
    assert (res.status == OK).all()
    assert got == batch.to_events(res.events)
    assert sum(e.kind == EventKind.CALL_CONNECTED for e in got) == 40


def test_per_call_reads_follow_an_event_buffer_grown_by_new_members():
    """Members added to a ring-all queue grow the core's event buffer (one arrival now rings them all): the
    per-call methods read the new buffer, every offer of a 60-agent ring included."""
    cfg = {"agents": [{"id": "a0"}], "queues": [{"name": "q", "members": ["a0"], "strategy": "ring-all"}]}
    router = Router.from_config(cfg)
    before = router._S.EV_i
    for i in range(1, 60):
        router.agent_add(0.0, {"id": f"a{i}"})
        router.member_add(0.0, f"a{i}", "q")
    for i in range(60):
        router.agent_login(0.0, f"a{i}", ready=True)
    assert router._S.EV_i is not before  # the case under test: the buffer was replaced
    events = router.call_arrive(1.0, 7, "q")
    assert sorted(e.agent_id for e in events if e.kind == EventKind.CALL_OFFERED) == sorted(f"a{i}" for i in range(60))
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events)))
