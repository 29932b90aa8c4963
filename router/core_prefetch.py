"""Compiled core: a batch asks for the memory its next rows will read before it applies them (numba).

On a large floor most of a lifecycle's time is spent waiting for memory:
a release reads a call's rows last touched when the call was answered, and
its agent's rows and member row, last touched then too. On this machine,
at 10,000 agents, those first reads took about a sixth of the time inside
``Router.submit`` (docs/performance.md). The rows a batch row will read are
known a few rows ahead, so :func:`prefetch_ahead`, called by the batch loop
before each row, asks the processor for them (``llvm.prefetch``: a hint,
which never faults and changes no value) in stages that follow the chain of
reads each needs:

* five rows ahead, the call-id table's row where the call's id lives;
* four rows ahead, the call's rows (found through that table);
* three rows ahead, the agent's rows: the one named by an answer, or the
  one a release or abandon ends the call of (read from the call's row);
* two rows ahead, that agent's list of its queues;
* one row ahead, its member row in the call's queue (found in that list).

Each stage reads only what an earlier stage asked for, so it rarely waits
itself. What it finds may be out of date by the time the row runs (a row
in between may end that call or reuse its slot): it is only a hint, and
every index it uses is checked against its table's size, so a stale or bad
row (an unknown id, an agent out of range) asks for nothing or for the
wrong rows, never reads outside a table. The rows' results are the same
with or without it (the parity suite runs through it).

With ``NUMBA_DISABLE_JIT=1`` :func:`prefetch` asks for nothing; it checks that the element exists.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils, config
from numba.extending import intrinsic

from .core_ids import _h_home, h_find
from .core_jit import kernel
from .core_pref import member_row
from .core_layout import (
    AGENT, OP_ABANDON, OP_ACCEPT, OP_ARRIVE, OP_REJECT, OP_RELEASE, OP_TRANSFER, QUEUE,
)

_I8P = ir.IntType(8).as_pointer()
_I32 = ir.IntType(32)
#: The intrinsic's name is mangled with its pointer type: ``p0``, LLVM's pointers being opaque (LLVM 17 on;
#: the numba releases busyhour runs on, 0.66 on, come with LLVM 22).
_PREFETCH = "llvm.prefetch.p0"


@intrinsic
def _prefetch(typingctx, arr, i, j):
    """Ask for the cache line holding ``arr[i, j]`` (a 2-D array) or ``arr[i]`` (1-D; ``j`` ignored), for
    writing (``llvm.prefetch``: read-write 1, locality 3, data)."""
    if not (isinstance(arr, types.Array) and arr.ndim in (1, 2) and isinstance(i, types.Integer)
            and isinstance(j, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        aryty = sig.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        at = context.cast(builder, args[1], sig.args[1], types.intp)
        if aryty.ndim == 2:
            ncols = cgutils.unpack_tuple(builder, ary.shape)[1]
            at = builder.add(builder.mul(at, ncols), context.cast(builder, args[2], sig.args[2], types.intp))
        fnty = ir.FunctionType(ir.VoidType(), [_I8P, _I32, _I32, _I32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH)
        builder.call(fn, [builder.bitcast(builder.gep(ary.data, [at]), _I8P), _I32(1), _I32(3), _I32(1)])
        return context.get_dummy_value()

    return types.none(arr, i, j), codegen


def _checked(arr, i, j):
    """``prefetch`` without the JIT: nothing to ask for, but the element must exist (tests run the kernels this
    way, so a hint pointing outside its table fails there)."""
    if not (0 <= i < arr.shape[0] and (arr.ndim == 1 or 0 <= j < arr.shape[1])):
        raise IndexError(f"prefetch of [{i}, {j}] outside an array of shape {arr.shape}")


#: ``prefetch(arr, i, j)``: a hint that ``arr[i, j]`` (``arr[i]`` for a 1-D array) will be read soon.
prefetch = _checked if config.DISABLE_JIT else _prefetch


@kernel
def _row(arr, i):
    """Every cache line of row ``i`` of the 2-D ``arr`` (its rows are a few lines long at most)."""
    for j in range(0, arr.shape[1], 8):
        prefetch(arr, i, j)
    prefetch(arr, i, arr.shape[1] - 1)


@kernel
def _has_call(op):
    return (op == OP_RELEASE or op == OP_ACCEPT or op == OP_REJECT or op == OP_ABANDON or op == OP_TRANSFER
            or op == OP_ARRIVE)


@kernel
def _slot(S, op, call):
    """The slot of a row's call as the table holds it now (-1: none, or an arrival)."""
    if op == OP_ARRIVE or not _has_call(op):
        return -1
    s = h_find(S, call)
    return s if s < S.C_i.shape[0] else -1


@kernel
def _agent_of(S, op, call, agent):
    """The agent whose rows a row will change: the one it names, or the one a release or abandon frees."""
    a = -1
    if op == OP_ACCEPT or op == OP_REJECT:
        a = agent
    elif op == OP_RELEASE or op == OP_ABANDON or op == OP_TRANSFER:
        s = _slot(S, op, call)
        if s >= 0:
            a = S.C_i[s, AGENT]
    return a if 0 <= a < S.A_i.shape[0] else -1


@kernel
def prefetch_ahead(S, ops, i):
    """Ask for what rows ``i + 1`` to ``i + 5`` of ``ops`` will read (see the module docstring)."""
    n = ops.shape[0]
    if i + 5 < n:
        o = ops[i + 5]
        if _has_call(o['op']):
            prefetch(S.HK, _h_home(o['call'], S.HK.shape[0] - 1), 0)
    if i + 4 < n:
        o = ops[i + 4]
        s = _slot(S, o['op'], o['call'])
        if s >= 0:
            _row(S.C_i, s)
            _row(S.C_f, s)
    if i + 3 < n:
        o = ops[i + 3]
        a = _agent_of(S, o['op'], o['call'], o['agent'])
        if a >= 0:
            _row(S.A_i, a)
            _row(S.A_f, a)
            prefetch(S.AQ_ptr, a, 0)
            prefetch(S.LD, a, 0)
    if i + 2 < n:
        o = ops[i + 2]
        if o['op'] == OP_RELEASE or o['op'] == OP_TRANSFER:
            a = _agent_of(S, o['op'], o['call'], o['agent'])
            if a >= 0 and a + 1 < S.AQ_ptr.shape[0]:
                for k in range(S.AQ_ptr[a], min(S.AQ_ptr[a + 1], S.AQ.shape[0])):
                    prefetch(S.AQ, k, 0)
    if i + 1 < n:
        o = ops[i + 1]
        if o['op'] == OP_RELEASE or o['op'] == OP_TRANSFER:
            s = _slot(S, o['op'], o['call'])
            if s >= 0:
                _member_rows(S, S.C_i[s, AGENT], S.C_i[s, QUEUE])


@kernel
def _member_rows(S, a, q):
    """Agent ``a``'s member rows in queue ``q`` (what a release counts the call in: core_pref.member_call_done)."""
    if not (0 <= a < S.AQ_ptr.shape[0] - 1 and 0 <= q < S.QM_ptr.shape[0]) or S.AQ_ptr[a + 1] > S.AQ.shape[0]:
        return
    m = member_row(S, q, a)
    if 0 <= m < S.QM.shape[0]:
        _row(S.QM, m)
        _row(S.QM_f, m)
