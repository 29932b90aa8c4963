"""The per-call methods leave up to FEED_ROWS event rows for the statistics to read in one call
(router/fast_events.py): whatever reads the statistics, or changes what they count by, sees every event
first. Both engines get the same operations; their statistics must be equal."""

from __future__ import annotations

import pickle

import pytest

from busyhour.router import ReferenceRouter, Router
from busyhour.router.fast_events import FEED_ROWS

CFG = {"agents": [{"id": "a1"}], "interval_s": 3600.0,
       "queues": [{"name": "q", "members": ["a1"], "sl_threshold_s": 20.0}]}


def _both():
    return Router.from_config(CFG), ReferenceRouter.from_config(CFG)


def _answer_after(r, t: float, call: int, wait_s: float) -> float:
    """Call ``call`` arrives at ``t`` while a1 is not ready, is answered ``wait_s`` later and released."""
    r.call_arrive(t, call, "q")
    r.agent_ready(t + wait_s, "a1")
    r.offer_accept(t + wait_s, call, "a1")
    r.call_release(t + wait_s + 5.0, call)
    r.agent_not_ready(t + wait_s + 5.0, "a1")
    return t + wait_s + 5.0


def test_a_threshold_change_counts_the_calls_before_it_by_the_old_threshold():
    fast, ref = _both()
    for r in (fast, ref):
        r.agent_login(0.0, "a1")
        t = _answer_after(r, 1.0, 1, 30.0)  # outside 20 s, inside 60 s
        r.queue_update(t, "q", sl_threshold_s=60.0)
        _answer_after(r, t + 1.0, 2, 30.0)  # inside 60 s
    (iv,) = fast.stats().intervals
    assert (iv.answered, iv.answered_within) == (2, 1)
    assert fast.stats() == ref.stats()


def test_rows_left_for_the_statistics_survive_a_pickle_and_are_read_once():
    fast, ref = _both()
    for r in (fast, ref):
        r.agent_login(0.0, "a1")
        _answer_after(r, 1.0, 1, 10.0)
    assert 0 < fast._unfed < FEED_ROWS  # the case under test: rows not yet read
    loaded = pickle.loads(pickle.dumps(fast))
    assert loaded._unfed == fast._unfed
    for r in (loaded, ref):
        _answer_after(r, 100.0, 2, 25.0)
    assert loaded.stats() == ref.stats()
    assert loaded.stats() == ref.stats()  # reading them again adds nothing
    (iv,) = loaded.stats().intervals
    assert (iv.offered, iv.answered, iv.answered_within) == (2, 2, 1)


@pytest.mark.parametrize("calls", [FEED_ROWS // 8, FEED_ROWS])  # fewer rows than FEED_ROWS, and several feeds
def test_statistics_equal_the_reference_however_many_rows_were_left(calls):
    fast, ref = _both()
    for r in (fast, ref):
        r.agent_login(0.0, "a1", ready=True)
        t = 1.0
        for c in range(calls):
            r.call_arrive(t, c, "q")
            r.offer_accept(t, c, "a1")
            r.call_release(t + 3.0, c)
            t += 4.0
    assert fast._unfed < FEED_ROWS
    assert fast.stats() == ref.stats()
    assert fast.stats().intervals[0].handled == calls
