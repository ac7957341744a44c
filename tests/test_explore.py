"""Tests of ha_toolkit.election.explore: the sweeps and tables the notebooks call."""

from __future__ import annotations

import dataclasses
import math
import warnings

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
    outage_guide,
    outage_hand_arithmetic_table,
    overlap_vs_clock_rate,
    overlap_vs_margin,
    p99_grid,
    preset_failovers,
    preset_survival_curves,
    summarize,
    summary_table,
)
from ha_toolkit.election.timing import lattice_step

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
    # the exact bound, to within one lattice step
    assert crash["exact_max"] <= 137 + 2 * 2.2 * 26 + lattice_step(
        ElectionConfig.preset("openshift")
    )


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


# ------------------------------------------------------------ outages and split brain
def test_preset_survival_curves_match_the_hand_derivation():
    lengths = [4.0, 6.0, 8.0, 9.0, 11.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # openshift-sno's LeaseOverlapWarning is silenced
        frame = preset_survival_curves(["kube-scheduler", "openshift-sno"], lengths)
    assert list(frame.columns) == [
        "preset",
        "mode",
        "outage",
        "survival_probability",
        "min_tolerated_outage",
        "max_tolerated_outage",
        "exact",
    ]
    assert len(frame) == 2 * 2 * len(lengths)
    ks = frame[frame["preset"] == "kube-scheduler"].set_index(["mode", "outage"])
    # refuse: the failing cycle's attempts at 0, 2, 4, 6, 8 s from its start, which falls
    # uniformly within RP = 2 s after the outage starts: P = clip((8 + 2 - T) / 2, 0, 1)
    # blackhole: the Update hangs the 5 s HTTP timeout, the GET at 5 s hangs to the
    # deadline: P = clip((5 + 2 - T) / 2, 0, 1)
    for mode, last in (("refuse", 8.0), ("blackhole", 5.0)):
        for length in lengths:
            expected = min(1.0, max(0.0, (last + 2.0 - length) / 2.0))
            assert ks.loc[(mode, length), "survival_probability"] == pytest.approx(expected)
            assert ks.loc[(mode, length), "min_tolerated_outage"] == pytest.approx(last)
            assert ks.loc[(mode, length), "max_tolerated_outage"] == pytest.approx(last + 2)
    assert ks["exact"].all()
    # 270 < 240 + 60: a follower can take the lease before the leader's deadline
    assert not frame[frame["preset"] == "openshift-sno"]["exact"].any()
    assert set(preset_survival_curves(None, [1.0])["preset"]) == set(preset_names())
    with pytest.raises(ValueError, match="lengths"):
        preset_survival_curves(["kube-vip"], [])


def test_outage_hand_arithmetic_table_openshift():
    table = outage_hand_arithmetic_table(ElectionConfig.preset("openshift")).set_index("mode")
    # library-go's figure: floor(107 / 26) * 26 - 26 = 78 s
    assert (table["hand_tolerance"] == 78.0).all()
    # refuse: attempts at 0, 26, 52, 78, 104 s of the failing cycle; phase within RP = 26 s
    assert table.loc["refuse", "always_survived_up_to"] == pytest.approx(104.0)
    assert table.loc["refuse", "never_survived_beyond"] == pytest.approx(130.0)
    assert table.loc["refuse", "survival_at_hand"] == pytest.approx(1.0)
    # blackhole: library-go's lock client times a call out after RD = 107 s, so the first
    # hung Update uses up the cycle: survived only if no renewal falls in the outage
    assert table.loc["blackhole", "always_survived_up_to"] == pytest.approx(0.0)
    assert table.loc["blackhole", "never_survived_beyond"] == pytest.approx(26.0)
    assert table.loc["blackhole", "survival_at_hand"] == pytest.approx(0.0)


def _simulated_overlap_probability(ld, rd, rp, followers, n, rng):
    """P(a follower acquires before the cut-off leader's deadline RP + RD), by simulation.

    The leader's last renewal commits at 0. Each follower polls with gaps
    Uniform[RP, 2.2 RP) (a stationary renewal process, started far in the past), records
    observedTime at its first poll after 0 and acquires at its first poll at or after
    observedTime + LD.
    """
    acquire = np.full(n, np.inf)
    for _ in range(followers):
        t = -60.0 * rp * rng.random(n) - 60.0 * rp
        while (t < 0).any():
            t = np.where(t < 0, t + rng.uniform(rp, 2.2 * rp, n), t)
        due = t + ld
        while (t < due).any():
            t = np.where(t < due, t + rng.uniform(rp, 2.2 * rp, n), t)
        acquire = np.minimum(acquire, t)
    return float(np.mean(acquire < rp + rd))


def test_overlap_vs_margin_closed_forms_and_simulation():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # margins <= 0 are built with the warning silenced
        frame = overlap_vs_margin([-1, 0, 1, 3], [1.0, 1.2])
    assert len(frame) == 8
    assert list(frame["margin"]) == [-1.0, -1.0, 0.0, 0.0, 1.0, 1.0, 3.0, 3.0]
    for row in frame.itertuples():
        ld = 12.0 + row.margin
        assert row.lease_duration == ld
        # the cut-off leader acts until ratio * (RP + RD) on the followers' clocks
        assert row.max_overlap == pytest.approx(row.clock_rate_ratio * 12.0 - ld)
        assert row.max_safe_clock_rate_ratio == pytest.approx(ld / 12.0)
        if row.max_overlap <= 0:
            assert row.overlap_probability == pytest.approx(0.0, abs=1e-12)
        else:
            assert row.overlap_probability > 0
    # LD = 11 s, RD = 10 s, RP = 2 s, two followers, equal clocks: simulate the loops
    n = 40_000
    p_sim = _simulated_overlap_probability(11.0, 10.0, 2.0, 2, n, np.random.default_rng(7))
    exact = frame[(frame["margin"] == -1) & (frame["clock_rate_ratio"] == 1.0)]
    p = float(exact["overlap_probability"].iloc[0])
    assert p_sim == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n) + 0.005)
    with pytest.raises(ValueError, match="margins"):
        overlap_vs_margin([-2.0])


