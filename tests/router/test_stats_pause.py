"""Pause time in the statistics (docs/routing.md §13): per agent and queue, and per (queue, interval).

Engine tests run on both engines; the MEMBER_REMOVED path and bad events are fed to a
``StatsCollector`` directly, as hand-built ``Event`` records.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import random
from types import SimpleNamespace

import pytest
from router_helpers import engine

from busyhour.router import Event, EventKind, ReferenceRouter, Router, RouterError, parse_config
from busyhour.router.stats import StatsCollector
from busyhour.router.stats_arrays import EventStats

each_engine = pytest.mark.usefixtures("each_engine")

INTERVAL_S = 60.0
CFG = {"agents": [{"id": "a1"}, {"id": "a2"}], "interval_s": INTERVAL_S,
       "queues": [{"name": "sales", "members": ["a1", "a2"]}, {"name": "support", "members": ["a1", "a2"]}]}


def totals(stats, agent) -> dict[str, float]:
    (tot,) = [t for t in stats.agents if t.agent == agent]
    return tot.paused_s


def by_interval(stats, queue: str) -> dict[float, float]:
    """{interval start: agent-seconds paused} of ``queue``'s intervals that have pause time."""
    return {iv.start_s: iv.paused_s for iv in stats.intervals if iv.queue == queue and iv.paused_s}


def split(t0: float, t1: float) -> dict[float, float]:
    """A pause from t0 to t1 cut at the interval boundaries: {interval start: seconds}."""
    out: dict[float, float] = {}
    k = math.floor(t0 / INTERVAL_S)
    while k * INTERVAL_S < t1:
        lo, hi = max(t0, k * INTERVAL_S), min(t1, (k + 1) * INTERVAL_S)
        if hi > lo:
            out[k * INTERVAL_S] = out.get(k * INTERVAL_S, 0.0) + hi - lo
        k += 1
    return out


def merged(*parts: dict[float, float]) -> dict[float, float]:
    out: dict[float, float] = {}
    for p in parts:
        for k, v in p.items():
            out[k] = out.get(k, 0.0) + v
    return out


# ----------------------------------------------------------------- both engines


@each_engine
def test_a_pause_counts_from_pause_to_unpause():
    t0, t1 = 10.0, 70.0
    r = engine().from_config(CFG)
    r.agent_login(0.0, "a1", ready=True)
    r.member_pause(t0, "a1", "sales", "coaching")
    r.member_unpause(t1, "a1", "sales")
    r.advance(t1 + 500.0)  # closed: nothing more accrues
    s = r.stats()
    assert totals(s, "a1") == {"sales": t1 - t0}
    assert totals(s, "a2") == {}
    assert by_interval(s, "sales") == split(t0, t1) and by_interval(s, "support") == {}


@each_engine
def test_pauses_in_two_queues_count_separately_and_replay_from_the_events():
    a1_sales, a1_support, a2_support = (10.0, 70.0), (30.0, 50.0), (40.0, 100.0)
    r = engine().from_config(CFG)
    ev = []
    ev += r.member_pause(a1_sales[0], "a1", "sales")
    ev += r.member_pause(a1_support[0], "a1", "support", "lunch")
    ev += r.member_pause(a2_support[0], "a2", "support")
    ev += r.member_unpause(a1_support[1], "a1", "support")
    ev += r.member_unpause(a1_sales[1], "a1", "sales")
    ev += r.member_unpause(a2_support[1], "a2", "support")
    s = r.stats()
    assert totals(s, "a1") == {"sales": a1_sales[1] - a1_sales[0], "support": a1_support[1] - a1_support[0]}
    assert totals(s, "a2") == {"support": a2_support[1] - a2_support[0]}
    assert by_interval(s, "sales") == split(*a1_sales)
    assert by_interval(s, "support") == merged(split(*a1_support), split(*a2_support))
    fresh = StatsCollector(r.config)
    for e in ev:
        fresh.apply(e)
    assert [fresh.buckets[k] for k in sorted(fresh.buckets, key=lambda k: (k[1], k[0]))] == s.intervals


@each_engine
def test_an_open_pause_counts_up_to_now_and_a_snapshot_changes_nothing():
    t0, first, second, t1 = 10.0, 40.0, 100.0, 130.0
    r = engine().from_config(CFG)
    r.member_pause(t0, "a1", "sales")
    r.advance(first)
    s1 = r.stats()
    assert totals(s1, "a1") == {"sales": first - t0} and by_interval(s1, "sales") == split(t0, first)
    r.advance(second)
    s2 = r.stats()
    assert totals(s2, "a1") == {"sales": second - t0} and by_interval(s2, "sales") == split(t0, second)
    assert totals(s1, "a1") == {"sales": first - t0}  # the first snapshot is a copy
    r.member_unpause(t1, "a1", "sales")
    r.advance(t1 + 1000.0)
    s3 = r.stats()
    assert totals(s3, "a1") == {"sales": t1 - t0} and by_interval(s3, "sales") == split(t0, t1)


