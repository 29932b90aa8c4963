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

import zlib

import numpy as np

__all__ = ["SOURCES", "stream"]

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
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=key)))
