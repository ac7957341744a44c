"""Tests of ha_toolkit.availability: blocks, tiers, leaders, the composition and its oracle.

Every value is checked against an independent computation: exact sums in Fractions
(binomial, products), closed forms (uniform detection delay against an exponential repair,
jitter-free polling), brute-force enumeration (rolling-update handovers), the event-level
simulations of ha_toolkit.election.simulate, and the Monte Carlo of the whole control plane
with confidence intervals derived from its number of batches.
"""

from __future__ import annotations

import csv
import math
from dataclasses import fields, replace
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from ha_toolkit._data import data_path
from ha_toolkit.availability import (
    COMPONENTS,
    SECONDS_PER_MONTH,
    SECONDS_PER_YEAR,
    Assumptions,
    Availability,
    Component,
    HealthCheck,
    Outage,
    Replica,
    Topology,
    api_server_terms,
    assumptions_frame,
    control_plane,
    control_plane_terms,
    etcd_terms,
    fresh_acquisition,
    k_of_n,
    leader_elected_terms,
    leaderless_after_api_return,
    leadership_loss_probability,
    nines,
    parallel,
    parse_long_duration,
    quorum,
    restoration_up_count,
    rolling_update_handovers,
    series,
    up_count_pmf,
)
from ha_toolkit.availability.explore import (
    format_duration,
    health_check_effect,
    leader_settings_effect,
    mechanism_table,
    nines_vs_replicas,
)
from ha_toolkit.availability.simulate import simulate_control_plane
from ha_toolkit.distribution import from_cdf
from ha_toolkit.durations import parse_duration
from ha_toolkit.election import ElectionConfig
from ha_toolkit.election.outage import outage_survival
from ha_toolkit.election.simulate import simulate_outage


def binomial_tail(k: int, n: int, a: Fraction) -> Fraction:
    """P(at least k of n up), exactly."""
    return sum((math.comb(n, i) * a**i * (1 - a) ** (n - i) for i in range(k, n + 1)), Fraction(0))


# ------------------------------------------------------------------------- durations
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30d", 30 * 86400),
        ("2w", 14 * 86400),
        ("1w2d", 9 * 86400),
        ("1d12h", 129600),
        ("1.5d", 129600),
        ("720h", 2592000),
        ("90s", 90),
        ("45", 45),
        ("-1d", -86400),
    ],
)
def test_parse_long_duration(text, seconds):
    assert parse_long_duration(text) == seconds


def test_parse_long_duration_falls_back_to_go_durations():
    for text in ("1h30m", "500ms", "2.5"):
        assert parse_long_duration(text) == parse_duration(text)


@pytest.mark.parametrize("bad", ["5x", "d", "1d-2h", "1d 2x", "h1d", ""])
def test_parse_long_duration_rejects(bad):
    with pytest.raises(ValueError, match="mtbf"):
        parse_long_duration(bad, name="mtbf")


# ---------------------------------------------------------------------------- blocks
def test_component_availability_is_the_exact_ratio():
    c = Component("30d", "1h")
    exact = Fraction(30 * 86400) / Fraction(30 * 86400 + 3600)
    assert c.availability == pytest.approx(float(exact), abs=1e-15)
    assert c.unavailability == pytest.approx(float(1 - exact), rel=1e-14)
    assert c.downtime_per_year == pytest.approx(float(1 - exact) * 365 * 86400, rel=1e-14)
    assert c.downtime_per_month == pytest.approx(float(1 - exact) * 30 * 86400, rel=1e-14)


def test_nines_and_downtime_tables():
    a = Availability.from_availability(0.999)
    assert a.nines == pytest.approx(3.0)
    assert a.downtime_per_year == pytest.approx(8.76 * 3600)
    assert a.downtime_per_month == pytest.approx(43.2 * 60)
    assert nines(0.9999) == pytest.approx(4.0)
    assert nines(1.0) == math.inf
    assert nines(0.0) == 0.0
    assert SECONDS_PER_YEAR == 8760 * 3600 and SECONDS_PER_MONTH == 720 * 3600


