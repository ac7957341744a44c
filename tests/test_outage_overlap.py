"""Outage survival, term overlap and leaderless time against hand-derived closed forms."""

import warnings
from dataclasses import replace

import numpy as np
import pytest

from ha_toolkit.distribution import point, uniform
from ha_toolkit.election.config import ElectionConfig, LeaseOverlapWarning
from ha_toolkit.election.outage import (
    crash_loop_backoff,
    http_timeout,
    leaderless_after_outage,
    outage_survival,
    renew_call_offsets,
    survival_curve,
)
from ha_toolkit.election.overlap import (
    leaderless_after_partition,
    max_safe_clock_rate_ratio,
    overlap_summary,
    term_overlap,
)

DEFAULTS = ElectionConfig(15, 10, 2)
OPENSHIFT = ElectionConfig(137, 107, 26)


# ---------------------------------------------------------------- the renew cycle's schedule
def test_refused_calls_follow_the_ticker():
    offsets = renew_call_offsets(DEFAULTS, "refuse")
    assert offsets == [(t, kind) for t in (0.0, 2.0, 4.0, 6.0, 8.0) for kind in ("update", "get")]


def test_blackholed_calls_hang_for_the_http_timeout():
    assert http_timeout(DEFAULTS) == 5.0
    assert renew_call_offsets(DEFAULTS, "blackhole") == [(0.0, "update"), (5.0, "get")]
    assert renew_call_offsets(OPENSHIFT, "blackhole") == [(0.0, "update"), (53.5, "get")]
    # short deadlines: the timeout floor of 1 s
    assert http_timeout(ElectionConfig(3, 1.5, 1)) == 1.0


def test_missed_ticks_fire_once_when_the_call_returns():
    # Refused calls of 0.8 s with RP 1: Update 0-0.8, GET 0.8-1.6; the tick at 1 s was missed,
    # so the next attempt starts at 1.6 s, not at the tick of 2 s; its GET at 2.4 s cannot
    # finish (GET and Update) before the 3 s deadline, so 1.6 s is the last useful offset.
    cfg = ElectionConfig(5, 3, 1, api_latency=0.8)
    offsets = renew_call_offsets(cfg, "refuse")
    assert [kind for _, kind in offsets] == ["update", "get", "update", "get"]
    assert [t for t, _ in offsets] == pytest.approx([0.0, 0.8, 1.6, 2.4])
    assert outage_survival(cfg, 1.0).min_tolerated_outage == pytest.approx(1.6)


# ---------------------------------------------------------------- survival
@pytest.mark.parametrize(
    ("outage", "expected"),
    [(0, 1.0), (5, 1.0), (8, 1.0), (8.5, 0.75), (9, 0.5), (10, 0.0), (11, 0.0)],
)
def test_refuse_survival_of_the_defaults(outage, expected):
    # The failing cycle starts u ~ U[0, 2) after the outage starts and retries at
    # u + 0, 2, 4, 6, 8 s; it survives when u + 8 >= T.
    s = outage_survival(DEFAULTS, outage, "refuse")
    assert s.survival_probability == pytest.approx(expected, abs=1e-12)
    assert s.loss_probability == pytest.approx(1 - expected, abs=1e-12)
    assert (s.min_tolerated_outage, s.max_tolerated_outage) == (8.0, 10.0)
    assert s.exact


@pytest.mark.parametrize(("outage", "expected"), [(4, 1.0), (5, 1.0), (6, 0.5), (7, 0.0)])
def test_blackhole_survival_of_the_defaults(outage, expected):
    # The Update hangs 5 s, then the fall-back GET goes out at u + 5 and hangs to the deadline.
    s = outage_survival(DEFAULTS, outage, "blackhole")
    assert s.survival_probability == pytest.approx(expected, abs=1e-12)


