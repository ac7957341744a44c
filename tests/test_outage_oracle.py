"""Exact outage, overlap and leaderless models against the call-by-call Monte Carlo oracle.

Tolerances come from the sample sizes (binomial and Kolmogorov-Smirnov bounds at about the
1e-4 level); benchmarks/validate_outage.py repeats the comparison with 10^6 trials.
"""

import math
from dataclasses import replace

import numpy as np
import pytest

from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.outage import leaderless_after_outage, outage_survival
from ha_toolkit.election.overlap import term_overlap
from ha_toolkit.election.simulate import simulate_outage, simulate_partition

DEFAULTS = ElectionConfig(15, 10, 2)
CASES = {
    "defaults": DEFAULTS,
    "openshift": ElectionConfig(137, 107, 26),
    "latency": replace(DEFAULTS, api_latency=0.2),
    "no-jitter": replace(DEFAULTS, jitter_factor=0.0),
    "four-followers": replace(DEFAULTS, candidates=5),
    "odd": ElectionConfig(15.7, 9, 2.3, api_latency=0.05, candidates=2),
}
TRIALS = 60_000


def seed_of(*parts):
    return [sum(map(ord, str(p))) for p in parts]


@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
@pytest.mark.parametrize("name", list(CASES))
def test_survival_matches_the_oracle(name, mode):
    cfg = CASES[name]
    first = outage_survival(cfg, 0.0, mode)
    lo, hi = first.min_tolerated_outage, first.max_tolerated_outage
    # lengths across the whole transition, and one on either side
    lengths = np.array([lo - 1.0, lo + 0.25 * (hi - lo), lo + 0.5 * (hi - lo), hi - 0.1, hi + 1])
    lengths = np.clip(lengths, 0.0, None)
    per_length = TRIALS // lengths.size
    drawn = np.repeat(lengths, per_length)
    rng = np.random.default_rng(seed_of(name, mode))
    sim = simulate_outage(cfg, drawn, mode, drawn.size, rng)
    for length in lengths:
        observed = sim.survived[drawn == length].mean()
        expected = outage_survival(cfg, float(length), mode).survival_probability
        tolerance = 4.5 * math.sqrt(max(expected * (1 - expected), 1e-4) / per_length)
        assert observed == pytest.approx(expected, abs=tolerance), length


@pytest.mark.parametrize(
    ("name", "ratio"),
    [("defaults", 1.0), ("defaults", 1.5), ("latency", 1.3), ("openshift", 1.2), ("odd", 1.4)],
)
def test_overlap_matches_the_oracle(name, ratio):
    cfg = CASES[name]
    sample = simulate_partition(cfg, ratio, TRIALS, np.random.default_rng(seed_of(name, ratio)))
    exact = term_overlap(cfg, ratio)
    assert exact.ks_distance(sample) < 1.95 / math.sqrt(sample.size) + 1e-3
    assert exact.mean() == pytest.approx(sample.mean(), abs=4.5 * sample.std() / math.sqrt(TRIALS))


@pytest.mark.parametrize(
    ("name", "mode", "outage"),
    [
        ("defaults", "refuse", 20.0),
        ("defaults", "refuse", 12.0),
        ("defaults", "blackhole", 20.0),
        ("latency", "blackhole", 25.0),
        ("openshift", "refuse", 140.0),
    ],
)
def test_leaderless_time_matches_the_oracle(name, mode, outage):
    cfg = CASES[name]
    rng = np.random.default_rng(seed_of(name, mode, outage))
    sim = simulate_outage(cfg, outage, mode, TRIALS, rng)
    lost = ~sim.survived
    sample = (sim.new_leader_at - sim.lost_at)[lost]
    assert np.all(np.isfinite(sample))
    exact = leaderless_after_outage(cfg, outage, mode)
    assert exact.ks_distance(sample) < 1.95 / math.sqrt(sample.size) + 2e-3
    se = sample.std() / math.sqrt(sample.size)
    assert exact.mean() == pytest.approx(sample.mean(), abs=4.5 * se)
