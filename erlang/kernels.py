"""Numba kernels behind ``busyhour.erlang``: plain arrays and scalars only.

Every kernel is ``@njit(cache=True)`` and also runs unchanged as plain Python
(``NUMBA_DISABLE_JIT=1``); ``tests/kernels/test_erlang_kernels.py`` checks each
one against a slow, obviously correct pure-Python reference.

Erlang B core (``inv_erlang_b``)
--------------------------------
``1/B(n, A) = 1 + (n/A) * 1/B(n-1, A)``, ``1/B(0, A) = 1`` -- the stable
recursion (all terms positive, no factorials).  Two refinements make it
O(sqrt(A)) instead of O(n) and free of overflow:

* **Truncated start.**  ``1/B(n) = sum_{k<=n} prod_{i=k+1..n} (i/A)``.  The
  terms with ``k <= n0 = floor(min(n, A) - 10 sqrt(A) - 45)`` are smaller than
  ``exp(-50)`` relative to the sum, so the recursion starts at ``n0`` with
  ``1/B(n0) := 1``; the relative error this introduces is below 1e-20.  When
  ``A > n`` the term ``n - j`` is below ``r^j`` with ``r = n/A``, so only the
  last ``(50 - ln(1 - r)) / ln(1/r) + 2`` terms count (their tail is below
  ``exp(-50)`` of the sum): ``B(10**9, 1e300)`` costs three steps, not 10**9.
* **Scaling.**  When ``1/B`` exceeds 1e280 it is divided by 1e280 and the
  exponent is carried in ``log_scale``; the value is
  ``mant * exp(log_scale)``.  ``B`` below ~1e-300 therefore comes out as the
  correctly rounded tiny number or 0.0, never an overflow or NaN.

The kernel also returns ``1/B - 1`` (the last product term) so that
``1 - C`` and the Erlang A normalisation need no subtraction.

Cost: O(min(n, 10 sqrt(A) + 45 + (n - A)+)) operations per value; the loop
stops early once ``1/B > 1e560`` (B is then 0.0 in double precision), which
caps the ``(n - A)+`` part at about 51 sqrt(A) + 300 steps.  Above the load
the order of operations does not depend on n, so the B, C and carried-load
kernels continue one walk over ascending counts (:func:`inv_erlang_b_walk`,
bit for bit the same results): 100,000 counts near 10**9 cost one walk plus
one step each.  ``work.py`` estimates these costs for a whole input.

Erlang C from the same state: ``C = n / ((n - A) 1/B + A)`` and
``1 - C = (n - A)(1/B - 1) / ((n - A) 1/B + A)`` for ``n > A``.

Erlang A (M/M/n+M) is documented on :func:`erlang_a_point`.

All kernels live in this one module on purpose: numba's on-disk cache is
invalidated per source file, so a kernel in another file that calls one of
these would keep running a stale compiled copy after this file changes.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: Rescaling factor for values that would overflow, and its natural log.
BIG = 1e280
LOG_BIG = math.log(1e280)
#: Relative size below which a tail is dropped from an infinite sum.
TAIL_EPS = 1e-18
#: Largest server / agent / line count; searches return -1 rather than go beyond it.
MAX_COUNT = 10**9
#: Smallest positive load (Erlangs; 0 itself is allowed): n / load stays below 1e27, so the
#: scaled recursion (values up to BIG) never overflows.
MIN_LOAD_ERL = 1e-18


@njit(cache=True)
def recursion_start(n, a):
    """First server count of the truncated Erlang B recursion (see module doc)."""
    m = min(float(n), a)
    s = math.floor(m - 10.0 * math.sqrt(a) - 45.0)
    r = n / a if n > 0 else 1.0
    if r < 1.0:  # overloaded: term n - j is below r^j; the tail past J is below e^-50 of the sum
        s = max(s, n - math.ceil((50.0 - math.log1p(-r)) / -math.log(r)) - 2.0)
    if s < 0.0:
        return 0
    return int(s)


@njit(cache=True)
def inv_erlang_b(n, a):
    """Return ``(mant, mant_minus_one, one, log_scale)`` for 1/B(n, a).

    ``1/B = mant * exp(log_scale)``, ``1/B - 1 = mant_minus_one * exp(log_scale)``
    and ``one = exp(-log_scale)`` (the scaled unit).  ``a`` must be > 0.

    Canonical order of operations (every kernel reproduces it exactly): up to
    ``m = min(n, floor(a) + 1)`` two recursion steps are fused,
    ``x(i+2) = (1 + r2) + (r2 r1) x(i)`` with ``r = i/a`` (half the latency of
    the dependent chain; there ``x <= 1 + a`` so nothing can overflow); beyond
    ``m`` single steps ``x(i) = 1 + r x(i-1)`` with rescaling.  The last
    product ``(n/a) x(n-1)`` is returned as ``1/B - 1``.
    """
    i, mant, prev = _fused_part(n, a)
    i, mant, prev, one, scale, sat = _single_steps(n, a, i, mant, prev, 1.0, 0.0)
    return _walk_result(n, a, mant, prev, one, scale, sat)


@njit(cache=True)
def _fused_part(n, a):
    """The truncated start and the fused double steps of the canonical order: ``(i, mant, prev)``."""
    i = recursion_start(n, a)
    m = n if a >= n else min(n, int(math.floor(a)) + 1)  # no int(a) for a beyond int64
    mant = 1.0
    prev = 0.0
    while i + 2 <= m:
        r1 = (i + 1) / a
        r2 = (i + 2) / a
        prev = 1.0 + r1 * mant
        mant = (1.0 + r2) + (r2 * r1) * mant
        i += 2
    return i, mant, prev


@njit(cache=True)
def _single_steps(n, a, i, mant, prev, one, scale):
    """Single steps of the canonical order from count ``i`` up to ``n``.

    Returns ``(i, mant, prev, one, scale, saturated)``; ``saturated`` means the
    walk stopped at count ``i`` because 1/B passed 1e560 (B, C are 0.0 and
    1 - C is 1.0 in doubles there and at every larger count)."""
    while i < n:
        i += 1
        prev = mant
        mant, pm = _step(i, a, mant, one)
        mant, prev, one, scale = _rescale(mant, prev, one, scale)
        if scale > 2.0 * LOG_BIG:
            return i, mant, prev, one, scale, True
    return i, mant, prev, one, scale, False


@njit(cache=True)
def _walk_result(n, a, mant, prev, one, scale, saturated):
    """inv_erlang_b's result from the walk's state at count ``n`` (or at its saturation point)."""
    if saturated:
        return mant, mant, one, scale
    pm = (n / a) * prev if n > 0 else 0.0
    return mant, pm, one, scale


#: Layout of a walk state (float64 array): load, count reached, mant, prev, one, log scale, saturated.
WALK_STATE_SIZE = 7


@njit(cache=True)
def new_walk_state():
    """A walk state that matches no load (see :func:`inv_erlang_b_walk`)."""
    st = np.zeros(WALK_STATE_SIZE)
    st[0] = math.nan
    return st


@njit(cache=True)
def inv_erlang_b_walk(n, a, st):
    """:func:`inv_erlang_b` (bit for bit), continuing the walk kept in ``st`` when it can.

    Above the load (``n > a``) the canonical order does not depend on ``n``: the
    start, the fused part (up to floor(a) + 1) and then single steps.  So when
    ``st`` holds the walk for the same load at a count above ``a`` and at most
    ``n``, the steps from there to ``n`` give exactly what a fresh walk gives.
    Ascending counts at one load then cost one walk to the largest count (at
    most ~61 sqrt(a) + 350 steps) plus one step per count, instead of one walk
    each.  ``st`` is updated to the walk's state at ``n``.
    """
    if st[0] == a and a < st[1] <= n:
        i = int(st[1])
        mant, prev, one, scale, sat = st[2], st[3], st[4], st[5], st[6] != 0.0
    else:
        i, mant, prev = _fused_part(n, a)
        one, scale, sat = 1.0, 0.0, False
    if not sat:
        i, mant, prev, one, scale, sat = _single_steps(n, a, i, mant, prev, one, scale)
    st[0], st[1], st[2], st[3], st[4], st[5], st[6] = a, i, mant, prev, one, scale, 1.0 if sat else 0.0
    return _walk_result(n, a, mant, prev, one, scale, sat)


@njit(cache=True)
def _rescale(mant, other, one, scale):
    """Divide the recursion's running values by BIG once the mantissa passes it; ``scale``
    keeps the natural log of what was divided out."""
    if mant > BIG:
        return mant / BIG, other / BIG, one / BIG, scale + LOG_BIG
    return mant, other, one, scale


@njit(cache=True)
def _step(i, a, mant, one):
    """One recursion step to server count ``i``; identical to inv_erlang_b's loop body."""
    pm = (i / a) * mant
    return one + pm, pm


