"""numba's disk cache of compiled code is checked against every source of the package (router/core_cache.py).

numba checks a cached function against its own file only; an entry holds the
code of kernels from other files, so a changed callee used to run with the
caller's old machine code. The end-to-end test below shows that happening with
numba's own check, and not with the package's.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from numba.core import caching, config

from busyhour.router import core_batch, core_cache, core_index
from busyhour.router.core_batch import run_batch
from busyhour.router.core_compile import warm_up_router
from busyhour.router.core_handle import run_batch_h

needs_jit = pytest.mark.skipif(config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: nothing is compiled or cached")


def _tree(root, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


_KERNEL = """from .core_jit import kernel
from .layout import (
    A,
    B,
)
from ..sim.c import C


@kernel
def k(x):
    return x + A + B + C
"""


def test_the_digest_follows_compiled_code_and_what_it_imports_and_nothing_else(tmp_path):
    _tree(tmp_path, {"router/core_jit.py": "kernel = None\n", "router/k.py": _KERNEL,
                     "router/layout.py": "A, B = 1, 2\n", "sim/c.py": "C = 3\n",
                     "router/facade.py": "from .k import k\n\nX = 1\n", "router/notes.txt": "x",
                     "router/server/d.py": "@kernel\ndef d(x):\n    return x\n", "erlang/e.py": "E = 5\n"})
    assert sorted(core_cache.compiled_sources(str(tmp_path))) == [
        "router/core_jit.py", "router/k.py", "router/layout.py", "sim/c.py"]
    first = core_cache.sources_digest(str(tmp_path))
    assert core_cache.sources_digest(str(tmp_path)) == first
    os.utime(tmp_path / "router" / "k.py", (1, 1))  # touched, same text
    assert core_cache.sources_digest(str(tmp_path)) == first
    for rel in ("router/facade.py", "router/notes.txt", "router/server/d.py", "erlang/e.py"):  # no kernel reads
        (tmp_path / rel).write_text("Y = 2\n")
        assert core_cache.sources_digest(str(tmp_path)) == first, rel
    (tmp_path / "router" / "plain.py").write_text("Z = 1\n")  # a new module no kernel imports
    assert core_cache.sources_digest(str(tmp_path)) == first
    seen = {first}
    for rel, text in (("sim/c.py", "C = 4\n"), ("router/layout.py", "A, B = 1, 3\n"),
                      ("router/core_jit.py", "kernel = 1\n"), ("router/k.py", _KERNEL + "\n# more\n"),
                      ("router/new.py", "from numba import njit\n\n\n@njit\ndef f():\n    return 1\n")):
        (tmp_path / rel).write_text(text)
        digest = core_cache.sources_digest(str(tmp_path))
        assert digest not in seen, rel
        seen.add(digest)


_NESTED = """from numba import njit

from . import (sub1,  # a comment
               sub2)
from . import sub3, \\
    sub4


class Holder:
    @staticmethod
    @njit
    def f():
        return sub1.X + sub2.X + sub3.X + sub4.X
