"""The core's state handed to compiled code as one array of addresses and shapes: a handle.

Called from Python, an entry unboxes each of its arguments: the state
(:class:`~busyhour.router.core_layout.CoreState`, 43 arrays) cost about 1.5
µs of every call, most of what a one-row batch or a per-call method spends
in compiled code besides the decision itself. :func:`handle_of` writes each
array's data address and shape into one ``int64`` array, once for a given
state. The facade's entries rebuild the tuple from it as views of the same
memory and run what their namesakes taking the tuple run: :func:`run_batch_h`
(a batch), :func:`deadline_h`, :func:`h_get_h` and :func:`rank_of_h` (its
queries). One array to unbox instead of 43.

A handle holds addresses, not references: it is valid while the arrays of
the state it was made from are alive and not replaced. A ``CoreState`` is a
tuple (its arrays cannot be swapped) and the core never resizes an array in
place, so callers keep the handle beside the state it came from (the
facade's views, fast_events.core_views) and make a new one whenever the state
object changes (identity). :func:`handle_of` refuses an array that is not
C-contiguous, aligned and writeable with the dtype and dimensions
:data:`KINDS` gives: the views assume all three.

With ``NUMBA_DISABLE_JIT=1`` there are no addresses to read: :func:`handle_of`
returns the state itself and :func:`handle_entries` gives the entries that take
it, so callers need not know.

This uses numba's extension API (``numba.extending.intrinsic``) and one helper of its array code
(``numba.np.arrayobj.populate_array``): pyproject.toml bounds numba's version and
tests/kernels/test_core_handle.py fails loudly if either changes.
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba import types
from numba.extending import intrinsic
from numba.np.arrayobj import populate_array

from .core_batch import batch, deadline, run_batch
from .core_cache import jit_disabled
from .core_ids import h_find, h_get
from .core_jit import entry, kernel
from .core_layout import CoreState
from .core_ref import state_ref
from .core_timers import next_deadline
from .core_wait import rank_of, w_rank

#: Slots per field in a handle: the data address, then the shape (up to three dimensions; unused ones 0).
SLOTS = 4
_I, _F, _U, _B = np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.uint64), np.dtype(np.uint8)
#: Each CoreState field's (dtype, dimensions), in field order: what :func:`state_of` builds.
KINDS = (
    (_I, 2), (_F, 2), (_I, 1), (_I, 2), (_I, 2), (_F, 2), (_I, 1), (_I, 2), (_F, 2),  # A_i .. QM_f
    (_F, 2), (_I, 2), (_I, 2), (_F, 2), (_I, 1), (_F, 1), (_I, 2), (_I, 2), (_F, 2),  # AH_f .. EV_f
    (_I, 1), (_F, 1), (_I, 1), (_I, 1), (_U, 1), (_B, 2), (_F, 2), (_I, 2), (_I, 1),  # S_i .. RO
    (_B, 2), (_I, 1), (_I, 2), (_I, 2), (_I, 2), (_I, 1), (_I, 2), (_I, 1), (_I, 2),  # SK .. LD
    (_I, 2), (_F, 1), (_I, 2), (_F, 1), (_F, 2), (_I, 3), (_I, 2),  # CA .. TL_p
)


_PAD = {1: (0, 0), 2: (0,), 3: ()}  # unused shape slots


def _address(a: np.ndarray) -> int:
    """The address of ``a``'s data (C-contiguous, writeable): through ctypes' view of its buffer, about a third of
    what ``a.ctypes.data`` or ``__array_interface__`` cost; an empty array (no byte to view) the slow way."""
    if a.nbytes:
        return ctypes.addressof(ctypes.c_char.from_buffer(a))
    return a.__array_interface__["data"][0]


class HandleError(ValueError):
    """A state whose arrays a handle cannot describe (a bug of the caller: the core makes no such arrays)."""


def handle_of(S: CoreState) -> np.ndarray | CoreState:
    """The handle of ``S`` (see the module docstring); ``S`` itself when numba's JIT is off."""
    if jit_disabled():
        return S
    if len(S) != len(KINDS):
        raise HandleError(f"a CoreState of {len(S)} fields; the handle knows {len(KINDS)}")
    words = []
    for k, (a, (dtype, ndim)) in enumerate(zip(S, KINDS)):
        if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim or not a.flags.carray:
            raise HandleError(f"CoreState.{S._fields[k]}: expected a C-contiguous, aligned, writeable {ndim}-d "
                              f"{dtype} array, got {type(a).__name__} {getattr(a, 'dtype', '')}")
        words.append(_address(a))
        words.extend(a.shape)
        words.extend(_PAD[ndim])
    return np.array(words, dtype=np.int64)


