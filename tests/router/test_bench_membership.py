"""The run-time change benchmark (bench/membership.py) runs, and changes what it says it changes."""

from __future__ import annotations

import pytest

from busyhour.bench import membership as B
from busyhour.router import Router, parse_config
from busyhour.router.reload_plan import plan_reload


def test_the_variant_changes_memberships_and_five_queues_settings():
    raw = B.centre(400)
    cfg = parse_config(raw)
    index = {a.id: i for i, a in enumerate(cfg.agents)}
    plan = plan_reload(cfg, parse_config(B.variant(raw, 0, 400)), index, len(index)).queues
    assert sum(len(p.added) for p in plan) >= 40 and sum(len(p.removed) for p in plan) >= 20
    assert sum(p.settings_changed for p in plan) == 5


def test_a_small_run_reports_each_figure_for_both_engines():
    res = B.run(agents=200, repeats=3)
    assert set(res) == {"Router", "ReferenceRouter"}
    for figures in res.values():
        assert set(figures) == {"member change", "reload, equal", "reload, memberships + 5 settings"}
        assert all(v > 0 for v in figures.values())


def test_bad_sizes_are_refused():
    with pytest.raises(SystemExit, match="agents must be"):
        B.run(agents=10)


def test_reloading_the_variant_leaves_the_engine_on_it():
    raw = B.centre(200)
    r = Router(parse_config(raw), collect_stats=False)
    new = parse_config(B.variant(raw, 1, 200))
    r.reload(0.0, new)
    assert r.config == new
