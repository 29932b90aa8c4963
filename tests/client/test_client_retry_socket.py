"""A retry goes out on the client's one command socket, so the server applies it once (client/sockets.py).

Invariants checked, for the blocking and the asyncio client:

1. A request the server has not read before the client's timeout (a slow
   start, a starved CPU) is resent on the same connection: every copy
   reaches the server under the client's routing id and the same request id,
   and is applied once. Resending on a new socket broke this: the server's
   ``ROUTER_HANDOVER`` let the new connection take over the routing id, and
   the copy still unread on the old one was dropped or, depending on the
   order in which libzmq saw the close and the new handshake, read under a
   generated routing id and applied a second time (``login`` then failed
   with ``state``: already logged in; the journal held both).
2. A connection that goes silent without closing is dropped by the
   heartbeats and opened again, and the request resent on it is answered.
"""

from __future__ import annotations

import asyncio

import pytest
from client_helpers import Answering, Relay, StallingServer

from busyhour.client import AsyncRouterClient, RouterClient
from busyhour.client import sockets

IDENTITY = b"retry-client-1"


def _login_sync(address: str, box: list) -> bool:
    with RouterClient(address, identity=IDENTITY, timeout_s=0.2, retries=20) as c:
        box.append(c)
        return c.login("a4", ready=True).ok


def _login_async(address: str, box: list) -> bool:
    async def main() -> bool:
        async with AsyncRouterClient(address, identity=IDENTITY, timeout_s=0.2, retries=20) as c:
            box.append(c)
            return (await c.login("a4", ready=True)).ok
    return asyncio.run(main())


@pytest.mark.parametrize("login", [_login_sync, _login_async], ids=["sync", "async"])
def test_request_unread_past_the_timeout_is_resent_on_the_same_connection(login):
    box: list = []
    fake = StallingServer(lambda: bool(box) and box[0].resends >= 1)  # reads only once the client has resent
    assert login(fake.address, box)
    fake.join()
    assert fake.handshakes == 1, ("a retry opened a second connection: the server's ROUTER_HANDOVER renames the "
                                  "first, whose unread copy is then dropped or read under a generated routing id")
    assert len(fake.keys) >= 2  # the first copy and at least one resend reached the server
    assert {ident for ident, _ in fake.keys} == {IDENTITY}, fake.keys  # never a generated routing id
    assert len({rid for _, rid in fake.keys}) == 1 and len(fake.applied) == 1


def test_silent_connection_is_dropped_by_heartbeats_and_the_resend_answered(monkeypatch):
    monkeypatch.setattr(sockets, "HEARTBEAT_IVL_MS", 100)
    monkeypatch.setattr(sockets, "HEARTBEAT_TIMEOUT_MS", 400)
    server = Answering()
    relay = Relay(server.address)
    try:
        with RouterClient(relay.address, identity=IDENTITY, timeout_s=0.3, retries=10) as c:
            assert c.request("ping").ok
            relay.silence()  # the open connection now swallows everything, and stays open
            assert c.request("ping").ok
            assert c.resends >= 1 and relay.accepted >= 2
    finally:
        relay.close()
        server.close()