def handle_entries() -> tuple:
    """The facade's entries on a handle: (a batch, the next deadline, a call's slot, a waiting call's rank), with
    ``run_batch``'s, ``deadline``'s, ``h_get``'s and ``rank_of``'s arguments; those very entries when the JIT is
    off (the handle is then the state)."""
    if jit_disabled():
        return run_batch, deadline, h_get, rank_of
    return run_batch_h, deadline_h, h_get_h, rank_of_h


def on_state(run):
    """``run`` (a batch entry on a handle, e.g. a Direct of ``handle_entries()[0]``) called with a state instead,
    its handle made for that call: for copies of the state (fast_trial), whose handle nothing keeps."""

    def run_state(S, ops, prof, start, status, seq_after, stop_on_error):
        return run(handle_of(S), ops, prof, start, status, seq_after, stop_on_error)

    return run_state


def _view_of(dtype, ndim: int):
    """An intrinsic ``view(H, k)``: the C-contiguous ``ndim``-d ``dtype`` array whose data address is ``H[k]`` and
    whose shape is ``H[k + 1 : k + 1 + ndim]``, owning nothing (no meminfo, no parent), like ``numba.carray``
    (which the core cannot call: numba refuses, without its runtime, to return an array made inside a
    function)."""
    aryty = types.Array(dtype, ndim, "C")

    @intrinsic
    def view(typingctx, H, k):
        if not (isinstance(H, types.Array) and H.dtype == types.int64 and H.ndim == 1 and H.layout == "C"):
            return None

        def codegen(context, builder, sig, args):
            h = context.make_array(sig.args[0])(context, builder, args[0])
            k = context.cast(builder, args[1], sig.args[1], types.intp)

            def at(j):
                return builder.load(builder.gep(h.data, [builder.add(k, context.get_constant(types.intp, j))]))

            shape = [at(1 + d) for d in range(ndim)]
            itemsize = context.get_constant(types.intp, context.get_abi_sizeof(context.get_data_type(dtype)))
            strides = [itemsize] * ndim
            for d in range(ndim - 2, -1, -1):
                strides[d] = builder.mul(strides[d + 1], shape[d + 1])
            data = builder.inttoptr(at(0), context.get_data_type(dtype).as_pointer())
            ary = context.make_array(aryty)(context, builder)
            populate_array(ary, data=data, shape=shape, strides=strides, itemsize=itemsize, meminfo=None)
            return ary._getvalue()

        return aryty(H, k), codegen

    return view


_i1, _i2, _i3 = _view_of(types.int64, 1), _view_of(types.int64, 2), _view_of(types.int64, 3)
_f1, _f2 = _view_of(types.float64, 1), _view_of(types.float64, 2)
_u1, _b2 = _view_of(types.uint64, 1), _view_of(types.uint8, 2)


@kernel
def state_of(H):
    """The CoreState whose handle is ``H``: views of the same arrays, in :data:`KINDS` order."""
    return CoreState(
        _i2(H, 0), _f2(H, 4), _i1(H, 8), _i2(H, 12), _i2(H, 16), _f2(H, 20), _i1(H, 24), _i2(H, 28), _f2(H, 32),
        _f2(H, 36), _i2(H, 40), _i2(H, 44), _f2(H, 48), _i1(H, 52), _f1(H, 56), _i2(H, 60), _i2(H, 64), _f2(H, 68),
        _i1(H, 72), _f1(H, 76), _i1(H, 80), _i1(H, 84), _u1(H, 88), _b2(H, 92), _f2(H, 96), _i2(H, 100), _i1(H, 104),
        _b2(H, 108), _i1(H, 112), _i2(H, 116), _i2(H, 120), _i2(H, 124), _i1(H, 128), _i2(H, 132), _i1(H, 136),
        _i2(H, 140), _i2(H, 144), _f1(H, 148), _i2(H, 152), _f1(H, 156), _f2(H, 160), _i3(H, 164), _i2(H, 168),
    )


@entry
def run_batch_h(H, ops, prof, start, status, seq_after, stop_on_error):
    """:func:`core_batch.run_batch` on the state whose handle is ``H``."""
    return batch(state_ref(state_of(H)), ops, prof, start, status, seq_after, stop_on_error)


@entry
def deadline_h(H):
    """:func:`core_batch.deadline` on the state whose handle is ``H``."""
    return next_deadline(state_ref(state_of(H)))


@entry
def h_get_h(H, key):
    """:func:`core_ids.h_get` on the state whose handle is ``H``."""
    return h_find(state_ref(state_of(H)), key)


@entry
def rank_of_h(H, x):
    """:func:`core_wait.rank_of` on the state whose handle is ``H``."""
    return w_rank(state_ref(state_of(H)), x)
