"""Kernels kept as LLVM IR: optimised and made machine code only inside the entries that call them.

numba finalises every function it compiles as if Python were to call it:
it links in the code of every function it calls, runs LLVM's whole-module
optimisation over the lot and emits machine code for it. The linked code is
then linked, optimised and emitted again inside each caller, and the
caller's callers, so a kernel deep in the core is optimised and emitted as
many times as it has ancestors: with ~150 kernels, 70 % of the first compile
was that repeated work (see docs/performance.md, "First compile").

A :func:`~busyhour.router.core_jit.kernel` has no Python wrapper, so
nothing ever runs its own machine code. Compiled through
:class:`KernelCompiler`, its code library is an :class:`IRLibrary`:
``finalize`` only links its callees' IR into its own (after numba's usual
function-level passes), skipping the module optimisation and the machine
code. An entry that calls it links that IR and optimises and emits the whole
call tree once, with the same LLVM pipeline as before. numba's disk cache
keeps an IR kernel as its bitcode (kind ``"bitcode"`` and a name tagged
:data:`IR_TAG`); :func:`_unserialize` reads it back without emitting
machine code. numba versions without this module's patch read such an entry
as ordinary bitcode and compile it (slower, still correct).

This leans on numba internals (``CPUCodeLibrary._linking_libraries``,
``_final_module``, ``_get_module_for_linking``, ``_finalize_dynamic_globals``,
``_unserialize``, ``Compiler.state.library``): pyproject.toml bounds numba's
version and tests/router/test_core_jit.py fails loudly if they change.
A kernel's environment (used only by Python objects, which kernels must not
touch) is never set: :meth:`IRLibrary.finalize` refuses a kernel that takes
the GIL.
"""

from __future__ import annotations

from llvmlite import binding as ll
from numba.core import codegen, compiler

#: Marks a cached library's name as an :class:`IRLibrary`'s.
IR_TAG = "busyhour-ir:"
_NEEDS_PYTHON = ("numba_gil_ensure", "PyGILState_Ensure")


class _NoEnvCodegen:
    """The codegen as an IR library shows it: setting a function's environment is a no-op (no machine code)."""

    def __init__(self, cg):
        self._cg = cg

    def set_env(self, env_name, env):
        pass

    def __getattr__(self, name):
        return getattr(self._cg, name)


class IRLibrary(codegen.JITCodeLibrary):
    """A kernel's code library as function-optimised LLVM IR only, its callees' IR linked in."""

    def finalize(self):
        self._raise_if_finalized()
        seen = set()
        for library in self._linking_libraries:
            if library not in seen:
                seen.add(library)
                self._reload_init.update(library._reload_init)
                self._final_module.link_in(library._get_module_for_linking(), preserve=True)
        python = [f.name for f in self._final_module.functions if f.is_declaration and f.name in _NEEDS_PYTHON]
        if python:
            raise TypeError(f"kernel {self.name!r} uses Python objects ({python[0]}): make it an entry")
        self._finalize_dynamic_globals()
        self._finalized = True

    @property
    def codegen(self):
        return _NoEnvCodegen(self._codegen)

    def get_pointer_to_function(self, name):
        """0: an IR library has no machine code of its own (its callers hold it)."""
        self._ensure_finalized()
        return 0

    def serialize_using_object_code(self):
        """For numba's disk cache: the IR for linking, as bitcode."""
        return (IR_TAG + self.name, "bitcode", self._get_module_for_linking().as_bitcode())


_stock_unserialize = codegen.JITCodeLibrary._unserialize


def _unserialize(cls, cg, state):
    """numba's cache reader, which reads an :class:`IRLibrary` back without emitting machine code."""
    name, kind, data = state
    if kind != "bitcode" or not name.startswith(IR_TAG):
        return _stock_unserialize(cg, state)
    self = IRLibrary(cg, name[len(IR_TAG):])
    self.enable_object_caching()
    self._final_module = self._shared_module = ll.parse_bitcode(data)
    self._finalize_dynamic_globals()
    self._finalized = True
    return self


codegen.JITCodeLibrary._unserialize = classmethod(_unserialize)


class KernelCompiler(compiler.Compiler):
    """numba's compiler, building a kernel's code in an :class:`IRLibrary` (``njit(pipeline_class=...)``)."""

    def compile_extra(self, func):
        if self.state.library is None:
            self.state.library = IRLibrary(self.state.targetctx.codegen(), func.__qualname__)
            self.state.library.enable_object_caching()
        return super().compile_extra(func)

