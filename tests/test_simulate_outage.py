"""Tests of the Monte Carlo outage and partition oracle against facts derived by hand.

Notation: LD lease duration, LDrec its whole seconds in the record, RD renew deadline, RP retry
period, l API latency, tau = max(1, RD / 2) the lock client's HTTP timeout. All times are
relative to ``s``, the leader's last commit before the outage starts at ``o``; the phase
phi = o - s is Uniform[0, RP + l) (the outage start is independent of the leader's loop).

Leader side, refuse mode, l = 0: the failing cycle starts at t0 = s + RP; every attempt (fast
Update, then GET) returns at once, so attempts run on the ticks t0 + k RP with k RP < RD, and
the leader survives iff its last attempt t0 + RP * (ceil(RD / RP) - 1) is at or after o + T.
Defaults (15/10/2): attempts 2, 4, 6, 8, 10 s after s, survival iff T <= 10 - phi, so
P(survive) = clip((10 - T) / 2, 0, 1): always for T <= 8, never for T >= 10, linear between.
OpenShift (137/107/26): attempts 0, 26, 52, 78, 104 s after t0 = s + 26, P = clip((130 - T) / 26).

Blackhole, l = 0: the fast Update at t0 hangs tau; the GET that follows either succeeds (the
outage is over) or hangs until min(t0 + 2 tau, t0 + RD) = the deadline. So the leader survives
iff T <= RP + tau - phi: defaults P = clip((7 - T) / 2), OpenShift (tau = 53.5)
P = clip((79.5 - T) / 26).

Loss: the failing cycle's deadline, t0 + RD = s + RP + RD, i.e. lost_at = RP + RD - phi after o.

Followers (l = 0): a follower that read the last record s before o (its first read after s,
at s + R with R the equilibrium residual of its gap) takes the lease at its first read at or
after max(R + LDrec, o + T); one that did not reads s as a new record at its first read q
after the outage and can take the lease only at its first read at or after q + LDrec. The
leader is preempted iff such a read comes before its own renewal.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from ha_toolkit.election import simulate as simulate_module
from ha_toolkit.election.config import ElectionConfig, LeaseOverlapWarning
from ha_toolkit.election.simulate import (
    OutageSimulation,
    lock_client_timeout,
    simulate_outage,
    simulate_partition,
)

N = 20_000
P_MIN = 1e-3  # KS p-value below which a seeded comparison fails


def config(lease=15.0, renew=10.0, retry=2.0, candidates=3, latency=0.0, jitter=1.2):
    """Build a configuration; the overlap warning of short leases is expected and silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeaseOverlapWarning)
        return ElectionConfig(
            lease_duration=lease,
            renew_deadline=renew,
            retry_period=retry,
            candidates=candidates,
            api_latency=latency,
            jitter_factor=jitter,
        )


OPENSHIFT = config(lease=137.0, renew=107.0, retry=26.0)


def assert_probability(sample, expected, n=N):
    """A Bernoulli mean against its expected value: exact at 0 and 1, else 4.5 sigma."""
    observed = float(np.mean(sample))
    if expected in (0.0, 1.0):
        assert observed == expected
    else:
        assert abs(observed - expected) < 4.5 * math.sqrt(expected * (1 - expected) / n)


def sample_equilibrium_residual(low, high, size, rng):
    """Draw equilibrium residuals of G ~ Uniform[low, high) as U * (length-biased G)."""
    length_biased = np.sqrt(low**2 + rng.random(size) * (high**2 - low**2))
    return rng.random(size) * length_biased


def first_at_or_after(reads, t):
    """Per row, the first entry of the increasing rows of ``reads`` that is >= ``t``."""
    index = np.argmax(reads >= t[..., None], axis=-1)
    assert np.all(np.take_along_axis(reads, index[..., None], -1)[..., 0] >= t)
    return np.take_along_axis(reads, index[..., None], axis=-1)[..., 0]


