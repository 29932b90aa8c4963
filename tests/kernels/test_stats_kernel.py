"""The compiled statistics (router/stats_core.py, stats_arrays.py) against their reference, StatsCollector.

Router's statistics fold the core's event rows into hash tables; ReferenceRouter's StatsCollector reads one
Event at a time. Random operation streams on both, with the tables starting at two rows so that every table
grows (and the call table drops its deleted rows) many times, must give equal ``stats()`` — every count and
every float to the last digit, dictionaries in the same order. Short intervals make many interval rows and
states that span several intervals; a small ``intervals_kept`` makes both drop old intervals while calls,
states and pauses that began in them go on. Also run with ``NUMBA_DISABLE_JIT=1`` (the kernels as Python).
"""

from __future__ import annotations

import random
import signal

import pytest
from hypothesis import given, settings, strategies as st

import busyhour.router.stats_arrays as stats_arrays
from busyhour.router import EventKind, ReferenceRouter, Router, RouterError

AGENTS = [f"a{i}" for i in range(5)]
QUEUES = ["sales", "support", "billing"]
CFG = {"interval_s": 7.5, "short_abandon_s": 2.0, "intervals_kept": 100_000,
       "agents": [{"id": a} for a in AGENTS],
       "queues": [{"name": q, "members": AGENTS[i:] + AGENTS[:i], "sl_threshold_s": 3.0 * i, "wrap_up_s": 1.5 * i}
                  for i, q in enumerate(QUEUES)]}
_OPS = ("login", "logout", "not_ready", "ready", "ready", "arrive", "arrive", "arrive", "accept", "accept", "accept",
        "release", "release", "abandon", "pause", "unpause", "advance")


def _drive(routers, seed: int, steps: int, check_every: int) -> int:
    """Random operations on every router (the same outcome on each, refusals included); compare the statistics
    every ``check_every`` steps. Returns how many calls were answered."""
    rng = random.Random(seed)
    t, n, ringing, connected, answered = 0.0, 0, [], [], 0
    for step in range(steps):
        t += rng.choice((0.0, 0.0, 1.0, 3.0, rng.uniform(0.0, 4.0), rng.uniform(0.0, 30.0)))  # waits = thresholds too
        a, q = rng.choice(AGENTS), rng.choice(QUEUES)
        op = rng.choice(_OPS)
        if op == "arrive":
            n += 1
        call = rng.choice(connected or ["none"]) if op == "release" else f"c{rng.randint(max(1, n - 8), max(1, n))}"
        if op == "accept" and ringing:
            call, a = rng.choice(ringing)
        args = {"login": ("agent_login", a), "logout": ("agent_logout", a),
                "not_ready": ("agent_not_ready", a, rng.choice(("lunch", "training", "meeting"))),
                "ready": ("agent_ready", a), "arrive": ("call_arrive", f"c{n}", q),
                "accept": ("offer_accept", call, a), "release": ("call_release", call),
                "abandon": ("call_abandon", call), "pause": ("member_pause", a, q),
                "unpause": ("member_unpause", a, q), "advance": ("advance",)}[op]
        outcomes = []
        for r in routers:
            try:
                outcomes.append(getattr(r, args[0])(t, *args[1:]))
            except RouterError as exc:
                outcomes.append(type(exc))
        assert len({o if isinstance(o, type) else "ok" for o in outcomes}) == 1, (op, args, outcomes)
        for e in outcomes[0] if isinstance(outcomes[0], list) else ():
            if e.kind == EventKind.CALL_OFFERED:
                ringing.append((e.call_id, e.agent_id))
            elif e.kind in (EventKind.OFFER_WITHDRAWN, EventKind.OFFER_EXPIRED, EventKind.OFFER_REJECTED):
                ringing = [o for o in ringing if o != (e.call_id, e.agent_id)]
            elif e.kind == EventKind.CALL_CONNECTED:
                ringing = [o for o in ringing if o[0] != e.call_id]
                connected.append(e.call_id)
                answered += 1
            elif e.kind == EventKind.CALL_ENDED:
                connected = [c for c in connected if c != e.call_id]
                ringing = [o for o in ringing if o[0] != e.call_id]
        if step % check_every == check_every - 1:
            first = routers[0].stats()
            for r in routers[1:]:
                assert r.stats() == first
                assert _orders(r.stats()) == _orders(first)
    return answered


def _orders(s) -> list:
    """The order of every dictionary's keys (``==`` on dictionaries ignores it; a server's digest does not)."""
    return ([(list(t.not_ready_s), list(t.paused_s)) for t in s.agents]
            + [list(iv.seconds_by_state) for iv in s.agent_intervals] + [list(q.agents_by_state) for q in s.queues])


@pytest.fixture
def tiny_tables(monkeypatch):
    monkeypatch.setattr(stats_arrays, "_ROWS", 2)


@pytest.mark.parametrize("seed", range(3))
def test_the_compiled_statistics_equal_the_reference_as_every_table_grows(tiny_tables, seed):
    fast, ref = Router.from_config(CFG), ReferenceRouter.from_config(CFG)
    assert fast._stats._T.CK.shape[0] == 2
    answered = _drive([fast, ref], seed, steps=500, check_every=50)
    s = fast.stats()
    assert answered > 20 and fast._stats._T.CK.shape[0] > 2 and len(s.intervals) > 20 and len(s.agent_intervals) > 20
    assert any(t.not_ready_s for t in s.agents) and any(t.paused_s for t in s.agents)
    assert sum(iv.abandoned for iv in s.intervals) > 0 and sum(iv.acw_s for iv in s.intervals) > 0


