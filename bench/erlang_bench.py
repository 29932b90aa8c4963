"""``busyhour bench erlang``: Erlang C speed, side by side with pyworkforce when installed.

Workloads (fixed seed, built once, identical for both libraries):

* ``sl_evals_10k``: 10,000 service-level evaluations, loads uniform in
  1-200 Erlangs (a 15-60 minute interval of a center of up to ~250 agents),
  agents from ceil(load) to load + 3 sqrt(load) + 3, AHT 120-600 s,
  thresholds 10/20/30/60 s.  busyhour: one vectorised ``service_level`` call;
  pyworkforce: ``ErlangC(...).service_level(n)`` per value.
* ``staffing_day_96``: the least agents for 80 % within 20 s in each of the 96
  quarter-hours of a day with a morning and an afternoon peak.  busyhour:
  one vectorised ``agents_for_service_level`` call; pyworkforce:
  ``ErlangC(...).required_positions(0.8)`` per interval.
* ``staffing_plan_96`` (busyhour only): the full ``plan_staffing`` records
  (agents, SL, ASA, occupancy, trunks) for the same day.
* ``limits_*`` (busyhour only, one untimed-warm-up run each): the slowest
  inputs inside the documented limits and the refusal of one beyond them --
  least agents at 999 million Erlangs, the load 10**9 lines carry at
  blocking 1e-300, Erlang B for 10**9 lines under 1e300 Erlangs, and the
  refusal of a staffing search at 1e300 Erlangs.

Order: untimed warm-up (JIT compile), then the correctness check (the two
libraries agree where pyworkforce is valid; where it is not, what it returns
is recorded under ``pyworkforce_findings``), then the median of ``repeats``
timed runs (pyworkforce: a third as many, at least 3).  Speed is reported,
never asserted.
"""

from __future__ import annotations

import platform
import statistics
import time
from typing import Any, Callable

import numpy as np

SEED = 20260322


def sl_workload(size: int = 10_000) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(SEED)
    load = rng.uniform(1.0, 200.0, size)
    extra = rng.uniform(0.0, 3.0 * np.sqrt(load) + 3.0)
    agents = np.ceil(load + extra).astype(np.int64)
    aht = rng.uniform(120.0, 600.0, size)
    thr = rng.choice(np.array([10.0, 20.0, 30.0, 60.0]), size)
    return agents, load, aht, thr


def day_workload(intervals: int = 96) -> tuple[np.ndarray, np.ndarray, float]:
    """Calls per quarter-hour (two peaks, quiet night) and AHT; interval length in s."""
    h = np.arange(intervals) * 24.0 / intervals
    calls = 4 + 260 * np.exp(-((h - 10.5) / 1.6) ** 2) + 210 * np.exp(-((h - 14.75) / 1.9) ** 2)
    aht = 240.0 + 40.0 * np.cos(h / 24 * 2 * np.pi)
    return np.round(calls), aht, 24 * 3600.0 / intervals


def _median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _busyhour_calls():
    from busyhour.erlang import ForecastInterval, agents_for_service_level, plan_staffing, service_level

    agents, load, aht, thr = sl_workload()
    calls, day_aht, interval_s = day_workload()
    day_load = calls * day_aht / interval_s
    rows = [ForecastInterval(f"{i // 4:02d}:{15 * (i % 4):02d}", float(c), float(h), interval_s / 60)
            for i, (c, h) in enumerate(zip(calls, day_aht))]
    return (lambda: service_level(agents, load, aht, thr),
            lambda: agents_for_service_level(day_load, day_aht, 20.0, 0.8),
            lambda: plan_staffing(rows, target_sl=0.8, threshold_s=20.0))


def limit_calls() -> dict[str, Callable[[], Any]]:
    """The slowest accepted inputs, and one refusal, keyed by their result name (see the module doc)."""
    from busyhour.erlang import agents_for_service_level, erlang_b, load_for_blocking

    def refuse():
        try:
            agents_for_service_level(1e300, 180.0, 20.0, 0.8)
        except ValueError:
            return True
        raise AssertionError("a load of 1e300 Erlangs was not refused")

    return {"limits_staffing_999m_erl_ms": lambda: agents_for_service_level(9.99e8, 180.0, 20.0, 0.8),
            "limits_load_for_blocking_1e9_lines_ms": lambda: load_for_blocking(10**9, 1e-300),
            "limits_erlang_b_1e9_lines_1e300_erl_ms": lambda: erlang_b(10**9, 1e300),
            "limits_refuse_search_1e300_erl_ms": refuse}