@each_engine
def test_a_pause_across_interval_boundaries_is_split_and_creates_intervals_without_calls():
    t0, t1 = INTERVAL_S - 10.0, 2 * INTERVAL_S + 10.0
    r = engine().from_config(CFG)
    r.member_pause(t0, "a2", "support")
    r.member_unpause(t1, "a2", "support")
    s = r.stats()
    ivs = [iv for iv in s.intervals if iv.queue == "support"]
    assert [(iv.start_s, iv.paused_s) for iv in ivs] == [
        (0.0, INTERVAL_S - t0), (INTERVAL_S, INTERVAL_S), (2 * INTERVAL_S, t1 - 2 * INTERVAL_S)]
    assert sum(iv.paused_s for iv in ivs) == pytest.approx(t1 - t0)
    assert all(iv.offered == 0 and math.isnan(iv.service_level) and math.isnan(iv.asa_s) for iv in ivs)


@each_engine
def test_a_pause_in_an_interval_with_calls_joins_its_bucket():
    r = engine().from_config(CFG)
    r.agent_login(0.0, "a1", ready=True)
    r.call_arrive(5.0, "c1", "sales")
    r.member_pause(20.0, "a2", "sales")
    r.member_unpause(50.0, "a2", "sales")
    (iv,) = r.stats().intervals
    assert (iv.queue, iv.offered, iv.paused_s) == ("sales", 1, 30.0)


@each_engine
def test_pausing_and_unpausing_in_the_same_instant_counts_nothing():
    r = engine().from_config(CFG)
    r.member_pause(25.0, "a1", "sales")
    r.member_unpause(25.0, "a1", "sales")
    r.advance(200.0)
    s = r.stats()
    assert totals(s, "a1").get("sales", 0.0) == 0.0
    assert s.intervals == []


@each_engine
def test_a_pause_survives_a_pickle_of_the_router():
    t0, t1 = 10.0, 70.0
    r = engine().from_config(CFG)
    r.member_pause(t0, "a1", "sales")
    r2 = pickle.loads(pickle.dumps(r))
    r2.member_unpause(t1, "a1", "sales")
    assert totals(r2.stats(), "a1") == {"sales": t1 - t0}


def _as_before_pause_time(stats: StatsCollector) -> None:
    """Make ``stats`` look like a collector of a busyhour that did not count pause time."""
    del stats.__dict__["paused_since"]
    for tot in stats.agents.values():
        del tot.__dict__["paused_s"]
    for b in stats.buckets.values():
        b.__dict__.pop("paused_s", None)


@each_engine
def test_a_router_pickled_before_pause_time_was_counted_loads_and_counts_new_pauses():
    r = engine().from_config(CFG)
    events = r.agent_login(0.0, "a1", ready=True) + r.call_arrive(1.0, "c1", "sales")
    events += r.member_pause(10.0, "a2", "sales")  # open when pickled: the old collector never saw it start
    if isinstance(r, Router):  # a Router of that busyhour held a StatsCollector fed these events
        r._stats = StatsCollector(r.config)
        for e in events:
            r._stats.apply(e)
    _as_before_pause_time(r._stats)
    r2 = pickle.loads(pickle.dumps(r))
    r2.member_unpause(50.0, "a2", "sales")
    r2.member_pause(80.0, "a1", "support")
    r2.advance(110.0)
    s = r2.stats()
    assert totals(s, "a2") == {} and totals(s, "a1") == {"support": 110.0 - 80.0}
    assert by_interval(s, "sales") == {} and by_interval(s, "support") == split(80.0, 110.0)
    assert [(iv.queue, iv.offered) for iv in s.intervals if iv.queue == "sales"] == [("sales", 1)]


_RING_ENDS = (EventKind.OFFER_WITHDRAWN, EventKind.OFFER_EXPIRED, EventKind.OFFER_REJECTED)


