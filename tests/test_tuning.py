"""Tests of ha_toolkit.election.tuning: the search against a brute force, and evaluate.

The reference for the search is an exhaustive pass over a small grid: every configuration
client-go accepts is built and fed to the exact models (``failover``, ``outage_survival``,
``max_safe_clock_rate_ratio``), with the API cost from its formula written out here; the
feasible set, the counts per target and the dominance relation are computed from that
table alone, without the search's shortcuts (RD independence, monotonicity, bounds).

Hand-derived values (REFERENCE section 1, kube-scheduler 15/10/2 s, 3 candidates, no
latency): refused calls are retried at 0, 2, 4, 6, 8 s of the failing cycle, so every outage
up to 8 s is survived and one of 9 s with probability (8 + 2 - 9) / 2 = 0.5; the largest
safe clock-rate ratio is LD / (RP + RD) = 15 / 12 = 1.25; the leader renews every 2 s and
each follower polls every 2 * 1.6 = 3.2 s on average: 1/2 + 2/3.2 = 1.125 requests/s.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from ha_toolkit.election import ElectionConfig, failover
from ha_toolkit.election.config import LeaseOverlapWarning
from ha_toolkit.election.outage import outage_survival
from ha_toolkit.election.overlap import max_safe_clock_rate_ratio, overlap_summary
from ha_toolkit.election.tuning import (
    TARGET_NAMES,
    Targets,
    dominating,
    evaluate,
    pareto_mask,
    preset_fronts,
    preset_positions,
    recommend,
    requests_per_second,
)

LDS = [float(s) for s in range(2, 13)]
RDS = [0.5 * k for k in range(2, 23)]  # 1 .. 11 s
RPS = [0.5, 1.0, 1.5, 2.0, 3.0]
GRID = {"lease_durations": LDS, "renew_deadlines": RDS, "retry_periods": RPS}
SETTINGS = {
    "plain": {"candidates": 3, "api_latency": 0.0},
    "latency": {"candidates": 2, "api_latency": 0.25},
}


def _quiet(*args, **kwargs) -> ElectionConfig:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeaseOverlapWarning)
        return ElectionConfig(*args, **kwargs)


def _failover_table(settings: dict) -> pd.DataFrame:
    """Every valid configuration of the grid with its failover percentiles and cost."""
    rows = []
    lat, n = settings["api_latency"], settings["candidates"]
    for ld, rd, rp in itertools.product(LDS, RDS, RPS):
        try:
            cfg = _quiet(ld, rd, rp, release_on_cancel=True, **settings)
        except ValueError:
            continue
        rows.append(
            {
                "lease_duration": ld,
                "renew_deadline": rd,
                "retry_period": rp,
                "p99_failover": float(failover(cfg, "crash").ppf(0.99)),
                "p99_release": float(failover(cfg, "release").ppf(0.99)),
                "ratio": max_safe_clock_rate_ratio(cfg),
                "rps": 1 / (rp + lat) + (n - 1) / (lat + 1.6 * rp),
            }
        )
    return pd.DataFrame(rows)


def _with_outage(table: pd.DataFrame, settings: dict, outage: float, mode: str) -> pd.DataFrame:
    """The table with the outage metrics; configurations that can never renew dropped."""
    rows = []
    for row in table.itertuples(index=False):
        cfg = _quiet(row.lease_duration, row.renew_deadline, row.retry_period, **settings)
        try:
            surv = outage_survival(cfg, outage, mode)
        except ValueError:
            continue
        rows.append(
            {
                **row._asdict(),
                "survival_probability": surv.survival_probability,
                "exact": surv.exact,
                "tolerated_outage": surv.min_tolerated_outage,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def brute():
    """Tables keyed by (settings name, outage, mode); failover computed once per settings."""
    failovers: dict[str, pd.DataFrame] = {}
    tables: dict[tuple, pd.DataFrame] = {}

    def get(name: str, outage: float, mode: str) -> pd.DataFrame:
        if name not in failovers:
            failovers[name] = _failover_table(SETTINGS[name])
        key = (name, outage, mode)
        if key not in tables:
            tables[key] = _with_outage(failovers[name], SETTINGS[name], outage, mode)
        return tables[key]

    return get


def _passes(table: pd.DataFrame, targets: Targets) -> dict[str, pd.Series]:
    out = {}
    if targets.max_p99_failover is not None:
        out["max_p99_failover"] = table["p99_failover"] <= targets.max_p99_failover
    if targets.max_p99_release is not None:
        out["max_p99_release"] = table["p99_release"] <= targets.max_p99_release
    if targets.survive_outage is not None:
        out["survive_outage"] = table["exact"] & (
            table["survival_probability"] >= targets.min_survival
        )
    out["max_clock_rate_ratio"] = table["ratio"] >= targets.max_clock_rate_ratio
    if targets.max_requests_per_second is not None:
        out["max_requests_per_second"] = table["rps"] <= targets.max_requests_per_second
    return out


def _signed(frame: pd.DataFrame, targets: Targets) -> np.ndarray:
    """Objectives as columns to minimise."""
    cols = [frame["p99_failover"]]
    if targets.max_p99_release is not None:
        cols.append(frame["p99_release"])
    cols += [-frame["tolerated_outage"], frame["rps"]]
    return np.column_stack([np.asarray(c, dtype=float) for c in cols])


CASES = [
    ("plain", Targets(max_p99_failover=9, survive_outage=4, max_clock_rate_ratio=1.1)),
    (
        "plain",
        Targets(
            max_p99_failover=12,
            max_p99_release=2.5,
            survive_outage=3,
            min_survival=0.9,
            outage_mode="blackhole",
            max_requests_per_second=2.0,
        ),
    ),
    ("latency", Targets(max_p99_failover=10, survive_outage=2.5)),
    # wide fronts: many feasible configurations
    ("plain", Targets(max_p99_failover=14, survive_outage=0.5)),
    (
        "latency",
        Targets(
            max_p99_failover=13,
            max_p99_release=3,
            survive_outage=1.5,
            min_survival=0.5,
            outage_mode="blackhole",
            max_clock_rate_ratio=1.05,
        ),
    ),
]


@pytest.mark.parametrize(("name", "targets"), CASES)
def test_recommend_matches_brute_force(brute, name, targets):
    outage = 0.0 if targets.survive_outage is None else targets.survive_outage
    table = brute(name, outage, targets.outage_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("error", LeaseOverlapWarning)  # the search handles it itself
        found = recommend(targets, **SETTINGS[name], **GRID)
    assert found.feasible
    assert found.grid_size == len(table)
    passes = _passes(table, targets)
    feasible = table[np.logical_and.reduce(list(passes.values()))]
    assert found.feasible_count == len(feasible)

    # every returned configuration, fed back into the models, meets the targets
    pareto = found.pareto.rename(columns={"requests_per_second": "rps"})
    for cfg, row in zip(found.configs(), pareto.itertuples(), strict=True):
        assert failover(cfg, "crash").ppf(0.99) <= targets.max_p99_failover
        assert failover(cfg, "crash").ppf(0.99) == pytest.approx(row.p99_failover, rel=1e-12)
        if targets.max_p99_release is not None:
            assert failover(cfg, "release").ppf(0.99) <= targets.max_p99_release
        surv = outage_survival(cfg, targets.survive_outage, targets.outage_mode)
        assert surv.exact and surv.survival_probability >= targets.min_survival
        assert surv.min_tolerated_outage == pytest.approx(row.tolerated_outage)
        overlap = overlap_summary(cfg, targets.max_clock_rate_ratio)
        assert overlap.overlap_probability == 0.0 and overlap.max_overlap <= 0.0

    # nothing on the grid dominates a Pareto row; every feasible row is matched or dominated
    ours = _signed(pareto, targets)
    theirs = _signed(feasible, targets)
    tol = 1e-9
    for row in ours:
        dominated = np.all(theirs <= row + tol, axis=1) & np.any(theirs < row - tol, axis=1)
        assert not dominated.any()
    for row in theirs:
        assert np.any(np.all(ours <= row + tol, axis=1))
    # no two Pareto rows share their objectives (one representative each)
    assert len(np.unique(ours.round(9), axis=0)) == len(ours)
    # best first
    assert found.pareto["score"].is_monotonic_increasing
    assert found.best == found.pareto.iloc[0].to_dict()


def test_latency_admits_a_thin_lease_margin_without_warning(brute):
    # with l = 0.25 s, 2 l covers LD = RD + RP: the overlap model says no overlap, and the
    # search takes such settings without a LeaseOverlapWarning
    targets = Targets(max_p99_failover=10, survive_outage=2.5)
    table = brute("latency", 2.5, "refuse")
    thin = table[
        (table["lease_duration"] <= table["renew_deadline"] + table["retry_period"])
        & (table["ratio"] >= 1.0)
    ]
    assert len(thin) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", LeaseOverlapWarning)
        found = recommend(targets, **SETTINGS["latency"], **GRID)
    assert found.feasible_count == int(
        np.logical_and.reduce(list(_passes(table, targets).values())).sum()
    )


INFEASIBLE = [
    # fast failover and a long outage: each target alone is reachable, not both
    (Targets(max_p99_failover=6, survive_outage=6), {"max_p99_failover", "survive_outage"}),
    # a third target nothing on the grid meets with either of the others: no single binder
    (
        Targets(max_p99_failover=6, survive_outage=6, max_requests_per_second=0.5),
        set(),
    ),
]


@pytest.mark.parametrize(("targets", "binding"), INFEASIBLE)
def test_infeasible_targets_report_what_binds(brute, targets, binding):
    table = brute("plain", targets.survive_outage, targets.outage_mode)
    found = recommend(targets, **SETTINGS["plain"], **GRID)
    assert not found.feasible and found.best is None and found.feasible_count == 0
    assert set(found.binding) == binding
    passes = _passes(table, targets)
    assert list(found.diagnostics["target"]) == list(passes)
    metric = {
        "max_p99_failover": ("p99_failover", min),
        "survive_outage": ("survival_probability", max),
        "max_clock_rate_ratio": ("ratio", max),
        "max_requests_per_second": ("rps", min),
    }
    for row in found.diagnostics.itertuples():
        others = [passes[name] for name in passes if name != row.target]
        meets_others = np.logical_and.reduce(others)
        assert row.passing == int(passes[row.target].sum())
        assert row.passing_others == int(meets_others.sum())
        column, best = metric[row.target]
        if meets_others.any():
            assert row.closest == pytest.approx(best(table.loc[meets_others, column]), rel=1e-12)
            # the configuration named reaches that value and meets every other target
            hit = table[
                (table["lease_duration"] == row.closest_lease_duration)
                & (table["renew_deadline"] == row.closest_renew_deadline)
                & (table["retry_period"] == row.closest_retry_period)
            ]
            assert len(hit) == 1 and bool(meets_others[hit.index[0]])
            assert hit[column].iloc[0] == pytest.approx(row.closest, rel=1e-12)
        else:
            assert math.isnan(row.closest)
    text = found.explain()
    assert "No configuration" in text
    if binding:
        assert all(f"{name} binds" in text for name in binding)
    else:
        assert "No single target binds" in text


def test_crash_p99_ignores_rd_and_grows_with_ld():
    # the two facts the search relies on, checked on the exact model
    for rp in (0.5, 2.0, 7.5):
        prev = -math.inf
        for ld in range(math.ceil(1.2 * rp) + 2, math.ceil(1.2 * rp) + 14):
            rds = np.linspace(1.2 * rp + 0.01, ld - 0.01, 3)
            p99s = {float(failover(_quiet(ld, rd, rp)).ppf(0.99)) for rd in rds}
            assert len(p99s) == 1
            (p99,) = p99s
            assert p99 >= prev
            # the bounds of the search: LD - 0.01 RP <= p99 <= LD + 2 (2.2 RP)
            assert ld - 0.01 * rp <= p99 <= ld + 4.4 * rp
            prev = p99


# ------------------------------------------------------------------------------ evaluate
def test_requests_per_second_hand_values_and_monte_carlo():
    assert requests_per_second(ElectionConfig.preset("kube-scheduler")) == pytest.approx(1.125)
    assert requests_per_second(ElectionConfig(15, 10, 2, candidates=1)) == pytest.approx(0.5)
    # followers: mean gap l + RP (1 + J U) over many seeded gaps
    cfg = ElectionConfig(15, 10, 2, candidates=4, api_latency=0.1, jitter_factor=1.2)
    rng = np.random.default_rng(8)
    gaps = 0.1 + 2.0 * (1.0 + 1.2 * rng.random(400_000))
    rate = 1 / 2.1 + 3 * len(gaps) / gaps.sum()
    # relative standard error of the mean gap: std / mean / sqrt(n)
    rel_se = gaps.std() / gaps.mean() / math.sqrt(len(gaps))
    assert requests_per_second(cfg) == pytest.approx(rate, rel=5 * rel_se)


def test_evaluate_kube_scheduler_against_hand_values():
    cfg = ElectionConfig.preset("kube-scheduler")
    targets = Targets(
        max_p99_failover="20s",
        max_p99_release=5,
        survive_outage=9,
        max_clock_rate_ratio=1.2,
        max_requests_per_second=1.2,
    )
    result = evaluate(cfg, targets)
    frame = result.to_frame().set_index("target")
    assert list(frame.index) == list(TARGET_NAMES)
    crash = float(failover(cfg, "crash").ppf(0.99))
    release = float(failover(cfg, "release").ppf(0.99))  # kube-scheduler releases
    assert frame.loc["max_p99_failover", "margin"] == pytest.approx(20 - crash)
    assert frame.loc["max_p99_release", "margin"] == pytest.approx(5 - release)
    assert frame.loc["survive_outage", "value"] == pytest.approx(0.5)
    assert frame.loc["survive_outage", "margin"] == pytest.approx(0.5 - 0.99)
    assert not frame.loc["survive_outage", "passed"]
    assert frame.loc["max_clock_rate_ratio", "value"] == pytest.approx(1.25)
    assert frame.loc["max_clock_rate_ratio", "margin"] == pytest.approx(0.05)
    assert frame.loc["max_requests_per_second", "margin"] == pytest.approx(1.2 - 1.125)
    assert result.failed == ("survive_outage",)
    assert not result.passed
    assert result.metrics["tolerated_outage"] == pytest.approx(8.0)
    assert result.metrics["max_tolerated_outage"] == pytest.approx(10.0)


def test_evaluate_shutdown_without_release_and_split_brain_preset():
    kcm = evaluate(ElectionConfig.preset("kube-controller-manager"), Targets(max_p99_release=5))
    crash = float(failover(ElectionConfig.preset("kube-controller-manager")).ppf(0.99))
    assert kcm.metrics["p99_release"] == pytest.approx(crash)
    assert kcm.failed == ("max_p99_release",)
    assert "no release" in kcm.checks[0].note
    # openshift-sno: LD 270 <= RD + RP = 300: the survival figure is only an upper bound
    sno = _quiet(270, 240, 60, name="openshift-sno")
    result = evaluate(sno, Targets(survive_outage=100))
    survival, overlap = result.checks
    assert survival.value == 1.0 and not survival.passed and "upper bound" in survival.note
    assert overlap.value == pytest.approx(270 / 300) and not overlap.passed
    assert evaluate(ElectionConfig.preset("kube-scheduler")).passed  # the default target


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"max_p99_failover": -1}, "max_p99_failover"),
        ({"max_p99_release": "soon"}, "max_p99_release"),
        ({"survive_outage": -5}, "survive_outage"),
        ({"min_survival": 0.0}, "min_survival"),
        ({"min_survival": 1.5}, "min_survival"),
        ({"outage_mode": "drop"}, "outage_mode"),
        ({"max_clock_rate_ratio": 0.9}, "max_clock_rate_ratio"),
        ({"max_clock_rate_ratio": math.inf}, "max_clock_rate_ratio"),
        ({"max_requests_per_second": 0}, "max_requests_per_second"),
    ],
)
def test_targets_reject_bad_input(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Targets(**kwargs)


def test_recommend_and_evaluate_reject_bad_input():
    with pytest.raises(ValueError, match="candidates"):
        recommend(Targets(max_p99_failover=10), candidates=1)
    with pytest.raises(ValueError, match="whole seconds"):
        recommend(Targets(max_p99_failover=10), lease_durations=[10.5])
    with pytest.raises(ValueError, match="retry_periods"):
        recommend(Targets(max_p99_failover=10), retry_periods=[0])
    with pytest.raises(ValueError, match="targets"):
        recommend({"max_p99_failover": 10})
    with pytest.raises(ValueError, match="cfg"):
        evaluate((15, 10, 2))


def test_pareto_mask_hand_example():
    frame = pd.DataFrame({"a": [1, 2, 1, 3, 1], "b": [5, 4, 6, 4, 5]})
    # minimise a, maximise b: (1, 6) is no worse than every other row and better than each
    assert list(pareto_mask(frame, {"a": 1, "b": -1})) == [False, False, True, False, False]
    # minimise both: the two (1, 5) tie and stay, (2, 4) stays; (1, 6) loses to (1, 5) and
    # (3, 4) to (2, 4)
    assert list(pareto_mask(frame, {"a": 1, "b": 1})) == [True, True, False, False, True]
    with pytest.raises(ValueError, match="objectives"):
        pareto_mask(frame, {"c": 1})


def test_dominating_kube_scheduler_and_a_pareto_row():
    grid = {"lease_durations": range(1, 21), "retry_periods": [1.0, 2.0, 3.0]}
    ks = ElectionConfig.preset("kube-scheduler")
    better = dominating(ks, **grid)
    # e.g. RD just above a multiple of RP: RD 10.5 s keeps the attempt at 10 s, so an outage
    # of 10 s is always survived, with a shorter lease: kube-scheduler is dominated
    assert len(better) > 0
    own = evaluate(ks).metrics
    for row in better.itertuples():
        assert row.p99_failover <= own["p99_failover"]
        assert row.tolerated_outage >= own["tolerated_outage"]
        assert row.requests_per_second <= own["requests_per_second"]
        assert (
            row.p99_failover < own["p99_failover"]
            or row.tolerated_outage > own["tolerated_outage"]
            or row.requests_per_second < own["requests_per_second"]
        )
    # a Pareto-optimal configuration of the same grid is dominated by nothing on it
    front = recommend(Targets(max_p99_failover=20), **grid)
    assert dominating(front.config(0), **grid).empty


def test_preset_fronts_cover_the_brute_force_grid(brute):
    # kube-vip, 5/3/1 s: the front at its cost (RP >= 1 s) and clock safety (ratio >= 1.25)
    front = preset_fronts(["kube-vip"], **GRID)
    own = evaluate(ElectionConfig.preset("kube-vip")).metrics
    assert set(front["preset"]) == {"kube-vip"}
    assert (front["requests_per_second"] <= own["requests_per_second"]).all()
    assert (front["max_safe_clock_rate_ratio"] >= 1.25).all()
    assert (front["p99_failover"] <= 2 * own["p99_failover"]).all()
    assert front["tolerated_outage"].is_monotonic_increasing
    assert front["p99_failover"].is_monotonic_increasing  # a 2-D front: more costs more
    table = brute("plain", 0.0, "refuse")
    eligible = table[
        (table["rps"] <= own["requests_per_second"] + 1e-12)
        & (table["ratio"] >= 1.25)
        & (table["p99_failover"] <= 2 * own["p99_failover"])
    ]
    ours = front[["p99_failover", "tolerated_outage"]].to_numpy() * [1, -1]
    for row in eligible[["p99_failover", "tolerated_outage"]].to_numpy() * [1, -1]:
        assert np.any(np.all(ours <= row + 1e-9, axis=1))
    for row in ours:
        theirs = eligible[["p99_failover", "tolerated_outage"]].to_numpy() * [1, -1]
        assert not np.any(
            np.all(theirs <= row + 1e-9, axis=1) & np.any(theirs < row - 1e-9, axis=1)
        )


def test_preset_positions_agree_with_dominating():
    grid = {"lease_durations": range(1, 21), "retry_periods": [1.0, 2.0, 3.0]}
    positions = preset_positions(["kube-vip", "kube-scheduler"], **grid).set_index("preset")
    # kube-vip 5/3/1: a shorter lease would cut its 1.25 clock-rate margin: not dominated
    assert not positions.loc["kube-vip", "dominated"]
    assert math.isnan(positions.loc["kube-vip", "better_lease_duration"])
    assert positions.loc["kube-vip", "tolerated_outage"] == pytest.approx(2.0)  # 0, 1, 2 < 3
    assert positions.loc["kube-vip", "requests_per_second"] == pytest.approx(2.25)
    better = dominating(ElectionConfig.preset("kube-scheduler"), **grid).iloc[0]
    row = positions.loc["kube-scheduler"]
    assert row["dominated"]
    assert row["better_lease_duration"] == better["lease_duration"]
    assert row["better_p99_failover"] == pytest.approx(better["p99_failover"])
    assert better["max_safe_clock_rate_ratio"] >= 1.25  # at least as safe as 15/(10+2)


# ----------------------------------------------------------- zero margin, orders, slack
SMALL = {
    "lease_durations": range(4, 13),
    "renew_deadlines": [2.0, 3.0, 4.0, 6.0, 8.0, 10.0],
    "retry_periods": [1.0, 2.0],
}


def _brute_margins(allow_zero):
    """Every valid grid setting meeting the overlap target at ratio 1, by hand."""
    kept = set()
    for ld, rd, rp in itertools.product(*SMALL.values()):
        if not (ld > rd > 1.2 * rp):
            continue
        margin = ld - (rd + rp)  # LDrec + 2 l - (RD + RP), latency 0, whole-second LD
        if margin > 0 or (allow_zero and margin == 0):
            kept.add((float(ld), rd, rp))
    return kept


@pytest.mark.parametrize("allow_zero", [True, False])
def test_zero_margin_settings_are_left_out_unless_allowed(allow_zero):
    from ha_toolkit.election.tuning import Targets, recommend

    found = recommend(Targets(max_p99_failover=60, allow_zero_margin=allow_zero), **SMALL)
    assert found.feasible_count == len(_brute_margins(allow_zero))
    margins = found.pareto["overlap_margin"]
    expected = found.pareto["lease_duration"] - found.pareto["renew_deadline"]
    expected = expected - found.pareto["retry_period"]
    np.testing.assert_allclose(margins, expected, atol=1e-12)
    assert (margins > 0).all() or allow_zero


def test_evaluate_fails_a_zero_margin_without_allow_zero_margin():
    from ha_toolkit.election.tuning import Targets, evaluate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeaseOverlapWarning)
        cfg = ElectionConfig(15, 14, 1)  # 15 = 14 + 1: the deadline meets the takeover
    assert evaluate(cfg, Targets(allow_zero_margin=True)).passed
    strict = evaluate(cfg, Targets(allow_zero_margin=False))
    assert strict.failed == ("max_clock_rate_ratio",)
    assert strict.metrics["overlap_margin"] == 0.0


@pytest.mark.parametrize(
    ("by", "column", "ascending"),
    [("cost", "requests_per_second", True), ("p99", "p99_failover", True),
     ("margin", "overlap_margin", False), ("score", "score", True)],
)  # fmt: skip
def test_sorted_orders_the_pareto_set(by, column, ascending):
    from ha_toolkit.election.tuning import Targets, recommend

    found = recommend(Targets(max_p99_failover=60), **SMALL)
    ordered = found.sorted(by)
    values = ordered[column].to_numpy()
    assert list(values) == sorted(values, reverse=not ascending)
    assert len(ordered) == len(found.pareto)
    with pytest.raises(ValueError, match="by must be one of"):
        found.sorted("fast")


def test_target_slack_counts_what_each_target_alone_rules_out():
    from ha_toolkit.election.tuning import Targets, recommend

    targets = Targets(max_p99_failover=15, max_requests_per_second=100)
    found = recommend(targets, **SMALL)
    slack = found.target_slack().set_index("target")
    # the budget of 100 requests per second exceeds every setting's cost: it rules out none
    assert slack.loc["max_requests_per_second", "excluded"] == 0
    assert not slack.loc["max_requests_per_second", "binds"]
    # the failover target: valid overlap-free settings whose p99 exceeds 15 s, by hand
    others = _brute_margins(allow_zero=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeaseOverlapWarning)  # zero margins are in the set
        over = [s for s in others if failover(ElectionConfig(*s), "crash").ppf(0.99) > 15]
    assert slack.loc["max_p99_failover", "excluded"] == len(over)
    best = found.pareto.iloc[0]
    assert slack.loc["max_p99_failover", "slack"] == pytest.approx(15 - best["p99_failover"])
    assert "not binding (loosening it changes nothing): max_requests_per_second" in (
        found.binding_text()
    )
