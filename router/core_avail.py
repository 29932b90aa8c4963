"""Compiled core: each queue's available members, in the order its strategy offers them (numba).

Every queue routed without a member scan keeps its available members in a
segment of ``AH_f`` (key, idle rank) / ``AH_i`` (agent, member row), rows
``AH_OFF`` to ``AH_OFF + AH_CAP``. Entries are deleted lazily: an entry is
current while its agent is AVAILABLE with the idle rank it was added with
(``CoreState.AV``, one dense array, so a stale entry costs no read of the
agent's own rows). Each agent has at most one current entry per queue.

* **Longest idle** (key kind 0): the key is always 0 and every entry takes a
  new, larger rank, so entries arrive in the order they are offered. The
  segment is a list in that order, ``AH_LEN`` entries from ``AH_OFF +
  AH_HEAD``: adding is O(1); a pick walks from the head, and drops the stale
  entries it passed (each entry is dropped once).
* **Other keys** (fewest answered, least talk time, most skilled): a binary
  heap on (key, rank) from ``AH_OFF``; a pick pops until it finds an agent
  that can take the call and puts back the current entries it set aside.

Both give the same agent: the current entry with the least (key, rank) whose
agent can take the call. A full segment keeps only its current entries.
"""

from __future__ import annotations

from .core_jit import kernel
from .core_layout import (
    AH_CAP, AH_HEAD, AH_LEN, AH_OFF, BLOCKED, CH, KEYKIND, LOCK_KIND, XFER,
)


@kernel
def _ah_less(S, i, j):
    ki, kj = S.AH_f[i, 0], S.AH_f[j, 0]
    return ki < kj or (ki == kj and S.AH_f[i, 1] < S.AH_f[j, 1])


@kernel
def _ah_swap(S, i, j):
    for c in range(2):
        S.AH_f[i, c], S.AH_f[j, c] = S.AH_f[j, c], S.AH_f[i, c]
        S.AH_i[i, c], S.AH_i[j, c] = S.AH_i[j, c], S.AH_i[i, c]


@kernel
def _ah_copy(S, dst, src):
    for c in range(2):
        S.AH_f[dst, c] = S.AH_f[src, c]
        S.AH_i[dst, c] = S.AH_i[src, c]


@kernel
def _ah_current(S, k):
    return S.AV[S.AH_i[k, 0]] == S.AH_f[k, 1]  # NaN (not available) equals nothing


@kernel
def _takes(S, q, slot, k, excluded):
    """The agent of current entry ``k`` can take call ``slot`` of queue ``q`` now: not locked, room on the call's
    channel, not the agent who transferred it, serving the queue, holding the call's own skills."""
    a = S.AH_i[k, 0]
    return (S.A_i[a, LOCK_KIND] == L_NONE and S.CA[a, S.C_i[slot, CH]] > 0 and a != excluded
            and serves(S, S.QM_ptr[q] + S.AH_i[k, 1], 0) and call_ok(S, a, slot, q, 0))