"""


def test_imports_in_any_form_and_indented_decorators_count(tmp_path):
    """Names after a comment in parentheses, a backslash continuation, a decorator inside a class."""
    _tree(tmp_path, {"sim/k2.py": _NESTED, **{f"sim/sub{i}.py": "X = 1\n" for i in range(1, 5)},
                     "sim/sub5.py": "X = 1\n"})
    assert sorted(core_cache.compiled_sources(str(tmp_path))) == [f"sim/{n}.py" for n in
                                                                   ("k2", "sub1", "sub2", "sub3", "sub4")]


def _ast_closure(root: str) -> set[str]:
    """The compiled code's sources found by Python's own parser, independently of core_cache's patterns: modules
    with a function or class decorated (or a function made) by a name imported from numba or core_jit (but
    ``Direct``, a caller of compiled code), and everything they import from router/ and sim/, directly or not."""
    files = {f"{d}/{n}": ast.parse(Path(root, d, n).read_text()) for d in core_cache.SOURCE_DIRS
             for n in sorted(os.listdir(os.path.join(root, d))) if n.endswith(".py")}

    def imports(rel, tree):
        here, out = rel.split("/")[:-1], set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[:len(here) - (node.level - 1)] + (node.module.split(".") if node.module else [])
                elif (node.module or "").split(".")[0] == "busyhour":
                    base = node.module.split(".")[1:]
                else:
                    continue
                out |= {"/".join(base) + ".py"} | {"/".join(base + [a.name]) + ".py" for a in node.names}
            elif isinstance(node, ast.Import):
                out |= {"/".join(a.name.split(".")[1:]) + ".py" for a in node.names if a.name.startswith("busyhour.")}
        return out & set(files)

    def compiles(tree):
        made = {a.asname or a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and ((node.module or "").startswith("numba") or (node.module or "").endswith("core_jit"))
                for a in node.names} - {"Direct"}
        for node in ast.walk(tree):
            decs = getattr(node, "decorator_list", [])
            calls = [node.func] if isinstance(node, ast.Call) else []
            for d in decs + calls:
                d = d.func if isinstance(d, ast.Call) else d
                if (isinstance(d, ast.Name) and d.id in made) or (isinstance(d, ast.Attribute)
                                                                  and ast.unparse(d).startswith("numba.")):
                    return True
        return False

    keep = {rel for rel, tree in files.items() if compiles(tree)}
    todo = list(keep)
    while todo:
        for dep in imports(rel := todo.pop(), files[rel]) - keep:
            keep.add(dep)
            todo.append(dep)
    return keep


def test_the_digest_covers_every_module_the_compiled_code_is_made_from():
    """The package itself: every module Python's parser shows compiled code in, or imported by one (directly or
    not), is in the digest; the facade is not, so an edit there recompiles nothing."""
    found = set(core_cache.compiled_sources())
    by_parser = _ast_closure(core_cache.PACKAGE_ROOT)
    assert by_parser - found == set(), "modules the compiled code reads but the digest leaves out"
    assert {"router/core_batch.py", "router/core_layout.py", "router/core_jit.py", "sim/fast_loop.py"} <= found
    assert not {"router/fast.py", "router/engine.py", "sim/driver.py", "sim/fast.py"} & found


def test_functions_of_router_sim_and_tests_are_stamped_and_others_are_not(tmp_path):
    root = str(tmp_path)
    for rel in ("router/core_ids.py", "router/server/engines.py", "sim/fast_loop.py", "tests/router/test_x.py"):
        assert core_cache.stamped(os.path.join(root, rel), root), rel
    for rel in ("erlang/kernels.py", "bench/x.py", "routerx/y.py"):
        assert not core_cache.stamped(os.path.join(root, rel), root), rel
    assert not core_cache.stamped(str(tmp_path.parent / "elsewhere.py"), root)
    assert core_cache.stamped(core_batch.__file__)


@needs_jit
def test_numba_uses_the_package_stamp_for_the_core_and_its_own_elsewhere():
    """The numba internals this leans on: fails loudly if a numba release renames or bypasses them."""
    mixin = caching._SourceFileBackedLocatorMixin
    assert getattr(mixin.get_source_stamp, "busyhour_digest", False)
    stamp = caching.FunctionCache(run_batch.py_func)._cache_file._source_stamp
    assert stamp[1:] == ("busyhour-sources", core_cache.package_digest(), core_index.mode())
    from busyhour.erlang import kernels
    fn = next(v for v in vars(kernels).values() if hasattr(v, "py_func"))
    theirs = caching.FunctionCache(fn.py_func)._cache_file._source_stamp  # numba's own: bytes, or (mtime, size)
    assert not (isinstance(theirs, tuple) and "busyhour-sources" in theirs), theirs


@needs_jit
def test_a_change_to_any_source_makes_the_cached_core_stale(monkeypatch):
    """numba's own index check, with the digest of a changed source: the cached entry is not loaded."""
    warm_up_router()
    assert caching.FunctionCache(run_batch_h.py_func)._cache_file._load_index(), "run_batch_h not in the disk cache"
    monkeypatch.setattr(core_cache, "package_digest", lambda: "a changed source")
    assert caching.FunctionCache(run_batch_h.py_func)._cache_file._load_index() == {}


