"""How the compiled core is compiled: two decorators over ``numba.njit``.

Left alone, numba compiles a kernel once per distinct argument typing it is
called with from other kernels: once for an ``int64`` agent, again for the
``int32`` column of an operation row, and again for every literal constant
passed (``push_timer(S, t, T_RING, ...)`` makes a ``Literal[int](4)``
version). The core's 100-odd kernels were compiled about 300 times, each
time with its whole call tree, which made the first run take minutes.

:func:`kernel` and :func:`entry` type every call with literals dropped and
integers widened to ``int64`` (unsigned 64-bit ones kept), so each kernel
compiles once per array layout. Kernels that Python never calls
(:func:`kernel`) get no Python or C-callable wrapper either, which is about a
fifth of the compile time saved again. A kernel's code is kept as LLVM IR
and made machine code only inside the entries that call it (core_irlib.py):
that halved the first compile again.

**Calls between kernels.** numba passes a tuple argument as its flattened
fields: the core's state (``CoreState``, about 40 arrays of 7–9 machine words
each) was about 2.5 KB pushed on the stack by every call of a kernel that LLVM
did not inline, and hundreds of IR instructions per call site that numba built
and LLVM parsed and optimised. Entries now hand their kernels a reference to
the state instead (core_ref.py: one pointer), which halved the first compile;
what follows dates from before and still applies to the other arguments. numba
links each kernel's callees into its library as ``linkonce_odr`` copies, which
LLVM may neither change nor drop arguments of. In the library of an
:func:`entry` (the code Python runs), :func:`_internal_copies` makes those
copies ``internal`` before the library is optimised, so LLVM removes the
arguments a kernel never reads and inlines the kernels called from one place:
about twice the batch throughput and four times the simulation loop's, and
kernels kept as IR (core_irlib.py) no longer cost speed (docs/performance.md).
LLVM's inliner still leaves the biggest of them out, however often they are
called: ``apply_op`` (one call per row from ``run_batch``) or ``fire`` (one call
per timer) were plain calls pushing ~100 words each. So a kernel copy called
from exactly one place in the entry's library is also marked ``alwaysinline``
(:func:`_inline_single_calls`): it disappears into its caller, so the code
does not grow (a kernel called from several places is left to LLVM's choice).

This leans on numba internals: ``_nrt``, ``no_cpython_wrapper`` and
``no_cfunc_wrapper`` are accepted by ``njit`` but undocumented, the
widening replaces the dispatcher's ``get_call_template``, the linkage
change wraps ``CPUCodeLibrary._optimize_final_module``, and
:func:`_cheap_flag_comparisons` replaces ``TargetConfig.__hash__`` and
``__eq__`` (reading its ``_values``); core_irlib.py lists what it leans on. pyproject.toml
bounds numba's version and tests/router/test_core_jit.py fails loudly if
numba changes them.
"""

from __future__ import annotations

import collections
import re

from numba import njit, types
from numba.core import codegen as _codegen
from numba.core import targetconfig as _targetconfig

from .core_cache import install as _install_cache_check
from .core_index import install as _install_unwrapped_indexing
from .core_irlib import KernelCompiler

_install_cache_check()  # before any kernel is defined: cached code is checked against all its sources
_install_unwrapped_indexing()  # the core's indexes are used as they are (core_index.py)
_OPTIONS = {"cache": True, "_nrt": False, "no_cfunc_wrapper": True}
#: How numba's names of the Python wrappers of :func:`entry` functions begin: this package's, and those of the
#: modules elsewhere (tests) that define entries calling its kernels.
_ENTRY_PREFIXES = {"_ZN7cpython8busyhour"}
#: How the names of :func:`cold_kernel` functions begin.
_COLD_PREFIXES: set[str] = set()


