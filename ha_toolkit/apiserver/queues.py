r"""Erlang B, Erlang C, M/M/c and M/M/c/K, vectorised over numpy arrays, in log space.

Notation: arrival rate :math:`\lambda`, service rate :math:`\mu` (1 / mean service time),
``c`` servers, capacity ``K`` (requests in service plus waiting, ``K >= c``; ``K = c`` is a
loss system, ``K = inf`` the infinite queue), offered load :math:`A = \lambda / \mu` (Erlangs),
:math:`\rho = A / c` and waiting room ``w = K - c``.

Every function broadcasts its arguments against each other like numpy does, and nothing
overflows or loses its meaning at ``c = 10**5``, at loads far above ``c`` with a finite
waiting room, or as the load goes to 0. Naive factorial formulas overflow near ``c = 170``.

How it is computed
------------------
*Erlang B.* :math:`B(c, A) = \mathrm{pmf}(c) / \mathrm{cdf}(c)` for a Poisson(A) variable.
For ``A < c`` the Poisson cdf comes from :func:`scipy.special.gammaincc` (it lies in
[1/2, 1] there) and the log pmf from Loader's saddle-point form (Stirling's error term and
the deviance ``bd0``), which keeps its absolute error at a few ulps of the result instead of
a few ulps of ``c log A``. For ``A >= c``, :math:`1/B - 1 = \sum_{j=1}^{c} \prod_{i<j}
(c - i)/A` is summed directly: every term is at most 1, they decrease, and the sum stops at
double precision after at most about :math:`9\sqrt{c} + 40/\log(A/c)` terms. ``1 - B`` is
carried separately, so throughput and utilisation stay relatively accurate when B is
close to 1.

*M/M/c/K.* With :math:`p_n` the stationary probabilities, :math:`p_n = p_c\,\rho^{n-c}` for
:math:`c \le n \le K` and :math:`\sum_{n<c} p_n = p_c (1/B - 1)`. Everything follows from
:math:`\log B`, :math:`\log(1 - B)`, :math:`\log\rho` and the geometric sum
:math:`S = \sum_{j=0}^{w-1} \rho^j` (evaluated through ``expm1``, with the factor
:math:`\rho^{w-1}` kept apart when :math:`\rho > 1`):

* blocking :math:`p_K = B\rho^w / (1 + \rho B S)` (PASTA: the 429 probability);
* :math:`1 - p_K = ((1 - B) + B S) / (1 + \rho B S)`; throughput :math:`\lambda(1 - p_K)`;
  utilisation :math:`\rho(1 - p_K)` (the mean fraction of busy servers);
* probability that an *accepted* request waits: :math:`B S / ((1 - B) + B S)` (Erlang C
  when ``K = inf``);
* an accepted request that waits finds ``J`` requests queued ahead of it, with
  :math:`P(J = j) \propto \rho^j` on ``0 .. w-1``, and waits ``Gamma(J + 1, c mu)``.

Waiting and response times
--------------------------
All waits are those of accepted requests (a rejected request does not wait). The response
time is the wait plus an independent ``Exp(mu)`` service.

* ``K = inf``: the exact closed forms: the wait given waiting is ``Exp(c mu - lambda)``,
  the response given waiting is ``Exp(c mu - lambda) + Exp(mu)`` (hypoexponential).
* finite ``K``: the mixture :math:`P(W > t) = P_W \sum_j \pi_j Q(j + 1, c\mu t)` (``Q`` the
  regularised upper incomplete gamma function) is summed term by term in log space. Given
  ``J = j`` the response is ``Gamma(j + 1, c mu) + Exp(mu)``, whose survival function is
  exactly :math:`Q(j+1, c\mu t) + e^{-\mu t} (c/(c-1))^{j+1} P(j+1, (c-1)\mu t)` for
  ``c >= 2`` and :math:`Q(j + 2, \mu t)` for ``c = 1`` (``P`` the lower regularised
  function): two positive terms, so no cancellation. Gamma tails that underflow double
  precision are summed as Poisson series in log space.

What is exact: every formula above is the exact M/M/c/K value; the only truncation is that
queue positions whose mixture weight is below ``exp(-80)`` (about ``1.8e-35``) of the
largest are left out of the sums, which changes a survival probability by less than
``w * 1.8e-35`` in absolute terms. Quantiles are found by a bracketed root search on the
exact survival functions to a relative tolerance of about ``1e-12``.

Examples
--------
>>> from ha_toolkit.apiserver.queues import erlang_b, mmck
>>> float(erlang_b(2, 1.0))  # (1/2) / (1 + 1 + 1/2)
0.2
>>> r = mmck(arrival_rate=3.0, service_rate=1.0, servers=4, capacity=10)
>>> round(float(r.blocking_probability), 5)
0.02432
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special as sc

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["QueueResult", "erlang_b", "erlang_b_max_load", "erlang_c", "mmc", "mmck"]

_LOG_2PI = math.log(2.0 * math.pi)
# Below this a regularised incomplete gamma value is recomputed as a log-space series.
_TINY = 1e-280
# Queue positions whose mixture weight is below exp(-_LOG_CUTOFF) of the largest are dropped.
_LOG_CUTOFF = 80.0
# Terms evaluated at once in the mixture sums (memory bound, not a precision setting).
_CHUNK_TERMS = 1_000_000
# Relative tolerance of the quantile search.
_QUANTILE_RTOL = 1e-12


# ------------------------------------------------------------------ Poisson building blocks
def _stirlerr(n: np.ndarray) -> np.ndarray:
    """``log(n!) - [(n + 1/2) log n - n + log(2 pi)/2]`` for integers ``n >= 1``."""
    out = np.empty_like(n)
    small = n < 16.0
    ns = n[small]
    out[small] = sc.gammaln(ns + 1.0) - (ns + 0.5) * np.log(ns) + ns - 0.5 * _LOG_2PI
    r = 1.0 / n[~small]
    r2 = r * r
    out[~small] = r * (
        1.0 / 12 - r2 * (1.0 / 360 - r2 * (1.0 / 1260 - r2 * (1.0 / 1680 - r2 / 1188)))
    )
    return out


def _bd0(k: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Loader's deviance ``k log(k/x) + x - k`` for ``k, x > 0``, relatively accurate."""
    d = k - x
    v = d / (k + x)
    out = np.empty_like(k)
    near = np.abs(v) < 0.1
    if near.any():
        kn, vn = k[near], v[near]
        v2 = vn * vn
        term = 2.0 * kn * vn
        s = d[near] * vn
        for j in range(1, 13):  # |v| < 0.1: the 12th term is below 1e-24 of the first
            term = term * v2
            s = s + term / (2 * j + 1)
        out[near] = s
    far = ~near
    if far.any():
        kf, xf = k[far], x[far]
        # |k - x| > 0.18 max(k, x) here: at most a factor ~10 of cancellation
        out[far] = kf * (np.log(kf) - np.log(xf)) + (xf - kf)
    return out


