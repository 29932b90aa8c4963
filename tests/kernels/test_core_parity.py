"""The compiled core (Router) against the Python engine (ReferenceRouter): same events, errors and states.

Random configurations within the compiled core's scope (docs/routing.md §15)
and random operation streams — arrivals with priorities and their own skills, answers, rejects,
no-answers, releases with wrap-up, abandons, logins, logouts, breaks, max
wait, the no-agents limit, max length with overflow — are applied to both, one operation at a
time. After every operation both must have returned the same events (every
field), raised the same exception class, and agree on every agent's state,
every live call's state and position (rank, waiting count, EWT), the counts
and the next deadline. Then the whole
stream is replayed through ``Router.submit`` as one batch, with room so
small that the batch pauses and grows many times: it must give the same
events and fail exactly the operations that failed.
"""

from __future__ import annotations

import math
import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from busyhour.router import EventKind, ReferenceRouter, RouterError
from busyhour.router.core_layout import (
    OK, OP_ARRIVE, OP_CALLBACK, OP_DTYPE, OP_NOT_READY, OP_PAUSE, S_RO_USED, S_TM_SWEEP_MIN,
)
from busyhour.router.fast import Router
from parity_steps import EXTRA, OPS, Twin, _outcome, _step, configs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), ops=OPS)
def test_fast_router_matches_router(cfg, ops):
    _parity(cfg, ops)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(strategies=("ring-all", "ring-progressively")), ops=OPS)
def test_ring_strategies_match_router(cfg, ops):
    """Everyone logged in ready first, so calls ring several agents at once."""
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops)


# Fewer answers, more breaks: multi-channel agents ring several calls when their offers are withdrawn.
OPS_BUSY = st.lists(st.tuples(st.sampled_from(["arrive", "arrive", "arrive", "arrive", "accept", "accept", "reject",
                                               "release", "release", "abandon", "login", "logout", "ready", "ready",
                                               "not_ready", "not_ready", "advance", "callback", "transfer",
                                               "pause", "unpause", "priority", "member_add", "member_remove",
                                               "member_update", "queue_update", "move"]),
                              st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 9.0]),
                              st.integers(0, 1 << 16), st.booleans()), min_size=15, max_size=120)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(multi_channel=True), ops=OPS_BUSY)
def test_multi_channel_agents_match_router(cfg, ops):
    """Every agent takes several calls at a time (voice and chat); half the calls are chats, and everyone is
    logged in ready first, so agents ring several calls at once and withdrawals return several calls."""
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops, ("voice", "chat"))


def _observed(r, twin: Twin, live: list) -> tuple:
    """What a caller can observe of router ``r``: the clock, the next deadline, counts, agent and call states."""
    return (r.now, r.next_deadline(), r.counts, [_outcome(r.agent_state, a) for a in twin.agents],
            [_outcome(r.call_state, c) for c in live])


