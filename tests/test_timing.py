"""Exact failover timing against closed forms and the event-by-event Monte Carlo oracle."""

import math
import zlib
from dataclasses import replace

import numpy as np
import pytest

from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.simulate import simulate_failover
from ha_toolkit.election.timing import failover, lattice_step

DEFAULTS = ElectionConfig(15, 10, 2)

# The six-plus configurations of the acceptance: defaults, OpenShift, no jitter, one and four
# followers, latency, and a lease that is not a whole number of seconds.
ORACLE_CASES = {
    "defaults": DEFAULTS,
    "openshift": ElectionConfig(137, 107, 26),
    "no-jitter": replace(DEFAULTS, jitter_factor=0.0),
    "one-follower": replace(DEFAULTS, candidates=2),
    "four-followers": replace(DEFAULTS, candidates=5),
    "latency": replace(DEFAULTS, api_latency=0.25),
    "odd": ElectionConfig(15.7, 9, 2.3, api_latency=0.05, candidates=2),
}
N_TRIALS = 100_000


@pytest.fixture(scope="module")
def oracle():
    cache = {}

    def run(name, scenario):
        key = (name, scenario)
        if key not in cache:
            seed = zlib.crc32(repr(key).encode())  # stable across processes, unlike hash()
            cfg = ORACLE_CASES[name]
            cache[key] = simulate_failover(cfg, scenario, N_TRIALS, np.random.default_rng(seed))
        return cache[key]

    return run


@pytest.mark.parametrize("scenario", ["crash", "release"])
@pytest.mark.parametrize("name", list(ORACLE_CASES))
def test_exact_model_agrees_with_the_oracle(name, scenario, oracle):
    d = failover(ORACLE_CASES[name], scenario)
    sample = oracle(name, scenario)
    n = sample.size
    # 1 % critical value of the KS distance for n draws; the lattice adds < 1e-3.
    assert d.ks_distance(sample) < 1.63 / math.sqrt(n) + 1e-3
    # the mean, within 4 standard errors of the sample mean
    assert d.mean() == pytest.approx(sample.mean(), abs=4 * sample.std() / math.sqrt(n))
    # p99: the share of draws below the model's p99 is 0.99 within 4 binomial s.e.
    share = np.mean(sample <= d.ppf(0.99))
    assert share == pytest.approx(0.99, abs=4 * math.sqrt(0.99 * 0.01 / n))


def test_release_one_follower_without_jitter_is_uniform_over_the_retry_period():
    cfg = ElectionConfig(15, 10, 2, jitter_factor=0, candidates=2)
    d = failover(cfg, "release")
    x = np.linspace(0, 2, 21)
    np.testing.assert_allclose(d.cdf(x), x / 2, atol=1e-12)


def test_release_min_of_followers_without_jitter():
    cfg = ElectionConfig(15, 10, 2, jitter_factor=0, candidates=4)
    d = failover(cfg, "release")
    x = np.linspace(0, 2, 21)
    np.testing.assert_allclose(d.cdf(x), 1 - (1 - x / 2) ** 3, atol=1e-12)
    # exact at lattice points; inside a cell the product of survivals is taken as linear
    assert d.mean() == pytest.approx(2 / 4, rel=1e-4)


def test_release_adds_the_releases_get_and_update_and_the_followers_calls():
    cfg = ElectionConfig(15, 10, 2, jitter_factor=0, candidates=2, api_latency=0.1)
    d = failover(cfg, "release")
    # the release's GET + Update commit at 1.5 l, read by attempts from l on; next attempt:
    # uniform over the follower's period RP + l; then its GET + Update = 2 l: 3 l in all
    x = np.linspace(0.3, 2.4, 22)
    np.testing.assert_allclose(d.cdf(x), np.clip((x - 0.3) / 2.1, 0, 1), atol=1e-9)


def test_crash_one_follower_without_jitter_when_lease_is_whole_periods():
    # Follower polls every RP; it sees the last renewal R ~ U[0, RP) after it was written and
    # acquires exactly LD later (LD a multiple of RP): T = LD + R - phi, phi ~ U[0, RP).
    cfg = ElectionConfig(16, 10, 2, jitter_factor=0, candidates=2)
    d = failover(cfg, "crash")
    x = np.linspace(14, 18, 41)
    # R - phi is triangular on (-2, 2)
    y = (x - 16 + 2) / 2
    expected = np.where(y <= 1, y**2 / 2, 1 - (2 - y) ** 2 / 2)
    np.testing.assert_allclose(d.cdf(x), np.clip(expected, 0, 1), atol=1e-9)


