"""numpy's ``SeedSequence`` state words, compiled: what ``streams.stream`` seeds each ``PCG64`` with.

A replication opens about thirty random streams (one per queue and draw kind,
per redial draw, per team), each until now through ``SeedSequence(seed,
spawn_key=key)`` and ``PCG64(seed_sequence)`` — about 30 µs each in numpy,
a millisecond per replication. :func:`state_words` computes the same words
as ``SeedSequence(seed, spawn_key=key).generate_state(n_words, np.uint32)``
(numpy's documented algorithm: the entropy words hashed into a pool of four
32-bit words, then drawn out with a second hash), so ``PCG64`` seeded with
them is the very generator numpy would make.

``mix_pool_py`` / ``state_words_py`` are the plain-Python reference; the
tests (tests/kernels/test_sim_seed_kernel.py) hold the kernel to it and both
to ``numpy.random.SeedSequence`` on random seeds and keys. Inputs: a seed
and key elements from 0 to 2^63 − 1 (streams.stream's: ``limits.MAX_SEED``,
a replication, a source code, a CRC-32).

:func:`state_words_rows` computes the words of many keys in one call (a
replication's streams: streams.streams). The helpers are inlined by numba
(``inline="always"``) so that each entry is one library and entries share
no callee copies: two cached entries, one compiled where router/core_jit.py's
linkage change was active and one where it was not, linking each other's
copies gave wrong results once.

Cost: O(entropy words × 4) 32-bit operations.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from busyhour.router.core_cache import install as _install_cache_check

_install_cache_check()  # before the kernels: their cache check covers the package's sources (core_cache.py)

__all__ = ["state_words", "state_words_py", "state_words_rows"]

M32 = 0xFFFFFFFF
INIT_A, MULT_A, INIT_B, MULT_B = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
MIX_L, MIX_R = 0xCA01F9DD, 0x4973F715
POOL = 4


@njit(cache=True, inline="always")
def _words(out, n, x):
    """Append the 32-bit words of ``x`` (little end first; 0 is one word) to ``out`` from row ``n``."""
    x = np.uint64(x)
    while True:
        out[n] = x & np.uint64(M32)
        n += 1
        x = x >> np.uint64(32)
        if x == 0:
            return n


@njit(cache=True, inline="always")
def _entropy(seed, key):
    """The entropy words: the seed's words padded to the pool size, then each key element's words."""
    out = np.zeros(POOL + 2 * key.size, dtype=np.uint64)
    n = max(_words(out, 0, seed), POOL)
    for k in range(key.size):
        n = _words(out, n, key[k])
    return out[:n]


@njit(cache=True, inline="always")
def _hashmix(v, h):
    """(hashed v, next hash constant)."""
    m32 = np.uint64(M32)
    v = v ^ h
    h = (h * np.uint64(MULT_A)) & m32
    v = (v * h) & m32
    return v ^ (v >> np.uint64(16)), h


@njit(cache=True, inline="always")
def _mix(x, y):
    m32 = np.uint64(M32)
    a, b = (np.uint64(MIX_L) * x) & m32, (np.uint64(MIX_R) * y) & m32
    r = (a + np.uint64(1 << 32) - b) & m32  # (a − b) mod 2^32 without wrapping below 0
    return r ^ (r >> np.uint64(16))


@njit(cache=True)
def state_words(seed, key, n_words):
    """``SeedSequence(seed, spawn_key=key).generate_state(n_words, np.uint32)`` (as uint64 values < 2^32);
    ``key``: an int64 array."""
    out = np.zeros(n_words, dtype=np.uint64)
    _state_words_into(seed, key, out)
    return out


@njit(cache=True)
def state_words_rows(seed, keys, n_words):
    """:func:`state_words` of every row of ``keys`` (an int64 array, one key a row): one call for all the
    streams of a replication."""
    out = np.zeros((keys.shape[0], n_words), dtype=np.uint64)
    for r in range(keys.shape[0]):
        _state_words_into(seed, keys[r], out[r])
    return out


@njit(cache=True, inline="always")
def _state_words_into(seed, key, out):
    m32 = np.uint64(M32)
    ent = _entropy(seed, key)
    pool = np.zeros(POOL, dtype=np.uint64)
    h = np.uint64(INIT_A)
    for i in range(POOL):
        pool[i], h = _hashmix(ent[i], h)
    for s in range(POOL):
        for d in range(POOL):
            if s != d:
                v, h = _hashmix(pool[s], h)
                pool[d] = _mix(pool[d], v)
    for s in range(POOL, ent.size):
        for d in range(POOL):
            v, h = _hashmix(ent[s], h)
            pool[d] = _mix(pool[d], v)
    hb = np.uint64(INIT_B)
    for i in range(out.size):
        v = pool[i % POOL] ^ hb
        hb = (hb * np.uint64(MULT_B)) & m32
        v = (v * hb) & m32
        out[i] = v ^ (v >> np.uint64(16))


def state_words_py(seed: int, key: tuple[int, ...], n_words: int) -> list[int]:
    """The plain-Python reference of :func:`state_words` (numpy's SeedSequence, step by step)."""

    def words(x: int) -> list[int]:
        out = []
        while True:
            out.append(x & M32)
            x >>= 32
            if not x:
                return out

    run = words(seed)
    ent = run + [0] * (POOL - len(run)) + [w for k in key for w in words(k)]
    h = INIT_A

    def hashmix(v: int) -> int:
        nonlocal h
        v ^= h
        h = (h * MULT_A) & M32
        v = (v * h) & M32
        return v ^ (v >> 16)

    def mix(x: int, y: int) -> int:
        r = (MIX_L * x - MIX_R * y) & M32
        return r ^ (r >> 16)

    pool = [hashmix(ent[i]) for i in range(POOL)]
    for s in range(POOL):
        for d in range(POOL):
            if s != d:
                pool[d] = mix(pool[d], hashmix(pool[s]))
    for s in range(POOL, len(ent)):
        for d in range(POOL):
            pool[d] = mix(pool[d], hashmix(ent[s]))
    hb, out = INIT_B, []
    for i in range(n_words):
        v = pool[i % POOL] ^ hb
        hb = (hb * MULT_B) & M32
        v = (v * hb) & M32
        out.append(v ^ (v >> 16))
    return out
