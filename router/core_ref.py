"""The compiled core's state passed between kernels by reference: one pointer, not ~40 arrays.

numba passes a tuple to a function as its flattened fields. The core's state
(:class:`~busyhour.router.core_layout.CoreState`, ~40 arrays of 7–9 machine
words each) thus became ~300 arguments of every kernel and every call: numba
built, and LLVM parsed and optimised, hundreds of instructions per call site
and per kernel prologue, most of the core's first compile.

An entry (the code Python calls) turns the tuple it receives into a
:class:`TupleRef` with :func:`state_ref`: the tuple is stored once in the
entry's stack frame and kernels receive its address. ``S.A_i`` on a
:class:`TupleRef` loads that field, so kernel code reads the same either
way. The reference lives as long as the entry's frame: kernels pass it down
and never return or keep it. With ``NUMBA_DISABLE_JIT=1``, :func:`state_ref`
gives the tuple back.

A field's load is marked ``!invariant.load``: the slot is written once, by
the entry, before any kernel reads it, and a tuple's fields cannot be
assigned, so the array a field holds (its data pointer, shape and strides)
never changes while kernels run (an entry makes its references once, outside
any loop: a test checks). Without the mark LLVM must assume that any
store into an array's data may have changed the slot, and loads the array
again after every store (a heap sift copying a row reloaded the timer
table's pointer and shape for each of its six columns). The arrays' data are
loaded and stored as usual.

This uses numba's public extension API (``numba.extending``).
"""

from __future__ import annotations

from numba import types
from numba.core import cgutils, config
from numba.core.extending import intrinsic, lower_getattr_generic, models, register_model
from numba.core.typing.templates import AttributeTemplate, infer_getattr


class TupleRef(types.Type):
    """The address of a named tuple (of arrays) held in an entry's stack frame."""

    def __init__(self, tuple_type: types.BaseNamedTuple):
        self.tuple_type = tuple_type
        super().__init__(name=f"Ref[{tuple_type.name}]")


@register_model(TupleRef)
class _TupleRefModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, dmm.lookup(fe_type.tuple_type).get_value_type().as_pointer())


@infer_getattr
class _TupleRefFields(AttributeTemplate):
    key = TupleRef

    def generic_resolve(self, ref, attr):
        t = ref.tuple_type
        return t.types[t.fields.index(attr)] if attr in t.fields else None


@lower_getattr_generic(TupleRef)
def _field(context, builder, ref, value, attr):
    field = builder.load(cgutils.gep_inbounds(builder, value, 0, ref.tuple_type.fields.index(attr)))
    field.set_metadata("invariant.load", builder.module.add_metadata([]))
    return field


@intrinsic
def _state_ref(typingctx, tup):
    if isinstance(tup, TupleRef):
        return tup(tup), lambda context, builder, sig, args: args[0]
    if not isinstance(tup, types.BaseNamedTuple):
        return None

    def codegen(context, builder, sig, args):
        slot = cgutils.alloca_once(builder, args[0].type)
        builder.store(args[0], slot)
        return slot

    return TupleRef(tup)(tup), codegen


def _same(tup):
    return tup


#: ``state_ref(S)``: in an entry, once and outside any loop (see the module docstring), a :class:`TupleRef` to
#: the named tuple ``S`` for the kernels it calls (``S`` itself when numba's JIT is off).
state_ref = _same if config.DISABLE_JIT else _state_ref