def _log_poisson_pmf(k: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log P(N = k) for N ~ Poisson(x); k integer-valued >= 0, x >= 0 (float arrays)."""
    k, x = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(x, dtype=float))
    out = np.empty(k.shape)
    zero_k = k == 0.0
    out[zero_k] = -x[zero_k]
    zero_x = (x == 0.0) & ~zero_k
    out[zero_x] = -np.inf
    rest = ~(zero_k | zero_x)
    if rest.any():
        kr, xr = k[rest], x[rest]
        out[rest] = -_stirlerr(kr) - 0.5 * (_LOG_2PI + np.log(kr)) - _bd0(kr, xr)
    return out


def _geometric_series_log(log_ratio: Callable[[np.ndarray], np.ndarray], n: int) -> np.ndarray:
    """log of 1 + r1 + r1 r2 + ... for decreasing positive ratios r_j = exp(log_ratio(j)).

    Sums until every new term is below 1e-17 of its sum (at most ``n`` terms).
    """
    total = None
    term = None
    for j in range(1, n + 1):
        ratio = np.exp(log_ratio(j))
        term = ratio if term is None else term * ratio
        total = 1.0 + term if total is None else total + term
        if j % 16 == 0 and np.all(term <= 1e-17 * total):
            break
    return np.log(total)


def _log_poisson_cdf(k: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log P(N <= k), N ~ Poisson(x), relatively accurate also where it underflows."""
    k, x = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(x, dtype=float))
    q = sc.gammaincc(k + 1.0, x)
    with np.errstate(divide="ignore"):
        out = np.log(q)
    low = ~(q > _TINY)
    if low.any():
        # Deep upper tail, so x > k: P(N <= k) = pmf(k) * sum_j prod_{i<j} (k - i) / x.
        kl, xl = k[low], x[low]
        n = int(kl.max()) + 1

        def log_ratio(j: int) -> np.ndarray:
            with np.errstate(divide="ignore"):
                return np.log(np.maximum(kl - (j - 1), 0.0)) - np.log(xl)

        series = _geometric_series_log(log_ratio, n) if n > 1 else np.zeros_like(kl)
        out[low] = _log_poisson_pmf(kl, xl) + series
    return out


def _log_poisson_sf(k: np.ndarray, x: np.ndarray) -> np.ndarray:
    """log P(N > k), N ~ Poisson(x), relatively accurate also where it underflows."""
    k, x = np.broadcast_arrays(np.asarray(k, dtype=float), np.asarray(x, dtype=float))
    p = sc.gammainc(k + 1.0, x)
    with np.errstate(divide="ignore"):
        out = np.log(p)
    low = ~(p > _TINY)
    if low.any():
        # Deep lower tail, so x < k + 1: P(N >= k+1) = pmf(k+1) * sum_m prod_i x / (k+1+i).
        kl, xl = k[low], x[low]
        with np.errstate(divide="ignore"):
            log_x = np.log(xl)

        def log_ratio(j: int) -> np.ndarray:
            return log_x - np.log(kl + 1.0 + j)

        # the ratio is at most x / (k + 2) < 1; the loop stops at double precision
        out[low] = _log_poisson_pmf(kl + 1.0, xl) + _geometric_series_log(log_ratio, 100_000)
    return out


