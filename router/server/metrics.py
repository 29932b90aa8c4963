"""Prometheus metrics of a running server (``--metrics HOST:PORT``), via prometheus_client.

Every metric lives in the server's own registry and is updated by the loop's
thread only; the HTTP exporter thread reads them. Live gauges (calls waiting
per queue, agents per state) are refreshed at most once a second.
"""

from __future__ import annotations

from collections import Counter as _Tally

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


_LATENCY_S = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 1.0)
_BATCH = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class Metrics:
    """The server's metrics; :meth:`serve` starts the exporter."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        self.requests = Counter("busyhour_requests", "Requests by op and status", ["op", "status"], registry=r)
        self.bad_frames = Counter("busyhour_bad_frames", "Frames that were not msgpack maps/arrays", registry=r)
        self.refused = Counter("busyhour_handshakes_refused", "Client handshakes refused (CurveZMQ), by reason",
                               ["reason"], registry=r)
        self.batch = Histogram("busyhour_batch_requests", "Requests applied per wake-up", buckets=_BATCH, registry=r)
        self.decision = Histogram("busyhour_step_seconds", "Engine time per wake-up (all requests and timers)",
                                  buckets=_LATENCY_S, registry=r)
        self.append = Histogram("busyhour_journal_write_seconds", "Journal write per commit", buckets=_LATENCY_S,
                                registry=r)
        self.fsync = Histogram("busyhour_journal_fsync_seconds", "Journal fsync per commit", buckets=_LATENCY_S,
                               registry=r)
        self.events = Counter("busyhour_events", "Events produced", registry=r)
        self.waiting = Gauge("busyhour_calls_waiting", "Calls waiting per queue", ["queue"], registry=r)
        self.agents = Gauge("busyhour_agents", "Agents per state", ["state"], registry=r)
        self.replayed = Gauge("busyhour_replayed_records", "Journal records replayed at the last start", registry=r)
        self.seq = Gauge("busyhour_last_seq", "Last event seq", registry=r)
        self._last_live = -1e18
        self._queues: set[str] = set()  # the queue labels set so far

    def serve(self, host: str, port: int) -> None:
        start_http_server(port, addr=host, registry=self.registry)

    def count(self, ops: list[tuple[str, str]], n_events: int, step_s: float) -> None:
        for (op, status), n in _Tally(ops).items():
            self.requests.labels(op, status).inc(n)
        if ops:
            self.batch.observe(len(ops))
        if n_events:
            self.events.inc(n_events)
        self.decision.observe(step_s)

    def live(self, engine, now_mono: float, last_seq: int) -> None:
        """Refresh the live gauges (at most once a second)."""
        if now_mono - self._last_live < 1.0:
            return
        self._last_live = now_mono
        self.seq.set(last_seq)
        names = engine.running_queues()  # a removed queue has no view: its label goes, an added one gets one
        for name in self._queues.difference(names):
            try:
                self.waiting.remove(name)
            except KeyError:
                pass
        self._queues = set(names)
        for name in names:
            self.waiting.labels(name).set(engine.queue_view(name).waiting)
        by_state = _Tally(s.split(":", 1)[0] for s in engine.displays())
        for state in ("LOGGED_OUT", "NOT_READY", "AVAILABLE", "RESERVED", "BUSY", "WRAP_UP"):
            self.agents.labels(state).set(by_state.get(state, 0))
