"""Distributions: moments against their definitions (tolerance 4 standard errors)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from busyhour.sim import distributions as d
from busyhour.sim.streams import stream

N = 200_000


def _rng():
    return stream(5, 0, "handle", "test")


@pytest.mark.parametrize("dist", [d.Exponential(180.0), d.LogNormal(240.0, 0.8), d.Gamma(200.0, 0.5),
                                  d.Weibull(120.0, 0.7), d.Weibull(120.0, 2.0), d.Constant(30.0)])
def test_mean_and_cv(dist):
    x = dist.sample(_rng(), N)
    assert x.shape == (N,) and (x >= 0).all()
    sd = x.std()
    assert abs(x.mean() - dist.mean_s) <= 4 * sd / math.sqrt(N) + 1e-9
    cv = getattr(dist, "cv", None)
    if cv is not None:  # sd of the sd estimate is larger for skewed laws; 5% is ~ 10 SE here
        assert sd / x.mean() == pytest.approx(cv, rel=0.05)


SPLIT_DISTS = [d.Exponential(180.0), d.LogNormal(240.0, 0.8), d.Gamma(200.0, 0.5), d.Gamma(60.0, 1.7),
               d.Weibull(120.0, 0.7), d.Constant(30.0), d.Never(), d.Empirical(np.array([10.0, 20.0, 60.0])),
               d.Empirical(np.arange(1.0, 70_000.0))]


@settings(max_examples=60, deadline=None)
@given(dist=st.sampled_from(SPLIT_DISTS), seed=st.integers(0, 2**32), cuts=st.lists(st.integers(0, 300), max_size=4))
def test_draws_do_not_depend_on_how_they_are_split(dist, seed, cuts):
    """n draws are the first k draws and then the next n - k, for any k: the simulation's draw rows
    (fast._Draws) take a sampler's values in other blocks than driver.py's BlockSampler and must hand
    out the same sequence. Also the redial uniforms (``Generator.random``)."""
    sizes = cuts + [1024]
    whole = dist.sample(stream(seed, 0, "handle", "split"), sum(sizes))
    g = stream(seed, 0, "handle", "split")
    parts = np.concatenate([dist.sample(g, n) for n in sizes])
    assert parts.tobytes() == whole.tobytes()
    u = stream(seed, 0, "redial", "split")
    assert np.concatenate([u.random(n) for n in sizes]).tobytes() == stream(seed, 0, "redial", "split").random(sum(sizes)).tobytes()


def test_never_and_empirical():
    assert np.isinf(d.Never().sample(_rng(), 3)).all()
    e = d.Empirical(np.array([10.0, 20.0, 60.0]))
    x = e.sample(_rng(), N)
    assert set(np.unique(x)) == {10.0, 20.0, 60.0}
    assert abs(x.mean() - e.mean_s) <= 4 * x.std() / math.sqrt(N)


def test_load_durations_csv(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("id,handle_s\n1,100\n2,200.5\n\n")
    assert d.load_durations_csv(p, "handle_s").tolist() == [100.0, 200.5]
    with pytest.raises(ValueError, match="no column 'talk'"):
        d.load_durations_csv(p, "talk")
    for bad in ("-1", "nan", "inf", "1e308", "86400.5"):  # each a row the run could not use
        p.write_text(f"5\n{bad}\n")
        with pytest.raises(ValueError, match=r"x.csv:2: durations must be 0 to 86400 s"):
            d.load_durations_csv(p)
    p.write_text("5\n86400\n")
    assert d.load_durations_csv(p).tolist() == [5.0, 86400.0]
