"""numba's disk cache of the compiled core, checked against every source it was compiled from.

numba checks a cached function against its own file only (a hash of that
file's text). The core's entries hold their callees' code, inlined from
other files (core_jit.py, core_irlib.py), and the kernels read constants
from others still (core_layout.py): a change to ``core_ids.py`` alone left
``run_batch`` (in ``core_batch.py``) running its old machine code, silently,
until its cache was deleted by hand. A source checkout met that after every
``git pull`` that touched a callee.

Here a function defined under ``router/``, ``sim/`` or ``tests/`` of this
package gets a freshness stamp made of numba's own and a digest of the
compiled code's sources (:func:`compiled_sources`): every ``.py`` file
directly in ``router/`` and ``sim/`` that defines compiled code (a line
starting with a decorator such as ``@kernel``, ``@entry``, ``@njit`` or
``@intrinsic``), and every module of those folders they import, directly or
not (the layout and codes they read). A change to any of them makes every
cached kernel stale, and the next run compiles again (saying so,
core_compile.compile_notice). A module no kernel reaches (the facade, the
reference engine, the SimPy driver) is left out, so an edit there costs no
recompile; tests/router/test_core_cache.py checks the imports found here
against Python's own parse of every module. The digest is taken once per
process, when its first kernel is defined, so it matches the sources that
process runs. The Erlang kernels (one self-contained file) keep numba's
own check.

Cached code of these functions that cannot be read (a truncated file, an
index written by something else) is a cache miss: numba compiles it again
and saves over it, and one line on stderr names the file. Left to numba,
such a file made every later run fail with the unpickling error, until it
was found and deleted by hand.

This leans on numba internals (``caching._SourceFileBackedLocatorMixin``,
``IndexDataCacheFile._load_index``, ``Cache.load_overload``):
pyproject.toml bounds numba's version and tests/router/test_core_cache.py
fails loudly if it changes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys

from numba.core import caching as _caching

from .core_index import mode as index_mode

#: The package's folder (this module is router/core_cache.py).
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: Folders (under :data:`PACKAGE_ROOT`) whose ``.py`` files the compiled code is made from.
SOURCE_DIRS = ("router", "sim")
#: Folders whose functions' cached code depends on those sources (tests define entries calling the kernels).
STAMPED_DIRS = ("router", "sim", "tests")


#: A line that makes its module part of the compiled code: a decorator of core_jit's or numba's (a kernel, an
#: entry, an intrinsic, a typing or lowering registration) starting a line. The patterns here match after a
#: newline (each text is searched with one put before it): far faster than ``^`` with ``re.M``.
_COMPILED = re.compile(rb"\n[ \t]*@(?:\w+\.)*(?:cold_kernel|kernel|entry|njit|jit|cfunc|intrinsic|overload\w*|lower_\w+|"
                       rb"infer\w*|register_\w+|type_callable|vectorize|guvectorize)\b")
#: ``from .x import a, b`` (any number of dots, names in parentheses or not) and ``from busyhour.x import a``.
_FROM = re.compile(rb"\n[ \t]*from[ \t]+(\.*)([\w.]*)[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)")
#: ``import busyhour.x.y``.
_IMPORT = re.compile(rb"\n[ \t]*import[ \t]+busyhour\.([\w.]+)")


def jit_disabled() -> bool:
    """Whether numba's JIT is off (``NUMBA_DISABLE_JIT=1``): the kernels run as Python, nothing compiles and
    nothing is cached. Read from the environment on each call (tests switch it); here, a module the compiled
    code's sources already include, so both the facade's helpers (core_compile.py) and the handle
    (core_handle.py) take it from one place."""
    return os.environ.get("NUMBA_DISABLE_JIT") == "1"


def _imports(rel: str, text: bytes) -> set[str]:
    """The files (``folder/name.py``, relative to the package's folder) that module ``rel`` may import from this
    package: for ``from M import a``, M's own file and a file ``a`` of M's folder (a submodule)."""
    here = rel.split("/")[:-1]
    out = set()
    text = text.replace(b"\\\n", b" ")  # backslash continuations
    for dots, module, names in _FROM.findall(text):
        if dots:
            if len(dots) - 1 > len(here):
                continue
            parts = here[:len(here) - (len(dots) - 1)]
        elif module == b"busyhour" or module.startswith(b"busyhour."):
            parts, module = [], module[len(b"busyhour."):]
        else:
            continue
        base = parts + (module.decode().split(".") if module else [])
        out.add("/".join(base) + ".py")
        for name in re.split(rb"[\s,()]+", re.sub(rb"#[^\n]*", b"", names)):
            if name and name not in (b"as", b"*"):
                out.add("/".join(base + [name.decode()]) + ".py")
    for module in _IMPORT.findall(text):
        out.add(module.decode().replace(".", "/") + ".py")
    return out


def compiled_sources(root: str | None = None, dirs: tuple[str, ...] = SOURCE_DIRS) -> dict[str, bytes]:
    """The compiled code's sources among the ``.py`` files directly in ``root``/``dirs`` (``root``:
    :data:`PACKAGE_ROOT`): each file that defines compiled code, and each of those files it imports, directly
    or not (see the module docstring); their texts by ``folder/name.py``."""
    root = PACKAGE_ROOT if root is None else root
    texts = {}
    for d in dirs:
        try:
            names = sorted(n for n in os.listdir(os.path.join(root, d)) if n.endswith(".py"))
        except OSError:
            continue
        for name in names:
            try:
                with open(os.path.join(root, d, name), "rb") as f:
                    texts[f"{d}/{name}"] = b"\n" + f.read()
            except OSError:
                continue
    todo = [rel for rel, text in texts.items() if _COMPILED.search(text)]
    keep = set(todo)
    while todo:
        rel = todo.pop()
        for dep in _imports(rel, texts[rel]):
            if dep in texts and dep not in keep:
                keep.add(dep)
                todo.append(dep)
    return {rel: texts[rel][1:] for rel in sorted(keep)}


def sources_digest(root: str | None = None, dirs: tuple[str, ...] = SOURCE_DIRS) -> str:
    """SHA-256 over the names and texts of :func:`compiled_sources`, in name order."""
    h = hashlib.sha256()
    for rel, text in compiled_sources(root, dirs).items():
        h.update(f"{rel}\0{len(text)}\0".encode())
        h.update(text)
    return h.hexdigest()


@functools.cache
def package_digest() -> str:
    """:func:`sources_digest` of this package, once per process."""
    return sources_digest()


def stamped(path: str, root: str | None = None, dirs: tuple[str, ...] = STAMPED_DIRS) -> bool:
    """Whether a function defined in ``path`` gets the package digest in its cache stamp (``root``:
    :data:`PACKAGE_ROOT`)."""
    root = PACKAGE_ROOT if root is None else root
    try:
        rel = os.path.relpath(os.path.abspath(path), root)
    except ValueError:  # another drive (Windows)
        return False
    return rel.split(os.sep, 1)[0] in dirs


def _with_package_digest(stock):
    def get_source_stamp(self):
        stamp = stock(self)
        path = getattr(self, "_py_file", None)
        if isinstance(path, str) and stamped(path):
            return (stamp, "busyhour-sources", package_digest(), index_mode())  # the code differs by mode too
        return stamp

    get_source_stamp.busyhour_digest = True
    get_source_stamp.stock = stock  # numba's own, for tests
    return get_source_stamp


def _ours(cache_file) -> bool:
    """Whether a numba cache file object belongs to a function stamped by :func:`_with_package_digest`."""
    stamp = getattr(cache_file, "_source_stamp", None)
    return isinstance(stamp, tuple) and stamp[1:2] == ("busyhour-sources",)


_said: set[str] = set()


def _say_unreadable(path: str, exc: BaseException) -> None:
    if path not in _said:
        _said.add(path)
        print(f"busyhour: numba's cached code {path} (or its data file) could not be read "
              f"({type(exc).__name__}: {exc}); compiling it again", file=sys.stderr, flush=True)


def _unreadable_index_is_empty(stock):
    """``IndexDataCacheFile._load_index``: an index that cannot be read is an empty one (a cache miss, and
    the next save writes a good one), not an error that stops every later run."""

    def _load_index(self):
        try:
            return stock(self)
        except Exception as exc:  # noqa: BLE001 - truncated, or written by something else
            if not _ours(self):
                raise
            _say_unreadable(self._index_path, exc)
            return {}

    _load_index.busyhour_digest = True
    return _load_index


def _unreadable_code_is_a_miss(stock):
    """``Cache.load_overload``: cached code that cannot be read or rebuilt is compiled again (and saved over)."""

    def load_overload(self, sig, target_context):
        try:
            return stock(self, sig, target_context)
        except Exception as exc:  # noqa: BLE001 - a truncated data file, bitcode LLVM cannot read
            if not _ours(self._cache_file):
                raise
            _say_unreadable(self._cache_file._index_path, exc)
            return None

    load_overload.busyhour_digest = True
    return load_overload


def install() -> None:
    """Make numba's cache check of this package's functions cover :func:`package_digest`, and their unreadable
    cached code a cache miss (idempotent). Every module that defines kernels calls it before the first (through
    core_jit.py, or itself), so a kernel's stamp never depends on which module was imported first."""
    mixin = _caching._SourceFileBackedLocatorMixin
    if not getattr(mixin.get_source_stamp, "busyhour_digest", False):
        mixin.get_source_stamp = _with_package_digest(mixin.get_source_stamp)
    index = _caching.IndexDataCacheFile
    if not getattr(index._load_index, "busyhour_digest", False):
        index._load_index = _unreadable_index_is_empty(index._load_index)
    if not getattr(_caching.Cache.load_overload, "busyhour_digest", False):
        _caching.Cache.load_overload = _unreadable_code_is_a_miss(_caching.Cache.load_overload)
