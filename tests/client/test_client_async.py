"""AsyncRouterClient against the real server, and CurveZMQ keys on the client side.

Invariants checked:

1. Many requests in flight at once (asyncio.gather) each get their own reply.
2. A reply lost in transit is resent with the same id after the timeout and
   the request is applied once.
3. ``async for ev in client.events(since=0)`` yields the server's history in
   seq order.
4. A client holding an admitted key from ``busyhour keys generate DIR`` talks
   to a CurveZMQ server, commands and event stream; a plain-text client gets
   no answer.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from client_helpers import Reverser

from busyhour.bench.serverproc import ServerProcess
from busyhour.client import AsyncRouterClient, RouterClient, RouterRequestError, RouterUnavailable


def test_many_in_flight_matched_by_id(server):
    async def main() -> None:
        async with AsyncRouterClient(server.commands, server.events, timeout_s=2.0) as c:
            await c.pipeline([("login", {"agent": a, "ready": True}) for a in ("a1", "a2", "a3")])
            replies = await asyncio.gather(*(c.request("arrive", call=i, queue="sales") for i in range(50)),
                                           *(c.request("ping") for _ in range(20)))
            arrivals, pings = replies[:50], replies[50:]
            assert [r.events[0].call for r in arrivals] == list(range(50))
            assert all(r.ok and r.result["seq"] > 0 for r in pings)
            batch = await c.pipeline([("call", {"call": i}) for i in range(50)], batched=True)
            assert [r.result["call"] for r in batch] == list(range(50))
            with pytest.raises(RouterRequestError) as err:
                await c.release(0)  # ringing, not connected
            assert err.value.code == "state"
            seen = [e async for e in _take(c.events(since=0), 3)]
            assert [e.seq for e in seen] == [1, 2, 3] and seen[0].agent == "a1"

    asyncio.run(main())


async def _take(agen, n):
    k = 0
    async for ev in agen:
        yield ev
        k += 1
        if k == n:
            await agen.aclose()
            return


def test_async_replies_out_of_order_matched_by_id():
    fake = Reverser(25)

    async def main() -> None:
        async with AsyncRouterClient(fake.address, timeout_s=5.0, retries=0) as c:
            replies = await asyncio.gather(*(c.request("queue", queue=f"q{k}") for k in range(25)))
            assert [r.result["queue"] for r in replies] == [f"q{k}" for k in range(25)]

    asyncio.run(main())
    fake.join()


def test_lost_reply_resent_once(server, dropper):
    async def main() -> None:
        async with AsyncRouterClient(server.commands) as setup:
            await setup.login("a4", ready=True)
        dropper.drop = 1
        async with AsyncRouterClient(dropper.address, identity="async-adapter", timeout_s=0.3, retries=20) as c:
            events = (await c.arrive("x1", "support")).events
            assert [e.kind for e in events][:2] == ["CALL_ARRIVED", "CALL_OFFERED"]
            assert c.resends >= 1 and dropper.dropped == 1
            page = await c.events_since(0)
            assert sum(1 for e in page.events if e.kind == "CALL_ARRIVED" and e.call == "x1") == 1

    asyncio.run(main())


def test_async_gives_up_without_server():
    async def main() -> None:
        async with AsyncRouterClient("tcp://127.0.0.1:9", timeout_s=0.05, retries=1) as c:
            with pytest.raises(RouterUnavailable):
                await c.ping()

    asyncio.run(main())


def test_curve_keys_folder(tmp_path, config):
    keys = tmp_path / "keys"
    subprocess.run([sys.executable, "-m", "busyhour.cli.main", "keys", "generate", str(keys)], check=True,
                   capture_output=True)
    proc = ServerProcess(config, None, extra_args=("--curve-keys", str(keys)))
    proc.start()
    try:
        with RouterClient(proc.commands, proc.events, curve=keys, timeout_s=2.0) as c:
            assert c.ping().seq == 0
            sub = c.subscribe(("agent:a1",))
            c.login("a1", ready=True)
            got = []
            for _ in range(20):
                got += sub.next_events(0.2)
                if got:
                    break
            assert [(e.kind, e.agent, e.detail) for e in got] == [("AGENT_STATE", "a1", "AVAILABLE")]
        with RouterClient(proc.commands, timeout_s=0.2, retries=0) as plain:
            with pytest.raises(RouterUnavailable):
                plain.ping()
    finally:
        proc.stop()
