"""The timer lanes (core_timers.py): ring timeouts and lock ends kept in deadline order beside the heap.

The parity suite (test_core_parity.py) drives the compiled core and the Python engine with random streams;
here the lanes are cut to four rows, so they fill, compact, shut and leave timers to the heap every few
operations. After every operation each lane must hold its kind's timers in (deadline, sequence) order, the
heap must be a heap, no sequence number may be held twice, and every ringing offer must have its ring timer
somewhere. A state pickled before the lanes existed (every timer in the heap) must load and go on as if it
had never been pickled.
"""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from busyhour.router import EventKind, ReferenceRouter
from busyhour.router.core_layout import (
    LANE_END, LANE_HEAD, LANE_SHUT, N_LANES, N_TM_I, O_TOKEN, S_NT, T_LOCK_END, T_RING, TARG, TKIND, TSEQ, TTOKEN,
)
from busyhour.router.fast import Router
from old_layout import without_lanes
from parity_steps import configs
from test_core_parity import _parity
from test_core_sweep import _heap_ok

LANE_KIND = (T_RING, T_LOCK_END)

# Offers left to ring out (long steps), answered, rejected; releases with wrap-up; breaks and logins.
STREAM = st.lists(st.tuples(st.sampled_from(["arrive", "arrive", "arrive", "accept", "accept", "reject", "release",
                                             "release", "abandon", "login", "logout", "ready", "not_ready",
                                             "advance", "transfer", "queue_update"]),
                            st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0, 5.0, 16.0]),
                            st.integers(0, 1 << 16), st.booleans()), min_size=40, max_size=150)


def _small_lanes(rows: int):
    def prepare(fast: Router) -> None:
        fast._S = fast._S._replace(TL_t=np.zeros((N_LANES, rows)),
                                   TL_i=np.zeros((N_LANES, rows, N_TM_I), dtype=np.int64),
                                   TL_p=np.zeros((N_LANES, 3), dtype=np.int64))
    return prepare


def _timers_kept(fast: Router) -> None:
    S = fast._S
    assert _heap_ok(fast)
    n = int(S.S_i[S_NT])
    seqs = [S.TM_i[:n, TSEQ]]
    ring = set()
    for lane in range(N_LANES):
        h, e, shut = (int(x) for x in S.TL_p[lane, [LANE_HEAD, LANE_END, LANE_SHUT]])
        assert 0 <= h <= e <= S.TL_t.shape[1], (lane, h, e)
        assert h < e or (h == e == 0 and not shut), (lane, h, e, shut)  # an empty lane starts again, open
        keys = list(zip(S.TL_t[lane, h:e].tolist(), S.TL_i[lane, h:e, TSEQ].tolist()))
        assert keys == sorted(keys), lane
        assert (S.TL_i[lane, h:e, TKIND] == LANE_KIND[lane]).all(), lane
        seqs.append(S.TL_i[lane, h:e, TSEQ])
        if lane == 0:
            ring = {(int(r), int(tok)) for r, tok in S.TL_i[lane, h:e][:, [TARG, TTOKEN]]}
    seqs = np.concatenate(seqs)
    assert np.unique(seqs).size == seqs.size  # no timer held twice
    heap_ring = S.TM_i[:n][S.TM_i[:n, TKIND] == T_RING]
    ring |= {(int(r), int(tok)) for r, tok in heap_ring[:, [TARG, TTOKEN]]}
    for r in np.flatnonzero(S.OF[:, O_TOKEN] != 0).tolist():  # every ringing offer can still expire
        assert (r, int(S.OF[r, O_TOKEN])) in ring, r


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), ops=STREAM)
def test_lanes_that_fill_compact_and_shut_fire_what_the_python_engine_fires(cfg, ops):
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops, prepare=_small_lanes(4),
            check=_timers_kept)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), ops=STREAM, adds=st.lists(st.integers(0, 149), min_size=1, max_size=3))
def test_lanes_that_grow_with_the_floor_mid_stream_fire_what_the_python_engine_fires(cfg, ops, adds):
    """Agents added part way, each right after an arrival, so the lanes mostly hold timers then (they grow from
    four rows to the floor's room, keeping them)."""
    arrivals = [j for j, o in enumerate(ops) if o[0] == "arrive"] or [len(ops) - 1]
    for i in sorted({arrivals[i % len(arrivals)] for i in adds}, reverse=True):
        ops.insert(i + 1, ("agent_add", 0.0, i + 1, False))
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops, prepare=_small_lanes(4),
            check=_timers_kept)


CFG = {"agents": [{"id": f"a{i}"} for i in range(8)],
       "queues": [{"name": "long", "members": [f"a{i}" for i in range(8)], "ring_timeout_s": 30.0, "wrap_up_s": 5.0},
                  {"name": "short", "members": [f"a{i}" for i in range(8)], "ring_timeout_s": 10.0,
                   "wrap_up_s": 1.0}]}


def _offers(routers, t: float, call: int, queue: str) -> list:
    out = [r.call_arrive(t, call, queue) for r in routers]
    assert all(o == out[0] for o in out[1:])
    return [e.agent_id for e in out[0] if e.kind == EventKind.CALL_OFFERED]


