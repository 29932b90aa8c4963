"""Protocol v1: decode and validate request frames, encode replies and events.

docs/protocol.md is the contract; this module is its only implementation on
the server side. It is pure (no sockets): bytes in, typed commands out, and
bytes back. Validation happens here, before anything reaches the engine, so a
malformed request can never change engine state.

Cost: one ``msgpack.unpackb`` per frame and O(fields) checks per request;
replies are packed once and kept as bytes (a batch reply is an array header
followed by the packed replies, so remembered replies are reused byte for
byte).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import msgpack

from ..config import AGENT_SETTINGS, MAX_MEMBER_VALUE, QUEUE_SECONDS, QUEUE_SETTINGS
from ..config_limits import INT_ID_RANGE, MAX_ID_BYTES, short
from ..membership import MEMBER_SETTINGS
from .plain import plain_problem
from .replies import (  # the protocol's encoding, re-exported (__all__)
    KIND_NAMES, Interest, error_reply, event_row, join_replies, ok_reply, ok_reply_rows, pack, stream_frames,
    topic_of_agent, topic_of_queue,
)

__all__ = ["VERSION", "MAX_BATCH", "MAX_REQUEST_ID_BYTES", "MAX_CALL_ID_BYTES", "MAX_NAME_BYTES", "MAX_MAP_ENTRIES",
           "MAX_CONTEXT_BYTES", "MAX_PRIORITY", "MAX_EVENTS_PER_REPLY", "MAX_CONFIG_BYTES", "MAX_QUEUE_TABLE_BYTES", "BAD_FRAME",
           "MAX_CLIENT_BYTES",
           "BAD_VERSION", "BAD_REQUEST", "UNKNOWN_OP", "TOO_LARGE", "UNKNOWN_ID", "STATE", "OFFER", "GONE",
           "INTERNAL", "ProtocolError", "Command", "Refused", "ENGINE_OPS", "QUERY_OPS", "validate", "decode_frame",
           "KIND_NAMES", "Interest", "error_reply", "event_row", "join_replies", "ok_reply", "ok_reply_rows", "pack",
           "stream_frames", "topic_of_agent", "topic_of_queue"]

VERSION = 1
MAX_BATCH = 10_000
MAX_REQUEST_ID_BYTES = 64
MAX_CLIENT_BYTES = 255  # a `client` name, as a ZeroMQ routing id: the two share one namespace (validate)
MAX_CALL_ID_BYTES = 128
MAX_NAME_BYTES = MAX_ID_BYTES  # a queue, skill or channel name: what a configuration may name (config_limits.py)
MAX_MAP_ENTRIES = 64
MAX_CONTEXT_BYTES = 16 * 1024
MAX_PRIORITY = 1_000_000
MAX_EVENTS_PER_REPLY = 10_000
MAX_CONFIG_BYTES = 16 << 20  # a reload's configuration text (the frame limit, --max-frame-bytes, applies first)
MAX_QUEUE_TABLE_BYTES = 1 << 20  # a queue_add's queue table, packed
_INT64 = INT_ID_RANGE  # the protocol's integers: int64, as a configuration's integer agent ids

#: Error codes (docs/protocol.md). Never renamed: adapters branch on them.
BAD_FRAME, BAD_VERSION, BAD_REQUEST, UNKNOWN_OP, TOO_LARGE = "bad_frame", "bad_version", "bad_request", "unknown_op", "too_large"
UNKNOWN_ID, STATE, OFFER, GONE, INTERNAL = "unknown_id", "state", "offer", "gone", "internal"



class ProtocolError(Exception):
    """A request the protocol refuses; ``code`` is one of the error codes above."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Command(NamedTuple):
    """One validated request: its id, operation and fields (only the documented ones); ``client``: the request's
    ``client`` name as UTF-8 bytes, the idempotency key's first element in place of the routing id (host.py),
    or None when the request had none."""

    rid: int | str
    op: str
    fields: dict[str, Any]
    client: bytes | None = None


