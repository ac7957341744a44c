"""APF in the renew loop: the composition against closed forms and the Monte Carlo loop."""

import math

import numpy as np
import pytest
from scipy import stats

from ha_toolkit.apiserver.apf import default_priority_levels, level_queue
from ha_toolkit.availability.cascade import apf_wait_limit, lease_loss_under_apf
from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.simulate_lease_loss import simulate_renew_cycles

SCHEDULER = ElectionConfig.preset("kube-scheduler")
LEVEL = {lv.name: lv for lv in default_priority_levels()}["leader-election"]


def test_wait_limit_is_a_quarter_of_the_call_timeout_capped_at_a_minute():
    assert apf_wait_limit(5.0) == 1.25
    assert apf_wait_limit(107.0) == 26.75
    assert apf_wait_limit(400.0) == 60.0
    with pytest.raises(ValueError, match="timeout"):
        apf_wait_limit(0.0)
    openshift = lease_loss_under_apf(ElectionConfig.preset("openshift"), 1.0, 0.05)
    assert openshift.wait_limit == 26.75


def test_idle_level_reduces_to_the_hand_formula():
    # no load: no wait, no 429; an attempt takes S ~ Exp(2 s); tau = 5 s, so
    # p = P(S > 5) * P(S1 + S2 >= 5)
    result = lease_loss_under_apf(SCHEDULER, 1e-9, 2.0)
    assert result.rejection_probability == pytest.approx(0.0, abs=1e-12)
    expected = math.exp(-2.5) * stats.gamma(2, scale=2.0).sf(5.0)
    assert result.loss_probability_per_cycle == pytest.approx(expected, rel=5e-3)


def test_rejections_are_the_level_models_and_losses_grow_with_load():
    rates = [200.0, 260.0, 300.0, 400.0]
    results = [lease_loss_under_apf(SCHEDULER, lam, 0.1) for lam in rates]
    q = level_queue(LEVEL, 25, np.array(rates), 0.1, wait_limit=1.25)
    assert [r.rejection_probability for r in results] == pytest.approx(
        list(q.rejection_probability))
    losses = [r.losses_per_day for r in results]
    assert losses == sorted(losses) and losses[-1] > 1.0


def test_composition_agrees_with_the_monte_carlo_loop():
    lam, service = 150.0, 2.0  # overloaded: 429s, long waits and long executions
    result = lease_loss_under_apf(SCHEDULER, lam, service, current_cl=180)
    q = level_queue(LEVEL, 180, lam, service, wait_limit=1.25)
    # W | W < 1.25 of the level's M/M/c/K, from the birth-death chain's balance (a running
    # log product) and scipy's Erlang laws, the terms summed one by one
    c, k = int(q.servers), int(q.capacity)
    steps = [math.log(lam * service / min(n + 1, c)) for n in range(k - 1)]
    log_p = np.concatenate(([0.0], np.cumsum(steps)))
    weights = np.exp(log_p - log_p.max())
    weights /= weights.sum()
    grid = np.linspace(0.0, 1.25, 2001)
    cdf = np.full(grid.size, weights[:c].sum())
    for n in range(c, k):
        cdf += weights[n] * stats.erlang(n - c + 1, scale=service / c).cdf(grid)
    cdf = np.maximum.accumulate(cdf / cdf[-1])

    def served(rng, size):  # inverse transform of W | W < limit, plus Exp(service)
        u = rng.random(size)
        wait = np.interp(u, cdf, grid, left=0.0)
        return wait + rng.exponential(service, size)

    full = float(q.queue_full_probability) / float(q.rejection_probability)

    def delay(rng, size):
        return np.where(rng.random(size) < full, 0.0, 1.25)

    sim = simulate_renew_cycles(SCHEDULER, served, 200_000, np.random.default_rng(8),
                                rejection=float(q.rejection_probability),
                                rejection_delay=delay)
    p, se = sim.loss_probability()
    assert result.loss_probability_per_cycle > 0.01
    assert abs(result.loss_probability_per_cycle - p) < max(0.005, 4 * se)
    assert result.losses_per_day == pytest.approx(sim.losses_per_day(), rel=0.02)


def test_bad_level():
    with pytest.raises(ValueError, match="unknown priority level"):
        lease_loss_under_apf(SCHEDULER, 1.0, 0.1, level="nope")
    with pytest.raises(ValueError, match="exempt"):
        lease_loss_under_apf(SCHEDULER, 1.0, 0.1, level="exempt")
