"""What a batch asks for ahead of its rows (router/core_prefetch.py): hints that never read outside a table.

Runs compiled and with ``NUMBA_DISABLE_JIT=1``. Without the JIT the kernels are
Python over numpy arrays, so a read past a table's end raises ``IndexError``
and a negative index reads from the end, which the kernels must never do: the
property test below fails on either (``_Strict``). Compiled, the same walk
must not crash, and tests/router/test_core_index.py runs the batch fuzz with
every index checked. A batch's results with the hints are the reference's
(the parity suite); here, a batch is also compared with the same rows applied
one at a time, where no row has rows after it to look ahead at.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba.core import config

from busyhour.router import EventKind
from busyhour.router.core_jit import entry
from busyhour.router.core_layout import (
    NO_ID, OK, OP_ABANDON, OP_ACCEPT, OP_ARRIVE, OP_DTYPE, OP_LOGIN, OP_REJECT, OP_RELEASE, OP_TRANSFER,
)
from busyhour.router.core_prefetch import prefetch_ahead
from busyhour.router.core_ref import state_ref
from busyhour.router.fast import Router

AGENTS = 6
OFFERED = int(EventKind.CALL_OFFERED)
CFG = {"skills": ["s"], "agents": [{"id": f"a{i}", "skills": {"s": 1}} for i in range(AGENTS)],
       "queues": [{"name": f"q{k}", "members": [f"a{i}" for i in range(AGENTS) if i % 3 != k], "wrap_up_s": 1.0}
                  for k in range(3)]}
OPS = [OP_ARRIVE, OP_ACCEPT, OP_REJECT, OP_RELEASE, OP_ABANDON, OP_TRANSFER, 0, 99, -5]


@entry
def _walk(S, ops):
    """:func:`prefetch_ahead` before every row, as the batch loop calls it; the rows looked at."""
    R = state_ref(S)
    for i in range(ops.shape[0]):
        prefetch_ahead(R, ops, i)
    return ops.shape[0]


class _Strict(np.ndarray):
    """An array that refuses a negative index (numpy would read from the end): what the compiled core's
    indexing without wraparound would read out of bounds."""

    def __getitem__(self, key):
        keys = key if isinstance(key, tuple) else (key,)
        for k in keys:
            if isinstance(k, (int, np.integer)) and k < 0:
                raise IndexError(f"negative index {k}")
        return super().__getitem__(key)


def _busy_router() -> Router:
    """A floor with calls 1 to 9 waiting, ringing and connected."""
    r = Router.from_config(CFG, calls=16)
    rows = [(OP_LOGIN, 0.0, 0, a, -1, 0, 1.0) for a in range(AGENTS)]
    rows += [(OP_ARRIVE, 1.0, c, -1, c % 3, 0, 0.0) for c in range(1, 10)]
    res = r.submit(np.array(rows, dtype=OP_DTYPE))
    assert (res.status == OK).all()
    offered = res.events[res.events["kind"] == OFFERED]
    answers = [(OP_ACCEPT, 2.0, int(e["call"]), int(e["agent"]), -1, 0, 0.0) for e in offered[:3]]
    assert (r.submit(np.array(answers, dtype=OP_DTYPE)).status == OK).all()
    return r


_ROW = st.tuples(st.sampled_from(OPS), st.integers(-3, 14) | st.sampled_from([NO_ID, NO_ID + 1, 2 ** 62]),
                 st.integers(-3, AGENTS + 3), st.integers(-3, 5))


@settings(max_examples=60, deadline=None)
@given(st.lists(_ROW, min_size=1, max_size=12))
def test_looking_ahead_at_any_rows_reads_only_inside_the_tables(rows):
    r = _busy_router()
    ops = np.array([(op, 3.0, call, agent, queue, 0, 0.0) for op, call, agent, queue in rows], dtype=OP_DTYPE)
    S = r._S
    if config.DISABLE_JIT:
        S = S._replace(**{f: getattr(S, f).view(_Strict) for f in S._fields
                          if isinstance(getattr(S, f), np.ndarray)})
    before = [a.copy() for a in S if isinstance(a, np.ndarray)]
    assert _walk(S, ops) == len(rows)
    after = [a for a in S if isinstance(a, np.ndarray)]
    assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(before, after)), "a hint changed the state"


def test_a_batch_gives_what_its_rows_give_one_at_a_time():
    """Rows looked ahead at in one batch, none in one-row batches: the same events and statuses."""
    batch, single = _busy_router(), _busy_router()
    ops = np.array([(OP_ARRIVE, float(c), c, -1, c % 3, 0, 0.0) for c in range(1, 40)], dtype=OP_DTYPE)
    res = batch.submit(ops)
    one = [single.submit(ops[i:i + 1]) for i in range(len(ops))]
    assert np.array_equal(np.concatenate([o.status for o in one]), res.status)
    assert np.array_equal(np.concatenate([o.events for o in one]), res.events)
    # then the floor answers and releases in one batch against one row at a time
    offered = res.events[res.events["kind"] == OFFERED]
    more = [(OP_ACCEPT, 50.0, int(e["call"]), int(e["agent"]), -1, 0, 0.0) for e in offered]
    more += [(OP_RELEASE, 60.0 + k, int(e["call"]), -1, -1, 0, np.nan) for k, e in enumerate(offered)]
    ops = np.array(more, dtype=OP_DTYPE)
    res = batch.submit(ops)
    one = [single.submit(ops[i:i + 1]) for i in range(len(ops))]
    assert np.array_equal(np.concatenate([o.status for o in one]), res.status)
    assert np.array_equal(np.concatenate([o.events for o in one]), res.events)
    assert (res.status[:len(offered)] == OK).sum() >= 3 and (res.status[len(offered):] == OK).sum() >= 3