@njit(cache=True)
def _blocking(mant, scale):
    if scale == 0.0:
        return 1.0 / mant
    return math.exp(-scale - math.log(mant))


@njit(cache=True)
def erlang_b_kernel(n, a, out):
    """``out[i] = B(n[i], a[i])``; n int64 >= 0, a float64 >= 0 (ascending counts share one walk)."""
    st = new_walk_state()
    for k in range(n.shape[0]):
        if n[k] == 0:
            out[k] = 1.0
        elif a[k] == 0.0:
            out[k] = 0.0
        else:
            mant, pm, one, scale = inv_erlang_b_walk(n[k], a[k], st)
            out[k] = _blocking(mant, scale)


@njit(cache=True)
def carried_load_kernel(n, a, out):
    """``out[i] = a (1 - B(n, a))`` without cancellation: ``a (1/B - 1) / (1/B)``.

    Right when B rounds to 1 (``B(10, 1e300)``: carried ~ 10, not 0)."""
    st = new_walk_state()
    for k in range(n.shape[0]):
        if n[k] == 0 or a[k] == 0.0:
            out[k] = 0.0
        else:
            mant, pm, one, scale = inv_erlang_b_walk(n[k], a[k], st)
            out[k] = a[k] * (pm / mant)


@njit(cache=True)
def _erlang_c_parts(n, a, mant, pm, one, scale):
    """Return (C, 1 - C) for n > a > 0 from the scaled 1/B state."""
    d = n - a
    den = d * mant + a * one
    one_minus_c = d * pm / den
    if scale == 0.0:
        c = n / den
    else:
        c = math.exp(math.log(n) - math.log(den) - scale)
    return c, one_minus_c


