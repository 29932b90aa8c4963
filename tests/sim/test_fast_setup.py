"""fast_setup.py: the state a replication starts from, built once per scenario and copied.

1. A replication's router core is the state a fresh build gives, array for array, and a copy: running a
   replication leaves the template as it was.
2. Results do not depend on the room the template's core starts with: the same replication on a core
   far too small (it grows during the run) and on a very large one is the same run, and the SimPy
   driver's.
3. A template belongs to one (scenario, seed): an equal copy of the scenario shares it, another seed or
   scenario gets its own; a scenario keeps its own (``run_cache``) while others are built, which is not
   pickled, compared or printed with it.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import numpy as np

import busyhour.sim.fast_setup as setup
from busyhour.sim.driver import simulate
from busyhour.sim.scenario import load_scenario, run_cache
from test_fast_sim import scenario

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _same_run(a, b) -> None:
    assert repr(dataclasses.replace(a, wall_s=0.0, engine="")) == repr(dataclasses.replace(b, wall_s=0.0, engine=""))


def test_a_replication_starts_from_a_fresh_builds_state_and_leaves_the_template_alone():
    scn = load_scenario(EXAMPLES / "busy_hour.toml")
    tpl = setup.template(scn, 11)
    before = [a.copy() for a in tpl.core]
    fresh = setup.new_router(setup.router_cfg(scn, 11), tpl.sizes)._S
    copy = setup.fresh_core(tpl)
    for name, a, b, c in zip(tpl.core._fields, copy, fresh, tpl.core):
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), name  # NaN: unset agent settings
        assert a is not c and not np.shares_memory(a, c), name
    simulate(scn, 0, seed=11)
    for name, a, b in zip(tpl.core._fields, before, setup.template(scn, 11).core):
        assert np.array_equal(a, b, equal_nan=True), name


def test_results_do_not_depend_on_the_cores_starting_room(monkeypatch):
    scn = scenario({"queue": {"calls_per_hour": 1200, "patience": {"dist": "exponential", "mean_s": 3600}}})
    monkeypatch.setattr(setup, "_last", [None, None])
    runs = []
    for sizes in ((16, 64, 256), (1 << 14, 1 << 15, 1 << 16)):  # far less and far more room than the run needs
        tpl = setup._build(scn, scn.seed, sizes)
        run_cache(scn)[("template", scn.seed)] = tpl
        runs.append(simulate(scn, 1))
        assert setup.template(scn, scn.seed) is tpl and tpl.sizes == sizes
    _same_run(*runs)
    _same_run(runs[0], simulate(scn, 1, engine="simpy"))


def test_a_template_belongs_to_one_scenario_and_seed():
    """Reused for the same scenario or an equal copy (a pool worker unpickles each job's), never for another
    scenario or seed."""
    a = scenario({})
    ta = setup.template(a, 1)
    assert setup.template(a, 1) is ta and setup.template(pickle.loads(pickle.dumps(a)), 1) is ta
    assert setup.template(a, 2) is not ta
    other = scenario({"team": {"agents": 12}})
    t_other = setup.template(other, 1)
    assert t_other.scn is other and len(t_other.agent_ids) == 12
    assert setup.router_cfg(pickle.loads(pickle.dumps(other)), 1) is setup.router_cfg(other, 1)


def test_a_scenario_keeps_its_template_while_another_is_built():
    """Alternating two scenarios (as ``busyhour bench sim`` does) builds each template once; what a
    scenario keeps is not pickled, compared or printed."""
    a, b = scenario({}), scenario({"team": {"agents": 12}})
    ta = setup.template(a, 1)
    tb = setup.template(b, 1)
    assert setup.template(a, 1) is ta and setup.template(b, 1) is tb
    assert setup.router_cfg(a, 1) is ta.config and setup.router_cfg(a, None) is setup.router_cfg(a, a.seed)
    copy = pickle.loads(pickle.dumps(a))
    assert "_run_cache" not in copy.__dict__ and copy == a and repr(copy) == repr(a)
    assert dataclasses.replace(a).__dict__.get("_run_cache") is None


def test_what_a_scenario_keeps_is_bounded_over_many_router_seeds():
    """A sweep over router seeds on one scenario object keeps at most RUN_CACHE_ENTRIES builds."""
    a = scenario({})
    for seed in range(3 * setup.RUN_CACHE_ENTRIES):
        setup.template(a, seed)
        assert len(run_cache(a)) <= setup.RUN_CACHE_ENTRIES
    last = setup.template(a, 3 * setup.RUN_CACHE_ENTRIES - 1)
    assert setup.template(a, 3 * setup.RUN_CACHE_ENTRIES - 1) is last  # the latest is still kept
