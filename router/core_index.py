"""Array indexing in the compiled core: no negative-index wraparound.

numba indexes an array with a signed integer the way Python does: ``a[-1]``
is the last element. So every integer index it lowers first tests the sign
and selects ``i + len`` when it is negative: a compare, an add and a
select per dimension, and the length loaded, at each of the several
hundred array reads and writes a call's lifecycle makes through the core.
The core never indexes from the end (its "none" values, such as an agent of
-1, are tested before anything is read with them), so in the core's own
functions — those defined under ``router/`` and ``sim/``, recognised by
their symbol names — an index is used as it is: about a fifth less time
inside ``Router.submit`` at 10,000 agents (docs/performance.md). numba's
indexing is unchanged everywhere else (the Erlang kernels, a user's code).

**Checked mode.** With ``BUSYHOUR_INDEX_CHECK=1`` in the environment when
the core is compiled, every integer index of those functions is checked
against ``0 <= i < len`` instead, and one out of range raises
``IndexError`` (a negative index is then an error, not the last element).
The cache stamp (core_cache.py) tells the two modes apart.
tests/router/test_core_index.py runs the parity and batch fuzz tests that
way in a fresh cache, so a kernel that came to rely on wraparound, or read
out of bounds, fails there.

This replaces numba's ``numba.np.arrayobj.fix_integer_index`` (not public
API): pyproject.toml bounds numba's version and the test fails loudly if it
changes.
"""

from __future__ import annotations

import os

from numba.core import cgutils, types
from numba.np import arrayobj as _arrayobj

#: How the symbol names of the functions defined in this package's router/ and sim/ begin (numba mangles
#: ``busyhour.router.core_ops.release`` as ``_ZN8busyhour6router8core_ops7release...``).
OWN_PREFIXES = ("_ZN8busyhour6router", "_ZN8busyhour3sim")
#: Whether this process compiles the core in checked mode (read once, at import: the code and its cache stamp
#: must agree).
CHECKED = os.environ.get("BUSYHOUR_INDEX_CHECK") == "1"


def mode() -> str:
    """The indexing mode the core is compiled in, for its cache stamp."""
    return "index-checked" if CHECKED else "index-unwrapped"


def _own(builder) -> bool:
    fn = getattr(builder, "function", None)
    return fn is not None and fn.name.startswith(OWN_PREFIXES)


def _unwrapped(stock):
    def fix_integer_index(context, builder, idxty, idx, size):
        if not (idxty.signed and _own(builder)):
            return stock(context, builder, idxty, idx, size)
        ind = context.cast(builder, idx, idxty, types.intp)
        if CHECKED:
            cgutils.do_boundscheck(context, builder, ind, size)
        return ind

    fix_integer_index.busyhour_unwrapped = True
    fix_integer_index.stock = stock
    return fix_integer_index


def install() -> None:
    """Replace numba's integer-index fix for the core's functions (idempotent)."""
    if not getattr(_arrayobj.fix_integer_index, "busyhour_unwrapped", False):
        _arrayobj.fix_integer_index = _unwrapped(_arrayobj.fix_integer_index)