@pytest.mark.parametrize(
    ("mtbf", "mttr"),
    [("30d", 0), (1e300, 1.0), (1e308, 1e308), (1.0, 1e308), (1e-300, 1e300), (1.0, 0.0)],
)
def test_extreme_components_stay_in_range(mtbf, mttr):
    c = Component(mtbf, mttr)
    for value in (c.availability, c.unavailability):
        assert 0.0 <= value <= 1.0 and not math.isnan(value)
    for n in (1, 3, 7):
        for k in (1, quorum(n), n):
            tier = k_of_n(k, n, c)
            assert 0.0 <= tier.availability <= 1.0 and not math.isnan(tier.unavailability)
            assert not math.isnan(tier.nines)


def test_mttr_zero_is_always_up():
    c = Component("1h", 0)
    assert c.availability == 1.0 and c.nines == math.inf and c.downtime_per_year == 0.0
    assert k_of_n(3, 3, c).availability == 1.0


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"mtbf": 0, "mttr": 1}, "mtbf"),
        ({"mtbf": "-1h", "mttr": 1}, "mtbf"),
        ({"mtbf": "1h", "mttr": -1}, "mttr"),
        ({"mtbf": "1x", "mttr": 1}, "mtbf"),
        ({"mtbf": float("nan"), "mttr": 1}, "mtbf"),
        ({"mtbf": True, "mttr": 1}, "mtbf"),
    ],
)
def test_component_rejects_bad_input(kwargs, name):
    with pytest.raises(ValueError, match=name):
        Component(**kwargs)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 9, 15, 25])
@pytest.mark.parametrize("a", [0.0, 0.3, 0.5, 0.9, 0.999, 0.999999, 1 - 1e-9, 1.0])
def test_k_of_n_matches_the_exact_binomial(n, a):
    exact_a = Fraction(a)
    for k in range(1, n + 1):
        exact = binomial_tail(k, n, exact_a)
        got = k_of_n(k, n, a)
        assert abs(got.availability - float(exact)) <= 1e-12
        # the unavailability keeps its relative digits, here from U = 1 - a given exactly
        u_exact = float(1 - exact)
        unit = Availability(float(1 - exact_a))
        assert k_of_n(k, n, unit).unavailability == pytest.approx(u_exact, rel=1e-10, abs=1e-300)


def test_k_of_n_tiny_unavailability_keeps_its_digits():
    u = Fraction(1, 10**12)
    exact = 1 - binomial_tail(2, 3, 1 - u)  # 3u^2 - 2u^3
    got = k_of_n(2, 3, Availability(float(u))).unavailability
    assert got == pytest.approx(float(exact), rel=1e-12)
    assert k_of_n(2, 3, Availability(float(u))).nines == pytest.approx(-math.log10(float(exact)))


def test_k_of_n_special_cases():
    c = Component("10d", "5h")
    assert k_of_n(1, 1, c).unavailability == pytest.approx(c.unavailability, rel=1e-14)
    assert k_of_n(1, 3, c).unavailability == pytest.approx(c.unavailability**3, rel=1e-12)
    assert k_of_n(3, 3, c).availability == pytest.approx(c.availability**3, rel=1e-14)
    for bad in ((0, 3), (4, 3), (1, 0), (1.5, 3), (True, 3)):
        with pytest.raises(ValueError):
            k_of_n(*bad, c)
    with pytest.raises(ValueError, match="part"):
        k_of_n(1, 3, 1.5)


def test_series_and_parallel_against_fractions():
    values = [0.99, 0.999, 0.9995]
    exact = [Fraction(v) for v in values]
    prod_a = exact[0] * exact[1] * exact[2]
    prod_u = (1 - exact[0]) * (1 - exact[1]) * (1 - exact[2])
    assert series(*values).availability == pytest.approx(float(prod_a), abs=1e-15)
    assert series(*values).unavailability == pytest.approx(float(1 - prod_a), rel=1e-12)
    assert parallel(*values).unavailability == pytest.approx(float(prod_u), rel=1e-12)
    assert series(Component("1d", "1h"), 1.0).unavailability == pytest.approx(1 / 25, rel=1e-13)
    with pytest.raises(ValueError):
        series()
    with pytest.raises(ValueError):
        parallel(0.5, 2.0)


def test_quorum_table():
    assert [quorum(n) for n in range(1, 8)] == [1, 2, 2, 3, 3, 4, 4]


