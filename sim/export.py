"""The JSON documents and CSV tables of ``simulate`` and ``sweep`` (every field: docs/outputs.md).

JSON: ``simulate_document`` and ``sweep_document`` return plain dicts that
follow sim/schemas/simulate.schema.json and sweep.schema.json; a mean and
its 95% interval are ``{"mean": x, "ci95": [lo, hi]}``, and a value that
does not exist (no calls answered, one replication) is ``null``.

CSV: one header row, then rows; an estimate ``m`` gives three columns ``m``,
``m_lo``, ``m_hi``; a missing value is an empty cell. Times appear twice: as
clock times ``HH:MM`` from the scenario's ``start_clock`` and as seconds
since the start of the run.
"""

from __future__ import annotations

import csv
import io
import math

from busyhour.sim.planning import meets_target
from busyhour.sim.replicate import INTERVAL_MEASURES, QUEUE_MEASURES, Estimate, Summary
from busyhour.sim.scenario import Scenario
from busyhour.sim.sweep import SweepResult

__all__ = ["FORMAT_VERSION", "estimate_json", "meets_target", "schema", "simulate_csv", "simulate_document", "sweep_csv", "sweep_document"]

FORMAT_VERSION = 1
SWEEP_MEASURES = ("service_level", "p_abandon", "p_wait", "asa_s", "occupancy")


def schema(kind: str) -> dict:
    """The JSON Schema of a JSON output (``"simulate"``, ``"sweep"``, ``"demo"``, ``"bench_sim"``), shipped as
    package data."""
    import json
    from importlib.resources import files

    return json.loads(files("busyhour.sim.schemas").joinpath(f"{kind}.schema.json").read_text(encoding="utf-8"))


def _j(x: float) -> float | None:
    return None if x != x or math.isinf(x) else float(x)


def estimate_json(e: Estimate) -> dict:
    return {"mean": _j(e.mean), "ci95": [_j(e.ci95[0]), _j(e.ci95[1])]}


def _measures(obj, names) -> dict:
    return {m: estimate_json(obj[m] if isinstance(obj, dict) else getattr(obj, m)) for m in names}


def simulate_document(s: Summary, scn: Scenario, *, target: float, partial: bool = False,
                      planned_replications: int | None = None) -> dict:
    """The ``simulate --format json`` document."""
    end = scn.horizon_s
    return {
        "format_version": FORMAT_VERSION, "kind": "simulate", "scenario": s.scenario, "seed": s.seed,
        "replications": s.replications, "planned_replications": planned_replications or s.replications,
        "partial": partial, "engine": s.engine, "start_clock": scn.clock(0), "horizon_s": scn.horizon_s, "interval_s": scn.interval_s,
        "warmup_s": scn.warmup_s, "sl_threshold_s": scn.sl_threshold_s, "sl_target": target,
        "overall": {"start": scn.clock(scn.warmup_s), "end": scn.clock(end), "start_s": scn.warmup_s, "end_s": end,
                    **_measures(s.overall, INTERVAL_MEASURES)},
        "queues": [{"queue": name, **_measures(est, QUEUE_MEASURES)} for name, est in s.queues],
        "intervals": [{"start": scn.clock(i.start_s), "end": scn.clock(i.end_s), "start_s": i.start_s,
                       "end_s": i.end_s, **_measures(i, INTERVAL_MEASURES)} for i in s.intervals],
        "agents": [{"agent_id": a.agent_id, "team": a.team,
                    "utilisation": _j(_mean([r.agents[k].utilisation for r in s.runs])),
                    "calls": _j(_mean([r.agents[k].calls for r in s.runs]))}
                   for k, a in enumerate(s.runs[0].agents)],
        "little": [{"replication": r.replication, "mean_in_queue": _j(r.little.mean_in_queue),
                    "arrival_rate_per_s": _j(r.little.arrival_rate_per_s),
                    "mean_time_in_queue_s": _j(r.little.mean_time_in_queue_s)} for r in s.runs],
        "calls_simulated": s.calls_simulated,
    }


def _mean(values: list[float]) -> float:
    ok = [v for v in values if v == v]
    return sum(ok) / len(ok) if ok else math.nan


def _cells(e: Estimate) -> list:
    return [_c(e.mean), _c(e.ci95[0]), _c(e.ci95[1])]


def _c(x: float):
    return "" if x != x or math.isinf(x) else x


def simulate_csv(s: Summary, scn: Scenario, *, partial: bool = False) -> str:
    """The ``simulate --format csv`` table: one ``overall`` row, one row per queue, one per interval."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["scope", "queue", "start", "end", "start_s", "end_s", "replications", "partial", "engine"]
               + [f"{m}{suf}" for m in INTERVAL_MEASURES for suf in ("", "_lo", "_hi")])
    flag = "true" if partial else "false"
    head = [scn.clock(scn.warmup_s), scn.clock(scn.horizon_s), scn.warmup_s, scn.horizon_s, s.replications, flag,
            s.engine]
    w.writerow(["overall", "", *head] + [v for m in INTERVAL_MEASURES for v in _cells(getattr(s.overall, m))])
    blank = Estimate(math.nan, (math.nan, math.nan), math.nan, 0)
    for name, est in s.queues:
        w.writerow(["queue", name, *head] + [v for m in INTERVAL_MEASURES for v in _cells(est.get(m, blank))])
    for i in s.intervals:
        w.writerow(["interval", "", scn.clock(i.start_s), scn.clock(i.end_s), i.start_s, i.end_s, s.replications, flag,
                    s.engine]
                   + [v for m in INTERVAL_MEASURES for v in _cells(getattr(i, m))])
    return buf.getvalue()


def _delta(result: SweepResult, p) -> Estimate | None:
    return result.paired_difference(p) if len(result.strategies()) > 1 else None


def sweep_document(result: SweepResult, *, target: float, threshold_s: float, planned_replications: int) -> dict:
    """The ``sweep --format json`` document."""
    points = []
    for p in result.points:
        d = _delta(result, p)
        points.append({"strategy": p.strategy, "agents": p.agents, "replications": p.summary.replications,
                       "engine": p.summary.engine,
                       **_measures(p.summary, SWEEP_MEASURES),
                       "delta_sl": None if d is None else estimate_json(d),
                       "meets_target": meets_target(p, target)})
    return {"format_version": FORMAT_VERSION, "kind": "sweep", "scenario": result.scenario, "seed": result.seed,
            "planned_replications": planned_replications, "partial": result.partial, "sl_threshold_s": threshold_s,
            "sl_target": target, "baseline_strategy": result.strategies()[0] if result.points else None,
            "points": points}


def sweep_csv(result: SweepResult, *, target: float) -> str:
    """The ``sweep --format csv`` table: one row per (strategy, agents) point."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["strategy", "agents", "replications", "partial"]
               + [f"{m}{suf}" for m in (*SWEEP_MEASURES, "delta_sl") for suf in ("", "_lo", "_hi")] + ["meets_target", "engine"])
    blank = Estimate(math.nan, (math.nan, math.nan), math.nan, 0)
    for p in result.points:
        d = _delta(result, p) or blank
        w.writerow([p.strategy, p.agents, p.summary.replications, "true" if result.partial else "false"]
                   + [v for m in SWEEP_MEASURES for v in _cells(getattr(p.summary, m))] + _cells(d)
                   + ["true" if meets_target(p, target) else "false", p.summary.engine])
    return buf.getvalue()
