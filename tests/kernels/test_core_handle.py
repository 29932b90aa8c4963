"""The state's handle (core_handle.py): one array of addresses and shapes instead of the 43 arrays.

The batch entry rebuilds the state from the handle as views of the same memory. A field read from the wrong
slot, or with the wrong dtype or dimensions, would be another array of the same type — silently wrong — so
the views are checked field by field against the arrays they stand for, and a batch run through the handle
must leave exactly the state the same batch leaves when the tuple itself is passed. These tests also fail
loudly if numba changes what the handle leans on (its intrinsic API, ``populate_array``). With
``NUMBA_DISABLE_JIT=1`` the handle is the state itself and the batch entry the one that takes it.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import literal_unroll

from busyhour.router.core_batch import deadline, run_batch
from busyhour.router.core_handle import (
    KINDS, SLOTS, HandleError, handle_entries, handle_of, jit_disabled, on_state, state_of,
)
from busyhour.router.core_ids import h_get
from busyhour.router.core_wait import rank_of
from busyhour.router.core_jit import entry
from busyhour.router.core_layout import (
    EXT, OK, OP_ACCEPT, OP_ADVANCE, OP_ARRIVE, OP_DTYPE, OP_LOGIN, OP_RELEASE, QUEUE, STATE, ST_WAITING, CoreState,
)
from busyhour.router.fast import Router

CONFIG = {
    "agents": [{"id": f"a{i}", "skills": {"s": 1 + i % 3}} for i in range(6)],
    "queues": [{"name": "q", "members": [f"a{i}" for i in range(6)], "skills": {"s": 1},
                "escalation": [{"after_s": 30, "min_level_drop": 1}]},
               {"name": "r", "members": ["a0", "a1"], "strategy": "ring-all"}],
}


def _state() -> CoreState:
    return Router.from_config(CONFIG, calls=16)._S


def _ops() -> np.ndarray:
    rows = [(OP_LOGIN, 0.0, 0, a, -1, 0, 1.0) for a in range(6)]
    rows += [(OP_ARRIVE, 1.0 + 0.1 * c, 100 + c, -1, c % 2, 0, 0.0) for c in range(12)]
    rows += [(OP_ACCEPT, 3.0, 100, 0, -1, 0, 0.0), (OP_RELEASE, 9.0, 100, -1, -1, 0, 2.0),
             (OP_ADVANCE, 60.0, 0, -1, -1, 0, 0.0)]
    return np.array(rows, dtype=OP_DTYPE)


@entry
def _views_of(H, out):
    """Each field of the state rebuilt from ``H``: its data address and shape, as numba sees them."""
    S = state_of(H)
    k = 0
    for a in literal_unroll(S):
        out[k] = a.ctypes.data
        for d in range(a.ndim):
            out[k + 1 + d] = a.shape[d]
        k += 4
    return k


def test_kinds_follow_the_state_layout():
    S = _state()
    assert len(KINDS) == len(CoreState._fields) == len(S)
    assert [(a.dtype, a.ndim) for a in S] == list(KINDS)


def test_each_view_is_the_array_it_stands_for():
    S = _state()
    H = handle_of(S)
    if jit_disabled():  # no addresses to read: the state itself goes in, to the entry that takes it
        assert H is S and handle_entries()[0] is run_batch
        return
    out = np.full(SLOTS * len(S), -1, dtype=np.int64)
    assert _views_of(H, out) == out.size
    for k, (name, a) in enumerate(zip(S._fields, S)):
        got = out[SLOTS * k:SLOTS * k + 1 + a.ndim]
        assert got[0] == a.__array_interface__["data"][0] and tuple(got[1:]) == a.shape, name


def test_a_batch_through_the_handle_leaves_the_state_the_tuple_leaves():
    """The same rows through the handle entry and through ``run_batch`` (the tuple): every array equal."""
    ops = _ops()
    prof = np.zeros(0, dtype=np.int64)
    states, results = [], []
    for run in (on_state(handle_entries()[0]), run_batch):
        S = _state()
        status, seq_after = np.zeros(len(ops), dtype=np.int8), np.zeros(len(ops), dtype=np.int64)
        assert run(S, ops, prof, 0, status, seq_after, False) == len(ops)
        states.append(S)
        results.append((status.tolist(), seq_after.tolist()))
    assert results[0] == results[1] and all(s == OK for s in results[0][0]) and results[0][1][-1] > 0
    for name, a, b in zip(CoreState._fields, *states):
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name


def test_the_queries_through_the_handle_answer_as_through_the_tuple():
    """The next deadline, each call's slot and each waiting call's rank, on a state with calls waiting."""
    S = _state()
    ops = _ops()[:-1]  # no final advance: twelve callers for six agents, some still waiting
    status, seq_after = np.zeros(len(ops), dtype=np.int8), np.zeros(len(ops), dtype=np.int64)
    assert run_batch(S, ops, np.zeros(0, dtype=np.int64), 0, status, seq_after, False) == len(ops)
    H = handle_of(S)
    _, deadline_e, h_get_e, rank_e = handle_entries()
    assert deadline_e(H) == deadline(S) < np.inf
    keys = [100 + c for c in range(14)] + [-5]  # two never arrived, and a reserved id
    assert [h_get_e(H, k) for k in keys] == [h_get(S, k) for k in keys]
    waiting = np.flatnonzero((S.C_i[:, STATE] == ST_WAITING) & (S.C_i[:, EXT] >= 100))
    assert waiting.size >= 2
    assert [rank_e(H, x) for x in waiting] == [rank_of(S, x) for x in waiting]
    for q in set(S.C_i[waiting, QUEUE].tolist()):  # 1-based places, each once (a rank that reads nothing fails)
        mine = waiting[S.C_i[waiting, QUEUE] == q]
        assert sorted(rank_e(H, x) for x in mine) == list(range(1, mine.size + 1))


def test_the_handle_refuses_arrays_it_cannot_describe():
    S = _state()
    if jit_disabled():  # the state goes in itself, whatever its arrays: the Python kernels read any of them
        odd = S._replace(C_i=np.asfortranarray(S.C_i))
        assert handle_of(odd) is odd
        return
    with pytest.raises(HandleError, match="C_i"):
        handle_of(S._replace(C_i=np.asfortranarray(S.C_i)))  # a view would read it in the wrong order
    with pytest.raises(HandleError, match="AV"):
        handle_of(S._replace(AV=S.AV.astype(np.float32)))
    frozen = S.S_i.copy()
    frozen.flags.writeable = False
    with pytest.raises(HandleError, match="S_i"):
        handle_of(S._replace(S_i=frozen))
    with pytest.raises(HandleError, match="fields"):
        handle_of(tuple(S)[:-1])
