"""The server's compiled engine: every request of a wake-up applied in one run of the compiled core.

:class:`CompiledEngine` gives the host (host.py) what the per-call
:class:`~busyhour.router.Router` gives, over the same compiled core: the same
events, the same errors and messages, the same views (fast_views.py). What it
adds is the batch: the requests of one wake-up become rows of one ``OP_DTYPE``
array and one call into the core (``Router.run_rows``), and each request gets
back the events with the sequence numbers its row produced, as the
protocol's wire rows (``protocol.event_row``), read straight from the core's
buffers.

Specification
-------------
* **Call ids.** The protocol's call ids (strings or integers) map to the core's
  int64 ids: a new id takes the next integer from 1 when its ``arrive`` row is
  built; the mapping goes when the call's ``CALL_ENDED`` is read. An id not
  mapped becomes ``UNMAPPED``, an id the core never holds, so the core answers
  "unknown call". Events and errors always name the protocol's id.
* **Order.** Rows run in request order, so the result is the one per-request
  application gives. A request whose checks read live state (transfer,
  callback, a bad ``wrap_up_s``, an ``arrive`` reusing a mapped id) first runs
  the rows collected before it.
* **Refusals.** A refused request changes nothing, clock included, and has
  no events (docs/router-api.md), as on the Python engine.
* Statistics are collected from every event row (``stats`` query, digests), in bulk (router/stats_arrays.py).

Cost: one numba call per wake-up (two or more when a state-reading request
splits it) plus O(requests + events) Python for ids and event rows.
"""

from __future__ import annotations

from collections import OrderedDict
from types import SimpleNamespace
from typing import Any, Hashable

import numpy as np

from ..codes import CallState, EventKind
from ..config import RouterConfig
from ..core_layout import (
    ERR_UNKNOWN_CALL, EXT, NO_ID, OK, OP_ABANDON, OP_ACCEPT, OP_ADVANCE, OP_DTYPE, OP_LOGIN, OP_LOGOUT,
    OP_NOT_READY, OP_PAUSE, OP_READY, OP_REJECT, OP_RELEASE, OP_UNPAUSE, S_SEQ,
)
from ..errors import RouterError, StateError
from ..fast import Router
from ..fast_errors import row_error
from ..fast_ids import MAX_ENDED_KEPT
from ..fast_views import CoreViews
from ..stats import StatsCollector
from ..stats_upgrade import from_collector
from ..membership import ADD, REMOVE, UPDATE
from ..queue_plans import live_names
from .engines import agent_table, member_settings

UNMAPPED = NO_ID + 2  # a call id the core never holds (ours count up from 1)
_AGENT_OPS = {"login": OP_LOGIN, "logout": OP_LOGOUT, "ready": OP_READY, "not_ready": OP_NOT_READY}
_CONTEXT_OPS = ("arrive", "transfer")
_MEMBER_OPS = {"member_add": ADD, "member_remove": REMOVE, "member_update": UPDATE}
_TABLE_OPS = frozenset(("queue_update", "agent_add", "agent_remove", "queue_add", "queue_remove"))
_ENDED = EventKind.CALL_ENDED.name  # a wire row's kind