def sample_refuse_outage_by_renewal_theory(cfg, outage, size, rng):
    """Draw (survived, preempted, new_leader_at) for refuse mode with l = 0 (module docstring)."""
    rp, rd, jitter = cfg.retry_period, cfg.renew_deadline, cfg.jitter_factor
    lease = cfg.record_lease_duration
    phi = rng.uniform(0.0, rp, size)
    attempts = rp + rp * np.arange(math.ceil(rd / rp))  # after s
    after = attempts[None, :] >= (phi + outage)[:, None]
    lost = ~after.any(axis=1)
    renewal = np.where(lost, np.inf, attempts[np.argmax(after, axis=1)])

    shape = (size, cfg.followers)
    gaps = math.ceil((rp + outage + 2 * lease) / rp) + 4
    residual = sample_equilibrium_residual(rp, rp * (1 + jitter), shape, rng)
    steps = rp * (1 + jitter * rng.random((*shape, gaps)))
    reads = residual[..., None] + np.concatenate(
        [np.zeros((*shape, 1)), np.cumsum(steps, axis=-1)], axis=-1
    )
    back = (phi + outage)[:, None] + np.zeros(shape)
    saw_last = residual < phi[:, None]
    stale = first_at_or_after(reads, np.maximum(residual + lease, back))
    fresh = first_at_or_after(reads, first_at_or_after(reads, back) + lease)
    taken = np.where(saw_last, stale, fresh).min(axis=1)
    preempted = ~lost & (taken < renewal)
    survived = ~lost & ~preempted
    new_leader_at = np.where(survived, np.nan, taken - phi)
    return survived, preempted, new_leader_at


def sample_partition_by_renewal_theory(cfg, rho, size, rng):
    """Draw overlaps rho (RP + RD) - l - min over followers of (R + O).

    The leader's last commit s is followed by its failing cycle at s + l/2 + rho RP, so it stops
    at s + l/2 + rho (RP + RD); a follower's acquiring Update returns at s + R + O + 1.5 l with
    R the equilibrium residual of its gap G = l + RP (1 + J U) and O the first partial sum of
    fresh gaps reaching LDrec + l (the crash decomposition of tests/test_simulate.py).
    """
    rp, jitter, lat = cfg.retry_period, cfg.jitter_factor, cfg.api_latency
    threshold = cfg.record_lease_duration + lat
    shape = (size, cfg.followers)
    residual = sample_equilibrium_residual(lat + rp, lat + rp * (1 + jitter), shape, rng)
    overshoot = np.zeros(shape)
    while np.any(short := overshoot < threshold):
        overshoot[short] += lat + rp * (1 + jitter * rng.random(np.count_nonzero(short)))
    return rho * (rp + cfg.renew_deadline) - lat - (residual + overshoot).min(axis=1)


# -------------------------------------------------------------------------------------------
# Leader side
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outage", [0.0, 3.0, 8.0, 8.5, 9.0, 9.7, 10.0, 11.0, 30.0])
def test_refuse_defaults_survival_is_linear_between_8_and_10_seconds(outage):
    res = simulate_outage(config(), outage, "refuse", N, np.random.default_rng(1))
    assert_probability(res.survived, float(np.clip((10.0 - outage) / 2.0, 0.0, 1.0)))


@pytest.mark.parametrize("outage", [2.0, 5.0, 5.5, 6.0, 6.8, 7.0, 9.0])
def test_blackhole_defaults_fast_update_hangs_tau_then_get_hangs_to_the_deadline(outage):
    cfg = config()
    assert lock_client_timeout(cfg) == 5.0
    res = simulate_outage(cfg, outage, "blackhole", N, np.random.default_rng(2))
    assert_probability(res.survived, float(np.clip((7.0 - outage) / 2.0, 0.0, 1.0)))


