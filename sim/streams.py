"""Random streams: one ``numpy.random.Generator`` per source, never a global RNG.

A stream is identified by ``(seed, replication, source, name)``; for example
``("arrivals", "sales")`` or ``("handle", "sales")``. Its ``SeedSequence`` is
the child of ``SeedSequence(seed)`` with spawn key
``(replication, SOURCES[source], crc32(name))`` — what ``SeedSequence.spawn``
would give, but keyed by *name* rather than by creation order. So:

* two runs of the same scenario with the same seed draw identical numbers;
* changing the routing strategy, the number of agents, a team's shifts or
  even adding a queue leaves every other queue's callers untouched (common
  random numbers): the same people call at the same times with the same
  talk times and the same patience;
* replications are independent (different spawn keys).
"""

from __future__ import annotations

import sys
import zlib

import numpy as np
from numpy.random.bit_generator import ISeedSequence

from busyhour.sim.seed_kernel import state_words, state_words_rows

__all__ = ["SOURCES", "stream", "streams"]

#: Source codes, part of each stream's spawn key. Append only: changing a
#: code changes every seeded result.
SOURCES: dict[str, int] = {
    "arrivals": 1,  # per queue: the Poisson arrival process
    "overdispersion": 2,  # per queue: gamma rate multipliers per interval
    "handle": 3,  # per queue: talk times
    "acw": 4,  # per queue: after-call work
    "patience": 5,  # per queue: caller patience
    "redial": 6,  # per queue: redial decision and delay
    "callback": 7,  # per queue: accepts the callback offer?
    "burst": 8,  # per burst: extra arrivals
    "answer": 9,  # per team: agent answer delay
}


def stream(seed: int, replication: int, source: str, name: str) -> np.random.Generator:
    """The generator for ``source`` (a key of ``SOURCES``) and ``name``."""
    key = (int(replication), SOURCES[source], zlib.crc32(name.encode("utf-8")))
    seed = int(seed)
    if 0 <= seed < 2**63 and 0 <= key[0] < 2**63 and sys.byteorder == "little":
        return np.random.Generator(np.random.PCG64(_StateWords(seed, np.array(key, dtype=np.int64))))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def streams(seed: int, replication: int, wanted: list[tuple[str, str]]) -> list[np.random.Generator]:
    """``[stream(seed, replication, source, name) for source, name in wanted]``, the same generators, with
    the state words of all of them from one compiled call (a replication opens about thirty)."""
    seed, replication = int(seed), int(replication)
    if not (0 <= seed < 2**63 and 0 <= replication < 2**63 and sys.byteorder == "little") or not wanted:
        return [stream(seed, replication, source, name) for source, name in wanted]
    keys = np.array([(replication, SOURCES[source], zlib.crc32(name.encode("utf-8"))) for source, name in wanted],
                    dtype=np.int64)
    words = state_words_rows(seed, keys, _PCG64_WORDS).astype(np.uint32)
    return [np.random.Generator(np.random.PCG64(_StateWords(seed, keys[i], words[i]))) for i in range(len(wanted))]


_PCG64_WORDS = 8  # PCG64 asks its seed sequence for 4 uint64 words: 8 uint32 words


class _StateWords(ISeedSequence):
    """``SeedSequence(seed, spawn_key=key)``'s state words from the compiled seed_kernel — the same words
    (tests/kernels/test_sim_seed_kernel.py), without numpy's per-object cost. PCG64 asks once."""

    __slots__ = ("seed", "key", "words")

    def __init__(self, seed: int, key: np.ndarray, words: np.ndarray | None = None) -> None:
        self.seed, self.key, self.words = seed, key, words  # words: the first uint32 words, when known

    def generate_state(self, n_words: int, dtype=np.uint32) -> np.ndarray:
        wide = np.dtype(dtype) == np.uint64
        if not wide and np.dtype(dtype) != np.uint32:
            raise ValueError("only support uint32 or uint64")
        n32 = n_words * (2 if wide else 1)
        if self.words is not None and self.words.size == n32:
            words = self.words
        else:
            words = state_words(self.seed, self.key, n32).astype(np.uint32)
        return words.view(np.uint64) if wide else words
