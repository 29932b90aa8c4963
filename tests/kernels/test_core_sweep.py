"""Void timers swept out of the compiled core's timer heap (core_timers.sweep).

A max-wait timer is void once its call is answered, but it stays in the heap
until it reaches the top, unless a sweep drops it first (ring timeouts and
wrap-up ends are kept in lanes beside the heap: test_core_lanes.py). Sweeping changes
which rows the heap holds, never what fires or when: a router that sweeps
at every doubling of its heap and one that never sweeps must give the same
events, and the heap must stay a heap. (The parity suites sweep too: their
compiled router sweeps from the first timer, test_core_parity._parity.)
"""

from __future__ import annotations

import numpy as np
import pytest

from busyhour.router import EventKind
from busyhour.router.core_layout import (
    OK, OP_ACCEPT, OP_ADVANCE, OP_ARRIVE, OP_DTYPE, OP_LOGIN, OP_RELEASE, S_NT, S_TM_SWEEP,
    S_TM_SWEEP_MIN, TSEQ,
)
from busyhour.router.core_timers import SWEEP_MIN
from busyhour.router.fast import Router

AGENTS = 12
CFG = {"skills": ["s"], "agents": [{"id": f"a{i}", "skills": {"s": 1}} for i in range(AGENTS)],
       "queues": [{"name": "q", "members": [f"a{i}" for i in range(AGENTS)], "wrap_up_s": 5.0,
                   "ring_timeout_s": 30.0, "max_wait_s": 120.0}]}


def _router(sweep_min: int) -> Router:
    r = Router.from_config(CFG, calls=16)
    r._S.S_i[S_TM_SWEEP_MIN] = sweep_min
    login = np.zeros(AGENTS, dtype=OP_DTYPE)
    login["op"], login["agent"], login["arg"], login["queue"] = OP_LOGIN, np.arange(AGENTS), 1.0, -1
    assert (r.submit(login).status == OK).all()
    return r


def _heap_ok(r: Router) -> bool:
    """Every parent's (deadline, sequence) is below its children's."""
    S = r._S
    n = int(S.S_i[S_NT])
    keys = list(zip(S.TM_t[:n].tolist(), S.TM_i[:n, TSEQ].tolist()))
    return all(keys[(i - 1) // 2] < keys[i] for i in range(1, n))


def _lifecycles(r: Router, rounds: int, rng: np.random.Generator) -> list:
    """Calls arrive, are answered a moment after they are offered (within the ring timeout), talk and end. The
    events and statuses of every round, and the heap's size after it (a heap after every round)."""
    t, call, talking, offered, out = 0.0, 0, [], [], []
    for _ in range(rounds):
        rows = [(OP_ACCEPT, t, c, a, -1, 0, 0.0) for c, a in offered]
        for _ in range(min(len(talking), 3)):  # the floor keeps up: few calls wait
            rows.append((OP_RELEASE, t, talking.pop(0), -1, -1, 0, np.nan))
        for _ in range(int(rng.integers(1, 3))):
            call += 1
            rows.append((OP_ARRIVE, t, call, -1, 0, 0, 0.0))
        res = r.submit(np.array(rows, dtype=OP_DTYPE))
        t += float(rng.choice([0.1, 0.4, 1.0, 3.0]))
        res2 = r.submit(np.array([(OP_ADVANCE, t, 0, -1, -1, 0, 0.0)], dtype=OP_DTYPE))
        ev = np.concatenate([res.events, res2.events])
        offers = ev[ev["kind"] == EventKind.CALL_OFFERED]
        offered = list(zip(offers["call"].tolist(), offers["agent"].tolist()))
        talking += ev["call"][ev["kind"] == EventKind.CALL_CONNECTED].tolist()
        assert _heap_ok(r)
        out.append((r.to_events(res.events), r.to_events(res2.events), list(res.status), list(res2.status),
                    int(r._S.S_i[S_NT])))
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sweeping_changes_no_event_and_keeps_the_heap_small(seed):
    never = _router(1 << 62)
    always = _router(1)  # sweeps whenever the heap has doubled since the last sweep
    a = _lifecycles(never, 400, np.random.default_rng(seed))
    b = _lifecycles(always, 400, np.random.default_rng(seed))
    assert [x[:4] for x in a] == [x[:4] for x in b]  # the same events and statuses, round by round
    assert never.next_deadline() == always.next_deadline() and never.counts == always.counts
    # every answered call leaves a void 120 s max-wait timer behind: never swept, they pile up until due;
    # swept, they go
    held_never, held_swept = [x[4] for x in a], [x[4] for x in b]
    assert max(held_swept) < max(held_never) / 2 and sum(held_swept) < sum(held_never) / 2
    assert always._S.S_i[S_TM_SWEEP] >= 2  # it did sweep (the threshold moved off 0)


def test_by_default_a_sweep_waits_for_sweep_min_rows():
    r = _router(0)  # 0: the default minimum
    _lifecycles(r, 50, np.random.default_rng(4))
    assert r._S.S_i[S_TM_SWEEP] == SWEEP_MIN and r._S.S_i[S_NT] < SWEEP_MIN
