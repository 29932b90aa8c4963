"""Typed records and exceptions of the client library (protocol v1, docs/protocol.md).

Everything a reply carries is turned into a record here: :class:`Event` for
each event array, :class:`Reply` for each reply map, :class:`Ping` and
:class:`EventsPage` for the two query results the library itself relies on.
Other query results (``agent``, ``call``, ``queue``, ``position``, ``stats``,
``snapshot``) stay the plain maps the server sent, since the server may add
keys to them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, NamedTuple


class Event(NamedTuple):
    """One engine event as it travels on the wire (an array of eight values)."""

    seq: int
    time_s: float
    kind: str
    call: Any
    agent: Any
    queue: Any
    detail: str
    value: float


def events_from_wire(rows: Any) -> tuple[Event, ...]:
    """The events of a reply or stream message; malformed rows are skipped, never raised on."""
    if not isinstance(rows, (list, tuple)):
        return ()
    make = Event._make
    try:
        return tuple(map(make, rows))
    except TypeError:  # a row of the wrong length: keep the well-formed ones
        return tuple(make(r) for r in rows if isinstance(r, (list, tuple)) and len(r) == 8)


@dataclass(frozen=True, slots=True)
class Reply:
    """The server's answer to one request.

    ``ok`` true: ``events`` holds the events the request caused and ``result``
    the query's result (None for engine operations). ``ok`` false:
    ``error_code`` is one of the protocol's stable codes and ``error_message``
    the server's text. ``received_s`` is this process's ``time.monotonic()``
    when the reply frame arrived (one value for all replies of a batch frame).
    """

    id: Any
    ok: bool
    events: tuple[Event, ...] = ()
    result: Any = None
    error_code: str | None = None
    error_message: str | None = None
    received_s: float = 0.0

    @classmethod
    def from_wire(cls, m: dict, received_s: float) -> "Reply":
        return cls.from_fields(m.get("id"), m.get("ok"), events_from_wire(m.get("events")), m.get("result"),
                               m.get("error"), received_s)

    @staticmethod
    def from_fields(rid: Any, ok: Any, events: tuple, result: Any, error: Any, received_s: float) -> "Reply":
        """The reply a map with these values of ``id``, ``ok``, ``events`` (as records), ``result`` and ``error``
        stands for: ok only when ``ok`` is true itself; an error's code and message read from ``error`` when it
        is a map."""
        if ok is True:
            return _reply(rid, True, events, result, None, None, received_s)
        err = error if isinstance(error, dict) else {}
        return _reply(rid, False, events, None, str(err.get("code", "internal")),
                      str(err.get("message", "the server gave no message")), received_s)

    @classmethod
    def unavailable(cls, rid: Any, message: str) -> "Reply":
        """The stand-in for a request that was never answered (``error_code`` ``"unavailable"``)."""
        return cls(rid, False, (), None, "unavailable", message, 0.0)


_SET_REPLY = tuple(Reply.__dict__[f.name].__set__ for f in fields(Reply))  # the slots, in field order


def _reply(rid: Any, ok: bool, events: tuple, result: Any, code: str | None, message: str | None,
           received_s: float, _new=object.__new__, _set=_SET_REPLY) -> Reply:
    """``Reply(...)`` without the frozen dataclass's ``__init__`` (an ``object.__setattr__`` per field): the
    same record, about twice as fast — a reply frame may carry thousands. Reply has seven fields and no
    ``__post_init__`` (tests/client/test_client_records.py checks both)."""
    r = _new(Reply)
    s_id, s_ok, s_events, s_result, s_code, s_message, s_received = _set
    s_id(r, rid)
    s_ok(r, ok)
    s_events(r, events)
    s_result(r, result)
    s_code(r, code)
    s_message(r, message)
    s_received(r, received_s)
    return r


class Ping(NamedTuple):
    """Result of ``ping``: server time, epoch, last event seq and the id of this server run."""

    time_s: float
    epoch_unix_s: float
    seq: int
    boot: Any


class EventsPage(NamedTuple):
    """Result of ``events_since``: events with seq greater than asked, oldest first; ``last_seq`` is the
    server's last event seq, ``more`` whether events after this page exist."""

    events: tuple[Event, ...]
    last_seq: int
    more: bool


class QueueChanges(NamedTuple):
    """What a ``reload`` changed in one queue: settings that took new values, members (agent ids) added,
    changed and removed. All empty: only the members' order changed."""

    queue: str
    settings: tuple[str, ...]
    members_added: tuple[Any, ...]
    members_updated: tuple[Any, ...]
    members_removed: tuple[Any, ...]


class ReloadResult(NamedTuple):
    """Result of ``reload``: the sha256 of the configuration the server now runs, whether anything changed,
    the agents added, the queues changed, the events the reload caused, and the queues added, the queues
    removed and the agents removed."""

    config_sha256: str
    changed: bool
    agents_added: tuple[Any, ...]
    queues: tuple[QueueChanges, ...]
    events: tuple[Event, ...]
    queues_added: tuple[str, ...] = ()
    queues_removed: tuple[str, ...] = ()
    agents_removed: tuple[Any, ...] = ()


class RouterClientError(Exception):
    """Base class of the client library's errors."""


class RouterRequestError(RouterClientError):
    """The server answered ``ok: false``; ``code`` is the protocol's error code (``unknown_id``, ``state`` …)."""

    def __init__(self, op: str, reply: Reply):
        self.op = op
        self.code = reply.error_code or "internal"
        self.message = reply.error_message or ""
        self.reply = reply
        super().__init__(f"{op} failed ({self.code}): {self.message}")


class RouterUnavailable(RouterClientError):
    """No reply after every retry: the server is down or unreachable."""


class ProtocolMismatch(RouterClientError):
    """The server sent something protocol v1 does not allow (a query result of the wrong shape)."""