@pytest.mark.parametrize(
    ("mode", "outage", "expected"),
    [
        ("refuse", 78.0, 1.0),
        ("refuse", 104.0, 1.0),
        ("refuse", 110.0, 20.0 / 26.0),
        ("refuse", 125.0, 5.0 / 26.0),
        ("refuse", 130.0, 0.0),
        ("refuse", 131.0, 0.0),
        ("blackhole", 50.0, 1.0),
        ("blackhole", 53.5, 1.0),
        ("blackhole", 60.0, 19.5 / 26.0),
        ("blackhole", 79.5, 0.0),
        ("blackhole", 80.0, 0.0),
    ],
)
def test_openshift_attempt_schedule(mode, outage, expected):
    assert lock_client_timeout(OPENSHIFT) == 53.5
    res = simulate_outage(OPENSHIFT, outage, mode, N, np.random.default_rng(3))
    assert_probability(res.survived, expected)


@pytest.mark.parametrize(
    ("mode", "outage", "low", "high"),
    [("refuse", 11.0, 10.0, 12.0), ("refuse", 9.0, 10.0, 11.0), ("blackhole", 6.0, 10.0, 11.0)],
)
def test_loss_comes_at_the_failing_cycle_deadline(mode, outage, low, high):
    # lost_at = RP + RD - phi with phi ~ U(0, 2) conditioned on losing (phi > bound - T).
    res = simulate_outage(config(), outage, mode, N, np.random.default_rng(4))
    lost = res.lost_at[~res.survived]
    assert np.all(np.isnan(res.lost_at[res.survived]))
    assert lost.min() >= low - 1e-9 and lost.max() <= high + 1e-9
    assert stats.kstest(lost, stats.uniform(low, high - low).cdf).pvalue > P_MIN


@pytest.mark.parametrize(
    ("mode", "outage", "bound"),
    [
        ("refuse", 8.2, 10.4),
        ("refuse", 9.3, 10.4),
        ("blackhole", 5.0, 7.2),
        ("blackhole", 6.1, 7.2),
    ],
)
def test_latency_shifts_the_last_successful_action(mode, outage, bound):
    # l = 0.2: period 2.2, t0 = s + 2.1. Refuse: the last attempt (t0 + 8) GETs at t0 + 8.3,
    # so survival iff T <= 10.4 - phi. Blackhole: the GET after the hung Update acts at
    # t0 + 5.1, so survival iff T <= 7.2 - phi. phi ~ U(0, 2.2).
    res = simulate_outage(config(latency=0.2), outage, mode, N, np.random.default_rng(5))
    assert_probability(res.survived, float(np.clip((bound - outage) / 2.2, 0.0, 1.0)))


@pytest.mark.parametrize("outage", [5.0, 6.0, 8.0, 9.0, 9.5])
def test_a_tick_missed_during_a_long_attempt_fires_when_it_returns(outage):
    # l = 1.5 (period 3.5, t0 = s + 2.75): a failed attempt (Update then GET) takes 3 s, so
    # the ticks at t0 + 2, 4, 8 are pending when attempts return and they run at t0, t0 + 3,
    # t0 + 6, t0 + 9. The last Update that returns before the deadline t0 + 10 is the fast
    # path of t0 + 6 (acts at t0 + 6.75); t0 + 9's returns at t0 + 10.5 and is cancelled.
    # Survival iff T <= 9.5 - phi, phi ~ U(0, 3.5). (Without the pending tick, attempts at
    # t0, t0 + 4, t0 + 8 would give T <= 11.5 - phi.)
    res = simulate_outage(config(latency=1.5), outage, "refuse", N, np.random.default_rng(6))
    assert_probability(res.survived, float(np.clip((9.5 - outage) / 3.5, 0.0, 1.0)))