def test_up_count_pmf_is_the_binomial():
    u = 0.03
    pmf = up_count_pmf(5, u)
    exact = [math.comb(5, m) * (1 - u) ** m * u ** (5 - m) for m in range(6)]
    np.testing.assert_allclose(pmf, exact, rtol=1e-12)
    assert up_count_pmf(3, 0.0)[-1] == 1.0 and up_count_pmf(3, 1.0)[0] == 1.0


def test_replica_is_the_series_of_its_units():
    node, proc = Component("90d", "30m"), Component("30d", "1m")
    rep = Replica((node, proc))
    assert rep.availability == pytest.approx(node.availability * proc.availability, rel=1e-14)
    assert rep.failure_rate == pytest.approx(1 / (90 * 86400) + 1 / (30 * 86400))
    with pytest.raises(ValueError):
        Replica(())


# ----------------------------------------------------------------------- health check
@pytest.mark.parametrize("tau", [5.0, 60.0, 3600.0])
def test_undetected_time_closed_form(tau):
    hc = HealthCheck("10s", 3, "1s")
    lo, hi = 21.0, 31.0
    assert hc.detection_window == (lo, hi)
    # E[min(D, R)] = tau - tau^2 (exp(-lo/tau) - exp(-hi/tau)) / (hi - lo), D ~ U[lo, hi]
    exact = tau - tau**2 * (math.exp(-lo / tau) - math.exp(-hi / tau)) / (hi - lo)
    assert hc.undetected_time(tau) == pytest.approx(exact, rel=1e-9)
    assert hc.undetected_time(0) == 0.0
    assert HealthCheck(10, 3).undetected_time(1e12) == pytest.approx(25.0, rel=1e-9)


def test_undetected_time_for_slow_repairs():
    # tau >> D: E[min(D, R)] = E[D] - E[D^2] / (2 tau) + E[D^3] / (6 tau^2) - ...
    hc, tau = HealthCheck("10s", 3, "1s"), 1e6
    lo, hi = 21.0, 31.0
    moment = [(hi ** (k + 1) - lo ** (k + 1)) / ((k + 1) * (hi - lo)) for k in range(4)]
    series_value = moment[1] - moment[2] / (2 * tau) + moment[3] / (6 * tau**2)
    assert hc.undetected_time(tau) == pytest.approx(series_value, rel=1e-12)


def test_health_check_rejects_bad_input():
    for kwargs, name in (
        ({"interval": 0}, "interval"),
        ({"threshold": 0}, "threshold"),
        ({"timeout": -1}, "timeout"),
        ({"threshold": 2.5}, "threshold"),
    ):
        with pytest.raises(ValueError, match=name):
            HealthCheck(**kwargs)


def test_api_server_terms_structure():
    rep = Replica((Component("10d", "2h"), Component("8d", "1h")))
    hc = HealthCheck(10, 3)
    down, undetected = api_server_terms(3, rep, hc)
    assert down.unavailability == pytest.approx(rep.unavailability**3, rel=1e-12)
    # each failure with m >= 2 up costs E[min(D, R)] / m of the requests, at rate m*lambda
    pmf = [math.comb(3, m) * rep.availability**m * rep.unavailability ** (3 - m) for m in range(4)]
    loss = hc.expected_undetected(rep)
    expected = sum(m * rep.failure_rate * pmf[m] * loss / m for m in (2, 3))
    assert undetected.unavailability == pytest.approx(expected, rel=1e-12)
    assert api_server_terms(1, rep, hc)[1].unavailability == 0.0  # one replica: nothing to eject


def test_etcd_terms_against_the_binomial():
    member = Replica((Component("10d", "2h"), Component("12d", "1h")))
    a = Fraction(member.availability)
    for n in (1, 2, 3, 5):
        lost, elections = etcd_terms(n, member, "2s")
        assert lost.unavailability == pytest.approx(
            float(1 - binomial_tail(quorum(n), n, a)), rel=1e-9
        )
        assert elections.unavailability > 0
    single = etcd_terms(1, member, 2.0)[1]
    # one member: an election each time it comes back
    assert single.events_per_year == pytest.approx(member.failures_per_year, rel=1e-12)