def _internal_copies(optimize):
    """Wrap ``CPUCodeLibrary._optimize_final_module``: in the library of an entry of this package (a kernel
    with a Python wrapper), the kernels linked in from other libraries (numba makes those copies
    ``linkonce_odr``) become ``internal`` first (see the module docstring). Only entries: a kernel's own
    library keeps them shareable, or every caller would link private copies of its callees' callees
    (the first compile took several times longer that way)."""

    def _optimize_final_module(self):
        mod = self._final_module
        fns = [fn for fn in mod.functions if not fn.is_declaration]
        prefixes = tuple(_ENTRY_PREFIXES)
        if any(fn.name.startswith(prefixes) for fn in fns):
            cold = tuple(_COLD_PREFIXES)
            for fn in fns:
                if fn.linkage == _LINKONCE:
                    fn.linkage = "internal"
                if cold and fn.name.startswith(cold):
                    fn.add_function_attribute("noinline")
                    fn.add_function_attribute("cold")
            _inline_single_calls(fns)
        return optimize(self)

    _optimize_final_module.busyhour_internal = True
    return _optimize_final_module


def _inline_single_calls(fns) -> None:
    """Mark ``alwaysinline`` each internal function of ``fns`` that exactly one call instruction calls (and that
    is not ``noinline``): see the module docstring."""
    calls = collections.Counter(_CALL.findall("\n".join(str(fn) for fn in fns)))  # from the IR text: a walk
    # over the instructions through llvmlite's bindings is far slower
    for fn in fns:
        if fn.linkage == _INTERNAL and calls.get(fn.name) == 1 and b"noinline" not in _attributes(fn):
            fn.add_function_attribute("alwaysinline")


def _attributes(fn) -> set:
    """Every attribute word llvmlite reports for ``fn``: it gives one space-separated string per attribute set
    (the function's, its return value's and its parameters'), so ``noinline`` is not an item of its own
    when a function has other attributes."""
    return {a for group in fn.attributes for a in group.split()}


_LINKONCE, _INTERNAL = _codegen.ll.Linkage.linkonce_odr, _codegen.ll.Linkage.internal
_CALL = re.compile(r'\bcall [^\n]*?@"?([-\w$.]+)"?\(')  # the callee of a call instruction
if not getattr(_codegen.CPUCodeLibrary._optimize_final_module, "busyhour_internal", False):
    _codegen.CPUCodeLibrary._optimize_final_module = _internal_copies(_codegen.CPUCodeLibrary._optimize_final_module)


def _cheap_flag_comparisons(cls) -> None:
    """Make hashing and comparing numba's compile flags (``TargetConfig``) cheap, with the same results.

    numba's typing looks up each overloaded function it resolves in a cache keyed by, among others, the
    compile flags in force: about 50,000 lookups for the core, each hashing the flags and comparing them by
    building a dict of all ~40 options through their properties, about a fifth of the first compile
    (docs/performance.md, "First compile"). numba's hash is that of the sorted option names (the same for
    every instance of a class): it is computed once per class here. Two flags of one class with the same
    explicitly set options are equal without building the dicts; anything else is compared as numba does.
    """
    stock_eq = cls.__eq__

    def __hash__(self):
        k = type(self)
        h = k.__dict__.get("_busyhour_hash")
        if h is None:
            h = hash(tuple(sorted(self.values())))  # numba's own formula, once per class
            k._busyhour_hash = h
        return h

    def __eq__(self, other):
        if type(other) is type(self) and self._values == other._values:
            return True
        return stock_eq(self, other)

    __hash__.busyhour_flags = True
    cls.__hash__, cls.__eq__ = __hash__, __eq__


if not getattr(_targetconfig.TargetConfig.__hash__, "busyhour_flags", False):
    _cheap_flag_comparisons(_targetconfig.TargetConfig)


def _widened(t):
    """``t`` without its literal value; integers narrower than 64 bits or signed become ``int64``."""
    t = types.unliteral(t)
    if isinstance(t, types.Integer) and not isinstance(t, types.Boolean) and (t.signed or t.bitwidth < 64):
        return types.int64
    return t


