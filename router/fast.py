"""FastRouter: the compiled core behind a batch API and the Router's per-call methods.

``FastRouter.submit(ops)`` applies a whole array of operations (``OP_DTYPE``)
in one numba call and returns their events as a structured array
(``EVENT_DTYPE``) with one status per operation — the path for high call
rates (a PBX adapter or the ZeroMQ server hands over every command that
arrived since the last poll). The per-call methods (``call_arrive``,
``offer_accept``, …) take and return exactly what :class:`Router`'s do, so
code can switch between the two; the parity tests run both on random
operation streams and require identical events, errors and states.

The compiled core runs every configuration (docs/routing.md §15). Call ids
are integers.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Hashable, NamedTuple

import numpy as np

from .codes import MAX_NUMBER_CHARS, CallState, EventKind
from .config import RouterConfig, load_toml, parse_config
from .core_batch import deadline, run_batch
from .core_compile import ROUTER_COMPILE_S, compile_notice, router_dispatchers
from .core_jit import Direct
from .core_ids import h_get
from .core_build import build, core_channels, grow
from .core_upgrade import upgrade
from .fast_trial import settle_trial
from .core_layout import (
    AGENT, AHT, ARRIVAL, CB, CONN, CoreState, DETAIL_DISPLAY, DISPLAY, ERR_UNKNOWN_CALL, LOGGED_IN,
    MAX_NUMBER_CODES, NOT_RUN, NO_ID, NWAIT, OK, OP_ABANDON, OP_ACCEPT, OP_ADVANCE, OP_DTYPE, OP_LOGIN, OP_LOGOUT,
    OP_NOT_READY, OP_READY, OP_REJECT, OP_RELEASE, QM_AGENT, QUEUE, STATE, S_ARRIVED, S_ENDED, S_NEV, S_NNUMBERS,
    S_NOW, S_NREASONS, S_TRIAL,
)
from .core_wait import w_rank
from .fast_errors import row_error
from .fast_events import EventReaders
from .fast_rows import RowBuilders
from .errors import ConfigError, StateError, UnknownIdError, real_seconds
from .events import Event
from .stats import Position, RouterStats, StatsCollector

_ENDED = EventKind.CALL_ENDED
_INT64 = (-(1 << 63), (1 << 63) - 1)
_NO_PROFILES = np.zeros(0, dtype=np.int64)  # run_batch's ``prof`` when no row has its own skills


class BatchResult(NamedTuple):
    """``events``: EVENT_DTYPE rows in sequence order; ``status``: one code per operation (0 = done)."""

    events: np.ndarray
    status: np.ndarray


class FastRouter(EventReaders, RowBuilders):
    """The compiled routing core. Build with :meth:`from_config` or :meth:`from_toml`."""

    def __init__(self, config: RouterConfig, *, calls: int = 1024, collect_stats: bool = False, notice: bool = True):
        if not isinstance(config, RouterConfig):
            raise ConfigError("config: expected a RouterConfig; use FastRouter.from_config(dict)")
        self.config = config
        if notice:  # off for drivers that call the core inside their own compiled loop (the simulator)
            compile_notice("the routing core", router_dispatchers(), ROUTER_COMPILE_S)
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
        self._ended: OrderedDict[int, str] = OrderedDict()  # per-call API: recently ended, for clear errors
        self._context: dict[int, dict] = {}
        self._detail_texts: dict[int, str] = {}  # detail code -> text, filled as events are read
        self._stats = StatsCollector(config) if collect_stats else None  # fed every event (opt-in: it costs)
        self._direct()

    def _direct(self) -> None:
        """The core's hot entries called without numba's per-call dispatch (core_jit.Direct; not pickled)."""
        self._run_batch, self._deadline, self._h_get = Direct(run_batch), Direct(deadline), Direct(h_get)
        # the one-row arrays of the per-call methods: (op row, status, seq_after, skill profile)
        self._one_rows = (np.zeros(1, dtype=OP_DTYPE), np.zeros(1, dtype=np.int8), np.zeros(1, dtype=np.int64),
                          np.zeros(1, dtype=np.int64))

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        for name in ("_run_batch", "_deadline", "_h_get", "_one_rows"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict) -> None:
        """Unpickle (server snapshots). A router pickled before per-call skill profiles or multi-channel
        agents existed is upgraded (core_upgrade): its calls have no own skills and are voice calls."""
        self.__dict__.update(state)
        self._direct()
        self._S, self._profiles = upgrade(self._S, self.config, getattr(self, "_profiles", {}))
        self._skill_index = {s: i for i, s in enumerate(self.config.skills)}
        self._channel_index = {c: i for i, c in enumerate(core_channels(self.config))}

    @classmethod
    def from_config(cls, raw: dict[str, Any], **kw: Any) -> "FastRouter":
        return cls(parse_config(raw), **kw)

    @classmethod
    def from_toml(cls, path: str | Path, **kw: Any) -> "FastRouter":
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

    def reason_code(self, reason: str) -> int:
        """The code of a not-ready reason for ``OP_NOT_READY`` rows (registered on first use)."""
        if not isinstance(reason, str) or not reason or ":" in reason:
            raise StateError(f"not-ready reason must be a non-empty string without ':', got {reason!r}")
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
        if not isinstance(ops, np.ndarray) or ops.dtype != OP_DTYPE or ops.ndim != 1:
            raise StateError("ops must be a 1-D numpy array of busyhour.router.OP_DTYPE")
        ops = np.require(ops, requirements=("C", "A", "W"))  # the layout the core's direct call is bound to
        if skills is not None and not (isinstance(skills, np.ndarray) and skills.ndim == 1
                                       and skills.shape == ops.shape and skills.dtype.kind in "iu"):
            raise StateError("skills must be a 1-D integer numpy array with one profile code per row of ops")
        events, status, _ = self.run_rows(ops, skills=skills)
        if self._stats is not None:
            for e in self.to_events(events):
                self._stats.apply(e)
        return BatchResult(events, status)

    def run_rows(self, ops: np.ndarray, on_error: Callable | None = None, skills: np.ndarray | None = None,
                 records: dict | None = None) -> tuple[np.ndarray | list[Event], np.ndarray, np.ndarray]:
        """:meth:`submit` without the checks and statistics, for drivers that attribute events to rows:
        (events, status, seq_after), the events of row ``i`` being those with ``seq_after[i - 1] < seq
        <= seq_after[i]``. With ``on_error``, each failed row ``i`` calls ``on_error(i, status, events,
        seq_after)`` right after it ran (the state is the one it saw), with the events since the last call;
        the events returned are those after the last call. With ``records`` (a map from the core's call ids
        to the driver's), events come as ``Event`` records naming the driver's ids, read straight from the
        core's buffers (``to_events`` of the rows, without the rows)."""
        n = ops.shape[0]
        prof = _NO_PROFILES if skills is None else np.ascontiguousarray(skills, dtype=np.int64)
        status = np.full(n, NOT_RUN, dtype=np.int8)
        seq_after = np.zeros(n, dtype=np.int64)
        chunks = []
        i, handled, stop = 0, -1, on_error is not None
        while True:
            i = self._run_batch(self._S, ops, prof, i, status, seq_after, stop)
            if self._S.S_i[S_NEV]:
                chunks.append(self._drain() if records is None else self._drain_records(records))
            tried = bool(self._S.S_i[S_TRIAL])
            seen = settle_trial(self._run_batch, self._S, ops, prof, i, status, seq_after) if tried else None
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
             arg: float = 0.0, prof: int = 0) -> list[Event]:
        now = real_seconds(now)
        row, status, seq_after, prof1 = self._one_rows
        row[0] = (op, now, call, agent, queue, priority, arg)
        if prof:
            prof1[0] = prof
        events: list[Event] = []
        seen = None
        while True:  # as run_rows, reading the events straight from the core's buffers
            done = self._run_batch(self._S, row, prof1 if prof else _NO_PROFILES, 0, status, seq_after, False)
            S = self._S
            n = int(S.S_i[S_NEV])
            if n:
                events += self._drain_records()
            if done:
                break
            if S.S_i[S_TRIAL]:
                seen = settle_trial(self._run_batch, S, row, prof1 if prof else _NO_PROFILES, 0, status, seq_after)
                if seen is not None:
                    break
                continue
            self._S = grow(S)
        if self._stats is not None:
            for e in events:
                self._stats.apply(e)
        for e in events:
            if e.kind is _ENDED:
                self._context.pop(e.call_id, None)
                self._ended[e.call_id] = e.detail
                if len(self._ended) > 65536:
                    self._ended.popitem(last=False)
        st = int(status[0])
        if st != OK:
            with self._seeing(seen):
                raise self._error(st, op, now, call, agent)
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

    def _error(self, st: int, op: int, now: float, call: int, agent: int) -> Exception:
        return row_error(self, st, op, now, call, agent)

    def _callback_state(self, call: int) -> str:
        slot = self._slot(call)
        if self._S.C_i[slot, CB]:
            return "already a callback"
        return CallState(int(self._S.C_i[slot, STATE])).name

    def _call_state_name(self, call: int) -> str:
        return CallState(int(self._S.C_i[self._slot(call), STATE])).name

    def _call_agent(self, call: int) -> Hashable:
        return self.agent_ids[int(self._S.C_i[self._slot(call), AGENT])]

    def _agent_calls(self, agent_id: Hashable) -> int:
        return int(self._S.A_i[self.agent_index(agent_id), CONN])

    def _call_id(self, call_id: Any) -> int:
        if isinstance(call_id, bool) or not isinstance(call_id, int) or not _INT64[0] <= call_id <= _INT64[1]:
            raise UnknownIdError(f"the compiled core's call ids are 64-bit integers, got {call_id!r}")
        if call_id in (NO_ID, NO_ID + 1):
            raise UnknownIdError(f"call id {call_id} is reserved by the compiled core")
        return call_id

    def call_arrive(self, now: float, call_id: int, queue: str, *, priority: int = 0,
                    skills: dict[str, int] | None = None, channel: str = "voice", preferred_agent: Hashable = None,
                    preferred_fallback_s: float | None = None, context: dict[str, Any] | None = None) -> list[Event]:
        cid = self._call_id(call_id)
        row, prof = self.arrive_row(now, cid, queue, priority, skills, channel, preferred_agent,
                                    preferred_fallback_s, context)
        events = self._one(*row, prof)
        if context and self._slot(cid) >= 0:
            self._context[cid] = dict(context)
        return events

    def offer_accept(self, now: float, call_id: int, agent_id: Hashable) -> list[Event]:
        return self._one(*self.answer_row(OP_ACCEPT, now, self._call_id(call_id), agent_id))

    def offer_reject(self, now: float, call_id: int, agent_id: Hashable, *, busy: bool = False) -> list[Event]:
        return self._one(*self.answer_row(OP_REJECT, now, self._call_id(call_id), agent_id, busy))

    def call_release(self, now: float, call_id: int, *, wrap_up_s: float | None = None) -> list[Event]:
        return self._one(*self.release_row(now, self._call_id(call_id), wrap_up_s))

    def call_abandon(self, now: float, call_id: int) -> list[Event]:
        return self._one(OP_ABANDON, now, self._call_id(call_id))

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
        return float(self._deadline(self._S))

    # ------------------------------------------------------------------ queries
    def _slot(self, call_id: int) -> int:
        return int(self._h_get(self._S, call_id))

    def call_state(self, call_id: int) -> CallState:
        slot = self._slot(self._call_id(call_id))
        if slot < 0:
            raise self._error(ERR_UNKNOWN_CALL, OP_RELEASE, self.now, call_id, -1)
        return CallState(int(self._S.C_i[slot, STATE]))

    def call_context(self, call_id: int) -> dict[str, Any]:
        self.call_state(call_id)
        return dict(self._context.get(call_id, {}))

    def agent_state(self, agent_id: Hashable) -> str:
        return self.detail_text(DETAIL_DISPLAY + int(self._S.A_i[self.agent_index(agent_id), DISPLAY]))

    @property
    def now(self) -> float:
        return float(self._S.S_f[S_NOW])

    @property
    def counts(self) -> tuple[int, int]:
        """(calls arrived, calls ended) so far."""
        return int(self._S.S_i[S_ARRIVED]), int(self._S.S_i[S_ENDED])

    def position(self, call_id: int) -> Position:
        """Place of a waiting call in its queue and its estimated wait (docs/routing.md §11), O(log n)."""
        state = self.call_state(call_id)
        if state != CallState.WAITING:
            raise StateError(f"call {call_id!r} is not waiting (state {state.name})")
        S = self._S
        slot = self._slot(call_id)
        q = int(S.C_i[slot, QUEUE])
        pos = int(w_rank(S, slot))
        serving = int(S.Q_i[q, LOGGED_IN])
        ewt = pos * float(S.Q_f[q, AHT]) / serving if serving else math.inf
        return Position(position=pos, waiting=int(S.Q_i[q, NWAIT]), ewt_s=ewt)

    def stats(self) -> RouterStats:
        """As Router.stats(), from the same events (needs ``FastRouter(config, collect_stats=True)``)."""
        if self._stats is None:
            raise StateError("this router was created with collect_stats=False")
        S = self._S
        waiting = S.C_i[:, STATE] == int(CallState.WAITING)
        queues = [SimpleNamespace(name=name, members=S.QM[S.QM_ptr[q]:S.QM_ptr[q + 1], QM_AGENT],
                                  waiting=[(0, t) for t in S.C_f[waiting & (S.C_i[:, QUEUE] == q), ARRIVAL].tolist()])
                  for q, name in enumerate(self.queue_names)]
        view = SimpleNamespace(now=self.now, _queues=queues,
                               _agents=SimpleNamespace(display=[self.agent_state(a) for a in self.agent_ids]))
        return self._stats.snapshot(view)

    def request_callback(self, now: float, call_id: int, number: str) -> list[Event]:
        """A waiting caller hangs up and keeps its place; an agent will call ``number`` back."""
        return self._one(*self.callback_row(now, self._call_id(call_id), number))

    def transfer(self, now: float, call_id: int, *, queue: str | None = None, agent: Hashable | None = None,
                 context: dict[str, Any] | None = None, fallback_s: float = math.inf) -> list[Event]:
        """Move a connected call to ``queue`` and/or a named ``agent`` (as Router.transfer)."""
        cid = self._call_id(call_id)
        events = self._one(*self.transfer_row(now, cid, queue, agent, context, fallback_s))
        if context and self._slot(cid) >= 0:
            self._context.setdefault(cid, {}).update(context)
        return events