# ----------------------------------------------------------------------------- leaders
def brute_force_handovers(n: int) -> Fraction:
    """Enumerate every path of the lease through a rolling restart in order 0..n-1."""

    def walk(step: int, leader: int, prob: Fraction) -> Fraction:
        if step == n:
            return Fraction(0)
        if leader != step:
            return walk(step + 1, leader, prob)
        total = prob  # one handover, weighted by the path's probability
        for other in range(n):
            if other != step:
                total += walk(step + 1, other, prob / (n - 1))
        return total

    return sum((walk(0, start, Fraction(1, n)) for start in range(n)), Fraction(0))


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_rolling_update_handovers_brute_force(n):
    assert rolling_update_handovers(n) == pytest.approx(float(brute_force_handovers(n)), abs=1e-12)


def test_rolling_update_handovers_values():
    assert rolling_update_handovers(1) == 1.0
    assert rolling_update_handovers(3) == pytest.approx(19 / 12)
    assert rolling_update_handovers(5, "leader-last") == 1.0
    with pytest.raises(ValueError, match="order"):
        rolling_update_handovers(3, "alphabetical")


def test_fresh_acquisition_without_jitter():
    # polls every RP + l from 0; the lease may be taken at the first poll >= l + LDrec
    cfg = ElectionConfig(15, 10, 2, jitter_factor=0.0, api_latency=0.1)
    level, period = 15.1, 2.1
    expected = math.ceil(level / period) * period + 0.2
    assert fresh_acquisition(cfg) == pytest.approx(expected, abs=1e-6)
    assert fresh_acquisition(cfg, released=True) == pytest.approx(0.2)


def test_fresh_acquisition_against_polling_simulation():
    from ha_toolkit.availability.simulate import _fresh_samples

    cfg = ElectionConfig.preset("kube-scheduler", api_latency=0.05)
    x = _fresh_samples(cfg, False, 200_000, np.random.default_rng(5))
    tol = 4 * x.std() / math.sqrt(x.size) + 2e-3
    assert fresh_acquisition(cfg) == pytest.approx(x.mean(), abs=tol)


def test_loss_probability_of_exponential_outages_matches_the_distribution():
    cfg = ElectionConfig.preset("kube-scheduler")
    for tau in (3.0, 9.0, 60.0):
        dist = from_cdf(lambda x, t=tau: 1 - np.exp(-x / t), 0.0, 40 * tau, step=0.005)
        expected = outage_survival(cfg, dist).loss_probability
        got = leadership_loss_probability(cfg, tau, exponential=True)
        assert got == pytest.approx(expected, abs=2e-4)
    assert leadership_loss_probability(cfg, 60.0) == 1.0
    assert leadership_loss_probability(cfg, 2.0) == 0.0
    assert leadership_loss_probability(cfg, 0.0, exponential=True) == 0.0


def test_leaderless_after_api_return_matches_the_event_simulation():
    cfg = ElectionConfig.preset("kube-scheduler", api_latency=0.02)
    length = 60.0
    res = simulate_outage(cfg, length, "refuse", 20_000, np.random.default_rng(11))
    lost = ~res.survived
    after = res.new_leader_at[lost] - length
    tol = 4 * after.std() / math.sqrt(after.size) + 0.05
    assert leaderless_after_api_return(cfg, outage=length) == pytest.approx(after.mean(), abs=tol)
    # the default (a long outage, computed at the shortest such length) is the same
    assert leaderless_after_api_return(cfg) == pytest.approx(after.mean(), abs=tol)
    assert leaderless_after_api_return(cfg, takeover=5.0) == pytest.approx(
        leaderless_after_api_return(cfg) + 5.0, abs=1e-9
    )
    assert leaderless_after_api_return(cfg, outage=1.0) == 0.0  # always survived