class CompiledEngine(CoreViews):
    """The compiled core with protocol ids, per-request results and the views the server answers."""

    kind = "compiled"

    def __init__(self, config: RouterConfig, *, calls: int = 4096):
        # notice=False: the server compiles in engines.warm_up, after its bind (a bad address fails at once) and
        # logging how long it took; statistics are fed the event rows as the core's run drains them
        self.fr = Router(config, calls=calls, notice=False)
        self.agent_ids = self.fr.agent_ids
        self.queue_names = self.fr.queue_names
        self._int: dict[Hashable, int] = {}
        self._ext: dict[int, Hashable] = {}
        self._next_id = 1
        self._ended: OrderedDict[Hashable, str] = OrderedDict()  # recently ended, for clear errors
        self._context: dict[Hashable, dict] = {}
        self._fresh: set[int] = set()  # ids mapped by the rows being collected

    # ------------------------------------------------------------ operations
    @property
    def config(self) -> RouterConfig:
        """The configuration as it is now (membership changes included)."""
        return self.fr.config

    def __setstate__(self, state: dict) -> None:
        """Unpickle (server snapshots). An engine pickled when it fed a StatsCollector of its own (with the
        protocol's call ids) gets those figures in its router's statistics."""
        old = state.pop("_stats", None)
        self.__dict__.update(state)
        if isinstance(old, StatsCollector):
            self.fr._stats = from_collector(old, self.fr, self._int.get)

    @property
    def now(self) -> float:
        return self.fr.now

    @property
    def counts(self) -> tuple[int, int]:
        return self.fr.counts

    def next_deadline(self) -> float:
        return self.fr.next_deadline()

    def advance(self, now: float) -> list[tuple]:
        """:meth:`apply` of one ``advance``, without its batch bookkeeping (the host advances every wake-up)."""
        events, status, _ = self.fr.run_rows(np.array([self._row(now, "advance", {})], dtype=OP_DTYPE),
                                             records=self._ext, wire=True)
        return self._events(events) if status[0] == OK else []  # refused (a time before the clock): no events

    def apply(self, now: float, cmds: list[tuple[str, dict]]) -> list[tuple[list[tuple], RouterError | None]]:
        """Apply ``cmds`` (protocol op, validated fields) at ``now`` in order: per command, its events (wire rows)
        and ``None``, or no events and the error that refused it."""
        results: list[Any] = [None] * len(cmds)
        rows: list[tuple] = []
        profs: list[int] = []  # each row's skill profile (arrive rows with their own skills; else 0)
        idx: list[int] = []
        for k, (op, f) in enumerate(cmds):
            if op in _MEMBER_OPS or op in _TABLE_OPS:  # tables change between runs
                self._run(now, rows, profs, idx, cmds, results)
                rows, profs, idx = [], [], []
                results[k] = self._table_change(now, op, f)
                continue
            if self._reads_state(op, f):
                self._run(now, rows, profs, idx, cmds, results)
                rows, profs, idx = [], [], []
            try:
                if op == "arrive":
                    row, prof = self._arrive_row(now, f)
                else:
                    row, prof = self._row(now, op, f), 0
            except RouterError as exc:
                results[k] = ([], exc)
                continue
            rows.append(row)
            profs.append(prof)
            idx.append(k)
        self._run(now, rows, profs, idx, cmds, results)
        return results

    def _table_change(self, now: float, op: str, f: dict) -> tuple[list[tuple], RouterError | None]:
        """A change of the engine's tables (fast_members.py: a membership, a queue's settings, an agent added or
        removed; fast_queues.py: a queue added or removed): checked, the core advanced to ``now``, the tables
        changed, then the rows that finish it (a queue removed: step by step, each step's rows run before the
        next changes the tables)."""
        fr = self.fr
        try:
            if op == "queue_remove":
                now, change = fr.queue_remove_plan(now, f["queue"], f.get("to"))
                swap = None
            elif op == "queue_add":
                now, change = fr.queue_add_plan(now, f["queue"])
                swap = fr.queue_put
            elif op in _MEMBER_OPS:
                now, change = fr.member_plan(now, _MEMBER_OPS[op], f["agent"], f["queue"], member_settings(f))
                swap = fr.member_swap
            elif op == "queue_update":
                now, change = fr.queue_plan(now, f["queue"], {k: v for k, v in f.items() if k != "queue"})
                swap = fr.queue_swap
            elif op == "agent_remove":
                now, change = fr.agent_remove_plan(now, f["agent"])
                swap = fr.agent_unswap
            else:
                now, change = fr.agent_plan(now, agent_table(f))
                swap = fr.agent_swap
        except RouterError as exc:
            return [], exc
        events = self._rows_now([self._row(now, "advance", {})])
        if swap is None:  # a queue removed, step by step
            for rows in fr.queue_remove_steps(change):
                events += self._rows_now(rows)
            return events, None
        return events + self._rows_now(swap(change)), None

    def agent_rows(self) -> tuple[dict, list]:
        """(agent id -> row, the id of every row): removed agents keep their rows, so rows are not positions."""
        return self.fr._agent_index, self.fr.agent_ids

    def running_queues(self) -> list[str]:
        """The queues this engine runs (removed ones left out), in row order: those :meth:`queue_view` answers.
        (:attr:`queue_names` names every row, removed queues' included: rows are not positions.)"""
        return live_names(self.fr.config)

    def reload(self, now: float, config: RouterConfig) -> list[tuple]:
        """``Router.reload`` on this engine's ids (a CALL_ENDED a no-agents limit of 0 fires unmaps its call):
        checked, the core advanced to ``now``, then the reload's steps, each run before the next."""
        fr = self.fr
        now, plan = fr.reload_plan(now, config)
        events = self._rows_now([self._row(now, "advance", {})])
        for rows in fr.reload_steps(config, plan):
            events += self._rows_now(rows)
        return events + self._rows_now([self._row(now, "advance", {})])

    def _rows_now(self, rows: list[tuple]) -> list[tuple]:
        """Run rows that cannot fail (an advance to the present, a membership row) and read their events."""
        ev, status, _ = self.fr.run_rows(np.array(rows, dtype=OP_DTYPE), records=self._ext, wire=True)
        assert (status == OK).all(), status
        return self._events(ev)

    def _reads_state(self, op: str, f: dict) -> bool:
        return (op in ("transfer", "callback") or (op == "arrive" and f["call"] in self._int)
                or (op == "release" and not Router.wrap_up_ok(f.get("wrap_up_s")))
                or (op == "move" and f["queue"] not in self.fr._queue_index))  # move_row asks if the call lives

    def _cid(self, ext: Hashable) -> int:
        return self._int.get(ext, UNMAPPED)

    def _row(self, now: float, op: str, f: dict) -> tuple:
        fr = self.fr
        if op == "accept":
            return fr.answer_row(OP_ACCEPT, now, self._cid(f["call"]), f["agent"])
        if op == "reject":
            return fr.answer_row(OP_REJECT, now, self._cid(f["call"]), f["agent"], f.get("busy", False))
        if op == "release":
            return fr.release_row(now, self._cid(f["call"]), f.get("wrap_up_s"))
        if op == "abandon":
            return (OP_ABANDON, now, self._cid(f["call"]), -1, -1, 0, 0.0)
        if op == "priority":
            return fr.priority_row(now, self._cid(f["call"]), f["priority"])
        if op == "move":
            return fr.move_row(now, self._cid(f["call"]), f["queue"])
        if op in ("pause", "unpause"):
            return fr.pause_row(OP_PAUSE if op == "pause" else OP_UNPAUSE, now, f["agent"], f["queue"],
                                f.get("reason", "paused"))
        if op in _AGENT_OPS:
            return fr.agent_row(_AGENT_OPS[op], now, f["agent"], f.get("ready", False), f.get("reason", "break"))
        if op == "transfer":
            return fr.transfer_row(now, self._cid(f["call"]), f.get("queue"), f.get("agent"), f.get("context"))
        if op == "callback":
            return fr.callback_row(now, self._cid(f["call"]), f["number"])
        if op == "advance":
            return (OP_ADVANCE, now, NO_ID, -1, -1, 0, 0.0)
        raise StateError(f"unknown operation {op!r}")

    def _arrive_row(self, now: float, f: dict) -> tuple[tuple, int]:
        """(row, skill profile): Router's checks in Router's order (a live id, the queue, per-call skills and
        channel, …)."""
        fr, ext = self.fr, f["call"]
        cid = self._int.get(ext)
        if cid is not None:  # still mapped after the rows before ran (_reads_state): a live call
            raise StateError(f"call {ext!r} is already in the system (state {self._state(ext).name})")
        cid = self._next_id
        row, prof = fr.arrive_row(now, cid, f["queue"], f.get("priority", 0), f.get("skills"),
                                  f.get("channel", "voice"), f.get("preferred_agent"),
                                  f.get("preferred_fallback_s"), f.get("context"), f.get("max_wait_s"))
        self._next_id += 1  # mapped now, so later rows of this run find it; unmapped again if refused
        self._int[ext], self._ext[cid] = cid, ext
        self._fresh.add(cid)
        return row, prof

    def _state(self, ext: Hashable) -> CallState:
        return self.call_state(ext)

    def _run(self, now: float, rows: list[tuple], profs: list[int], idx: list[int], cmds: list,
             results: list) -> None:
        """Run ``rows`` in one core run and settle each: its events, or the error built from the state
        it saw (the core stops after a failed row for that)."""
        if not rows:
            return
        fresh, self._fresh = self._fresh, set()
        walk = SimpleNamespace(j=0, buf=[], at=0, seq=int(self.fr._S.S_i[S_SEQ]))

        def settle(upto: int, ev: list[tuple], seq_after: np.ndarray, failed: int = -1, status: int = OK) -> None:
            buf = walk.buf = walk.buf[walk.at:] + self._events(ev)  # a chunk holds events up to row upto - 1
            lo = 0
            for j, hi in zip(range(walk.j, upto), (seq_after[walk.j:upto] - walk.seq).tolist()):
                mine = buf[lo:hi]
                lo = hi
                op, f = cmds[idx[j]]
                cid = rows[j][2]
                if j == failed:  # a refused row changes nothing: it has no events
                    if op == "arrive" and cid in fresh and cid in self._ext:  # a new id the core refused
                        del self._int[self._ext.pop(cid)]
                    results[idx[j]] = ([], self._error(status, rows[j], f))
                    continue
                if op in _CONTEXT_OPS and f.get("context") and self._int.get(f["call"]) == cid:
                    self._context.setdefault(f["call"], {}).update(f["context"])
                results[idx[j]] = (mine, None)
            if upto > walk.j:
                walk.seq = int(seq_after[upto - 1])
            walk.at, walk.j = lo, upto

        def on_error(i: int, st: int, ev: list[tuple], seq_after: np.ndarray) -> None:
            settle(i + 1, ev, seq_after, failed=i, status=st)

        ev, _, seq_after = self.fr.run_rows(np.array(rows, dtype=OP_DTYPE), on_error,
                                            np.array(profs, dtype=np.int64) if any(profs) else None, self._ext, True)
        settle(len(rows), ev, seq_after)

    def _error(self, st: int, row: tuple, f: dict) -> RouterError:
        ext = f["call"] if row[2] != NO_ID else NO_ID
        return row_error(self, st, int(row[0]), float(row[1]), ext, int(row[3]), int(row[4]))

    def _events(self, rows: list[tuple]) -> list[tuple]:
        """Wire rows (seq, time_s, kind name, call, agent, queue, detail, value) with protocol ids (run_rows'
        ``records``); a CALL_ENDED unmaps its call."""
        for r in rows:
            if r[2] == _ENDED:  # the chunk ends with the row being settled: no later row reads it
                self._forget(r[3], r[6])
        return rows

    def _forget(self, ext: Hashable, detail: str) -> None:
        cid = self._int.pop(ext)
        del self._ext[cid]
        self._context.pop(ext, None)
        self._ended[ext] = detail
        if len(self._ended) > MAX_ENDED_KEPT:
            self._ended.popitem(last=False)

    # ------------------------------------------------------------ what row_error reads
    def _callback_state(self, ext: Hashable) -> str:
        return self.fr._callback_state(self._int[ext])

    def _call_state_name(self, ext: Hashable) -> str:
        return self._state(ext).name

    def _call_agent(self, ext: Hashable) -> Hashable:
        return self.fr._call_agent(self._int[ext])

    def _agent_calls(self, agent_id: Hashable) -> int:
        return self.fr._agent_calls(agent_id)

    # ------------------------------------------------------------ what the views read (CoreViews)
    def _rt(self) -> Router:
        return self.fr

    def _live_slot(self, ext: Hashable) -> int:
        try:
            cid = self._int.get(ext)
        except TypeError:
            cid = None
        slot = self.fr._slot(cid) if cid is not None else -1
        if slot < 0:
            raise row_error(self, ERR_UNKNOWN_CALL, OP_RELEASE, self.now, ext, -1)
        return slot

    def _slot_id(self, slot: int) -> Hashable:
        return self._ext[int(self.fr._S.C_i[slot, EXT])]

    def _context_of(self, ext: Hashable) -> dict:
        return self._context.get(ext, {})
