"""End to end over CurveZMQ: SIPp callers -> Kamailio -> ``busyhour serve --curve-keys`` -> SIPp agents.

The deployment with Kamailio and the server on different hosts: the server
encrypts and admits only the keys in its ``clients/`` folder, and the
adapter's bridge presents one (``router.curve_keys``, docs/adapters.md).
Checked: Kamailio reports the router reachable (OPTIONS 200, so the bridge's
ping got through), every caller connects to an agent, and the engine's
events show each call arrived, connected and ended once (so the bridge's
event stream is decrypted too).

Needs the Debian packages of ``bench.sip_stack.DEBIAN_PACKAGES``: skipped
without them, a failure when the ``CI`` environment variable is set.
"""

from __future__ import annotations

from collections import Counter

import pytest

from busyhour.bench.sip_stack import SipStack
from busyhour.router.server.security import generate

pytestmark = pytest.mark.slow

ROUTER = '[[agents]]\nid = "a1"\n[[agents]]\nid = "a2"\n[[queues]]\nname = "sales"\nmembers = ["a1", "a2"]\n'


def test_calls_route_through_kamailio_over_curvezmq(tmp_path, sip_packages):
    keys = tmp_path / "keys"
    generate(keys, ["kamailio", "stack"])
    agents = {"a1": "agent.xml", "a2": "agent.xml"}
    with SipStack(tmp_path / "sip", ROUTER, agents, {"5000": "sales"}, children=2, journal=False,
                  curve_keys=keys) as stack:
        for agent in agents:
            assert stack.request("login", agent=agent, ready=True)["ok"]
        run = stack.callers("5000", calls=6, rate=5, talk_ms=500, timeout_s=30)
        assert len(run.outcomes) == 6 and set(run.outcomes.values()) == {"connected"}, run
        assert stack.settle() == []
        calls = {c: Counter(ev[2] for ev in stack.events() if ev[3] == c) for c in run.outcomes}
        for call_id, k in calls.items():
            assert (k["CALL_ARRIVED"], k["CALL_CONNECTED"], k["CALL_ENDED"]) == (1, 1, 1), (call_id, k)
