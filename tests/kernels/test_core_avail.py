"""Each queue's available members (core_avail.py): the longest idle's in-order lists and the other keys' heaps.

The parity suite (test_core_parity.py) drives the compiled core and the Python engine with random streams;
here the segments are cut to the fewest rows they can work in (one more than the queue's members), so every
few additions compact them, and after every operation the segments must hold exactly the available members,
in order (list) or as a heap, with ``CoreState.AV`` in step with each agent's display state. A state pickled
before the lists and ``AV`` existed must load and go on as if it had never been pickled.
"""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from busyhour.router import EventKind
from busyhour.router.core_layout import (
    AH_CAP, AH_HEAD, AH_LEN, AH_OFF, DISP_AVAILABLE, DISPLAY, IDLE_RANK, KEYKIND, N_Q_I, QM_AGENT, SCAN,
)
from busyhour.router.fast import Router
from parity_steps import configs
from old_layout import without_lanes
from test_core_parity import _parity

# Availability churn: answers, releases with wrap-up, breaks, logins; strategy and membership changes rebuild.
CHURN = st.lists(st.tuples(st.sampled_from(["arrive", "arrive", "arrive", "accept", "accept", "accept", "reject",
                                            "release", "release", "release", "abandon", "login", "logout", "ready",
                                            "ready", "not_ready", "not_ready", "advance", "pause", "unpause",
                                            "transfer", "queue_update", "member_add", "member_remove"]),
                           st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 4.0]),
                           st.integers(0, 1 << 16), st.booleans()), min_size=40, max_size=150)


def _tight(fast: Router) -> None:
    """Each queue's segment cut to its members + 1 rows: the fewest a compaction needs (one current entry a
    member, then the one being added)."""
    S = fast._S
    S.Q_i[:, AH_CAP] = np.minimum(S.Q_i[:, AH_CAP], np.diff(S.QM_ptr) + 1)


def _segments_hold_the_available_members(fast: Router) -> None:
    S = fast._S
    available = S.A_i[:, DISPLAY] == DISP_AVAILABLE
    assert np.array_equal(np.isnan(S.AV), ~available)
    assert np.array_equal(S.AV[available], S.A_f[available, IDLE_RANK])
    for q in range(S.Q_i.shape[0]):
        if S.Q_i[q, SCAN]:
            continue
        off, n, cap = int(S.Q_i[q, AH_OFF]), int(S.Q_i[q, AH_LEN]), int(S.Q_i[q, AH_CAP])
        start = off + int(S.Q_i[q, AH_HEAD])
        assert off <= start and start + n <= off + cap, (q, start - off, n, cap)
        rows = np.arange(start, start + n)
        key, rank, agent = S.AH_f[rows, 0], S.AH_f[rows, 1], S.AH_i[rows, 0]
        if S.Q_i[q, KEYKIND] == 0:  # the longest idle: a list in the order the agents became available
            assert np.all(np.diff(rank) > 0) and np.all(key == 0.0), (q, rank)
        else:  # a heap on (key, rank) from the segment's start
            assert start == off
            for i in range(1, n):
                p = (i - 1) // 2
                assert (key[p], rank[p]) < (key[i], rank[i]), (q, i)
        current = agent[S.AV[agent] == rank]
        members = S.QM[S.QM_ptr[q]:S.QM_ptr[q + 1], QM_AGENT]
        assert sorted(current.tolist()) == sorted(members[available[members]].tolist()), q


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(strategies=("longest-idle-agent",)), ops=CHURN)
def test_in_order_lists_compacted_often_pick_what_the_python_engine_picks(cfg, ops):
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops, prepare=_tight,
            check=_segments_hold_the_available_members)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(strategies=("longest-idle-agent", "agent-with-fewest-calls", "agent-with-least-talk-time",
                               "most-skilled-first")), ops=CHURN)
def test_lists_and_heaps_side_by_side(cfg, ops):
    """Queues of either kind share agents; ``queue_update`` switches a queue between them (its segment
    rebuilt)."""
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops, prepare=_tight,
            check=_segments_hold_the_available_members)


def _floor(r: Router) -> None:
    for i in range(6):
        r.agent_login(0.0, f"a{i}", ready=True)
    for c in range(1, 5):  # four agents busy, then back one by one: the lists hold the rest in idle order
        offered = [e.agent_id for e in r.call_arrive(float(c), c, "q") if e.kind == EventKind.CALL_OFFERED]
        r.offer_accept(c + 0.5, c, offered[0])
    for k, c in enumerate((3, 1, 4)):
        r.call_release(6.0 + k, c)


def test_a_state_pickled_before_the_lists_loads_and_goes_on_the_same():
    cfg = {"agents": [{"id": f"a{i}"} for i in range(6)],
           "queues": [{"name": "q", "members": [f"a{i}" for i in range(6)], "wrap_up_s": 0.0},
                      {"name": "p", "members": [f"a{i}" for i in range(0, 6, 2)], "wrap_up_s": 0.0}]}
    ref, old = Router.from_config(cfg), Router.from_config(cfg)
    _floor(ref)
    _floor(old)
    S = old._S
    for q in range(S.Q_i.shape[0]):  # each list as the heap it was: from the segment's start, not in order
        off, n = int(S.Q_i[q, AH_OFF]), int(S.Q_i[q, AH_LEN])
        order = np.arange(n) + off + int(S.Q_i[q, AH_HEAD])
        if n >= 3:
            order[1], order[2] = order[2], order[1]  # still a heap on (0, rank)
        S.AH_f[off:off + n], S.AH_i[off:off + n] = S.AH_f[order], S.AH_i[order]
    assert S.Q_i[0, AH_HEAD] > 0 and S.Q_i[0, AH_LEN] >= 3
    old._S = without_lanes(S)._replace(AV=None, Q_i=S.Q_i[:, :N_Q_I - 1].copy())  # the layout before them
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded._S.Q_i.shape == ref._S.Q_i.shape
    np.testing.assert_array_equal(loaded._S.AV, ref._S.AV)
    _segments_hold_the_available_members(loaded)

    def rest(r: Router) -> list:
        ev = []
        for c in range(10, 16):
            ev += r.call_arrive(20.0 + c, c, "q" if c % 3 else "p")
        return ev + r.advance(60.0)

    assert rest(loaded) == rest(ref)
