"""Simulator throughput: M/M/100 at 90 Erlangs, calls through the real routing engine.

Workload: one queue, 100 identical agents, Poisson arrivals at 0.5/s,
exponential talk times of mean 180 s (A = 90 Erlangs, ρ = 0.9), no
abandonment, no wrap-up; ``calls`` simulated calls per timed run.

Protocol (bench/README habits): fixed seeds; an untimed warm-up run (JIT,
imports, caches) that doubles as the correctness check, then
``repeats`` timed rounds, reporting medians. Each round runs, in the same
process and on the same workload (interleaved, so background load hits all
three alike):

* ``calls_per_s``: ``simulate`` as planners run it — the compiled path
  (sim/fast.py: driver.py's loop on the compiled router core, SimPy stepping
  interval to interval), which this scenario qualifies for;
* ``simpy_driver_calls_per_s``: the SimPy driver on ``Router``'s per-call
  methods (``engine="python"``), on a fifth of the calls to bound the time;
* ``engine_only_calls_per_s``: ``Router``'s per-call methods driven by a bare
  heapq loop (no SimPy, no measurement);
* ``ciw_calls_per_s``: the same M/M/100 in Ciw, when Ciw is installed
  (``pip install -e '.[peers]'``).

The ``busy_hour_*`` figures (``busy_hour=True``) time replications of
examples/busy_hour.toml: ``busy_hour_calls_per_s`` as ``simulate`` runs it
(``busy_hour_engine`` says which driver that is — the compiled loop —,
``busy_hour_unsupported`` what would keep it off the compiled path),
``busy_hour_simpy_calls_per_s`` the same on the SimPy driver, and
``busy_hour_ratio_vs_ciw`` against Ciw; and the same scenario without what
Ciw cannot model (its escalation step and callback offer) on the compiled
loop, the SimPy driver and — modelled as far as Ciw can (``ciw_busy_hour``)
— Ciw. Before timing, one replication of the scenario and one of the variant
must give the same ``RunResult`` on both drivers. ``load_average``: the
machine's 1, 5 and 15-minute load averages when the timing ends (``"a / b / c"``).

Correctness check: ``n`` = ``calls`` clamped to [20,000, 100,000] calls
(fewer cannot tell a wrong engine from noise: a run of 1,000 calls from an
empty system is mostly start-up), the first tenth of the run deleted as
warm-up, and the remaining nine intervals as batch means. The run's p_wait
must be within ``t(0.9995, 8) · SE`` (≈ 5 standard errors, a 0.1 % false
alarm rate) of Erlang C(100, 90); the SE shrinks like 1/√n, so the
tolerance does too. Little's identity must hold to rounding.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import os
import platform
import statistics
import time

import numpy as np

AGENTS, LOAD, AHT_S = 100, 90.0, 180.0
RATE_PER_S = LOAD / AHT_S
SEED = 20240611


CHECK_MIN_CALLS, CHECK_MAX_CALLS = 20_000, 100_000


def scenario(calls: int, warmup_intervals: int = 0):
    from busyhour.sim.scenario import parse_scenario

    horizon = calls / RATE_PER_S
    return parse_scenario({
        "name": "mm100", "horizon_s": horizon, "interval_s": horizon / 10, "seed": SEED,
        "warmup_s": warmup_intervals * (horizon / 10),
        "queues": [{"name": "q", "calls_per_hour": RATE_PER_S * 3600,
                    "handle_time": {"dist": "exponential", "mean_s": AHT_S}}],
        "teams": [{"name": "t", "agents": AGENTS, "skills": {"q": 1}}],
    })


def erlang_c(c: int, a: float) -> float:
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b / (1.0 - (a / c) * (1.0 - b))


def check_scenario(calls: int):
    """The correctness check's workload: ``calls`` clamped, the first interval of ten as warm-up."""
    return scenario(min(max(calls, CHECK_MIN_CALLS), CHECK_MAX_CALLS), warmup_intervals=1)


def check_correct(run) -> None:
    """p_wait of the run against Erlang C; SE from its intervals (all after the warm-up) as batch means."""
    from busyhour.sim.tdist import t_quantile

    pw = np.array([i.p_wait for i in run.intervals])
    se = pw.std(ddof=1) / math.sqrt(pw.size)
    theory = erlang_c(AGENTS, LOAD)
    tol = t_quantile(0.9995, pw.size - 1) * se
    assert abs(run.overall.p_wait - theory) <= tol, (
        f"p_wait {run.overall.p_wait:.4f} vs Erlang C {theory:.4f} (tolerance {tol:.4f} = t · SE {se:.4f})")
    assert run.little.identity_gap < 1e-9, "Little's identity broken"


