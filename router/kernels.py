"""numba kernels of the routing core: plain numpy arrays and scalars only.

Each kernel has a pure-Python twin in :mod:`busyhour.router.reference` with the
same signature; ``tests/kernels`` compares them on random inputs (also under
``NUMBA_DISABLE_JIT=1``). The facade (:mod:`busyhour.router.engine`) never
exposes numba types.

Ordering rules (the spec, see docs/routing.md):

* A candidate is a queue member that serves the call's escalation step
  (``m_from_step <= step``), is within the step's penalty cap, is READY, not
  locked (``lock_kind`` 0: a wrap-up or delay lock lasts until its end timer
  has fired, so at an instant where several timers are due, the order in
  which they fire decides), has room on the call's channel, and
  holds every required skill at ``min_level - drop`` (never below 1).
* Every strategy first keeps the candidates of the lowest ``(tier, penalty)``
  (FreeSWITCH tiers, Asterisk penalties), then applies its own rule; any tie
  left is broken by the lower member index (configuration order). Equal keys
  therefore always give the same answer.
* "Idle" order uses ``idle_rank``: the order in which agents last became
  AVAILABLE (a counter, so it follows time, and agents who became available at
  the same instant rank in the order they did). Lower rank = idle longer.

Cost: ``collect_candidates`` is O(members × required skills); ``pick_candidate``
O(candidates); ``order_candidates`` O(c log c).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .codes import (
    PRESENCE_READY, STRAT_FEWEST_CALLS, STRAT_FEWEST_CALLS_QUEUE, STRAT_LEAST_RECENT, STRAT_LEAST_TALK,
    STRAT_MOST_SKILLED, STRAT_RANDOM, STRAT_ROUND_ROBIN, STRAT_SEQUENTIAL, STRAT_TOP_DOWN, STRAT_WEIGHTED_RANDOM,
    STRAT_WRANDOM,
)
from .core_cache import install as _install_cache_check

_install_cache_check()  # before the kernels: their cache check covers the package's sources (core_cache.py)
_BIG = 1 << 40


@njit(cache=True)
def splitmix64(state):
    """Advance ``state[0]`` (uint64 array of length 1) and return the next uint64."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def agent_has_skills(skills, a, req_ids, req_min, drop):
    """True when agent ``a`` holds every required skill at ``req_min - drop`` (at least 1)."""
    for k in range(req_ids.shape[0]):
        need = req_min[k] - drop
        if need < 1:
            need = 1
        if skills[a, req_ids[k]] < need:
            return False
    return True


@njit(cache=True)
def collect_candidates(members, m_from_step, m_penalty, step, max_penalty, presence, lock_kind,
                       load, cap, channel, skills, req_ids, req_min, drop, out):
    """Write the member indices of every candidate into ``out``; return how many."""
    n = 0
    for i in range(members.shape[0]):
        if m_from_step[i] > step or m_penalty[i] > max_penalty:
            continue
        a = members[i]
        if presence[a] != PRESENCE_READY or lock_kind[a] != 0:
            continue
        if load[a, channel] >= cap[a, channel]:
            continue
        if agent_has_skills(skills, a, req_ids, req_min, drop):
            out[n] = i
            n += 1
    return n


@njit(cache=True)
def _lowest_group(cand, n, m_tier, m_penalty, out, by_penalty=True):
    """Keep candidates with the lowest (tier, penalty) — the lowest tier only without ``by_penalty`` —;
    write them to ``out``, return count."""
    bt = 1 << 62
    bp = 1 << 62
    for j in range(n):
        i = cand[j]
        p = m_penalty[i] if by_penalty else 0
        if m_tier[i] < bt or (m_tier[i] == bt and p < bp):
            bt = m_tier[i]
            bp = p
    g = 0
    for j in range(n):
        i = cand[j]
        if m_tier[i] == bt and (m_penalty[i] if by_penalty else 0) == bp:
            out[g] = i
            g += 1
    return g


