"""The e2e tests' one rule about the Debian packages they need (bench.sip_stack.DEBIAN_PACKAGES): skipped
without them, a failure when the ``CI`` environment variable is set (CI installs them)."""

from __future__ import annotations

import os

import pytest

from busyhour.bench.sip_stack import DEBIAN_PACKAGES, missing_packages


@pytest.fixture(scope="session")
def sip_packages() -> None:
    missing = missing_packages()
    if missing:
        msg = ("the SIP end-to-end test needs the Debian packages " + " ".join(missing)
               + " (apt-get install -y --no-install-recommends " + " ".join(DEBIAN_PACKAGES) + ")")
        if os.environ.get("CI"):
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
