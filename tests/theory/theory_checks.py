"""Checks shared by the theory tests (not a test module)."""

from __future__ import annotations


def assert_littles_law(summary) -> None:
    """Little's law on every replication, and L = λW over the window across them.

    Per run, the time-integral of the queue length (from the router's events)
    equals the sum of the waits (an identity, to 1e-9); across runs, the
    window's L − λW averages to zero within 4 standard errors plus 1e-3 for
    edge effects (calls straddling the window's ends).
    """
    from busyhour.sim.replicate import estimate

    for run in summary.runs:
        assert run.little.identity_gap < 1e-9
    gap = estimate([r.little.mean_in_queue - r.little.arrival_rate_per_s * r.little.mean_time_in_queue_s
                    for r in summary.runs])
    assert abs(gap.mean) <= 4 * gap.se + 1e-3, gap
