"""etcd leader failover: the exact chain against closed forms, integrals and the oracle."""

import math

import numpy as np
import pytest

from ha_toolkit.etcd.config import RaftConfig
from ha_toolkit.etcd.simulate import simulate_failover, simulate_quorum_return
from ha_toolkit.etcd.timing import (
    election_outcomes,
    failover,
    quorum_return,
    step_down,
    write_stall,
)


# ---------------------------------------------------------------- configuration
def test_defaults_follow_etcd():
    cfg = RaftConfig()
    assert cfg.heartbeat_interval == 0.1 and cfg.election_timeout == 1.0
    assert cfg.election_ticks == 10 and cfg.quorum == 2
    # ServerConfig.ReqTimeout: 5 s + 2 * election timeout
    assert cfg.request_timeout == pytest.approx(7.0)
    assert RaftConfig(heartbeat_interval="30ms", election_timeout="1s").election_ticks == 33


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"heartbeat_interval": "300ms"},
            "--election-timeout[1000ms] should be at least as 5 times as "
            "--heartbeat-interval[300ms]",
        ),
        (
            {"election_timeout": "60s"},
            "--election-timeout[60000ms] is too long, and should be set less than 50000ms",
        ),
        ({"heartbeat_interval": 0}, "--heartbeat-interval must be >0"),
        ({"heartbeat_interval": 0.0005}, "whole number of milliseconds"),
        ({"members": 2}, "members must be an integer >= 3"),
        ({"traffic": "quiet"}, "traffic must be one of busy, idle"),
        ({"request_timeout": 0}, "request_timeout must be > 0"),
        ({"pre_vote": "yes"}, "pre_vote must be True or False"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=None) as err:
        RaftConfig(**kwargs)
    assert message in str(err.value)


# ---------------------------------------------------------------- closed forms
@pytest.mark.parametrize("members", [3, 4, 5])
def test_without_check_quorum_the_first_timeout_wins(members):
    # Nobody ignores a vote, so the first survivor to time out wins. Its timeout is
    # (R - 1 + r) h with R uniform on [E, 2E-1] and r uniform: a continuous uniform on
    # [(E-1) h, (2E-1) h); the first of m iid such times has CDF 1 - (1 - u)^m.
    cfg = RaftConfig(members=members, check_quorum=False)
    dist = failover(cfg)
    h, e, m = 0.1, 10, members - 1
    t = np.linspace(0.95, 1.85, 10)
    u = (t - (e - 1) * h) / (e * h)
    assert np.allclose(dist.cdf(t), 1 - (1 - u) ** m, atol=1e-9)
    # the lattice keeps the mass of each cell exact; within a cell it is spread evenly
    assert dist.mean() == pytest.approx((e - 1) * h + e * h / (m + 1), rel=1e-6)


def _pre_vote_three_members_by_integration(e: int, h: float, grid: int = 400):
    # Two survivors with X_i = (R_i - 1 + r_i) h. The first, c, wins at X_c unless its
    # timeout is the smallest (R_c = E) and the other's phase is later (its lease is still
    # running); with pre-vote the other then wins at its own timeout X_v.
    r = (np.arange(grid) + 0.5) / grid
    r1, r2 = np.meshgrid(r, r, indexing="ij")
    values = []
    for big_r1 in range(e, 2 * e):
        for big_r2 in range(e, 2 * e):
            x1 = (big_r1 - 1 + r1) * h
            x2 = (big_r2 - 1 + r2) * h
            first_is_1 = x1 < x2
            rc = np.where(first_is_1, big_r1, big_r2)
            phase_c = np.where(first_is_1, r1, r2)
            phase_v = np.where(first_is_1, r2, r1)
            fails = (rc == e) & (phase_v > phase_c)
            values.append(np.where(fails, np.maximum(x1, x2), np.minimum(x1, x2)).ravel())
    return np.concatenate(values)


def test_pre_vote_with_three_members_matches_an_integral():
    values = _pre_vote_three_members_by_integration(10, 0.1)
    dist = failover(RaftConfig(pre_vote=True))
    assert dist.mean() == pytest.approx(values.mean(), rel=2e-4)
    for q in (0.5, 0.9, 0.99):
        assert dist.ppf(q) == pytest.approx(np.quantile(values, q), rel=2e-3)


