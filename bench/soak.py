"""``busyhour bench soak``: the server benchmark's load while the server is SIGKILLed and restarted.

The load generators (bench/loadgen.py) run closed-loop against one
``busyhour serve`` with a journal. A watcher in this process follows the
server's event seq and, at ``kills`` random points of the run, SIGKILLs it
and starts it again from its journal on the same addresses. The clients see
their requests time out, reconnect and resend the same frames with the same
ids; a share of frames (``garbage_share``) is followed by a frame of random
bytes on a separate raw DEALER.

At the end, from the server's whole event history (``events_since`` from 0;
beyond ``PAGED_HISTORY_EVENTS`` events, from the replay of its whole journal,
which the soak makes the server keep with ``--keep-snapshots``; that replay is
checked against the live server, below) and its ``snapshot``:

* ``lost_calls``: calls that arrived (in the history, or acknowledged to a
  client) without exactly one ``CALL_ENDED``;
* ``duplicates_applied``: calls with more than one ``CALL_ARRIVED`` (a resend
  applied twice; no queue here overflows or transfers);
* ``double_booked``: an agent connected to a second call before the first ended;
* ``stuck_agents``: agents RESERVED or BUSY once the load has drained;
* ``replay_matches``: a fresh engine host replaying the journal (from record 0,
  or from the oldest snapshot kept when older records were pruned) reaches
  the same digest as the state the server left (its last snapshot plus the
  records after it), and the same statistics the live server answered.
"""

from __future__ import annotations

import math
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import msgpack
import numpy as np

from busyhour.client import Event, RouterClient

from .server_bench import BenchSetup, ratios, run_generators, specs, start_servers
from .serverproc import ServerProcess

EVENTS_PER_CALL = 7  # arrive 3, accept 2, release 2 (wrap-up 0)
KEEP_SNAPSHOTS = 1000  # the server keeps its whole journal for a soak of any allowed size (audit by replay)
#: Up to this many events the audit reads the server's own history (events_since); a longer one is audited from
#: the journal's replay, since rebuilding old pages replays the journal from a snapshot for every page.
PAGED_HISTORY_EVENTS = 1_000_000
LIMITS = {"calls": (100, 10_000_000), "kills": (0, 1000), "garbage_share": (0.0, 0.5), "max_seconds": (5.0, 86_400.0)}


@dataclass(frozen=True)
class SoakResult:
    calls: int  # arrived, per the server's history
    kills: int
    lost_calls: int
    stuck_agents: int
    double_booked: int
    duplicates_applied: int
    ratios: dict[str, float]
    replay_matches: bool
    elapsed_s: float
    acknowledged_calls: int = 0
    unfinished: int = 0
    events: int = 0
    restart_s: list[float] = field(default_factory=list)
    garbage_frames: int = 0
    resends: int = 0
    reconnects: int = 0
    journal_records: int = 0
    replay_from_record: int = 0
    frames: str = "single"


def _pages(client: RouterClient) -> Iterator[Event]:
    """The server's whole event history, page by page (never all of it in memory at once)."""
    after = 0
    while True:
        page = client.events_since(after)
        yield from page.events
        if not page.more or not page.events:
            return
        after = page.events[-1].seq