class Refused(NamedTuple):
    """A request refused by the protocol, with the id to answer (None when it had none)."""

    rid: Any
    code: str
    message: str


# ----------------------------------------------------------------- field checks
def _text(name: str, v: Any, limit: int = MAX_NAME_BYTES) -> str:
    if not isinstance(v, str) or not v:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a non-empty string, got {_show(v)}")
    if 4 * len(v) > limit and len(v.encode("utf-8", "surrogatepass")) > limit:  # utf-8: <= 4 bytes a char
        raise ProtocolError(BAD_REQUEST, f"field '{name}' is longer than {limit} bytes")
    return v


def _id(name: str, v: Any, limit: int = MAX_CALL_ID_BYTES) -> int | str:
    t = type(v)
    if t is str and v and 4 * len(v) <= limit:  # the common case, cheaply
        return v
    if t is int and _INT64[0] <= v <= _INT64[1]:
        return v
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a string or an integer, got {_show(v)}")
    if isinstance(v, int):
        if not _INT64[0] <= v <= _INT64[1]:
            raise ProtocolError(BAD_REQUEST, f"field '{name}' must fit in int64")
        return v
    return _text(name, v, limit)


def _client(v: Any) -> bytes:
    """The ``client`` field: the name of the client process, 1–255 UTF-8 bytes not starting with a zero byte,
    returned as those bytes. A name is keyed like a routing id of the same bytes (one namespace: the client
    identity); ZeroMQ's generated routing ids start with a zero byte, so no name can take one of theirs."""
    if type(v) is not str:
        raise ProtocolError(BAD_REQUEST, f"field 'client' must be a string (the client's name), got {_show(v)}")
    try:
        name = v.encode("utf-8")
    except UnicodeEncodeError:
        raise ProtocolError(BAD_REQUEST, "field 'client' must be valid UTF-8 text") from None
    if not 1 <= len(name) <= MAX_CLIENT_BYTES:
        raise ProtocolError(BAD_REQUEST, f"field 'client' must be 1 to {MAX_CLIENT_BYTES} bytes of UTF-8, "
                                         f"got {len(name)}")
    if name[0] == 0:
        raise ProtocolError(BAD_REQUEST, "field 'client' must not start with a zero byte (ZeroMQ reserves those "
                                         "for the routing ids it generates)")
    return name


def _number(name: str, v: Any, *, low: float = 0.0, high: float = 1e9) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not low <= v <= high:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a number from {low:g} to {high:g}, got {_show(v)}")
    return float(v)


def _positive(name: str, v: Any) -> float:
    """A number > 0 (a caller's own max wait, a member's weight), at most 1e9."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1e9:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a number > 0 and at most 1e+09, got {_show(v)}")
    return float(v)


def _int(name: str, v: Any, low: int, high: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be an integer from {low} to {high}, got {_show(v)}")
    return v


def _member_int(name: str, v: Any) -> int:
    return _int(name, v, 0, MAX_MEMBER_VALUE)


def _capacity(name: str, v: Any) -> dict[str, int]:
    if not isinstance(v, dict) or len(v) > MAX_MAP_ENTRIES:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a map of at most {MAX_MAP_ENTRIES} channels")
    return {_text(f"{name} key", k): _int(f"{name}.{k}", n, 0, 1000) for k, n in v.items()}


def _count(name: str, v: Any) -> int:
    return _int(name, v, 0, _INT64[1])


def _seconds(name: str, v: Any) -> float:
    """Seconds, infinity allowed (no limit); the engine checks each setting's own range."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v) or v < 0:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a number of seconds >= 0 (inf: none), got {_show(v)}")
    return float(v)


