"""Shared by the simulator tests: a scenario from a base dict with a few changes."""

from __future__ import annotations

import copy

from busyhour.sim.scenario import parse_scenario


def raw_from(base: dict, changes: dict) -> dict:
    """A copy of ``base`` with ``changes``: ``queue``/``team`` update the first queue/team, other keys replace."""
    raw = copy.deepcopy(base)
    for key, value in changes.items():
        if key in ("queue", "team"):
            raw[key + "s"][0].update(value)
        else:
            raw[key] = value
    return raw


def scenario_from(base: dict, changes: dict):
    """The parsed scenario of :func:`raw_from`."""
    return parse_scenario(raw_from(base, changes))
