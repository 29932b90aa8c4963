"""The server's idempotency table: the packed reply of each engine operation by (client, request id).

Kept for the last ``capacity`` operations, oldest out first. The table is a dict
per client of request id -> reply bytes: plain keys (int or str) and bytes
values, so CPython's garbage collector never tracks those dicts. A single dict
keyed by (client, id) tuples was tracked for good (a dict is only untracked by
a full collection that finds none of its keys tracked, and new keys always
are), and each full collection walked all its entries: 30-60 ms with a few
hundred thousand remembered replies, on the loop's thread.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterator

Key = tuple  # (client: bytes, request id: int | str)


class Remembered:
    """Replies by (client, request id), the last ``capacity`` of them."""

    def __init__(self, capacity: int):
        self.capacity = int(capacity)
        self._by_client: dict[bytes, dict[Any, bytes]] = {}
        self._order: deque[Key] = deque()  # oldest first

    def get(self, key: Key) -> bytes | None:
        replies = self._by_client.get(key[0])
        return None if replies is None else replies.get(key[1])

    def add(self, key: Key, reply: bytes) -> None:
        """Remember ``reply`` under ``key`` (a key already remembered keeps its first reply)."""
        client, rid = key
        replies = self._by_client.get(client)
        if replies is None:
            replies = self._by_client[client] = {}
        elif rid in replies:
            return
        replies[rid] = reply
        self._order.append(key)
        while len(self._order) > self.capacity:
            old_client, old_rid = self._order.popleft()
            old = self._by_client[old_client]
            del old[old_rid]
            if not old:
                del self._by_client[old_client]

    def items(self) -> Iterator[tuple[Key, bytes]]:
        """(key, reply), oldest first."""
        by_client = self._by_client
        return ((key, by_client[key[0]][key[1]]) for key in self._order)

    def __len__(self) -> int:
        return len(self._order)
