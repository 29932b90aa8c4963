"""Requests as frames and frames as replies: what both clients send and read (docs/protocol.md).

Nothing here blocks or touches a socket. A request that could not reach the
server as sent (a value msgpack cannot encode, a frame larger than the
server takes) is a ValueError here, before anything is sent: the server
would drop such a frame unanswered and the client would wait out its
retries. Batches are split by count (10,000 requests) and by bytes.
"""

from __future__ import annotations

from typing import Any, Optional, Union

import msgpack
import msgspec

from .records import Event, Reply

VERSION = 1
MAX_BATCH = 10_000  # requests per frame (docs/protocol.md, Limits)
MAX_FRAME_BYTES = 1 << 20  # the server's default --max-frame-bytes (docs/protocol.md, Limits)
MIN_FRAME_BYTES, MAX_FRAME_LIMIT = 1 << 10, 64 << 20  # the range the server's setting takes
#: Queries (docs/protocol.md): never remembered by the server, so they carry no ``client``; every other op does.
QUERY_OPS = frozenset(("ping", "agent", "call", "queue", "position", "stats", "snapshot", "events_since"))

_encode = msgspec.msgpack.Encoder().encode  # the bytes msgpack.packb(obj, use_bin_type=True) gives, faster


def pack(obj: Any) -> bytes:
    return _encode(obj)


def unpack(frame: bytes) -> Any:
    return msgpack.unpackb(frame, raw=False, strict_map_key=False)


def request_map(rid: int, op: str, fields: dict[str, Any], client: str | None = None) -> dict[str, Any]:
    """The request map; ``client`` (the client's name) goes into every op but a query, so that the server
    recognises a resend on any connection (docs/protocol.md, "Retries are safe")."""
    if not isinstance(op, str):
        raise TypeError(f"op must be a str, got {type(op).__name__}")
    if client is None or op in QUERY_OPS:
        m = {"v": VERSION, "id": rid, "op": op}
    else:
        m = {"v": VERSION, "id": rid, "op": op, "client": client}
    m.update(fields)
    return m


def _packed(m: dict, max_frame_bytes: int) -> bytes:
    """One request map as msgpack; ValueError naming the op when it cannot be sent: a value msgpack cannot
    encode (an integer beyond 64 bits, an object), or more bytes than the server takes in a frame (it would
    drop the frame unanswered, and the client would wait its retries out for nothing)."""
    try:
        frame = pack(m)
    except (OverflowError, TypeError, ValueError, msgspec.EncodeError) as exc:
        raise ValueError(f"request '{m['op']}' cannot be encoded: {exc}") from None
    if len(frame) > max_frame_bytes:
        raise ValueError(f"request '{m['op']}' encodes to {len(frame):,} bytes, over max_frame_bytes "
                         f"({max_frame_bytes:,}; the server drops a larger frame unanswered)")
    return frame


def frames_for(maps: list[dict], batched: bool,
               max_frame_bytes: int = MAX_FRAME_BYTES) -> list[tuple[bytes, tuple[int, ...]]]:
    """(frame bytes, request ids it carries): one frame per request, or (``batched``) arrays of up to
    MAX_BATCH requests and ``max_frame_bytes`` bytes each (a msgpack array is its header then its items)."""
    packed = [_packed(m, max_frame_bytes - (_ARRAY_HEADER_BYTES if batched else 0)) for m in maps]
    if not batched:
        return [(f, (m["id"],)) for f, m in zip(packed, maps)]
    out, start, size = [], 0, 0
    for i, f in enumerate(packed + [None]):
        if f is None or i - start == MAX_BATCH or size + len(f) + _ARRAY_HEADER_BYTES > max_frame_bytes:
            if i > start:
                items = packed[start:i]
                out.append((_array_header(len(items)) + b"".join(items), tuple(m["id"] for m in maps[start:i])))
            start, size = i, 0
        if f is not None:
            size += len(f)
    return out


_ARRAY_HEADER_BYTES = 5  # the longest msgpack array header (array 32)


def _array_header(n: int) -> bytes:
    if n < 16:
        return bytes([0x90 | n])  # fixarray
    return b"\xdc" + n.to_bytes(2, "big") if n < 65536 else b"\xdd" + n.to_bytes(4, "big")  # array 16 / 32


def reply_maps(frame: bytes) -> list[dict]:
    """The reply maps a frame holds (a map or an array of maps); anything else is dropped."""
    try:
        obj = unpack(frame)
    except Exception:  # msgpack raises several unrelated types on garbage
        return []
    if isinstance(obj, dict):
        return [obj]
    if isinstance(obj, list):
        return [m for m in obj if isinstance(m, dict)]
    return []


class _WireReply(msgspec.Struct):
    """A reply map as the server writes it (other keys are ignored, as :meth:`Reply.from_wire` ignores them)."""

    id: Any = None
    ok: Any = None
    events: Optional[list[Event]] = None  # each row decoded straight into an Event (typed: seq int, …)
    result: Any = None
    error: Any = None


_reply_decoder = msgspec.msgpack.Decoder(Union[list[_WireReply], _WireReply])


def replies_from_frame(frame: bytes, received_s: float) -> list[Reply]:
    """The replies a frame holds, as :class:`Reply` records (:func:`reply_maps`, then ``Reply.from_wire``
    each). A well-formed frame is decoded in one typed pass by msgspec; anything else (a malformed event row,
    a non-map in the array, garbage) the general way, which skips what it cannot read."""
    try:
        obj = _reply_decoder.decode(frame)
    except msgspec.MsgspecError:
        return [Reply.from_wire(m, received_s) for m in reply_maps(frame)]
    make = Reply.from_fields
    return [make(m.id, m.ok, tuple(m.events) if m.events else (), m.result, m.error, received_s)
            for m in (obj if type(obj) is list else (obj,))]
