"""Router's call ids: whatever id a PBX gives a call, as the compiled core's 64-bit integers.

* An integer from ``FIRST_OWN_ID`` (-2**62 + 2) to 2**63 - 1 is its own core id, so
  the batch :meth:`~busyhour.router.Router.submit` and the per-call methods
  name the same calls by the same numbers, and integer ids cost no lookup.
  numpy integers count as integers (``np.int64(7)`` is call 7).
* Any other id — a string, bytes, a tuple, an integer outside that range —
  is given a core id from below ``-2**62`` for as long as the call lives
  (a batch row may not use those: ``submit`` refuses them).
* Refused, with an :class:`UnknownIdError` naming the problem: ``None``,
  ``True``/``False`` (they would be the calls 1 and 0), floats (``1.0``
  would be call 1; ``nan`` could never be named again) and unhashable ids.
"""

from __future__ import annotations

import numbers
from collections import OrderedDict
from typing import Hashable

from .core_layout import NO_ID
from .errors import UnknownIdError

FIRST_OWN_ID = NO_ID + 2  # the lowest integer that is its own core id (NO_ID, NO_ID + 1 are the core's)
_LAST_ID = (1 << 63) - 1
_FIRST_MAPPED = -(1 << 63)  # core ids given to other ids count up from here …
UNMAPPED = NO_ID - 1  # … and never reach this one: "no such call" for an id never mapped
MAX_ENDED_KEPT = 65536  # recently ended calls remembered for clear errors


def call_key(call_id: object) -> Hashable:
    """``call_id`` as the key it is known by (integers as ``int``); UnknownIdError if it cannot be a call id."""
    if type(call_id) is int or type(call_id) is str:  # the common cases, without the ABC checks below (~1 µs)
        return call_id
    if isinstance(call_id, numbers.Integral) and not isinstance(call_id, bool):
        return int(call_id)
    if call_id is None:
        raise UnknownIdError("call id must not be None")
    if isinstance(call_id, (bool, float, complex, numbers.Number)):
        raise UnknownIdError(f"call id must be an integer or a string, not {type(call_id).__name__} "
                             f"({call_id!r})")
    try:
        hash(call_id)
    except TypeError:
        raise UnknownIdError(f"call id must be hashable (str or int), got {type(call_id).__name__}") from None
    return call_id


class CallIds:
    """Mixed into Router: the map between callers' ids and core ids, the recently ended calls, contexts."""

    def _init_ids(self) -> None:
        self._int: dict[Hashable, int] = {}  # a mapped id -> its core id
        self._ext: dict[int, Hashable] = {}  # and back
        self._next_mapped = _FIRST_MAPPED
        self._ended: OrderedDict[Hashable, str] = OrderedDict()  # recently ended, for clear errors
        self._context: dict[Hashable, dict] = {}

    def _call_id(self, call_id: object) -> int:
        """The core id of a call named by an operation (``UNMAPPED`` if no live call has that id)."""
        if type(call_id) is int and FIRST_OWN_ID <= call_id <= _LAST_ID:
            return call_id
        return self._core_id(call_key(call_id))

    def _core_id(self, key: Hashable) -> int:
        if type(key) is int and FIRST_OWN_ID <= key <= _LAST_ID:
            return key
        return self._int.get(key, UNMAPPED)

    def _new_call_id(self, call_id: object) -> int:
        """The core id of an arriving call: its own, a live call's (the core refuses the duplicate) or a
        new one, mapped until the call ends (:meth:`_unmap` if the core refuses the arrival)."""
        if type(call_id) is int and FIRST_OWN_ID <= call_id <= _LAST_ID:  # its own core id: no lookup
            return call_id
        key = call_key(call_id)
        cid = self._core_id(key)
        if cid != UNMAPPED:
            return cid
        cid = self._next_mapped
        self._next_mapped += 1
        self._int[key], self._ext[cid] = cid, key
        return cid

    def _unmap(self, cid: int) -> None:
        key = self._ext.pop(cid, None)
        if key is not None:
            del self._int[key]

    def _ended_call(self, key: Hashable, detail: str) -> None:
        """A CALL_ENDED event of the call known as ``key``: forget its context and core id; remember why."""
        cid = self._int.pop(key, None) if self._int else None
        if cid is not None:
            del self._ext[cid]
        self._context.pop(key, None)
        self._ended[key] = detail
        if len(self._ended) > MAX_ENDED_KEPT:
            self._ended.popitem(last=False)

    def _known_as(self, call_id: object) -> Hashable:
        """The key of ``call_id`` for messages and contexts (the id itself when it is not a valid one)."""
        try:
            return call_key(call_id)
        except UnknownIdError:
            return call_id