@pytest.mark.parametrize("kept", [1, 2, 5])
@pytest.mark.parametrize("seed", range(3))
def test_old_intervals_are_dropped_alike(tiny_tables, seed, kept):
    """With few intervals kept, calls answered, ended or wrapped up after their interval was dropped, and states
    and pauses longer than the kept intervals, count alike in both (and only in the kept intervals)."""
    cfg = dict(CFG, intervals_kept=kept)
    fast, ref = Router.from_config(cfg), ReferenceRouter.from_config(cfg)
    _drive([fast, ref], seed, steps=400, check_every=20)
    s, whole = fast.stats(), Router.from_config(CFG)
    _drive([whole], seed, steps=400, check_every=10**9)
    lo = s.now_s // 7.5 - kept + 1
    assert s.intervals and all(iv.start_s >= lo * 7.5 for iv in s.intervals + s.agent_intervals)
    assert len(s.agent_intervals) <= kept and len(s.intervals) <= kept * len(QUEUES)
    assert s.agents == whole.stats().agents  # the totals count every span whole
    assert ref._stats._lo > 0 and fast._stats._T.T_f[3] == ref._stats._lo  # both dropped, to the same interval


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 120), kept=st.sampled_from([1, 3, 96]))
def test_random_streams_give_equal_statistics(seed, steps, kept):
    cfg = dict(CFG, intervals_kept=kept)
    routers = [Router.from_config(cfg), ReferenceRouter.from_config(cfg)]
    _drive(routers, seed, steps=steps, check_every=max(1, steps // 3))
    assert routers[0].stats() == routers[1].stats()


@pytest.mark.parametrize("queue_too", [False, True])
def test_an_agent_or_queue_removed_and_added_again_under_its_old_name_counts_as_the_reference(queue_too):
    """The reference keeps totals, states and intervals by id and name: an agent id added again after its
    removal keeps its place in the totals (fresh totals) and its last state's history; a queue name added again
    takes its old intervals back."""
    routers = [Router.from_config(CFG), ReferenceRouter.from_config(CFG)]
    steps = [("agent_login", 0.0, "a4"), ("agent_not_ready", 5.0, "a4", "lunch"), ("call_arrive", 6.0, "x1", "sales"),
             ("agent_logout", 20.0, "a4"), ("agent_remove", 31.0, "a4"), ("agent_add", 47.0, {"id": "a4"}),
             ("member_add", 48.0, "a4", "sales"), ("agent_login", 50.0, "a4"), ("agent_ready", 52.0, "a4")]
    if queue_too:
        steps += [("queue_remove", 60.0, "billing"), ("queue_add", 75.0, {"name": "billing", "members": ["a4"]}),
                  ("call_arrive", 76.0, "x2", "billing")]
    for name, *args in steps:
        outcomes = [getattr(r, name)(*args) for r in routers]
        assert outcomes[0] == outcomes[1], name
        assert routers[0].stats() == routers[1].stats(), name
        assert _orders(routers[0].stats()) == _orders(routers[1].stats()), name
    for r in routers:
        r.advance(100.0)
    s = routers[0].stats()
    assert s == routers[1].stats() and [t.agent for t in s.agents].count("a4") == 1
    if queue_too:  # the call that arrived in the queue added again counts in it
        assert sum(iv.offered for iv in s.intervals if iv.queue == "billing") == 1


def test_a_state_far_longer_than_the_kept_intervals_costs_only_those(monkeypatch):
    """An agent available for 1e11 s (longer than any clock needs) is split over the 96 kept 900 s intervals
    only, and its idle total counts it whole — at once, in both engines (it used to loop once per interval)."""
    signal.signal(signal.SIGALRM, lambda *_: pytest.fail("the statistics did not finish within 60 s"))
    signal.alarm(60)
    try:
        cfg = {"agents": [{"id": "a"}], "queues": [{"name": "q", "members": ["a"]}]}
        routers = [Router.from_config(cfg), ReferenceRouter.from_config(cfg)]
        for r in routers:
            r.agent_login(0.0, "a", ready=True)
            r.member_pause(10.0, "a", "q")
            r.advance(1e11)
            r.agent_logout(1e11, "a")
        s = routers[0].stats()
        assert s == routers[1].stats() and s.agents[0].idle_s == 1e11
        assert len(s.agent_intervals) == 96 and s.agent_intervals[-1].start_s == (1e11 // 900) * 900
        assert all(iv.seconds_by_state == {"AVAILABLE": 900.0} for iv in s.agent_intervals[:-1])
        assert s.agents[0].paused_s == {"q": 1e11 - 10.0} and len(s.intervals) == 96  # the open pause, to now
    finally:
        signal.alarm(0)


def test_intervals_drop_with_the_clock_when_no_agent_ever_had_a_state():
    """Only calls (no agent logged in yet): ``stats()`` at a later time drops the intervals older than the
    kept ones in both engines, though no event came since."""
    cfg = dict(CFG, intervals_kept=2)
    routers = [Router.from_config(cfg), ReferenceRouter.from_config(cfg)]
    for r in routers:
        r.call_arrive(0.0, "x1", "sales")
        r.call_abandon(1.0, "x1")
        assert [iv.offered for iv in r.stats().intervals] == [1]
        r.advance(15.0)  # interval 2: intervals 1 and 2 are kept
    assert routers[0].stats() == routers[1].stats() and routers[0].stats().intervals == []
