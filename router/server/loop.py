"""``busyhour serve``: the ZeroMQ event loop around one engine (one "module").

The loop is thin (zguide's broker shape): poll → drain every waiting frame →
stamp one server time → :meth:`Host.step` → journal append + one commit →
replies → event stream. The poll timeout comes from the engine's
``next_deadline()``. Only this module, ``security.py`` and the client library
import zmq; the engine never sees a socket or a clock.

Time: seconds since the journal's epoch (the wall clock of its first start),
advanced by ``time.monotonic()`` within a run and never backwards across
restarts; a restart counts the downtime, so timers that fell due while the
server was down fire at once, at their own deadlines.
"""

from __future__ import annotations

import logging
import signal
import sys
import time
import uuid
from collections import deque
from typing import Any

import zmq

from ..config import parse_toml, read_toml_text
from ..events import Event
from . import protocol as P
from .groupcommit import BackgroundFsync
from .engines import make_engine, warm_up
from .host import Host, Outcome, ReplayError, Work
from .journal import Journal, JournalError
from .metrics import Metrics
from .reloads import Reloading, log_reply, text_sha256
from .runtime import Clock, ServerError, ServerOptions, StartupError, quiet_gc
from .snapshots import Snapshotting
from .security import check_binds, start_server_auth

log = logging.getLogger("busyhour.server")

MAX_DRAIN = 10_000  # frames taken per wake-up, so one burst cannot starve the replies
POLL_CAP_MS = 200  # the loop wakes at least this often (signals, periodic work)