def test_lone_leader_after_return_matches_its_polls():
    from ha_toolkit.availability.controlplane import RESTART_BACKOFF, _after_return_cached
    from ha_toolkit.availability.simulate import _lone_after_return
    from ha_toolkit.election.outage import crash_loop_backoff

    assert crash_loop_backoff(1) == RESTART_BACKOFF
    cfg = ElectionConfig.preset("kube-scheduler", candidates=1, api_latency=0.02)
    rng = np.random.default_rng(8)
    for length in (14.0, 60.0):
        res = simulate_outage(cfg, length, "refuse", 20_000, rng, followers=False)
        lost = ~res.survived
        lengths = np.full(int(lost.sum()), length)
        after = _lone_after_return(cfg, lengths, res.lost_at[lost], RESTART_BACKOFF, rng)
        tol = 4 * after.std() / math.sqrt(after.size) + 0.05
        assert leaderless_after_api_return(cfg, outage=length) == pytest.approx(
            after.mean(), abs=tol
        )
    # the default length is long enough: a longer outage gives the same
    default = leaderless_after_api_return(cfg)
    assert _after_return_cached(cfg, "refuse", 90.0) == pytest.approx(default, abs=0.02)


def test_restoration_without_shared_units_is_the_binomial():
    tier = Replica((Component("10d", "1h", "etcd host"), Component("12d", "1h", "etcd")))
    leader = Replica((Component("10d", "2h", "node"), Component("9d", "1h", "scheduler")))
    np.testing.assert_allclose(
        restoration_up_count(tier, 2, 3, leader),
        up_count_pmf(3, leader.unavailability),
        rtol=1e-12,
    )
    shared = Replica((tier.units[0], Component("9d", "1h", "scheduler")))
    pmf = restoration_up_count(tier, 2, 3, shared)
    assert pmf.sum() == pytest.approx(1.0) and np.all(pmf >= 0)


def test_leader_elected_terms_inputs():
    cfg = ElectionConfig.preset("kube-scheduler")
    rep = Component("10d", "1h")
    names = [
        t.mechanism
        for t in leader_elected_terms(
            cfg, 3, rep, outages=[Outage("blip", 4, 30)], leadership_loss_per_outage=0.5
        )
    ]
    assert names == [
        "all replicas down",
        "recovery after all down",
        "crash failover",
        "rolling updates",
        "after blip",
    ]
    with pytest.raises(ValueError, match="leadership_loss_per_outage"):
        leader_elected_terms(cfg, 3, rep, leadership_loss_per_outage=1.5)
    with pytest.raises(ValueError, match="mode"):
        leader_elected_terms(cfg, 3, rep, mode="drop")
    with pytest.raises(ValueError, match="replicas"):
        leader_elected_terms(cfg, 0, rep)


