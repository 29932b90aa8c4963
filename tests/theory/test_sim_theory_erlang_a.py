"""M/M/c+M (exponential patience) through the real router against Erlang A.

The theory is computed here from the birth-death chain (Palm's model):
π_n ∝ A^n/n! for n ≤ c, π_{c+j} = π_c · Π_{i=1..j} λ / (cμ + iθ).

1. P(abandon) = θ·E[queue length] / λ (rate balance, exact);
2. P(wait > 0) = P(N ≥ c) (PASTA);
3. SL(T) = P(answered within T): a caller with j ahead moves up at rate
   cμ + iθ (i ahead), is answered at rate cμ from the head and abandons at
   rate θ throughout; that absorbing chain is solved by uniformization;
4. Little's law on every replication.

Tolerance: 4 × SE of the replication means + 0.005 (warm-up and ratio bias,
see test_sim_theory_erlang_c.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from busyhour.sim.replicate import replicate
from theory_checks import assert_littles_law
from busyhour.sim.scenario import parse_scenario

pytestmark = pytest.mark.slow

AGENTS, LOAD, AHT_S, PATIENCE_S, REPS, T_S = 10, 9.5, 180.0, 120.0, 40, 20.0
MAX_WAITING = 400  # truncation of the chain: π beyond it is < 1e-30 here


def erlang_a():
    lam, mu, theta, c = LOAD / AHT_S, 1.0 / AHT_S, 1.0 / PATIENCE_S, AGENTS
    w = np.empty(c + MAX_WAITING + 1)
    w[0] = 1.0
    for n in range(1, w.size):
        w[n] = w[n - 1] * lam / (n * mu if n <= c else c * mu + (n - c) * theta)
    pi = w / w.sum()
    queue = np.arange(MAX_WAITING + 1)
    p_ab = theta * float((queue * pi[c:]).sum()) / lam
    p_wait = float(pi[c:].sum())
    # SL: stages "i ahead" (i = 0..MAX); served from stage 0 at rate cμ.
    rates = c * mu + queue * theta
    big = float(rates.max() + theta)
    v = pi[c:].copy()  # arriving caller finds j = n - c ahead
    served = 0.0
    poisson, cum = math.exp(-big * T_S), 0.0
    answered_by_t = float(pi[:c].sum()) * 1.0  # answered at once
    for n in range(10_000):
        cum += poisson * served
        if poisson < 1e-18 and n > big * T_S:
            break
        served += v[0] * rates[0] / big
        move = v * rates / big
        stay = v * (1.0 - (rates + theta) / big)
        v = stay
        v[:-1] += move[1:]
        poisson *= big * T_S / (n + 1)
    return p_ab, p_wait, answered_by_t + cum


@pytest.fixture(scope="module")
def summary():
    scn = parse_scenario({
        "horizon_s": 8 * 3600, "interval_s": 3600, "warmup_s": 1800, "seed": 11,
        "queues": [{"name": "q", "calls_per_hour": LOAD / AHT_S * 3600,
                    "handle_time": {"dist": "exponential", "mean_s": AHT_S},
                    "patience": {"dist": "exponential", "mean_s": PATIENCE_S}}],
        "teams": [{"name": "t", "agents": AGENTS, "skills": {"q": 1}}],
    })
    return replicate(scn, REPS, workers=1)


def test_theory_is_sane():
    p_ab, p_wait, sl = erlang_a()
    assert 0 < p_ab < p_wait < 1 and 0 < sl < 1 - p_ab


def test_abandonment_is_erlang_a(summary):
    est = summary.p_abandon
    assert abs(est.mean - erlang_a()[0]) <= 4 * est.se + 0.005, est


def test_p_wait_is_erlang_a(summary):
    est = summary.p_wait
    assert abs(est.mean - erlang_a()[1]) <= 4 * est.se + 0.005, est


def test_service_level_is_erlang_a(summary):
    est = summary.service_level
    assert abs(est.mean - erlang_a()[2]) <= 4 * est.se + 0.005, est


def test_littles_law_every_replication(summary):
    assert_littles_law(summary)
