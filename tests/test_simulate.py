"""Tests of the Monte Carlo failover oracle against closed forms that follow from the semantics.

Notation: RP retry period, J jitter factor, l API latency, LDrec the whole seconds of lease
duration stored in the record, P = RP + l the leader's renewal period. A follower's gap
between attempts is G = l + RP * (1 + J U), U ~ Uniform[0, 1).

Release (GET then Update, client-go >= 1.34): the release commits at c + 1.5 l; the first
follower GET served after it is the first attempt started at or after c + l, so failover =
3 l + (forward recurrence time of the follower's attempt process at c + l), which at
stationarity is the equilibrium residual of G.

Crash: let s be the leader's last commit before c and phi = c - s ~ Uniform[0, P). A follower
first reads the last record at its attempt p* with p* + l/2 = s + R, R the equilibrium residual
of G (independent of phi), sets observedTime = p* + l and takes the lease at its first attempt
p >= p* + l + LDrec, i.e. at p* + O where O is the first partial sum of fresh gaps that reaches
LDrec + l. So failover = min over followers of (R + O) + 1.5 l - phi. With J = 0 the gaps are
exactly P and O = ceil((LDrec + l) / P) * P.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from ha_toolkit.election import simulate as simulate_module
from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.simulate import simulate_failover

N = 100_000
P_MIN = 1e-3  # KS p-value below which a seeded comparison fails


def config(lease=15.0, renew=10.0, retry=2.0, jitter=1.2, candidates=2, latency=0.0):
    """Build a configuration with the test's defaults (one follower)."""
    return ElectionConfig(
        lease_duration=lease,
        renew_deadline=renew,
        retry_period=retry,
        jitter_factor=jitter,
        candidates=candidates,
        api_latency=latency,
    )


def equilibrium_residual_cdf(x, low, high):
    """CDF of the equilibrium residual of G ~ Uniform[low, high): (1/E G) int_0^x P(G > u) du."""
    x = np.clip(np.asarray(x, dtype=float), 0.0, high)
    below = np.minimum(x, low)
    inside = np.clip(x, low, high) - low
    width = high - low
    integral = below + inside - inside**2 / (2 * width)
    return integral / ((low + high) / 2)


def triangular_cdf(d, period):
    """CDF of R - phi for R, phi independent Uniform[0, period)."""
    d = np.clip(np.asarray(d, dtype=float), -period, period)
    return np.where(
        d < 0, (period + d) ** 2 / (2 * period**2), 1 - (period - d) ** 2 / (2 * period**2)
    )


def sample_equilibrium_residual(low, high, size, rng):
    """Draw equilibrium residuals of G ~ Uniform[low, high) as U * (length-biased G)."""
    length_biased = np.sqrt(low**2 + rng.random(size) * (high**2 - low**2))
    return rng.random(size) * length_biased


def sample_crash_by_renewal_theory(cfg, size, rng):
    """Draw crash failovers from the decomposition min(R + O) + 1.5 l - phi (module docstring)."""
    rp, jitter, lat = cfg.retry_period, cfg.jitter_factor, cfg.api_latency
    threshold = cfg.record_lease_duration + lat
    shape = (size, cfg.followers)
    residual = sample_equilibrium_residual(lat + rp, lat + rp * (1 + jitter), shape, rng)
    overshoot = np.zeros(shape)
    while np.any(short := overshoot < threshold):
        overshoot[short] += lat + rp * (1 + jitter * rng.random(np.count_nonzero(short)))
    phi = rng.uniform(0, rp + lat, size)
    return (residual + overshoot).min(axis=1) + 1.5 * lat - phi


def test_release_one_follower_without_jitter_is_uniform_over_the_period():
    cfg = config(jitter=0.0)
    x = simulate_failover(cfg, "release", N, np.random.default_rng(1))
    assert x.min() >= 0 and x.max() < cfg.retry_period
    assert stats.kstest(x, stats.uniform(0, cfg.retry_period).cdf).pvalue > P_MIN


@pytest.mark.parametrize("latency", [0.0, 0.25])
def test_release_one_follower_with_jitter_is_equilibrium_residual(latency):
    cfg = config(latency=latency)
    low, high = latency + cfg.retry_period, latency + cfg.retry_period * 2.2
    x = simulate_failover(cfg, "release", N, np.random.default_rng(2)) - 3 * latency
    assert x.min() >= -1e-9 and x.max() < high
    mean = (low**2 + low * high + high**2) / 3 / (low + high)  # E[G^2] / (2 E[G])
    assert abs(x.mean() - mean) < 4 * x.std() / math.sqrt(N)
    for point in (0.5 * low, low, 0.5 * (low + high)):
        expected = equilibrium_residual_cdf(point, low, high)
        tolerance = 4 * math.sqrt(expected * (1 - expected) / N)
        assert abs(np.mean(x <= point) - expected) < tolerance
    assert stats.kstest(x, lambda v: equilibrium_residual_cdf(v, low, high)).pvalue > P_MIN


