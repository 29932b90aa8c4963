"""The client library names itself in every engine request (``client`` = its routing id as text), so the server
recognises a resend whatever connection it comes on (docs/protocol.md, "Retries are safe").

Invariants checked:

1. Every engine request the blocking and the asyncio client send, alone or in a batch frame, carries
   ``client`` equal to the client's identity; queries carry none (the server never remembers them).
2. The server takes a copy of a library request sent from another socket with another routing id as the
   same request: the first reply, not applied again.
3. An identity that is not UTF-8 text is refused when the client is made; the default identity is text.
"""

from __future__ import annotations

import asyncio
import socket

import msgpack
import pytest
import zmq
from client_helpers import Reverser, free_port

from busyhour.client import AsyncRouterClient, RouterClient
from busyhour.client.framing import QUERY_OPS, request_map
from busyhour.client.wire import default_identity, routing_id

REQUESTS = [("login", {"agent": "a1"}), ("ping", {}), ("arrive", {"call": "c1", "queue": "sales"}),
            ("call", {"call": "c1"}), ("reload", {"config": "x"}), ("events_since", {"seq": 0})]


def _check(replies, identity: str) -> None:
    for (op, _), r in zip(REQUESTS, replies):                                 # invariant 1
        assert r.result["op"] == op
        if op in QUERY_OPS:
            assert "client" not in r.result
        else:
            assert r.result["client"] == identity


def test_sync_client_names_itself_in_engine_requests():
    fake = Reverser(len(REQUESTS))  # echoes each request's fields back as its result
    with RouterClient(fake.address, identity="pbx-7", timeout_s=5.0, retries=0) as c:
        _check(c.pipeline(REQUESTS), "pbx-7")
    fake.join()


def test_a_batch_frame_names_the_client_in_each_engine_request():
    with RouterClient(f"tcp://127.0.0.1:{free_port()}", identity="pbx-7") as c:  # nobody there: frames queue
        pending = c.send(REQUESTS, batched=True)
        maps = msgpack.unpackb(pending.frames[0][0])
    assert [m.get("client") for m in maps] == [None if op in QUERY_OPS else "pbx-7" for op, _ in REQUESTS]


def test_async_client_names_itself_with_its_default_identity():
    fake = Reverser(len(REQUESTS))

    async def main():
        async with AsyncRouterClient(fake.address, timeout_s=5.0, retries=0) as c:
            return c.identity.decode(), await c.pipeline(REQUESTS)
    identity, replies = asyncio.run(main())
    fake.join()
    assert identity and not identity.startswith("\x00")
    _check(replies, identity)


def test_a_copy_of_a_library_request_from_another_socket_is_not_applied_again(server):
    with RouterClient(server.commands, identity="pbx-8", timeout_s=5.0) as c:
        first = c.login("a1", ready=True)
        assert first.ok and first.events
        ctx = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.routing_id = b"pbx-8-new-socket"
        sock.connect(server.commands)
        try:
            sock.send(msgpack.packb(request_map(first.id, "login", {"agent": "a1", "ready": True}, "pbx-8")))
            assert sock.poll(10_000)
            again = msgpack.unpackb(sock.recv())
        finally:
            sock.close(0)
            ctx.term()
        assert again["ok"] and again["id"] == first.id                         # invariant 2: the first reply ...
        assert [tuple(e[:3]) for e in again["events"]] == [(e.seq, e.time_s, e.kind) for e in first.events]
        assert c.ping().seq == first.events[-1].seq                            # ... and nothing applied again


def test_identity_must_be_text(monkeypatch):
    with pytest.raises(ValueError, match="UTF-8"):                            # invariant 3
        routing_id(b"\xffpbx")
    assert routing_id("pbx-é") == "pbx-é".encode()
    monkeypatch.setattr(socket, "gethostname", lambda: "x" + "é" * 150)      # cut at 200 bytes: mid-character
    assert default_identity().decode("utf-8").startswith("x" + "é" * 99 + "-")