def test_first_round_fails_with_probability_one_over_e_for_three_members():
    # Without pre-vote, a failed first round costs the survivors two campaigns at term
    # +1, so the leader's term rises by 2: the failure has probability
    # P(R_c = E) * P(other phase later) * 2 orderings / 2 = 1 / E.
    cfg = RaftConfig(election_timeout="700ms")
    samples = simulate_failover(cfg, 4000, np.random.default_rng(5))
    assert np.mean(samples.campaigns > 1) == pytest.approx(1 / 7, abs=4 * math.sqrt(1 / 7 / 4000))
    # A first round that succeeds ends by (2E - 1) ticks; a failed one needs a fresh
    # timeout of at least E ticks after a campaign at (E - 1 + r) ticks, so it ends later:
    # P(F > (2E - 1) h) is exactly 1/E.
    e = cfg.election_ticks
    assert failover(cfg).sf((2 * e - 1) * 0.1) == pytest.approx(1 / e, abs=1e-9)
    out = election_outcomes(cfg)
    assert out.tail < 1e-13


def test_idle_cluster_fails_over_half_a_heartbeat_earlier():
    busy = failover(RaftConfig())
    idle = failover(RaftConfig(traffic="idle"))
    assert idle.mean() == pytest.approx(busy.mean() - 0.05, abs=1e-9)


def test_default_request_timeout_makes_the_stall_the_timeout():
    # Every survivor follows the dead leader at first, so the first write is forwarded and
    # lost; etcd answers after 5 s + 2 election timeouts, long after the election.
    stall = write_stall(RaftConfig())
    assert stall.support() == (pytest.approx(7.0), pytest.approx(7.0))


def test_step_down_is_uniform_over_the_second_check():
    dist = step_down(RaftConfig(election_timeout="500ms"))
    assert dist.support() == (pytest.approx(0.5), pytest.approx(1.0))
    assert dist.mean() == pytest.approx(0.75)
    with pytest.raises(ValueError, match="check_quorum"):
        step_down(RaftConfig(check_quorum=False))


# ---------------------------------------------------------------- the oracle
ORACLE_SETTINGS = [
    {},
    {"pre_vote": True},
    {"members": 5},
    {"heartbeat_interval": "50ms", "election_timeout": "500ms"},
    {"traffic": "idle"},
    {"members": 5, "pre_vote": True},
    {"members": 4, "election_timeout": "500ms"},
]


@pytest.mark.parametrize("kwargs", ORACLE_SETTINGS)
def test_exact_failover_and_stall_match_the_oracle(kwargs):
    cfg = RaftConfig(**kwargs, request_timeout="100ms")
    n = 3000
    samples = simulate_failover(cfg, n, np.random.default_rng(11))
    for dist, x in ((failover(cfg), samples.failover), (write_stall(cfg), samples.write_stall)):
        # the mean within four standard errors
        assert abs(x.mean() - dist.mean()) < 4 * x.std() / math.sqrt(n)
        # the exact CDF at the sample's quantiles within four binomial standard errors
        for q in (0.5, 0.9, 0.99):
            tol = 4 * math.sqrt(q * (1 - q) / n) + 2e-3
            sample_q = np.quantile(x, q)
            assert dist.cdf(sample_q + 1e-9) >= q - tol
            assert dist.cdf(sample_q - 1e-9) <= q + tol


def test_models_refuse_other_inputs():
    with pytest.raises(ValueError, match="RaftConfig"):
        failover({"members": 3})
    # 7 members and 1000 ticks would take the exact chain minutes
    with pytest.raises(ValueError, match="simulate_failover"):
        failover(RaftConfig(members=7, heartbeat_interval="10ms", election_timeout="10s"))


def test_oracle_is_seeded():
    cfg = RaftConfig(pre_vote=True)
    a = simulate_failover(cfg, 50, np.random.default_rng(1))
    b = simulate_failover(cfg, 50, np.random.default_rng(1))
    assert np.array_equal(a.failover, b.failover)
    with pytest.raises(ValueError, match="n must be"):
        simulate_failover(cfg, 0, np.random.default_rng(1))


# ---------------------------------------------------------------- quorum comes back
@pytest.mark.parametrize("kwargs", [{}, {"pre_vote": True}, {"pre_vote": True, "members": 5}])
def test_quorum_return_matches_the_oracle(kwargs):
    cfg = RaftConfig(**kwargs)
    dist = quorum_return(cfg)
    x = simulate_quorum_return(cfg, 4000, np.random.default_rng(17))
    assert abs(x.mean() - dist.mean()) < 4 * x.std() / math.sqrt(x.size)
    assert dist.ks_distance(x) < 1.63 / math.sqrt(x.size)


def test_quorum_return_without_pre_vote_is_the_renewal_residual():
    # a candidate re-draws R each cycle: the residual's mean is E[G^2] / (2 E[G]) for
    # G = R h, R uniform on [E, 2E - 1]
    g = 0.1 * np.arange(10, 20)
    assert quorum_return(RaftConfig()).mean() == pytest.approx(
        (g**2).mean() / (2 * g.mean()), rel=1e-6
    )
    with pytest.raises(ValueError, match="members=3"):
        quorum_return(RaftConfig(members=5))
