"""The asyncio client: ``AsyncRouterClient`` on ``zmq.asyncio``.

Any number of requests may be in flight: each gets a future keyed by its
request id, and one reader task resolves them as reply frames come in, in
any order. A request whose reply has not come within ``timeout_s`` resends
its frame with the same id (after a capped exponential back-off, on the same
socket: never on a new one, sockets.py says why), and gives up with
:class:`RouterUnavailable` after ``retries`` attempts.
The operation methods (``arrive``, ``ping`` …) return awaitables.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, AsyncIterator, Iterable

import zmq
import zmq.asyncio

from .records import Event, Reply, RouterRequestError, RouterUnavailable
from .stream import CHECK_EVERY_S, StreamTracker, check_since, check_topics, parse_message
from .sockets import configure
from .framing import MAX_FRAME_BYTES, frames_for, replies_from_frame, request_map
from .wire import DEFAULT_COMMANDS, Operations, Post, as_pairs, backoff_s

MAX_IN_FLIGHT = 1_000_000


class AsyncRouterClient(Operations):
    """The asyncio twin of :class:`RouterClient` (same arguments, same methods, awaited)."""

    def __init__(self, commands: str = DEFAULT_COMMANDS, events: str | None = None, *,
                 identity: str | bytes | None = None, timeout_s: float = 2.0, retries: int = 5,
                 curve: Any = None, curve_client: str | None = None, max_frame_bytes: int = MAX_FRAME_BYTES):
        self._settings(commands, events, identity, timeout_s, retries, curve, curve_client, max_frame_bytes)
        self._ctx = zmq.asyncio.Context()
        self._sock = self._connect()
        self._futures: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        await self._stop_reader()
        for fut in self._futures.values():
            if not fut.done():
                fut.cancel()
        self._futures.clear()
        self._sock.close(0)
        self._ctx.destroy(linger=0)  # also closes sockets a caller left open (an abandoned subscription)

    async def __aenter__(self) -> "AsyncRouterClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def _stop_reader(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except asyncio.CancelledError:
                pass
            self._reader = None

    def _ensure_reader(self) -> None:
        if self._reader is None or self._reader.done():
            self._reader = asyncio.get_running_loop().create_task(self._read(self._sock))

    async def _read(self, sock: zmq.asyncio.Socket) -> None:
        futures = self._futures
        while True:
            frame = await sock.recv()
            for reply in replies_from_frame(frame, time.monotonic()):
                rid = reply.id
                fut = futures.pop(rid, None) if isinstance(rid, int) else None
                if fut is not None and not fut.done():
                    fut.set_result(reply)

    # ------------------------------------------------------------ requests
    async def pipeline(self, requests: Iterable[tuple[str, dict[str, Any]]], *, batched: bool = False,
                       partial: bool = False) -> list[Reply]:
        """Send many requests, one frame each or (``batched``) in array frames; replies in request order."""
        if self._closed:
            raise RouterUnavailable("this client is closed")
        pairs = as_pairs(requests)
        if len(pairs) + len(self._futures) > MAX_IN_FLIGHT:
            raise ValueError(f"at most {MAX_IN_FLIGHT:,} requests in flight per client")
        loop = asyncio.get_running_loop()
        maps = [request_map(self.next_id(), op, fields, self.client_name) for op, fields in pairs]
        frames = frames_for(maps, batched, self.max_frame_bytes)
        futs = {m["id"]: loop.create_future() for m in maps}
        self._futures.update(futs)
        self._ensure_reader()
        for frame, _ in frames:
            try:
                await self._sock.send(frame, copy=False)  # waits for room at most timeout_s (SNDTIMEO)
            except zmq.Again:  # a queue full that long, or no connection to queue on (sockets.py): the retries
                break  # resend, then give up
        attempt = 0
        waiting = set(futs.values())
        while waiting:
            done, waiting = await asyncio.wait(waiting, timeout=self.timeout_s)
            if done or not waiting:
                continue
            attempt += 1
            if attempt > self.retries:
                return self._give_up(futs, partial)
            await asyncio.sleep(backoff_s(attempt))
            self._handshake.read()  # keeps the monitor's queue short (sockets.HandshakeWatch)
            self.reconnects += 1  # a retry round (the same socket: ZeroMQ reconnects it when needed)
            await self._resend(frames, futs)
        return [futs[m["id"]].result() for m in maps]

    async def _resend(self, frames: list[tuple[bytes, tuple[int, ...]]], futs: dict[int, asyncio.Future]) -> None:
        """Send the frames holding an unanswered request of ``futs`` again, on the same socket; a frame that finds
        its queue full (the server away) waits for the next round, the queue still holds the ones sent before."""
        for frame, ids in frames:
            if any(not futs[rid].done() for rid in ids):
                for rid in ids:
                    if not futs[rid].done():
                        self._futures[rid] = futs[rid]
                try:
                    await self._sock.send(frame, zmq.NOBLOCK, copy=False)
                except zmq.Again:
                    return
                self.resends += 1

    def _give_up(self, futs: dict[int, asyncio.Future], partial: bool) -> list[Reply]:
        message = self._unavailable_message()
        out = []
        for rid, fut in futs.items():
            self._futures.pop(rid, None)
            if fut.done():
                out.append(fut.result())
            else:
                fut.cancel()
                out.append(Reply.unavailable(rid, message))
        if not partial:
            raise RouterUnavailable(message)
        return out

    async def request(self, op: str, **fields: Any) -> Reply:
        """One request; the :class:`Reply` whatever it says (errors are not raised)."""
        return (await self.pipeline([(op, fields)]))[0]

    async def _op(self, op: str, post: Post, fields: dict[str, Any]) -> Any:
        reply = await self.request(op, **fields)
        if not reply.ok:
            raise RouterRequestError(op, reply)
        return post(op, reply)

    # ------------------------------------------------------------ events
    async def fetch_events(self, after_seq: int = 0, upto_seq: int | None = None) -> list[Event]:
        """Every event with seq > ``after_seq`` (up to ``upto_seq`` at least, when given), paging
        ``events_since`` until the server has no more."""
        out: list[Event] = []
        while True:
            page = await self.events_since(after_seq)
            out.extend(page.events)
            if not page.events or not page.more or (upto_seq is not None and page.events[-1].seq >= upto_seq):
                return out
            after_seq = page.events[-1].seq

    async def events(self, topics: Iterable[str] = ("all",), since: int | None = None) -> AsyncIterator[Event]:
        """``async for ev in client.events()``: events in seq order from ``since + 1`` (default: from now),
        gaps filled through ``events_since``, duplicates dropped. Leave the loop to unsubscribe."""
        if self.events_address is None:
            raise ValueError("this client has no events address: AsyncRouterClient(commands, events='tcp://…')")
        topics = check_topics(topics)
        check_since(since)
        sock = self._ctx.socket(zmq.SUB)
        configure(sock, None, self.curve)
        for t in topics:
            sock.setsockopt(zmq.SUBSCRIBE, t.encode("utf-8"))
        sock.connect(self.events_address)
        try:
            ping = await self.ping()
            tracker = StreamTracker(topics, ping.seq if since is None else since)
            tracker.boot = ping.boot
            checked = time.monotonic()
            if since is not None:
                for ev in tracker.initial(await self.fetch_events(since, None)):
                    yield ev
            while True:
                wait_s = max(0.0, checked + CHECK_EVERY_S - time.monotonic())
                try:
                    parts = await asyncio.wait_for(sock.recv_multipart(), wait_s) if wait_s > 0 else None
                except asyncio.TimeoutError:
                    parts = None
                if parts is None:  # time for the periodic check (StreamTracker.check)
                    checked = time.monotonic()
                    ping = await self.ping()
                    filled: list[Event] = []
                    for topic, after, upto in tracker.check(ping.boot, ping.seq):
                        filled.extend(tracker.take_fill(topic, await self.fetch_events(after, upto), upto))
                    for ev in sorted(filled, key=lambda e: e.seq):
                        yield ev
                    continue
                parsed = parse_message(parts, topics)
                if parsed is None:
                    continue
                topic, msg = parsed
                out: list[Event] = []
                gap = tracker.gap(topic, msg)
                if gap is not None:
                    out.extend(tracker.take_fill(topic, await self.fetch_events(gap[0], gap[1]), gap[1]))
                out.extend(tracker.take_message(topic, msg))
                for ev in sorted(out, key=lambda e: e.seq) if len(topics) > 1 else out:
                    yield ev
        finally:
            sock.close(0)