@njit(cache=True)
def _sl_asa(n, a, x_sl, mant, pm, one, scale):
    """(C, service level, ASA in units of AHT) for n > a > 0; x_sl = threshold/aht."""
    c, omc = _erlang_c_parts(float(n), a, mant, pm, one, scale)
    d = n - a
    miss = c * math.exp(-d * x_sl)  # P(wait > t), decreasing in n
    if miss < 0.5:
        sl = 1.0 - miss  # monotone in n to the last bit
    else:
        sl = omc - c * math.expm1(-d * x_sl)  # two non-negative terms: small SL keeps its digits
    return c, sl, c / d


@njit(cache=True)
def erlang_c_kernel(n, a, x_sl, p_wait, sl, asa_aht):
    """Erlang C family: P(wait), SL for threshold ``x_sl`` (in AHTs), ASA (in AHTs).

    n <= a gives (1, 0, inf); a == 0 < n gives (0, 1, 0).  Ascending counts share one walk.
    """
    st = new_walk_state()
    for k in range(n.shape[0]):
        nk = n[k]
        ak = a[k]
        if nk <= ak:
            p_wait[k] = 1.0
            sl[k] = 0.0
            asa_aht[k] = math.inf
        elif ak == 0.0:
            p_wait[k] = 0.0
            sl[k] = 1.0
            asa_aht[k] = 0.0
        else:
            mant, pm, one, scale = inv_erlang_b_walk(nk, ak, st)
            c, s, q = _sl_asa(nk, ak, x_sl[k], mant, pm, one, scale)
            p_wait[k] = c
            sl[k] = s
            asa_aht[k] = q


@njit(cache=True)
def occupancy_floor(a, max_occ):
    """Least n >= 1 with a / n <= max_occ (exact in floating point)."""
    if a == 0.0:
        return 1
    n = int(math.ceil(a / max_occ))
    if n < 1:
        n = 1
    while n > 1 and a / (n - 1) <= max_occ:
        n -= 1
    while a / n > max_occ:
        n += 1
    return n