class Auditor:
    """calls, events, lost_calls, duplicates_applied and double_booked from an event history fed in order
    (module docstring); events need ``kind`` (name), ``call`` and ``agent``."""

    def __init__(self) -> None:
        self.arrived: dict[Any, int] = {}
        self.ended: dict[Any, int] = {}
        self.talking: dict[Any, set] = {}
        self.double = self.events = 0

    def feed(self, history: Iterable[Any]) -> "Auditor":
        arrived, ended, talking = self.arrived, self.ended, self.talking
        for e in history:
            self.events += 1
            k = e.kind
            if k == "CALL_ARRIVED":
                arrived[e.call] = arrived.get(e.call, 0) + 1
            elif k == "CALL_ENDED":
                ended[e.call] = ended.get(e.call, 0) + 1
                if e.agent is not None:
                    talking.get(e.agent, set()).discard(e.call)
            elif k == "CALL_CONNECTED":
                now = talking.setdefault(e.agent, set())
                if now:
                    self.double += 1
                now.add(e.call)
        return self

    def result(self, acked: set[int]) -> dict[str, int]:
        calls = set(self.arrived) | acked
        lost = sum(1 for c in calls if self.ended.get(c, 0) != 1)
        return {"calls": len(self.arrived), "events": self.events, "lost_calls": lost, "double_booked": self.double,
                "duplicates_applied": sum(1 for n in self.arrived.values() if n > 1)}


def audit(history: Iterable[Event], acked: set[int]) -> dict[str, int]:
    return Auditor().feed(history).result(acked)


class _Replayed(NamedTuple):
    kind: str
    call: Any
    agent: Any


def _plain(stats: Any) -> Any:
    """Statistics as they travel on the wire (msgpack round trip), for comparing a live answer with a replay."""
    return msgpack.unpackb(msgpack.packb(stats, default=repr), raw=False, strict_map_key=False)


def replay_check(journal: Path, config: Path, live_stats: Any,
                 auditor: Auditor | None = None) -> tuple[bool, int, int]:
    """(matches, records in the journal, first record replayed); the server must be stopped.

    Queries wake the server too, and every wake-up moves the engine's clock
    (which idle times are counted against) without a journal record. So the
    replayed host is advanced to the live answer's ``now_s`` before its
    statistics are compared, and then to the time of the state the server
    left before the digests are compared. ``auditor`` is fed every replayed event (the journal must
    then be whole: replayed from record 0)."""
    from busyhour.router import parse_toml
    from busyhour.router.config import read_toml_text
    from busyhour.router.server.host import Host
    from busyhour.router.server.journal import Journal

    j, rec = Journal.open(journal, fsync="never")
    try:
        text = (rec.header or {}).get("config_toml") or read_toml_text(config)  # the journal's first configuration
        cfg = parse_toml(text, str(config))
        left = Host(cfg, config_text=text)  # what the server left: its newest snapshot + the records after it
        if rec.snapshot_blob is not None:
            left.load_blob(rec.snapshot_blob)
        for payload in rec.records:
            left.replay(payload)
        fresh = Host(cfg, config_text=text)
        start = 0
        if j.first_retained_record > 0:  # pruned: start from the oldest snapshot kept
            start = j.list_snapshots()[0]
            fresh.load_blob(j.load_snapshot(start)[1])
        if auditor is not None and start:
            raise RuntimeError(f"{journal}: records before {start} were pruned; the history cannot be audited")
        for _, payload in j.read_all_records(start):
            events = fresh.replay(payload)
            if auditor is not None:
                auditor.feed(_Replayed(e.kind.name, e.call_id, e.agent_id) for e in events)
        same_stats = True
        if live_stats is not None:
            fresh.step(max(fresh.time_s, float(live_stats["now_s"])), [])
            same_stats = _plain(fresh._stats({})) == _plain(live_stats)
        fresh.step(max(fresh.time_s, left.engine.now), [])
        return same_stats and fresh.digest() == left.digest(), j.records_total, start
    finally:
        j.close()


class Killer:
    """SIGKILLs and restarts the server when its event seq passes each of the chosen points."""

    def __init__(self, server: ServerProcess, points: list[int], progress: Callable[[str], None]):
        self.server, self.points, self.progress = server, sorted(points), progress
        self.restart_s: list[float] = []
        self.kills = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self, _start_at: float = 0.0) -> None:
        self._thread.start()

    def _run(self) -> None:
        client = RouterClient(self.server.commands, identity=f"soak-watch-{id(self)}", timeout_s=0.3, retries=0)
        try:
            for point in self.points:
                while not self._stop.is_set():
                    (reply,) = client.collect(client.send([("ping", {})]), partial=True)
                    if reply.ok and reply.result["seq"] >= point:
                        break
                    self._stop.wait(0.02)
                if self._stop.is_set():
                    return
                self.server.kill()
                self.kills += 1
                self.restart_s.append(self.server.start())
                self.progress(f"kill {self.kills}: SIGKILL at seq ≥ {point:,}, back in {self.restart_s[-1]:.2f} s")
        except Exception as exc:  # reported in the result; the run fails on it
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            client.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join(120)


