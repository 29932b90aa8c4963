"""The compiled core's waiting tree (core_wait.py) against a sorted Python list.

Random inserts and removes of calls with random priorities and arrival
times: after each, the position the insert returned, every waiting call's
rank, the queue's first call and its count must match the sorted list of
keys ``(-priority, arrival, order)`` that the Python engine keeps.
"""

from __future__ import annotations

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.router import parse_config
from busyhour.router.core_build import build
from busyhour.router.core_layout import ARRIVAL, NWAIT, ORDER, PRIO, W_HEAD, W_LEFT, W_RIGHT, W_ROOT, W_SIZE, W_UP
from busyhour.router.core_jit import entry
from busyhour.router.core_ref import state_ref
from busyhour.router.core_wait import rank_of, w_insert, w_remove


@entry
def _insert(S, q, x):
    return w_insert(state_ref(S), q, x)


@entry
def _remove(S, q, x):
    w_remove(state_ref(S), q, x)


CFG = parse_config({"agents": [{"id": "a"}], "queues": [{"name": "q0", "members": ["a"]}, {"name": "q1"}]})


def _check_tree(S, q, keys):
    """Every node's size is its subtree's, parents and children agree, in-order is the key order."""
    out = []
    stack, n = [], int(S.Q_i[q, W_ROOT])
    while stack or n >= 0:
        while n >= 0:
            stack.append(n)
            n = int(S.C_i[n, W_LEFT])
        n = stack.pop()
        out.append(n)
        for child in (int(S.C_i[n, W_LEFT]), int(S.C_i[n, W_RIGHT])):
            if child >= 0:
                assert S.C_i[child, W_UP] == n
        size = 1 + sum(int(S.C_i[c, W_SIZE]) for c in (S.C_i[n, W_LEFT], S.C_i[n, W_RIGHT]) if c >= 0)
        assert S.C_i[n, W_SIZE] == size
        n = int(S.C_i[n, W_RIGHT])
    assert out == [k[3] for k in keys]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 2), st.integers(0, 4), st.integers(0, 10**6)),
                min_size=1, max_size=300))
def test_waiting_tree_matches_a_sorted_list(steps):
    S = build(CFG, calls=512)
    lists = {0: [], 1: []}
    where = {}
    order = 0
    for add, prio, t, k in steps:
        q = k % 2
        if add or not where:
            slot = order
            order += 1
            S.C_i[slot, PRIO] = prio
            S.C_i[slot, ORDER] = order
            S.C_f[slot, ARRIVAL] = float(t)
            key = (-prio, float(t), order, slot)
            pos = _insert(S, q, slot)
            bisect.insort(lists[q], key)
            assert pos == bisect.bisect_left(lists[q], key) + 1
            where[slot] = (q, key)
        else:
            slot = sorted(where)[k % len(where)]
            q, key = where.pop(slot)
            _remove(S, q, slot)
            lists[q].remove(key)
        for qq in (0, 1):
            keys = lists[qq]
            assert S.Q_i[qq, NWAIT] == len(keys)
            assert S.Q_i[qq, W_HEAD] == (keys[0][3] if keys else -1)
            _check_tree(S, qq, keys)
            for i, key in enumerate(keys):
                assert rank_of(S, key[3]) == i + 1