@njit(cache=True)
def staff_kernel(a, aht, x_sl, target, kind, max_occ, out):
    """Least agents meeting a target, scanning upwards from the first n > a.

    ``kind`` 0: service level >= target (``x_sl`` = threshold / AHT);
    ``kind`` 1: ASA (seconds, ``q * aht``) <= target.  ``max_occ`` in (0, 1]
    additionally requires a / n <= max_occ.  The scan uses the same arithmetic
    as :func:`erlang_c_kernel`, so the answer is minimal for the public
    functions exactly, not just approximately.
    """
    for k in range(a.shape[0]):
        ak = a[k]
        if not ak < MAX_COUNT or ak / max_occ[k] > MAX_COUNT:
            out[k] = -1  # the answer would exceed MAX_COUNT agents
            continue
        n0 = int(math.floor(ak)) + 1
        n_occ = occupancy_floor(ak, max_occ[k])
        if n_occ > n0:
            n0 = n_occ
        if ak == 0.0:
            out[k] = n0
            continue
        mant, pm, one, scale = inv_erlang_b(n0, ak)
        n = n0
        while True:
            c, s, q = _sl_asa(n, ak, x_sl[k], mant, pm, one, scale)
            if (kind == 0 and s >= target[k]) or (kind == 1 and q * aht[k] <= target[k]):
                break
            if n >= MAX_COUNT:
                n = -1
                break
            n += 1
            mant, pm = _step(n, ak, mant, one)
            mant, pm, one, scale = _rescale(mant, pm, one, scale)
        out[k] = n


@njit(cache=True)
def trunks_kernel(a, target, out):
    """Least n with B(n, a) <= target (0 < target < 1).

    Scans from ``floor(a (1 - target)) - 1`` (below it B > target since
    B >= 1 - n/a), then re-checks n and n - 1 with :func:`inv_erlang_b`.
    -1 when the answer would exceed MAX_COUNT lines.
    """
    for k in range(a.shape[0]):
        ak = a[k]
        if ak == 0.0:
            out[k] = 1
            continue
        if not ak < MAX_COUNT:
            out[k] = -1
            continue
        lo = int(math.floor(ak * (1.0 - target[k]))) - 1
        if lo < 0:
            lo = 0
        mant, pm, one, scale = inv_erlang_b(lo, ak)
        n = lo
        while _blocking(mant, scale) > target[k] and n <= MAX_COUNT:
            n += 1
            mant, pm = _step(n, ak, mant, one)
            mant, pm, one, scale = _rescale(mant, pm, one, scale)
        if n > MAX_COUNT:
            out[k] = -1
            continue
        # exact agreement with erlang_b_kernel (its start point depends on n)
        while _blocking_exact(n, ak) > target[k] and n <= MAX_COUNT:
            n += 1
        while n > 1 and _blocking_exact(n - 1, ak) <= target[k]:
            n -= 1
        out[k] = n if n <= MAX_COUNT else -1


@njit(cache=True)
def _blocking_exact(n, a):
    if n == 0:
        return 1.0
    mant, pm, one, scale = inv_erlang_b(n, a)
    return _blocking(mant, scale)


@njit(cache=True)
def _log_blocking(n, a):
    mant, pm, one, scale = inv_erlang_b(n, a)
    return -(math.log(mant) + scale), _blocking(mant, scale)