# ------------------------------------------------------------------------ Erlang B core
def _log_erlang_b(c: np.ndarray, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(log B, log(1 - B)) of Erlang B for validated float arrays of equal shape."""
    lB = np.empty(c.shape)
    l1mB = np.empty(c.shape)
    below = A < c
    if below.any():
        cb, Ab = c[below], A[below]
        log_cdf = np.log(sc.gammaincc(cb + 1.0, Ab))  # in [log 1/2, 0] here
        lb = _log_poisson_pmf(cb, Ab) - log_cdf
        lB[below] = lb
        with np.errstate(divide="ignore"):
            l1mB[below] = np.log(-np.expm1(lb))
    above = ~below
    if above.any():
        # 1/B - 1 = sum_{j=1}^{c} t_j, t_1 = c/A, t_{j+1} = t_j (c - j) / A; all t_j <= 1.
        ca, Aa = c[above], A[above]
        log_first = np.log(ca) - np.log(Aa)
        n = int(ca.max())

        def log_ratio(j: int) -> np.ndarray:
            with np.errstate(divide="ignore"):
                return np.log(np.maximum(ca - j, 0.0)) - np.log(Aa)

        log_rest = _geometric_series_log(log_ratio, n - 1) if n > 1 else np.zeros_like(ca)
        log_s1 = log_first + log_rest  # log(1/B - 1)
        lB[above] = -np.logaddexp(0.0, log_s1)
        l1mB[above] = log_s1 - np.logaddexp(0.0, log_s1)
    return lB, l1mB


# ------------------------------------------------------- geometric pieces of the queue
def _log_geometric_sum(L: np.ndarray, w: np.ndarray) -> np.ndarray:
    """log of S = sum_{j=0}^{w-1} rho^j, less (w - 1) log rho when rho > 1.

    ``L = log rho`` (may be -inf), ``w`` >= 0 integer-valued or +inf (then ``L < 0``).
    """
    out = np.zeros(L.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        neg = (L < 0) & np.isfinite(L) & np.isfinite(w)
        out[neg] = np.log(-np.expm1(w[neg] * L[neg])) - np.log(-np.expm1(L[neg]))
        inf_w = np.isinf(w) & (L < 0) & np.isfinite(L)
        out[inf_w] = -np.log(-np.expm1(L[inf_w]))
        pos = L > 0
        out[pos] = np.log(-np.expm1(-w[pos] * L[pos])) - np.log(-np.expm1(-L[pos]))
        one = L == 0
        out[one] = np.log(w[one])
    out[w == 0] = -np.inf
    return out


def _trunc_geometric_mean(L: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mean of J with P(J = j) proportional to exp(j L) on 0 .. w-1 (w may be inf, L < 0)."""
    out = np.zeros(L.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inf_w = np.isinf(w) & np.isfinite(L)
        out[inf_w] = 1.0 / np.expm1(-L[inf_w])  # rho / (1 - rho)
        fin = np.isfinite(w) & np.isfinite(L) & (w >= 1)
        Lf, wf = L[fin], w[fin]
        x = wf * Lf
        small = np.abs(x) < 1e-2
        res = np.empty(Lf.shape)
        ws, Ls = wf[small], Lf[small]
        res[small] = (
            (ws - 1.0) / 2.0
            + (ws**2 - 1.0) * Ls / 12.0
            - (ws**4 - 1.0) * Ls**3 / 720.0
            + (ws**6 - 1.0) * Ls**5 / 30240.0
        )

        def f(z: np.ndarray) -> np.ndarray:  # z / (1 - exp(-z))
            return z / -np.expm1(-z)

        big = ~small
        res[big] = (f(x[big]) - f(Lf[big])) / Lf[big]
        out[fin] = res
    return out


# ------------------------------------------------------------------------ validation
def _as_float(value: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == bool or arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be a real number or an array of them, got {value!r}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real, got {value!r}")
    return arr.astype(float)


def _first_bad(arr: np.ndarray, bad: np.ndarray) -> float:
    return float(arr[bad].flat[0])


def _check_rate(value: ArrayLike, name: str, *, positive: bool) -> np.ndarray:
    arr = _as_float(value, name)
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else (arr < 0))
    if bad.any():
        rule = "finite and > 0" if positive else "finite and >= 0"
        raise ValueError(f"{name} must be {rule}, got {_first_bad(arr, bad)!r}")
    return arr + 0.0  # -0.0 -> 0.0, so that no result prints as -0


def _check_servers(value: ArrayLike, name: str = "servers") -> np.ndarray:
    arr = _as_float(value, name)
    bad = ~np.isfinite(arr) | (arr != np.floor(arr))
    if bad.any():
        raise ValueError(f"{name} must be whole numbers, got {_first_bad(arr, bad)!r}")
    bad = arr < 1
    if bad.any():
        raise ValueError(f"{name} must be >= 1, got {_first_bad(arr, bad)!r}")
    if (arr > 2.0**52).any():
        raise ValueError(f"{name} must be below 2**52")
    return arr


def _check_capacity(value: ArrayLike | None, servers: np.ndarray) -> np.ndarray:
    if value is None:
        return np.full(servers.shape, np.inf)
    arr = _as_float(value, "capacity")
    bad = np.isnan(arr) | (np.isfinite(arr) & (arr != np.floor(arr))) | (arr == -np.inf)
    if bad.any():
        raise ValueError(
            f"capacity must be whole numbers or inf (None), got {_first_bad(arr, bad)!r}"
        )
    arr, srv = np.broadcast_arrays(arr, servers)
    bad = arr < srv
    if bad.any():
        raise ValueError(
            "capacity must be >= servers (it counts requests in service plus waiting), got "
            f"capacity {_first_bad(arr, bad)!r} with {_first_bad(srv, bad)!r} servers"
        )
    return arr


def _check_quantile(q: ArrayLike) -> np.ndarray:
    arr = _as_float(q, "q")
    bad = ~((arr >= 0) & (arr <= 1))
    if bad.any():
        raise ValueError(f"q must lie in [0, 1], got {_first_bad(arr, bad)!r}")
    return arr


def _scalar_or_array(arr: np.ndarray) -> Any:
    return arr[()] if arr.ndim == 0 else arr


# -------------------------------------------------------------------- public: Erlang
def erlang_b(servers: ArrayLike, load: ArrayLike) -> Any:
    """Erlang B: probability that an arrival finds all ``servers`` busy in M/G/c/c.

    Also the blocking probability of the M/G/c/c loss system for any service-time
    distribution with the same mean (Erlang's formula is insensitive to it).

    Parameters
    ----------
    servers : int or array_like of int
        Number of servers ``c >= 1``.
    load : float or array_like
        Offered load ``A = arrival rate * mean service time`` in Erlangs, ``>= 0``.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        ``B(c, A)`` broadcast over the inputs; a scalar for scalar inputs.

    Raises
    ------
    ValueError
        Non-integer or < 1 ``servers``; negative or non-finite ``load``.
    """
    c = _check_servers(servers)
    A = _check_rate(load, "load", positive=False)
    c, A = np.broadcast_arrays(c, A)
    lB, _ = _log_erlang_b(np.array(c, dtype=float), np.array(A, dtype=float))
    return _scalar_or_array(np.exp(lB))


def erlang_b_max_load(servers: ArrayLike, blocking: ArrayLike) -> Any:
    """Largest offered load whose Erlang B blocking probability is at most ``blocking``.

    The inverse of :func:`erlang_b` in the load (capacity planning: how many Erlangs can
    ``servers`` slots carry with at most that share of 429s).

    Parameters
    ----------
    servers : int or array_like of int
        Number of servers ``c >= 1``.
    blocking : float or array_like
        Target blocking probability in (0, 1).

    Returns
    -------
    numpy.float64 or numpy.ndarray
        Load ``A`` with ``B(c, A) = blocking`` (relative precision about 1e-13), broadcast.

    Raises
    ------
    ValueError
        Bad ``servers``, or ``blocking`` outside (0, 1).
    """
    c = _check_servers(servers)
    b = _as_float(blocking, "blocking")
    bad = ~((b > 0) & (b < 1))
    if bad.any():
        raise ValueError(f"blocking must lie in (0, 1), got {_first_bad(b, bad)!r}")
    c, b = (np.array(a, dtype=float).reshape(-1) for a in np.broadcast_arrays(c, b))
    shape = np.broadcast_shapes(np.shape(servers), np.shape(blocking))
    log_target = np.log(b)
    # B(c, A) >= 1 - c / A, so B(c, c / (1 - b)) >= b: the root lies in (0, c / (1 - b)].
    lo = np.zeros(c.size)
    hi = c / (1.0 - b)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lB, _ = _log_erlang_b(c, mid)
        below = lB < log_target
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
        if np.all(hi - lo <= 1e-14 * hi):
            break
    return _scalar_or_array(lo.reshape(shape))


def erlang_c(servers: ArrayLike, load: ArrayLike) -> Any:
    """Erlang C: probability that an arrival waits in M/M/c (infinite queue).

    Parameters
    ----------
    servers : int or array_like of int
        Number of servers ``c >= 1``.
    load : float or array_like
        Offered load ``A`` in Erlangs, ``0 <= A < c``.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        ``C(c, A) = B / (1 - (A/c)(1 - B))``, computed in log space.

    Raises
    ------
    ValueError
        Bad ``servers`` or ``load``, or ``load >= servers`` (the queue grows without bound).
    """
    c = _check_servers(servers)
    A = _check_rate(load, "load", positive=False)
    c, A = np.broadcast_arrays(c, A)
    unstable = A >= c
    if unstable.any():
        raise ValueError(
            "load must be below servers for an infinite queue (Erlang C), got load "
            f"{_first_bad(A, unstable):g} with {_first_bad(c, unstable):g} servers"
        )
    return mmc(A, 1.0, c).wait_probability


def mmc(arrival_rate: ArrayLike, service_rate: ArrayLike, servers: ArrayLike) -> QueueResult:
    """The M/M/c queue (infinite waiting room): :func:`mmck` with ``capacity=None``.

    Parameters
    ----------
    arrival_rate, service_rate : float or array_like
        :math:`\\lambda >= 0` and :math:`\\mu > 0`, with :math:`\\lambda < c \\mu`.
    servers : int or array_like of int
        Number of servers ``c >= 1``.

    Returns
    -------
    QueueResult
        As :func:`mmck`; ``blocking_probability`` is 0 and ``wait_probability`` is Erlang C.
    """
    return mmck(arrival_rate, service_rate, servers, None)


def mmck(
    arrival_rate: ArrayLike,
    service_rate: ArrayLike,
    servers: ArrayLike,
    capacity: ArrayLike | None = None,
) -> QueueResult:
    """Solve M/M/c/K queues, broadcasting over all four arguments.

    Parameters
    ----------
    arrival_rate : float or array_like
        Poisson arrival rate :math:`\\lambda` (requests per second), ``>= 0``.
    service_rate : float or array_like
        Service rate :math:`\\mu` of one server, ``> 0`` (1 / mean service time).
    servers : int or array_like of int
        Number of servers ``c >= 1`` (in-flight slots).
    capacity : int, array_like of int, inf or None
        ``K``: requests in service plus waiting, ``K >= c``. ``K = c`` is a loss system
        (no waiting room); ``None`` or ``inf`` is the infinite queue M/M/c, which needs
        ``arrival_rate < servers * service_rate``.

    Returns
    -------
    QueueResult
        Steady-state measures broadcast over the inputs, with methods for the wait and
        response-time distributions and :meth:`QueueResult.to_frame`.

    Raises
    ------
    ValueError
        Naming the parameter: a negative or non-finite rate, ``servers`` not a whole
        number >= 1, ``capacity`` not a whole number >= servers, or an unstable infinite
        queue (load >= servers with ``capacity=None``).
    """
    lam = _check_rate(arrival_rate, "arrival_rate", positive=False)
    mu = _check_rate(service_rate, "service_rate", positive=True)
    c = _check_servers(servers)
    K = _check_capacity(capacity, c)
    lam, mu, c, K = (np.array(a, dtype=float) for a in np.broadcast_arrays(lam, mu, c, K))
    with np.errstate(over="ignore"):
        A = lam / mu
    if not np.isfinite(A).all():
        raise ValueError("arrival_rate / service_rate overflows; rescale the time unit")
    unstable = np.isinf(K) & (lam >= c * mu)
    if unstable.any():
        raise ValueError(
            "arrival_rate must be below servers * service_rate for an infinite queue "
            f"(capacity=None): load {_first_bad(A, unstable):g} with "
            f"{_first_bad(c, unstable):g} servers never settles; give a finite capacity"
        )
    return _solve(lam, mu, c, K, A)


def _solve(lam: np.ndarray, mu: np.ndarray, c: np.ndarray, K: np.ndarray, A: np.ndarray):
    shape = lam.shape
    lam, mu, c, K, A = (a.reshape(-1) for a in (lam, mu, c, K, A))
    w = K - c
    with np.errstate(divide="ignore"):
        rho = A / c
        L = np.log(rho)
    lB, l1mB = _log_erlang_b(c, A)
    lSt = _log_geometric_sum(L, w)
    pos = L > 0
    with np.errstate(invalid="ignore"):
        eL = np.where(pos, (w - 1.0) * L, 0.0)
        u = lB + eL + lSt  # log(B S)
        wL = np.where(w == 0, 0.0, w * L)
        lPK = np.where(
            pos & (w > 0),
            -lSt - np.logaddexp(-(u + L), 0.0),
            lB + wL - np.logaddexp(0.0, u + L),
        )
        l1mPK = np.where(
            u > 0,
            np.logaddexp(l1mB - u, 0.0) - np.logaddexp(-u, L),
            np.logaddexp(l1mB, u) - np.logaddexp(0.0, u + L),
        )
        lPwait = -np.logaddexp(l1mB - u, 0.0)
        lPnowait = -np.logaddexp(0.0, u - l1mB)
    lPwait = np.where(w == 0, -np.inf, lPwait)
    lPnowait = np.where(w == 0, 0.0, lPnowait)
    p_wait = np.exp(lPwait)
    mean_j = _trunc_geometric_mean(L, w)
    mean_wait = p_wait * (1.0 + mean_j) / (c * mu)
    accepted = np.exp(l1mPK)
    # lambda (1 - p_K) <= c mu exactly; rounding of a huge load times a tiny acceptance
    # can step over it by an ulp (utilisation 1.0000000000000004 at A = 6e7, c = 1)
    throughput = np.minimum(lam * accepted, c * mu)

    def out(a: np.ndarray) -> Any:
        return _scalar_or_array(np.asarray(a, dtype=float).reshape(shape))

    return QueueResult(
        arrival_rate=out(lam),
        service_rate=out(mu),
        servers=out(c),
        capacity=out(K),
        offered_load=out(A),
        blocking_probability=out(np.exp(lPK)),
        utilization=out(np.minimum(rho * accepted, 1.0)),
        throughput=out(throughput),
        wait_probability=out(p_wait),
        mean_wait=out(mean_wait),
        mean_response=out(mean_wait + 1.0 / mu),
        mean_queue_length=out(throughput * mean_wait),
        mean_in_system=out(throughput * (mean_wait + 1.0 / mu)),
        _log_rho=L.reshape(shape),
        _log_sum=lSt.reshape(shape),
        _log_wait_probability=lPwait.reshape(shape),
        _log_no_wait_probability=lPnowait.reshape(shape),
    )


# ------------------------------------------------------------- wait / response kernels
@dataclass(frozen=True)
class _Flat:
    """Per-point parameters, flattened, for the distribution kernels."""

    lam: np.ndarray
    mu: np.ndarray
    c: np.ndarray
    w: np.ndarray
    L: np.ndarray
    log_sum: np.ndarray
    log_wait: np.ndarray
    log_no_wait: np.ndarray

    def take(self, idx: np.ndarray) -> _Flat:
        return _Flat(*(getattr(self, f)[idx] for f in self.__dataclass_fields__))


# Terms further than this (in log) below the peak of a log-concave sum are dropped.
_PEAK_CUTOFF = 60.0


def _position_range(L: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Queue positions j0 .. j1 whose weight rho^j is within exp(-80) of the largest."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        span = np.where(np.abs(L) > 0, np.ceil(_LOG_CUTOFF / np.abs(L)), np.inf)
    span = np.minimum(span, w)
    last = w - 1.0
    j0 = np.where(L > 0, np.maximum(0.0, last - span), 0.0)
    j1 = np.where(L > 0, last, np.minimum(last, span))
    j1 = np.where(np.isneginf(L), 0.0, j1)
    return j0.astype(np.int64), j1.astype(np.int64)


def _ragged_logsumexp(
    j0: np.ndarray,
    j1: np.ndarray,
    log_term: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """For each point i: log sum_{j=j0[i]}^{j1[i]} exp(log_term(i, j)), chunked."""
    n = j1 - j0 + 1
    out = np.empty(n.size)
    csum = np.cumsum(n)
    start = 0
    while start < n.size:
        base = csum[start - 1] if start else 0
        end = max(int(np.searchsorted(csum, base + _CHUNK_TERMS, side="right")), start + 1)
        nn = n[start:end]
        offsets = np.cumsum(nn) - nn
        idx = np.repeat(np.arange(start, end), nn)
        j = np.arange(int(nn.sum())) - np.repeat(offsets, nn) + np.repeat(j0[start:end], nn)
        lt = log_term(idx, j.astype(float))
        m = np.maximum.reduceat(lt, offsets)
        m_safe = np.where(np.isfinite(m), m, 0.0)
        s = np.add.reduceat(np.exp(lt - m_safe[idx - start]), offsets)
        with np.errstate(divide="ignore"):
            out[start:end] = np.where(np.isneginf(m), -np.inf, m_safe + np.log(s))
        start = end
    return out


def _log_weights(p: _Flat, idx: np.ndarray, j: np.ndarray) -> np.ndarray:
    """log pi_j = log(rho^j / S) for the points idx."""
    L, w = p.L[idx], p.w[idx]
    e = np.where(L > 0, w - 1.0, 0.0)
    with np.errstate(invalid="ignore"):
        lw = (j - e) * L - p.log_sum[idx]
    return np.where(np.isneginf(L), 0.0, lw)


def _log_wait_sf(p: _Flat, t: np.ndarray) -> np.ndarray:
    """log P(W > t) for accepted requests; t >= 0 finite; flat arrays of equal length."""
    out = np.full(t.shape, -np.inf)
    inf_w = np.isinf(p.w)
    if inf_w.any():
        theta = p.c[inf_w] * p.mu[inf_w] - p.lam[inf_w]
        out[inf_w] = p.log_wait[inf_w] - theta * t[inf_w]
    fin = np.flatnonzero(~inf_w & np.isfinite(p.log_wait))
    if fin.size:
        q = p.take(fin)
        x = q.c * q.mu * t[fin]

        # P(W > t | wait) = sum_j pi_j P(N_x <= j) = sum_m P(N_x = m) T(m), N_x ~ Poisson(x),
        # T(m) = sum_{j >= m} pi_j: the terms are log-concave in m, so only a window around
        # their peak counts (Poisson's bulk, not the whole queue: sqrt(x), not K, terms)
        def log_term(i: np.ndarray, m: np.ndarray) -> np.ndarray:
            return _log_poisson_pmf(m, x[i]) + _log_tail_weight(q, i, m)

        j0, j1 = _peak_window(q.w, log_term)
        out[fin] = q.log_wait + _ragged_logsumexp(j0, j1, log_term)
    return out


def _log_tail_weight(p: _Flat, idx: np.ndarray, m: np.ndarray) -> np.ndarray:
    """log T(m) = log sum_{j=m}^{w-1} pi_j, the waiting positions at or beyond m."""
    L, w = p.L[idx], p.w[idx]
    rest = _log_geometric_sum(L, w - m)  # less (w - m - 1) L when rho > 1
    lead = np.where(L > 0, 0.0, m * L)
    with np.errstate(invalid="ignore"):
        value = rest + lead - p.log_sum[idx]
    return np.where(np.isneginf(L), np.where(m == 0, 0.0, -np.inf), value)


def _peak_window(
    w: np.ndarray, log_term: Callable[[np.ndarray, np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """For log-concave terms on 0 .. w-1: the integer range within e**-60 of the peak.

    The terms are sampled at 257 points; the range runs from one sample below the first to
    one above the last sample within e**-60 of the largest sample (log-concavity: nothing
    outside can come closer to the peak).
    """
    n = w.size
    last = w - 1.0
    grid = np.linspace(0.0, 1.0, 257)
    m = np.floor(last[:, None] * grid[None, :])
    idx = np.repeat(np.arange(n), grid.size)
    values = log_term(idx, m.reshape(-1)).reshape(n, grid.size)
    top = values.max(axis=1, keepdims=True)
    near = values >= top - _PEAK_CUTOFF
    first = np.argmax(near, axis=1)
    final = grid.size - 1 - np.argmax(near[:, ::-1], axis=1)
    rows = np.arange(n)
    j0 = m[rows, np.maximum(first - 1, 0)]
    j1 = m[rows, np.minimum(final + 1, grid.size - 1)]
    return j0.astype(np.int64), j1.astype(np.int64)


def _log_phi(z: np.ndarray) -> np.ndarray:
    """log of (1 - exp(-z)) / z, = 0 at z = 0, without overflow."""
    out = np.zeros(z.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        pos = z > 0
        out[pos] = np.log(-np.expm1(-z[pos])) - np.log(z[pos])
        neg = z < 0
        zn = -z[neg]
        out[neg] = zn + np.log(-np.expm1(-zn)) - np.log(zn)
    return out


def _log_response_sf(p: _Flat, t: np.ndarray) -> np.ndarray:
    """log P(W + S > t), S ~ Exp(mu) independent; t >= 0 finite; flat arrays."""
    mut = p.mu * t
    log_no_wait = p.log_no_wait - mut  # (1 - P_W) e^{-mu t}
    log_wait_part = np.full(t.shape, -np.inf)
    inf_w = np.isinf(p.w) & np.isfinite(p.log_wait)
    if inf_w.any():
        # given waiting: Exp(theta) + Exp(mu), theta = c mu - lambda
        mu, tt = p.mu[inf_w], t[inf_w]
        theta = p.c[inf_w] * mu - p.lam[inf_w]
        with np.errstate(divide="ignore"):
            second = np.log(theta * tt) - mu * tt + _log_phi((theta - mu) * tt)
        log_wait_part[inf_w] = p.log_wait[inf_w] + np.logaddexp(-theta * tt, second)
    fin = np.flatnonzero(np.isfinite(p.w) & np.isfinite(p.log_wait))
    if fin.size:
        q = p.take(fin)
        tf = t[fin]
        one = q.c == 1.0
        x = q.c * q.mu * tf
        y = np.where(one, 0.0, (q.c - 1.0) * q.mu * tf)
        with np.errstate(divide="ignore"):
            log_r = np.where(one, 0.0, -np.log1p(-1.0 / q.c))  # log(c / (c - 1))
        mutf = q.mu * tf
        j0, j1 = _position_range(q.L, q.w)

        def log_term(i: np.ndarray, j: np.ndarray) -> np.ndarray:
            o = one[i]
            first = _log_poisson_cdf(np.where(o, j + 1.0, j), x[i])
            second = -mutf[i] + (j + 1.0) * log_r[i] + _log_poisson_sf(j, y[i])
            second = np.where(o, -np.inf, second)
            return _log_weights(q, i, j) + np.logaddexp(first, second)

        log_wait_part[fin] = q.log_wait + _ragged_logsumexp(j0, j1, log_term)
    return np.logaddexp(log_no_wait, log_wait_part)


def _solve_decreasing(
    log_sf: Callable[[np.ndarray, np.ndarray], np.ndarray],
    target: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """t in [lo, hi] with log_sf(idx, t) = target, log_sf decreasing (Illinois method)."""
    lo, hi = lo.copy(), hi.copy()
    all_idx = np.arange(lo.size)
    flo = log_sf(all_idx, lo) - target
    fhi = log_sf(all_idx, hi) - target
    best = np.where(np.abs(flo) <= np.abs(fhi), lo, hi)
    done = (flo <= 0) | (fhi >= 0) | (hi - lo <= _QUANTILE_RTOL * hi)
    best = np.where(flo <= 0, lo, np.where(fhi >= 0, hi, best))
    side = np.zeros(lo.size, dtype=np.int8)
    for iteration in range(300):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        a, b, fa, fb = lo[act], hi[act], flo[act], fhi[act]
        ok = np.isfinite(fa) & np.isfinite(fb) & (fa > fb) & (iteration % 8 != 7)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(ok, b - fb * (b - a) / (fb - fa), 0.5 * (a + b))
        bad = ~((t > a) & (t < b))
        t = np.where(bad, 0.5 * (a + b), t)
        ft = log_sf(act, t) - target[act]
        left = ft > 0  # root lies right of t: t becomes the new lo
        s = side[act]
        # Illinois: halve the function value kept on the side that did not move twice
        new_fb = np.where(left & (s == 1), fb / 2.0, fb)
        new_fa = np.where(~left & (s == -1), fa / 2.0, fa)
        lo[act] = np.where(left, t, a)
        flo[act] = np.where(left, ft, new_fa)
        hi[act] = np.where(left, b, t)
        fhi[act] = np.where(left, new_fb, ft)
        side[act] = np.where(left, 1, -1)
        best[act] = t
        converged = (np.abs(ft) <= 1e-14) | (hi[act] - lo[act] <= _QUANTILE_RTOL * hi[act])
        done[act] = converged
    return best


# ---------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class QueueResult:
    """Steady state of M/M/c/K queues, broadcast over the inputs of :func:`mmck`.

    Arrays share one shape (numpy scalars when every input was a scalar). Waits are those
    of accepted requests; the response time is the wait plus the service time.

    Attributes
    ----------
    arrival_rate, service_rate, servers, capacity : ndarray
        The inputs, broadcast (``capacity`` is ``inf`` for the infinite queue).
    offered_load : ndarray
        ``A = arrival_rate / service_rate`` (Erlangs).
    blocking_probability : ndarray
        Probability that an arrival is rejected (finds ``K`` requests present); 0 for the
        infinite queue.
    utilization : ndarray
        Mean fraction of busy servers, ``A (1 - blocking) / c``.
    throughput : ndarray
        Accepted (and served) requests per unit time, ``arrival_rate (1 - blocking)``.
    wait_probability : ndarray
        Probability that an accepted request waits (Erlang C for the infinite queue).
    mean_wait, mean_response : ndarray
        Mean wait in the queue and mean wait plus service of accepted requests.
    mean_queue_length, mean_in_system : ndarray
        Time-average number waiting and number present (Little's law).
    """

    arrival_rate: Any
    service_rate: Any
    servers: Any
    capacity: Any
    offered_load: Any
    blocking_probability: Any
    utilization: Any
    throughput: Any
    wait_probability: Any
    mean_wait: Any
    mean_response: Any
    mean_queue_length: Any
    mean_in_system: Any
    _log_rho: np.ndarray = field(repr=False)
    _log_sum: np.ndarray = field(repr=False)
    _log_wait_probability: np.ndarray = field(repr=False)
    _log_no_wait_probability: np.ndarray = field(repr=False)

    @property
    def shape(self) -> tuple[int, ...]:
        """Broadcast shape of the inputs."""
        return self._log_rho.shape

    def _flat(self, shape: tuple[int, ...]) -> _Flat:
        def b(a: Any) -> np.ndarray:
            return np.broadcast_to(np.asarray(a, dtype=float), shape).reshape(-1)

        c = b(self.servers)
        return _Flat(
            lam=b(self.arrival_rate),
            mu=b(self.service_rate),
            c=c,
            w=b(self.capacity) - c,
            L=b(self._log_rho),
            log_sum=b(self._log_sum),
            log_wait=b(self._log_wait_probability),
            log_no_wait=b(self._log_no_wait_probability),
        )

    def _evaluate(self, t: ArrayLike, kernel: Callable[[_Flat, np.ndarray], np.ndarray]) -> Any:
        tt = _as_float(t, "t")
        if np.isnan(tt).any():
            raise ValueError("t must not be NaN")
        shape = np.broadcast_shapes(self.shape, tt.shape)
        p = self._flat(shape)
        tf = np.broadcast_to(tt, shape).reshape(-1)
        out = np.ones(tf.size)
        out[np.isposinf(tf)] = 0.0
        mid = np.flatnonzero((tf >= 0) & np.isfinite(tf))
        if mid.size:
            out[mid] = np.exp(kernel(p.take(mid), tf[mid]))
        return _scalar_or_array(out.reshape(shape))

    def wait_sf(self, t: ArrayLike) -> Any:
        """P(W > t): survival function of the wait of an accepted request.

        Parameters
        ----------
        t : float or array_like
            Times (same unit as 1 / rates); broadcast against the result's shape.

        Returns
        -------
        numpy.float64 or numpy.ndarray
            ``P(W > 0)`` is :attr:`wait_probability`; 1 for ``t < 0``.
        """
        return self._evaluate(t, _log_wait_sf)

    def wait_cdf(self, t: ArrayLike) -> Any:
        """P(W <= t) = 1 - :meth:`wait_sf`."""
        return 1.0 - self.wait_sf(t)

    def response_sf(self, t: ArrayLike) -> Any:
        """P(W + S > t): survival function of the response time of an accepted request.

        The service time S is ``Exp(service_rate)``, independent of the wait.
        """
        return self._evaluate(t, _log_response_sf)

    def response_cdf(self, t: ArrayLike) -> Any:
        """P(W + S <= t) = 1 - :meth:`response_sf`."""
        return 1.0 - self.response_sf(t)

    def _quantile(self, q: ArrayLike, response: bool) -> Any:
        qq = _check_quantile(q)
        shape = np.broadcast_shapes(self.shape, qq.shape)
        p = self._flat(shape)
        qf = np.broadcast_to(qq, shape).reshape(-1)
        out = np.zeros(qf.size)
        out[qf == 1.0] = np.inf
        with np.errstate(divide="ignore"):
            tail = np.log1p(-qf)  # log(1 - q)
        pw = np.exp(p.log_wait)
        cmu = p.c * p.mu
        need = (qf < 1.0) & ((qf > 1.0 - pw) if not response else (qf > 0.0))
        idx = np.flatnonzero(need)
        if idx.size == 0:
            return _scalar_or_array(out.reshape(shape))
        sub = p.take(idx)
        target = tail[idx]

        def wait_hi(log_level: np.ndarray) -> np.ndarray:
            """t with P(W > t) <= exp(log_level): J < w, so W | wait <= Gamma(w, c mu)."""
            s = np.exp(np.minimum(log_level - sub.log_wait, 0.0))
            theta = sub.c * sub.mu - sub.lam
            finite_w = np.isfinite(sub.w)
            with np.errstate(divide="ignore", invalid="ignore"):
                gamma_hi = sc.gammainccinv(np.where(finite_w, sub.w, 1.0), s) / (sub.c * sub.mu)
                exp_hi = -np.log(s) / theta
            hi = np.where(finite_w, gamma_hi, exp_hi)
            return np.where(s >= 1.0, 0.0, hi)

        if not response:
            # W | wait >= Exp(c mu) in the usual stochastic order
            lo = np.maximum((sub.log_wait - target) / cmu[idx], 0.0)
            hi = np.maximum(wait_hi(target) * (1 + 1e-9), lo)

            def log_sf(i: np.ndarray, t: np.ndarray) -> np.ndarray:
                return _log_wait_sf(sub.take(i), t)
        else:
            # R >= S ~ Exp(mu); R <= (W at level (1-q)/2) + (S at level (1-q)/2)
            lo = -target / sub.mu
            half = target - math.log(2.0)
            hi = np.maximum((wait_hi(half) - half / sub.mu) * (1 + 1e-9), lo)

            def log_sf(i: np.ndarray, t: np.ndarray) -> np.ndarray:
                return _log_response_sf(sub.take(i), t)

        out[idx] = _solve_decreasing(log_sf, target, lo, hi)
        return _scalar_or_array(out.reshape(shape))

    def wait_quantile(self, q: ArrayLike) -> Any:
        """q-quantile of the wait of an accepted request (0 where ``q <= 1 - P(wait)``).

        Parameters
        ----------
        q : float or array_like
            Levels in [0, 1]; broadcast against the result's shape.

        Returns
        -------
        numpy.float64 or numpy.ndarray
            The smallest t with ``P(W <= t) >= q``; ``inf`` for ``q = 1``.
        """
        return self._quantile(q, response=False)

    def response_quantile(self, q: ArrayLike) -> Any:
        """q-quantile of the response time (wait + service) of an accepted request."""
        return self._quantile(q, response=True)

    def to_frame(self, quantiles: Sequence[float] = (0.5, 0.99)) -> pd.DataFrame:
        """One row per point of the broadcast inputs (C order).

        Parameters
        ----------
        quantiles : sequence of float, default (0.5, 0.99)
            Levels added as columns ``p50_wait``, ``p99_wait``, ``p50_response``, ...

        Returns
        -------
        pandas.DataFrame
            The inputs, ``service_time``, and every attribute of the result.
        """
        import pandas as pd

        names = [
            "arrival_rate",
            "service_rate",
            "servers",
            "capacity",
            "offered_load",
            "blocking_probability",
            "utilization",
            "throughput",
            "wait_probability",
            "mean_wait",
            "mean_response",
            "mean_queue_length",
            "mean_in_system",
        ]
        shape = self.shape
        cols: dict[str, np.ndarray] = {}
        for name in names:
            cols[name] = np.broadcast_to(np.asarray(getattr(self, name)), shape).reshape(-1)
            if name == "service_rate":
                cols["service_time"] = 1.0 / cols[name]
        cols["servers"] = cols["servers"].astype(np.int64)
        for q in quantiles:
            label = f"p{100.0 * float(q):g}"
            cols[f"{label}_wait"] = np.asarray(self.wait_quantile(q), dtype=float).reshape(-1)
        for q in quantiles:
            label = f"p{100.0 * float(q):g}"
            cols[f"{label}_response"] = np.asarray(self.response_quantile(q), dtype=float).reshape(
                -1
            )
        return pd.DataFrame(cols)
