"""The idempotency table (router/server/idem.py): first reply kept, oldest out first, and nothing in it
for the garbage collector to walk."""

from __future__ import annotations

import gc

from hypothesis import given, settings, strategies as st

from busyhour.router.server.idem import Remembered


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.lists(st.tuples(st.sampled_from([b"a", b"b", b"c\x00d"]),
                                             st.integers(0, 5) | st.sampled_from(["0", "x"])), max_size=40))
def test_the_table_is_a_fifo_of_first_replies(capacity, keys):
    table, model = Remembered(capacity), []  # model: [(key, reply)], oldest first
    for n, key in enumerate(keys):
        reply = b"r%d" % n
        table.add(key, reply)
        if all(k != key for k, _ in model):
            model.append((key, reply))
            del model[:-capacity]
        assert list(table.items()) == model and len(table) == len(model)
        assert set(table._by_client) == {k[0] for k, _ in model}  # a client with nothing left is dropped
    for key in set(keys):
        assert table.get(key) == dict(model).get(key)


def test_remembered_replies_are_not_tracked_by_the_garbage_collector():
    table = Remembered(1000)
    for i in range(500):
        table.add((b"client-%d" % (i % 3), i if i % 2 else f"id-{i}"), b"reply")
    gc.collect()
    assert table._by_client and not any(gc.is_tracked(d) for d in table._by_client.values())
