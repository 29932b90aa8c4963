"""The batch benchmark's driver (bench/router_batch.py): its record of connected calls, and the rows it sends.

``busyhour bench router --engine compiled`` times this driver and the
engine together, so the driver must keep the floor honestly: each batch
answers exactly the offers the engine made in the one before, releases the
calls connected longest, and counts only what it sent.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.bench.router_batch import BatchDriver, _Fifo
from busyhour.bench.router_bench import WORKLOADS
from busyhour.router import EventKind
from busyhour.router.core_layout import OP_ACCEPT, OP_ARRIVE, OP_RELEASE


@settings(max_examples=200, deadline=None)
@given(steps=st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=80), capacity=st.integers(1, 64))
def test_the_fifo_gives_ids_back_oldest_first_through_compaction_and_growth(steps, capacity):
    fifo, want, next_id = _Fifo(capacity), deque(), 0
    for put, n in steps:
        if put:
            ids = np.arange(next_id, next_id + n, dtype=np.int64)
            next_id += n
            fifo.put(ids)
            want.extend(ids.tolist())
        else:
            got = fifo.take(n).tolist()
            assert got == [want.popleft() for _ in range(min(n, len(want)))]
        assert fifo.size == len(want)
        assert fifo.buf[fifo.lo:fifo.hi].tolist() == list(want)


def test_each_batch_answers_the_last_offers_and_releases_the_oldest_connected_calls():
    d = BatchDriver(WORKLOADS["1k"], batch=50)  # a small floor: the fifo's buffer is moved to its start often
    connected = deque(d.fifo.buf[d.fifo.lo:d.fifo.hi].tolist())
    offers = list(zip(d.pend_call.tolist(), d.pend_agent.tolist()))
    released = d.released
    seen = []
    submit = d.router.submit
    d.router.submit = lambda rows: seen.append(submit(rows)) or seen[-1]  # the events the driver is handed
    for _ in range(300):
        ops = d._ops(d.batch, d.batch)
        acc, rel, arr = (ops[ops["op"] == code] for code in (OP_ACCEPT, OP_RELEASE, OP_ARRIVE))
        assert list(zip(acc["call"].tolist(), acc["agent"].tolist())) == offers
        assert rel["call"].tolist() == [connected.popleft() for _ in range(rel.size)]
        assert rel.size == arr.size == d.batch and d.released == released + rel.size
        assert np.all(np.diff(ops["time_s"]) >= 0)
        released = d.released
        d._submit(ops)
        ev = seen[-1].events
        connected.extend(ev["call"][ev["kind"] == int(EventKind.CALL_CONNECTED)].tolist())
        offered = ev["kind"] == int(EventKind.CALL_OFFERED)
        offers = list(zip(ev["call"][offered].tolist(), ev["agent"][offered].tolist()))
        assert d.fifo.buf[d.fifo.lo:d.fifo.hi].tolist() == list(connected)
    d.check()