@njit(cache=True)
def load_for_blocking_kernel(n, target, out):
    """Offered load a with B(n, a) = target: safeguarded Newton on log B.

    d log B / d a = n/a - 1 + B.  Bracket: B(n, MIN_LOAD_ERL) <= target (else
    the answer is below it: -1) and B(n, n / (1 - target)) >= target because
    carried load a(1 - B) <= n.  Newton steps that fail to halve the bracket
    every two steps give way to bisection (geometric while hi > 4 lo), so
    300 steps always suffice.
    """
    for k in range(n.shape[0]):
        nk = n[k]
        tk = target[k]
        if nk == 0:
            out[k] = 0.0
            continue
        log_t = math.log(tk)
        if _blocking_exact(nk, MIN_LOAD_ERL) > tk:
            out[k] = -1.0  # the answer is below the smallest load the recursion takes
            continue
        lo = MIN_LOAD_ERL
        hi = nk / (1.0 - tk)
        x = nk * 0.5
        w_check = hi - lo
        for it in range(300):
            lb, b = _log_blocking(nk, x)
            f = lb - log_t
            if f > 0.0:
                hi = x
            else:
                lo = x
            slope = nk / x - 1.0 + b
            x_new = x - f / slope if slope > 0.0 else -1.0
            slow = False
            if it % 2 == 1:  # Newton must halve the bracket every two steps, else bisect
                slow = hi - lo > 0.5 * w_check
                w_check = hi - lo
            if slow or not (lo < x_new < hi):
                x_new = math.sqrt(lo * hi) if hi > 4.0 * lo else 0.5 * (lo + hi)
            if abs(x_new - x) <= 4e-16 * x or hi - lo <= 4e-16 * hi:
                x = x_new
                break
            x = x_new
        out[k] = x


@njit(cache=True)
def extended_erlang_b_kernel(n, a0, recall, offered, blocking, iters):
    """Fixed point x = a0 + recall * x * B(n, x) (total offered load x).

    g(x) = x - a0 - recall * x B(n, x) is increasing (the lost traffic x B has
    slope in (0, 1)), g(a0) <= 0 <= g(a0 / (1 - recall)), so the root is
    unique; it is found by Newton steps kept inside that bracket, with
    d(xB)/dx = B (1 + n - x + x B), until the step or the bracket is below an ulp or g is down to its
    rounding (a few ulps of x): past that point Newton hopped between two doubles up to the 300-step cap.
    """
    for k in range(n.shape[0]):
        nk = n[k]
        r = recall[k]
        base = a0[k]
        if base == 0.0 or r == 0.0 or nk == 0:
            if nk == 0 and base > 0.0 and r > 0.0:
                x = base / (1.0 - r)
            else:
                x = base
            offered[k] = x
            blocking[k] = 1.0 if nk == 0 else (0.0 if x == 0.0 else _blocking_exact(nk, x))
            iters[k] = 0
            continue
        lo = base
        hi = base / (1.0 - r)
        x = base
        it = 0
        b = 0.0
        for it in range(1, 301):
            b = _blocking_exact(nk, x)
            g = x - base - r * x * b
            if g > 0.0:
                hi = x
            else:
                lo = x
            slope = 1.0 - r * b * (1.0 + nk - x + x * b)
            x_new = x - g / slope if slope > 0.0 else -1.0
            if not (lo <= x_new <= hi):
                x_new = 0.5 * (lo + hi)
            done = abs(x_new - x) <= 2e-16 * x or hi - lo <= 2e-16 * hi or abs(g) <= 9e-16 * x
            x = x_new
            if done:
                break
        offered[k] = x
        blocking[k] = _blocking_exact(nk, x)
        iters[k] = it


#: Longest queue (in callers) that :func:`erlang_a_point` will sum over.
MAX_QUEUE_TERMS = 10_000_000


