"""The compile options of the compiled core (router/core_jit.py), which lean on numba internals.

``_nrt=False``, ``no_cpython_wrapper``, ``no_cfunc_wrapper``, a replaced
``Dispatcher.get_call_template`` and the kernels' IR-only code libraries
(router/core_irlib.py) are not numba's public API. These tests fail
loudly if a numba release stops honouring them (pyproject.toml also bounds
numba's version): the core would still run, but compile several times over
(minutes on first use) or call into the reference counter it does not set up.
They also check that Python never imports a kernel that has no Python wrapper
(calling one from Python crashes the interpreter).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import pathlib
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
from numba import types
from numba.core import config
from numba.core.errors import TypingError

from busyhour.router import core_irlib, core_jit
from busyhour.router.core_jit import entry, kernel

pytestmark = pytest.mark.skipif(config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: nothing is compiled")

ROOT = pathlib.Path(core_jit.__file__).resolve().parents[1]
KERNEL_MODULES = {p for p in (ROOT / "router").glob("core_*.py")} | {p for p in (ROOT / "sim").glob("fast_*.py")}


@kernel
def _scaled(a, i, double):
    return a[i] * 2.0 if double else a[i]


@entry
def _sum_three(a, j):
    narrow = np.int32(1)
    return _scaled(a, 0, True) + _scaled(a, narrow, False) + _scaled(a, j, True)


@entry
def _allocates(n):
    return np.zeros(n).sum()


ARRAY = types.Array(types.float64, 1, "C")


def test_one_compile_whatever_literal_or_narrow_integers_a_kernel_is_called_with():
    a = np.arange(4.0)
    assert _sum_three(a, 2) == 0.0 + 1.0 + 4.0
    # typed as a calling kernel types it (works whether the code comes from numba's disk cache or not)
    for args in ((ARRAY, types.literal(0), types.literal(True)), (ARRAY, types.int32, types.boolean),
                 (ARRAY, types.int64, types.literal(False)), (ARRAY, types.uint8, types.boolean)):
        _scaled.get_call_template(args, {})
    assert len(_scaled.signatures) == 1  # not one each for Literal[int](0), int32, int64, uint8, Literal[bool]
    (sig,) = _scaled.signatures
    assert [str(t) for t in sig[1:]] == ["int64", "bool"]


def test_kernels_have_no_wrappers_and_no_reference_counting():
    _sum_three(np.arange(3.0), 1)
    _scaled.get_call_template((ARRAY, types.int64, types.boolean), {})
    inner = _scaled.overloads[_scaled.signatures[0]]
    outer = _sum_three.overloads[_sum_three.signatures[0]]
    assert not any(f.name == inner.fndesc.llvm_cpython_wrapper_name for f in inner.library._final_module.functions)
    assert outer.library.get_pointer_to_function(outer.fndesc.llvm_cpython_wrapper_name) != 0
    with pytest.raises(TypingError):  # without the reference counter numba refuses to allocate an array
        _allocates(3)


def test_kernels_are_ir_linked_into_their_entries_and_made_machine_code_only_there():
    """core_irlib: a kernel's library holds IR (no machine code, no module optimisation); the entry's holds
    the kernel's code, optimised (here inlined: no call left) and emitted once."""
    _sum_three(np.arange(3.0), 1)
    inner = _scaled.overloads[_scaled.signatures[0]]
    outer = _sum_three.overloads[_sum_three.signatures[0]]
    assert type(inner.library) is core_irlib.IRLibrary and type(outer.library) is not core_irlib.IRLibrary
    assert inner.library.get_pointer_to_function(inner.fndesc.llvm_func_name) == 0
    ir = {f.name: f for f in inner.library._get_module_for_linking().functions}
    assert not ir[inner.fndesc.llvm_func_name].is_declaration
    calls = [i for f in outer.library._final_module.functions if f.name == outer.fndesc.llvm_func_name
             for b in f.blocks for i in b.instructions if i.opcode == "call"]
    assert inner.fndesc.llvm_func_name not in "".join(str(c) for c in calls)  # inlined: optimised in the entry
    # numba's disk cache: written as tagged bitcode, read back as IR without machine code
    state = inner.library.serialize_using_object_code()
    assert state[0].startswith(core_irlib.IR_TAG) and state[1] == "bitcode"
    back = inner.library.codegen.unserialize_library(state)
    assert type(back) is core_irlib.IRLibrary and back._finalized
    assert {f.name for f in back._get_module_for_linking().functions} >= {inner.fndesc.llvm_func_name}


