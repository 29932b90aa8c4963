"""Compiled core: the call-id table (numba) — external 64-bit call ids to call slots.

Open addressing with linear probing; ``H_EMPTY`` marks a free row and ``H_TOMB``
a deleted one (the two ids the core reserves). The facade keeps the table at
most half full (``core_build.grow`` rehashes).
"""

from __future__ import annotations

from .core_jit import entry, kernel
from .core_layout import H_EMPTY, H_TOMB, S_HUSED
from .core_ref import state_ref


@kernel
def _h_home(key, mask):
    return (key ^ (key >> 17) ^ (key >> 37)) & mask  # consecutive ids land in consecutive rows


@entry
def h_get(S, key):
    """The slot of call ``key``, or -1, for Python (kernels call :func:`h_find`)."""
    return h_find(state_ref(S), key)


@kernel
def h_find(S, key):
    """The slot of call ``key``, or -1 (the two reserved ids are never a call)."""
    if key == H_EMPTY or key == H_TOMB:
        return -1
    mask = S.HK.shape[0] - 1
    i = _h_home(key, mask)
    while True:
        k = S.HK[i]
        if k == key:
            return S.HV[i]
        if k == H_EMPTY:
            return -1
        i = (i + 1) & mask


@kernel
def h_put(S, key, slot):
    """Add ``key`` (not present). The facade keeps the table at most half full."""
    mask = S.HK.shape[0] - 1
    i = _h_home(key, mask)
    while S.HK[i] != H_EMPTY and S.HK[i] != H_TOMB:
        i = (i + 1) & mask
    if S.HK[i] == H_EMPTY:
        S.S_i[S_HUSED] += 1
    S.HK[i] = key
    S.HV[i] = slot


@kernel
def h_del(S, key):
    mask = S.HK.shape[0] - 1
    i = _h_home(key, mask)
    while S.HK[i] != key:
        if S.HK[i] == H_EMPTY:
            return
        i = (i + 1) & mask
    S.HK[i] = H_TOMB


@entry
def h_rebuild(old_k, old_v, S):
    """Insert every live row of an old table into ``S``'s (empty) table."""
    _rebuild(old_k, old_v, state_ref(S))


@kernel
def _rebuild(old_k, old_v, S):
    S.S_i[S_HUSED] = 0
    for i in range(old_k.shape[0]):
        k = old_k[i]
        if k != H_EMPTY and k != H_TOMB:
            h_put(S, k, old_v[i])