@njit(cache=True)
def erlang_a_point(n, a, aht, patience, t):
    """M/M/n+M measures for one point, by the exact birth-death chain.

    States: k calls in system.  Relative to pi(n): pi(k)/pi(n) for k < n sums
    to 1/B(n, a) - 1, and the queue states n + j have
    ``rho_j = prod_{i=1..j} a' / (c + i)`` with ``c = n patience/aht`` and
    ``a' = a patience/aht``.  An arrival that finds j callers waiting is
    answered with probability ``c / (c + j + 1)`` after a time whose law is
    the sum of Exp(theta (c + i + 1)), i = 0..j, i.e. the (j+1)-th order
    statistic of c + j + 1 exponentials: P(served within t | j) =
    c / (c + j + 1) * P(M > j), M ~ NegBin(c + 1, p = 1 - exp(-t/patience)).
    The sum over j of w_j P(M > j) is rearranged into positive terms
    (sum_m nb(m) W_{m-1} + P(M > J) W_J), so nothing cancels.

    Returns (p_wait, p_abandon, asa_s, mean_wait_s, sl, sl_answered, occupancy).
    Requires a > 0, 0 < patience < inf, aht > 0, t >= 0.
    Cost O(J) with J the queue length where the tail is < 1e-18 relative.
    """
    c = n * (patience / aht)
    ap = a * (patience / aht)
    p = -math.expm1(-t / patience)
    if n == 0:
        bpm = 0.0
        bscale = 0.0
    else:
        bm, bpm, bone, bscale = inv_erlang_b(n, a)
    rho = 1.0
    lr = 0.0
    s_rho = 0.0
    s_ab = 0.0
    s_w = 0.0
    s_asa = 0.0
    s_sl = 0.0
    h = 0.0
    nb_mant = 1.0
    nb_e = -(c + 1.0) * (t / patience)
    nb_sf = math.exp(nb_e)
    cdf = 0.0
    j = 0
    while True:
        cj1 = c + j + 1.0
        w = rho * (c / cj1)
        h += 1.0 / cj1
        s_rho += rho
        s_ab += rho * ((j + 1.0) / cj1)
        s_asa += w * h
        nb = nb_mant * nb_sf
        s_sl += nb * s_w
        cdf += nb
        s_w += w
        q = ap / cj1
        rho *= q
        nb_mant *= p * (j + c + 1.0) / (j + 1.0)
        if nb_mant > BIG:
            nb_mant /= BIG
            nb_e += LOG_BIG
            nb_sf = math.exp(nb_e)
        elif 0.0 < nb_mant < 1.0 / BIG:
            nb_mant *= BIG
            nb_e -= LOG_BIG
            nb_sf = math.exp(nb_e)
        if rho > BIG:
            rho /= BIG
            s_rho /= BIG
            s_ab /= BIG
            s_w /= BIG
            s_asa /= BIG
            s_sl /= BIG
            lr += LOG_BIG
        j += 1
        if q < 1.0 and rho <= TAIL_EPS * s_rho * (1.0 - q):
            break
        if j > MAX_QUEUE_TERMS:
            raise ValueError("patience_s is too long for this overload: the queue would hold more than "
                             "10,000,000 callers ((load - agents) x patience_s / aht_s)")
    # P(M > J) where J = j - 1 was the last state summed; nb_mant holds nb(j).
    if not cdf >= 0.0:  # inf x 0 from absurd patience / AHT ratios
        raise ValueError("patience_s / aht_s is too extreme for the exact Erlang A sums")
    if cdf <= 0.5:
        tail = 1.0 - cdf
    else:
        tail = 0.0
        m = j
        while True:
            if m - j > MAX_QUEUE_TERMS:
                raise ValueError("patience_s / aht_s is too large: the Erlang A service-level sum would need "
                                 "more than 10,000,000 terms")
            tail += nb_mant * nb_sf
            ratio = p * (m + c + 1.0) / (m + 1.0)
            nb_mant *= ratio
            if nb_mant > BIG:
                nb_mant /= BIG
                nb_e += LOG_BIG
                nb_sf = math.exp(nb_e)
            m += 1
            if ratio < 1.0 and nb_mant * nb_sf <= TAIL_EPS * tail * (1.0 - ratio):
                break
    s_slq = s_sl + tail * s_w
    if n == 0:
        ratio_r = 0.0
    elif bscale == 0.0 and lr == 0.0:
        ratio_r = bpm / s_rho
    else:
        lg = math.log(bpm) + bscale - math.log(s_rho) - lr
        ratio_r = math.inf if lg > 700.0 else math.exp(lg)
    if ratio_r > 1e300:
        return 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, a / n
    inv1r = 1.0 / (1.0 + ratio_r)
    p_wait = inv1r
    p_ab = (s_ab / s_rho) * inv1r
    p_served = (ratio_r + s_w / s_rho) * inv1r
    sl = min(1.0, (ratio_r + s_slq / s_rho) * inv1r)
    wait_served = (s_asa / s_rho) * inv1r * patience
    asa = wait_served / p_served if p_served > 0.0 else math.inf
    sl_ans = min(1.0, sl / p_served) if p_served > 0.0 else 0.0
    occ = min(1.0, a * p_served / n) if n > 0 else 0.0
    return p_wait, p_ab, asa, p_ab * patience, sl, sl_ans, occ