def _parity(cfg: dict, ops: list, channels: tuple = ("voice", "voice", "chat"), prepare=None, check=None) -> Router:
    """``prepare(fast)`` once before the stream, ``check(fast)`` after each operation (test_core_avail.py)."""
    twin = Twin(cfg, channels)
    py = ReferenceRouter.from_config(cfg)
    fast = Router.from_config(cfg, calls=16, collect_stats=True)
    if prepare is not None:
        prepare(fast)
    fast._S.S_i[S_TM_SWEEP_MIN] = 1  # sweeps void timers whenever its heap doubles (test_core_sweep.py)
    now, ringing, live, next_id, connected = 0.0, {}, [], [1], {}
    py_events, rows, failed = [], [], []
    for op, dt, k, flag in ops:
        now += dt
        before = [_observed(r, twin, live) for r in (py, fast)]
        out_py, row = _step(py, op, now, k, flag, twin, ringing, live, next_id, connected)
        out_fast, _ = _step(fast, op, now, k, flag, twin, ringing, live, next_id, connected)
        assert out_fast == out_py, (op, now, row)
        if isinstance(out_py, type):  # a refused operation changes nothing, clock included
            assert [_observed(r, twin, live) for r in (py, fast)] == before, (op, now, row)
        if op == "arrive":
            next_id[0] += 1
        if op == "agent_add" and not isinstance(out_py, type):
            twin.agents.append(row[4]["id"])
        if op == "agent_remove" and not isinstance(out_py, type):  # its row stays: later rows naming it are refused
            twin.agents[twin.agents.index(row[2])] = f"(removed {row[2]})"
        if op in EXTRA and not isinstance(out_py, type):
            EXTRA[op].after(twin, row)
        if op == "reload" and not isinstance(out_py, type):  # agents it removed (rows stay), then those it added
            kept = {a.id for a in row[4].agents}
            twin.agents = [a if a in kept else f"(removed {a})" if not str(a).startswith("(") else a
                           for a in twin.agents]
            twin.agents += [a.id for a in row[4].agents if a.id not in twin.agents]
            names = [q.name for q in row[4].queues]  # queues removed (rows stay), back, or added
            twin.queues = [q[9:-1] if q.startswith("(removed ") and q[9:-1] in names else q if q in names
                           or q.startswith("(") else f"(removed {q})" for q in twin.queues]
            twin.queues += [n for n in names if n not in twin.queues]
        rows.append(row)
        failed.append(isinstance(out_py, type))
        if not isinstance(out_py, type):
            py_events.extend(out_py)
            for e in out_py:
                if e.kind in (EventKind.CALL_OFFERED, EventKind.CALLBACK_OFFERED):
                    ringing[e.call_id] = e.agent_id
                elif e.kind in (EventKind.OFFER_EXPIRED, EventKind.OFFER_REJECTED, EventKind.OFFER_WITHDRAWN,
                                EventKind.CALL_CONNECTED):
                    ringing.pop(e.call_id, None)
                    if e.kind == EventKind.CALL_CONNECTED:
                        connected[e.call_id] = True
                if e.kind == EventKind.CALL_TRANSFERRED:
                    connected.pop(e.call_id, None)
                if e.kind == EventKind.CALL_ARRIVED and e.call_id not in live:
                    live.append(e.call_id)
                elif e.kind == EventKind.CALL_ENDED and e.call_id in live:
                    live.remove(e.call_id)
                    connected.pop(e.call_id, None)
        for aid in twin.agents:
            assert _outcome(fast.agent_state, aid) == _outcome(py.agent_state, aid), aid
        for cid in live:
            assert _outcome(fast.call_state, cid) == _outcome(py.call_state, cid), cid
            assert _outcome(fast.position, cid) == _outcome(py.position, cid), cid
        assert fast.counts == py.counts
        assert fast.next_deadline() == py.next_deadline()
        assert [_outcome(fast.paused_in, aid) for aid in twin.agents] == [_outcome(py.paused_in, aid)
                                                                          for aid in twin.agents]
        if check is not None:
            check(fast)
    assert py._flush() == []  # a refused operation fires no timer: nothing is left pending
    assert fast.stats() == py.stats()  # intervals, agent totals and live queues, from the same events
    assert fast.live_calls() == py.live_calls() and fast.all_agents() == py.all_agents()  # what adapters resync from
    assert [_outcome(fast.queue_view, q) for q in fast.queue_names] == [_outcome(py.queue_view, q)
                                                                         for q in fast.queue_names]

    batch = Router.from_config(cfg, calls=16)
    events, status = [], []
    cut = [i for i, row in enumerate(rows) if isinstance(row[0], str)] + [len(rows)]  # membership changes
    lo = 0
    for i in cut:
        if i > lo:
            res = _submit(batch, rows[lo:i])
            events += batch.to_events(res.events)
            status += [bool(s != OK) for s in res.status]
        if i < len(rows):
            op, now, a, mq, kw = rows[i]
            out = (_outcome(batch.queue_update, now, mq, **kw) if op == "queue_update"
                   else _outcome(batch.reload, now, kw) if op == "reload"
                   else _outcome(batch.agent_add, now, kw) if op == "agent_add"
                   else _outcome(batch.agent_remove, now, a) if op == "agent_remove"
                   else _outcome(EXTRA[op].replay, batch, rows[i]) if op in EXTRA
                   else _outcome(getattr(batch, op), now, a, mq, **kw))
            status.append(isinstance(out, type))
            events += [] if isinstance(out, type) else out
        lo = i + 1
    assert events == py_events
    assert status == failed
    return batch


