"""The core's event buffers read out as ``EVENT_DTYPE`` rows (core_kernels.event_rows) against numpy.

``Router.submit`` hands its events back as rows of the public dtype; the
compiled pass that builds them must give the same bytes as copying the
buffers' columns field by field with numpy (the reference below), for any
values the buffers can hold: reserved call ids, the widest agent, queue and
detail codes, NaN and infinite values, from any starting row.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.router import EventKind
from busyhour.router.core_layout import (
    E_AGENT, E_CALL, E_DETAIL, E_KIND, E_QUEUE, E_SEQ, E_TIME, E_VALUE, EVENT_DTYPE, N_EV_F, N_EV_I, NO_ID,
)
from busyhour.router.core_kernels import event_rows

_INT32 = st.integers(-1, (1 << 31) - 1)
_ROW = st.tuples(
    st.integers(0, (1 << 63) - 1),  # seq
    st.sampled_from([int(k) for k in EventKind]),
    st.one_of(st.just(NO_ID), st.integers(-(1 << 63), (1 << 63) - 1)),  # call
    _INT32, _INT32, st.integers(0, (1 << 31) - 1),  # agent, queue, detail
    st.floats(allow_nan=True, allow_infinity=True),  # time
    st.floats(allow_nan=True, allow_infinity=True),  # value
)


def _reference(ev_i: np.ndarray, ev_f: np.ndarray, k: int, n: int) -> np.ndarray:
    out = np.empty(n - k, dtype=EVENT_DTYPE)
    for name, col in (("seq", E_SEQ), ("kind", E_KIND), ("call", E_CALL), ("agent", E_AGENT),
                      ("queue", E_QUEUE), ("detail", E_DETAIL)):
        out[name] = ev_i[k:n, col]
    out["time_s"] = ev_f[k:n, E_TIME]
    out["value"] = ev_f[k:n, E_VALUE]
    return out


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(_ROW, max_size=40), data=st.data())
def test_event_rows_match_numpy_field_copies(rows, data):
    spare = data.draw(st.integers(0, 5))  # buffer rows past the last event, never read
    ev_i = np.full((len(rows) + spare, N_EV_I), -7, dtype=np.int64)
    ev_f = np.full((len(rows) + spare, N_EV_F), -7.0)
    for j, (seq, kind, call, agent, queue, detail, t, v) in enumerate(rows):
        ev_i[j, [E_SEQ, E_KIND, E_CALL, E_AGENT, E_QUEUE, E_DETAIL]] = seq, kind, call, agent, queue, detail
        ev_f[j, [E_TIME, E_VALUE]] = t, v
    k = data.draw(st.integers(0, len(rows)))
    out = np.empty(len(rows) - k, dtype=EVENT_DTYPE)
    event_rows(ev_i, ev_f, k, out)
    assert out.tobytes() == _reference(ev_i, ev_f, k, len(rows)).tobytes()  # bytes: NaN equals itself


def test_event_rows_of_a_router_batch_equal_the_reference():
    """Through Router.submit: the rows it returns are the buffers' rows, field for field."""
    from busyhour.router.core_layout import OP_ARRIVE, OP_DTYPE, OP_LOGIN, S_NEV
    from busyhour.router.fast import Router

    cfg = {"agents": [{"id": "a"}, {"id": "b"}], "queues": [{"name": "q", "members": ["a", "b"]}]}
    r = Router.from_config(cfg, calls=16)
    ops = np.array([(OP_LOGIN, 0.0, 0, 0, -1, 0, 1.0), (OP_LOGIN, 0.0, 0, 1, -1, 0, 1.0)]
                   + [(OP_ARRIVE, 1.0 + i, 100 + i, -1, 0, i % 3, 0.0) for i in range(5)], dtype=OP_DTYPE)
    kept = {}
    drain = r._drain

    def spy():
        n = int(r._S.S_i[S_NEV])
        kept["ref"] = _reference(r._S.EV_i, r._S.EV_f, r._unfed, n)
        return drain()

    r._drain = spy
    events = r.submit(ops).events
    assert events.shape[0] > 7 and events.tobytes() == kept["ref"].tobytes()
