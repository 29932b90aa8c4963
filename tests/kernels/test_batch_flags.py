"""What ``Router.submit`` refuses before any row runs, found in one compiled pass (core_kernels.batch_flags).

The pass must agree with its numpy reference (fast_errors.batch_flags_numpy)
for any batch: every op code an int8 can hold, the table rows (OP_MEMBER,
OP_AGENT) anywhere, call ids at and around the reserved ones and at both ends
of int64.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from busyhour.router.core_kernels import batch_flags
from busyhour.router.core_layout import NO_ID, OP_AGENT, OP_DTYPE, OP_MEMBER
from busyhour.router.fast_errors import batch_flags_numpy

_CALL = st.one_of(st.integers(NO_ID - 3, NO_ID + 3), st.integers(-(1 << 63), (1 << 63) - 1), st.integers(0, 99))
_OP = st.one_of(st.sampled_from([OP_MEMBER, OP_AGENT, 0, 1, 2]), st.integers(-128, 127))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.tuples(_OP, _CALL), min_size=1, max_size=60))
def test_the_compiled_pass_flags_what_numpy_flags(rows):
    ops = np.zeros(len(rows), dtype=OP_DTYPE)
    ops["op"] = [o for o, _ in rows]
    ops["call"] = [c for _, c in rows]
    want = batch_flags_numpy(ops)
    assert batch_flags(ops) == want
    assert want == (1 if any(o in (OP_MEMBER, OP_AGENT) for o, _ in rows) else 0) + (
        2 if any(c < NO_ID for _, c in rows) else 0)


@pytest.mark.parametrize("where", [0, 5, 9])
def test_one_table_row_or_low_id_anywhere_is_found(where):
    ops = np.zeros(10, dtype=OP_DTYPE)
    ops["call"] = np.arange(1, 11)
    assert batch_flags(ops) == 0
    ops["op"][where] = OP_AGENT
    assert batch_flags(ops) == 1
    ops["call"][9 - where] = NO_ID - 1
    assert batch_flags(ops) == 3
    ops["op"][where] = 0
    assert batch_flags(ops) == 2
    ops["call"][9 - where] = NO_ID  # reserved, but not below NO_ID: the core refuses it on its own row
    assert batch_flags(ops) == 0
