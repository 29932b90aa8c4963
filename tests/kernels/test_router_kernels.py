"""Differential tests: each router kernel against its pure-Python reference.

Invariants checked on random inputs (hypothesis):

1. ``collect_candidates`` returns exactly the reference's candidates, in order.
2. ``pick_candidate`` returns the same member for every strategy, and leaves
   the RNG state where the reference leaves it.
3. ``order_candidates`` returns the same order (ring-all and ring-progressively).
4. ``splitmix64`` produces the same stream.
5. ``agent_has_skills`` agrees on every (agent, requirement, drop).

Runs with and without ``NUMBA_DISABLE_JIT=1`` (the Makefile does both).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.router import kernels as K
from busyhour.router import reference as R
from busyhour.router.codes import STRATEGY_NAMES

SETTINGS = settings(max_examples=150, deadline=None)


@st.composite
def worlds(draw):
    n_agents = draw(st.integers(1, 12))
    n_skills = draw(st.integers(1, 5))
    n_ch = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_members = draw(st.integers(0, n_agents))
    members = rng.permutation(n_agents)[:n_members].astype(np.int64)
    world = dict(
        members=members,
        m_from_step=rng.integers(0, 3, n_members).astype(np.int64),
        m_penalty=rng.integers(0, 3, n_members).astype(np.int64),
        m_tier=rng.integers(0, 3, n_members).astype(np.int64),
        m_pos=rng.integers(0, 6, n_members).astype(np.int64),  # duplicates on purpose: ties
        m_weight=rng.uniform(0.1, 5.0, n_members),
        m_calls=rng.integers(0, 3, n_members).astype(np.int64),  # ties on purpose
        m_last_s=np.where(rng.random(n_members) < 0.3, -np.inf, rng.integers(0, 4, n_members) * 10.0),
        presence=rng.integers(0, 3, n_agents).astype(np.int8),
        lock_kind=np.where(rng.random(n_agents) < 0.3, rng.integers(1, 3, n_agents), 0).astype(np.int8),
        load=rng.integers(0, 3, (n_agents, n_ch)).astype(np.int32),
        cap=rng.integers(0, 4, (n_agents, n_ch)).astype(np.int32),
        skills=rng.integers(0, 6, (n_agents, n_skills)).astype(np.uint8),
        idle_since=rng.integers(0, 5, n_agents).astype(np.float64),  # ties on purpose
        answered=rng.integers(0, 4, n_agents).astype(np.int64),
        talk_s=rng.integers(0, 4, n_agents).astype(np.float64) * 30.0,
    )
    k = draw(st.integers(0, n_skills))
    world["req_ids"] = rng.choice(n_skills, size=k, replace=False).astype(np.int64)
    world["req_min"] = rng.integers(1, 6, k).astype(np.int64)
    world["step"] = draw(st.integers(0, 2))
    world["max_penalty"] = draw(st.integers(0, 3))
    world["drop"] = draw(st.integers(0, 4))
    world["channel"] = draw(st.integers(0, n_ch - 1))
    world["cursor"] = draw(st.integers(-1, 6))
    world["rng_seed"] = draw(st.integers(0, 2**64 - 1))
    return world


def _collect(mod, w):
    out = np.full(max(1, w["members"].shape[0]), -7, dtype=np.int64)
    n = mod.collect_candidates(w["members"], w["m_from_step"], w["m_penalty"], w["step"], w["max_penalty"],
                               w["presence"], w["lock_kind"], w["load"], w["cap"], w["channel"], w["skills"],
                               w["req_ids"], w["req_min"], w["drop"], out)
    return out, n


@SETTINGS
@given(worlds())
def test_collect_candidates_matches_reference(w):
    got, n = _collect(K, w)
    want, m = _collect(R, w)
    assert n == m
    assert got[:n].tolist() == want[:m].tolist()


@SETTINGS
@given(worlds(), st.sampled_from(sorted(STRATEGY_NAMES.values())))
def test_pick_candidate_matches_reference(w, strategy):
    cand, n = _collect(R, w)
    results = []
    for mod in (K, R):
        state = np.array([w["rng_seed"]], dtype=np.uint64)
        i = mod.pick_candidate(strategy, cand, n, w["members"], w["m_tier"], w["m_penalty"], w["m_pos"],
                               w["m_weight"], w["m_calls"], w["m_last_s"], w["idle_since"], w["answered"], w["talk_s"], w["skills"],
                               w["req_ids"], w["cursor"], state)
        results.append((int(i), int(state[0])))
    assert results[0] == results[1]
    if n == 0:
        assert results[0][0] == -1
    else:
        assert results[0][0] in cand[:n].tolist()


@SETTINGS
@given(worlds(), st.booleans())
def test_order_candidates_matches_reference(w, lowest_only):
    cand, n = _collect(R, w)
    got = K.order_candidates(cand, n, w["m_tier"], w["m_penalty"], w["m_pos"], lowest_only)
    want = R.order_candidates(cand, n, w["m_tier"], w["m_penalty"], w["m_pos"], lowest_only)
    assert [int(x) for x in got] == list(want)


@SETTINGS
@given(st.integers(0, 2**64 - 1), st.integers(1, 50))
def test_splitmix64_stream_matches_reference(seed, n):
    a = np.array([seed], dtype=np.uint64)
    b = np.array([seed], dtype=np.uint64)
    assert [int(K.splitmix64(a)) for _ in range(n)] == [R.splitmix64(b) for _ in range(n)]
    assert int(a[0]) == int(b[0])


@SETTINGS
@given(worlds())
def test_agent_has_skills_matches_reference(w):
    for a in range(w["skills"].shape[0]):
        assert bool(K.agent_has_skills(w["skills"], a, w["req_ids"], w["req_min"], w["drop"])) == \
            R.agent_has_skills(w["skills"], a, w["req_ids"], w["req_min"], w["drop"])


def test_most_skilled_prefers_higher_level_then_longest_idle():
    """A hand-made case, so the rule is pinned even if both twins drift together."""
    members = np.arange(3, dtype=np.int64)
    zeros = np.zeros(3, dtype=np.int64)
    skills = np.array([[3], [5], [5]], dtype=np.uint8)
    idle = np.array([0.0, 10.0, 5.0])
    cand = np.arange(3, dtype=np.int64)
    for mod in (K, R):
        i = mod.pick_candidate(STRATEGY_NAMES["most-skilled-first"], cand, 3, members, zeros, zeros, zeros,
                               np.ones(3), zeros, np.zeros(3), idle, zeros, np.zeros(3), skills, np.array([0], dtype=np.int64), -1,
                               np.array([1], dtype=np.uint64))
        assert int(i) == 2  # level 5 beats 3; among the two level-5 agents, idle since 5 s beats 10 s
