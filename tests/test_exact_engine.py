"""The exact failover at any scale: one-pass renewal solve, lattice chosen by accuracy.

Checked against a brute force of the acquire loops that shares no code with the model
(``bruteforce_failover.py``), against the renewal measure summed convolution by convolution,
and by halving the lattice step over random configurations across the valid range.
"""

import math
import warnings

import numpy as np
import pytest
from bruteforce_failover import brute_force_failover

from ha_toolkit.distribution import point, renewal_measure, renewal_overshoot, uniform
from ha_toolkit.election import ElectionConfig, failover, timing
from ha_toolkit.election.timing import follower_overshoot, lattice_step

TRIALS = 40_000


def _brute(cfg, n, seed):
    return brute_force_failover(
        cfg.record_lease_duration,
        cfg.retry_period,
        cfg.jitter_factor,
        cfg.followers,
        cfg.api_latency,
        n,
        np.random.default_rng(seed),
    )


def _agrees(dist, sample):
    """Mean within 4 standard errors; p50/p90/p99 within 4 asymptotic quantile s.e."""
    n = sample.size
    se_mean = sample.std() / math.sqrt(n)
    assert dist.mean() == pytest.approx(sample.mean(), abs=4 * se_mean + 1e-9)
    spread = max(dist.std(), 1e-12)
    for q in (0.5, 0.9, 0.99):
        x = float(dist.ppf(q))
        h = 0.02 * spread
        density = (dist.cdf(x + h) - dist.cdf(x - h)) / (2 * h)
        se_q = math.sqrt(q * (1 - q) / n) / max(density, 1e-300)
        # a density that the difference cannot see (an atom): fall back to the share below
        if not math.isfinite(se_q) or se_q > spread:
            share = np.mean(sample <= x + 1e-9 * abs(x))
            assert share >= q - 4 * math.sqrt(q * (1 - q) / n)
            continue
        assert x == pytest.approx(np.quantile(sample, q), abs=4 * se_q)
    assert dist.ks_distance(sample) < 1.63 / math.sqrt(n) + 1e-3


@pytest.mark.parametrize(
    "cfg",
    [
        ElectionConfig(101, 1, 0.5, jitter_factor=0.001, candidates=2),
        ElectionConfig(101, 1, 0.5, jitter_factor=1e-9, candidates=2),
        ElectionConfig(101.3, 1, 0.5, jitter_factor=0.004, candidates=3, api_latency=0.01),
        ElectionConfig(15, 10, 2, candidates=5, api_latency=0.25),
        ElectionConfig(15, 10, 2, jitter_factor=0, candidates=3),
        ElectionConfig(40, 10, 0.3, jitter_factor=0.05, candidates=4),
    ],
    ids=["narrow", "1e-9", "narrow-latency", "latency", "no-jitter", "overlapping-clusters"],
)
def test_exact_agrees_with_the_brute_force(cfg):
    sample = _brute(cfg, TRIALS, seed=int(1000 * cfg.jitter_factor) + cfg.candidates)
    _agrees(failover(cfg), sample)


@pytest.mark.slow
@pytest.mark.parametrize(
    "cfg",
    [ElectionConfig(3600, 10, 2), ElectionConfig(3000, 2, 1)],
    ids=["1h-lease", "rp-ld-over-3000"],
)
def test_long_leases_agree_with_the_brute_force(cfg):
    _agrees(failover(cfg), _brute(cfg, 20_000, seed=7))


def test_narrow_jitter_is_not_blurred_by_the_lattice():
    # a whole number of periods to the expiry: the attempt after 202 periods always reaches
    # it, 202 jitters of at most 0.5 ms late, so the overshoot is at most 0.101 s
    cfg = ElectionConfig(101, 1, 0.5, jitter_factor=0.001, candidates=2)
    over = follower_overshoot(cfg, 101.0)
    assert over.support()[1] <= 0.101 + lattice_step(cfg)
    assert over.mean() == pytest.approx(202 * 0.00025, rel=1e-3)