# ---------------------------------------------------------------------- assumptions
def test_assumptions_csv_covers_every_field_with_a_reason():
    with data_path("availability_assumptions.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["parameter"] for r in rows] == [f.name for f in fields(Assumptions)]
    assert all(len(r["source_or_reason"]) > 20 for r in rows)
    assert set(assumptions_frame().columns) == {"parameter", "value", "unit", "source_or_reason"}


def test_assumptions_defaults_and_overrides():
    a = Assumptions.default()
    assert a.node_mtbf == 4380 * 3600 and a.lb_mttr == pytest.approx(52.56 * 60)
    assert Assumptions.default(node_mtbf="90d").node_mtbf == 90 * 86400
    assert replace(a, etcd_mttr="5m").etcd_mttr == 300.0
    assert a.health_check == HealthCheck(10, 3, 0)
    with pytest.raises(ValueError, match="unknown"):
        Assumptions.default(node_mtbff=1)
    with pytest.raises(ValueError, match="node_mtbf"):
        replace(a, node_mtbf=0)
    with pytest.raises(ValueError, match="rolling_updates_per_year"):
        replace(a, rolling_updates_per_year=-1)


# --------------------------------------------------------------------- composition
def test_topology_validation():
    assert Topology().etcd_members == 3 and Topology().apiserver_etcd == "local"
    assert Topology(etcd="external").apiserver_etcd == "cluster"
    assert Topology(nodes=5).scheduler.candidates == 5
    for kwargs, name in (
        ({"nodes": 0}, "nodes"),
        ({"etcd": "remote"}, "etcd"),
        ({"etcd_members": 5}, "etcd_members"),
        ({"etcd": "external", "apiserver_etcd": "local"}, "apiserver_etcd"),
        ({"components_api": "vip"}, "components_api"),
        ({"outage_mode": "drop"}, "outage_mode"),
        ({"update_order": "by-name"}, "update_order"),
        ({"scheduler": "kube-scheduler"}, "scheduler"),
    ):
        with pytest.raises(ValueError, match=name):
            Topology(**kwargs)


def test_control_plane_table():
    frame = control_plane()
    assert list(frame["component"]) == [*COMPONENTS, "control plane"]
    assert list(frame.columns) == [
        "component",
        "availability",
        "unavailability",
        "nines",
        "downtime_per_year",
        "downtime_per_month",
        "share",
    ]
    parts = frame.iloc[:-1]
    assert parts["share"].sum() == pytest.approx(1.0)
    exact = Fraction(1)
    for u in parts["unavailability"]:
        exact *= 1 - Fraction(u)
    assert frame.iloc[-1]["unavailability"] == pytest.approx(float(1 - exact), rel=1e-12)
    terms = control_plane_terms()
    summed = terms.groupby("component")["unavailability"].sum()
    for row in parts.itertuples():
        assert row.unavailability == pytest.approx(summed[row.component], rel=1e-12)


@pytest.mark.parametrize(
    "overrides",
    [
        {
            k: 0
            for k in (
                "lb_mttr",
                "node_mttr",
                "etcd_mttr",
                "apiserver_mttr",
                "scheduler_mttr",
                "controller_manager_mttr",
            )
        },
        {
            k: 1e300
            for k in (
                "lb_mtbf",
                "node_mtbf",
                "etcd_mtbf",
                "apiserver_mtbf",
                "scheduler_mtbf",
                "controller_manager_mtbf",
            )
        },
        {
            "node_mtbf": "1h",
            "node_mttr": "1000d",
            "rolling_updates_per_year": 0,
            "api_disruptions_per_year": 0,
        },
    ],
)
@pytest.mark.parametrize("nodes", [1, 2, 3])
def test_control_plane_extreme_inputs(overrides, nodes):
    frame = control_plane(Topology(nodes=nodes), Assumptions.default(**overrides))
    for column in ("availability", "unavailability", "downtime_per_year", "share"):
        values = frame[column].to_numpy(float)
        assert not np.isnan(values).any(), column
    assert ((frame["availability"] >= 0) & (frame["availability"] <= 1)).all()


def test_explore_tables():
    table = nines_vs_replicas(Component("30d", "1h"), range(1, 6))
    quorum_rows = table[table["tier"] == "majority (quorum)"]
    # a quorum of 2 members is worse than 1; 3 members beat 1
    by_n = dict(zip(quorum_rows["replicas"], quorum_rows["nines"], strict=True))
    assert by_n[2] < by_n[1] < by_n[3]
    hc = health_check_effect([2, 10, 30], [1, 3])
    per = hc.set_index(["interval", "threshold"])["undetected"]
    assert per[(2.0, 1)] < per[(10.0, 3)] < per[(30.0, 3)]
    presets = {n: ElectionConfig.preset(n) for n in ("kube-vip", "kube-scheduler", "openshift")}
    lease = leader_settings_effect(presets)
    crash = lease[lease["mechanism"] == "crash failover"].set_index("setting")["downtime_per_year"]
    assert crash["kube-vip"] < crash["kube-scheduler"] < crash["openshift"]
    assert mechanism_table()["share"].sum() == pytest.approx(1.0)
    assert format_duration(31536) == "8.76 h" and format_duration(0.012) == "12 ms"


# ------------------------------------------------------------------ Monte Carlo oracle
#: Failure rates raised so that every mechanism happens hundreds of times in the simulated
#: years; the model is the same, only the numbers are harsher.
STRESS = Assumptions.default(
    node_mtbf="10d",
    node_mttr="2h",
    etcd_mtbf="12d",
    etcd_mttr="1h",
    apiserver_mtbf="8d",
    apiserver_mttr="1h",
    scheduler_mtbf="10d",
    scheduler_mttr="1h",
    controller_manager_mtbf="10d",
    controller_manager_mttr="1h",
    lb_mtbf="30d",
    lb_mttr="3h",
    rolling_updates_per_year=50,
    api_disruptions_per_year=20,
)

TOPOLOGIES = {
    "3 nodes, stacked etcd (kubeadm)": (Topology(), 150.0),
    "5 nodes, 5 external etcd, via the LB, leader restarted last": (
        Topology(
            nodes=5,
            etcd="external",
            etcd_members=5,
            components_api="lb",
            update_order="leader-last",
        ),
        80.0,
    ),
    "2 nodes, stacked etcd, kube-vip leases": (
        Topology(nodes=2, scheduler=ElectionConfig.preset("kube-vip")),
        120.0,
    ),
    "1 node": (Topology(nodes=1), 150.0),
}
BATCHES = 15
MIN_EVENTS_PER_BATCH = 10


@pytest.fixture(
    scope="module", params=list(TOPOLOGIES), ids=["stacked3", "external5lb", "two", "one"]
)
def simulated(request):
    topology, years = TOPOLOGIES[request.param]
    seed = list(TOPOLOGIES).index(request.param) + 2024
    result = simulate_control_plane(
        topology, STRESS, years=years, batches=BATCHES, rng=np.random.default_rng(seed), pool=8000
    )
    return result


def test_composition_within_the_99_percent_interval(simulated):
    row = (
        simulated.compare(0.99)
        .set_index(["component", "mechanism"])
        .loc[("control plane", "series")]
    )
    assert row["lower"] <= row["analytic"] <= row["upper"], row.to_dict()


def test_components_and_mechanisms_within_family_intervals(simulated):
    """Each component and each mechanism seen often enough, at a family-wise 99 %."""
    terms = control_plane_terms(simulated.topology, simulated.assumptions).set_index(
        ["component", "mechanism"]
    )
    events = terms["events_per_year"] * simulated.years / BATCHES
    checked = [key for key, per_batch in events.items() if per_batch >= MIN_EVENTS_PER_BATCH] + [
        (name, "total") for name in COMPONENTS
    ]
    # Bonferroni: each interval at 1 - 0.01 / k, from the t distribution of the batch means
    level = 1 - 0.01 / len(checked)
    table = simulated.compare(level).set_index(["component", "mechanism"])
    misses = [
        (key, table.loc[key, ["analytic", "lower", "upper"]].tolist())
        for key in checked
        if not table.loc[key, "within"]
    ]
    assert not misses
    # the interval is the one the batch count gives
    t = stats.t.ppf(0.5 + 0.5 * level, BATCHES - 1)
    np.testing.assert_allclose(table["half_width"], t * table["std_error"])


def test_union_is_below_the_series(simulated):
    summary = simulated.summary().set_index(["component", "mechanism"])
    union = summary.loc[("control plane", "union"), "estimate"]
    assert union <= summary.loc[("control plane", "series"), "estimate"] + 1e-12
    assert union >= summary.loc[("load balancer", "total"), "estimate"] - 1e-12


def test_simulation_inputs():
    with pytest.raises(ValueError, match="batches"):
        simulate_control_plane(years=1, batches=1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="years"):
        simulate_control_plane(years=0, rng=np.random.default_rng(0))


def test_topology_comparison_and_plots():
    import matplotlib.pyplot as plt

    from ha_toolkit.availability.explore import topology_comparison
    from ha_toolkit.availability.plots import plot_downtime_share, plot_mechanisms, plot_nines

    both = topology_comparison({"three": Topology(), "one": Topology(nodes=1)})
    assert list(both["topology"].unique()) == ["three", "one"] and len(both) == 14
    one = both[(both["topology"] == "one") & (both["component"] == "control plane")]
    three = both[(both["topology"] == "three") & (both["component"] == "control plane")]
    assert one["unavailability"].iloc[0] > three["unavailability"].iloc[0]
    fig, axes = plt.subplots(1, 3)
    assert plot_downtime_share(control_plane(), ax=axes[0]) is axes[0]
    lease = leader_settings_effect({"default": ElectionConfig.preset("kube-scheduler")})
    assert plot_mechanisms(lease, "setting", ax=axes[1]) is axes[1]
    assert plot_nines(nines_vs_replicas(0.999, range(1, 4)), ax=axes[2]) is axes[2]
    plt.close(fig)
    with pytest.raises(ValueError, match="share"):
        plot_downtime_share(lease)
    with pytest.raises(ValueError, match="unit"):
        plot_downtime_share(control_plane(), unit="days")