def _one_compile_per_layout(dispatcher):
    """Make calls from other kernels type ``dispatcher`` with widened argument types (see the docstring)."""
    typed_by = getattr(dispatcher, "get_call_template", None)
    if typed_by is None:  # NUMBA_DISABLE_JIT=1: njit gave back the Python function
        return dispatcher

    def get_call_template(args, kws):
        return typed_by(tuple(_widened(a) for a in args), {k: _widened(v) for k, v in kws.items()})

    dispatcher.get_call_template = get_call_template
    return dispatcher


class Direct:
    """Calls an :func:`entry` without numba's per-call type dispatch, for the facade's hot calls.

    A dispatcher works out the numba type of every argument on every call: for
    the core's state (a tuple of 30-odd arrays) that costs about 3 µs of the 5 µs
    a one-row batch takes. The first call here goes through the dispatcher
    (compiling or loading from the cache), then the compiled overload for those
    argument types is called straight (``Dispatcher.overloads[sig].entry_point``,
    not public numba API: see the module docstring). The caller promises that
    later arguments have the same types (the core's arrays are always
    C-contiguous, aligned and of fixed dtypes; :class:`~busyhour.router.Router`
    checks the arrays a user hands in). With ``NUMBA_DISABLE_JIT=1`` it is the
    plain function. Not pickled: an owner drops it and makes a new one.

    ``fn``: what a call runs once the first call has found it (None before) —
    the entry point, or the dispatcher if it could not be found. The hottest
    callers call ``d.fn or d``, which saves this wrapper's own Python call
    (0.5–0.8 µs of a one-row batch's ~2 µs).
    """

    __slots__ = ("_dispatcher", "fn")

    def __init__(self, dispatcher):
        self._dispatcher = dispatcher
        self.fn = None

    def __call__(self, *args):
        call = self.fn
        if call is not None:
            return call(*args)
        d = self._dispatcher
        out = d(*args)
        try:
            sig = tuple(d.typeof_pyval(a) for a in args)
            self.fn = d.overloads[sig].entry_point
        except (AttributeError, KeyError, TypeError):  # NUMBA_DISABLE_JIT=1, or numba changed: dispatch as usual
            self.fn = d
        return out


def kernel(fn):
    """A kernel only other kernels call: compiled once per array layout, without a Python wrapper, to LLVM IR
    that its calling entries optimise and make machine code."""
    return _one_compile_per_layout(njit(no_cpython_wrapper=True, pipeline_class=KernelCompiler, **_OPTIONS)(fn))


def _mangled(*dotted: str) -> str:
    """Dotted names as numba's symbol names spell them: each part prefixed by its length."""
    return "".join(f"{len(p)}{p}" for d in dotted for p in d.split("."))


def cold_kernel(fn):
    """A :func:`kernel` that runs rarely (a sweep, a rebuild) from hot code: kept out of line in every entry
    (``noinline``, ``cold``). Inlined where it is called once (:func:`_inline_single_calls`), its loops would
    make the hot caller too big for LLVM to inline that caller in turn."""
    _COLD_PREFIXES.add("_ZN" + _mangled(fn.__module__, fn.__qualname__))  # how its compiled code's names begin
    return kernel(fn)


def entry(fn):
    """A kernel Python calls too (and kernels may): compiled once per array layout, with its Python wrapper.

    Its library gets private copies of the kernels it calls (:func:`_internal_copies`), wherever it is defined:
    left shareable (``linkonce_odr``), a copy in cached machine code could bind to another library's symbol of
    the same name when loaded, such as a kernel kept as IR, which has no machine code (a crash)."""
    _ENTRY_PREFIXES.add("_ZN7cpython" + _mangled(fn.__module__))
    return _one_compile_per_layout(njit(**_OPTIONS)(fn))
