"""Test-wide settings.

Hypothesis explores new random examples on every local run (and keeps the
failures it finds in .hypothesis/, which is not committed). Under CI (the
CI environment variable is set) it uses the ``ci`` profile: derandomized, so
a CI run is reproducible and a red CI always points at a failure anyone can
re-run; the local runs are where new examples get explored.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_sessionstart(session) -> None:
    """Compile the routing core (or load it from numba's disk cache) before any test starts a server:
    servers run it, and several starting at once on a cold cache would each compile it for half a minute or more."""
    from busyhour.router.core_compile import jit_disabled, warm_up_router

    if not jit_disabled():
        warm_up_router()
