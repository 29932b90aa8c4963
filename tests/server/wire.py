"""A bare protocol-v1 peer for the server tests: raw DEALER/SUB sockets, no client library,
so these tests check the wire contract itself (docs/protocol.md)."""

from __future__ import annotations

import time
from pathlib import Path

import msgpack
import zmq

from busyhour.bench.serverproc import ServerProcess


class Peer:
    """A DEALER on the server's command socket. ``timeout_s``: how long a reply may take before the test fails;
    30 s, since a server's first command may load or compile the routing core on a loaded machine (tests that
    expect no reply set a short one)."""

    def __init__(self, commands: str, identity: bytes = b"test-peer", *, curve=None, timeout_s: float = 30.0):
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.linger = 0
        self.sock.routing_id = identity
        if curve is not None:
            self.sock.curve_publickey, self.sock.curve_secretkey, self.sock.curve_serverkey = curve
        self.sock.connect(commands)
        self.timeout_ms = int(timeout_s * 1000)
        self._id = 0

    def raw(self, frame: bytes) -> bytes | None:
        try:
            self.sock.send(frame, zmq.NOBLOCK)
        except zmq.Again:  # no connection to queue on (a handshake the server refused): no reply can come
            return None
        return self.sock.recv() if self.sock.poll(self.timeout_ms) else None

    def ask(self, op: str, rid=None, **fields):
        if rid is None:
            self._id += 1
            rid = self._id
        reply = self.raw(msgpack.packb({"v": 1, "id": rid, "op": op, **fields}))
        assert reply is not None, f"no reply to {op} within {self.timeout_ms} ms"
        return msgpack.unpackb(reply)

    def close(self) -> None:
        self.sock.close(0)


class Listener:
    def __init__(self, events: str, topic: bytes = b"all"):
        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.linger = 0
        self.sock.subscribe(topic)
        self.sock.connect(events)
        self.topic = topic

    def collect(self, seconds: float) -> list[dict]:
        out, end = [], time.monotonic() + seconds
        while time.monotonic() < end:
            if self.sock.poll(50):
                topic, body = self.sock.recv_multipart()
                if topic == self.topic:
                    out.append(msgpack.unpackb(body))
        return out

    def close(self) -> None:
        self.sock.close(0)


def kinds(events: list) -> list[str]:
    return [e[2] for e in events]


def spawn(config, *, journal=None, extra=(), log_path=None, metrics=False) -> ServerProcess:
    """Start `busyhour serve` on free loopback ports (``metrics``: its metrics too, on ``srv.metrics_port``) and
    wait until it is ready."""
    srv = ServerProcess(Path(config), None if journal is None else Path(journal), extra_args=tuple(extra),
                        log_path=None if log_path is None else Path(log_path), metrics=metrics)
    srv.start()
    return srv


def server_log(srv: ServerProcess) -> str:
    return "\n".join(srv.stderr_tail)