def test_release_many_followers_without_jitter_is_min_of_uniforms():
    cfg = config(jitter=0.0, candidates=5)
    x = simulate_failover(cfg, "release", N, np.random.default_rng(3))
    rp = cfg.retry_period
    assert abs(x.mean() - rp / 5) < 4 * x.std() / math.sqrt(N)
    assert stats.kstest(x, lambda v: 1 - (1 - np.clip(v, 0, rp) / rp) ** 4).pvalue > P_MIN


def test_release_latency_adds_three_calls_and_lengthens_the_period():
    lat = 0.3
    cfg = config(jitter=0.0, latency=lat)
    x = simulate_failover(cfg, "release", N, np.random.default_rng(4))
    period = cfg.retry_period + lat
    assert x.min() >= 3 * lat - 1e-9 and x.max() < 3 * lat + period
    assert stats.kstest(x, stats.uniform(3 * lat, period).cdf).pvalue > P_MIN


@pytest.mark.parametrize(
    ("lease", "latency", "attempts"),
    [
        (16.0, 0.0, 8),  # LDrec a multiple of RP: the acquiring poll ties observedTime + LD
        (15.0, 0.0, 8),
        (15.9, 0.0, 8),  # record stores 15 s
        (15.0, 0.3, 7),  # P = 2.3, ceil(15.3 / 2.3) = 7
    ],
)
def test_crash_one_follower_without_jitter(lease, latency, attempts):
    cfg = config(lease=lease, jitter=0.0, latency=latency)
    period = cfg.retry_period + latency
    assert attempts == math.ceil((cfg.record_lease_duration + latency) / period)
    x = simulate_failover(cfg, "crash", N, np.random.default_rng(5))
    d = x - (attempts * period + 1.5 * latency)  # = R - phi
    assert np.all(np.abs(d) < period)
    assert abs(d.mean()) < 4 * d.std() / math.sqrt(N)
    assert stats.kstest(d, lambda v: triangular_cdf(v, period)).pvalue > P_MIN


@pytest.mark.parametrize(
    ("lease", "retry", "candidates", "latency"),
    [(15.0, 2.0, 2, 0.0), (15.0, 2.0, 4, 0.2), (137.0, 26.0, 3, 0.0)],
)
def test_crash_with_jitter_matches_renewal_decomposition(lease, retry, candidates, latency):
    cfg = config(
        lease=lease, renew=lease * 0.7, retry=retry, candidates=candidates, latency=latency
    )
    x = simulate_failover(cfg, "crash", N, np.random.default_rng(6))
    y = sample_crash_by_renewal_theory(cfg, N, np.random.default_rng(7))
    assert abs(x.mean() - y.mean()) < 4 * math.hypot(x.std(), y.std()) / math.sqrt(N)
    assert stats.ks_2samp(x, y).pvalue > P_MIN


def test_followers_use_the_whole_seconds_of_the_record():
    def run(lease):
        return simulate_failover(config(lease=lease), "crash", 20_000, np.random.default_rng(8))

    np.testing.assert_array_equal(run(15.9), run(15.0))
    assert run(16.0).mean() > run(15.0).mean()


def test_same_seed_same_result_and_chunking(monkeypatch):
    cfg = config(candidates=3)
    a = simulate_failover(cfg, "crash", 5_000, np.random.default_rng(9))
    b = simulate_failover(cfg, "crash", 5_000, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, simulate_failover(cfg, "crash", 5_000, np.random.default_rng(10)))
    monkeypatch.setattr(simulate_module, "CHUNK_TRIALS", 1_000)
    c = simulate_failover(cfg, "crash", 4_500, np.random.default_rng(11))
    assert c.shape == (4_500,) and np.all(np.isfinite(c))
    assert simulate_failover(cfg, "release", 1, np.random.default_rng(12)).shape == (1,)


def test_invalid_arguments():
    rng = np.random.default_rng(13)
    with pytest.raises(ValueError, match="scenario"):
        simulate_failover(config(), "outage", 10, rng)
    with pytest.raises(ValueError, match="candidates >= 2"):
        simulate_failover(config(candidates=1), "crash", 10, rng)
    with pytest.raises(ValueError, match="n_trials"):
        simulate_failover(config(), "crash", 0, rng)
    with pytest.raises(ValueError, match="warmup"):
        simulate_failover(config(), "crash", 10, rng, warmup=-1.0)


def test_follower_taking_the_lease_from_a_healthy_leader_is_an_error():
    # LD 0.9 s passes validation but the record stores 0 s: the first poll takes the lease.
    cfg = config(lease=0.9, renew=0.8, retry=0.5)
    with pytest.raises(RuntimeError, match="still renewing"):
        simulate_failover(cfg, "crash", 100, np.random.default_rng(14))