def _pyworkforce_calls():
    from pyworkforce.queuing import ErlangC

    agents, load, aht, thr = sl_workload()
    calls, day_aht, interval_s = day_workload()

    def sl():
        return [ErlangC(transactions=a * 1800.0 / h, aht=h, asa=t, interval=1800.0).service_level(int(n))
                for n, a, h, t in zip(agents, load, aht, thr)]

    def day():
        return [ErlangC(transactions=c, aht=h, asa=20.0, interval=interval_s).required_positions(0.8)["raw_positions"]
                if c > 0 else 0 for c, h in zip(calls, day_aht)]

    return sl, day


def _findings() -> list[str]:
    """Probe pyworkforce where busyhour's tests pin the exact answer; record what it returns."""
    from pyworkforce.queuing import ErlangC

    from busyhour.erlang import agents_for_service_level, erlang_c, service_level

    out = []
    e = ErlangC(transactions=1000, aht=180, asa=20, interval=1800)  # 100 Erlangs
    for n in (50, 90, 100):
        out.append(f"P(wait) with {n} agents at 100 Erl: pyworkforce {e.waiting_probability(n):.4g}, "
                   f"busyhour {erlang_c(n, 100.0):.4g}")
    try:
        e.service_level(0)
        out.append("zero agents: no error")
    except Exception as exc:  # noqa: BLE001 - recording what the peer does
        out.append(f"zero agents: pyworkforce raises {type(exc).__name__}: {exc}")
    for target in (0.2, 0.8):
        diff, examples = 0, []
        loads = np.linspace(0.55, 60.55, 601)
        for a in loads:
            pw = ErlangC(transactions=a * 10, aht=180, asa=20, interval=1800).required_positions(target)["raw_positions"]
            bh = agents_for_service_level(a, 180, 20, target)
            if pw != bh:
                diff += 1
                if len(examples) < 2:
                    examples.append(f"{a:.2f} Erl: pyworkforce {pw}, busyhour {bh} "
                                    f"(SL {service_level(bh, a, 180, 20):.3f} at {bh})")
        out.append(f"least agents for {target:.0%}/20 s over {loads.size} loads 0.55-60.55 Erl: "
                   f"pyworkforce differs in {diff}" + (": " + "; ".join(examples) if examples else ""))
    return out


def _check(bh_sl, bh_day, pw_sl, pw_day) -> dict[str, Any]:
    agents, load, _, _ = sl_workload()
    bh, pw = np.asarray(bh_sl()), np.asarray(pw_sl(), dtype=float)
    valid = agents > load
    rel = np.abs(bh[valid] - pw[valid]) / np.maximum(bh[valid], 1e-300)
    if rel.max() > 1e-9:
        raise AssertionError(f"service levels disagree: max relative difference {rel.max():.3g}")
    day_bh, day_pw = np.asarray(bh_day()), np.asarray(pw_day())
    return {"check_sl_max_rel_diff": float(rel.max()), "check_sl_compared": int(valid.sum()),
            "check_day_agent_mismatches": int((day_bh != day_pw).sum())}


def run(repeats: int = 15, peers: bool = True) -> dict[str, Any]:
    """Run the workloads; return a flat JSON-ready dict of medians (ms), ratios and checks."""
    bh_sl, bh_day, bh_plan = _busyhour_calls()
    for fn in (bh_sl, bh_day, bh_plan):  # untimed warm-up: JIT compile / cache load
        fn()
    result: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                              "repeats": repeats, "seed": SEED}
    pw = None
    if peers:
        try:
            pw = _pyworkforce_calls()
        except ImportError:
            result["pyworkforce"] = "not installed"
    if pw is not None:
        import pyworkforce

        result["pyworkforce"] = getattr(pyworkforce, "__version__", "installed")
        result.update(_check(bh_sl, bh_day, *pw))
        result["pyworkforce_findings"] = _findings()
    result["sl_evals_10k_ms"] = _median_ms(bh_sl, repeats)
    result["staffing_day_96_ms"] = _median_ms(bh_day, repeats)
    result["staffing_plan_96_ms"] = _median_ms(bh_plan, repeats)
    for key, fn in limit_calls().items():
        fn()  # warm-up
        result[key] = _median_ms(fn, 1)
    if pw is not None:
        slow = max(3, repeats // 3)
        result["pyworkforce_sl_evals_10k_ms"] = _median_ms(pw[0], slow)
        result["pyworkforce_staffing_day_96_ms"] = _median_ms(pw[1], slow)
        result["speedup_sl"] = result["pyworkforce_sl_evals_10k_ms"] / result["sl_evals_10k_ms"]
        result["speedup_staffing"] = result["pyworkforce_staffing_day_96_ms"] / result["staffing_day_96_ms"]
    return {k: (float(f"{v:.4g}") if k.endswith(("_ms", "speedup_sl", "speedup_staffing")) else v)
            for k, v in result.items()}


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(run(), indent=2))