def test_openshift_tolerates_more_than_its_hand_arithmetic_when_refused():
    refused = outage_survival(OPENSHIFT, 78, "refuse")
    assert refused.survival_probability == 1.0
    assert (refused.min_tolerated_outage, refused.max_tolerated_outage) == (104.0, 130.0)
    blackholed = outage_survival(OPENSHIFT, 78, "blackhole")
    assert (blackholed.min_tolerated_outage, blackholed.max_tolerated_outage) == (53.5, 79.5)
    assert blackholed.survival_probability == pytest.approx((79.5 - 78) / 26)


def test_latency_shifts_the_schedule():
    cfg = replace(DEFAULTS, api_latency=0.1)
    # refused attempts at 0, 2, 4, 6, 8 s, each an Update then a GET 0.1 s later; the GET at
    # 8.1 s can still renew (GET + Update return at 8.3 s < 10 s); the period is 2.1 s.
    s = outage_survival(cfg, 9.0, "refuse")
    assert (s.min_tolerated_outage, s.max_tolerated_outage) == pytest.approx((8.1, 10.2))
    assert s.survival_probability == pytest.approx((10.2 - 9.0) / 2.1)


def test_survival_over_a_distribution_of_outages():
    # T ~ U(5, 12): survived surely below 8, linearly less to 10: (3 + 1) / 7
    s = outage_survival(DEFAULTS, uniform(5, 12, 0.01), "refuse")
    assert s.survival_probability == pytest.approx(4 / 7, abs=1e-12)
    assert s.outage_mean == pytest.approx(8.5)
    fixed = outage_survival(DEFAULTS, point(9.0), "refuse")
    assert fixed.survival_probability == pytest.approx(0.5, abs=1e-12)


def test_survival_curve_is_a_tidy_frame():
    frame = survival_curve(DEFAULTS, [7, "9s", 12], "refuse")
    assert list(frame.columns) == ["outage", "mode", "survival_probability"]
    np.testing.assert_allclose(frame["survival_probability"], [1.0, 0.5, 0.0])


def test_thin_margin_warns_and_is_not_exact():
    with pytest.warns(LeaseOverlapWarning, match="renewDeadline \\+ retryPeriod"):
        cfg = ElectionConfig(11, 10, 2)
    assert not outage_survival(cfg, 9, "refuse").exact
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ElectionConfig(15, 10, 2)  # a margin of 3 s: no warning


# ---------------------------------------------------------------- overlap
def test_no_overlap_with_default_margins():
    s = overlap_summary(DEFAULTS)
    assert s.overlap_probability == 0.0
    assert s.max_overlap == pytest.approx(2 + 10 - 15)
    assert s.max_safe_clock_rate_ratio == pytest.approx(15 / 12)


def test_overlap_of_one_follower_without_jitter():
    # lag = R + O with R ~ U[0, 2) and O = 16 - 15 = 1: lag ~ U[1, 3).
    cfg = ElectionConfig(15, 10, 2, jitter_factor=0, candidates=2)
    d = term_overlap(cfg, 1.375)  # reach 1.375 * 12 = 16.5 s: overlap = 1.5 - lag
    assert d.sf(0.0) == pytest.approx(0.25, abs=1e-9)
    assert d.mean() == pytest.approx(1.5 - 2.0, abs=1e-6)
    assert d.support() == pytest.approx((-1.5, 0.5), abs=1e-9)


def test_latency_widens_the_safe_ratio():
    cfg = replace(DEFAULTS, api_latency=0.5)
    assert max_safe_clock_rate_ratio(cfg) == pytest.approx(16 / 12)


def test_leaderless_after_partition_is_the_negative_overlap():
    cfg = ElectionConfig(15, 10, 2, jitter_factor=0, candidates=2)
    gap = leaderless_after_partition(cfg)
    # gap = 15 - 12 + lag, lag ~ U[1, 3): uniform on [4, 6)
    assert gap.mean() == pytest.approx(5.0, abs=1e-6)
    assert gap.cdf(4.5) == pytest.approx(0.25, abs=1e-9)
    assert leaderless_after_partition(cfg, startup="2s").mean() == pytest.approx(7.0, abs=1e-6)
    # with jitter too, the gap is never below the margin LD - RD - RP
    assert leaderless_after_partition(DEFAULTS).support()[0] == pytest.approx(3.0)