def engine_only(calls: int) -> float:
    """Calls per second of the router under a bare heapq loop (the engine's ceiling)."""
    from busyhour.router import EventKind, Router

    from busyhour.sim.routing import router_config

    r = Router.from_config(router_config(scenario(calls)), collect_stats=False)
    ids = [f"t-{k + 1:03d}" for k in range(AGENTS)]
    for a in ids:
        r.agent_login(0.0, a, ready=True)
    rng = np.random.default_rng(SEED)
    arr = np.cumsum(rng.exponential(1 / RATE_PER_S, calls)).tolist()
    hold = rng.exponential(AHT_S, calls).tolist()
    offered, connected = EventKind.CALL_OFFERED, EventKind.CALL_CONNECTED
    heap: list = []

    def react(evs, t):
        for ev in evs:
            if ev.kind is offered:
                react(r.offer_accept(t, ev.call_id, ev.agent_id), t)
            elif ev.kind is connected:
                heapq.heappush(heap, (t + hold[ev.call_id], ev.call_id))

    t0 = time.perf_counter()
    i = 0
    for _ in range(4 * calls + 10):
        ta = arr[i] if i < calls else math.inf
        th = heap[0][0] if heap else math.inf
        td = r.next_deadline()
        t = min(ta, th, td)
        if t == math.inf:
            break
        if td == t:
            react(r.advance(t), t)
        elif th == t:
            react(r.call_release(t, heapq.heappop(heap)[1]), t)
        else:
            react(r.call_arrive(t, i, "q"), t)
            i += 1
    return calls / (time.perf_counter() - t0)


def ciw_once(calls: int) -> float | None:
    try:
        import ciw
    except ImportError:
        return None
    net = ciw.create_network(arrival_distributions=[ciw.dists.Exponential(rate=RATE_PER_S)],
                             service_distributions=[ciw.dists.Exponential(rate=1 / AHT_S)],
                             number_of_servers=[AGENTS])
    ciw.seed(SEED)
    t0 = time.perf_counter()
    q = ciw.Simulation(net)
    q.simulate_until_max_time(calls / RATE_PER_S)
    done = len(q.get_all_records())
    return done / (time.perf_counter() - t0)


def busy_hour_variant():
    """examples/busy_hour.toml, and the same scenario without what Ciw cannot model (its escalation
    step and callback offer) — the variant timed beside Ciw."""
    from pathlib import Path

    from busyhour.sim.scenario import CallbackOffer, load_scenario

    scn = load_scenario(Path(__file__).resolve().parents[1] / "examples" / "busy_hour.toml")
    queues = tuple(dataclasses.replace(q, callback=CallbackOffer(),
                                       router={k: v for k, v in q.router.items() if k != "escalation"})
                   for q in scn.queues)
    return scn, dataclasses.replace(scn, queues=queues, name="busy-hour-no-escalation-no-callbacks")


def _calls_per_s(scn, replications: int, engine: str) -> float:
    from busyhour.sim.driver import simulate

    runs = [simulate(scn, r, engine=engine) for r in range(replications)]
    return sum(r.calls_simulated for r in runs) / sum(r.wall_s for r in runs)


def ciw_busy_hour(scn, replications: int) -> float | None:
    """busy_hour.toml as far as Ciw models it: one pool of all 60 agents (no skills or teams, so no
    escalation), three classes with their own 15-minute Poisson rates, talk + after-call work as one
    service time, patience as reneging, billing served first; no breaks, redials or callbacks."""
    try:
        import ciw
    except ImportError:
        return None
    from busyhour.sim import distributions as d
    from busyhour.sim.routing import after_call_work

    def dist(x):
        if isinstance(x, d.Exponential):
            return ciw.dists.Exponential(rate=1 / x.mean_s)
        if isinstance(x, d.LogNormal):
            sigma2 = math.log1p(x.cv * x.cv)
            return ciw.dists.Lognormal(math.log(x.mean_s) - sigma2 / 2, math.sqrt(sigma2))
        if isinstance(x, d.Gamma):
            shape = 1 / (x.cv * x.cv)
            return ciw.dists.Gamma(shape, x.mean_s / shape)
        if isinstance(x, d.Weibull):
            return ciw.dists.Weibull(x.mean_s / math.gamma(1 + 1 / x.shape), x.shape)
        return ciw.dists.Deterministic(x.value_s)

    ends = [min((k + 1) * scn.interval_s, scn.horizon_s) for k in range(scn.n_intervals)]
    names = [q.name for q in scn.queues]
    net = ciw.create_network(
        arrival_distributions={q.name: [ciw.dists.PoissonIntervals([c / scn.interval_s for c in q.calls_per_interval],
                                                                   ends, scn.horizon_s)] for q in scn.queues},
        service_distributions={q.name: [dist(q.handle_time) + dist(after_call_work(scn, q))] for q in scn.queues},
        reneging_time_distributions={q.name: [dist(q.patience)] for q in scn.queues},
        priority_classes={n: (0 if q.priority > 0 else 1) for n, q in zip(names, scn.queues)},
        number_of_servers=[scn.n_agents])
    done, wall = 0, 0.0
    for r in range(replications):
        ciw.seed(SEED + r)
        t0 = time.perf_counter()
        q = ciw.Simulation(net)
        q.simulate_until_max_time(scn.horizon_s + 3600)
        done += len(q.get_all_records())
        wall += time.perf_counter() - t0
    return done / wall