def _submit(batch: Router, rows: list):
    """The rows through ``Router.submit``, as one batch."""
    ops_arr = np.zeros(len(rows), dtype=OP_DTYPE)
    profiles = np.zeros(len(rows), dtype=np.int64)
    for i, row in enumerate(rows):
        if row[0] == OP_ARRIVE:
            try:
                profiles[i] = batch.skill_profile(row[7], row[8], row[9])
            except RouterError:  # refused per call before it ran (a max wait of 0): a code never registered
                profiles[i] = 1 << 40
            row = row[:7]
        if row[0] in (OP_NOT_READY, OP_PAUSE):
            row = row[:6] + (float(batch.reason_code(row[6])),)
        elif row[0] == OP_CALLBACK:
            row = row[:6] + (float(batch.number_code(row[6]) if row[6] else 0),)
        ops_arr[i] = row
    return batch.submit(ops_arr, skills=profiles)


def test_ring_orders_are_compacted_without_changing_results():
    """Thousands of ring-progressively calls: their ring orders share one array that the facade compacts."""
    rng = random.Random(11)
    cfg = {"skills": ["s1", "s2"], "agents": [{"id": f"a{i}", "skills": {"s1": 1, "s2": 1}} for i in range(6)],
           "queues": [{"name": "q0", "strategy": "ring-progressively", "ring_step_s": 1.0, "ring_timeout_s": 4.0,
                       "members": [f"a{i}" for i in range(6)]}], "seed": 3}
    kinds = ["arrive", "accept", "accept", "release", "release", "release", "advance", "reject", "not_ready", "ready"]
    ops = [("login", 0.0, i, True) for i in range(6)]
    ops += [(rng.choice(kinds), rng.choice([0.0, 0.5, 1.0, 2.0]), rng.randrange(1 << 16), rng.random() < 0.3)
            for _ in range(3000)]
    batch = _parity(cfg, ops)
    assert batch._S.S_i[S_RO_USED] < batch._S.RO.shape[0] <= 64  # compacted as it went, not grown per call


def test_a_preference_ending_at_this_instant_still_directs_the_call():
    """Found by a long random run: an agent freed at the very instant a call's preference for it ends (its
    fallback timer not yet fired) takes that call first, as a member of its queue, in both engines."""
    ring = {"strategy": "ring-all", "skills": {}, "wrap_up_s": 0.0, "ring_timeout_s": 4.0, "ring_step_s": 1.0,
            "reject_delay_s": 0.0, "busy_delay_s": 0.0, "max_no_answer": 0, "max_wait_s": math.inf,
            "max_wait_no_agents_s": math.inf, "max_length": 0, "weight": 1.0}
    cfg = {"skills": ["s1", "s2"],
           "agents": [{"id": "a0", "skills": {"s1": 1, "s2": 1}, "groups": ["g0"]},
                      {"id": "a1", "skills": {"s1": 1, "s2": 1}, "groups": ["g1"]}],
           "queues": [{**ring, "name": "q0", "members": [], "no_answer_delay_s": 0.0, "max_penalty": 0,
                       "escalation": [{"after_s": 1.0, "min_level_drop": 0, "overflow": "q1"}]},
                      {**ring, "name": "q1", "members": ["a0", "a1"], "no_answer_delay_s": 3.0}],
           "seed": 3}
    dts = [0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 4.0, 4.0, 20.0, 0.5, 4.0]
    ops = [("arrive", dt, 136 if i == 13 else (1 if i == 1 else 0), False) for i, dt in enumerate(dts)]
    _parity(cfg, [("login", 0.0, i, True) for i in range(2)] + ops)