def test_a_full_lane_shuts_its_timers_go_to_the_heap_and_it_opens_again_once_empty():
    ref, big, small = ReferenceRouter.from_config(CFG), Router.from_config(CFG), Router.from_config(CFG)
    _small_lanes(4)(small)
    for r in (ref, big, small):
        for i in range(8):
            r.agent_login(0.0, f"a{i}", ready=True)
    for c in range(1, 7):  # six offers nobody answers: four fill the lane, none is void, so it shuts
        _offers((ref, big, small), float(c), c, "long")
    S = small._S
    assert S.TL_p[0, LANE_SHUT] == 1 and S.TL_p[0, LANE_END] - S.TL_p[0, LANE_HEAD] == 4
    assert S.S_i[S_NT] >= 2 and (S.TM_i[:S.S_i[S_NT], TKIND] == T_RING).sum() == 2
    assert big._S.TL_p[0, LANE_END] == 6 and not big._S.TL_p[0, LANE_SHUT]
    out = [r.advance(60.0) for r in (ref, big, small)]  # every offer rings out, in the order made
    assert out[1] == out[0] and out[2] == out[0]
    assert [e.call_id for e in out[0] if e.kind == EventKind.OFFER_EXPIRED][:6] == [1, 2, 3, 4, 5, 6]
    assert S.TL_p[0, LANE_SHUT] == 0  # it emptied (the calls ring other agents now)
    for c in range(1, 7):
        out = [r.call_abandon(70.0, c) for r in (ref, big, small)]
        assert out[1] == out[0] and out[2] == out[0]
    out = [r.advance(200.0) for r in (ref, big, small)]
    assert out[1] == out[0] and out[2] == out[0]
    assert tuple(S.TL_p[0].tolist()) == (0, 0, 0)  # emptied: open, from its first row
    _offers((ref, big, small), 201.0, 7, "long")
    assert S.TL_p[0, LANE_END] == 1


def test_lanes_grow_with_the_floor_and_keep_their_timers_in_order():
    ref, fast = ReferenceRouter.from_config(CFG), Router.from_config(CFG)
    _small_lanes(4)(fast)
    for r in (ref, fast):
        for i in range(8):
            r.agent_login(0.0, f"a{i}", ready=True)
    for c in range(1, 7):  # the lane fills and shuts, as above
        _offers((ref, fast), float(c), c, "long")
    S = fast._S
    assert S.TL_p[0, LANE_SHUT] == 1
    kept = S.TL_t[0, S.TL_p[0, LANE_HEAD]:S.TL_p[0, LANE_END]].tolist()
    out = [r.agent_add(7.0, {"id": "a8"}) for r in (ref, fast)]
    assert out[1] == out[0]
    S = fast._S
    assert S.TL_t.shape[1] == 256 and tuple(S.TL_p[0].tolist()) == (0, len(kept), 0)  # open again, same timers
    assert S.TL_t[0, :len(kept)].tolist() == kept
    _timers_kept(fast)
    for r in (ref, fast):
        r.member_add(8.0, "a8", "long")
        r.agent_login(8.0, "a8", ready=True)
    _offers((ref, fast), 9.0, 7, "long")
    out = [r.advance(60.0) for r in (ref, fast)]
    assert out[1] == out[0]
    _timers_kept(fast)


def test_a_timer_due_before_the_lanes_last_goes_to_the_heap_and_fires_first():
    ref, fast = ReferenceRouter.from_config(CFG), Router.from_config(CFG)
    for r in (ref, fast):
        for i in range(2):
            r.agent_login(0.0, f"a{i}", ready=True)
    _offers((ref, fast), 0.0, 1, "long")  # rings out at 30 s: the lane
    n = int(fast._S.S_i[S_NT])
    _offers((ref, fast), 1.0, 2, "short")  # rings out at 11 s, before the lane's last: the heap
    S = fast._S
    assert S.TL_p[0, LANE_END] - S.TL_p[0, LANE_HEAD] == 1 and S.S_i[S_NT] == n + 1
    out = [r.advance(40.0) for r in (ref, fast)]
    assert out[1] == out[0]
    expired = [e.call_id for e in out[0] if e.kind == EventKind.OFFER_EXPIRED]
    assert expired[0] == 2 and 1 in expired  # the heap's timer first, then the lane's


def test_a_state_pickled_before_the_lanes_loads_and_goes_on_the_same():
    ref, old = Router.from_config(CFG), Router.from_config(CFG)
    for r in (ref, old):
        for i in range(8):
            r.agent_login(0.0, f"a{i}", ready=True)
        for c in range(1, 6):
            agents = [e.agent_id for e in r.call_arrive(float(c), c, "long" if c % 2 else "short")
                      if e.kind == EventKind.CALL_OFFERED]
            if c <= 3:
                r.offer_accept(c + 0.5, c, agents[0])
        r.call_release(8.0, 1)  # a wrap-up: a lock end
    assert (old._S.TL_p[:, LANE_END] > 0).all()
    old._S = without_lanes(old._S)  # every timer in the heap, no lanes
    loaded = pickle.loads(pickle.dumps(old))
    assert loaded._S.TL_p is not None and (loaded._S.TL_p == 0).all()
    assert loaded._S.S_i[S_NT] == old._S.S_i[S_NT]
    _timers_kept(loaded)

    def rest(r: Router) -> list:
        ev = r.advance(9.0)
        for c in range(10, 16):
            ev += r.call_arrive(10.0 + c, c, "long" if c % 2 else "short")
        return ev + r.advance(90.0)

    assert rest(loaded) == rest(ref)
