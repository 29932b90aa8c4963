"""Router: the ACD engine — the compiled core behind a per-call facade and a batch API.

The per-call methods (``call_arrive``, ``offer_accept``, …, docs/router-api.md)
take any call id a PBX uses (router/fast_ids.py) and return ``Event``
records. ``Router.submit(ops)`` applies a whole array of operations
(``OP_DTYPE``, integer call ids) in one numba call and returns their events
as a structured array (``EVENT_DTYPE``) with one status per operation — the
path for high call rates. Both run the same compiled core (core_*.py), the
one production engine; the readable Python engine (engine.py,
:class:`~busyhour.router.engine.ReferenceRouter`) is its executable
specification, which the parity tests hold it equal to: the same events,
errors and states on random configurations and operation streams.
"""

from __future__ import annotations

import math
import struct
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Hashable, NamedTuple

import numpy as np

from .codes import MAX_NUMBER_CHARS, CallState, EventKind
from .config import RouterConfig, load_toml, parse_config
from .core_handle import handle_entries, on_state
from .core_compile import prepare_router
from .core_jit import Direct
from .core_kernels import event_rows
from .core_build import build, core_channels, grow
from .core_upgrade import upgrade
from .fast_trial import settle_trial
from .core_layout import (
    AGENT, CB, CONN, CoreState, ERR_UNKNOWN_CALL, EXT, MAX_NUMBER_CODES, MAX_TIME_S, NOT_RUN, NO_ID, OK, OP_ABANDON,
    OP_ACCEPT, OP_ADVANCE, OP_DTYPE, OP_LOGIN, OP_ROW, OP_LOGOUT, OP_NOT_READY, OP_READY, OP_REJECT, OP_RELEASE, STATE,
    S_ARRIVED, S_ENDED, S_NEV, S_NNUMBERS, S_NOW, S_NREASONS, S_TRIAL,
)
from .fast_errors import check_batch, row_error
from .fast_events import DetailTexts, EventReaders, core_views
from .fast_ids import CallIds, call_key
from .fast_members import MemberChanges
from .fast_pause import MemberPause
from .fast_queues import QueueChanges
from .fast_rows import RowBuilders
from .fast_views import CoreViews
from .errors import ConfigError, RouterError, StateError, UnknownIdError, check_reason, real_seconds
from .events import Event
from .stats import StatsCollector
from .stats_arrays import EventStats
from .stats_upgrade import from_collector

_ENDED = EventKind.CALL_ENDED
_pack_row = OP_ROW.pack_into
_NO_PROFILES = np.zeros(0, dtype=np.int64)  # run_batch's ``prof`` when no row has its own skills


class BatchResult(NamedTuple):
    """``events``: EVENT_DTYPE rows in sequence order; ``status``: one code per operation (0 = done)."""

    events: np.ndarray
    status: np.ndarray


