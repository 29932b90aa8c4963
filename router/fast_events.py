"""Router's event readers: the core's event buffers as rows or as ``Event`` records, and detail texts."""

from __future__ import annotations

import struct
from functools import partial
from typing import Hashable

import numpy as np

from .codes import EventKind
from .core_handle import handle_of
from .core_layout import (
    DETAIL_DISPLAY, DETAIL_NUMBER, DETAIL_QUEUE, DETAIL_REASON, DETAIL_STEP, DETAIL_TO_AGENT, DETAIL_TO_QUEUE, DETAILS,
    DISP_NOT_READY, E_AGENT, E_CALL, E_DETAIL, E_KIND, E_QUEUE, E_SEQ, E_TIME, E_VALUE, EVENT_DTYPE, NO_ID, OK,
    N_EV_F, N_EV_I, OP_NAMES, S_NEV,
)
from .events import Event
from .fast_errors import MESSAGES

_KINDS = [None] * (max(EventKind) + 1)  # by the kind's code
#: An event kind's name by its code: the wire rows' form (the server's replies.event_row uses it too)
KIND_NAMES = [None] * (max(EventKind) + 1)
for _k in EventKind:
    _KINDS[_k], KIND_NAMES[_k] = _k, _k.name
_NEW_EVENT = partial(tuple.__new__, Event)  # an Event from a tuple of its fields, without its Python __new__
_ROW_I_BYTES, _ROW_F_BYTES = 8 * N_EV_I, 8 * N_EV_F
#: Readers of 1 to 32 event rows from the buffers' bytes (``struct.unpack_from``: no slice, no list made);
#: more rows are sliced and listed.
_UNPACK = {n: (struct.Struct(f"{n * N_EV_I}q").unpack_from, struct.Struct(f"{n * N_EV_F}d").unpack_from)
           for n in range(1, 33)}
#: Event rows the per-call methods leave for the statistics to read in one call (a call saved per operation).
#: At most a quarter of the core's event buffer is left so: the buffer holds four times the room one row's
#: events may need (core_build), so the core never stops for room because of them.
FEED_ROWS = 256
_DISPLAY_NAMES = {0: "LOGGED_OUT", 2: "AVAILABLE", 3: "RESERVED", 4: "BUSY", 5: "WRAP_UP"}
# EventReaders._records reads the event buffers' rows as they are laid out:
assert (E_SEQ, E_KIND, E_CALL, E_AGENT, E_QUEUE, E_DETAIL, N_EV_I, E_TIME, E_VALUE) == (0, 1, 2, 3, 4, 5, 6, 0, 1)


class DetailTexts(dict):
    """Detail code -> text, filled as events are read (a code's text never changes: reasons and numbers are
    only ever added); a missing code is read with ``read`` (the router's :meth:`~EventReaders.detail_text`)."""

    __slots__ = ("_read",)

    def __init__(self, read):
        super().__init__()
        self._read = read

    def __missing__(self, code: int) -> str:
        text = self[code] = self._read(code)
        return text


def core_views(S) -> tuple:
    """(``S``, a memoryview of its counters ``S_i``, byte views of its event buffers, the buffers' rows, its
    handle): a memoryview reads or writes one number at about a fifth of what numpy's indexing costs, and
    ``struct.unpack_from`` reads a few rows at under half of what slicing and listing them does. The handle
    (core_handle.handle_of) is what the batch entry takes; kept here, beside ``S``, it is remade with the
    views whenever the state object is replaced."""
    return (S, memoryview(S.S_i), memoryview(S.EV_i).cast("B"), memoryview(S.EV_f).cast("B"), S.EV_i.shape[0],
            handle_of(S))


