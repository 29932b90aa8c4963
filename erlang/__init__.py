"""busyhour.erlang: Erlang B, C and A, staffing and trunk sizing, exact at any load.

Pure, numpy-vectorised functions (scalars or broadcasting arrays); invalid
input raises ``ValueError`` naming the argument.  See ``docs/erlang.md`` for
the methods and their measured accuracy.

Modules: ``formulas`` (Erlang B/C, trunks, shrinkage), ``staffing`` (least
agents for an SL or ASA target), ``erlang_a`` (M/M/N+M), ``forecast`` (CSV
forecasts), ``planner`` (interval staffing plans), ``kernels`` (the numba kernels
underneath, all in one module so that numba's per-file cache stays coherent).
"""

from .erlang_a import ErlangAResult, agents_for_erlang_a, erlang_a
from .forecast import Forecast, ForecastError, ForecastInterval, parse_forecast, read_forecast
from .formulas import (
    ErlangCResult,
    ExtendedErlangB,
    asa,
    carried_load,
    erlang_b,
    erlang_c,
    erlang_c_metrics,
    extended_erlang_b,
    load_erlangs,
    load_for_blocking,
    occupancy,
    scheduled_staff,
    service_level,
    trunks_for_blocking,
)
from .planner import IntervalStaffing, StaffingPlan, plan_staffing
from .staffing import agents_for_asa, agents_for_service_level

__all__ = [
    "ErlangAResult",
    "ErlangCResult",
    "ExtendedErlangB",
    "Forecast",
    "ForecastError",
    "ForecastInterval",
    "IntervalStaffing",
    "StaffingPlan",
    "agents_for_asa",
    "agents_for_erlang_a",
    "agents_for_service_level",
    "asa",
    "carried_load",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "erlang_c_metrics",
    "extended_erlang_b",
    "load_erlangs",
    "load_for_blocking",
    "occupancy",
    "parse_forecast",
    "plan_staffing",
    "read_forecast",
    "scheduled_staff",
    "service_level",
    "trunks_for_blocking",
]
