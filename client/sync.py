"""The blocking client: ``RouterClient`` and its event ``Subscription``.

Request ids are one increasing integer per client. A request (or a pipeline
of them) is sent, then replies are matched by id as they arrive, in any
order. When no awaited reply has come for ``timeout_s``, the client pauses
(exponential back-off, 50 ms doubling up to 1 s) and resends the very same
frames with the same ids on the same socket (never on a new one: sockets.py
says why; ZeroMQ reconnects it by itself after a server restart); the server
answers a request it has already applied with its first reply, so a retry is
applied exactly once. After ``retries`` such attempts it gives up with
:class:`RouterUnavailable`.

Not thread-safe: one client per thread.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any, Iterable, Iterator

import zmq

from .records import Event, Reply, RouterRequestError, RouterUnavailable
from .stream import CHECK_EVERY_S, StreamTracker, check_since, check_topics, parse_message
from .sockets import configure
from .framing import MAX_FRAME_BYTES, frames_for, replies_from_frame, request_map
from .wire import DEFAULT_COMMANDS, Operations, Post, as_pairs, backoff_s

MAX_PIPELINE = 1_000_000  # requests in one pipeline call


class Pending:
    """Requests sent and not all answered yet (from :meth:`RouterClient.send`)."""

    __slots__ = ("ids", "frames", "replies", "sent_s")

    def __init__(self, ids: list[int], frames: list[tuple[bytes, tuple[int, ...]]], sent_s: float):
        self.ids = ids
        self.frames = frames
        self.replies: dict[int, Reply] = {}
        self.sent_s = sent_s

    @property
    def missing(self) -> int:
        return len(self.ids) - len(self.replies)


class RouterClient(Operations):
    """A blocking protocol-v1 client (docs/protocol.md): requests, pipelines, retries, events.

    ``commands``/``events``: the server's ROUTER and PUB addresses.
    ``identity``: the routing id, UTF-8 text (default ``<hostname>-<pid>-<random>``); every engine request also
    carries it as its ``client`` name, so the server recognises a resend on any connection.
    ``curve``: ``(client_public, client_secret, server_public)`` z85 keys or a
    keys folder made by ``busyhour keys generate``.
    """

    def __init__(self, commands: str = DEFAULT_COMMANDS, events: str | None = None, *,
                 identity: str | bytes | None = None, timeout_s: float = 2.0, retries: int = 5,
                 curve: Any = None, curve_client: str | None = None, max_frame_bytes: int = MAX_FRAME_BYTES):
        self._settings(commands, events, identity, timeout_s, retries, curve, curve_client, max_frame_bytes)
        self._ctx = zmq.Context()
        self._sock = self._connect()
        self._waiting: dict[int, Pending] = {}
        self._subs: list[Subscription] = []

    def close(self) -> None:
        for sub in self._subs:
            sub.close()
        self._sock.close(0)
        self._ctx.destroy(linger=0)  # also closes sockets a caller left open (an abandoned subscription)

    def __enter__(self) -> "RouterClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def next_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # ------------------------------------------------------------ requests
    def send(self, requests: Iterable[tuple[str, dict[str, Any]]], *, batched: bool = False) -> Pending:
        """Send requests without waiting: one frame each, or (``batched``) array frames of up to 10,000."""
        pairs = as_pairs(requests)
        if len(pairs) > MAX_PIPELINE:
            raise ValueError(f"at most {MAX_PIPELINE:,} requests per pipeline, got {len(pairs):,}")
        maps = [request_map(self.next_id(), op, fields, self.client_name) for op, fields in pairs]
        frames = frames_for(maps, batched, self.max_frame_bytes)
        pending = Pending([m["id"] for m in maps], frames, time.monotonic())
        for rid in pending.ids:
            self._waiting[rid] = pending
        send = self._sock.send
        for frame, _ in frames:
            try:
                send(frame, copy=False)  # waits for room at most timeout_s (SNDTIMEO)
            except zmq.Again:  # a queue full that long, or no connection to queue on (sockets.py): the retries
                break  # resend, then give up
        return pending

    def collect(self, pending: Pending, *, partial: bool = False) -> list[Reply]:
        """Wait for every reply of ``pending`` (resending after timeouts); replies in request order.

        ``partial``: after the last retry, stand in :meth:`Reply.unavailable`
        for the missing replies instead of raising :class:`RouterUnavailable`."""
        attempt = 0
        deadline = time.monotonic() + self.timeout_s
        while pending.missing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                attempt += 1
                if attempt > self.retries:
                    return self._give_up(pending, partial)
                time.sleep(backoff_s(attempt))
                self._handshake.read()  # keeps the monitor's queue short (sockets.HandshakeWatch)
                self._resend()
                deadline = time.monotonic() + self.timeout_s
                continue
            if self._sock.poll(max(1, int(remaining * 1000))):
                before = pending.missing
                self._drain()
                if pending.missing < before:
                    deadline = time.monotonic() + self.timeout_s
        replies = pending.replies
        return [replies[rid] for rid in pending.ids]

    def pipeline(self, requests: Iterable[tuple[str, dict[str, Any]]], *, batched: bool = False) -> list[Reply]:
        """Send many requests at once and wait for all replies (matched by id); replies in request order."""
        return self.collect(self.send(requests, batched=batched))

    def request(self, op: str, **fields: Any) -> Reply:
        """One request; the :class:`Reply` whatever it says (errors are not raised)."""
        return self.collect(self.send([(op, fields)]))[0]

    def _op(self, op: str, post: Post, fields: dict[str, Any]) -> Any:
        reply = self.request(op, **fields)
        if not reply.ok:
            raise RouterRequestError(op, reply)
        return post(op, reply)

    def _drain(self) -> None:
        recv, waiting = self._sock.recv, self._waiting
        while True:
            try:
                frame = recv(zmq.NOBLOCK)
            except zmq.Again:
                return
            for reply in replies_from_frame(frame, time.monotonic()):
                rid = reply.id
                p = waiting.pop(rid, None) if isinstance(rid, int) else None
                if p is not None:
                    p.replies[rid] = reply

    def _resend(self) -> None:
        """Send every frame with an unanswered request again, on the same socket. A frame that finds the
        socket's queue full (a pipeline as long as the high-water mark, the server away) waits for the next
        round: the queue still holds the frames sent before."""
        self.reconnects += 1
        send, noblock = self._sock.send, zmq.NOBLOCK
        for p in {id(p): p for p in self._waiting.values()}.values():
            for frame, ids in p.frames:
                if any(rid not in p.replies for rid in ids):
                    try:
                        send(frame, noblock, copy=False)
                    except zmq.Again:
                        return
                    self.resends += 1

    def _give_up(self, pending: Pending, partial: bool) -> list[Reply]:
        message = self._unavailable_message()
        for rid in pending.ids:
            self._waiting.pop(rid, None)
        if not partial:
            raise RouterUnavailable(message)
        return [pending.replies.get(rid) or Reply.unavailable(rid, message) for rid in pending.ids]

    def fetch_events(self, after_seq: int = 0, upto_seq: int | None = None) -> list[Event]:
        """Every event with seq > ``after_seq`` (up to ``upto_seq`` at least, when given), paging
        ``events_since`` (10,000 events a reply) until the server has no more."""
        out: list[Event] = []
        while True:
            page = self.events_since(after_seq)
            out.extend(page.events)
            if not page.events or not page.more or (upto_seq is not None and page.events[-1].seq >= upto_seq):
                return out
            after_seq = page.events[-1].seq

    # ------------------------------------------------------------ events
    def subscribe(self, topics: Iterable[str] = ("all",), since: int | None = None) -> "Subscription":
        """Subscribe to the event stream: every event from seq ``since + 1`` (default: from now), gaps filled."""
        if self.events_address is None:
            raise ValueError("this client has no events address: RouterClient(commands, events='tcp://…')")
        sub = Subscription(self, tuple(topics), since)
        self._subs.append(sub)
        return sub


class Subscription:
    """Events of some topics in seq order, gaps filled through ``events_since``, duplicates dropped.

    Iterate it (blocks until events come; break out of the loop to stop) or
    call :meth:`next_events`. A gap is noticed when the next stream message
    arrives, or at the next check (one ``ping`` every ``CHECK_EVERY_S``:
    events lost before a quiet spell, a restart hidden by a continuing
    ``tseq``)."""

    def __init__(self, client: RouterClient, topics: tuple[str, ...], since: int | None):
        check_since(since)
        self.client = client
        self.topics = check_topics(topics)
        self._sock = client._ctx.socket(zmq.SUB)
        configure(self._sock, None, client.curve)
        for t in self.topics:
            self._sock.setsockopt(zmq.SUBSCRIBE, t.encode("utf-8"))
        self._sock.connect(client.events_address)
        ping = client.ping()
        self.tracker = StreamTracker(self.topics, ping.seq if since is None else since)
        self.tracker.boot = ping.boot
        self._ready: deque[Event] = deque()
        if since is not None:
            self._ready.extend(self.tracker.initial(self.client.fetch_events(since, None)))
        self._checked_s = time.monotonic()
        self.closed = False

    def _handle(self, parts: list[bytes]) -> list[Event]:
        parsed = parse_message(parts, self.topics)
        if parsed is None:
            return []
        topic, msg = parsed
        out: list[Event] = []
        gap = self.tracker.gap(topic, msg)
        if gap is not None:
            out.extend(self.tracker.take_fill(topic, self.client.fetch_events(gap[0], gap[1]), gap[1]))
        out.extend(self.tracker.take_message(topic, msg))
        return out

    def next_events(self, timeout_s: float = 1.0) -> list[Event]:
        """The events that arrived (waiting up to ``timeout_s`` for the first), in seq order; [] on timeout."""
        if self._ready:
            ready = list(self._ready)
            self._ready.clear()
            return ready
        out: list[Event] = []
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            now = time.monotonic()
            wait_s = min(deadline, self._checked_s + CHECK_EVERY_S) - now
            if self._sock.poll(max(0, int(wait_s * 1000))):
                while True:
                    try:
                        parts = self._sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    out.extend(self._handle(parts))
            now = time.monotonic()
            if now - self._checked_s >= CHECK_EVERY_S:
                self._checked_s = now
                out.extend(self._check())
            if out or now >= deadline:
                out.sort(key=lambda e: e.seq)
                return out

    def _check(self) -> list[Event]:
        ping = self.client.ping()
        out: list[Event] = []
        for topic, after, upto in self.tracker.check(ping.boot, ping.seq):
            out.extend(self.tracker.take_fill(topic, self.client.fetch_events(after, upto), upto))
        return out

    def __iter__(self) -> Iterator[Event]:
        while not self.closed:
            yield from self.next_events(1.0)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._sock.close(0)