class EventReaders:
    """Mixed into Router: uses its _S, _stats, _unfed, agent_ids, queue_names, _reasons, _numbers,
    _detail_texts (a :class:`DetailTexts`) and _core_views (:func:`core_views`, remade when ``_S`` is
    replaced)."""

    def _views(self) -> tuple:
        v = self._core_views
        if v[0] is not self._S:
            v = self._core_views = core_views(self._S)
        return v

    @staticmethod
    def _joined(chunks: list, records: dict | None = None) -> np.ndarray | list[Event]:
        if records is not None:
            return chunks[0] if len(chunks) == 1 else [e for c in chunks for e in c]
        return chunks[0] if len(chunks) == 1 else (np.concatenate(chunks) if chunks else np.empty(0, EVENT_DTYPE))

    def _drain_records(self, call_ids: dict | None = None, wire: bool = False) -> list[Event] | list[tuple]:
        """The core's new events as records (call ids through ``call_ids`` when given), or with ``wire`` as
        the protocol's rows (:meth:`_records`). The statistics read the rows later, in one call for up to
        :data:`FEED_ROWS` of them (:meth:`_fed_stats`): the rows stay at the head of the buffers meanwhile
        (``_unfed`` of them) and the core writes after them."""
        S, s_i, ev_i, ev_f, rows, _ = self._views()
        n = s_i[S_NEV]
        k = self._unfed
        unpack = _UNPACK.get(n - k)
        if unpack is not None:
            flat_i, flat_f = iter(unpack[0](ev_i, k * _ROW_I_BYTES)), iter(unpack[1](ev_f, k * _ROW_F_BYTES))
        else:
            flat_i = iter(ev_i[k * _ROW_I_BYTES:n * _ROW_I_BYTES].cast("q").tolist())
            flat_f = iter(ev_f[k * _ROW_F_BYTES:n * _ROW_F_BYTES].cast("d").tolist())
        out = self._records(zip(flat_i, flat_i, flat_i, flat_i, flat_i, flat_i, flat_f, flat_f), call_ids, wire)
        if self._stats is None:
            s_i[S_NEV] = 0
        elif n >= FEED_ROWS or 4 * n >= rows:
            self._stats.feed(S.EV_i, S.EV_f, n)
            s_i[S_NEV] = self._unfed = 0
        else:
            self._unfed = n
        return out

    def _fed_stats(self):
        """The statistics, fed every event row so far (call between operations, before anything reads them
        or changes what they count by: a queue's threshold, a queue or agent index)."""
        if self._unfed:
            S = self._S
            self._stats.feed(S.EV_i, S.EV_f, self._unfed)
            S.S_i[S_NEV] = self._unfed = 0
        return self._stats

    def _drain(self) -> np.ndarray:
        S = self._S
        n = int(S.S_i[S_NEV])
        k = self._unfed
        out = np.empty(n - k, dtype=EVENT_DTYPE)
        self._event_rows(S.EV_i, S.EV_f, k, out)
        if self._stats is not None:
            self._stats.feed(S.EV_i, S.EV_f, n)
        S.S_i[S_NEV] = self._unfed = 0
        return out

    def detail_text(self, code: int) -> str:
        """The ``detail`` string of an event row (the same text the ``Event`` records carry)."""
        code = int(code)
        if code >= DETAIL_NUMBER:
            return self._numbers[code - DETAIL_NUMBER]
        if code >= DETAIL_TO_AGENT:
            return f"agent:{self.agent_ids[code - DETAIL_TO_AGENT]}"
        if code >= DETAIL_TO_QUEUE:
            return f"queue:{self.queue_names[code - DETAIL_TO_QUEUE]}"
        if code >= DETAIL_REASON:
            return self._reasons[code - DETAIL_REASON]
        if code >= DETAIL_DISPLAY:
            d = code - DETAIL_DISPLAY
            return "NOT_READY:" + self._reasons[d - DISP_NOT_READY] if d >= DISP_NOT_READY else _DISPLAY_NAMES[d]
        if code >= DETAIL_QUEUE:
            return self.queue_names[code - DETAIL_QUEUE]
        if code >= DETAIL_STEP:
            return str(code - DETAIL_STEP)
        return DETAILS[code]

    def to_events(self, rows: np.ndarray, call_ids: dict[int, Hashable] | None = None) -> list[Event]:
        """Event records (external ids, names, detail text) for EVENT_DTYPE rows; ``call_ids`` maps the core's
        call ids to the ones to show (a driver's own ids), when given."""
        if not rows.shape[0]:
            return []
        return self._records(zip(
            rows["seq"].tolist(), rows["kind"].tolist(), rows["call"].tolist(), rows["agent"].tolist(),
            rows["queue"].tolist(), rows["detail"].tolist(), rows["time_s"].tolist(), rows["value"].tolist()),
            call_ids)

    def _records(self, rows, call_ids: dict[int, Hashable] | None = None, wire: bool = False
                 ) -> list[Event] | list[tuple]:
        """Event records from rows of plain numbers in the core's buffer order: the ``EV_i`` columns (seq, kind,
        call, agent, queue, detail) then the ``EV_f`` ones (time, value). With ``wire``, the server's wire rows
        instead: the same eight values with the kind's name for the ``EventKind`` (protocol.event_row of each
        record, without making the records)."""
        ids, qn, texts = self.agent_ids, self.queue_names, self._detail_texts
        get = None if call_ids is None else call_ids.get
        kinds, make = (KIND_NAMES, tuple) if wire else (_KINDS, _NEW_EVENT)  # tuple() of a tuple is that tuple
        return [make((seq, t, kinds[k], None if c == NO_ID else (c if get is None else get(c, c)),
                      ids[a] if a >= 0 else None, qn[q] if q >= 0 else None, texts[d], v))
                for seq, k, c, a, q, d, t, v in rows]

    def describe(self, ops: np.ndarray, status: np.ndarray) -> list[str]:
        """One line per failed row: its index, operation and what was wrong."""
        return [f"ops[{i}] {OP_NAMES.get(int(ops[i]['op']), 'op ' + str(int(ops[i]['op'])))}: "
                f"{MESSAGES.get(int(status[i]), 'error ' + str(int(status[i])))}"
                for i in np.flatnonzero(status != OK)]