@njit(cache=True)
def erlang_a_special(n, a, aht, patience, t):
    """Limits handled in closed form: a == 0, patience == 0 (loss), patience == inf (Erlang C)."""
    if a == 0.0:
        if n >= 1:
            return 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0
        ab = 0.0 if math.isinf(patience) else 1.0
        mw = math.inf if math.isinf(patience) else patience
        return 1.0, ab, math.inf, mw, 0.0, 0.0, 0.0
    if patience == 0.0:
        if n == 0:
            return 1.0, 1.0, math.inf, 0.0, 0.0, 0.0, 0.0
        bm, bpm, bone, bscale = inv_erlang_b(n, a)
        b = _blocking(bm, bscale)
        served = bpm / bm
        return b, b, 0.0, 0.0, served, 1.0, a * served / n
    # patience == inf: Erlang C
    if n <= a:
        return 1.0, 0.0, math.inf, math.inf, 0.0, 0.0, 1.0 if n > 0 else 0.0
    bm, bpm, bone, bscale = inv_erlang_b(n, a)
    c, sl, q = _sl_asa(n, a, t / aht, bm, bpm, bone, bscale)
    return c, 0.0, q * aht, q * aht, sl, sl, a / n


@njit(cache=True)
def erlang_a_kernel(n, a, aht, patience, t, out):
    """Vectorised Erlang A: out[:, k] = (p_wait, p_abandon, asa_s, mean_wait_s, sl, sl_answered, occupancy)."""
    for k in range(n.shape[0]):
        if a[k] == 0.0 or patience[k] == 0.0 or math.isinf(patience[k]):
            res = erlang_a_special(n[k], a[k], aht[k], patience[k], t[k])
        else:
            res = erlang_a_point(n[k], a[k], aht[k], patience[k], t[k])
        for i in range(7):
            out[i, k] = res[i]


@njit(cache=True)
def _a_measures(n, a, aht, patience, t):
    if a == 0.0 or patience == 0.0 or math.isinf(patience):
        return erlang_a_special(n, a, aht, patience, t)
    return erlang_a_point(n, a, aht, patience, t)


@njit(cache=True)
def _a_ok(n, a, aht, patience, t, target_sl, max_ab, max_occ):
    res = _a_measures(n, a, aht, patience, t)
    if not res[6] <= max_occ:
        return False
    if not math.isnan(target_sl) and not res[4] >= target_sl:
        return False
    if not math.isnan(max_ab) and not res[1] <= max_ab:
        return False
    return True


@njit(cache=True)
def staff_a_kernel(a, aht, patience, t, target_sl, max_ab, max_occ, out):
    """Least n meeting SL >= target_sl, P(abandon) <= max_ab and occupancy <= max_occ.

    NaN means no such target.  Occupancy is the Erlang A one, carried load / n.
    Galloping search for a feasible n, then integer bisection; the measures
    are monotone in n, so the bisection answer is the least feasible n.
    -1 when not even MAX_COUNT agents meet the targets.
    """
    for k in range(a.shape[0]):
        args = (a[k], aht[k], patience[k], t[k], target_sl[k], max_ab[k], max_occ[k])
        if not a[k] < MAX_COUNT:
            out[k] = -1
            continue
        # carried load a P(served) <= n, and SL <= P(served), P(abandon) = 1 - P(served):
        # every n < a max(target_sl, 1 - max_ab) fails, so the search starts there
        need = max(0.0 if math.isnan(target_sl[k]) else target_sl[k], 0.0 if math.isnan(max_ab[k]) else 1.0 - max_ab[k])
        lo = max(int(math.ceil(a[k] * need)) - 2, -1)
        hi = max(int(math.ceil(a[k])), 1)
        while not _a_ok(hi, *args):
            lo = hi
            if hi >= MAX_COUNT:
                break
            hi = min(2 * hi + 1, MAX_COUNT)
        if lo == hi:
            out[k] = -1  # not even MAX_COUNT agents meet the targets
            continue
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _a_ok(mid, *args):
                hi = mid
            else:
                lo = mid
        out[k] = hi
