"""The adapter's periodic reconcile with real Kamailio and a real server (adapters/kamailio/bh_sync.py).

A call live in the engine, marked with this Kamailio's name, that the bridge does not hold (a caller gone, a
path the bridge missed) is a ghost: the next reconcile abandons it. Calls of other clients are left alone. The
stack reconciles every second here (``adapter.reconcile_s``; 30 s by default). Every wait is bounded.
"""

from __future__ import annotations

import time

import pytest

from busyhour.bench.sip_stack import SipStack

pytestmark = pytest.mark.slow

ROUTER = """
[[agents]]
id = "x1"
[[queues]]
name = "sales"
members = ["x1"]
"""


def _ended(stack: SipStack) -> dict:
    """call id -> CALL_ENDED detail, from every event the server has."""
    return {ev[3]: ev[6] for ev in stack.events() if ev[2] == "CALL_ENDED"}


def test_the_reconcile_abandons_this_kamailios_ghosts_and_nothing_else(tmp_path, sip_packages):
    with SipStack(tmp_path / "sip", ROUTER, {}, {"5000": "sales"}, journal=False, children=1,
                  reconcile_s=1) as stack:
        for call, context in (("ghost", {"kamailio": "e2e"}), ("theirs", {"kamailio": "another"}),
                              ("plain", None)):
            rep = stack.request("arrive", call=call, queue="sales", **({"context": context} if context else {}))
            assert rep["ok"], rep
        deadline = time.monotonic() + 10.0
        while "ghost" not in _ended(stack) and time.monotonic() < deadline:
            time.sleep(0.2)
        ended = _ended(stack)
        assert ended.get("ghost") == "abandoned", ended
        time.sleep(2.5)                      # two more reconciles: the others' calls stay
        assert set(_ended(stack)) == {"ghost"}
        live = {c["call"]: c["state"] for c in stack.request("snapshot")["result"]["calls"]}
        assert live == {"theirs": "WAITING", "plain": "WAITING"}, live
