"""The common requests decoded in one pass by msgspec; everything else by protocol.py's checks.

An adapter's traffic is mostly ``arrive``, ``accept``, ``reject``, ``release``,
``abandon``, ``login``, ``logout``, ``ready`` and ``not_ready`` with their
usual fields. :func:`decode_hot` decodes a frame of only such requests with
msgspec (typed: the decoder checks each field's type while it parses) and
then the general path's own checks of the values (protocol.py: byte
lengths, int64, ranges, the ``client`` rules), and returns the same commands
:func:`protocol.decode_frame` would.
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

from .protocol import _CHECKS, MAX_BATCH, MAX_REQUEST_ID_BYTES, Command, ProtocolError, _client, _id

Id = Union[int, str]


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


class _Reject(_Answer, tag="reject"):  # an accept's fields, and whether the agent was busy
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


#: each op's own fields (not v, id, client) with the general path's check of each (protocol._CHECKS), in the
#: order the general path puts them in a command: required in the op's order, then the optional one (as the
#: Structs declare them)
_OWN = {t: tuple((n, _CHECKS[n]) for n in t.__struct_fields__ if n not in _Request.__struct_fields__)
        for t in _Hot.__args__}


def _fields(r: _Request) -> dict:
    """The command's fields, checked as the general path checks them (the bounds msgspec cannot state); a nil
    optional field is left out, as there. Raises ProtocolError on a bound not met."""
    out = {}
    for name, check in _OWN[type(r)]:
        value = getattr(r, name)
        if value is not None:
            out[name] = check(name, value)
    return out


def decode_hot(frame: bytes) -> tuple[list[Command], bool] | None:
    """(commands, batch) for a frame of only common requests, all valid; None for anything else."""
    try:
        obj = _decoder.decode(frame)
    except (msgspec.MsgspecError, RecursionError):  # RecursionError: maps nested past Python's limit
        return None
    batch = type(obj) is list
    reqs = obj if batch else (obj,)
    if batch and not 0 < len(reqs) <= MAX_BATCH:
        return None
    try:  # a bound not met: the general path decodes the frame again and names it
        return [Command(_id("id", r.rid, MAX_REQUEST_ID_BYTES), r.__struct_config__.tag, _fields(r),
                        None if r.client is msgspec.UNSET else _client(r.client)) for r in reqs], batch
    except ProtocolError:
        return None
