"""Notebook 10's tables: the settings grid and the model beside measurements."""

import numpy as np
import pandas as pd
import pytest

from ha_toolkit.etcd.config import RaftConfig
from ha_toolkit.etcd.explore import failover_grid, model_vs_measured, quorum_returns_vs_model
from ha_toolkit.etcd.simulate import simulate_failover, simulate_quorum_return


def test_grid_skips_settings_etcd_refuses_and_scales_with_the_timeout():
    grid = failover_grid([0.2, 0.5, 1.0], heartbeat_intervals=(0.05, 0.1))
    # 200 ms is below 5 heartbeats of either interval: etcd refuses it
    assert len(grid) == 4
    by = grid.set_index(["heartbeat_interval", "election_timeout"])
    # the minimum is (E - 1) ticks, the first-round maximum 2E - 1 ticks
    assert by.loc[(0.1, 1.0), "p50"] > by.loc[(0.1, 0.5), "p50"]
    assert (grid["p50"] <= grid["p99"]).all()


def test_oracle_draws_pass_the_comparison():
    cfg = RaftConfig(request_timeout=0.1)
    s = simulate_failover(cfg, 400, np.random.default_rng(21))
    frame = pd.DataFrame(
        {
            "setting": "3 members 100/1000 ms",
            "failover": s.failover,
            "write_stall": s.write_stall,
            "members": 3,
            "heartbeat_interval": 0.1,
            "election_timeout": 1.0,
        }
    )
    table = model_vs_measured(frame).set_index("what")
    assert list(table["n"]) == [400, 400]
    fo = table.loc["failover"]
    assert fo["ks"] < fo["ks_critical_1pct"]
    assert fo["model_mean"] == pytest.approx(fo["measured_mean"], rel=0.05)
    # draws from a model 20 % slower fail the same test
    slow = frame.assign(failover=frame["failover"] * 1.2)
    assert model_vs_measured(slow).set_index("what").loc["failover", "ks"] > fo["ks_critical_1pct"]


def test_quorum_return_comparison_accepts_oracle_draws():
    x = simulate_quorum_return(RaftConfig(), 300, np.random.default_rng(2))
    frame = pd.DataFrame({"pre_vote": False, "election": x})
    row = quorum_returns_vs_model(frame).iloc[0]
    assert row["n"] == 300 and not row["pre_vote"]
    assert row["ks"] < row["ks_critical_1pct"]