def test_an_entry_compiled_later_links_kernels_read_back_from_the_disk_cache(tmp_path):
    """The sim's loop compiled in a process where the core's kernels come from numba's cache: the cached
    IR is linked and runs (a second process: a cache hit for the kernel, a compile for the new entry)."""
    (tmp_path / "irmod.py").write_text(textwrap.dedent('''
        import sys
        import numpy as np
        from busyhour.router.core_jit import entry, kernel

        @kernel
        def twice(a, i):
            return a[i] * 2.0

        @entry
        def first(a):
            return twice(a, 1)

        @entry
        def second(a):
            return twice(a, 2) + 1.0

        a = np.arange(4.0)
        f = first if sys.argv[1] == "1" else second
        print(f(a), twice.stats.cache_hits.get(twice.signatures[0], 0), f.stats.cache_misses.get(f.signatures[0], 0))
    '''))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = [subprocess.run([sys.executable, str(tmp_path / "irmod.py"), n], env=env, capture_output=True,
                          text=True, check=True, cwd=tmp_path).stdout.split() for n in ("1", "2")]
    assert out == [["2.0", "0", "1"], ["5.0", "1", "1"]]


def _decorated(node: ast.AST, names: tuple[str, ...]) -> bool:
    """Whether ``node`` is a function decorated by one of ``names`` (``@kernel``, ``@entry``)."""
    return isinstance(node, ast.FunctionDef) and any(isinstance(d, ast.Name) and d.id in names
                                                     for d in node.decorator_list)


def _kernel_names(path: pathlib.Path) -> set[str]:
    """Functions decorated ``@kernel`` in ``path``."""
    return {n.name for n in ast.parse(path.read_text()).body if _decorated(n, ("kernel", "cold_kernel"))}


def _names_used_by_python(tree: ast.Module) -> set[str]:
    """Names read anywhere in ``tree`` except inside functions decorated ``@entry`` or ``@kernel`` (compiled)."""
    compiled = [n for n in ast.walk(tree) if _decorated(n, ("entry", "kernel", "cold_kernel"))]
    inside = {id(x) for f in compiled for x in ast.walk(f)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in inside}


