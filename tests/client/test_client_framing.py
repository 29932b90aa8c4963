"""Requests the server could not take are refused by the client before sending (client/framing.py).

The server drops a frame over its ``--max-frame-bytes`` unanswered; a client that sent one used to wait out
its retries and then blame the connection. A value msgpack cannot encode raised msgspec's own error.
"""

from __future__ import annotations

import msgpack
import pytest

from busyhour.client import AsyncRouterClient, RouterClient
from busyhour.client.framing import MAX_BATCH, MAX_FRAME_BYTES, frames_for


def _maps(n: int, pad: int = 100) -> list[dict]:
    return [{"v": 1, "id": i, "op": "abandon", "call": "c" * pad} for i in range(n)]


def test_a_batch_is_split_by_bytes_and_by_count_and_keeps_every_request_in_order():
    maps = _maps(25_000)
    for limit in (MAX_FRAME_BYTES, 100_000, 1 << 10):
        frames = frames_for(maps, True, limit)
        assert all(len(f) <= limit and len(ids) <= MAX_BATCH for f, ids in frames)
        assert [m["id"] for f, _ in frames for m in msgpack.unpackb(f)] == list(range(25_000))
        assert [i for _, ids in frames for i in ids] == list(range(25_000))
    assert [len(ids) for _, ids in frames_for(_maps(25_000, pad=1), True, 64 << 20)] == [10_000, 10_000, 5_000]


def test_single_frames_are_the_request_maps():
    frames = frames_for(_maps(3), False)
    assert [msgpack.unpackb(f) for f, _ in frames] == _maps(3) and [ids for _, ids in frames] == [(0,), (1,), (2,)]


def test_a_request_over_the_frame_limit_or_not_encodable_is_a_value_error_before_sending(tmp_path):
    with RouterClient(f"ipc://{tmp_path}/none.sock", timeout_s=0.2, retries=0) as c:
        with pytest.raises(ValueError, match=r"request 'arrive' encodes to 1,048,6\d\d bytes, over max_frame_bytes"):
            c.arrive("x" * MAX_FRAME_BYTES, "sales")
        with pytest.raises(ValueError, match=r"request 'arrive' cannot be encoded: .*2\*\*64"):
            c.arrive(2**64, "sales")
        with pytest.raises(ValueError, match=r"request 'arrive' cannot be encoded"):
            c.arrive("c1", "sales", context={"o": object()})
        assert c._waiting == {}  # nothing was sent, nothing waits for a reply
    with pytest.raises(ValueError, match="max_frame_bytes must be an integer in 1,024–67,108,864"):
        RouterClient(f"ipc://{tmp_path}/none.sock", max_frame_bytes=10)
    with pytest.raises(ValueError, match="max_frame_bytes must be an integer"):
        AsyncRouterClient(f"ipc://{tmp_path}/none.sock", max_frame_bytes=True)


def test_a_larger_server_limit_lets_a_larger_request_through_the_client_check(tmp_path):
    with RouterClient(f"ipc://{tmp_path}/none.sock", timeout_s=0.05, retries=0,
                      max_frame_bytes=4 * MAX_FRAME_BYTES) as c:
        pending = c.send([("arrive", {"call": "x" * MAX_FRAME_BYTES, "queue": "sales"})])
        assert len(pending.frames) == 1 and len(pending.frames[0][0]) > MAX_FRAME_BYTES