_CALLEE = "from busyhour.router.core_jit import kernel\n\n\n@kernel\ndef scale(x):\n    return x * {k}\n"
_CALLER = "from busyhour.router.core_jit import entry\n\nfrom .callee import scale\n\n\n@entry\ndef run(x):\n    " \
          "return scale(x) + 1\n"
_RUN = textwrap.dedent("""
    import sys
    from numba.core import caching
    from busyhour.router import core_cache
    if sys.argv[2] == "numba":  # numba's own check only
        mixin = caching._SourceFileBackedLocatorMixin
        mixin.get_source_stamp = mixin.get_source_stamp.stock
    core_cache.PACKAGE_ROOT = sys.argv[1]
    core_cache.package_digest.cache_clear()  # taken when busyhour.router was imported
    sys.path.insert(0, sys.argv[1])
    from router.caller import run
    print(run(2))
""")


def _runner(tmp_path, *argv) -> Callable[[], subprocess.CompletedProcess]:
    """A run of ``python argv...`` in ``tmp_path`` with its own numba cache folder there."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    return lambda: subprocess.run([sys.executable, *map(str, argv)], env=env, capture_output=True, text=True,
                                  cwd=tmp_path, timeout=120)


def _two_file_package(tmp_path, check: str) -> Callable[[], subprocess.CompletedProcess]:
    """A package with a kernel in one file and the entry calling it in another, and its runner (``check``:
    "package" for the package's cache check, "numba" for numba's own)."""
    _tree(tmp_path, {"pkg/router/__init__.py": "", "pkg/router/callee.py": _CALLEE.format(k=10),
                     "pkg/router/caller.py": _CALLER, "run.py": _RUN})
    return _runner(tmp_path, tmp_path / "run.py", tmp_path / "pkg", check)


def _answer(run) -> str:
    done = run()
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@needs_jit
@pytest.mark.parametrize("check", ["package", "numba"])
def test_a_changed_callee_runs_its_new_code_after_a_cached_run(tmp_path, check):
    """A kernel in one file, the entry calling it in another, both cached; then the callee's file changes. With
    the package's check the next run has the new code; with numba's own it ran the stale copy."""
    run = _two_file_package(tmp_path, check)
    assert _answer(run) == "21"
    (tmp_path / "pkg" / "router" / "callee.py").write_text(_CALLEE.format(k=100))
    if check == "package":
        assert _answer(run) == "201", "the entry ran its callee's old code"
    else:  # the case core_cache.py exists for
        stale = "numba's own check now sees a changed callee: core_cache.py may no longer be needed"
        assert _answer(run) == "21", stale


def _cached_files(cache, suffix: str, name: str) -> list:
    return sorted(p for p in cache.rglob(f"*{suffix}") if name in p.name)


@needs_jit
@pytest.mark.parametrize("damaged", [".nbc", ".nbi"])
def test_unreadable_cached_code_is_compiled_again_and_named(tmp_path, damaged):
    """A truncated data or index file of the package's cached code: the next run compiles it again (right
    answer, one line naming the file), saves over it, and the run after that reads it quietly."""
    run = _two_file_package(tmp_path, "package")
    assert _answer(run) == "21"
    (target,) = _cached_files(tmp_path / "cache", damaged, "caller.run")
    target.write_bytes(target.read_bytes()[:10])
    again = run()
    assert (again.returncode, again.stdout.strip()) == (0, "21"), again.stderr
    assert "could not be read" in again.stderr and "caller.run" in again.stderr and "compiling it again" in again.stderr
    quiet = run()
    assert (quiet.stdout.strip(), quiet.stderr) == ("21", "")


@needs_jit
def test_unreadable_cached_code_elsewhere_is_left_to_numba(tmp_path):
    """Outside the package numba's behaviour is unchanged: the unreadable file is its error."""
    (tmp_path / "plain.py").write_text("from busyhour.router import core_jit\nfrom numba import njit\n\n\n"
                                       "@njit(cache=True)\ndef f(x):\n    return x + 1\n\n\nprint(f(1))\n")
    run = _runner(tmp_path, tmp_path / "plain.py")
    assert _answer(run) == "2"
    (target,) = _cached_files(tmp_path / "cache", ".nbc", "plain.f")
    target.write_bytes(target.read_bytes()[:10])
    broken = run()
    assert broken.returncode != 0 and "could not be read" not in broken.stderr
