"""Router behaviour tests run on both engines: the compiled ``Router`` and its specification ``ReferenceRouter``.

A module opts in with ``pytestmark = pytest.mark.usefixtures("each_engine")`` and builds routers through
``router_helpers.engine()``; each of its tests then runs once per engine.
"""

from __future__ import annotations

import pytest
import router_helpers

from busyhour.router import ReferenceRouter, Router


@pytest.fixture(params=[pytest.param(Router, id="compiled"), pytest.param(ReferenceRouter, id="reference")])
def each_engine(request):
    router_helpers.ENGINE[0] = request.param
    try:
        yield request.param
    finally:
        router_helpers.ENGINE[0] = Router