class Driver:
    """The same random-ish operations on every router; keeps the seconds paused per (agent, queue),
    computed from the pauses that succeeded."""

    def __init__(self, routers, seed: int):
        self.routers, self.rng = routers, random.Random(seed)
        self.t, self.n = 0.0, 0
        self.ringing: list[tuple] = []  # (call, agent) offers ringing, from the first router's events
        self.connected: list = []
        self.open_at: dict[tuple, float] = {}
        self.closed: dict[tuple, float] = {}

    def paused(self) -> dict[tuple, float]:
        """Seconds paused per (agent, queue), open pauses up to the routers' clock."""
        out = dict(self.closed)
        for key, t0 in self.open_at.items():
            out[key] = out.get(key, 0.0) + self.routers[0].now - t0
        return out

    def run(self, steps: int) -> None:
        rng = self.rng
        for _ in range(steps):
            self.t += rng.choice((0.0, rng.uniform(0.0, 40.0)))
            a, q = rng.choice(("a1", "a2")), rng.choice(("sales", "support"))
            op = rng.choice(("login", "logout", "not_ready", "ready", "ready", "arrive", "arrive", "accept", "accept",
                             "release", "release", "pause", "unpause", "advance"))
            self.n += op == "arrive"
            args = {"login": ("agent_login", a), "logout": ("agent_logout", a),
                    "not_ready": ("agent_not_ready", a), "ready": ("agent_ready", a),
                    "arrive": ("call_arrive", f"c{self.n}", q),
                    "accept": ("offer_accept", *(rng.choice(self.ringing) if self.ringing else ("none", a))),
                    "release": ("call_release", rng.choice(self.connected) if self.connected else "none"),
                    "pause": ("member_pause", a, q), "unpause": ("member_unpause", a, q), "advance": ("advance",)}[op]
            outcomes = []
            for r in self.routers:
                try:
                    outcomes.append(getattr(r, args[0])(self.t, *args[1:]))
                except RouterError as exc:
                    outcomes.append(type(exc))
            assert len({o if isinstance(o, type) else "ok" for o in outcomes}) == 1, (op, args, outcomes)
            if isinstance(outcomes[0], list):
                self._saw(op, a, q, outcomes[0])

    def _saw(self, op: str, a: str, q: str, ev: list) -> None:
        for e in ev:
            if e.kind == EventKind.CALL_OFFERED:
                self.ringing.append((e.call_id, e.agent_id))
            elif e.kind in _RING_ENDS:
                self.ringing = [o for o in self.ringing if o != (e.call_id, e.agent_id)]
            if e.kind == EventKind.CALL_CONNECTED:
                self.ringing = [o for o in self.ringing if o[0] != e.call_id]
                self.connected.append(e.call_id)
            elif e.kind in (EventKind.CALL_ENDED, EventKind.CALL_TRANSFERRED):
                self.connected = [c for c in self.connected if c != e.call_id]
        if op == "pause":
            self.open_at[(a, q)] = self.t
        elif op == "unpause":
            self.closed[(a, q)] = self.closed.get((a, q), 0.0) + self.t - self.open_at.pop((a, q))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_both_engines_report_the_same_pause_figures(seed):
    routers = [Router.from_config(CFG), ReferenceRouter.from_config(CFG)]
    drive = Driver(routers, seed)
    for _ in range(4):  # compare at several points, pauses open and closed
        drive.run(60)
        fast, ref = (r.stats() for r in routers)
        assert fast == ref
        expected = drive.paused()
        for a in ("a1", "a2"):
            assert totals(ref, a) == pytest.approx({q: v for (b, q), v in expected.items() if b == a and v > 0})
        for q in ("sales", "support"):
            in_intervals = sum(iv.paused_s for iv in ref.intervals if iv.queue == q)
            assert in_intervals == pytest.approx(sum(v for (_, b), v in expected.items() if b == q))
    assert drive.closed and sum(drive.paused().values()) > 0  # the sequence paused and unpaused someone
    assert sum(iv.answered for iv in ref.intervals) > 0  # and calls were answered meanwhile


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_a_router_pickled_with_a_stats_collector_loads_with_the_same_figures(seed):
    """A Router of the busyhour that fed a StatsCollector one Event at a time (a server's old snapshot): after
    loading, its figures are the collector's, open states, pauses and calls in progress included, and the
    events after it count as they would have."""
    fast, ref = Router.from_config(CFG), ReferenceRouter.from_config(CFG)
    drive = Driver([fast, ref], seed)
    drive.run(80)
    old = pickle.loads(pickle.dumps(fast))
    old._stats = copy.deepcopy(ref._stats)  # the reference's collector was fed the same events
    loaded = pickle.loads(pickle.dumps(old))
    assert isinstance(loaded._stats, EventStats) and loaded.stats() == fast.stats() == ref.stats()
    drive.routers.append(loaded)
    for _ in range(3):
        drive.run(60)
        assert loaded.stats() == fast.stats() == ref.stats()
    assert sum(iv.answered for iv in ref.stats().intervals) > 0


def test_statistics_pickled_before_old_intervals_were_dropped_load_and_keep_the_default():
    """A Router pickled when its statistics kept every interval (two scalars in ``T_f``) loads, keeps the
    default number of intervals from then on, and counts on as a router that always did."""
    fast, ref = Router.from_config(CFG), ReferenceRouter.from_config(CFG)
    drive = Driver([fast, ref], 7)
    drive.run(60)
    old = pickle.loads(pickle.dumps(fast))
    old._stats._T = old._stats._T._replace(T_f=old._stats._T.T_f[:2].copy())
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded._stats._T.T_f.shape == (4,) and loaded._stats._T.T_f[2] == 96
    drive.routers.append(loaded)
    drive.run(60)
    assert loaded.stats() == fast.stats() == ref.stats()


