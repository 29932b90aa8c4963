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