def busy_hour_rows(calls: int, repeats: int, with_ciw: bool) -> dict:
    """The ``busy_hour_*`` figures: replications of examples/busy_hour.toml (about 1,800 calls each,
    one per 50,000 ``calls``, 1 to 20) as ``simulate`` runs it, and the variant on both drivers and Ciw."""
    from busyhour.sim.fast import choose_engine, unsupported

    scn, variant = busy_hour_variant()
    reps = min(max(calls // 50_000, 1), 20)
    from busyhour.sim.driver import simulate

    for s, name in ((scn, "busy_hour"), (variant, "busy_hour variant")):  # untimed
        fast, slow = simulate(s, 0), simulate(s, 0, engine="simpy")
        assert repr(dataclasses.replace(fast, wall_s=0.0, engine="")) == repr(
            dataclasses.replace(slow, wall_s=0.0, engine="")), f"{name}: the compiled loop and the SimPy driver differ"
    auto, full_slow, comp, slow, ciw_r = [], [], [], [], []
    for _ in range(repeats):  # interleaved, as above
        auto.append(_calls_per_s(scn, reps, "auto"))
        full_slow.append(_calls_per_s(scn, reps, "simpy"))
        comp.append(_calls_per_s(variant, reps, "compiled"))
        slow.append(_calls_per_s(variant, reps, "simpy"))
        ciw_r.append(ciw_busy_hour(variant, reps) if with_ciw else None)
    out = {"busy_hour_replications": reps, "busy_hour_engine": choose_engine(scn),
           "busy_hour_unsupported": "; ".join(unsupported(scn)), "busy_hour_calls_per_s": statistics.median(auto),
           "busy_hour_calls_per_s_runs": auto, "busy_hour_simpy_calls_per_s": statistics.median(full_slow),
           "busy_hour_variant_compiled_calls_per_s": statistics.median(comp),
           "busy_hour_variant_simpy_calls_per_s": statistics.median(slow)}
    if ciw_r[0] is not None:
        out["busy_hour_variant_ciw_calls_per_s"] = statistics.median(ciw_r)
        out["busy_hour_ratio_vs_ciw"] = out["busy_hour_calls_per_s"] / out["busy_hour_variant_ciw_calls_per_s"]
        out["busy_hour_variant_ratio_vs_ciw"] = out["busy_hour_variant_compiled_calls_per_s"] / out[
            "busy_hour_variant_ciw_calls_per_s"]
    return out


def run_benchmark(calls: int = 1_000_000, repeats: int = 3, with_ciw: bool = True, busy_hour: bool = True) -> dict:
    """Warm up, check correctness, time; return the JSON-able report."""
    from busyhour.sim.driver import simulate

    warm = simulate(check_scenario(calls), 0)  # untimed: JIT, imports; and the correctness check
    check_correct(warm)
    scn = scenario(calls)
    small = scenario(max(1000, calls // 5))
    rates, p_wait, engine, ciw_rates, simpy_rates = [], [], [], [], []
    for rep in range(repeats):  # interleaved, so a busy machine slows all four alike
        run = simulate(scn, rep)
        rates.append(run.calls_simulated / run.wall_s)
        p_wait.append(run.overall.p_wait)
        slow = simulate(small, rep, engine="python")
        simpy_rates.append(slow.calls_simulated / slow.wall_s)
        engine.append(engine_only(calls))
        ciw_rates.append(ciw_once(calls) if with_ciw else None)
    report = {
        "workload": f"M/M/{AGENTS} at {LOAD:g} Erlangs, aht {AHT_S:g} s, {calls} calls per run",
        "calls": calls, "repeats": repeats, "seed": SEED,
        "calls_per_s": statistics.median(rates), "calls_per_s_runs": rates,
        "engine_only_calls_per_s": statistics.median(engine),
        "simpy_driver_calls_per_s": statistics.median(simpy_rates),
        "p_wait": statistics.mean(p_wait), "p_wait_erlang_c": erlang_c(AGENTS, LOAD),
        "python": platform.python_version(), "machine": platform.machine(),
    }
    if ciw_rates[0] is not None:
        report["ciw_calls_per_s"] = statistics.median(ciw_rates)
        report["ciw_calls_per_s_runs"] = ciw_rates
        report["ratio_vs_ciw"] = report["calls_per_s"] / report["ciw_calls_per_s"]
    if busy_hour:
        report.update(busy_hour_rows(calls, repeats, with_ciw))
    report["load_average"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())  # 1, 5, 15 minutes
    return report