@njit(cache=True)
def pick_candidate(strategy, cand, n, members, m_tier, m_penalty, m_pos, m_weight, m_calls, m_last_s,
                   idle_rank, answered, talk_s, skills, req_ids, cursor, rng_state):
    """Choose one candidate (a member index) by ``strategy``; -1 when ``n == 0``.

    ``cursor`` is the queue's round-robin memory or the call's top-down cursor
    (a member position; -1 for none). ``m_calls`` / ``m_last_s``: each member's
    calls completed from the queue and when the last one ended (-inf: none).
    ``rng_state`` is consumed only by the random strategies.
    """
    if n == 0:
        return -1
    grp = np.empty(n, dtype=np.int64)
    g = _lowest_group(cand, n, m_tier, m_penalty, grp, strategy != STRAT_WRANDOM)
    if strategy == STRAT_WRANDOM:  # Asterisk: a metric in [0, (penalty + 1) * 1000) each; the lowest wins
        best = -1
        low = np.uint64(0)
        for j in range(g):
            x = splitmix64(rng_state) % np.uint64((m_penalty[grp[j]] + 1) * 1000)
            if best < 0 or x < low:
                best = grp[j]
                low = x
        return best
    if strategy == STRAT_RANDOM:
        return grp[np.int64(splitmix64(rng_state) % np.uint64(g))]
    if strategy == STRAT_WEIGHTED_RANDOM:
        total = 0.0
        for j in range(g):
            total += m_weight[grp[j]]
        u = float(splitmix64(rng_state) >> np.uint64(11)) * (1.0 / 9007199254740992.0) * total
        acc = 0.0
        for j in range(g):
            acc += m_weight[grp[j]]
            if u < acc:
                return grp[j]
        return grp[g - 1]
    best = -1
    k1 = 0.0
    k2 = 0.0
    for j in range(g):
        i = grp[j]
        a = members[i]
        if strategy == STRAT_ROUND_ROBIN or strategy == STRAT_TOP_DOWN:
            d = m_pos[i] - cursor
            c1 = float(d if d > 0 else d + _BIG)
            c2 = 0.0
        elif strategy == STRAT_SEQUENTIAL:
            c1 = float(m_pos[i])
            c2 = 0.0
        elif strategy == STRAT_FEWEST_CALLS:
            c1 = float(answered[a])
            c2 = idle_rank[a]
        elif strategy == STRAT_FEWEST_CALLS_QUEUE:
            c1 = float(m_calls[i])
            c2 = 0.0
        elif strategy == STRAT_LEAST_RECENT:
            c1 = m_last_s[i]
            c2 = 0.0
        elif strategy == STRAT_LEAST_TALK:
            c1 = talk_s[a]
            c2 = idle_rank[a]
        elif strategy == STRAT_MOST_SKILLED:
            s = 0
            for k in range(req_ids.shape[0]):
                s += skills[a, req_ids[k]]
            c1 = -float(s)
            c2 = idle_rank[a]
        else:  # longest idle, preferred-agent fallback, and the ring strategies' first pick
            c1 = idle_rank[a]
            c2 = 0.0
        if best < 0 or c1 < k1 or (c1 == k1 and c2 < k2):
            best = i
            k1 = c1
            k2 = c2
    return best


@njit(cache=True)
def order_candidates(cand, n, m_tier, m_penalty, m_pos, lowest_only):
    """Candidates sorted by (tier, penalty, position, member index).

    With ``lowest_only`` only the lowest (tier, penalty) group is returned
    (ring-all); otherwise all of them (ring-progressively's ringing order).
    """
    sel = cand[:n].copy()
    if lowest_only and n > 0:
        grp = np.empty(n, dtype=np.int64)
        g = _lowest_group(cand, n, m_tier, m_penalty, grp)
        sel = grp[:g]
    sel = np.sort(sel)  # member index: the final tie-break
    for keys in (m_pos, m_penalty, m_tier):  # stable sorts, least significant key first
        order = np.argsort(keys[sel], kind="mergesort")
        sel = sel[order]
    return sel
