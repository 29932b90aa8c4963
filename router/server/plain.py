"""What a request's free-form values may hold: plain msgpack data, bounded in depth (docs/protocol.md, Limits).

A call's ``context`` travels with it: the engine keeps it, the journal
writes it, replies and queries send it back. So everything it holds must
encode again exactly as it came, at any stack depth the server packs it
from. msgpack lets a frame carry what that rules out: extension types and
timestamps (which the journal's encoder refuses, or which would come back
changed) and maps nested hundreds deep (which a recursive encoder or
``repr`` cannot walk within Python's recursion limit). :func:`plain_problem`
walks a value without recursion and says what is wrong, or None.
"""

from __future__ import annotations

from typing import Any

MAX_CONTEXT_DEPTH = 8  #: arrays and maps inside a context, counting the context map itself
_INT_LOW, _INT_HIGH = -(1 << 63), (1 << 64) - 1  # what msgpack encodes: int64 or uint64
_SCALARS = (type(None), bool, float, str, bytes)


def plain_problem(name: str, value: Any, max_depth: int = MAX_CONTEXT_DEPTH) -> str | None:
    """What makes ``value`` (a decoded wire value called ``name``) other than plain data at most ``max_depth``
    containers deep, as a message naming where; None when it is plain. Plain: nil, booleans, integers that fit
    in 64 bits, floats, strings, binary, arrays, and maps keyed by strings or integers."""
    stack: list[tuple[Any, Any, int]] = [(name, value, 1)]  # (path, value, depth of the container it is in)
    while stack:
        path, v, depth = stack.pop()
        t = type(v)
        if t in _SCALARS:
            continue
        if t is int:
            if not _INT_LOW <= v <= _INT_HIGH:
                return f"field '{_path(path)}' holds an integer beyond 64 bits"
            continue
        if t is not list and t is not dict:
            return (f"field '{_path(path)}' must hold only nil, booleans, numbers, strings, binary, arrays and maps, "
                    f"got {t.__name__}")
        if depth > max_depth:
            return f"field '{_path(path)}' is nested more than {max_depth} deep"
        if t is list:
            stack.extend(((path, i), x, depth + 1) for i, x in enumerate(v))
            continue
        for k, x in v.items():
            if type(k) is not str and type(k) is not int:
                return f"field '{_path(path)}' has a key of type {type(k).__name__} (keys are strings or integers)"
            stack.append(((path, k), x, depth + 1))
    return None


def _path(path: Any) -> str:
    """``a.b[2].c`` from the nested (parent, key) pairs :func:`plain_problem` keeps (made only for a message)."""
    keys = []
    while isinstance(path, tuple):
        path, k = path
        keys.append(f"[{k}]" if type(k) is int else f".{k}")
    text = str(path) + "".join(reversed(keys))
    return text if len(text) <= 80 else text[:77] + "..."
