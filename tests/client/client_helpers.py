"""Helpers of the client tests: a lossy relay, restarts, waiting (fixtures are in conftest.py)."""

from __future__ import annotations

import threading
import time

import zmq

from busyhour.bench.serverproc import ServerProcess, free_port

AGENTS = [f"a{i}" for i in range(1, 7)]
QUEUES = {"sales": AGENTS[:3], "support": AGENTS[3:]}


def restart(proc: ServerProcess) -> None:
    """SIGKILL the server and start it again from its journal (same addresses)."""
    proc.kill()
    proc.start()


class Dropper:
    """Relay client → server that drops the next ``drop`` replies (requests always get through)."""

    def __init__(self, upstream: str):
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.upstream = upstream
        self.drop = 0
        self.dropped = 0
        self.forwarded = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(5)

    def _run(self) -> None:
        ctx = zmq.Context()
        front = ctx.socket(zmq.ROUTER)
        front.setsockopt(zmq.LINGER, 0)
        front.setsockopt(zmq.ROUTER_HANDOVER, 1)
        front.bind(self.address)
        backs: dict[bytes, zmq.Socket] = {}
        poller = zmq.Poller()
        poller.register(front, zmq.POLLIN)
        self._ready.set()
        while not self._stop.is_set():
            for sock, _ in poller.poll(20):
                if sock is front:
                    ident, frame = front.recv_multipart()
                    back = backs.get(ident)
                    if back is None:
                        back = backs[ident] = ctx.socket(zmq.DEALER)
                        back.setsockopt(zmq.LINGER, 0)
                        back.setsockopt(zmq.ROUTING_ID, ident)
                        back.connect(self.upstream)
                        poller.register(back, zmq.POLLIN)
                    back.send(frame)
                    self.forwarded += 1
                else:
                    frame = sock.recv()
                    if self.drop > 0:
                        self.drop -= 1
                        self.dropped += 1
                        continue
                    front.send_multipart([sock.getsockopt(zmq.ROUTING_ID), frame])
        for s in [front, *backs.values()]:
            s.close(0)
        ctx.term()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_until(pred, timeout_s: float = 10.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


class Reverser:
    """A fake server: takes ``n`` request frames, then answers them in reverse order (echoing op as result)."""

    def __init__(self, n: int):
        import msgpack

        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.n = n
        ready = threading.Event()

        def run() -> None:
            ctx = zmq.Context()
            sock = ctx.socket(zmq.ROUTER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.bind(self.address)
            ready.set()
            got = []
            while len(got) < self.n and sock.poll(10_000):
                ident, frame = sock.recv_multipart()
                got.append((ident, msgpack.unpackb(frame)))
            for ident, req in reversed(got):
                reply = {"id": req["id"], "ok": True, "events": [], "result": {"op": req["op"], **req}}
                sock.send_multipart([ident, msgpack.packb(reply)])
            time.sleep(0.5)
            sock.close(0)
            ctx.term()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(5)

    def join(self) -> None:
        self._thread.join(15)


class StallingServer:
    """A fake server that reads nothing until ``stalled()`` holds (a starved ``busyhour serve``, the same
    ``ROUTER_HANDOVER``), then waits up to ``settle_s`` for a second connection's handshake (a client that
    reconnected), and answers what comes from an idempotency table keyed as the server's: (routing id, request
    id). ``keys``: the key of each request read; ``applied``: the keys it applied (answered for the first time)."""

    def __init__(self, stalled, settle_s: float = 1.0):
        import msgpack
        from zmq.utils.monitor import recv_monitor_message

        self.address = f"tcp://127.0.0.1:{free_port()}"
        self.keys: list[tuple[bytes, int]] = []
        self.applied: list[tuple[bytes, int]] = []
        self.handshakes = 0
        ready = threading.Event()

        def run() -> None:
            ctx = zmq.Context()
            sock = ctx.socket(zmq.ROUTER)
            sock.setsockopt(zmq.LINGER, 1000)  # as the server's
            sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
            mon = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
            sock.bind(self.address)
            ready.set()

            def watch(until) -> None:  # count handshakes without touching ``sock`` (that would read the queue)
                end = time.monotonic() + 10
                while not until() and time.monotonic() < end:
                    if mon.poll(10):
                        recv_monitor_message(mon)
                        self.handshakes += 1

            watch(stalled)
            settle_end = time.monotonic() + settle_s
            watch(lambda: self.handshakes >= 2 or time.monotonic() > settle_end)
            table: dict[tuple[bytes, int], bytes] = {}
            quiet_end, end = time.monotonic() + 1.0, time.monotonic() + 5
            while time.monotonic() < min(quiet_end, end):
                if not sock.poll(20):
                    continue
                ident, frame = sock.recv_multipart()
                rid = msgpack.unpackb(frame)["id"]
                self.keys.append((ident, rid))
                if (ident, rid) not in table:
                    table[ident, rid] = msgpack.packb({"id": rid, "ok": True, "events": [], "result": {}})
                    self.applied.append((ident, rid))
                sock.send_multipart([ident, table[ident, rid]])
                quiet_end = time.monotonic() + 0.3
            sock.disable_monitor()
            for s in (mon, sock):
                s.close(0)
            ctx.term()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(5)

    def join(self) -> None:
        self._thread.join(20)


class Answering:
    """A fake server answering every request with an empty ok reply, until :meth:`close` (at most 60 s)."""

    def __init__(self):
        import msgpack

        self.address = f"tcp://127.0.0.1:{free_port()}"
        self._stop = threading.Event()
        ready = threading.Event()

        def run() -> None:
            ctx = zmq.Context()
            sock = ctx.socket(zmq.ROUTER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.ROUTER_HANDOVER, 1)
            sock.bind(self.address)
            ready.set()
            end = time.monotonic() + 60
            while not self._stop.is_set() and time.monotonic() < end:
                if sock.poll(20):
                    ident, frame = sock.recv_multipart()
                    reply = {"id": msgpack.unpackb(frame)["id"], "ok": True, "events": [], "result": {}}
                    sock.send_multipart([ident, msgpack.packb(reply)])
            sock.close(0)
            ctx.term()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        assert ready.wait(5)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)


class Relay:
    """A TCP relay to ``upstream`` (``tcp://host:port``), one upstream connection per connection taken
    (``accepted`` counts them). :meth:`silence` turns the open connections into a black hole: bytes are taken
    and dropped both ways and nothing is closed (a dropped NAT entry, a peer gone without a reset); connections
    opened afterwards relay normally."""

    def __init__(self, upstream: str):
        import selectors
        import socket

        host, port = upstream.removeprefix("tcp://").rsplit(":", 1)
        listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        self.accepted = 0
        self._epoch = 0  # connections of an older epoch are silenced
        self._stop = threading.Event()

        def run() -> None:
            sel = selectors.DefaultSelector()
            sel.register(listener, selectors.EVENT_READ)
            peers: dict = {}  # socket -> (its peer, epoch)
            end = time.monotonic() + 60
            try:
                while not self._stop.is_set() and time.monotonic() < end:
                    for key, _ in sel.select(0.02):
                        s = key.fileobj
                        if s is listener:
                            conn, _ = listener.accept()
                            up = socket.create_connection((host, int(port)))
                            self.accepted += 1
                            peers[conn], peers[up] = (up, self._epoch), (conn, self._epoch)
                            sel.register(conn, selectors.EVENT_READ)
                            sel.register(up, selectors.EVENT_READ)
                            continue
                        if s not in peers:  # closed with its peer earlier in this round
                            continue
                        peer, epoch = peers[s]
                        try:
                            data = s.recv(65536)
                            if data and epoch == self._epoch:
                                peer.sendall(data)
                        except ConnectionError:  # one end reset it: the relayed connection ends, as on a close
                            data = b""
                        if not data:
                            for x in (s, peer):
                                sel.unregister(x)
                                peers.pop(x)
                                x.close()
            finally:
                for s in [listener, *peers]:
                    s.close()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def silence(self) -> None:
        self._epoch += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
