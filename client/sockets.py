"""The client's ZeroMQ sockets: CurveZMQ keys, socket options, and the one command socket of a client.

One command socket for a client's whole life: a retry resends on it and it is
never replaced while requests are outstanding. A second connection with the
same routing id takes over the first at the server (``ROUTER_HANDOVER``), and
libzmq renames the old connection to a generated routing id (a zero byte and
four more): requests the server had not read from it yet (a slow start, a
busy CPU) then reach it under that name, so the first copy of a request and
its resend would have different idempotency keys (routing id, request id).
Every engine request also names the client (the request field ``client``,
the routing id as text: wire.request_map), and the server keys a named
request by (name, request id) whatever connection it comes on, so even such
a copy is applied once; one socket keeps every copy on one connection anyway.

ZeroMQ reconnects that socket by itself when its connection breaks (a server
restart; 100 ms between attempts) and keeps the frames not yet sent
(``ZMQ_IMMEDIATE`` off). A connection that goes silent without breaking (a
dropped NAT entry, a peer gone without a reset) is found by ZMTP heartbeats:
a PING every ``HEARTBEAT_IVL_MS``; the connection is closed and opened again
when nothing has come back for ``HEARTBEAT_TIMEOUT_MS``. The server's I/O
thread answers PINGs even while its loop is busy, so only a server frozen
whole that long (or a dead network) causes such a reconnect; requests it held
unread from before are then read under a generated routing id, and recognised
by their ``client`` name.

A handshake the server refuses (a client without CurveZMQ keys, or with a key
it does not admit, or the wrong server key) is not an error ZeroMQ reports on
``send``: the connection just never carries anything, and after a mechanism
mismatch the socket has no connection left to queue on, where a blocking send
would wait for ever. So a send waits at most the client's ``timeout_s``
(a full queue still holds the sender back until there is room), and a
:class:`HandshakeWatch` (a ZeroMQ socket monitor) keeps the last handshake
outcome, which names the cause when the client gives up.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import zmq
from zmq.utils.monitor import recv_monitor_message

HWM = 1_000_000  # messages queued per socket and direction (ZeroMQ's default, 1,000, would block a big pipeline)
HEARTBEAT_IVL_MS = 1_000  # a ZMTP PING this often on the command connection
HEARTBEAT_TIMEOUT_MS = 10_000  # nothing back for this long: the connection is closed and opened again
HANDSHAKE_EVENTS = (zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
                    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_DISCONNECTED)
_NAMED = (zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.EVENT_HANDSHAKE_FAILED_AUTH)  # refusals with a reason
_FAILED = (*_NAMED, zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)


def _replaces(new: int, old: int | None) -> bool:
    """Whether monitor event ``new`` replaces ``old`` as what the client knows of its connection: a success or a
    named refusal always; a connection closed only a success (after a refusal it is the refusal's own close);
    a vague failure anything but a named refusal (the same refusal seen from the other side)."""
    if old is None or new == zmq.EVENT_HANDSHAKE_SUCCEEDED or new in _NAMED:
        return True
    if new == zmq.EVENT_DISCONNECTED:
        return old == zmq.EVENT_HANDSHAKE_SUCCEEDED
    return old not in _NAMED


class CurveKeys(NamedTuple):
    """z85-encoded keys (40 bytes each) of a CurveZMQ client."""

    public: bytes
    secret: bytes
    server_public: bytes


def _z85(name: str, key: str | bytes) -> bytes:
    k = key.encode("ascii") if isinstance(key, str) else bytes(key)
    if len(k) != 40:
        raise ValueError(f"curve {name} key must be 40 z85 characters, got {len(k)}")
    return k


def load_curve(curve: Any, client_name: str | None = None) -> CurveKeys | None:
    """Curve keys from a ``(client_public, client_secret, server_public)`` triple or a keys folder.

    A folder is one made by ``busyhour keys generate DIR``: the server's public
    key ``server.key`` and a client key pair ``<name>.key`` /
    ``<name>.key_secret`` (``zmq.auth`` certificate files; ``client_name``
    picks one, else the folder must hold exactly one client secret key). The
    ``clients/`` subfolder is searched too."""
    if curve is None:
        return None
    if isinstance(curve, (str, os.PathLike)) and Path(curve).is_dir():
        return _load_curve_dir(Path(curve), client_name)
    if isinstance(curve, (tuple, list)) and len(curve) == 3:
        return CurveKeys(_z85("client public", curve[0]), _z85("client secret", curve[1]),
                         _z85("server public", curve[2]))
    raise ValueError("curve must be (client_public, client_secret, server_public) or a keys folder")


def _load_curve_dir(folder: Path, client_name: str | None) -> CurveKeys:
    import zmq.auth

    server = next((p for p in (folder / "server.key", folder / "public_keys" / "server.key") if p.is_file()), None)
    if server is None:
        raise ValueError(f"{folder}: no server.key (the server's public key) in this keys folder")
    secrets = [p for d in (folder, folder / "clients", folder / "private_keys") if d.is_dir()
               for p in sorted(d.glob("*.key_secret")) if p.stem != "server"]
    if client_name is not None:
        secrets = [p for p in secrets if p.stem == client_name]
    if len(secrets) != 1:
        what = f"client '{client_name}'" if client_name else "exactly one client"
        raise ValueError(f"{folder}: need the secret key of {what}, found {len(secrets)} *.key_secret files")
    public, secret = zmq.auth.load_certificate(secrets[0])
    server_public, _ = zmq.auth.load_certificate(server)
    if secret is None:
        raise ValueError(f"{secrets[0]}: holds no secret key")
    return CurveKeys(public, secret, server_public)


def configure(sock: zmq.Socket, identity: bytes | None, curve: CurveKeys | None) -> None:
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, HWM)  # a long pipeline queues instead of blocking the sender
    sock.setsockopt(zmq.RCVHWM, HWM)
    if identity is not None:
        sock.setsockopt(zmq.ROUTING_ID, identity)
    if curve is not None:
        sock.curve_publickey = curve.public
        sock.curve_secretkey = curve.secret
        sock.curve_serverkey = curve.server_public


def command_socket(ctx: zmq.Context, address: str, identity: bytes, curve: CurveKeys | None,
                   send_timeout_s: float) -> tuple[zmq.Socket, "HandshakeWatch"]:
    """The client's one DEALER to ``address`` (module docstring): routing id, keys, queues, heartbeats;
    connected, with the watch on its handshakes (set up before the connect, so it sees the first). A send
    waits at most ``send_timeout_s`` for room in a full queue (``SNDTIMEO``), then raises ``zmq.Again``."""
    sock = ctx.socket(zmq.DEALER)
    configure(sock, identity, curve)
    sock.setsockopt(zmq.SNDTIMEO, max(1, int(send_timeout_s * 1000)))
    sock.setsockopt(zmq.HEARTBEAT_IVL, HEARTBEAT_IVL_MS)
    sock.setsockopt(zmq.HEARTBEAT_TIMEOUT, HEARTBEAT_TIMEOUT_MS)
    watch = HandshakeWatch(sock, address)
    sock.connect(address)
    return sock, watch


class HandshakeWatch:
    """What a client's command socket last learned of its connection, read from a ZeroMQ socket monitor.

    The monitor queues an event per handshake (one per connection attempt,
    every 100 ms while the server refuses) and per connection closed; the
    clients read it at each retry round and when they give up, so the queue
    (ZeroMQ drops monitor events beyond 1,000) stays short. A refusal with a
    reason (a mechanism mismatch, a key not admitted) is kept over the vague
    "closed during the handshake" that the same refusal can also show as,
    depending on which side notices first (:func:`_replaces`)."""

    def __init__(self, sock: zmq.Socket, address: str):
        self.address = address
        self._mon = sock.get_monitor_socket(HANDSHAKE_EVENTS)  # closed with the client's context
        self._view = zmq.Socket.shadow(self._mon.underlying)  # non-blocking reads, for the asyncio client too
        self._last: dict[str, Any] | None = None

    def read(self) -> int | None:
        """Take in what the monitor has queued; the kind of event that stands (None: none yet)."""
        while True:
            try:
                event = recv_monitor_message(self._view, zmq.NOBLOCK)
            except zmq.Again:
                break
            if _replaces(event["event"], None if self._last is None else self._last["event"]):
                self._last = event
        return None if self._last is None else self._last["event"]

    def refusal(self) -> str | None:
        """Why the server refused the last handshake, in words; None when none was refused since one succeeded."""
        if self.read() not in _FAILED:
            return None
        assert self._last is not None
        return handshake_refusal(self._last["event"], self._last["value"], self.address)

    def connected(self) -> bool:
        """Whether the socket holds a connection whose handshake succeeded: a ZeroMQ peer is there."""
        return self.read() == zmq.EVENT_HANDSHAKE_SUCCEEDED

    def why_unanswered(self) -> str:
        """The end of a client's give-up message: the handshake the server refused, a peer that took the
        connection and kept silent, or nobody there."""
        refusal = self.refusal()
        if refusal is not None:
            return f": {refusal}"
        if self.connected():
            return ("; the server took the connection but did not answer: it may be overloaded, or still "
                    "starting (its first start after an install compiles for 13-30 s)")
        return "; is 'busyhour serve' running there?"


def handshake_refusal(event: int, value: int, address: str) -> str:
    """A failed handshake event of a socket monitor as the words a user needs."""
    if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
        return (f"the server at {address} refused this client's CurveZMQ key (ZAP status {value}): "
                "its public key must be in the server's clients/ folder")
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        return (f"the server at {address} refused the handshake: one side uses CurveZMQ keys and the other "
                "does not (the client's curve= and the server's --curve-keys)")
    if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL:
        try:
            name = zmq.Event(value).name
        except ValueError:
            name = str(value)
        return f"the handshake with {address} failed: ZMTP protocol error {name}"
    return (f"the server at {address} closed the connection during the handshake: check the CurveZMQ keys "
            "(one side using them and the other not, or a wrong server public key in the client's)")
