"""The common requests decoded in one pass by msgspec; everything else by protocol.py's checks.

An adapter's traffic is mostly ``arrive``, ``accept``, ``reject``, ``release``,
``abandon``, ``login``, ``logout``, ``ready`` and ``not_ready`` with their
usual fields. :func:`decode_hot` decodes a frame of only such requests with
msgspec (typed: the decoder checks each field's type while it parses) and
then the bounds msgspec cannot state (byte lengths, int64, the ``client``
rules), and returns the same commands :func:`protocol.decode_frame` would.
Anything else — another op, another field, a wrong type, a value out of
bounds, bytes that are not msgpack — returns None, and the caller decodes
the frame the general way, which names the problem. So this path changes no
result and no error; it only makes valid common frames cheaper (measured in
docs/performance.md, "Decoding requests"). tests/server/test_decode_fast.py
checks it against the general path on generated frames.

The ``fields`` of each command hold the request's fields in the order the
general path gives them (required fields in the op's order, then the one
optional field each op may carry here), so the journal records are the same
bytes either way.
"""

from __future__ import annotations

from typing import Literal, Optional, Union

import msgspec

from .protocol import (
    _INT64, MAX_BATCH, MAX_CALL_ID_BYTES, MAX_CLIENT_BYTES, MAX_NAME_BYTES, MAX_PRIORITY, MAX_REQUEST_ID_BYTES,
    Command,
)

Id = Union[int, str]
_LOW, _HIGH = _INT64
_MAX_REASON_BYTES = 64  # protocol._reason
_MAX_SECONDS = 1e9  # protocol._number's default bound (wrap_up_s)


class _Request(msgspec.Struct, tag_field="op", forbid_unknown_fields=True, kw_only=True, rename={"rid": "id"}):
    v: Literal[1]
    rid: Id
    client: Union[str, msgspec.UnsetType] = msgspec.UNSET  # nil is refused (protocol._client), not "absent"


class _Arrive(_Request, tag="arrive"):
    call: Id
    queue: str
    priority: Optional[int] = None


class _Answer(_Request, tag="accept"):
    call: Id
    agent: Id


class _Reject(_Request, tag="reject"):
    call: Id
    agent: Id
    busy: Optional[bool] = None


class _Release(_Request, tag="release"):
    call: Id
    wrap_up_s: Optional[float] = None  # msgspec gives an int as a float, as protocol._number does


class _Abandon(_Request, tag="abandon"):
    call: Id


class _Login(_Request, tag="login"):
    agent: Id
    ready: Optional[bool] = None


class _Logout(_Request, tag="logout"):
    agent: Id


class _Ready(_Request, tag="ready"):
    agent: Id


class _NotReady(_Request, tag="not_ready"):
    agent: Id
    reason: Optional[str] = None


_Hot = Union[_Arrive, _Answer, _Reject, _Release, _Abandon, _Login, _Logout, _Ready, _NotReady]
_decoder = msgspec.msgpack.Decoder(Union[list[_Hot], _Hot])


def _id_ok(v: Id, limit: int) -> bool:
    """protocol._id's bounds: a non-empty string of at most ``limit`` UTF-8 bytes, or an int64."""
    if type(v) is str:
        return 0 < len(v) and (4 * len(v) <= limit or len(v.encode("utf-8")) <= limit)
    return _LOW <= v <= _HIGH


def _text_ok(v: str, limit: int = MAX_NAME_BYTES) -> bool:
    return 0 < len(v) and (4 * len(v) <= limit or len(v.encode("utf-8")) <= limit)


def _fields(r: _Request) -> dict | None:
    """The command's fields, or None when a bound is not met (the general path then names it)."""
    t = type(r)
    if t is _Answer:
        return {"call": r.call, "agent": r.agent} if _id_ok(r.call, MAX_CALL_ID_BYTES) and _id_ok(
            r.agent, MAX_CALL_ID_BYTES) else None
    if t is _Arrive:
        if not (_id_ok(r.call, MAX_CALL_ID_BYTES) and _text_ok(r.queue)):
            return None
        if r.priority is None:
            return {"call": r.call, "queue": r.queue}
        return {"call": r.call, "queue": r.queue, "priority": r.priority} if 0 <= r.priority <= MAX_PRIORITY else None
    if t is _Release:
        if not _id_ok(r.call, MAX_CALL_ID_BYTES):
            return None
        if r.wrap_up_s is None:
            return {"call": r.call}
        return {"call": r.call, "wrap_up_s": r.wrap_up_s} if 0.0 <= r.wrap_up_s <= _MAX_SECONDS else None  # nan: no
    if t is _Abandon:
        return {"call": r.call} if _id_ok(r.call, MAX_CALL_ID_BYTES) else None
    if t is _Reject:
        if not (_id_ok(r.call, MAX_CALL_ID_BYTES) and _id_ok(r.agent, MAX_CALL_ID_BYTES)):
            return None
        return {"call": r.call, "agent": r.agent} if r.busy is None else {"call": r.call, "agent": r.agent,
                                                                        "busy": r.busy}
    if not _id_ok(r.agent, MAX_CALL_ID_BYTES):
        return None
    if t is _Login:
        return {"agent": r.agent} if r.ready is None else {"agent": r.agent, "ready": r.ready}
    if t is _NotReady:
        if r.reason is None:
            return {"agent": r.agent}
        ok = _text_ok(r.reason, _MAX_REASON_BYTES) and ":" not in r.reason
        return {"agent": r.agent, "reason": r.reason} if ok else None
    return {"agent": r.agent}  # logout, ready


#: client name -> its UTF-8 bytes, for names already checked (a connection sends the same name every time).
#: Bounded: emptied when full, so a stream of new names costs an encode each, never memory.
_CLIENTS: dict[str, bytes] = {}
_MAX_CLIENTS = 4096


def _client(name: str) -> bytes | None:
    b = _CLIENTS.get(name)
    if b is None:
        b = name.encode("utf-8")
        if not (1 <= len(b) <= MAX_CLIENT_BYTES and b[0] != 0):
            return None
        if len(_CLIENTS) >= _MAX_CLIENTS:
            _CLIENTS.clear()
        _CLIENTS[name] = b
    return b


def decode_hot(frame: bytes) -> tuple[list[Command], bool] | None:
    """(commands, batch) for a frame of only common requests, all valid; None for anything else."""
    try:
        obj = _decoder.decode(frame)
    except msgspec.MsgspecError:
        return None
    batch = type(obj) is list
    reqs = obj if batch else (obj,)
    if batch and not 0 < len(reqs) <= MAX_BATCH:
        return None
    out = []
    for r in reqs:
        rid = r.rid
        if not _id_ok(rid, MAX_REQUEST_ID_BYTES):
            return None
        client = None
        if r.client is not msgspec.UNSET:
            client = _client(r.client)
            if client is None:
                return None
        fields = _fields(r)
        if fields is None:
            return None
        out.append(Command(rid, r.__struct_config__.tag, fields, client))
    return out, batch