class Router(EventReaders, RowBuilders, CallIds, CoreViews, MemberPause, MemberChanges, QueueChanges):
    """The ACD engine. Build with :meth:`from_config` or :meth:`from_toml`. ``calls``: room for this many
    live calls at first (it grows); ``collect_stats``: feed :meth:`stats` (the event rows, in bulk);
    ``notice``: say so when the core is being compiled."""

    def __init__(self, config: RouterConfig, *, calls: int = 1024, collect_stats: bool = True, notice: bool = True):
        if not isinstance(config, RouterConfig):
            raise ConfigError("config: expected a RouterConfig; use Router.from_config(dict)")
        self.config = config
        if notice:  # off for drivers that call the core inside their own compiled loop (the simulator)
            prepare_router()
        self._S = build(config, calls=max(16, int(calls)))
        self.agent_ids: list[Hashable] = [a.id for a in config.agents]
        self.queue_names: list[str] = [q.name for q in config.queues]
        self._agent_index = {a: i for i, a in enumerate(self.agent_ids)}
        self._queue_index = {q: i for i, q in enumerate(self.queue_names)}
        self._reasons = ["login", "no-answer"]
        self._reason_code = {r: i for i, r in enumerate(self._reasons)}
        self._skill_index = {s: i for i, s in enumerate(config.skills)}
        self._channel_index = {c: i for i, c in enumerate(core_channels(config))}
        self._profiles: dict[tuple, int] = {}  # (channel, per-call skill requirements) -> CP row (skill_profile)
        self._numbers: list[str] = [""]  # callback numbers by code (0: none)
        self._number_code: dict[str, int] = {}
        self._init_ids()
        self._stats = EventStats(config) if collect_stats else None  # fed the event rows as they are drained
        self._unfed = 0  # event rows at the head of the core's buffers the statistics have not read yet
        self._direct()

    def _direct(self) -> None:
        """The core's hot entries called without numba's per-call dispatch (core_jit.Direct; not pickled)."""
        # the entries take the state's handle (core_handle: one array to unbox, not 43); the facade's views hold
        # the handle of the current state (fast_events.core_views)
        self._run_batch, self._deadline, self._h_get, self._rank = map(Direct, handle_entries())
        self._event_rows = Direct(event_rows)
        # the one-row arrays of the per-call methods: (op row, status, seq_after, skill profile, the op row's bytes)
        # and the status as a memoryview (read at a fifth of numpy's cost)
        raw, status = bytearray(OP_DTYPE.itemsize), np.zeros(1, dtype=np.int8)
        self._one_rows = (np.frombuffer(raw, dtype=OP_DTYPE), status, np.zeros(1, dtype=np.int64),
                          np.zeros(1, dtype=np.int64), raw, memoryview(status))
        self._core_views = core_views(self._S)  # EventReaders: remade when _S is replaced
        self._detail_texts = DetailTexts(self.detail_text)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in ("_run_batch", "_deadline", "_h_get", "_rank", "_event_rows", "_one_rows", "_core_views",
                     "_detail_texts"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        """Unpickle (server snapshots). A router pickled before per-call skill profiles or multi-channel
        agents existed is upgraded (core_upgrade): its calls have no own skills and are voice calls."""
        self.__dict__.update(state)
        if "_int" not in state:  # pickled before any call id was mapped (integers only)
            ended, context = self._ended, self._context
            self._init_ids()
            self._ended, self._context = ended, context
        self._S, self._profiles = upgrade(self._S, self.config, getattr(self, "_profiles", {}))
        self._skill_index = {s: i for i, s in enumerate(self.config.skills)}
        self._channel_index = {c: i for i, c in enumerate(core_channels(self.config))}
        self._unfed = state.get("_unfed", 0)
        self._direct()
        if isinstance(self._stats, StatsCollector):  # pickled when statistics were fed one Event at a time
            self._stats = from_collector(self._stats, self, lambda ext: self._int.get(ext, ext))
            self._S.S_i[S_NEV] = self._unfed = 0  # that collector had every event already

    @classmethod
    def from_config(cls, raw: dict[str, Any], **kw: Any) -> "Router":
        return cls(parse_config(raw), **kw)

    @classmethod
    def from_toml(cls, path: str | Path, **kw: Any) -> "Router":
        return cls(load_toml(path), **kw)

    # ------------------------------------------------------------------ batch API
    def agent_index(self, agent_id: Hashable) -> int:
        try:
            return self._agent_index[agent_id]
        except (KeyError, TypeError):
            raise UnknownIdError(f"unknown agent {agent_id!r}") from None

    def queue_index(self, name: str) -> int:
        try:
            return self._queue_index[name]
        except (KeyError, TypeError):
            raise UnknownIdError(f"unknown queue {name!r}") from None

    def reason_code(self, reason: str, what: str = "not-ready") -> int:
        """The code of a not-ready or pause reason for ``OP_NOT_READY`` / ``OP_PAUSE`` rows (registered on
        first use)."""
        check_reason(reason, what)
        code = self._reason_code.get(reason)
        if code is None:
            code = self._reason_code[reason] = len(self._reasons)
            self._reasons.append(reason)
            self._S.S_i[S_NREASONS] = len(self._reasons)
        return code

    def number_code(self, number: str) -> int:
        """The code of a callback number for ``OP_CALLBACK`` rows (registered on first use; a number
        is kept for the router's life, so its events can always be read back)."""
        if not isinstance(number, str) or not number.strip():
            raise StateError(f"callback number must be a non-empty string, got {number!r}")
        if len(number) > MAX_NUMBER_CHARS:
            raise StateError(f"callback number must be at most {MAX_NUMBER_CHARS} characters, got {len(number)}")
        code = self._number_code.get(number)
        if code is None and len(self._numbers) >= MAX_NUMBER_CODES:
            raise StateError(f"this router has registered {MAX_NUMBER_CODES:,} callback numbers, its limit")
        if code is None:
            code = self._number_code[number] = len(self._numbers)
            self._numbers.append(number)
            self._S.S_i[S_NNUMBERS] = len(self._numbers)
        return code

    def submit(self, ops: np.ndarray, skills: np.ndarray | None = None) -> BatchResult:
        """Apply every row of ``ops`` in order; a row that fails changes nothing (its timers fire with the
        next row) and the batch goes on (see ``status`` and :meth:`describe`). ``skills``: per row,
        the arrive's own skills as a :meth:`skill_profile` code (0: none; other rows ignore it)."""
        ops = check_batch(ops, skills)
        events, status, _ = self.run_rows(ops, skills=skills)
        return BatchResult(events, status)

    def run_rows(self, ops: np.ndarray, on_error: Callable | None = None, skills: np.ndarray | None = None,
                 records: dict | None = None, wire: bool = False) -> tuple[np.ndarray | list, np.ndarray, np.ndarray]:
        """:meth:`submit` without the checks and statistics, for drivers that attribute events to rows:
        (events, status, seq_after), the events of row ``i`` being those with ``seq_after[i - 1] < seq
        <= seq_after[i]``. With ``on_error``, each failed row ``i`` calls ``on_error(i, status, events,
        seq_after)`` right after it ran (the state is the one it saw), with the events since the last call;
        the events returned are those after the last call. With ``records`` (a map from the core's call ids
        to the driver's), events come as ``Event`` records naming the driver's ids, read straight from the
        core's buffers (``to_events`` of the rows, without the rows); with ``wire`` too, as the server's wire
        rows instead (fast_events ``_records``)."""
        n = ops.shape[0]
        prof = _NO_PROFILES if skills is None else np.ascontiguousarray(skills, dtype=np.int64)
        status = np.empty(n, dtype=np.int8)
        status.fill(NOT_RUN)  # half of what np.full costs for a small batch
        seq_after = np.zeros(n, dtype=np.int64)
        chunks = []
        i, handled, stop = 0, -1, on_error is not None
        while True:
            i = self._run_batch(self._views()[5], ops, prof, i, status, seq_after, stop)
            if self._S.S_i[S_NEV]:
                chunks.append(self._drain() if records is None else self._drain_records(records, wire))
            tried = bool(self._S.S_i[S_TRIAL])
            seen = settle_trial(on_state(self._run_batch), self._S, ops, prof, i, status, seq_after) if tried else None
            if seen is not None:  # refused on the copy: the row fails, the state is unchanged
                i += 1
            if stop and handled < i - 1 and status[i - 1] != OK:
                handled = i - 1
                with self._seeing(seen):
                    on_error(i - 1, int(status[i - 1]), self._joined(chunks, records), seq_after)
                chunks = []
                if i < n:
                    continue
            if i >= n:
                break
            if not tried:
                self._S = grow(self._S)
        return self._joined(chunks, records), status, seq_after

    # ------------------------------------------------------------------ per-call API (Router's)
    def _one(self, op: int, now: float, call: int = NO_ID, agent: int = -1, queue: int = -1, priority: int = 0,
             arg: float = 0.0, prof: int = 0, *, asked: Any = None) -> list[Event]:
        """Run one row; its events as records, or the error it got (``asked``: the call id as the caller gave
        it, for the message)."""
        if type(now) is not float or not -MAX_TIME_S <= now <= MAX_TIME_S:  # real_seconds' own common case
            now = real_seconds(now)
        row, status, seq_after, prof1, raw, status_view = self._one_rows
        try:  # the row's fields straight into its bytes: a third of the time numpy takes from a tuple
            _pack_row(raw, 0, op, now, call, agent, queue, priority, arg)
        except struct.error:  # a value out of its column's range: numpy's own error, as before
            row[0] = (op, now, call, agent, queue, priority, arg)
        if prof:
            prof1[0] = prof
        profs = prof1 if prof else _NO_PROFILES
        events: list[Event] = []
        seen = None
        ext = self._ext or None  # only ids that are not their own core id need mapping back
        S = self._S
        views = self._views()
        counts, H = views[1], views[5]
        ended = counts[S_ENDED]
        run = self._run_batch.fn or self._run_batch
        while True:  # as run_rows, reading the events straight from the core's buffers
            done = run(H, row, profs, 0, status, seq_after, False)
            if counts[S_NEV] > self._unfed:
                events += self._drain_records(ext)
            if done:
                break
            if counts[S_TRIAL]:
                seen = settle_trial(on_state(self._run_batch), S, row, profs, 0, status, seq_after)
                if seen is not None:
                    break
                continue
            self._S = S = grow(S)
            views = self._views()
            counts, H = views[1], views[5]
        if counts[S_ENDED] != ended:  # a call ended (core_ops.end_call counts them)
            for e in events:
                if e.kind is _ENDED:
                    self._ended_call(e.call_id, e.detail)
        st = status_view[0]
        if st != OK:
            with self._seeing(seen):
                raise self._error(st, op, now, call if asked is None else self._known_as(asked), agent, queue)
        return events

    @contextmanager
    def _seeing(self, state: CoreState | None):
        """Error messages read the state the refused operation saw: a trial's copy (fast_trial), if any."""
        if state is None:
            yield
            return
        real, self._S = self._S, state
        try:
            yield
        finally:
            self._S = real

    def _error(self, st: int, op: int, now: float, call: int, agent: int, queue: int = -1) -> Exception:
        return row_error(self, st, op, now, call, agent, queue)

    # what row_error reads (``call``: the id as the caller gave it)
    def _callback_state(self, call: Hashable) -> str:
        slot = self._slot(self._call_id(call))
        if self._S.C_i[slot, CB]:
            return "already a callback"
        return CallState(int(self._S.C_i[slot, STATE])).name

    def _call_state_name(self, call: Hashable) -> str:
        return CallState(int(self._S.C_i[self._slot(self._call_id(call)), STATE])).name

    def _call_agent(self, call: Hashable) -> Hashable:
        return self.agent_ids[int(self._S.C_i[self._slot(self._call_id(call)), AGENT])]

    def _agent_calls(self, agent_id: Hashable) -> int:
        return int(self._S.A_i[self.agent_index(agent_id), CONN])

    def call_arrive(self, now: float, call_id: Hashable, queue: str, *, priority: int = 0,
                    skills: dict[str, int] | None = None, channel: str = "voice", preferred_agent: Hashable = None,
                    preferred_fallback_s: float | None = None, context: dict[str, Any] | None = None,
                    max_wait_s: float | None = None) -> list[Event]:
        """A new call enters ``queue``; it is offered at once or waits in its place. ``max_wait_s``: the
        caller's own limit from now until it is answered (Asterisk's ``Queue(..., timeout)``)."""
        cid = self._new_call_id(call_id)
        try:
            row, prof = self.arrive_row(now, cid, queue, priority, skills, channel, preferred_agent,
                                        preferred_fallback_s, context, max_wait_s)
            events = self._one(*row, prof, asked=call_id)
        except RouterError:
            if self._slot(cid) < 0:  # refused: an id mapped for it is free again
                self._unmap(cid)
            raise
        if context and self._slot(cid) >= 0:
            self._context[call_key(call_id)] = dict(context)
        return events

    def offer_accept(self, now: float, call_id: Hashable, agent_id: Hashable) -> list[Event]:
        """The agent answers: the call connects; its other ringing offers are withdrawn."""
        return self._one(*self.answer_row(OP_ACCEPT, now, self._call_id(call_id), agent_id), asked=call_id)

    def offer_reject(self, now: float, call_id: Hashable, agent_id: Hashable, *, busy: bool = False) -> list[Event]:
        return self._one(*self.answer_row(OP_REJECT, now, self._call_id(call_id), agent_id, busy), asked=call_id)

    def call_release(self, now: float, call_id: Hashable, *, wrap_up_s: float | None = None) -> list[Event]:
        return self._one(*self.release_row(now, self._call_id(call_id), wrap_up_s), asked=call_id)

    def call_abandon(self, now: float, call_id: Hashable) -> list[Event]:
        return self._one(OP_ABANDON, now, self._call_id(call_id), asked=call_id)

    def agent_login(self, now: float, agent_id: Hashable, *, ready: bool = False) -> list[Event]:
        return self._one(*self.agent_row(OP_LOGIN, now, agent_id, ready=ready))

    def agent_logout(self, now: float, agent_id: Hashable) -> list[Event]:
        return self._one(*self.agent_row(OP_LOGOUT, now, agent_id))

    def agent_ready(self, now: float, agent_id: Hashable) -> list[Event]:
        return self._one(*self.agent_row(OP_READY, now, agent_id))

    def agent_not_ready(self, now: float, agent_id: Hashable, reason: str = "break") -> list[Event]:
        return self._one(*self.agent_row(OP_NOT_READY, now, agent_id, reason=reason))

    def advance(self, now: float) -> list[Event]:
        return self._one(OP_ADVANCE, now)

    def next_deadline(self) -> float:
        return float((self._deadline.fn or self._deadline)(self._views()[5]))

    # ------------------------------------------------------------------ queries
    def _slot(self, cid: int) -> int:
        """The core's slot of core id ``cid`` (-1: no live call)."""
        return int((self._h_get.fn or self._h_get)(self._views()[5], cid))

    # what the views read (fast_views.CoreViews)
    def _rt(self) -> "Router":
        return self

    def _live_slot(self, call_id: Hashable) -> int:
        slot = self._slot(self._call_id(call_id))
        if slot < 0:
            raise self._error(ERR_UNKNOWN_CALL, OP_RELEASE, self.now, self._known_as(call_id), -1)
        return slot

    def _slot_id(self, slot: int) -> Hashable:
        cid = int(self._S.C_i[slot, EXT])
        return self._ext.get(cid, cid)

    def _context_of(self, call_id: Hashable) -> dict:
        return self._context.get(self._known_as(call_id), {})

    @property
    def now(self) -> float:
        return float(self._S.S_f[S_NOW])

    @property
    def counts(self) -> tuple[int, int]:
        """(calls arrived, calls ended) so far."""
        return int(self._S.S_i[S_ARRIVED]), int(self._S.S_i[S_ENDED])

    def change_priority(self, now: float, call_id: Hashable, priority: int) -> list[Event]:
        """A waiting or ringing call's new priority (Asterisk's QueueChangePriorityCaller); a waiting call
        moves to its place among the calls of that priority (docs/routing.md §16)."""
        return self._one(*self.priority_row(now, self._call_id(call_id), priority), asked=call_id)

    def request_callback(self, now: float, call_id: Hashable, number: str) -> list[Event]:
        """A waiting caller hangs up and keeps its place; an agent will call ``number`` back."""
        return self._one(*self.callback_row(now, self._call_id(call_id), number), asked=call_id)

    def transfer(self, now: float, call_id: Hashable, *, queue: str | None = None, agent: Hashable | None = None,
                 context: dict[str, Any] | None = None, fallback_s: float = math.inf) -> list[Event]:
        """Move a connected call to ``queue`` and/or a named ``agent`` (docs/routing.md §9); ``context`` is
        merged into the call's."""
        cid = self._call_id(call_id)
        events = self._one(*self.transfer_row(now, cid, queue, agent, context, fallback_s), asked=call_id)
        if context and self._slot(cid) >= 0:
            self._context.setdefault(call_key(call_id), {}).update(context)
        return events


FastRouter = Router  # the name of the compiled engine before it became the one Router (pickles, old code)
