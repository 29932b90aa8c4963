"""A call's own skills on the compiled core: the batch API, bad input, and old pickles.

The parity suite (test_core_parity.py) drives random calls with their own
skills through both engines; these tests pin the batch API around them: the
``skills`` array of ``submit``, profile codes, what is refused and why, and
that a router pickled before profiles existed (a server snapshot) loads and
routes on.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from busyhour.router import ReferenceRouter
from busyhour.router.core_layout import N_C_I, OK, OP_ARRIVE, OP_DTYPE, OP_LOGIN, S_NPROF, SKP
from busyhour.router.errors import StateError, UnknownIdError
from busyhour.router.fast import Router
from old_layout import without_lanes

CFG = {"skills": ["es", "fr"],
       "agents": [{"id": "a0", "skills": {"es": 1}}, {"id": "a1", "skills": {"es": 4, "fr": 2}},
                  {"id": "a2", "skills": {"fr": 5}}],
       "queues": [{"name": "q", "members": ["a0", "a1", "a2"]},
                  {"name": "best", "strategy": "most-skilled-first", "members": ["a0", "a1", "a2"],
                   "escalation": [{"after_s": 10.0, "min_level_drop": 3}]}]}


def _logins(fast: Router) -> None:
    ops = np.zeros(3, dtype=OP_DTYPE)
    ops["op"], ops["agent"], ops["arg"] = OP_LOGIN, np.arange(3), 1.0
    assert (fast.submit(ops).status == OK).all()


def _offered(fast: Router, events: np.ndarray) -> list:
    return [fast.agent_ids[a] for a in events["agent"][events["kind"] == 3]]  # CALL_OFFERED


def test_profiles_are_registered_once_and_validated_like_router():
    fast = Router.from_config(CFG)
    assert fast.skill_profile(None) == fast.skill_profile({}) == 0
    es = fast.skill_profile({"es": 3})
    assert es > 0 and fast.skill_profile({"es": 3}) == es
    both = fast.skill_profile({"fr": 1, "es": 2})
    assert fast.skill_profile({"es": 2, "fr": 1}) == both != es  # the order of the keys does not matter
    assert fast._S.S_i[S_NPROF] == 3
    router = ReferenceRouter.from_config(CFG)
    for bad, kind in (({"de": 1}, UnknownIdError), ({"es": 0}, StateError), ({"es": 99}, StateError),
                      ("es", StateError)):
        with pytest.raises(kind) as fast_err:
            fast.skill_profile(bad)
        with pytest.raises(kind) as py_err:
            router.call_arrive(0.0, 1, "q", skills=bad)
        assert str(fast_err.value) == str(py_err.value)


def test_a_batch_routes_each_call_to_an_agent_holding_its_own_skills():
    fast = Router.from_config(CFG)
    _logins(fast)
    ops = np.zeros(3, dtype=OP_DTYPE)
    ops["op"], ops["time_s"], ops["call"], ops["agent"], ops["queue"] = OP_ARRIVE, 1.0, [1, 2, 3], -1, 0
    ops["arg"] = np.nan
    skills = np.array([fast.skill_profile({"fr": 4}), fast.skill_profile({"es": 2}), 0])
    res = fast.submit(ops, skills=skills)
    assert (res.status == OK).all()
    assert _offered(fast, res.events) == ["a2", "a1", "a0"]  # a0 idle longest, but holds neither skill


def test_most_skilled_counts_the_calls_own_skills_and_escalation_lowers_them():
    fast = Router.from_config(CFG)
    _logins(fast)
    # the queue asks no skills, so the key is the levels of the call's own: fr 5 (a2) over fr 2 (a1)
    ev = fast.call_arrive(1.0, 1, "best", skills={"fr": 1})
    assert [e.agent_id for e in ev if e.kind.name == "CALL_OFFERED"] == ["a2"]
    ev = fast.call_arrive(1.0, 2, "best", skills={"es": 4})  # only a1 holds es 4
    assert [e.agent_id for e in ev if e.kind.name == "CALL_OFFERED"] == ["a1"]
    ev = fast.call_arrive(1.0, 3, "best", skills={"es": 4})  # a0 has es 1: waits until the drop of 3
    assert [e.kind.name for e in ev] == ["CALL_ARRIVED", "CALL_QUEUED"]
    ev = fast.advance(11.0)
    assert [e.agent_id for e in ev if e.kind.name == "CALL_OFFERED"] == ["a0"]


def test_bad_skill_arrays_and_codes_are_refused():
    fast = Router.from_config(CFG)
    ops = np.zeros(2, dtype=OP_DTYPE)
    ops["op"], ops["call"], ops["agent"], ops["queue"], ops["arg"] = OP_ARRIVE, [1, 2], -1, 0, np.nan
    for bad in (np.zeros(3, dtype=np.int64), np.zeros(2, dtype=np.float64), [0, 0], np.zeros((2, 1), np.int64)):
        with pytest.raises(StateError, match="one profile code per row"):
            fast.submit(ops, skills=bad)
    res = fast.submit(ops, skills=np.array([7, -1]))  # never registered
    assert list(res.status != OK) == [True, True]
    assert "skill profile" in fast.describe(ops, res.status)[0]
    assert fast.counts == (0, 0)


def test_a_router_pickled_before_profiles_existed_loads_and_routes_on():
    fast = Router.from_config(CFG)
    _logins(fast)
    fast.call_arrive(1.0, 1, "q")
    S = fast._S  # as an older version pickled it: no profile table, no profile column
    fast._S = without_lanes(S)._replace(CP=None, C_i=S.C_i[:, :SKP].copy())
    del fast._skill_index, fast._profiles
    old = pickle.loads(pickle.dumps(fast))
    assert old._S.C_i.shape[1] == N_C_I and old._S.S_i[S_NPROF] == 1
    assert old.call_state(1).name == "OFFERED"
    ev = old.call_arrive(2.0, 2, "q", skills={"fr": 3})
    assert [e.agent_id for e in ev if e.kind.name == "CALL_OFFERED"] == ["a2"]


def test_distinct_profiles_are_bounded_in_number_and_memory(monkeypatch):
    from busyhour.router import fast_rows

    many = Router.from_config({"skills": [f"s{i}" for i in range(100)], "agents": [{"id": "a"}],
                                   "queues": [{"name": "q", "members": ["a"]}]})
    assert many.max_skill_profiles() == (64 << 20) // (8 * 201) - 1  # the table stays within 64 MiB
    monkeypatch.setattr(fast_rows, "MAX_SKILL_PROFILES", 4)
    fast = Router.from_config(CFG)
    codes = [fast.skill_profile({"es": level}) for level in (1, 2, 3)]
    assert codes == [1, 2, 3] and fast.skill_profile({"es": 2}) == 2  # known ones still resolve
    with pytest.raises(StateError, match="its limit"):
        fast.skill_profile({"es": 4})
    with pytest.raises(StateError, match="its limit"):
        fast.call_arrive(0.0, 1, "q", skills={"fr": 1})
    assert fast.counts == (0, 0)
