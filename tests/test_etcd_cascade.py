"""An etcd leader failover as an API outage for the leases, and as the availability gap."""

import numpy as np
import pytest

from ha_toolkit.availability.controlplane import Assumptions, assumptions_frame
from ha_toolkit.availability.etcd_cascade import (
    etcd_election_gap,
    lease_loss_on_etcd_failover,
    lease_loss_table,
)
from ha_toolkit.election.config import ElectionConfig, preset_names
from ha_toolkit.etcd.config import RaftConfig
from ha_toolkit.etcd.simulate import simulate_failover


def test_kube_vip_loss_matches_the_sampled_failovers():
    # kube-vip 5/3/1: with hanging calls (HTTP timeout max(1 s, RD/2) = 1.5 s) the failing
    # cycle sends an Update at 0 and a GET at 1.5 s, so A = 1.5 s and an outage T is lost
    # with probability clip(T - A, 0, RP) / RP, the cycle's phase being uniform over RP.
    samples = simulate_failover(RaftConfig(), 20000, np.random.default_rng(3)).failover
    sampled = np.clip(samples - 1.5, 0.0, 1.0).mean()
    se = np.clip(samples - 1.5, 0.0, 1.0).std() / np.sqrt(samples.size)
    result = lease_loss_on_etcd_failover(ElectionConfig.preset("kube-vip"))
    assert result.loss_probability == pytest.approx(sampled, abs=4 * se)
    assert result.loss_probability > 0.05


def test_default_components_ride_out_a_default_failover_but_not_a_slow_etcd():
    table = lease_loss_table()
    assert list(table["preset"]) == preset_names()
    row = table.set_index("preset").loc["kube-scheduler"]
    # no default failover (at most 2E + ... ticks, under 3 s) outlasts the 5 s of A
    assert row["loss_probability"] == 0.0
    assert row["outage_p99"] < row["min_tolerated_outage"]
    slow = lease_loss_table(RaftConfig(heartbeat_interval=0.5, election_timeout=5.0))
    assert slow.set_index("preset").loc["kube-scheduler", "loss_probability"] > 0.3


def test_availability_gap_comes_from_the_model():
    gap = etcd_election_gap()
    samples = simulate_failover(RaftConfig(), 4000, np.random.default_rng(8)).failover
    assert gap == pytest.approx(samples.mean(), abs=4 * samples.std() / np.sqrt(samples.size))
    assert Assumptions.default().etcd_election == pytest.approx(gap)
    frame = assumptions_frame().set_index("parameter")
    assert frame.loc["etcd_election", "value"] == pytest.approx(gap)
    # five members elect faster: more survivors race to the first timeout
    assert etcd_election_gap(5) < gap