def test_crash_without_jitter_overshoots_to_the_next_poll():
    # LD = 15 with polls every 2 s: the acquiring poll is 16 s after the observing one.
    cfg = ElectionConfig(15, 10, 2, jitter_factor=0, candidates=2)
    assert failover(cfg, "crash").mean() == pytest.approx(16.0, rel=1e-9)


def test_followers_use_the_whole_seconds_stored_in_the_lease():
    truncated = failover(ElectionConfig(15.9, 10, 2), "crash")
    whole = failover(ElectionConfig(15, 10, 2), "crash")
    assert truncated.mean() == pytest.approx(whole.mean(), rel=1e-9)


def test_more_candidates_fail_over_sooner():
    p99 = [failover(replace(DEFAULTS, candidates=k)).ppf(0.99) for k in (2, 3, 5, 9)]
    assert all(a > b for a, b in zip(p99, p99[1:], strict=False))


def test_worst_case_exceeds_openshift_hand_arithmetic():
    # OpenShift's comment: worst non-graceful acquisition LD + RP = 163 s. The follower may
    # read the last renewal up to (1+J) RP after it and overshoot LD by up to (1+J) RP.
    cfg = ElectionConfig(137, 107, 26)
    d = failover(cfg, "crash")
    assert d.sf(163.0) > 0.05
    bound = 137 + 2 * 2.2 * 26
    assert d.support()[1] <= bound + lattice_step(cfg)
    assert d.cdf(bound) == pytest.approx(1.0, abs=1e-12)


def test_lattice_is_fine_enough():
    # halving the step moves mean and p99 by far less than 0.1 %
    for cfg in (DEFAULTS, ORACLE_CASES["openshift"], ORACLE_CASES["odd"]):
        h = lattice_step(cfg)
        coarse, fine = failover(cfg, step=h), failover(cfg, step=h / 2)
        assert coarse.mean() == pytest.approx(fine.mean(), rel=1e-4)
        assert coarse.ppf(0.99) == pytest.approx(fine.ppf(0.99), rel=1e-4)


@pytest.mark.parametrize(
    ("cfg", "scenario", "match"),
    [
        (replace(DEFAULTS, candidates=1), "crash", "candidates >= 2"),
        (DEFAULTS, "explode", "scenario must be one of"),
    ],
)
def test_bad_requests(cfg, scenario, match):
    with pytest.raises(ValueError, match=match):
        failover(cfg, scenario)


# ---------------------------------------------------------------- the Python client's flavour
def test_python_client_crash_by_hand():
    # One follower polling every RP + l = 2.25 s (sleep after each GET), its own LD of 16 s;
    # the leader renews every RP + 2 l = 2.5 s (GET and Update). The follower reads the last
    # renewal R ~ U[0, 2.25) after it, acquires at its first poll at least LD + l = 16.25 s
    # after that read: 8 polls = 18 s, an overshoot of 1.75 s; then GET and Update.
    # T = LD + 2.5 l + R + 1.75 - phi, phi ~ U[0, 2.5).
    cfg = ElectionConfig(16, 10, 2, candidates=2, api_latency=0.25, client="python")
    d = failover(cfg, "crash")
    # the phase spans 2.5 s, not a whole number of the lattice steps of 2.25 s: 1e-5
    assert d.mean() == pytest.approx(16 + 0.625 + 1.125 + 1.75 - 1.25, abs=1e-5)
    expected = (16 + 0.625 + 1.75 - 2.5, 16 + 0.625 + 1.75 + 2.25)
    assert d.support() == pytest.approx(expected, abs=lattice_step(cfg))


def test_python_client_has_no_release():
    cfg = ElectionConfig(15, 10, 2, client="python")
    with pytest.raises(ValueError, match="never releases"):
        failover(cfg, "release")


@pytest.mark.parametrize("candidates", [2, 4])
def test_python_client_flavour_agrees_with_the_oracle(candidates):
    cfg = ElectionConfig(15.5, 10, 2, candidates=candidates, api_latency=0.1, client="python")
    sample = simulate_failover(cfg, "crash", N_TRIALS, np.random.default_rng(candidates))
    d = failover(cfg, "crash")
    assert d.ks_distance(sample) < 1.63 / math.sqrt(sample.size) + 1e-3
    assert d.mean() == pytest.approx(sample.mean(), abs=4 * sample.std() / math.sqrt(N_TRIALS))
