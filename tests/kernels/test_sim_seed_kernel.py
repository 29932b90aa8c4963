"""sim/seed_kernel.py: numpy's SeedSequence state words, compiled, against the plain-Python reference and numpy.

1. ``state_words`` (the kernel) equals ``state_words_py`` (the reference) and
   ``numpy.random.SeedSequence(seed, spawn_key=key).generate_state(n, np.uint32)`` for random seeds and
   keys over the whole accepted range (0 … 2^63 − 1; key elements over and under 2^32, zero).
2. ``streams.stream`` draws exactly what a generator seeded through numpy's SeedSequence draws.
3. ``state_words_rows`` is ``state_words`` row by row, and ``streams.streams`` gives the generators
   ``streams.stream`` gives, in the order asked (also outside the compiled range: a seed over 2^63).
Also passes with ``NUMBA_DISABLE_JIT=1`` (the kernel as plain Python).
"""

from __future__ import annotations

import zlib

import numpy as np
from hypothesis import given, settings, strategies as st

from busyhour.sim.seed_kernel import state_words, state_words_py, state_words_rows
from busyhour.sim.streams import SOURCES, stream, streams

U63 = st.integers(0, 2**63 - 1)
KEY_ELEMENT = st.one_of(st.integers(0, 3), st.integers(0, 2**32 - 1), st.integers(2**32, 2**63 - 1))


@settings(max_examples=300, deadline=None)
@given(seed=st.one_of(st.integers(0, 2**32), U63), key=st.lists(KEY_ELEMENT, min_size=0, max_size=4),
       n_words=st.integers(1, 12))
def test_state_words_are_the_references_and_numpys(seed, key, n_words):
    want = np.random.SeedSequence(seed, spawn_key=tuple(key)).generate_state(n_words, np.uint32)
    got = state_words(seed, np.array(key, dtype=np.int64), n_words)
    assert got.tolist() == state_words_py(seed, tuple(key), n_words) == want.tolist()


@settings(max_examples=50, deadline=None)
@given(seed=U63, replication=st.integers(0, 10_000), source=st.sampled_from(sorted(SOURCES)),
       name=st.text(min_size=1, max_size=12))
def test_a_stream_draws_what_numpys_seed_sequence_gives(seed, replication, source, name):
    key = (replication, SOURCES[source], zlib.crc32(name.encode("utf-8")))
    ref = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))
    g = stream(seed, replication, source, name)
    assert np.array_equal(g.random(7), ref.random(7))
    assert np.array_equal(g.standard_normal(5), ref.standard_normal(5))
    assert np.array_equal(g.integers(0, 97, 9), ref.integers(0, 97, 9))


@settings(max_examples=100, deadline=None)
@given(seed=U63, keys=st.lists(st.tuples(KEY_ELEMENT, KEY_ELEMENT, KEY_ELEMENT), min_size=0, max_size=6),
       n_words=st.integers(1, 12))
def test_state_words_rows_are_state_words_row_by_row(seed, keys, n_words):
    k = np.array(keys, dtype=np.int64).reshape(len(keys), 3)
    got = state_words_rows(seed, k, n_words)
    assert got.shape == (len(keys), n_words)
    for r in range(len(keys)):
        assert got[r].tolist() == state_words(seed, k[r], n_words).tolist()


@settings(max_examples=60, deadline=None)
@given(seed=st.one_of(U63, st.integers(2**63, 2**64)), replication=st.integers(0, 10_000),
       wanted=st.lists(st.tuples(st.sampled_from(sorted(SOURCES)), st.text(min_size=1, max_size=12)), max_size=8))
def test_streams_are_the_streams_one_by_one(seed, replication, wanted):
    gens = streams(seed, replication, wanted)
    assert len(gens) == len(wanted)
    for g, (source, name) in zip(gens, wanted):
        assert np.array_equal(g.random(5), stream(seed, replication, source, name).random(5))
