"""The call-id table through many calls: ended ids leave tombstones, and a rehash must keep every live call.

An ended call's row stays dead until a new id's search passes it, which
ids that only grow never do: the table is rebuilt (core_build.grow)
whenever used rows reach half of it, in place when its size is enough for
the live calls, into a larger table otherwise.
"""

from __future__ import annotations

import numpy as np

from busyhour.router.core_layout import (
    ERR_UNKNOWN_CALL, H_EMPTY, H_TOMB, OK, OP_ABANDON, OP_ARRIVE, OP_DTYPE, S_HUSED,
)
from busyhour.router.fast import Router

CFG = {"skills": ["s"], "agents": [{"id": "a", "skills": {"s": 1}}], "queues": [{"name": "q", "members": ["a"]}]}


def _rows(op: int, t_s: float, calls: np.ndarray) -> np.ndarray:
    ops = np.zeros(calls.size, dtype=OP_DTYPE)
    ops["op"], ops["time_s"], ops["call"], ops["agent"] = op, t_s, calls, -1
    return ops


def test_calls_stay_found_through_rehashes_in_place_and_into_a_larger_table():
    r = Router.from_config(CFG, calls=16)  # nobody logged in: every call waits until abandoned
    size0 = r._S.HK.shape[0]
    live = np.empty(0, dtype=np.int64)
    next_id, rehashes, last_used, sizes = 1, 0, 0, set()
    for step in range(1000):
        n_new = 40 if step < 60 else 25  # the floor fills first (the table grows), then holds ~1,000 calls
        new = np.arange(next_id, next_id + n_new, dtype=np.int64)
        new[::5] *= 7919  # most ids consecutive (their rows never reused), some spread over the table
        next_id += n_new
        gone, live = live[:25 if step >= 20 else 0], np.concatenate([live, new])[25 if step >= 20 else 0:]
        ops = np.concatenate([_rows(OP_ABANDON, float(step), gone), _rows(OP_ARRIVE, float(step), new)])
        res = r.submit(ops)
        assert (res.status == OK).all(), r.describe(ops, res.status)[:3]
        used = int(r._S.S_i[S_HUSED])
        rehashes += used < last_used
        last_used = used
        sizes.add(r._S.HK.shape[0])
        HK = r._S.HK
        assert int(((HK != H_EMPTY) & (HK != H_TOMB)).sum()) == live.size
    assert rehashes >= 5 and len(sizes) >= 2 and max(sizes) > size0  # grew, then rebuilt at the same size
    late = r.submit(_rows(OP_ABANDON, 1e4, np.array([7919, 2, 7919 * 31], dtype=np.int64)))
    assert (late.status == ERR_UNKNOWN_CALL).all()  # long ended: not found after the rebuilds
    res = r.submit(_rows(OP_ABANDON, 1e4, live))
    assert (res.status == OK).all() and r.counts == (next_id - 1, next_id - 1)