# ---------------------------------------------------------------- leaderless after an outage
def test_leaderless_after_a_refused_outage():
    # One follower polling every 2 s, like the leader renews; the outage starts phi ~ U[0, 2)
    # after the last renewal w and the follower's first read of w comes R ~ U[0, 2) after it.
    # The leader stops at 12 - phi. If R < phi the follower knew w before the outage and
    # takes the lease at its first poll after it, at 22 + R - phi: a gap of 10 + R. If not,
    # it reads w at 20 + R - phi as a change and waits a full lease: 36 + R - phi, gap 24 + R.
    cfg = ElectionConfig(15, 10, 2, jitter_factor=0, candidates=2)
    gap = leaderless_after_outage(cfg, 20)
    assert gap.mean() == pytest.approx(0.5 * (10 + 2 / 3) + 0.5 * (24 + 4 / 3), abs=1e-6)
    # P(gap <= 11) = P(R < phi, R <= 1) = 3/8; P(gap <= 25) = 1/2 + P(R >= phi, R <= 1) = 5/8
    assert gap.cdf(11.0) == pytest.approx(0.375, abs=1e-9)
    assert gap.cdf(25.0) == pytest.approx(0.625, abs=1e-9)
    assert gap.support() == pytest.approx((10.0, 26.0), abs=1e-9)


def test_a_single_candidate_waits_for_its_restart_and_a_full_lease():
    # Nobody else can take over: the component exits at its deadline (about 10-12 s into a
    # 20 s outage), is restarted 10 s later, after the outage, reads the record as new and
    # acquires at its first poll 15 s later: polls every 2 s, so 16 s. Gap: 10 + 16 = 26 s.
    cfg = ElectionConfig(15, 10, 2, jitter_factor=0, candidates=1)
    gap = leaderless_after_outage(cfg, 20)
    assert gap.mean() == pytest.approx(26.0, abs=1e-9)
    assert gap.std() == pytest.approx(0.0, abs=1e-9)
    later = leaderless_after_outage(cfg, 20, restart="40s", startup=3)
    assert later.mean() == pytest.approx(26.0 + 30.0 + 3.0, abs=1e-9)


def test_leaderless_after_outage_refuses_what_it_cannot_answer():
    with pytest.raises(ValueError, match="always survived"):
        leaderless_after_outage(DEFAULTS, 7)
    with pytest.raises(ValueError, match="not modelled exactly"):
        leaderless_after_outage(DEFAULTS, 12, "blackhole")
    with pytest.raises(ValueError, match="restart"):
        leaderless_after_outage(DEFAULTS, 20, restart=-1)


def test_crash_loop_backoff_doubles_to_five_minutes():
    assert [crash_loop_backoff(n) for n in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]
    with pytest.raises(ValueError, match="restart"):
        crash_loop_backoff(0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: outage_survival(DEFAULTS, 5, "flaky"), "mode must be one of"),
        (lambda: outage_survival(DEFAULTS, -1), "outage must be"),
        (lambda: outage_survival(DEFAULTS, "5x"), "outage"),
        (lambda: term_overlap(DEFAULTS, 0.0), "clock_rate_ratio"),
        (lambda: term_overlap(replace(DEFAULTS, candidates=1)), "candidates >= 2"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_the_warning_follows_the_overlap_model():
    # LD 15.9 is stored as 15 s: no margin over RD 13 + RP 2, so two leaders are possible
    with pytest.warns(LeaseOverlapWarning, match="15s as the Lease stores it"):
        cfg = ElectionConfig(15.9, 13, 2)
    assert overlap_summary(cfg).max_overlap == pytest.approx(0.0)
    # 0.6 s of latency gives the followers' wait 1.2 s more: 12 + 1.2 > 10 + 2, no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        safe = ElectionConfig(12, 10, 2, api_latency=0.6)
    assert overlap_summary(safe).max_overlap < 0
