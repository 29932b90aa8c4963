"""The core's array indexing without wraparound (router/core_index.py), and its checked mode.

The core's own functions use an integer index as it is (no ``a[-1]`` for the
last element). These tests fail loudly if numba stops lowering integer
indexes through the function replaced, and they run the parity tests and
the batch fuzz with every index of the core checked (``BUSYHOUR_INDEX_CHECK=1``,
in a cache of their own): a kernel that came to rely on wraparound, or that
reads or writes out of bounds, raises ``IndexError`` there.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba.core import config
from numba.np import arrayobj

from busyhour.router import core_index
from busyhour.router.core_layout import EVENT_DTYPE

pytestmark = pytest.mark.skipif(config.DISABLE_JIT, reason="NUMBA_DISABLE_JIT=1: nothing is compiled")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_numba_lowers_integer_indexes_through_the_function_replaced():
    """numba internals this leans on: fails loudly if a numba release renames or stops using them."""
    fix = arrayobj.fix_integer_index
    assert getattr(fix, "busyhour_unwrapped", False), "core_index.install() did not take"
    assert fix.stock.__module__ == "numba.np.arrayobj"
    assert "fix_integer_index" in arrayobj.basic_indexing.__code__.co_names, \
        "numba's basic indexing no longer calls fix_integer_index: the core would index with wraparound again"


def test_only_the_cores_own_functions_are_unwrapped_and_they_still_index_right():
    from busyhour.router.core_kernels import event_rows

    ev_i = np.arange(12, dtype=np.int64).reshape(2, 6)
    ev_f = np.arange(4.0).reshape(2, 2)
    out = np.zeros(1, dtype=EVENT_DTYPE)
    event_rows(ev_i, ev_f, 1, out)
    assert (int(out["seq"][0]), float(out["value"][0])) == (6, 3.0)
    assert not core_index._own(_Builder("_ZN8busyhour6erlang7kernels3fooB2v1E"))  # numba's own indexing there
    assert core_index._own(_Builder("_ZN8busyhour6router8core_ops7releaseB4v134E"))
    assert core_index._own(_Builder("_ZN8busyhour3sim9fast_loop3runE"))
    assert core_index.mode() == ("index-checked" if core_index.CHECKED else "index-unwrapped")


class _Builder:
    def __init__(self, name: str):
        self.function = type("F", (), {"name": name})()


CHECKED_PROBE = textwrap.dedent("""
    import numpy as np
    from busyhour.router import core_index
    from busyhour.router.core_kernels import event_rows
    from busyhour.router.core_layout import EVENT_DTYPE
    assert core_index.CHECKED
    ev_i, ev_f, out = np.zeros((2, 6), np.int64), np.zeros((2, 2)), np.zeros(1, EVENT_DTYPE)
    for k in (-1, 2):
        try:
            event_rows(ev_i, ev_f, k, out)
        except IndexError:
            continue
        raise SystemExit(f"row {k} of 2 was read without an IndexError")
    event_rows(ev_i, ev_f, 1, out)
    print("checked")
""")


def test_checked_mode_refuses_out_of_range_indexes_and_the_fuzz_never_makes_one(tmp_path):
    env = {**os.environ, "BUSYHOUR_INDEX_CHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("NUMBA_DISABLE_JIT", None)
    probe = subprocess.run([sys.executable, "-c", CHECKED_PROBE], env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=600)
    assert probe.returncode == 0 and "checked" in probe.stdout, probe.stdout + probe.stderr
    tests = [os.path.join(ROOT, "tests", "kernels", f) for f in
             ("test_core_parity.py", "test_core_bad_input.py")]  # every strategy and feature; the batch fuzz
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *tests], env=env,
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "IndexError" not in run.stdout
