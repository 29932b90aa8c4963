"""Interval staffing plans: agents, scheduled staff and trunks for a forecast day.

For each interval: load = calls x AHT / interval length; the least agents
meeting the service-level target (Erlang C, or Erlang A when a mean patience
is given), optionally capped by a maximum occupancy; scheduled staff after
shrinkage; and the trunks (lines) needed.

Trunk model: a line is held from arrival until the caller leaves the system,
i.e. for the wait plus, when answered, the handling time.  The trunk load is
``calls/s x (mean wait + P(answered) x AHT)`` (Erlang C: load x (1 + ASA/AHT))
and the trunks are the least lines whose Erlang B blocking at that load is at
most ``trunk_blocking``.  Erlang B is insensitive to the holding-time
distribution, so this is the standard sizing; it ignores that the callers
blocked at the trunks would also have shortened the queue (conservative).

An interval with zero calls needs zero agents and zero trunks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _validate as v
from .erlang_a import agents_for_erlang_a, erlang_a
from .forecast import Forecast, ForecastInterval
from .formulas import erlang_c_metrics, scheduled_staff, trunks_for_blocking
from .staffing import agents_for_service_level


class IntervalStaffing(NamedTuple):
    """Requirements and expected performance of one interval."""

    interval_start: str
    calls: float
    aht_s: float
    load_erl: float
    agents: int
    scheduled: int
    service_level: float
    asa_s: float
    occupancy: float
    p_abandon: float
    trunks: int


class StaffingPlan(NamedTuple):
    """A day's plan: the intervals plus totals and peaks."""

    intervals: tuple[IntervalStaffing, ...]
    model: str
    """``"erlang_c"`` or ``"erlang_a"``."""
    target_sl: float
    threshold_s: float
    interval_min: float
    total_calls: float
    agent_hours: float
    scheduled_hours: float
    service_level: float
    """Call-weighted service level over the day."""
    asa_s: float
    """Call-weighted average speed of answer."""
    occupancy: float
    """Agent-hour weighted: carried load hours / agent hours."""
    p_abandon: float
    """Call-weighted abandonment probability."""
    peak_interval: str
    peak_agents: int
    peak_scheduled: int
    peak_trunks: int


def _check_loads(rows, load: np.ndarray) -> None:
    """Refuse, naming the interval, a load the searches cannot staff (see ``_validate.load``)."""
    bad = ~(load < v.MAX_SEARCH_LOAD_ERL) | ((load > 0) & (load < v.MIN_LOAD_ERL))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"load of interval {rows[i].interval_start} is {load[i]:.6g} Erlangs (calls x aht_s / "
                         f"interval); it must be 0 or between {v.MIN_LOAD_ERL:g} and "
                         f"{v.MAX_SEARCH_LOAD_ERL:.0e} Erlangs")


def plan_staffing(forecast: Forecast | list[ForecastInterval], *, target_sl: float, threshold_s: float,
                  aht_s: float | None = None, shrinkage: float = 0.0, max_occupancy: float | None = None,
                  patience_s: float | None = None, trunk_blocking: float = 0.01) -> StaffingPlan:
    """Staff every interval of ``forecast`` (rows without ``aht_s`` use ``aht_s``)."""
    rows = forecast.intervals if isinstance(forecast, Forecast) else tuple(forecast)
    if not rows:
        raise ValueError("forecast has no intervals")
    v.probability("target_sl", target_sl)
    v.wait("threshold_s", threshold_s)
    v.real("shrinkage", shrinkage, high=1.0, high_open=True)
    v.probability("trunk_blocking", trunk_blocking)
    if max_occupancy is not None:
        v.real("max_occupancy", max_occupancy, low_open=True, high=1.0)
    if patience_s is not None:
        v.wait("patience_s", patience_s, allow_inf=True)
    if aht_s is not None:
        v.real("aht_s", aht_s, low_open=True)
    missing = [r.interval_start for r in rows if r.aht_s is None]
    if missing and aht_s is None:
        raise ValueError(f"aht_s must be given: the forecast has no aht_s for interval {missing[0]}")
    calls = np.array([r.calls for r in rows], dtype=float)
    aht = np.array([aht_s if r.aht_s is None else r.aht_s for r in rows], dtype=float)
    minutes = np.array([r.interval_min for r in rows], dtype=float)
    with np.errstate(over="ignore"):
        load = calls * aht / (minutes * 60.0)
    _check_loads(rows, load)
    busy = calls > 0
    a, h = load[busy], aht[busy]
    agents = np.zeros(len(rows), dtype=np.int64)
    sl = np.ones(len(rows))
    asa_s = np.zeros(len(rows))
    occ = np.zeros(len(rows))
    p_ab = np.zeros(len(rows))
    trunks = np.zeros(len(rows), dtype=np.int64)
    if patience_s is None:
        model = "erlang_c"
        n = agents_for_service_level(a, h, threshold_s, target_sl, max_occupancy)
        m = erlang_c_metrics(n, a, h, threshold_s)  # one walk per interval for SL, ASA and occupancy
        s, q, o = m.service_level, m.asa_s, m.occupancy
        ab, trunk_load = np.zeros_like(a), a * (1.0 + q / h)
    else:
        model = "erlang_a"
        n = agents_for_erlang_a(a, h, patience_s, threshold_s, target_sl=target_sl,
                                max_occupancy=max_occupancy)
        r = erlang_a(n, a, h, patience_s, threshold_s)
        s, q, o, ab = r.service_level, r.asa_s, r.occupancy, r.p_abandon
        trunk_load = a * ((1.0 - r.p_abandon) + r.mean_wait_s / h)
    if a.size:
        agents[busy], sl[busy], asa_s[busy], occ[busy], p_ab[busy] = n, s, q, o, ab
        trunks[busy] = trunks_for_blocking(trunk_load, trunk_blocking)
    sched = np.asarray(scheduled_staff(agents, shrinkage))
    hours = minutes / 60.0
    intervals = tuple(
        IntervalStaffing(r.interval_start, float(calls[i]), float(aht[i]), float(load[i]), int(agents[i]),
                         int(sched[i]), float(sl[i]), float(asa_s[i]), float(occ[i]), float(p_ab[i]),
                         int(trunks[i]))
        for i, r in enumerate(rows))
    total_calls = float(calls.sum())
    weight = calls / total_calls if total_calls > 0 else np.full(len(rows), 1.0 / len(rows))
    peak = int(np.argmax(agents))
    agent_sum = float((agents * hours).sum())
    return StaffingPlan(
        intervals=intervals, model=model, target_sl=float(target_sl), threshold_s=float(threshold_s),
        interval_min=float(minutes[0]), total_calls=total_calls, agent_hours=agent_sum,
        scheduled_hours=float((sched * hours).sum()),
        service_level=float((weight * sl).sum()), asa_s=float((weight * asa_s).sum()),
        occupancy=float((occ * agents * hours).sum() / agent_sum) if agent_sum > 0 else 0.0,
        p_abandon=float((weight * p_ab).sum()), peak_interval=rows[peak].interval_start,
        peak_agents=int(agents[peak]), peak_scheduled=int(sched.max()), peak_trunks=int(trunks.max()))


__all__ = ["IntervalStaffing", "StaffingPlan", "plan_staffing"]
