"""busyhour.sim: SimPy stress tests of routing policies and seat counts, driving the real router.

``load_scenario(path)`` reads a scenario (docs/scenarios.md); ``simulate(scn,
replication)`` runs it once through ``busyhour.router.Router`` and returns a
typed ``RunResult``; ``replicate(scn, R)`` runs R independent replications
(process pool or Dask) into a ``Summary`` with 95% confidence intervals;
``sweep(scn, agents, strategies, R)`` compares seat counts and routing
strategies on the same callers. How it works and how it is validated against
Erlang C / Erlang A: docs/simulation.md.

Modules: scenario/validate (schema), limits (every bound, checked before a
run), distributions, streams (one RNG stream per source), arrivals, routing
(scenario → router config), driver (the SimPy loop) and fast/fast_loop (its
compiled path), measure/results (records), jobs (process pool, Dask, Ctrl-C),
replicate, tdist (exact t quantiles), sweep, planning (Erlang view, staffing
suggestion), export (JSON and CSV; schemas/ holds their JSON Schemas), plot.
"""

from __future__ import annotations

import importlib

__all__ = ["RunResult", "Scenario", "ScenarioError", "Summary", "load_scenario", "parse_scenario", "replicate",
           "simulate", "sweep"]

_WHERE = {"RunResult": "results", "Scenario": "scenario", "ScenarioError": "validate", "Summary": "replicate",
          "load_scenario": "scenario", "parse_scenario": "scenario", "replicate": "replicate", "simulate": "driver",
          "sweep": "sweep"}


def __getattr__(name: str):  # lazy: importing busyhour.sim does not import the router (numba) yet
    if name in _WHERE:
        return getattr(importlib.import_module(f"busyhour.sim.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'busyhour.sim' has no attribute {name!r}")
