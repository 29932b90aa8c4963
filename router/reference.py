"""Slow, obviously-correct pure-Python twins of :mod:`busyhour.router.kernels`.

Written independently of the kernels (sorting by key tuples rather than
scanning) so that the differential tests in ``tests/kernels`` compare two
readings of the same rule in docs/routing.md.
"""

from __future__ import annotations

from .codes import (
    PRESENCE_READY, STRAT_FEWEST_CALLS, STRAT_FEWEST_CALLS_QUEUE, STRAT_LEAST_RECENT, STRAT_LEAST_TALK,
    STRAT_MOST_SKILLED, STRAT_RANDOM, STRAT_ROUND_ROBIN, STRAT_SEQUENTIAL, STRAT_TOP_DOWN, STRAT_WEIGHTED_RANDOM,
    STRAT_WRANDOM,
)

_MASK = (1 << 64) - 1


def splitmix64(state) -> int:
    s = (int(state[0]) + 0x9E3779B97F4A7C15) & _MASK
    state[0] = s
    z = s
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def agent_has_skills(skills, a, req_ids, req_min, drop) -> bool:
    return all(int(skills[a, s]) >= max(1, int(m) - drop) for s, m in zip(req_ids, req_min))


def collect_candidates(members, m_from_step, m_penalty, step, max_penalty, presence, lock_kind,
                       load, cap, channel, skills, req_ids, req_min, drop, out) -> int:
    found = [
        i for i, a in enumerate(members)
        if m_from_step[i] <= step and m_penalty[i] <= max_penalty
        and presence[a] == PRESENCE_READY and lock_kind[a] == 0
        and load[a, channel] < cap[a, channel]
        and agent_has_skills(skills, a, req_ids, req_min, drop)
    ]
    for j, i in enumerate(found):
        out[j] = i
    return len(found)


def _lowest(cand, n, m_tier, m_penalty, by_penalty=True) -> list[int]:
    pool = [int(i) for i in cand[:n]]

    def group(i: int) -> tuple[int, int]:
        return int(m_tier[i]), int(m_penalty[i]) if by_penalty else 0
    best = min(group(i) for i in pool)
    return [i for i in pool if group(i) == best]


def pick_candidate(strategy, cand, n, members, m_tier, m_penalty, m_pos, m_weight, m_calls, m_last_s,
                   idle_rank, answered, talk_s, skills, req_ids, cursor, rng_state) -> int:
    if n == 0:
        return -1
    grp = _lowest(cand, n, m_tier, m_penalty, strategy != STRAT_WRANDOM)
    if strategy == STRAT_WRANDOM:  # each draws its metric in turn; the first of the lowest wins
        metrics = [(splitmix64(rng_state) % ((int(m_penalty[i]) + 1) * 1000), j) for j, i in enumerate(grp)]
        return grp[min(metrics)[1]]
    if strategy == STRAT_RANDOM:
        return grp[splitmix64(rng_state) % len(grp)]
    if strategy == STRAT_WEIGHTED_RANDOM:
        total = sum(float(m_weight[i]) for i in grp)
        u = float(splitmix64(rng_state) >> 11) * (1.0 / 9007199254740992.0) * total
        acc = 0.0
        for i in grp:
            acc += float(m_weight[i])
            if u < acc:
                return i
        return grp[-1]

    def key(i: int) -> tuple:
        a = members[i]
        if strategy in (STRAT_ROUND_ROBIN, STRAT_TOP_DOWN):
            d = int(m_pos[i]) - cursor
            return (d if d > 0 else d + (1 << 40), 0.0, i)
        if strategy == STRAT_SEQUENTIAL:
            return (int(m_pos[i]), 0.0, i)
        if strategy == STRAT_FEWEST_CALLS:
            return (int(answered[a]), float(idle_rank[a]), i)
        if strategy == STRAT_FEWEST_CALLS_QUEUE:
            return (int(m_calls[i]), 0.0, i)
        if strategy == STRAT_LEAST_RECENT:
            return (float(m_last_s[i]), 0.0, i)
        if strategy == STRAT_LEAST_TALK:
            return (float(talk_s[a]), float(idle_rank[a]), i)
        if strategy == STRAT_MOST_SKILLED:
            return (-sum(int(skills[a, s]) for s in req_ids), float(idle_rank[a]), i)
        return (float(idle_rank[a]), 0.0, i)

    return min(grp, key=key)


def order_candidates(cand, n, m_tier, m_penalty, m_pos, lowest_only):
    pool = _lowest(cand, n, m_tier, m_penalty) if (lowest_only and n > 0) else [int(i) for i in cand[:n]]
    return sorted(pool, key=lambda i: (int(m_tier[i]), int(m_penalty[i]), int(m_pos[i]), i))