# ----------------------------------------------------------------- the collector alone


def _view(now: float) -> SimpleNamespace:
    """What ``snapshot`` reads of a router, with no queues to show live."""
    return SimpleNamespace(now=now, _queues=[], _agents=SimpleNamespace(display=[]))


def _feed(stats: StatsCollector, *rows: tuple) -> None:
    """Events (time, kind, agent, queue), sequence-numbered from 1."""
    for seq, (t, kind, agent, queue) in enumerate(rows, 1):
        stats.apply(Event(seq, t, kind, None, agent, queue, "lunch" if kind == EventKind.MEMBER_PAUSED else "", 0.0))


def test_member_removed_ends_a_pause():
    t0, removed, t2, removed2, now = 10.0, 70.0, 100.0, 130.0, 500.0
    c = StatsCollector(parse_config(CFG))
    P, U, R = EventKind.MEMBER_PAUSED, EventKind.MEMBER_UNPAUSED, EventKind.MEMBER_REMOVED
    _feed(c, (t0, P, "a1", "sales"), (removed, R, "a1", "sales"),
          (removed + 5.0, U, "a1", "sales"),  # no pause left to end
          (90.0, R, "a2", "sales"),  # removed while not paused
          (t2, P, "a2", "support"), (removed2, R, "a2", "support"))
    s = c.snapshot(_view(now))
    assert totals(s, "a1") == {"sales": removed - t0}
    assert totals(s, "a2") == {"support": removed2 - t2}
    assert by_interval(s, "sales") == split(t0, removed)
    assert by_interval(s, "support") == split(t2, removed2)


def test_bad_pause_events_never_crash_and_count_nothing():
    c = StatsCollector(parse_config(CFG))
    P, U = EventKind.MEMBER_PAUSED, EventKind.MEMBER_UNPAUSED
    _feed(c, (1.0, P, "zz", "sales"), (1.0, P, "a1", "nope"), (1.0, P, "a1", None), (1.0, P, ["a1"], "sales"),
          (1.0, P, "a1", ("sales",)), (2.0, U, "zz", "sales"), (2.0, U, "a1", "nope"),
          (3.0, EventKind.MEMBER_ADDED, "a1", "sales"), (3.0, EventKind.MEMBER_UPDATED, "a1", "sales"),
          (4.0, P, "a2", "sales"), (math.nan, U, "a2", "sales"),  # ends the pause; its length is no number
          (5.0, P, "a2", "support"), (math.inf, U, "a2", "support"), (6.0, P, "a1", "support"))
    c.apply(Event(99, -math.inf, EventKind.MEMBER_UNPAUSED, None, "a1", "support", "", 0.0))
    s = c.snapshot(_view(100.0))
    assert all(t.paused_s == {} for t in s.agents) and s.intervals == []


def test_a_second_pause_event_keeps_the_first_start():
    c = StatsCollector(parse_config(CFG))
    P, U = EventKind.MEMBER_PAUSED, EventKind.MEMBER_UNPAUSED
    _feed(c, (10.0, P, "a1", "sales"), (30.0, P, "a1", "sales"), (70.0, U, "a1", "sales"))
    assert totals(c.snapshot(_view(70.0)), "a1") == {"sales": 60.0}


def test_a_collector_pickled_before_pause_time_was_counted_loads_and_works():
    c = StatsCollector(parse_config(CFG))
    P, U = EventKind.MEMBER_PAUSED, EventKind.MEMBER_UNPAUSED
    c.apply(Event(1, 5.0, EventKind.CALL_ARRIVED, "c1", None, "sales", "", 0.0))
    _feed(c, (10.0, P, "a2", "sales"))
    _as_before_pause_time(c)
    old = pickle.loads(pickle.dumps(c))
    assert old.paused_since == {} and all(t.paused_s == {} for t in old.agents.values())
    assert [(b.paused_s, dataclasses.asdict(b)["paused_s"]) for b in old.buckets.values()] == [(0.0, 0.0)]
    for seq, (t, kind, agent, queue) in enumerate([(50.0, U, "a2", "sales"), (80.0, P, "a1", "support"),
                                                    (110.0, U, "a1", "support")], 2):
        old.apply(Event(seq, t, kind, None, agent, queue, "", 0.0))
    s = old.snapshot(_view(200.0))
    assert totals(s, "a1") == {"support": 30.0} and totals(s, "a2") == {}
    assert by_interval(s, "support") == split(80.0, 110.0)
    (sales,) = [iv for iv in s.intervals if iv.queue == "sales"]
    assert (sales.offered, sales.paused_s) == (1, 0.0)
