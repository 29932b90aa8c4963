"""A handshake the server refuses: the clients' wait stays bounded and the error names the cause; an address
no server can have is refused at once.

Invariants checked:

1. A client without keys whose handshake a CurveZMQ server has already
   refused, its socket left with no connection to queue on (where a blocking
   send would wait for ever) raises ``RouterUnavailable`` within its
   timeout and retries, naming the mismatch; the blocking and the asyncio
   client alike.
2. Against ``busyhour serve --curve-keys``: a client without keys, a client
   key the server does not admit, and a wrong server public key each give up
   with words naming the keys.
3. Against an address where nothing listens, the message is the plain
   "is 'busyhour serve' running there?"; against a peer that took the
   connection and stays silent (a server still compiling), it says so.
4. An address no server can have (a TCP port beyond 65,535, which ZeroMQ
   would wrap to another port; no port; not an address) is refused when the
   client is made.

A SIGALRM bounds each wait here: a send blocked in ZeroMQ returns to Python
on a signal, so a regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
import zmq

from busyhour.bench.serverproc import ServerProcess
from busyhour.router.server.security import generate
from busyhour.client import AsyncRouterClient, RouterClient, RouterUnavailable

BOUND_S = 10.0


@pytest.fixture
def alarm():
    def ring(*_):
        raise TimeoutError(f"the client did not return within {BOUND_S:g} s")

    old = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, BOUND_S)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def curve_server(tmp_path_factory):
    from client_helpers import QUEUES

    from busyhour.bench.serverproc import write_config

    tmp = tmp_path_factory.mktemp("curve")
    keys = tmp / "keys"
    generate(keys, ["client"])  # what `busyhour keys generate DIR` makes
    proc = ServerProcess(write_config(tmp / "router.toml", QUEUES), None, extra_args=("--curve-keys", str(keys)))
    proc.start()
    try:
        yield proc, keys
    finally:
        proc.stop()


@pytest.fixture
def bare_curve_server():
    """A CurveZMQ ROUTER in this process (no ZAP: it refuses a plain client at once, every time)."""
    ctx = zmq.Context()
    public, secret = zmq.curve_keypair()
    sock = ctx.socket(zmq.ROUTER)
    sock.curve_server, sock.curve_secretkey, sock.curve_publickey = True, secret, public
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    try:
        yield f"tcp://127.0.0.1:{port}"
    finally:
        ctx.destroy(linger=0)


def _until_socket_refuses(client, address: str) -> None:
    """Wait for the mechanism mismatch, then leave the client's socket without a connection to queue on: the
    state in which a blocking send waits for ever. libzmq ends the refused connection's session itself, but
    when depends on the machine's load (from 0.1 s to seconds), so the test ends it at once, by disconnecting
    the socket from that address (the client never does)."""
    end = time.monotonic() + 8.0
    while "one side uses CurveZMQ" not in (client._handshake.refusal() or ""):
        assert time.monotonic() < end, "the server never refused the handshake"
        time.sleep(0.02)
    raw = zmq.Socket.shadow(client._sock.underlying)
    raw.disconnect(address)
    with pytest.raises(zmq.Again):  # no pipe left: a non-blocking send cannot queue
        raw.send(b"", zmq.NOBLOCK)


def test_plain_client_after_refused_handshake_gives_up_in_time(bare_curve_server, alarm):
    with RouterClient(bare_curve_server, timeout_s=0.2, retries=1) as plain:
        _until_socket_refuses(plain, bare_curve_server)
        t0 = time.monotonic()
        with pytest.raises(RouterUnavailable, match="one side uses CurveZMQ keys and the other does not"):
            plain.ping()
        assert time.monotonic() - t0 < 3.0


def test_async_plain_client_after_refused_handshake_gives_up_in_time(bare_curve_server, alarm):
    async def main() -> None:
        async with AsyncRouterClient(bare_curve_server, timeout_s=0.2, retries=1) as plain:
            _until_socket_refuses(plain, bare_curve_server)
            with pytest.raises(RouterUnavailable, match="one side uses CurveZMQ keys and the other does not"):
                await plain.ping()

    asyncio.run(main())


def test_plain_client_against_the_server_names_the_keys(curve_server, alarm):
    proc, _ = curve_server
    with RouterClient(proc.commands, timeout_s=1.0, retries=1) as plain:
        with pytest.raises(RouterUnavailable, match="handshake.*CurveZMQ keys"):
            plain.ping()


def test_key_not_admitted_is_named(curve_server, alarm):
    proc, keys = curve_server
    public, secret = zmq.curve_keypair()
    server_public = (keys / "server.key").read_text().split('public-key = "')[1][:40]
    with RouterClient(proc.commands, curve=(public, secret, server_public), timeout_s=1.0, retries=1) as c:
        with pytest.raises(RouterUnavailable, match="refused this client's CurveZMQ key"):
            c.ping()


def test_wrong_server_key_is_named(curve_server, alarm):
    proc, keys = curve_server
    import zmq.auth

    public, secret = zmq.auth.load_certificate(keys / "clients" / "client.key_secret")
    with RouterClient(proc.commands, curve=(public, secret, zmq.curve_keypair()[0]), timeout_s=1.0,
                      retries=1) as c:
        with pytest.raises(RouterUnavailable, match="closed the connection during the handshake"):
            c.ping()


def test_nobody_listening_says_so(alarm, tmp_path: Path):
    with RouterClient("ipc://" + str(tmp_path / "nothing"), timeout_s=0.1, retries=1) as c:
        with pytest.raises(RouterUnavailable, match="is 'busyhour serve' running there"):
            c.ping()


def test_a_silent_server_is_told_apart_from_none(alarm):
    """A peer that completes the handshake and never answers (a server still compiling its core, or stuck) gets
    its own words; once it is gone, the client says nothing is there."""
    ctx = zmq.Context()
    silent = ctx.socket(zmq.ROUTER)
    silent.linger = 0
    port = silent.bind_to_random_port("tcp://127.0.0.1")
    try:
        with RouterClient(f"tcp://127.0.0.1:{port}", timeout_s=1.0, retries=1) as c:
            with pytest.raises(RouterUnavailable, match="took the connection but did not answer.*still starting"):
                c.ping()
            silent.close(0)
            time.sleep(0.3)  # the client sees its connection close
            with pytest.raises(RouterUnavailable, match="is 'busyhour serve' running there"):
                c.ping()
    finally:
        ctx.destroy(linger=0)


@pytest.mark.parametrize("address, words", [
    ("tcp://127.0.0.1:99999", "port 99999 is outside 1–65535"),  # ZeroMQ would connect to 34463
    ("tcp://127.0.0.1:0", "port 0 is outside 1–65535"),
    ("tcp://127.0.0.1", "must be an address like tcp://127.0.0.1:5570"),
    ("garbage", "must be an address like"),
    ("ipc://", "must be an address like"),
    (5570, "must be an address like"),
])
def test_an_address_no_server_can_have_is_refused_at_once(address, words):
    for make in (RouterClient, AsyncRouterClient):
        with pytest.raises(ValueError, match=words):
            make(address)
    with pytest.raises(ValueError, match="events"):
        RouterClient("tcp://127.0.0.1:5570", events="tcp://127.0.0.1:70000")


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:5570", "tcp://[::1]:5570", "tcp://pbx-1.example:1",
                                     "ipc:///run/busyhour.sock", "inproc://router"])
def test_addresses_a_server_can_have_are_taken(address):
    with RouterClient(address, timeout_s=0.1, retries=0) as c:
        assert c.commands == address