@kernel
def ah_push(S, q, key, rank, a, m):
    """Add agent ``a`` (member row ``m``), now available with ``rank``, to queue ``q``'s segment."""
    if S.Q_i[q, KEYKIND] == 0:
        _append_in_order(S, q, key, rank, a, m)  # key: 0 for every entry
        return
    off = S.Q_i[q, AH_OFF]
    n = S.Q_i[q, AH_LEN]
    if n == S.Q_i[q, AH_CAP]:  # full: keep only current entries (at most one per member), then re-heap
        n = _keep_current(S, off, off, off + n)
        for k in range(off + n // 2, off - 1, -1):
            sift_down(S, off, n, k)
    _ah_put(S, off + n, key, rank, a, m)
    S.Q_i[q, AH_LEN] = n + 1
    sift_up(S, off, off + n)


@kernel
def _append_in_order(S, q, key, rank, a, m):
    off = S.Q_i[q, AH_OFF]
    h = S.Q_i[q, AH_HEAD]
    n = S.Q_i[q, AH_LEN]
    if h + n == S.Q_i[q, AH_CAP]:  # the end reached: the current entries, in order, move to the start
        h, n = 0, _keep_current(S, off, off + h, off + h + n)
        S.Q_i[q, AH_HEAD] = 0
    _ah_put(S, off + h + n, key, rank, a, m)
    S.Q_i[q, AH_LEN] = n + 1


@kernel
def _keep_current(S, dst, lo, hi):
    """Move the current entries among rows ``lo`` to ``hi`` (``dst <= lo``), in order, to rows from ``dst``;
    return how many (the rows after them are left as they were)."""
    w = dst
    for k in range(lo, hi):
        if _ah_current(S, k):
            if k != w:
                _ah_copy(S, w, k)
            w += 1
    return w - dst


@kernel
def _ah_put(S, i, key, rank, a, m):
    S.AH_f[i, 0] = key
    S.AH_f[i, 1] = rank
    S.AH_i[i, 0] = a
    S.AH_i[i, 1] = m


@kernel
def pick_available(S, q, slot):
    """The agent of the first current entry of ``q``'s segment that can take call ``slot`` now (not the
    agent who transferred it; holding its own skills), or -1 (dispatch._pick_available)."""
    if S.Q_i[q, BLOCKED]:
        return -1
    if S.Q_i[q, KEYKIND] == 0:
        return _pick_in_order(S, q, slot)
    excluded = S.C_i[slot, XFER]
    off = S.Q_i[q, AH_OFF]
    n0 = S.Q_i[q, AH_LEN]
    found = -1
    while S.Q_i[q, AH_LEN] > 0:
        if _ah_current(S, off) and _takes(S, q, slot, off, excluded):
            found = S.AH_i[off, 0]
            break
        _ah_pop(S, q)
    # Popped entries sit just past the heap: put back the current ones (set aside), drop the stale.
    i = off + S.Q_i[q, AH_LEN]
    end = off + n0
    while i < end:
        if _ah_current(S, i):
            S.Q_i[q, AH_LEN] += 1
            sift_up(S, off, i)
            i += 1
        else:
            end -= 1
            _ah_swap(S, i, end)
    return found


@kernel
def _pick_in_order(S, q, slot):
    excluded = S.C_i[slot, XFER]
    off = S.Q_i[q, AH_OFF]
    start = off + S.Q_i[q, AH_HEAD]
    end = start + S.Q_i[q, AH_LEN]
    found = -1
    i = start
    while i < end:
        if _ah_current(S, i) and _takes(S, q, slot, i, excluded):
            found = S.AH_i[i, 0]
            break
        i += 1
    # Drop the stale entries passed; the current ones passed (they cannot take this call) close up, in order,
    # against entry i (the one found, or the end).
    w = i
    for k in range(i - 1, start - 1, -1):
        if _ah_current(S, k):
            w -= 1
            if w != k:
                _ah_copy(S, w, k)
    S.Q_i[q, AH_HEAD] = w - off
    S.Q_i[q, AH_LEN] = end - w
    return found


@kernel
def _ah_pop(S, q):
    """Move the root to the end of the heap (outside it); return its index."""
    off = S.Q_i[q, AH_OFF]
    n = S.Q_i[q, AH_LEN] - 1
    S.Q_i[q, AH_LEN] = n
    _ah_swap(S, off, off + n)
    sift_down(S, off, n, off)
    return off + n


# ------------------------------------------------------------------ sifts of a queue's heap
@kernel
def sift_up(S, off, i):
    """Move entry ``i`` of the available-member heap starting at ``off`` up to its place."""
    while i > off:
        p = off + ((i - off - 1) >> 1)
        if not _ah_less(S, i, p):
            break
        _ah_swap(S, i, p)
        i = p


@kernel
def sift_down(S, off, n, i):
    """Move entry ``i`` of the ``n``-entry available-member heap starting at ``off`` down to its place."""
    while True:
        c = off + 2 * (i - off) + 1
        if c >= off + n:
            break
        if c + 1 < off + n and _ah_less(S, c + 1, c):
            c += 1
        if not _ah_less(S, c, i):
            break
        _ah_swap(S, i, c)
        i = c


from .core_kernels import L_NONE, call_ok, serves  # noqa: E402 - at the end: core_kernels imports this module's kernels