def _bool(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be true or false, got {_show(v)}")
    return v


def _skills(name: str, v: Any) -> dict[str, int]:
    if not isinstance(v, dict) or len(v) > MAX_MAP_ENTRIES:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a map of at most {MAX_MAP_ENTRIES} skills")
    return {_text(f"{name} key", k): _int(f"{name}.{k}", lvl, 1, 5) for k, lvl in v.items()}


def _context(name: str, v: Any) -> dict[str, Any]:
    if not isinstance(v, dict) or len(v) > MAX_MAP_ENTRIES:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a map of at most {MAX_MAP_ENTRIES} keys")
    for k in v:
        _text(f"{name} key", k)
    problem = plain_problem(name, v)
    if problem is not None:
        raise ProtocolError(BAD_REQUEST, problem)
    if len(msgpack.packb(v)) > MAX_CONTEXT_BYTES:
        raise ProtocolError(TOO_LARGE, f"field '{name}' encodes to more than {MAX_CONTEXT_BYTES} bytes")
    return v


def _reason(name: str, v: Any) -> str:
    v = _text(name, v, 64)
    if ":" in v:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must not contain ':'")
    return v


def _config(name: str, v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be the text of a TOML configuration, got {_show(v)}")
    if 4 * len(v) > MAX_CONFIG_BYTES and len(v.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
        raise ProtocolError(TOO_LARGE, f"field '{name}' is longer than {MAX_CONFIG_BYTES:,} bytes")
    return v


def _table_value(name: str, v: Any, depth: int = 0) -> None:
    """A value a TOML file can hold (strings, numbers, booleans, lists, string-keyed tables; no nil, no bytes)."""
    if isinstance(v, (str, int, float)):  # bool is an int
        return
    if depth < 4 and type(v) is list:
        for x in v:
            _table_value(name, x, depth + 1)
        return
    if depth < 4 and type(v) is dict:
        for k, x in v.items():
            _text(f"{name} key", k)
            _table_value(f"{name}.{k}", x, depth + 1)
        return
    raise ProtocolError(BAD_REQUEST, f"field '{name}' must hold what a TOML queue table holds, got {_show(v)}")


def _queue_table(name: str, v: Any) -> dict[str, Any]:
    """``queue_add``'s queue: a table as in the configuration file (the router checks its keys and values);
    here its shape, and that agent ids and group names are ids and names."""
    if type(v) is not dict or not v:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a queue table (a map: name, strategy, members, "
                                         f"…), got {_show(v)}")
    _table_value(name, v)
    if len(msgpack.packb(v)) > MAX_QUEUE_TABLE_BYTES:
        raise ProtocolError(TOO_LARGE, f"field '{name}' encodes to more than {MAX_QUEUE_TABLE_BYTES:,} bytes")
    members = v.get("members", [])
    for j, m in enumerate(members if type(members) is list else ()):
        if type(m) is dict:
            if "agent" in m:
                _id(f"{name}.members[{j}].agent", m["agent"])
        else:
            _id(f"{name}.members[{j}]", m)
    if "dedicated_agent" in v:
        _id(f"{name}.dedicated_agent", v["dedicated_agent"])
    _names(f"{name}.groups", v.get("groups"))
    steps = v.get("escalation", [])
    for k, s in enumerate(steps if type(steps) is list else ()):
        if type(s) is dict:
            _names(f"{name}.escalation[{k}].add_groups", s.get("add_groups"))
    return v


def _names(name: str, v: Any) -> None:
    for g in v if type(v) is list else ():
        _text(name, g)


_CHECKS = {
    "call": _id, "agent": _id, "preferred_agent": _id, "queue": _text, "channel": _text,
    "priority": lambda n, v: _int(n, v, 0, MAX_PRIORITY), "skills": _skills, "context": _context,
    "preferred_fallback_s": _number, "max_wait_s": _positive, "wrap_up_s": _number, "busy": _bool, "ready": _bool,
    "number": lambda n, v: _text(n, v, 64), "reason": _reason,
    "tier": _member_int, "penalty": _member_int, "position": _member_int, "weight": _positive,
    **{k: _seconds for k in QUEUE_SECONDS if k not in ("wrap_up_s", "max_wait_s", "preferred_fallback_s")},
    "max_length": _count, "max_no_answer": _count, "max_penalty": _count, "overflow": _text, "strategy": _text,
    "capacity": _capacity, "config": _config, "to": _text,
    "seq": lambda n, v: _int(n, v, 0, _INT64[1]), "limit": lambda n, v: _int(n, v, 1, MAX_EVENTS_PER_REPLY),
}



def _conditions(name: str, v: Any) -> list[str]:
    """``join_empty`` / ``leave_when_empty``: a list of condition names (the router checks the names)."""
    if type(v) is not list or len(v) > 16:
        raise ProtocolError(BAD_REQUEST, f"field '{name}' must be a list of at most 16 condition names, got {_show(v)}")
    return [_text(name, c, 32) for c in v]


_CHECKS.update(join_empty=_conditions, leave_when_empty=_conditions)  # empty-queue rules (router/empty.py)

#: op -> (required fields, optional fields). Engine ops change state and are journaled.
ENGINE_OPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "arrive": (("call", "queue"), ("priority", "skills", "channel", "preferred_agent", "preferred_fallback_s", "context",
                                   "max_wait_s")),
    "accept": (("call", "agent"), ()),
    "reject": (("call", "agent"), ("busy",)),
    "release": (("call",), ("wrap_up_s",)),
    "abandon": (("call",), ()),
    "transfer": (("call",), ("queue", "agent", "context")),
    "callback": (("call", "number"), ()),
    "login": (("agent",), ("ready",)),
    "logout": (("agent",), ()),
    "ready": (("agent",), ()),
    "not_ready": (("agent",), ("reason",)),
    "priority": (("call", "priority"), ()),
    "pause": (("agent", "queue"), ("reason",)),
    "unpause": (("agent", "queue"), ()),
    "member_add": (("agent", "queue"), MEMBER_SETTINGS),
    "member_remove": (("agent", "queue"), ()),
    "member_update": (("agent", "queue"), MEMBER_SETTINGS),
    "queue_update": (("queue",), QUEUE_SETTINGS),
    "move": (("call", "queue"), ()),
    "agent_add": (("agent",), ("skills", "capacity", *AGENT_SETTINGS)),
    "agent_remove": (("agent",), ()),
    "queue_add": (("queue",), ()),  # queue: a queue table (_queue_table)
    "queue_remove": (("queue",), ("to",)),
    "reload": (("config",), ()),  # applied alone (reloads.py)
}
QUERY_OPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ping": ((), ()), "agent": (("agent",), ()), "call": (("call",), ()), "queue": (("queue",), ()),
    "position": (("call",), ()), "stats": ((), ()), "snapshot": ((), ()), "events_since": (("seq",), ("limit",)),
}
_ALL_OPS = {**ENGINE_OPS, **QUERY_OPS}


def _show(v: Any) -> str:
    """A short, safe description of a wire value for error messages (None is msgpack's nil)."""
    return short(v, "nil")


def validate(req: Any) -> Command:
    """Check one decoded request map; raise :class:`ProtocolError` naming what is wrong.

    Checks run in a fixed order (id, v, op, client, required fields, other
    fields), so the first problem found is always the one named. ``client`` is
    checked for every op, queries too (which do not use it)."""
    if type(req) is not dict:
        raise ProtocolError(BAD_REQUEST, f"a request must be a map, got {type(req).__name__}")
    rid = req.get("id")
    if rid is None or isinstance(rid, bool) or not isinstance(rid, (int, str)):
        raise ProtocolError(BAD_REQUEST, f"field 'id' must be a string or an integer, got {_show(rid)}")
    _id("id", rid, MAX_REQUEST_ID_BYTES)
    v = req.get("v")
    if v != VERSION or type(v) is not int:
        raise ProtocolError(BAD_VERSION, f"field 'v' must be {VERSION}, got {_show(v)}")
    op = req.get("op")
    spec = _SPECS.get(op) if type(op) is str else None
    if spec is None:
        if not isinstance(op, str):
            raise ProtocolError(BAD_REQUEST, f"field 'op' must be a string, got {_show(op)}")
        raise ProtocolError(UNKNOWN_OP, f"unknown op {_show(op)}")
    client = req.get("client", _ABSENT)
    client, head = (None, 3) if client is _ABSENT else (_client(client), 4)  # head: v, id, op (and client)
    required, optional, checks = spec
    fields: dict[str, Any] = {}
    for name, check in checks:
        if name not in req:
            raise ProtocolError(BAD_REQUEST, f"op '{op}' needs field '{name}'")
        fields[name] = check(name, req[name])
    if len(req) > head + len(required):  # optional (or unknown) fields present
        for name, value in req.items():
            if name in _HEAD or name in required:
                continue
            if name not in optional:
                raise ProtocolError(BAD_REQUEST, f"op '{op}' has no field {_show(name)}")
            if value is not None:
                fields[name] = (_SECONDS if op == "queue_update" and name in QUEUE_SECONDS else _CHECKS[name])(name, value)
            elif name in _CLEARABLE and op == "queue_update":
                fields[name] = None  # nil removes the queue's overflow or max penalty
    if op == "transfer" and ("queue" in fields) == ("agent" in fields):
        raise ProtocolError(BAD_REQUEST, "op 'transfer' needs exactly one of 'queue' and 'agent'")
    if op == "member_update" and len(fields) == 2:
        raise ProtocolError(BAD_REQUEST, f"op 'member_update' needs one or more of: {', '.join(MEMBER_SETTINGS)}")
    return Command(rid, op, fields, client)


_ABSENT = object()
_HEAD = frozenset(("v", "id", "op", "client"))
_CLEARABLE = frozenset(("overflow", "max_penalty"))
_SECONDS = _seconds  # queue_update's seconds: infinity allowed (no limit)
_OP_CHECKS = {("queue_add", "queue"): _queue_table}  # a field whose check differs in one op
_SPECS = {op: (frozenset(req), frozenset(opt), tuple((n, _OP_CHECKS.get((op, n), _CHECKS[n])) for n in req))
          for op, (req, opt) in _ALL_OPS.items()}


def decode_frame(frame: bytes) -> tuple[list[Command | Refused], bool]:
    """Decode one frame into commands (or refusals, one per bad request) and whether it was a batch.

    Raises :class:`ProtocolError` (``bad_frame`` / ``too_large``) when the frame as a whole is unusable.
    A frame of only common, valid requests is decoded in one typed pass (decode_fast.py: the same result)."""
    hot = _fast.decode_hot(frame)
    return hot if hot is not None else decode_general(frame)


def decode_general(frame: bytes) -> tuple[list[Command | Refused], bool]:
    """:func:`decode_frame` for any frame: msgpack, then :func:`validate` per request."""
    if not frame:
        raise ProtocolError(BAD_FRAME, "the frame is empty (a request is a msgpack map, or an array of maps)")
    try:
        obj = msgpack.unpackb(frame, raw=False, strict_map_key=False, use_list=True)
    except UnicodeDecodeError:
        raise ProtocolError(BAD_FRAME, "frame holds a string that is not valid UTF-8 (ids and names are text)") from None
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise ProtocolError(BAD_FRAME, f"frame is not valid msgpack ({type(exc).__name__})") from None
    if isinstance(obj, dict):
        items, batch = [obj], False
    elif isinstance(obj, list):
        if not obj:
            raise ProtocolError(BAD_FRAME, "a batch must hold at least one request")
        if len(obj) > MAX_BATCH:
            raise ProtocolError(TOO_LARGE, f"a batch holds at most {MAX_BATCH} requests, got {len(obj)}")
        items, batch = obj, True
    else:
        raise ProtocolError(BAD_FRAME, f"a frame must hold a map or an array of maps, got {type(obj).__name__}")
    out: list[Command | Refused] = []
    for req in items:
        try:
            out.append(validate(req))
        except ProtocolError as exc:
            rid = req.get("id") if isinstance(req, dict) else None
            if isinstance(rid, bool) or not isinstance(rid, (int, str)):
                rid = None
            out.append(Refused(rid, exc.code, exc.message))
    return out, batch


from . import decode_fast as _fast  # noqa: E402  (it reads this module's limits and Command)
