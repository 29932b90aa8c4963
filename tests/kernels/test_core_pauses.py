"""A member's pause in its eligibility bytes (``QOK_PAUSED`` in every step's byte of ``CoreState.QOK``).

An arrival's pick reads that one byte (``QOK[m, step] == QOK_ON``) instead of the member's own row
(``QM_PAUSED``, which keeps the reason). The two must agree after every operation, through pauses, membership
changes, queue updates (new escalation steps widen the bytes) and reloads; the parity suite checks the
decisions, this file the bytes themselves. A state pickled before the pauses were marked there must load with
them marked, and a member paused then must get no offer of that queue's calls.
"""

from __future__ import annotations

import pickle

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from busyhour.router import EventKind
from busyhour.router.core_layout import QM_AGENT, QM_OK, QM_PAUSED, QOK_ON, QOK_PAUSED
from busyhour.router.fast import Router
from parity_steps import configs
from test_core_parity import _parity

# Pause churn: pauses in one queue, membership and queue changes that rebuild the member rows around them.
CHURN = st.lists(st.tuples(st.sampled_from(["pause", "pause", "pause", "unpause", "unpause", "arrive", "arrive",
                                            "accept", "release", "login", "logout", "ready", "member_add",
                                            "member_remove", "queue_update", "reload", "advance"]),
                           st.sampled_from([0.0, 0.5, 1.0, 2.0]),
                           st.integers(0, 1 << 16), st.booleans()), min_size=30, max_size=120)


def _pauses_mirrored(fast: Router) -> None:
    S = fast._S
    assert S.QOK.dtype == np.uint8 and S.QOK.shape[0] == S.QM.shape[0]
    assert not (S.QOK & ~np.uint8(QOK_ON | QOK_PAUSED)).any()  # no other bit
    paused = (S.QM[:, QM_PAUSED] != 0)[:, None]
    np.testing.assert_array_equal((S.QOK & QOK_PAUSED) != 0, np.broadcast_to(paused, S.QOK.shape))
    np.testing.assert_array_equal(S.QOK[:, 0] & QOK_ON, S.QM[:, QM_OK])  # the eligibility bit is untouched


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(), ops=CHURN)
def test_the_pause_bytes_follow_every_member_row(cfg, ops):
    _parity(cfg, [("login", 0.0, i, True) for i in range(len(cfg["agents"]))] + ops, check=_pauses_mirrored)


def _offered(events: list) -> list:
    return [e.agent_id for e in events if e.kind == EventKind.CALL_OFFERED]


def test_a_state_pickled_before_the_pause_bytes_loads_with_them():
    cfg = {"agents": [{"id": f"a{i}"} for i in range(3)],
           "queues": [{"name": "q", "members": ["a0", "a1", "a2"], "wrap_up_s": 0.0},
                      {"name": "p", "members": ["a0", "a2"], "wrap_up_s": 0.0}]}
    ref, old = Router.from_config(cfg), Router.from_config(cfg)
    for r in (ref, old):
        for i in range(3):
            r.agent_login(0.0, f"a{i}", ready=True)
        r.member_pause(1.0, "a0", "q", "coaching")  # the longest idle, paused in q only
    S = old._S
    assert (S.QOK & QOK_PAUSED).sum() == QOK_PAUSED * S.QOK.shape[1]  # one member row
    S.QOK[:] &= QOK_ON  # the bytes before pauses were marked there
    loaded = pickle.loads(pickle.dumps(old))
    _pauses_mirrored(loaded)
    paused = np.flatnonzero(loaded._S.QOK[:, 0] & QOK_PAUSED)
    assert loaded._S.QM[paused, QM_AGENT].tolist() == [0]
    for r in (loaded, ref):
        assert _offered(r.call_arrive(2.0, 1, "q")) == ["a1"]  # a0 skipped in q
        assert _offered(r.call_arrive(3.0, 2, "p")) == ["a0"]  # and offered in p
    loaded.member_unpause(4.0, "a0", "q")
    _pauses_mirrored(loaded)
    assert not (loaded._S.QOK & QOK_PAUSED).any()


def test_a_queue_with_more_escalation_steps_keeps_the_pauses_in_the_new_steps():
    """A queue added with more steps than any before widens every member's bytes: a paused member's new bytes
    are marked paused too."""
    cfg = {"agents": [{"id": "a0"}, {"id": "a1"}],
           "queues": [{"name": "q", "members": ["a0", "a1"], "wrap_up_s": 0.0}]}
    r = Router.from_config(cfg)
    for a in ("a0", "a1"):
        r.agent_login(0.0, a, ready=True)
    r.member_pause(1.0, "a0", "q", "coaching")
    steps = r._S.QOK.shape[1]
    r.queue_add(2.0, {"name": "esc", "members": ["a0"], "wrap_up_s": 0.0,
                      "escalation": [{"after_s": 5.0 * (k + 1), "min_level_drop": 1} for k in range(steps + 1)]})
    assert r._S.QOK.shape[1] == steps + 2
    _pauses_mirrored(r)
    assert _offered(r.call_arrive(3.0, 1, "q")) == ["a1"]
    assert _offered(r.call_arrive(4.0, 2, "esc")) == ["a0"]  # paused in q only