def test_overlap_vs_clock_rate_presets():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = overlap_vs_clock_rate(["kube-scheduler", "openshift", "openshift-sno"], [1.0, 1.5])
    table = frame.set_index(["preset", "clock_rate_ratio"])
    # REFERENCE section 2: LD / RD / RP; margin LD - RD - RP, safe ratio LD / (RP + RD)
    for name, (ld, rd, rp) in {
        "kube-scheduler": (15, 10, 2),
        "openshift": (137, 107, 26),
        "openshift-sno": (270, 240, 60),
    }.items():
        for ratio in (1.0, 1.5):
            row = table.loc[(name, ratio)]
            assert row["lease_margin"] == ld - rd - rp
            assert row["max_safe_clock_rate_ratio"] == pytest.approx(ld / (rp + rd))
            assert row["max_overlap"] == pytest.approx(ratio * (rp + rd) - ld)
            assert row["lease_to_deadline_ratio"] == pytest.approx(ld / rd)
    assert table.loc[("kube-scheduler", 1.0), "overlap_probability"] == pytest.approx(0, abs=1e-12)
    assert table.loc[("openshift-sno", 1.0), "overlap_probability"] > 0
    assert table.loc[("kube-scheduler", 1.5), "overlap_probability"] > 0


def _closed_form_guide_rd(outage, mode, target, fixed_rp=None):
    """Smallest whole RD by the guide's rule, from the renew cycle's closed form (l = 0).

    refuse: attempts at k * RP for k * RP < RD, the last at A; blackhole: the fast-path
    Update hangs RD / 2, the GET at A = RD / 2 hangs to the deadline. Survival of an outage
    T is clip((A + RP - T) / RP, 0, 1).
    """
    for rd in range(1, 2000):
        rp = rd / 5 if fixed_rp is None else fixed_rp
        ld = math.ceil(1.5 * rd)
        if not (ld > rd + rp and rd > 1.2 * rp):
            continue
        if mode == "refuse":
            k = math.ceil(rd / rp) - 1
            a = k * rp
        else:
            a = max(1.0, rd / 2)
            if a >= rd:
                continue
        if min(1.0, max(0.0, (a + rp - outage) / rp)) >= target:
            return rd, rp, ld
    raise AssertionError("no solution")


def test_outage_guide_matches_the_closed_form():
    outages = [5.0, 10.0, 30.0, 60.0, 120.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        guide = outage_guide(outages, failover_p99=False)
        fixed = outage_guide([10.0, 30.0], retry_period=2.0, failover_p99=False)
    assert len(guide) == 10
    assert "crash_failover_p99" not in guide.columns
    for row in guide.itertuples():
        rd, rp, ld = _closed_form_guide_rd(row.outage, row.mode, 0.99)
        assert (row.renew_deadline, row.lease_duration) == (rd, ld), row
        assert row.retry_period == pytest.approx(rp)
        assert row.survival_probability >= 0.99
    # by hand: refuse needs 0.8 RD + 0.01 RP >= X, blackhole 0.5 RD + 0.01 RP >= X
    assert list(guide[guide["mode"] == "refuse"]["renew_deadline"]) == [7, 13, 38, 75, 150]
    assert list(guide[guide["mode"] == "blackhole"]["renew_deadline"]) == [10, 20, 60, 120, 240]
    for row in fixed.itertuples():
        rd, rp, ld = _closed_form_guide_rd(row.outage, row.mode, 0.99, fixed_rp=2.0)
        assert (row.renew_deadline, row.retry_period, row.lease_duration) == (rd, 2.0, ld)


def test_outage_guide_failover_column_nan_rows_and_bad_input():
    guide = outage_guide([10.0], ["refuse"])
    row = guide.iloc[0]
    cfg = ElectionConfig(row["lease_duration"], row["renew_deadline"], row["retry_period"])
    assert row["crash_failover_p99"] == pytest.approx(float(failover(cfg).ppf(0.99)))
    assert row["crash_failover_p99"] > row["lease_duration"]
    none = outage_guide([100.0], ["blackhole"], max_renew_deadline=50)
    assert math.isnan(none["renew_deadline"].iloc[0])
    assert math.isnan(none["crash_failover_p99"].iloc[0])
    for kwargs, name in (
        ({"outages": [0.0]}, "outages"),
        ({"modes": ["down"]}, "modes"),
        ({"target": 1.5}, "target"),
        ({"lease_ratio": 1.0}, "lease_ratio"),
        ({"retry_fraction": 0.9}, "retry_fraction"),
        ({"retry_period": -1.0}, "retry_period"),
        ({"max_renew_deadline": 0}, "max_renew_deadline"),
    ):
        with pytest.raises(ValueError, match=name):
            outage_guide(**kwargs)