def _random_configs(rng, count):
    configs = []
    while len(configs) < count:
        ld = 10 ** rng.uniform(0, math.log10(86400))
        rp = ld / 10 ** rng.uniform(math.log10(1.5), 5)
        rd = rng.uniform(1.21 * rp, ld)
        jitter = 10 ** rng.uniform(-9, 1) if rng.random() < 0.8 else float(rng.choice([0, 1.2]))
        latency = 0.0 if rng.random() < 0.5 else rp * 10 ** rng.uniform(-3, 0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cfg = ElectionConfig(
                    ld,
                    rd,
                    rp,
                    jitter_factor=jitter,
                    candidates=int(rng.integers(2, 51)),
                    api_latency=latency,
                )
        except ValueError:
            continue
        configs.append(cfg)
    return configs


def _halving_error(cfg):
    h = lattice_step(cfg)
    coarse, fine = failover(cfg, step=h), failover(cfg, step=h / 2)
    return (
        abs(coarse.mean() / fine.mean() - 1),
        abs(coarse.ppf(0.99) / fine.ppf(0.99) - 1),
    )


def test_step_halving_over_random_configurations():
    # jitter 1e-9..10, LD 1 s..1 day, LD/RP up to 1e5, 2-50 candidates, some latency
    for cfg in _random_configs(np.random.default_rng(20261201), 12):
        mean_err, p99_err = _halving_error(cfg)
        assert mean_err < 1e-4, cfg
        assert p99_err < 1e-4, cfg


@pytest.mark.slow
def test_step_halving_over_many_random_configurations():
    for cfg in _random_configs(np.random.default_rng(7), 150):
        mean_err, p99_err = _halving_error(cfg)
        assert mean_err < 1e-4, cfg
        assert p99_err < 1e-4, cfg


def test_the_1e9_jitter_config_no_longer_raises():
    d = failover(ElectionConfig(101, 1, 0.5, jitter_factor=1e-9, candidates=2))
    # 202 periods reach the expiry exactly: LDrec + R - phi, R and phi ~ U[0, 0.5)
    assert d.mean() == pytest.approx(101.0, abs=1e-3)


# ------------------------------------------------------------- the one-pass renewal solve
def _renewal_measure_by_convolutions(gap, level):
    """sum_k law(S_k) below the level, one convolution per renewal (the old loop)."""
    below = point(0.0, gap.step)
    parts = []
    while below.total > 1e-15:
        part, _ = below.split_at(level)
        parts.append(part)
        below = part + gap
    total = parts[0]
    for p in parts[1:]:
        total = total._like(total.t0, total.atoms, total.cells)  # copy
        t0, step = total.t0, total.step
        n = max(total.atoms.size, round((p.t0 - t0) / step) + p.atoms.size)
        atoms = np.zeros(n)
        cells = np.zeros(n - 1)
        atoms[: total.atoms.size] += total.atoms
        cells[: total.cells.size] += total.cells
        i = round((p.t0 - t0) / step)
        atoms[i : i + p.atoms.size] += p.atoms
        cells[i : i + p.cells.size] += p.cells
        total = total._like(t0, atoms, cells)
    return total


@pytest.mark.parametrize("width", [2.4, 0.3, 0.0])
def test_renewal_measure_is_the_sum_of_the_convolutions(width):
    h = 0.02
    gap = uniform(2.0, 2.0 + width, h, origin=0.0) if width else point(2.0, h)
    level = 15.0
    one_pass = renewal_measure(gap, level)
    summed = _renewal_measure_by_convolutions(gap, level)
    n = min(one_pass.atoms.size, summed.atoms.size)
    np.testing.assert_allclose(one_pass.atoms[:n], summed.atoms[:n], atol=1e-10)
    np.testing.assert_allclose(one_pass.cells[: n - 1], summed.cells[: n - 1], atol=1e-10)
    # the expected number of events below the level: elementary renewal bounds
    mean_gap = 2.0 + width / 2
    assert level / mean_gap <= one_pass.total <= level / mean_gap + (2.0 + width) / 2.0 + 1


def test_overshoot_of_a_uniform_gap_matches_monte_carlo_at_a_long_level():
    gap = uniform(1.0, 1.5, 0.005, origin=0.0)
    level = 60.3
    over = renewal_overshoot(gap, level)
    rng = np.random.default_rng(3)
    times = rng.uniform(1.0, 1.5, size=(50_000, 70)).cumsum(axis=1)
    first = (times >= level).argmax(axis=1)
    sample = times[np.arange(times.shape[0]), first] - level
    assert over.ks_distance(sample) < 1.63 / math.sqrt(sample.size) + 1e-3


def test_cluster_arithmetic_matches_the_renewal_solve_where_both_apply():
    # 40 s of 0.3 s periods with 5 % jitter: overlapping clusters, not yet mixed
    cfg = ElectionConfig(40, 10, 0.3, jitter_factor=0.05, candidates=2)
    level = 40.0
    fine = timing._on_period(cfg, cfg.jitter_factor * cfg.retry_period / 64)
    solved = renewal_overshoot(timing.follower_gap(cfg, fine), level)
    clusters = timing._cluster_overshoot(cfg, level, fine)
    assert clusters.mean() == pytest.approx(solved.mean(), abs=2 * fine)
    assert clusters.ppf(0.9) == pytest.approx(solved.ppf(0.9), abs=2 * fine)
    assert clusters.ppf(0.5) == pytest.approx(solved.ppf(0.5), abs=2 * fine)


def test_mixed_limit_matches_the_renewal_solve():
    cfg = ElectionConfig(60, 10, 2, candidates=2)  # 25 gaps of 1.2 jitter: mixed
    fine = timing._on_period(cfg, 2.4 / 64)
    solved = renewal_overshoot(timing.follower_gap(cfg, fine), 60.0)
    mixed = follower_overshoot(cfg, 60.0, fine)
    assert mixed.mean() == pytest.approx(solved.mean(), abs=1e-4)
    assert mixed.ppf(0.99) == pytest.approx(solved.ppf(0.99), abs=2 * fine)
