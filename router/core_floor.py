"""Compiled core: ``t // iv`` for interval numbers, exact, without a call to ``fmod``.

numba computes a float floor division as Python does, through ``fmod`` (a
call into C for every division). The statistics divide each event's time by
the interval length several times (the interval it falls in, the oldest one
kept), and that call was about 4 % of a batch with statistics on
(docs/performance.md).

:func:`floor_div` takes ``q = floor(t / iv)``, which may be one off when the
quotient rounds across an integer, and corrects it with the signs of
``t - q * iv`` and ``t - (q + 1) * iv``, each computed with one rounding by a
fused multiply-add: a rounded value keeps the sign (and the zero) of the
exact one, so the result is the floor of the exact quotient, which is what
Python's ``t // iv`` gives for finite ``t`` and ``iv > 0`` (times within
±1e12 s, intervals of at least 1 s: core_layout.MAX_TIME_S, config). The
sign of a zero result follows Python's too. With ``NUMBA_DISABLE_JIT=1`` it
is Python's ``//``.

This uses numba's public extension API (``numba.extending.intrinsic``) and
LLVM's ``llvm.fma`` intrinsic.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import config
from numba.core.extending import intrinsic

from .core_jit import kernel


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma.f64``)."""
    if not all(isinstance(x, (types.Float, types.Integer)) for x in (a, b, c)):
        return None
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, sig, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)  # numba casts the arguments to the signature's float64 first

    return sig, codegen


def _floor_div_py(t, iv):
    return t // iv


def _floor_div(t, iv):
    q = np.floor(t / iv)
    if _fma(-q, iv, t) < 0.0:  # t < q * iv: the quotient rounded up to an integer it does not reach
        return q - 1.0
    if _fma(-(q + 1.0), iv, t) >= 0.0:  # t >= (q + 1) * iv: it rounded down below one it reaches
        return q + 1.0
    return q


#: ``floor_div(t, iv)``: Python's ``t // iv`` (floats, ``iv > 0``), in compiled code without ``fmod``.
floor_div = _floor_div_py if config.DISABLE_JIT else kernel(_floor_div)
