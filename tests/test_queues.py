"""Erlang B/C, M/M/c and M/M/c/K against closed forms, extended precision and Ciw."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath as mp
import numpy as np
import pytest
from scipy import special as sc
from scipy import stats

from ha_toolkit.apiserver.ciw_check import compare_mmck_with_ciw
from ha_toolkit.apiserver.queues import erlang_b, erlang_b_max_load, erlang_c, mmc, mmck

RTOL = 1e-10


# ----------------------------------------------------------------- independent references
def erlang_b_recursion(c: int, A: Fraction) -> Fraction:
    """Erlang B by the textbook recursion, in exact rational arithmetic."""
    b = Fraction(1)
    for n in range(1, c + 1):
        b = A * b / (n + A * b)
    return b


class DirectSum:
    """M/M/c/K by direct summation of the stationary distribution in mpmath (60 digits)."""

    def __init__(self, lam, mu, c, K):
        with mp.workdps(60):
            lam, mu = mp.mpf(lam), mp.mpf(mu)
            A = lam / mu
            p = [mp.mpf(1)]
            for n in range(1, K + 1):
                p.append(p[-1] * A / min(n, c))
            Z = mp.fsum(p)
            self.p = [x / Z for x in p]
        self.lam, self.mu, self.c, self.K = lam, mu, c, K
        self.accepted = 1 - self.p[K]

    @property
    def blocking(self):
        return self.p[self.K]

    @property
    def utilization(self):
        return self.lam / self.mu * self.accepted / self.c

    @property
    def wait_probability(self):
        with mp.workdps(60):
            return mp.fsum(self.p[self.c : self.K]) / self.accepted

    @property
    def mean_wait(self):
        c, mu = self.c, self.mu
        with mp.workdps(60):
            s = mp.fsum(self.p[n] * (n - c + 1) for n in range(c, self.K))
            return s / self.accepted / (c * mu)

    def wait_sf(self, t):
        c, x = self.c, self.c * self.mu * mp.mpf(t)
        with mp.workdps(40):
            s = mp.fsum(
                self.p[n] * mp.gammainc(n - c + 1, x, mp.inf, regularized=True)
                for n in range(c, self.K)
            )
            return s / self.accepted

    def response_sf(self, t):
        """P(S > t) + int_0^t mu e^{-mu u} P(W > t - u) du, by quadrature."""
        t, mu = mp.mpf(t), self.mu
        with mp.workdps(30):
            conv = mp.quad(lambda u: mu * mp.exp(-mu * u) * self.wait_sf(t - u), [0, t])
            return mp.exp(-mu * t) + conv


def close(a, b, rtol=RTOL):
    a, b = float(a), float(b)
    return abs(a - b) <= rtol * abs(b)


# ---------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("A", [0.0, 1e-6, 0.3, 1.0, 2.5, 17.0, 1e4])
def test_erlang_b_small_c_closed_forms(A):
    assert erlang_b(1, A) == pytest.approx(A / (1 + A), rel=1e-14, abs=0)
    assert erlang_b(2, A) == pytest.approx(A**2 / 2 / (1 + A + A**2 / 2), rel=1e-14, abs=0)


@pytest.mark.parametrize("c", [1, 2, 3, 7, 30, 120])
@pytest.mark.parametrize("A", ["1/7", "3/2", "29/3", "50", "400"])
def test_erlang_b_against_exact_recursion(c, A):
    exact = erlang_b_recursion(c, Fraction(A))
    assert close(erlang_b(c, float(Fraction(A))), exact)


@pytest.mark.parametrize("b", [1e-6, 0.01, 0.5, 0.99])
def test_erlang_b_max_load_inverts_erlang_b(b):
    # c = 1: B = A / (1 + A), so A = b / (1 - b)
    assert erlang_b_max_load(1, b) == pytest.approx(b / (1 - b), rel=1e-12)
    c = np.array([2, 10, 200, 400, 5000])
    A = erlang_b_max_load(c, b)
    for ci, Ai in zip(c, A, strict=True):
        with mp.workdps(40):  # the recursion in 40-digit arithmetic
            x = mp.mpf(1)
            for n in range(1, int(ci) + 1):
                x = Ai * x / (n + Ai * x)
        assert float(x) == pytest.approx(b, rel=1e-9)
    with pytest.raises(ValueError, match="blocking"):
        erlang_b_max_load(4, 0.0)


@pytest.mark.parametrize("A", [0.1, 0.5, 0.9, 0.999])
def test_erlang_c_small_c_closed_forms(A):
    assert erlang_c(1, A) == pytest.approx(A, rel=1e-13)
    assert erlang_c(2, 2 * A) == pytest.approx((2 * A) ** 2 / (2 + 2 * A), rel=1e-13)


@pytest.mark.parametrize(("c", "A"), [(3, "5/2"), (10, "9"), (50, "99/2"), (150, "140")])
def test_erlang_c_is_b_over_one_minus_rho_times_one_minus_b(c, A):
    B = erlang_b_recursion(c, Fraction(A))
    C = B / (1 - Fraction(A) / c * (1 - B))
    assert close(erlang_c(c, float(Fraction(A))), C)


@pytest.mark.parametrize(("lam", "K"), [(0.3, 1), (0.8, 5), (1.0, 6), (2.5, 4), (40.0, 30)])
def test_mm1k_closed_form(lam, K):
    mu, rho = 1.0, lam
    if rho == 1.0:
        p = [1 / (K + 1)] * (K + 1)
    else:
        p = [(1 - rho) * rho**n / (1 - rho ** (K + 1)) for n in range(K + 1)]
    r = mmck(lam, mu, 1, K)
    assert r.blocking_probability == pytest.approx(p[K], rel=1e-12)
    assert r.throughput == pytest.approx(lam * (1 - p[K]), rel=1e-12)
    assert r.utilization == pytest.approx(1 - p[0], rel=1e-12)
    # mean number waiting sum (n - 1) p_n, by Little on accepted requests
    lq = sum((n - 1) * p[n] for n in range(1, K + 1))
    assert r.mean_queue_length == pytest.approx(lq, rel=1e-12)


def test_mm1_wait_and_response_closed_forms():
    lam, mu = 0.7, 1.0
    r = mmc(lam, mu, 1)
    t = np.array([0.0, 0.3, 1.0, 4.0, 20.0])
    assert r.mean_wait == pytest.approx(lam / mu / (mu - lam), rel=1e-13)
    assert r.wait_sf(t) == pytest.approx(lam * np.exp(-(mu - lam) * t), rel=1e-13)
    assert r.response_sf(t) == pytest.approx(np.exp(-(mu - lam) * t), rel=1e-12)
    q = 0.99
    assert r.wait_quantile(q) == pytest.approx(math.log(lam / (1 - q)) / (mu - lam), rel=1e-12)
    assert r.response_quantile(q) == pytest.approx(-math.log(1 - q) / (mu - lam), rel=1e-10)


@pytest.mark.parametrize(
    ("lam", "mu", "c"), [(3.0, 1.0, 4), (2.0, 1.0, 4), (18.0, 0.5, 40), (380.0, 1.0, 400)]
)
def test_mmc_wait_is_erlang_c_times_exponential(lam, mu, c):
    A = Fraction(lam) / Fraction(mu)
    B = erlang_b_recursion(c, A)
    C = float(B / (1 - A / c * (1 - B)))
    r = mmc(lam, mu, c)
    t = np.array([0.0, 0.1, 1.0, 5.0])
    assert r.wait_probability == pytest.approx(C, rel=1e-12)
    assert r.wait_sf(t) == pytest.approx(C * np.exp(-(c * mu - lam) * t), rel=1e-11)
    assert r.mean_wait == pytest.approx(C / (c * mu - lam), rel=1e-12)
    # response given waiting is Exp(c mu - lambda) + Exp(mu): hypoexponential
    th = c * mu - lam
    if th == mu:  # Gamma(2, mu)
        hypo = np.exp(-mu * t) * (1 + mu * t)
    else:
        hypo = (th * np.exp(-mu * t) - mu * np.exp(-th * t)) / (th - mu)
    expected = (1 - C) * np.exp(-mu * t) + C * hypo
    assert r.response_sf(t) == pytest.approx(expected, rel=1e-10)


# ----------------------------------------------------- extended-precision direct summation
DIRECT_CASES = [
    (3.0, 1.0, 4, 10),
    (0.5, 2.0, 1, 1),
    (1e-9, 1.0, 5, 8),  # load -> 0
    (390.0, 1.0, 400, 600),
    (400.0, 1.0, 400, 1000),  # rho = 1
    (399.9, 1.0, 400, 1400),
    (5000.0, 1.0, 400, 600),  # far above capacity with a waiting room
    (1e5, 1.0, 400, 400),  # loss system, 250 x overloaded
    (1e4, 2.0, 3, 50),
    (1900.0, 1.0, 2000, 2100),
    (2000.0, 1.0, 2000, 2000),
]


@pytest.fixture(scope="module")
def direct():
    cache = {}

    def get(case):
        if case not in cache:
            cache[case] = DirectSum(*case)
        return cache[case]

    return get


@pytest.mark.parametrize("case", DIRECT_CASES)
def test_mmck_against_direct_summation(case, direct):
    ref = direct(case)
    r = mmck(*case)
    assert close(r.blocking_probability, ref.blocking)
    assert close(r.utilization, ref.utilization)
    assert close(r.throughput, ref.lam * ref.accepted)
    assert close(r.wait_probability, ref.wait_probability)
    assert close(r.mean_wait, ref.mean_wait)
    mw = float(ref.mean_wait)
    for t in (0.0, 0.5 * mw, 2.0 * mw, 6.0 * mw):
        expected = ref.wait_sf(t)
        if expected > 1e-250:
            assert close(r.wait_sf(t), expected), t


@pytest.mark.parametrize(
    "case", [(3.0, 1.0, 4, 10), (0.8, 1.0, 1, 6), (2.5, 2.0, 2, 5), (300.0, 1.0, 20, 40)]
)
def test_response_sf_against_convolution_quadrature(case, direct):
    ref = direct(case)
    r = mmck(*case)
    for t in (0.1, 1.0, 3.0, 8.0):
        assert close(r.response_sf(t), ref.response_sf(t)), t


def test_erlang_b_at_one_hundred_thousand_servers_against_mpmath_recursion():
    c, A = 100_000, 99_000.0
    with mp.workdps(30):
        b = mp.mpf(1)
        for n in range(1, c + 1):
            b = A * b / (n + A * b)
    assert close(erlang_b(c, A), b)


# ------------------------------------------------------------------ extremes, stability
def test_no_overflow_or_nan_at_one_hundred_thousand_servers():
    c = 100_000
    loads = np.array([0.0, 1e-300, 1e-5, 5e4, 9.9e4, 99_999.0, 1e5, 1.0001e5, 1.1e5, 1e6, 1e12])
    for K in (c, c + 10, 2 * c):
        r = mmck(loads, 1.0, c, K)
        values = [
            r.blocking_probability,
            r.utilization,
            r.throughput,
            r.wait_probability,
            r.mean_wait,
            r.wait_sf(1e-4),
            r.response_sf(1.0),
        ]
        for v in values:
            assert np.all(np.isfinite(v))
            assert np.all(v >= 0)
        assert np.all(r.utilization <= 1.0)
    stable = loads[loads < c]
    r = mmc(stable, 1.0, c)
    assert np.all(np.isfinite(r.mean_wait)) and np.all(np.isfinite(r.wait_quantile(0.99)))
    # heavy overload of a loss system: blocking -> 1 - c/A, throughput -> c mu
    r = mmck(1e12, 1.0, c, c)
    assert r.throughput == pytest.approx(c, rel=1e-6)
    assert 1 - r.blocking_probability == pytest.approx(c / 1e12, rel=1e-6)


def test_load_to_zero_limits():
    lam = np.array([1e-12, 1e-8])
    r = mmck(lam, 1.0, 3, 10)
    assert np.all(r.blocking_probability < 1e-30)
    assert r.utilization == pytest.approx(lam / 3, rel=1e-12)
    assert r.throughput == pytest.approx(lam, rel=1e-12)
    zero = mmck(0.0, 1.0, 3, 10)
    assert zero.blocking_probability == 0 and zero.mean_wait == 0 and zero.throughput == 0
    assert zero.wait_quantile(0.99) == 0
    assert zero.response_sf(1.0) == pytest.approx(math.exp(-1.0), rel=1e-14)


def test_far_above_capacity_with_a_waiting_room():
    # every server busy, queue full: blocking -> 1 - c mu / lambda, waits -> w / (c mu)
    c, w = 50, 200
    r = mmck(1e9, 1.0, c, c + w)
    assert r.throughput == pytest.approx(c, rel=1e-9)
    assert r.wait_probability == pytest.approx(1.0, abs=1e-12)
    assert r.mean_wait == pytest.approx(w / c, rel=1e-6)
    # given w requests ahead the wait is Gamma(w, c mu)
    t = np.array([3.5, 4.0, 4.5])
    assert r.wait_sf(t) == pytest.approx(stats.gamma(w, scale=1 / c).sf(t), rel=1e-6)


# ---------------------------------------------------------------- quantiles, broadcasting
@pytest.mark.parametrize(
    "case", [(3.0, 1.0, 4, 10), (0.8, 1.0, 1, 6), (30.0, 1.0, 20, 40), (5000.0, 1.0, 400, 600)]
)
def test_quantiles_invert_the_survival_functions(case):
    r = mmck(*case)
    for q in (0.9, 0.99, 0.999):
        tw = r.wait_quantile(q)
        if q > 1 - r.wait_probability:
            assert r.wait_sf(tw) == pytest.approx(1 - q, rel=1e-9)
        else:
            assert tw == 0
        tr = r.response_quantile(q)
        assert r.response_sf(tr) == pytest.approx(1 - q, rel=1e-9)
    assert r.wait_quantile(1.0) == np.inf and r.response_quantile(0.0) == 0


def test_wait_quantile_is_zero_below_the_waiting_atom():
    r = mmck(1.0, 1.0, 4, 8)
    assert r.wait_quantile(0.5) == 0.0
    assert r.wait_quantile(1 - r.wait_probability / 2) > 0


def test_broadcasting_matches_pointwise_results():
    lam = np.array([[1.0], [3.0], [5.0]])
    c = np.array([2, 4])
    K = np.array([4, 10])
    r = mmck(lam, 1.0, c, K)
    assert r.shape == (3, 2)
    grid_q = r.wait_quantile(0.95)
    grid_sf = r.response_sf(1.5)
    for i in range(3):
        for j in range(2):
            one = mmck(float(lam[i, 0]), 1.0, int(c[j]), int(K[j]))
            assert r.blocking_probability[i, j] == pytest.approx(one.blocking_probability)
            assert r.mean_wait[i, j] == pytest.approx(one.mean_wait)
            assert grid_q[i, j] == pytest.approx(one.wait_quantile(0.95), rel=1e-9)
            assert grid_sf[i, j] == pytest.approx(one.response_sf(1.5), rel=1e-12)
    assert mmck(3.0, 1.0, 4, 10).wait_sf([0.0, 1.0, 2.0]).shape == (3,)


def test_to_frame():
    r = mmck(np.array([1.0, 3.0]), 1.0, 4, np.array([4, 10]))
    frame = r.to_frame(quantiles=(0.5, 0.99))
    assert len(frame) == 2
    for col in ("blocking_probability", "utilization", "throughput", "mean_wait", "p99_wait"):
        assert col in frame.columns
    assert list(frame["p99_response"]) == pytest.approx(list(r.response_quantile(0.99)))
    assert list(frame["service_time"]) == [1.0, 1.0]


# ------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"arrival_rate": -1.0}, "arrival_rate"),
        ({"arrival_rate": np.nan}, "arrival_rate"),
        ({"service_rate": 0.0}, "service_rate"),
        ({"service_rate": -2.0}, "service_rate"),
        ({"servers": 0}, "servers"),
        ({"servers": 2.5}, "servers"),
        ({"servers": True}, "servers"),
        ({"capacity": 3}, "capacity"),
        ({"capacity": 4.5}, "capacity"),
        ({"capacity": None, "arrival_rate": 4.0}, "arrival_rate"),
    ],
)
def test_bad_inputs_name_the_parameter(kwargs, match):
    args = {"arrival_rate": 1.0, "service_rate": 1.0, "servers": 4, "capacity": 8, **kwargs}
    with pytest.raises(ValueError, match=match):
        mmck(**args)


def test_bad_inputs_of_the_erlang_functions_and_quantiles():
    with pytest.raises(ValueError, match="servers"):
        erlang_b(0, 1.0)
    with pytest.raises(ValueError, match="load"):
        erlang_b(3, -1.0)
    with pytest.raises(ValueError, match="load"):
        erlang_c(3, 3.0)
    with pytest.raises(ValueError, match="q must"):
        mmck(1.0, 1.0, 2, 4).wait_quantile(1.5)


# ------------------------------------------------------------------------ Ciw (simulation)
# (c, K, load); load A = lambda / mu with mu = 1. Near saturation: (4, 12, 3.9).
CIW_CASES = [(1, 5, 0.8), (3, 3, 2.5), (4, 12, 3.9), (2, 6, 3.0), (10, 20, 9.5)]


@pytest.mark.parametrize("case", CIW_CASES)
def test_mmck_agrees_with_ciw(case):
    c, K, load = case
    table = compare_mmck_with_ciw(
        c, K, load, horizon=8000.0, warmup=200.0, batches=20, level=0.999, seed=2024 + c + K
    )
    assert list(table["measure"]) == ["blocking", "mean wait", "P(W > t)", "P(R > t)"]
    outside = table[~table["inside"]]
    assert outside.empty, outside.to_string()


def test_ciw_comparison_rejects_bad_cases():
    with pytest.raises(ValueError, match="capacity"):
        compare_mmck_with_ciw(3, 2, 1.0, horizon=10.0, seed=1)
    with pytest.raises(ValueError, match="batches"):
        compare_mmck_with_ciw(3, 5, 1.0, horizon=10.0, seed=1, batches=1)


@pytest.mark.parametrize("load", [0.999, 1.0, 1.001])
def test_wait_sf_of_a_long_queue_is_the_direct_sum_over_positions(load):
    # P(W > t) = sum_j p_j Q(j + 1, c mu t) over the waiting positions, summed directly
    c, K, mu = 3, 2_000, 1.0
    r = mmck(load * c * mu, mu, c, K)
    n = np.arange(K + 1)
    log_p = np.where(n < c, n * np.log(load * c) - sc.gammaln(n + 1), 0.0)
    log_p = np.where(
        n >= c, c * np.log(load * c) - sc.gammaln(c + 1) + (n - c) * np.log(load), log_p
    )
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    for t in (1.0, 100.0, 600.0):
        waiting = n[(n >= c) & (n < K)]
        direct = np.sum(p[waiting] * sc.gammaincc(waiting - c + 1, c * mu * t)) / (1 - p[K])
        assert r.wait_sf(t) == pytest.approx(direct, rel=1e-9)


def test_p99_wait_of_a_million_places_near_load_one_matches_mm1():
    # rho^(10^6) = e^-1000: the finite queue is M/M/1, P(W > t) = rho e^{-(mu - lambda) t}
    r = mmck(0.999, 1.0, 1, 1_000_000)
    assert r.wait_quantile(0.99) == pytest.approx(math.log(100 * 0.999) / 0.001, rel=1e-9)