class Server(Reloading, Snapshotting):
    """One engine served on a ROUTER (commands) and a PUB (events) socket."""

    def __init__(self, opts: ServerOptions):
        self.opts = opts
        self.warnings = check_binds([opts.bind, opts.pub], curve=opts.curve_keys is not None, insecure=opts.insecure)
        self.config_text = read_toml_text(opts.config)
        self.config = parse_toml(self.config_text, str(opts.config))  # the journal's first one, once recovered
        self.config_sha256 = text_sha256(self.config_text)
        self.host = Host(self.config, engine=opts.engine, idem_capacity=opts.idem_capacity,
                         ring_capacity=opts.ring_capacity, config_text=self.config_text)
        self.host.boot = uuid.uuid4().hex
        self.journal: Journal | None = None
        self.replayed = 0
        self.torn: str | None = None
        self._stop = False
        self._tseq: dict[bytes, int] = {}
        self.interest = P.Interest()  # topics with a subscriber (the XPUB socket reports subscriptions)
        self._last_commit = time.monotonic()
        self._since_snapshot = 0
        self._bg: BackgroundFsync | None = None  # group commit on a helper thread (--fsync batch with a journal)
        self._held: deque[tuple[int, Outcome]] = deque()  # (records that must be on disk, the wake-up's answers)
        self._durable = 0  # records known to be on disk
        self._snap_pid: int | None = None  # the child writing a snapshot, if any
        self._snap_record = 0
        self._last_snapshot = time.monotonic()
        self.metrics = Metrics()
        self.ctx: zmq.Context | None = None
        self.endpoints: tuple[str, str] = ("", "")

    # ------------------------------------------------------------ start-up
    def recover(self) -> None:
        """Open the journal (if any), load its snapshot and replay its tail."""
        epoch = time.time()
        if self.opts.journal is not None:
            self.journal, rec = Journal.open(self.opts.journal, fsync=self.opts.fsync,
                                             keep_snapshots=self.opts.keep_snapshots)
            if rec.header is None:
                self.journal.write_header(self._new_header(epoch))
            else:
                self._open_header(rec.header)  # reloads.py: the configuration the journal started with
                epoch = float(rec.header["epoch_unix_s"])
                self._keep_engine(rec.header.get("engine", "python"))  # journals before the compiled engine
            if rec.snapshot_blob is not None:
                self.host.load_blob(rec.snapshot_blob)
            for payload in rec.records:
                self.host.replay(payload)
            self._check_restart(rec.header)  # the file must be the configuration the journal ran last
            self.replayed, self.torn = len(rec.records), rec.torn
            self.host.history = self._history
        self.host.epoch_unix_s = epoch
        if self.journal is not None:
            self._durable = self.journal.records_total
            if self.journal.policy.mode == "batch":
                self._bg = BackgroundFsync()
        self.clock = Clock(epoch, self.host.time_s)
        self.metrics.replayed.set(self.replayed)

    def _keep_engine(self, kind: str) -> None:
        """A journal is replayed by the engine that wrote it: the engines refuse different requests
        (per-call skills), so the other one could diverge from what was acknowledged."""
        if kind == self.host.engine.kind:
            return
        if self.opts.engine != "auto":
            self.journal.close()
            raise ServerError(f"{self.opts.journal}: this journal was written by the {kind} engine; start with "
                              f"--engine {kind} (or auto), or use a new journal folder")
        log.info("the journal was written by the %s engine: serving with it", kind)
        self.host.engine = make_engine(self.config, kind)  # nothing applied yet; the host keeps its boot id

    def _history(self, seq: int, limit: int) -> list[Event]:
        """Events after ``seq`` rebuilt by replaying the journal from the snapshot before them."""
        assert self.journal is not None
        scratch = Host(self.config, engine=self.host.engine.kind, idem_capacity=1, ring_capacity=limit + 1)
        start = 0
        for record in reversed(self.journal.list_snapshots()):
            meta, blob = self.journal.load_snapshot(record)
            if meta["seq"] <= seq:
                scratch.load_blob(blob)
                start = record
                break
        else:
            if self.journal.first_retained_record > 0:
                raise P.ProtocolError(P.GONE, f"events after seq {seq} are older than the journal keeps; "
                                              "resynchronise with 'snapshot'")
        out: list[Event] = []
        for _, payload in self.journal.read_all_records(start):
            out.extend(e for e in scratch.replay(payload) if e.seq > seq)
            if len(out) >= limit:
                break
        return out[:limit]

    def bind(self) -> None:
        o = self.opts
        self.ctx = ctx = zmq.Context()
        self.cmd = ctx.socket(zmq.ROUTER)
        self.pub = ctx.socket(zmq.XPUB)  # a PUB that also tells which topics are subscribed
        for s in (self.cmd, self.pub):
            s.linger = 1000
            s.sndhwm = o.hwm
            s.rcvhwm = o.hwm
        self.cmd.maxmsgsize = o.max_frame_bytes
        self.cmd.router_handover = 1
        self.auth = start_server_auth(ctx, [self.cmd, self.pub], o.curve_keys) if o.curve_keys else None
        for sock, endpoint, option in ((self.cmd, o.bind, "--bind"), (self.pub, o.pub, "--pub")):
            try:
                sock.bind(endpoint)
            except zmq.ZMQError as exc:
                self.close()
                raise ServerError(f"cannot bind {endpoint} ({option}): {zmq.strerror(exc.errno)}") from None
        self.endpoints = (self.cmd.last_endpoint.decode(), self.pub.last_endpoint.decode())
        if o.metrics is not None:
            try:
                self.metrics.serve(*o.metrics)
            except OSError as exc:
                self.close()
                raise ServerError(f"cannot serve metrics on {o.metrics[0]}:{o.metrics[1]}: {exc.strerror}") from None

    # ------------------------------------------------------------ the loop
    def _receive(self, works: list[Work]) -> None:
        cmd = self.cmd
        for _ in range(MAX_DRAIN):
            try:
                parts = cmd.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(parts) < 2:
                continue  # no payload: nothing to answer
            envelope, payload = parts[:-1], parts[-1]
            try:
                items, batch = P.decode_frame(payload)
            except P.ProtocolError as exc:
                self.metrics.bad_frames.inc()
                log.warning("dropped a bad frame from %r: %s", envelope[0][:32], exc.message)
                items, batch = [P.Refused(None, exc.code, exc.message)], False
            except Exception as exc:  # noqa: BLE001 - a bug in decoding: answer it, keep serving (nothing applied)
                self.metrics.bad_frames.inc()
                log.exception("could not decode a frame from %r", envelope[0][:32])
                items, batch = [P.Refused(None, P.INTERNAL, f"the server could not decode this frame "
                                                            f"({type(exc).__name__}); please report it")], False
            works.append(Work(envelope, envelope[0], items, batch))

    def _tick(self, works: list[Work]) -> None:
        t0 = time.perf_counter()
        out = self.host.step(self.clock.now(), works)
        step_s = time.perf_counter() - t0
        journal = self.journal
        if out.record is not None and journal is not None:
            journal.append(out.record)
            self._since_snapshot += out.applied
            now_m = time.monotonic()
            if works or now_m - self._last_commit > 1.0:  # timer-only records need no fsync of their own
                timing = journal.commit(defer_fsync=self._bg is not None)
                self._last_commit = now_m
                self.metrics.append.observe(timing.write_s)
                if self._bg is None:
                    self.metrics.fsync.observe(timing.fsync_s)
        if self._bg is None:
            self._deliver(out)
        else:  # group commit on the helper thread: answer once the records written so far are on disk
            self._held.append((journal.records_total, out))
            self._sync_and_release()
        self.metrics.count(out.ops, len(out.rows), step_s)
        if journal is not None and self._since_snapshot and (
                self._since_snapshot >= self.opts.snapshot_every
                or time.monotonic() - self._last_snapshot >= self.opts.snapshot_interval_s):
            self._snapshot_in_background()

    def _deliver(self, out: Outcome) -> None:
        """Send a wake-up's replies, then publish its events."""
        send, more = self.cmd.send, zmq.SNDMORE
        for envelope, frame in out.replies:
            if not envelope:  # the loop's own request (SIGHUP's reload): its reply goes to the log
                log_reply(frame)
                continue
            for part in envelope:
                send(part, more)
            send(frame)
        if out.rows and (self.interest.prefixes or self._subscriptions()):
            send = self.pub.send
            for topic, payload in P.stream_frames(out.rows, self._tseq, self.host.boot, wanted=self.interest):
                send(topic, more)
                send(payload)

    def _sync_and_release(self, wait: bool = False) -> None:
        """Take in a finished background fsync (``wait``: wait for a running one), answer the wake-ups it
        covers in order, and start the next fsync if written records are still waiting for one."""
        bg, journal, held = self._bg, self.journal, self._held
        assert bg is not None and journal is not None
        done = bg.finished(wait)
        if done is not None:
            journal.synced(done.records, done.error)  # raises JournalError if the fsync failed
            self._durable = max(self._durable, done.records)
            self.metrics.fsync.observe(done.fsync_s)
        while held and held[0][0] <= self._durable:
            self._deliver(held.popleft()[1])
        if held and not bg.busy:
            bg.start(*journal.fsync_handle())

    def _settle(self) -> None:
        """Everything written is on disk and every held wake-up answered (before a snapshot, at the end)."""
        if self._bg is None or self.journal is None:
            return
        self._sync_and_release(wait=True)
        self.journal.commit()
        self.journal.sync()
        self._durable = self.journal.records_total
        self._sync_and_release()

    def _subscriptions(self) -> bool:
        """Take in the subscription changes the XPUB socket reports; return whether any topic is subscribed."""
        recv, update = self.pub.recv, self.interest.update
        while True:
            try:
                update(recv(zmq.NOBLOCK))
            except zmq.Again:
                return bool(self.interest.prefixes)

    def serve_forever(self) -> None:
        """Run until :meth:`stop` (SIGTERM/SIGINT): then drain what was received, snapshot, close."""
        poller = zmq.Poller()
        poller.register(self.cmd, zmq.POLLIN)
        poller.register(self.pub, zmq.POLLIN)  # subscriptions coming and going
        cmd, pub = self.cmd, self.pub
        bg_fd = self._bg.fileno() if self._bg is not None else None
        if bg_fd is not None:
            poller.register(bg_fd, zmq.POLLIN)  # a background fsync finished
        self._tick([])  # the present: timers that fell due while the server was down
        quiet_gc()  # after that first run: numba's objects for the compiled code it loaded are frozen too
        while not self._stop:
            wait_ms = (self.host.engine.next_deadline() - self.clock.now()) * 1000.0
            timeout = 0 if wait_ms <= 0 else int(min(POLL_CAP_MS, wait_ms + 1))
            works: list[Work] = []
            ready = poller.poll(timeout)
            self._hangup_works(works)  # reloads.py: SIGHUP's reload, taken in at this wake-up
            if ready:
                for sock, _ in ready:
                    if sock is cmd:
                        self._receive(works)
                    elif sock is pub:
                        self._subscriptions()
                    elif sock == bg_fd:
                        self._sync_and_release()
            if works or self.host.engine.next_deadline() <= self.clock.now():
                self._tick(works)
            elif self.journal is not None and time.monotonic() - self._last_commit > 1.0:
                self.journal.commit()  # an idle server still writes out timer records and interval fsyncs
                if self.journal.policy.mode == "interval":
                    self.journal.sync()
                self._last_commit = time.monotonic()
                if self._bg is not None:  # that commit fsynced in this thread ("batch")
                    self._durable = self.journal.records_total
                    self._sync_and_release()
            self.metrics.live(self.host.engine, time.monotonic(), self.host.last_seq)
            if self.auth is not None:  # handshakes ZeroMQ refused: counted and logged (security.ServerAuth)
                self.auth.report(time.monotonic(), self.metrics.refused, log)
            if self._snap_pid is not None:
                self._snapshot_finished()
        works = []
        self._receive(works)
        if works:
            self._tick(works)
        self._settle()

    def stop(self, *_args: Any) -> None:
        self._stop = True

    def close(self) -> None:
        if self._snap_pid is not None:
            self._snapshot_finished(wait=True)
        if self._bg is not None:
            self._bg.close()
            self._bg = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if getattr(self, "auth", None) is not None:
            self.auth.stop()
            self.auth = None
        if self.ctx is not None:
            self.ctx.destroy(linger=1000)
            self.ctx = None


