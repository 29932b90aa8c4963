"""The fault soak, small: a few thousand calls while ``busyhour serve`` is SIGKILLed twice (bench/soak.py).

Invariants checked (on the server's whole event history and final snapshot):

1. Every call that arrived ended exactly once (``lost_calls`` 0), also the
   calls whose requests were cut by a kill and resent after the restart.
2. No resend was applied twice (``duplicates_applied`` 0).
3. No agent talked to two calls at once (``double_booked`` 0).
4. No agent is left RESERVED or BUSY once the load has drained.
5. The clients saw no failure: every request answered ok, every release
   freed its agent, every arrived call connected.
6. A fresh replay of the journal gives the state and statistics the live
   server had (``replay_matches``).
"""

from __future__ import annotations

from busyhour.bench.soak import run


def test_small_soak_two_kills():
    r = run(3_000, 2, frames="single", generators=2, agents=100, queues=4, garbage_share=0.01, max_seconds=45.0,
            seed=7)
    assert r.kills == 2
    assert r.calls == 3_000 and r.acknowledged_calls == 3_000 and r.unfinished == 0
    assert (r.lost_calls, r.duplicates_applied, r.double_booked, r.stuck_agents) == (0, 0, 0, 0)
    assert r.ratios == {"processing_failure": 0.0, "premature_release": 0.0, "release_failure": 0.0,
                        "connection": 1.0}
    assert r.replay_matches
    assert r.resends > 0 and r.garbage_frames > 0  # the faults really happened


def test_audit_finds_each_fault_class():
    """The soak's audit is able to fail: a lost call, a resend applied twice, an agent on two calls."""
    from busyhour.bench.soak import audit
    from busyhour.client import Event

    def e(seq, kind, call=None, agent=None):
        return Event(seq, float(seq), kind, call, agent, "q", "", 0.0)

    history = [e(1, "CALL_ARRIVED", 1), e(2, "CALL_CONNECTED", 1, "a1"), e(3, "CALL_ENDED", 1, "a1"),  # fine
               e(4, "CALL_ARRIVED", 2), e(5, "CALL_ARRIVED", 2), e(6, "CALL_ENDED", 2),  # applied twice
               e(7, "CALL_ARRIVED", 3),  # never ended: lost
               e(8, "CALL_ARRIVED", 4), e(9, "CALL_CONNECTED", 4, "a2"), e(10, "CALL_ARRIVED", 5),
               e(11, "CALL_CONNECTED", 5, "a2"), e(12, "CALL_ENDED", 4, "a2"), e(13, "CALL_ENDED", 5, "a2")]
    found = audit(iter(history), acked={1, 2, 4, 5, 6})  # 6: acknowledged but not in the history: lost
    assert found == {"calls": 5, "events": 13, "lost_calls": 2, "duplicates_applied": 1, "double_booked": 1}


def test_a_long_history_is_audited_from_the_whole_journal(monkeypatch):
    """Beyond PAGED_HISTORY_EVENTS the audit reads the replay of the journal the server kept whole."""
    import busyhour.bench.soak as soak

    monkeypatch.setattr(soak, "PAGED_HISTORY_EVENTS", 0)
    r = run(1_000, 1, frames="batched", generators=1, agents=50, queues=2, garbage_share=0.0, max_seconds=30.0,
            seed=3)
    assert r.kills == 1 and r.replay_from_record == 0 and r.replay_matches
    assert r.calls == 1_000 and r.acknowledged_calls == 1_000 and r.events >= 7 * 1_000
    assert (r.lost_calls, r.duplicates_applied, r.double_booked, r.stuck_agents) == (0, 0, 0, 0)