def check(calls: int, kills: int, garbage_share: float, max_seconds: float) -> None:
    for name, v in (("calls", calls), ("kills", kills), ("garbage_share", garbage_share),
                    ("max_seconds", max_seconds)):
        lo, hi = LIMITS[name]
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi and math.isfinite(v)):
            raise ValueError(f"{name} must be in {lo:g}–{hi:g}, got {v!r}")


def run(calls: int, kills: int, *, frames: str = "single", generators: int = 2, agents: int = 200,
        queues: int = 4, garbage_share: float = 0.01, max_seconds: float = 600.0, seed: int = 1,
        workdir: Path | None = None, progress: Callable[[str], None] = lambda m: None) -> SoakResult:
    check(calls, kills, garbage_share, max_seconds)
    setup = BenchSetup(frames=frames, fsync="batch", modules=1, generators=generators, agents=agents, queues=queues,
                       calls=calls, max_seconds=max_seconds, seed=seed, busy_share=1.0)  # every agent busy
    setup.check()
    rng = random.Random(seed)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="busyhour-soak-") as tmp:
        work = Path(workdir) if workdir is not None else Path(tmp)
        (server,) = start_servers(setup, work, extra_args=("--keep-snapshots", str(KEEP_SNAPSHOTS)))
        progress(f"server up; {calls:,} calls, {kills} kills, {garbage_share:.1%} garbage frames")
        total_events = calls * EVENTS_PER_CALL
        killer = Killer(server, [int(total_events * rng.uniform(0.05, 0.9)) for _ in range(kills)], progress)
        try:
            load = specs(setup, [server], run_id=1, rate_per_s=None, calls=calls, max_seconds=max_seconds,
                         timeout_s=1.0, retries=120, garbage_share=garbage_share, drain_s=60.0)
            results = run_generators(load, on_start=killer.start)
            killer.stop()
            if killer.error:
                raise RuntimeError(f"restarting the server failed: {killer.error}")
            acked = set(np.concatenate([np.frombuffer(r.acked_calls, dtype=np.int64) for r in results]).tolist())
            with RouterClient(server.commands, timeout_s=5.0, retries=5) as c:
                found = audit(_pages(c), acked) if c.ping().seq <= PAGED_HISTORY_EVENTS else None
                snap = c.snapshot()
                live_stats = c.stats()
        finally:
            killer.stop()
            server.stop()
        stuck = sum(1 for a in snap["agents"] if str(a.get("state")) in ("RESERVED", "BUSY"))
        auditor = Auditor() if found is None else None
        matches, records, start = replay_check(server.journal, server.config, live_stats, auditor)
        if auditor is not None:
            found = auditor.result(acked)
    return SoakResult(calls=found["calls"], kills=killer.kills, lost_calls=found["lost_calls"], stuck_agents=stuck,
                      double_booked=found["double_booked"], duplicates_applied=found["duplicates_applied"],
                      ratios=ratios(results), replay_matches=matches, elapsed_s=time.monotonic() - t0,
                      acknowledged_calls=len(acked), unfinished=sum(r.unfinished for r in results),
                      events=found["events"], restart_s=killer.restart_s,
                      garbage_frames=sum(r.garbage_frames for r in results),
                      resends=sum(r.resends for r in results), reconnects=sum(r.reconnects for r in results),
                      journal_records=records, replay_from_record=start, frames=frames)