def start(opts: ServerOptions) -> Server:
    """Build the server, bind its sockets, then open and replay its journal. What is refused here comes from
    what the server was given or where it runs: :class:`StartupError` (a refused public bind or key stays a
    SecurityError). The bind and the journal's checks come before the replay, which may compile the routing core,
    so a port in use or a bad folder is said at once."""
    server = None
    try:
        server = Server(opts)
        for w in server.warnings:
            log.warning(w)
        server.bind()
        server.recover()
    except (ServerError, JournalError, ReplayError) as exc:  # a journal another version or engine wrote, too
        if server is not None:
            server.close()
        raise StartupError(str(exc)) from None
    return server


def run(opts: ServerOptions) -> int:
    """Start, serve until SIGTERM/SIGINT, snapshot and exit 0 (used by ``busyhour serve``)."""
    logging.basicConfig(level=logging.INFO, format="busyhour serve: %(message)s", stream=sys.stderr)
    server = start(opts)
    warm_up(server.host.engine, log)  # after the bind and the journal checks, which fail fast; before ready
    signal.signal(signal.SIGTERM, server.stop)
    signal.signal(signal.SIGINT, server.stop)
    signal.signal(signal.SIGHUP, server.hangup)
    try:
        log.info("replayed %d journal records; last seq %d", server.replayed, server.host.last_seq)
        print(f"busyhour serve: ready commands={server.endpoints[0]} events={server.endpoints[1]} "
              f"engine={server.host.engine.kind}", flush=True)
        server.serve_forever()
        server.snapshot()
    finally:
        server.close()
    log.info("stopped")
    return 0
