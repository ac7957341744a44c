"""The API server tier from crash and hang rates, the kubelet's probes and the LB."""

import numpy as np
import pytest
from scipy import stats

from ha_toolkit.availability.blocks import SECONDS_PER_YEAR, Component, Replica
from ha_toolkit.availability.controlplane import (
    ApiServerFailures,
    HealthCheck,
    api_server_phases,
    api_server_terms,
    control_plane_terms,
)
from ha_toolkit.availability.probes import Restart


def _binomial_at_least_two(n, availability):
    return float(stats.binom.sf(1, n, availability))


def test_process_terms_follow_the_in_pool_windows():
    f = ApiServerFailures(crashes_per_year=6, hangs_per_year=2, restart=Restart(startup=20))
    hc = HealthCheck(10, 3)
    node = Component("4380h", "30m", "node")
    terms = {t.mechanism: t for t in api_server_terms(3, Replica((node,)), hc, failures=f)}
    a = Replica((node, f.component())).availability
    up_two = _binomial_at_least_two(3, a)
    # hung: the LB (checks every 10 s, fall 3, 5 s timeout) removes it after U*10 + 25,
    # long before the kubelet's restart (>= 170 s)
    hung = terms["hangs in the LB pool"].unavailability
    assert hung == pytest.approx(2 / SECONDS_PER_YEAR * up_two * 30.0, rel=1e-3)
    # crash: min(U[20, 30], 20 + U[0, 1]) = 20 + 1/2 - 1/60 (the restart usually wins)
    crash = terms["crashes in the LB pool"].unavailability
    assert crash == pytest.approx(6 / SECONDS_PER_YEAR * up_two * (20.5 - 1 / 60), rel=1e-3)


def test_process_component_mttr_weights_the_restart_times():
    f = ApiServerFailures(crashes_per_year=3, hangs_per_year=1, restart=Restart(startup=20))
    c = f.component()
    # exit: relist 0.5 + 20; hang: 125 + 30 (SIGKILL) + 20
    assert c.mttr == pytest.approx((3 * 20.5 + 1 * 175.0) / 4, rel=1e-4)
    assert c.mtbf == pytest.approx(SECONDS_PER_YEAR / 4)


def test_phases_add_up_to_the_recovery():
    phases = api_server_phases()
    hung = phases[phases["failure"] == "hung"].set_index("phase")["seconds"]
    assert hung["kubelet detection"] == pytest.approx(125.0, rel=1e-4)
    assert hung["stop"] == 30.0
    total = hung.drop("failing in the LB pool").sum()
    # Ready again: 125 + 30 + 20 + U*10 (startup probe tick)
    assert total == pytest.approx(180.0, rel=1e-3)


def test_control_plane_with_process_failures_replaces_the_constant():
    old = control_plane_terms()
    new = control_plane_terms(apiserver_failures=ApiServerFailures())
    assert set(new[new.component == "API servers"].mechanism) == {
        "all replicas down", "undetected failures", "crashes in the LB pool",
        "hangs in the LB pool"}
    # the other tiers do not change
    keep = ["load balancer", "etcd", "kube-scheduler"]
    a = old[old.component.isin(keep)]["unavailability"].to_numpy()
    b = new[new.component.isin(keep)]["unavailability"].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"crashes_per_year": -1}, "crashes_per_year"),
        ({"crashes_per_year": 0, "hangs_per_year": 0}, "hangs_per_year"),
        ({"liveness": "10s"}, "liveness"),
        ({"restart": 5}, "restart"),
    ],
)
def test_bad_failures_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ApiServerFailures(**kwargs)


@pytest.mark.parametrize("replicas", [1, 2, 3])
def test_api_tier_terms_match_the_simulated_tier(replicas):
    from ha_toolkit.availability.simulate_probes import simulate_api_tier

    # rates raised so that tens of thousands of failures happen in the simulated years
    f = ApiServerFailures(crashes_per_year=3000, hangs_per_year=600, restart=Restart(startup=20))
    hc = HealthCheck(10, 3)
    ideal_node = Replica((Component(1e300, 0, "node"),))
    terms = {t.mechanism: t.unavailability
             for t in api_server_terms(replicas, ideal_node, hc, failures=f)}
    restart = {"startup": 20.0, "grace_period": 30.0, "shutdown_delay": 0.0, "backoff": 0.0,
               "relist": 1.0}
    sim = simulate_api_tier(replicas, 3000, 600, f.liveness, restart, f.lb_probe(hc), 20,
                            np.random.default_rng(replicas), readiness=f.readiness,
                            startup_probe=f.startup_probe)
    in_pool = terms["crashes in the LB pool"] + terms["hangs in the LB pool"]
    if replicas == 1:
        assert in_pool == 0.0 and sim["in_pool"] == 0.0
        assert terms["all replicas down"] == pytest.approx(sim["all_down"], rel=0.02)
    else:
        # first order in (episode / up time): 0.5 % here
        assert in_pool == pytest.approx(sim["in_pool"], rel=0.02)
    if replicas == 2:  # some 700 episodes of both down: 4 % sampling error
        assert terms["all replicas down"] == pytest.approx(sim["all_down"], rel=0.15)