def test_outage_lengths_from_a_sampler_or_an_array():
    # T ~ U(6, 12): P = (1/6) * (2 * 1 + integral_8^10 (10 - T) / 2 dT) = (2 + 1) / 6 = 1/2.
    cfg = config()
    res = simulate_outage(
        cfg, lambda rng, size: rng.uniform(6, 12, size), "refuse", N, np.random.default_rng(7)
    )
    assert res.outage.min() >= 6 and res.outage.max() < 12
    assert_probability(res.survived, 0.5)
    expected = np.clip((10.0 - res.outage) / 2.0, 0.0, 1.0)
    short = res.outage < 9
    assert_probability(res.survived[short], float(expected[short].mean()), short.sum())
    lengths = np.repeat([8.0, 10.0], N // 2)
    fixed = simulate_outage(cfg, lengths, "refuse", N, np.random.default_rng(8))
    np.testing.assert_array_equal(fixed.survived, lengths == 8.0)


# -------------------------------------------------------------------------------------------
# Followers
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("outage", [11.0, 14.0])
def test_new_leader_after_a_long_outage_matches_renewal_theory(outage):
    cfg = config()
    res = simulate_outage(cfg, outage, "refuse", N, np.random.default_rng(9))
    assert not res.survived.any() and not res.preempted.any()
    _, _, expected = sample_refuse_outage_by_renewal_theory(
        cfg, outage, N, np.random.default_rng(10)
    )
    x = res.new_leader_at
    assert np.all(np.isfinite(x)) and x.min() >= outage
    # A follower waits LDrec after s at least; the leader stops at s + RP + RD.
    lease = cfg.record_lease_duration
    assert np.all(x - res.lost_at >= lease - cfg.retry_period - cfg.renew_deadline - 1e-9)
    assert abs(x.mean() - expected.mean()) < 4 * math.hypot(x.std(), expected.std()) / math.sqrt(N)
    assert stats.ks_2samp(x, expected).pvalue > P_MIN


def test_followers_cannot_preempt_when_the_last_attempt_precedes_the_record_lease():
    # LD 11, RD 10, RP 2: the leader's last attempt is at s + 10 < s + LDrec; a follower that
    # saw s waits until s + 11 at least, one that missed it restarts its clock after the
    # outage. So the followers never beat a surviving leader.
    cfg = config(lease=11.0)
    for mode, bound in (("refuse", 10.0), ("blackhole", 7.0)):
        res = simulate_outage(cfg, 9.0, mode, N, np.random.default_rng(11))
        assert not res.preempted.any()
        assert_probability(res.survived, float(np.clip((bound - 9.0) / 2.0, 0.0, 1.0)))


@pytest.mark.parametrize("outage", [8.0, 9.5, 11.0])
def test_followers_preempt_a_surviving_leader_when_the_lease_is_short(outage):
    # LD 11, RD 10, RP 3: attempts at s + 3, 6, 9, 12, and s + 12 > s + LDrec, so a follower
    # that read s just before o may take the lease on its stale observation before the
    # leader's renewal at s + 12.
    cfg = config(lease=11.0, retry=3.0)
    res = simulate_outage(cfg, outage, "refuse", N, np.random.default_rng(12))
    leader_only = float(np.clip((12.0 - outage) / 3.0, 0.0, 1.0))
    assert_probability(res.survived | res.preempted, leader_only)
    survived, preempted, new_leader = sample_refuse_outage_by_renewal_theory(
        cfg, outage, 4 * N, np.random.default_rng(13)
    )
    p = preempted.mean()
    assert p > 0.004 and res.preempted.sum() > 20
    assert abs(res.preempted.mean() - p) < 4.5 * math.sqrt(p * (1 - p) * (1 / N + 1 / (4 * N)))
    assert res.survival_probability() < leader_only
    # A preempted leader still acts until its cycle deadline, after the new leader started.
    taken = res.preempted
    assert np.all(res.new_leader_at[taken] >= outage)
    assert np.all(res.lost_at[taken] > res.new_leader_at[taken])
    assert stats.ks_2samp(res.new_leader_at[taken], new_leader[preempted]).pvalue > P_MIN
    alone = simulate_outage(cfg, outage, "refuse", N, np.random.default_rng(14), followers=False)
    assert not alone.preempted.any() and np.all(np.isnan(alone.new_leader_at))
    assert_probability(alone.survived, leader_only)


# -------------------------------------------------------------------------------------------
# Partition
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rho", "latency"), [(1.0, 0.0), (1.2, 0.0), (1.0, 0.3)])
def test_partition_never_overlaps_while_the_lease_outlasts_the_stretched_cycle(rho, latency):
    cfg = config(latency=latency)
    overlap = simulate_partition(cfg, rho, N, np.random.default_rng(15))
    bound = rho * (cfg.retry_period + cfg.renew_deadline) - cfg.record_lease_duration
    assert bound < 0
    assert overlap.max() <= bound - 2 * latency + 1e-9
    assert overlap.max() > bound - 2 * latency - 0.5  # the bound is nearly reached


@pytest.mark.parametrize(
    ("rho", "latency", "candidates"), [(1.0, 0.0, 3), (1.3, 0.0, 3), (1.5, 0.2, 2), (2.0, 0.0, 4)]
)
def test_partition_overlap_matches_renewal_decomposition(rho, latency, candidates):
    cfg = config(latency=latency, candidates=candidates)
    x = simulate_partition(cfg, rho, N, np.random.default_rng(16))
    y = sample_partition_by_renewal_theory(cfg, rho, N, np.random.default_rng(17))
    assert abs(x.mean() - y.mean()) < 4 * math.hypot(x.std(), y.std()) / math.sqrt(N)
    assert stats.ks_2samp(x, y).pvalue > P_MIN
    bound = rho * (cfg.retry_period + cfg.renew_deadline) - cfg.record_lease_duration - 2 * latency
    assert x.max() <= bound + 1e-9
    assert (x > 0).any() == (bound > 0)


# -------------------------------------------------------------------------------------------
# API
# -------------------------------------------------------------------------------------------


def test_result_table_seed_and_chunking(monkeypatch):
    cfg = config()
    a = simulate_outage(cfg, 9.0, "blackhole", 3_000, np.random.default_rng(18))
    b = simulate_outage(cfg, 9.0, "blackhole", 3_000, np.random.default_rng(18))
    assert isinstance(a, OutageSimulation) and len(a) == 3_000
    np.testing.assert_array_equal(a.lost_at, b.lost_at)
    np.testing.assert_array_equal(a.new_leader_at, b.new_leader_at)
    frame = a.to_frame()
    assert list(frame.columns) == ["outage", "survived", "preempted", "lost_at", "new_leader_at"]
    assert len(frame) == 3_000
    monkeypatch.setattr(simulate_module, "CHUNK_TRIALS", 700)
    c = simulate_outage(cfg, 9.0, "refuse", 2_500, np.random.default_rng(19))
    assert len(c) == 2_500 and abs(c.survival_probability() - 0.5) < 0.06
    assert simulate_partition(cfg, 1.0, 1_500, np.random.default_rng(20)).shape == (1_500,)
    single = simulate_outage(config(candidates=1), 9.0, "refuse", 100, np.random.default_rng(21))
    assert np.all(np.isnan(single.new_leader_at))


def test_invalid_arguments():
    cfg = config()
    rng = np.random.default_rng(22)
    with pytest.raises(ValueError, match="mode"):
        simulate_outage(cfg, 5.0, "drop", 10, rng)
    with pytest.raises(ValueError, match="outage"):
        simulate_outage(cfg, -1.0, "refuse", 10, rng)
    with pytest.raises(ValueError, match="outage"):
        simulate_outage(cfg, float("nan"), "refuse", 10, rng)
    with pytest.raises(ValueError, match="n_trials"):
        simulate_outage(cfg, np.ones(3), "refuse", 10, rng)
    with pytest.raises(ValueError, match="outage"):
        simulate_outage(cfg, "5s", "refuse", 10, rng)
    with pytest.raises(ValueError, match="n_trials"):
        simulate_outage(cfg, 5.0, "refuse", 0, rng)
    with pytest.raises(ValueError, match="warmup"):
        simulate_outage(cfg, 5.0, "refuse", 10, rng, warmup=-1.0)
    with pytest.raises(ValueError, match="clock_rate_ratio"):
        simulate_partition(cfg, 0.0, 10, rng)
    with pytest.raises(ValueError, match="clock_rate_ratio"):
        simulate_partition(cfg, float("inf"), 10, rng)
    with pytest.raises(ValueError, match="candidates >= 2"):
        simulate_partition(config(candidates=1), 1.0, 10, rng)