def test_python_code_imports_no_wrapperless_kernel():
    """A kernel may be imported only where compiled code alone calls it (an entry of a test, say)."""
    kernels = {p.stem: _kernel_names(p) for p in KERNEL_MODULES}
    assert sum(map(len, kernels.values())) > 50  # the scan found the core
    bad = []
    sources = [p for d in ROOT.iterdir() if d.is_dir() and not d.name.startswith((".", "build")) and d.name != "docs"
               for p in d.rglob("*.py")]
    for path in sources:
        if path in KERNEL_MODULES:
            continue
        tree = ast.parse(path.read_text())
        used = _names_used_by_python(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[-1] in kernels:
                bad += [f"{path.relative_to(ROOT)}: {a.name}" for a in node.names
                        if a.name in kernels[node.module.split(".")[-1]] and (a.asname or a.name) in used]
    assert bad == []


def test_direct_calls_bind_the_compiled_overload_and_agree_with_the_dispatcher():
    """core_jit.Direct (Router's hot calls) uses ``Dispatcher.overloads[sig].entry_point`` and
    ``typeof_pyval``: if numba changes them it silently falls back to dispatching (5 µs instead of 2 µs
    per one-row batch); this test makes that loud."""
    from busyhour.router import Router

    a = np.arange(4.0)
    direct = core_jit.Direct(_sum_three)
    assert direct(a, 2) == _sum_three(a, 2)
    assert direct.fn is not _sum_three and direct.fn is _sum_three.overloads[_sum_three.signatures[0]].entry_point
    assert direct(a, 3) == _sum_three(a, 3) == 0.0 + 1.0 + 6.0
    fast = Router.from_config({"agents": [{"id": "a"}], "queues": [{"name": "q", "members": ["a"]}]})
    fast.agent_login(0.0, "a", ready=True)
    fast.next_deadline()
    for bound in (fast._run_batch, fast._deadline):
        assert bound.fn is not None and bound.fn is not bound._dispatcher


_IR = """
define i32 @"_ZN7cpython8busyhour5probe5entryE"() {{ %r = call i32 @"_ZN8busyhour5probe6kernelE"(i32 1) ret i32 %r }}
define {linkage} i32 @"_ZN8busyhour5probe6kernelE"(i32 %x) {{ ret i32 %x }}
"""


def _linkages_seen(entry_name: str) -> dict[str, str]:
    """The linkage of each defined function when numba's optimiser starts on a module holding an entry
    named ``entry_name`` and a ``linkonce_odr`` kernel copy (what numba links in), through core_jit's hook."""
    import llvmlite.binding as llvm

    mod = llvm.parse_assembly(_IR.format(linkage="linkonce_odr").replace("_ZN7cpython8busyhour5probe5entryE",
                                                                         entry_name))
    seen = {}

    def optimize(lib):
        seen.update({fn.name: fn.linkage.name for fn in lib._final_module.functions if not fn.is_declaration})

    core_jit._internal_copies(optimize)(SimpleNamespace(_final_module=mod))
    return seen


def test_an_entrys_library_holds_its_kernels_as_internal_copies():
    """core_jit makes the kernel copies in an entry's library ``internal`` before numba optimises it (LLVM may
    then drop the ~2.5 KB of CoreState arguments a kernel does not read, and inline it): only in this
    package's entries, and only if numba still optimises a library through ``_optimize_final_module``."""
    from numba.core import codegen

    assert getattr(codegen.CPUCodeLibrary._optimize_final_module, "busyhour_internal", False)
    assert "self._optimize_final_module()" in inspect.getsource(codegen.CPUCodeLibrary.finalize)
    ours = _linkages_seen("_ZN7cpython8busyhour5probe5entryE")
    assert ours["_ZN8busyhour5probe6kernelE"] == "internal"
    assert ours["_ZN7cpython8busyhour5probe5entryE"] == "external"
    theirs = _linkages_seen("_ZN7cpython5other5probe5entryE")  # another package's entry: left as numba made it
    assert theirs["_ZN8busyhour5probe6kernelE"] == "linkonce_odr"


def test_a_kernel_called_from_one_place_is_always_inlined_in_an_entrys_library():
    """core_jit marks ``alwaysinline`` a kernel copy that one call instruction of an entry's library calls (LLVM
    left big ones out: each such call pushed ~100 words of CoreState); one called twice, or ``noinline``, is
    left to LLVM's inliner."""
    import llvmlite.binding as llvm

    mod = llvm.parse_assembly('''
define i32 @"_ZN7cpython8busyhour5probe5entryE"() {
  %a = call i32 @once(i32 1)
  %b = call i32 @twice(i32 %a)
  %c = call i32 @twice(i32 %b)
  %d = call i32 @"kept"(i32 %c)
  %e = call i32 @"kept_too"(i32 %d)
  ret i32 %e
}
define linkonce_odr i32 @once(i32 %x) { ret i32 %x }
define linkonce_odr i32 @twice(i32 %x) { ret i32 %x }
define linkonce_odr i32 @kept(i32 %x) noinline { ret i32 %x }
define linkonce_odr i32 @kept_too(i32 %x) noinline nounwind { ret i32 %x }
''')
    seen = {}

    def optimize(lib):
        seen.update({fn.name: core_jit._attributes(fn) for fn in lib._final_module.functions})

    core_jit._internal_copies(optimize)(SimpleNamespace(_final_module=mod))
    assert b"alwaysinline" in seen["once"]
    assert b"alwaysinline" not in seen["twice"] and b"alwaysinline" not in seen["kept"]
    assert b"noinline" in seen["kept_too"] and b"alwaysinline" not in seen["kept_too"]  # among other attributes


def test_a_cold_kernel_stays_out_of_line_in_an_entrys_library(monkeypatch, tmp_path):
    """A :func:`core_jit.cold_kernel` copy is marked ``noinline`` and ``cold`` in an entry's library, even where
    one call calls it (the core's sweep of void timers is one); compiled, it stays a call of its own."""
    import llvmlite.binding as llvm

    importlib.import_module("busyhour.router.core_timers")  # defines the sweep

    assert "_ZN8busyhour6router11core_timers5sweep" in core_jit._COLD_PREFIXES
    monkeypatch.setattr(core_jit, "_COLD_PREFIXES", {"_ZN8busyhour5probe4cold"})
    mod = llvm.parse_assembly('''
define i32 @"_ZN7cpython8busyhour5probe5entryE"() {
  %a = call i32 @"_ZN8busyhour5probe4coldB2v1E"(i32 1)
  ret i32 %a
}
define linkonce_odr i32 @"_ZN8busyhour5probe4coldB2v1E"(i32 %x) { ret i32 %x }
''')
    seen = {}

    def optimize(lib):
        seen.update({fn.name: core_jit._attributes(fn) for fn in lib._final_module.functions})

    core_jit._internal_copies(optimize)(SimpleNamespace(_final_module=mod))
    assert {b"noinline", b"cold"} <= seen["_ZN8busyhour5probe4coldB2v1E"]
    assert b"alwaysinline" not in seen["_ZN8busyhour5probe4coldB2v1E"]
    monkeypatch.undo()

    (tmp_path / "coldmod.py").write_text(textwrap.dedent('''
        import re
        import numpy as np
        from busyhour.router.core_jit import cold_kernel, entry, kernel

        @cold_kernel
        def rare(a):
            for i in range(a.shape[0]):
                a[i] = 0.0

        @kernel
        def often(a):
            if a[0] > 1.0:
                rare(a)
            return a[1]

        @entry
        def run(a):
            return often(a)

        print(run(np.full(3, 2.0)), run(np.ones(3)))
        ir = next(iter(run.overloads.values())).library.get_llvm_str()
        print(len(re.findall(r"call [^\\n]*4rareB", ir)))  # run as a script: __main__.rare
    '''))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, str(tmp_path / "coldmod.py")], env=env, capture_output=True, text=True,
                         check=True, cwd=tmp_path).stdout.split()
    assert out == ["0.0", "1.0", "1"]


def test_compile_flags_hash_and_compare_as_numba_defines_them():
    """core_jit's cheap ``TargetConfig`` hash and equality give numba's own results (a numba release that
    changes the class fails here before a cache lookup could go wrong)."""
    from numba.core.compiler import Flags
    from numba.core.targetconfig import TargetConfig

    assert TargetConfig.__hash__.busyhour_flags and Flags.__hash__ is TargetConfig.__hash__
    assert Flags.__eq__ is TargetConfig.__eq__
    a, b, c = Flags(), Flags(), Flags()
    b.nrt = True
    c.nrt = Flags().nrt  # set explicitly to its default: equal to an unset one
    for f in (a, b, c):
        assert hash(f) == hash(tuple(sorted(f.values()))) == hash(Flags())
        assert all((f == g) == (f.values() == g.values()) for g in (a, b, c))
    assert a == c and a != b and (a == 1) is False
