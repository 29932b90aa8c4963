"""A server snapshot of the compiled engine from when it fed a StatsCollector of its own (with the protocol's
call ids) loads with the same statistics, and counts the events after it as the engine that never stopped.

Calls in progress at the snapshot (string ids, mapped to core ids by the engine) keep the interval they
arrived in: their answers and ends after the load count there.
"""

from __future__ import annotations

import pickle

from busyhour.router import parse_config
from busyhour.router.server.compiled import CompiledEngine
from busyhour.router.server.host import as_event
from busyhour.router.stats import StatsCollector
from busyhour.router.stats_arrays import EventStats

CONFIG = parse_config({"interval_s": 30.0,
                       "agents": [{"id": "a1"}, {"id": "a2"}, {"id": "a3"}],
                       "queues": [{"name": "sales", "members": ["a1", "a2"], "wrap_up_s": 4, "sl_threshold_s": 5},
                                  {"name": "support", "members": ["a2", "a3"]}]})


def _ops(engines, now: float, cmds: list[tuple[str, dict]]) -> list:
    results = [e.apply(now, cmds) for e in engines]
    first = [(ev, type(exc)) for ev, exc in results[0]]
    for r in results[1:]:
        assert [(ev, type(exc)) for ev, exc in r] == first
    return [[as_event(r) for r in ev] for ev, _ in results[0]]  # the engines give wire rows


def test_an_engine_pickled_with_its_own_stats_collector_loads_with_the_same_figures():
    live = CompiledEngine(CONFIG)
    events = []
    for evs in _ops([live], 0.0, [("login", {"agent": a, "ready": True}) for a in ("a1", "a2", "a3")]):
        events += evs
    for evs in _ops([live], 1.0, [("arrive", {"call": f"c{i}", "queue": q}) for i, q in
                                 enumerate(["sales", "sales", "support", "sales", "support"])]):
        events += evs
    for evs in _ops([live], 3.0, [("accept", {"call": "c0", "agent": "a1"}), ("not_ready", {"agent": "a3",
                                                                                             "reason": "lunch"})]):
        events += evs
    old = pickle.loads(pickle.dumps(live))
    collector = StatsCollector(CONFIG)  # what the engine of that busyhour fed, one Event at a time
    for e in events:
        collector.apply(e)
    old._stats = old.fr._stats = collector
    loaded = pickle.loads(pickle.dumps(old))
    assert isinstance(loaded.fr._stats, EventStats) and "_stats" not in loaded.__dict__
    assert loaded.stats() == live.stats()
    ringing = [(c.call, c.ringing[0]) for c in live.live_calls() if c.ringing]
    assert ringing  # calls in progress at the snapshot, answered after it
    _ops([live, loaded], 40.0, [("release", {"call": "c0"})] + [
        ("accept", {"call": c, "agent": a}) for c, a in ringing])
    _ops([live, loaded], 70.0, [("abandon", {"call": f"c{i}"}) for i in range(5)] + [("ready", {"agent": "a3"})])
    s = live.stats()
    assert loaded.stats() == s
    assert sum(iv.offered for iv in s.intervals) == 5 and sum(iv.handled for iv in s.intervals) >= 1
    assert any(t.not_ready_s for t in s.agents) and sum(iv.acw_s for iv in s.intervals) > 0
