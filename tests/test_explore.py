"""Tests of ha_toolkit.election.explore: the sweeps and tables the notebooks call."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from ha_toolkit.distribution import uniform
from ha_toolkit.election import ElectionConfig, failover
from ha_toolkit.election.config import preset_names
from ha_toolkit.election.explore import (
    SUMMARY_KEYS,
    candidates_effect,
    choose_renew_deadline,
    hand_arithmetic_table,
    p99_grid,
    preset_failovers,
    summarize,
    summary_table,
)

LDS = [5.0, 10.0, 15.0, 30.0]
RPS = [1.0, 2.0, 5.0]


@pytest.fixture(scope="module")
def grid():
    return p99_grid(LDS, RPS)


def test_p99_grid_structure(grid):
    assert list(grid.columns) == [
        "lease_duration",
        "retry_period",
        "renew_deadline",
        "valid",
        "p99",
    ]
    assert len(grid) == len(LDS) * len(RPS)
    assert list(grid["lease_duration"]) == [ld for ld in LDS for _ in RPS]
    assert list(grid["retry_period"]) == RPS * len(LDS)
    assert grid["valid"].dtype == bool


def test_p99_grid_validity_follows_client_go(grid):
    for row in grid.itertuples():
        # the rule as documented: RD = max(2/3 LD, 1.25 RP), valid iff 1.2 RP < RD < LD
        rd = max(row.lease_duration * 2 / 3, 1.25 * row.retry_period)
        assert row.renew_deadline == pytest.approx(rd)
        valid = 1.2 * row.retry_period < rd < row.lease_duration
        assert row.valid == valid
        assert math.isnan(row.p99) == (not valid)
    assert not grid["valid"].all() and grid["valid"].any()


def test_p99_grid_sanity(grid):
    valid = grid[grid["valid"]]
    j = 1.2
    # p99 of the crash failover lies between LD - RP (crash just before a renewal, fastest
    # follower) and LD + 2 (1 + J) RP (the slowest detection and overshoot)
    assert (valid["p99"] > valid["lease_duration"] - valid["retry_period"]).all()
    assert (valid["p99"] < valid["lease_duration"] + 2 * (1 + j) * valid["retry_period"]).all()
    # p99 grows with LD at fixed RP, and with RP at fixed LD
    for _, by_rp in valid.groupby("retry_period"):
        assert np.all(np.diff(by_rp.sort_values("lease_duration")["p99"]) > 0)
    for _, by_ld in valid.groupby("lease_duration"):
        assert np.all(np.diff(by_ld.sort_values("retry_period")["p99"]) > 0)


def test_p99_grid_wiring(grid):
    row = grid[(grid["lease_duration"] == 15.0) & (grid["retry_period"] == 2.0)].iloc[0]
    direct = failover(ElectionConfig(15, 10, 2), "crash").ppf(0.99)
    assert row["p99"] == pytest.approx(float(direct))
    release = p99_grid(["15s"], ["2s"], scenario="release", candidates=2)
    assert release["p99"].iloc[0] == pytest.approx(
        float(failover(ElectionConfig(15, 10, 2, candidates=2), "release").ppf(0.99))
    )


def test_choose_renew_deadline():
    assert choose_renew_deadline(15, 2) == pytest.approx(10.0)
    assert choose_renew_deadline(5, 5) == pytest.approx(6.25)
    assert choose_renew_deadline(30, 2, renew_fraction=0.5) == pytest.approx(15.0)
    with pytest.raises(ValueError, match="renew_fraction"):
        choose_renew_deadline(15, 2, renew_fraction=1.0)


def test_candidates_effect_follows_the_minimum_of_followers():
    cfg = ElectionConfig.preset("kube-scheduler")
    table = candidates_effect(cfg, [2, 3, 5], scenario="release")
    assert list(table.columns) == ["candidates", "followers", *SUMMARY_KEYS]
    assert list(table["followers"]) == [1, 2, 4]
    # followers poll independently: P(T > t) = P(R > t)^k, so the p99 with k followers is
    # the single follower's quantile at 1 - 0.01**(1/k)
    single = failover(dataclasses.replace(cfg, candidates=2), "release")
    for row in table.itertuples():
        expected = float(single.ppf(1 - 0.01 ** (1 / row.followers)))
        assert row.p99 == pytest.approx(expected, abs=0.02)
    crash = candidates_effect(cfg, [2, 3, 5, 7])
    assert np.all(np.diff(crash["mean"]) < 0)
    assert np.all(np.diff(crash["p99"]) < 0)


def test_hand_arithmetic_table_openshift():
    cfg = ElectionConfig.preset("openshift")
    table = hand_arithmetic_table(cfg)
    assert list(table["scenario"]) == ["crash", "release"]
    # OpenShift's own figures (library-go comments): 163 s and 26 s
    assert list(table["hand_worst"]) == [163.0, 26.0]
    for row in table.itertuples():
        dist = failover(cfg, row.scenario)
        assert row.exact_p99 == pytest.approx(float(dist.ppf(0.99)))
        assert row.exact_max == pytest.approx(dist.support()[1])
        assert row.exact_mean == pytest.approx(dist.mean())
        assert row.p_beyond_hand == pytest.approx(float(dist.sf(row.hand_worst)))
    release = table.set_index("scenario").loc["release"]
    # graceful: the next poll of a follower comes at most (1 + J) RP later, not RP
    assert release["exact_max"] == pytest.approx(2.2 * 26.0, rel=1e-3)
    crash = table.set_index("scenario").loc["crash"]
    assert crash["exact_max"] > crash["hand_worst"]
    assert crash["exact_max"] <= 137 + 2 * 2.2 * 26 + 1e-9


def test_summarize_matches_closed_form_and_fallback():
    dist = uniform(0.0, 10.0, step=0.01)
    stats = summarize(dist)
    assert list(stats) == list(SUMMARY_KEYS)
    expected = {"mean": 5, "std": 10 / 12**0.5, "p50": 5, "p90": 9, "p99": 9.9, "min": 0, "max": 10}
    for key, value in expected.items():
        assert stats[key] == pytest.approx(value, abs=1e-6), key

    class Bare:  # no summary(): computed from the scipy-like face
        mean, std, ppf, support = dist.mean, dist.std, dist.ppf, dist.support

    assert summarize(Bare()) == pytest.approx(stats)
    assert all(type(v) is float for v in summarize(Bare()).values())


def test_preset_failovers_and_summary_table():
    dists = preset_failovers(["openshift", "kube-vip"], "release")
    assert list(dists) == ["openshift", "kube-vip"]
    direct = failover(ElectionConfig.preset("kube-vip"), "release")
    assert dists["kube-vip"].ppf(0.9) == pytest.approx(direct.ppf(0.9))
    two = preset_failovers(["kube-vip"], "crash", candidates=2)["kube-vip"]
    three = preset_failovers(["kube-vip"], "crash")["kube-vip"]
    assert two.mean() > three.mean()
    assert list(preset_failovers()) == preset_names()
    table = summary_table(["kube-scheduler", "openshift"])
    assert isinstance(table, pd.DataFrame)
    assert list(zip(table["preset"], table["scenario"], strict=True)) == [
        ("kube-scheduler", "crash"),
        ("kube-scheduler", "release"),
        ("openshift", "crash"),
        ("openshift", "release"),
    ]
    assert set(SUMMARY_KEYS) <= set(table.columns)
