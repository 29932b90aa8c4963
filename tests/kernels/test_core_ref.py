"""The core's state passed to kernels by reference (router/core_ref.py): the same fields, read and written.

Runs compiled and with ``NUMBA_DISABLE_JIT=1`` (then ``state_ref`` is the tuple itself).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.router.core_jit import entry, kernel
from busyhour.router.core_ref import state_ref


class _Mixed(NamedTuple):
    ints: np.ndarray  # int64, 2-D
    small: np.ndarray  # uint8, 1-D
    reals: np.ndarray  # float64, 2-D
    words: np.ndarray  # uint64, 1-D
    out: np.ndarray  # float64, 1-D: what the kernels write


@kernel
def _read_all(R):
    R.out[0] = R.ints.sum()
    R.out[1] = R.small.sum()
    R.out[2] = R.reals.sum()
    R.out[3] = R.words.sum()
    R.out[4] = R.ints.shape[0] * 100 + R.ints.shape[1] + R.reals.strides[0]


@kernel
def _write_then_read(R, v):
    R.ints[0, 0] = v
    R.reals[-1, -1] = v * 0.5
    return R.ints[0, 0] + R.reals[-1, -1]


@kernel
def _running_sum(R):
    """Each step reads what the step before wrote, through the reference: the data are not taken as fixed."""
    for i in range(1, R.out.shape[0]):
        R.out[i] = R.out[i - 1] + R.out[i]
    return R.out[R.out.shape[0] - 1]


@kernel
def _passed_down(R, v):
    return _write_then_read(state_ref(R), v)  # a reference given again is the same reference


@entry
def _through_ref(T, v):
    R = state_ref(T)
    _read_all(R)
    _running_sum(R)
    return _passed_down(R, v)


@entry
def _running_sum_of(T):
    return _running_sum(state_ref(T))


def _fields(T):
    return [float(T.ints.sum()), float(T.small.sum()), float(T.reals.sum()), float(T.words.sum()),
            float(T.ints.shape[0] * 100 + T.ints.shape[1] + T.reals.strides[0])]


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 6), cols=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       v=st.integers(-1000, 1000))
def test_a_kernel_reads_and_writes_every_field_through_the_reference(rows, cols, seed, v):
    rng = np.random.default_rng(seed)
    T = _Mixed(ints=rng.integers(-50, 50, (rows, cols)), small=rng.integers(0, 255, rows + 2, dtype=np.uint8),
               reals=rng.integers(-9, 9, (cols, rows + 1)).astype(np.float64),  # whole: sums exact in any order
               words=rng.integers(0, 2**40, 3, dtype=np.uint64), out=np.zeros(5))
    want = _fields(T)
    got = _through_ref(T, v)
    assert T.out.tolist() == np.cumsum(want).tolist()  # read field by field, then summed in place
    assert T.ints[0, 0] == v and T.reals[-1, -1] == v * 0.5  # the writes reached the caller's arrays
    assert got == v + v * 0.5


def test_a_loop_reads_back_what_it_wrote_through_the_reference():
    T = _Mixed(ints=np.zeros((1, 1), dtype=np.int64), small=np.zeros(1, dtype=np.uint8), reals=np.zeros((1, 1)),
               words=np.zeros(1, dtype=np.uint64), out=np.arange(1.0, 65.0))
    assert _running_sum_of(T) == 64 * 65 / 2
    assert T.out.tolist() == np.cumsum(np.arange(1.0, 65.0)).tolist()


def test_every_state_reference_is_made_outside_loops():
    """A field's load is marked invariant (core_ref.py): sound because an entry stores the state in its slot
    once, before any kernel reads it. A ``state_ref`` inside a loop would store again on each pass, and LLVM
    may hoist an invariant load above the loop's first store: this scan keeps every call outside loops."""
    root = Path(__file__).resolve().parents[2]
    sources = [p for d in root.iterdir() if d.is_dir() and not d.name.startswith((".", "build", "docs"))
               for p in d.rglob("*.py")]
    calls, in_loops = 0, []
    for path in sources:
        tree = ast.parse(path.read_text())
        looped = {id(n) for loop in ast.walk(tree) if isinstance(loop, (ast.For, ast.While))
                  for n in ast.walk(loop)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "state_ref":
                calls += 1
                if id(node) in looped:
                    in_loops.append(f"{path.relative_to(root)}:{node.lineno}")
    assert calls >= 8  # the scan found the entries
    assert in_loops == []
