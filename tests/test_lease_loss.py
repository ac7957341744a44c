"""Lease loss to a slow API: closed forms and the lattice model against the Monte Carlo loop."""

import math

import numpy as np
import pytest
from scipy import stats

from ha_toolkit.distribution import uniform
from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.lease_loss import (
    CallLatency,
    call_timeout,
    compare_settings,
    episode_curve,
    episode_loss_probability,
    episode_survival,
    exponential_lengths,
    failing_cycle_attempts,
    lease_loss,
    loss_curve,
    parse_quantiles,
    renew_cycle_loss,
)
from ha_toolkit.election.outage import outage_survival, renew_call_offsets
from ha_toolkit.election.simulate_lease_loss import simulate_episodes, simulate_renew_cycles

SCHEDULER = ElectionConfig.preset("kube-scheduler")


# ------------------------------------------------------------------------ call latency
def test_quantiles_pass_through_the_points_and_tail_is_exponential():
    lat = CallLatency.from_quantiles("p50=20ms,p99=800ms,p999=3s")
    for level, x in ((0.5, 0.02), (0.99, 0.8), (0.999, 3.0)):
        assert lat.sf(x) == pytest.approx(1 - level, rel=1e-12)
    # beyond p999 the last piece continues: log sf linear through (0.8, 1e-2), (3, 1e-3)
    slope = (math.log(1e-3) - math.log(1e-2)) / (3.0 - 0.8)
    assert lat.sf(5.0) == pytest.approx(1e-3 * math.exp(slope * 2.0), rel=1e-12)
    assert lat.quantile(0.99) == pytest.approx(0.8, rel=1e-9)


def test_parse_quantiles_levels_and_errors():
    assert parse_quantiles("p50=20ms, p9=1s,p999=3s") == {0.5: 0.02, 0.9: 1.0, 0.999: 3.0}
    with pytest.raises(ValueError, match="pNN=DURATION"):
        parse_quantiles("median=3s")
    with pytest.raises(ValueError, match="increase"):
        CallLatency.from_quantiles({0.5: 1.0, 0.9: 0.5})


def test_buckets_interpolate_within_buckets_and_overflow_hangs():
    lat = CallLatency.from_buckets({0.1: 50, 1.0: 90, 5.0: 98, math.inf: 100})
    assert lat.hang == pytest.approx(0.02)
    # uniform within a bucket: half of the first bucket (50 of 100) lies below 0.05 s
    assert 1 - lat.sf(0.05) == pytest.approx(0.25, rel=1e-9)
    assert lat.sf(3.0) == pytest.approx(1 - (90 + 8 * 0.5) / 100, rel=1e-9)
    assert lat.sf(10.0) == pytest.approx(0.02)
    with pytest.raises(ValueError, match="cumulative"):
        CallLatency.from_buckets({0.1: 5, 1.0: 3})


# ------------------------------------------------------------------- independent calls
def test_timeout_follows_the_configuration():
    assert call_timeout(SCHEDULER) == 5.0
    assert call_timeout(ElectionConfig.preset("kube-vip")) == 1.5
    assert call_timeout(ElectionConfig(15, 10, 2, call_timeout="renew-deadline")) == 10.0


def test_cycle_loss_matches_the_hand_formula_for_exponential_latency():
    # tau = RD / 2: the fast path fails only by timing out at 5 s; then GET + Update must
    # both fit in the remaining 5 s: p = P(X > 5) * (1 - P(Y + Z < 5)), Y + Z ~ Gamma(2)
    mean = 2.0
    result = renew_cycle_loss(SCHEDULER, CallLatency.from_distribution(stats.expon(scale=mean)))
    expected = math.exp(-5 / mean) * stats.gamma(2, scale=mean).sf(5.0)
    assert result.loss_probability_per_cycle == pytest.approx(expected, rel=2e-3)


def test_cycle_loss_with_rejections_matches_the_counting_formula():
    # zero latency, every attempt rejected with probability r, Retry-After 1 s, tau 5 s:
    # the Update gets attempts at 0..4 s; a GET at 5 + 0..4 s; the GET's Update the rest
    r = 0.6
    result = renew_cycle_loss(SCHEDULER, 0.0, rejection=r, rejection_delay=0.0)
    get_then_update_fails = sum(r**k * (1 - r) * r ** (5 - k) for k in range(5)) + r**5
    assert result.loss_probability_per_cycle == pytest.approx(r**5 * get_then_update_fails,
                                                              rel=1e-9)


@pytest.mark.parametrize(
    ("preset", "dist", "rejection"),
    [
        ("kube-scheduler", stats.lognorm(s=1.2, scale=1.5), 0.0),
        ("kube-vip", stats.lognorm(s=1.0, scale=0.2), 0.3),
        ("openshift", stats.lognorm(s=1.5, scale=20.0), 0.0),
    ],
)
def test_cycle_loss_agrees_with_the_oracle(preset, dist, rejection):
    cfg = ElectionConfig.preset(preset)
    exact = renew_cycle_loss(cfg, CallLatency.from_distribution(dist), rejection=rejection,
                             rejection_delay=0.05)
    sim = simulate_renew_cycles(cfg, dist, 200_000, np.random.default_rng(11),
                                rejection=rejection, rejection_delay=0.05)
    p, se = sim.loss_probability()
    assert abs(exact.loss_probability_per_cycle - p) < max(0.005, 4 * se)
    assert exact.losses_per_day == pytest.approx(sim.losses_per_day(), rel=0.02)


def test_fast_calls_never_lose():
    result = renew_cycle_loss(SCHEDULER, "50ms")
    assert result.loss_probability_per_cycle == 0.0
    assert result.mean_cycle == pytest.approx(2.05, abs=2 * result.step)


# ---------------------------------------------------------------------------- episodes
@pytest.mark.parametrize("preset", ["kube-scheduler", "ingress-nginx", "kube-vip"])
@pytest.mark.parametrize("mode", ["refuse", "blackhole"])
def test_refuse_and_blackhole_schedules_are_the_outage_models(preset, mode):
    cfg = ElectionConfig.preset(preset, api_latency=0.1)
    offsets = [c for c, _ in failing_cycle_attempts(cfg, mode)]
    assert offsets == pytest.approx([c for c, _ in renew_call_offsets(cfg, mode)])
    lengths = np.linspace(0.0, 2 * cfg.renew_deadline, 41)
    expected = [outage_survival(cfg, t, mode).survival_probability for t in lengths]
    assert episode_survival(cfg, lengths, mode) == pytest.approx(expected, abs=1e-12)


def test_throttled_leader_polls_every_retry_after():
    # 429s after 0 s, Retry-After 1 s: the leader tries every second, the last at 9 s
    attempts = failing_cycle_attempts(SCHEDULER, "throttled")
    assert [c for c, _ in attempts] == pytest.approx(list(range(10)))
    assert episode_survival(SCHEDULER, [9.0, 9.5, 10.0], "throttled") == pytest.approx(
        [1.0, 0.75, 0.5])


def test_latency_mode_is_harmless_below_the_timeout_and_a_blackhole_above():
    assert episode_survival(SCHEDULER, 30.0, "latency", episode_latency=4.9) == 1.0
    above = episode_survival(SCHEDULER, [3.0, 6.0], "latency", episode_latency=6.0)
    assert above == pytest.approx(episode_survival(SCHEDULER, [3.0, 6.0], "blackhole"))


def test_exponential_lengths_closed_form_matches_the_numerical_integral():
    closed = episode_loss_probability(SCHEDULER, exponential_lengths(5.0), "refuse")
    numeric = episode_loss_probability(SCHEDULER, stats.gamma(1.0, scale=5.0), "refuse")
    assert closed == pytest.approx(numeric, rel=1e-6)
    # and by hand: 1 - S(T) = clip((T - 8) / 2, 0, 1)
    by_hand = 5.0 / 2.0 * (math.exp(-8 / 5) - math.exp(-10 / 5))
    assert closed == pytest.approx(by_hand, rel=1e-12)


def test_lattice_length_distribution_matches_direct_averaging():
    dist = uniform(6.0, 12.0, 0.01)
    expected = 1.0 - np.mean(episode_survival(SCHEDULER, np.linspace(6.0, 12.0, 600_001),
                                              "throttled"))
    assert episode_loss_probability(SCHEDULER, dist, "throttled") == pytest.approx(
        expected, abs=1e-5)


@pytest.mark.parametrize(
    ("preset", "latency", "mode", "length"),
    [
        ("kube-scheduler", 0.0, "refuse", 9.3),
        ("kube-scheduler", 0.3, "refuse", 8.5),
        ("kube-scheduler", 0.3, "throttled", 9.3),
        ("kube-vip", 0.2, "refuse", 3.0),
        ("kube-vip", 0.1, "blackhole", 1.2),
    ],
)
def test_episode_loss_agrees_with_the_oracle(preset, latency, mode, length):
    cfg = ElectionConfig.preset(preset, api_latency=latency)
    sim = simulate_episodes(cfg, length, mode, 40_000, np.random.default_rng(5))
    p, se = sim.loss_probability()
    exact = 1.0 - episode_survival(cfg, length, mode)
    assert abs(exact - p) < max(0.005, 4 * se)


@pytest.mark.parametrize(
    ("preset", "length", "mode", "kwargs"),
    [
        ("kube-scheduler", 9.5, "latency", {"episode_latency": 6.0}),
        ("kube-scheduler", 30.0, "latency", {"episode_latency": 2.0}),
        ("kube-scheduler", 10.5, "throttled", {"rejection_delay": 1.25}),
        ("kube-scheduler", 10.2, "throttled", {"retry_after": 3}),
        ("openshift", 120.0, "throttled", {"retry_after": 2}),
        ("openshift", 20.0, "blackhole", {}),
    ],
)
def test_episode_variants_agree_with_the_oracle(preset, length, mode, kwargs):
    cfg = ElectionConfig.preset(preset, api_latency=0.1)
    sim = simulate_episodes(cfg, length, mode, 20_000, np.random.default_rng(6), **kwargs)
    p, se = sim.loss_probability()
    exact = 1.0 - episode_survival(cfg, length, mode, **kwargs)
    assert abs(exact - p) < max(0.005, 4 * se)


@pytest.mark.parametrize("mode", ["refuse", "throttled"])
def test_episode_rate_agrees_with_the_oracle_within_two_percent(mode):
    # the acceptance case: 24 episodes a day, exponential lengths of mean 5 s
    rate = 24.0
    exact = rate * episode_loss_probability(SCHEDULER, exponential_lengths(5.0), mode)
    sim = simulate_episodes(SCHEDULER, lambda rng, n: rng.exponential(5.0, n), mode,
                            150_000, np.random.default_rng(3))
    p, _ = sim.loss_probability()
    assert exact == pytest.approx(rate * p, rel=0.02)


# ------------------------------------------------------------------------- the answer
def test_lease_loss_adds_the_sources_and_costs_them():
    lat = CallLatency.from_quantiles("p50=1s,p90=4s")
    both = lease_loss(SCHEDULER, lat, episodes_per_day=24, episode_duration="5s")
    calls = lease_loss(SCHEDULER, lat)
    episodes = lease_loss(SCHEDULER, episodes_per_day=24, episode_duration=5.0)
    assert both.losses_per_day == pytest.approx(calls.losses_per_day + episodes.losses_per_day)
    assert episodes.loss_probability_per_cycle == 0.0
    assert both.restarts_per_day == both.losses_per_day
    per_year = both.losses_per_day * 365.25
    assert both.leaderless_seconds_per_year == pytest.approx(per_year * both.leaderless_per_loss)
    assert 0 < episodes.leaderless_per_loss < 60
    crash = lease_loss(SCHEDULER, crashes_per_year=2.0)
    assert crash.losses_per_day == 0.0
    assert 15.0 < crash.crash_leaderless_seconds_per_year / 2.0 < 20.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"episodes_per_day": -1}, "episodes_per_day"),
        ({"episodes_per_day": 2}, "episode_duration"),
        ({"episodes_per_day": 2, "episode_duration": "5s", "episode_mode": "flaky"},
         "episode mode"),
        ({"episodes_per_day": 2, "episode_duration": "0s"}, "episode_duration"),
        ({"episodes_per_day": 2, "episode_duration": "5s", "retry_after": 0.5}, "whole seconds"),
        ({"episodes_per_day": 2, "episode_duration": "5s", "rejection": 0.2}, "give a latency"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lease_loss(SCHEDULER, **kwargs)


def test_python_client_is_refused():
    cfg = ElectionConfig(15, 10, 2, client="python")
    with pytest.raises(ValueError, match="client-go"):
        renew_cycle_loss(cfg, 0.1)


# ------------------------------------------------------------------- sweeps and tables
def test_loss_curve_rows_are_the_model_and_grow_with_p99():
    cfgs = {"scheduler": SCHEDULER, "vip": ElectionConfig.preset("kube-vip")}
    frame = loss_curve(cfgs, [1.0, 2.0, 4.0], p50="20ms")
    assert list(frame["name"]) == ["scheduler"] * 3 + ["vip"] * 3
    for _, group in frame.groupby("name"):
        assert np.all(np.diff(group["losses_per_day"]) >= 0)
    one = renew_cycle_loss(cfgs["vip"], CallLatency.from_quantiles({0.5: 0.02, 0.99: 2.0}))
    assert frame.iloc[4]["losses_per_day"] == pytest.approx(one.losses_per_day)
    with pytest.raises(ValueError, match="p99 must exceed p50"):
        loss_curve(cfgs, [0.01])


def test_episode_curve_is_the_survival():
    frame = episode_curve(SCHEDULER, [8.0, 9.0, 10.0])
    assert list(frame["mode"].unique()) == ["refuse", "blackhole", "throttled"]
    refuse = frame[frame["mode"] == "refuse"]
    assert list(refuse["loss_probability"]) == pytest.approx([0.0, 0.5, 1.0])


def test_compare_settings_requests_and_marginal_benefit():
    variants = {"base": SCHEDULER, "fast": ElectionConfig(15, 10, 1), "long": ElectionConfig(
        30, 20, 2)}
    frame = compare_settings(variants, episodes_per_day=24, episode_duration=5.0)
    # a leader renewing every RP and two followers polling every 1.6 RP on average
    assert list(frame["requests_per_second"]) == pytest.approx(
        [1 / 2 + 2 / 3.2, 1 / 1 + 2 / 1.6, 1 / 2 + 2 / 3.2])
    base, fast, long = frame.to_dict("records")
    assert math.isnan(base["losses_avoided_per_request_per_second"])
    assert fast["losses_avoided_per_request_per_second"] == pytest.approx(
        (base["losses_per_day"] - fast["losses_per_day"])
        / (fast["requests_per_second"] - base["requests_per_second"]))
    # the same traffic with fewer losses: a free improvement
    assert long["losses_per_day"] < base["losses_per_day"]
    assert long["losses_avoided_per_request_per_second"] == math.inf
    assert long["p99_crash_failover"] > base["p99_crash_failover"]


def test_a_retry_answered_after_its_calls_timeout_leaves_the_slow_path():
    # l = 0.2 s, 429 after 0.2 s, Retry-After 1 s: the Update's fifth attempt goes out at
    # 4.8 s and would answer at 5 s, its call's timeout; if the episode is over by then the
    # GET and Update that follow still renew, so a 6 s episode is always survived
    cfg = ElectionConfig.preset("kube-scheduler", api_latency=0.2)
    assert episode_survival(cfg, [4.0, 6.0, 8.6], "throttled") == pytest.approx([1, 1, 1])
    sim = simulate_episodes(cfg, lambda rng, n: rng.exponential(5.0, n), "throttled", 40_000,
                            np.random.default_rng(12))
    p, se = sim.loss_probability()
    exact = episode_loss_probability(cfg, exponential_lengths(5.0), "throttled")
    assert abs(exact - p) < max(0.005, 4 * se)


def test_leaderless_after_a_slow_call_loss_is_the_partition_gap():
    # the leader alone fails its cycle while the followers see the API: the partition
    # scenario at equal clock rates, whose overlap (stop minus takeover) is minus the gap
    from ha_toolkit.election.lease_loss import leaderless_after_slow_call_loss
    from ha_toolkit.election.overlap import term_overlap
    from ha_toolkit.election.simulate import simulate_partition

    cfg = ElectionConfig.preset("kube-scheduler", api_latency=0.2)
    gap = leaderless_after_slow_call_loss(cfg)
    assert gap == pytest.approx(-term_overlap(cfg, 1.0).mean(), rel=1e-9)
    sample = simulate_partition(cfg, 1.0, 30_000, np.random.default_rng(2))
    assert gap == pytest.approx(-sample.mean(), rel=0.005)


def test_awkward_durations_keep_the_lattice_small_and_the_answer_right():
    cfg = ElectionConfig(15, 10.000123, 2.000007)
    dist = stats.expon(scale=2.0)
    result = renew_cycle_loss(cfg, CallLatency.from_distribution(dist))
    assert result.step == pytest.approx(cfg.renew_deadline / 8192)
    # tau = RD / 2: the hand formula of the 15/10/2 case with the odd deadline
    tau = cfg.renew_deadline / 2
    expected = math.exp(-tau / 2.0) * stats.gamma(2, scale=2.0).sf(tau)
    assert result.loss_probability_per_cycle == pytest.approx(expected, rel=5e-3)
    with pytest.raises(ValueError, match="too fine"):
        renew_cycle_loss(SCHEDULER, 0.1, step=1e-6)


def test_fixed_episode_length_as_a_distribution_and_its_leaderless_cost():
    from ha_toolkit.distribution import point
    from ha_toolkit.election.outage import leaderless_after_outage

    result = lease_loss(SCHEDULER, episodes_per_day=10, episode_duration=point(9.0, 0.01))
    assert result.episode_loss_probability == pytest.approx(0.5, abs=1e-12)
    assert result.losses_per_day == pytest.approx(5.0, abs=1e-10)
    exact_gap = leaderless_after_outage(SCHEDULER, 9.0, "refuse").mean()
    assert result.leaderless_per_loss == pytest.approx(exact_gap, abs=0.1)


def test_compare_settings_marks_a_strictly_worse_setting():
    variants = {"rd/2": ElectionConfig(30, 20, 2),
                "rd": ElectionConfig(30, 20, 2, call_timeout="renew-deadline")}
    frame = compare_settings(variants, episodes_per_day=48, episode_duration="5s",
                             episode_mode="blackhole")
    assert frame.iloc[1]["losses_per_day"] > frame.iloc[0]["losses_per_day"]
    assert frame.iloc[1]["losses_avoided_per_request_per_second"] == -math.inf


def _random_episode_cases(count, seed):
    """Valid random settings, modes and lengths, drawn once with a fixed seed."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        rp = float(rng.choice([0.5, 1, 2, 3, 5, 7.5]))
        rd = round(rp * float(rng.uniform(1.3, 6)), 2)
        ld = float(np.ceil(rd + rp + float(rng.uniform(1, 10))))
        timeout = rng.choice(["half-renew-deadline", "renew-deadline",
                              round(float(rng.uniform(0.5, 1.2 * rd)), 2)])
        latency = float(rng.choice([0, 0.05, 0.2, 0.5]))
        mode = str(rng.choice(["refuse", "blackhole", "throttled", "latency"]))
        kwargs = {}
        if mode == "throttled":
            kwargs = {"retry_after": int(rng.integers(0, 4)),
                      "rejection_delay": round(float(rng.uniform(0, 2)), 2)}
        if mode == "latency":
            kwargs = {"episode_latency": round(float(rng.uniform(0, 2 * rd)), 2)}
        length = round(float(rng.uniform(0, 1.5 * rd + rp)), 3)
        cases.append((ld, rd, rp, str(timeout), latency, mode, kwargs, length))
    return cases


@pytest.mark.parametrize("case", _random_episode_cases(16, 2026))
def test_random_settings_agree_with_the_oracle(case):
    ld, rd, rp, timeout, latency, mode, kwargs, length = case
    call_timeout_value = timeout if timeout.endswith("deadline") else float(timeout)
    cfg = ElectionConfig(ld, rd, rp, api_latency=latency, call_timeout=call_timeout_value)
    exact = 1.0 - episode_survival(cfg, length, mode, **kwargs)
    sim = simulate_episodes(cfg, length, mode, 4000, np.random.default_rng(1), **kwargs)
    p, se = sim.loss_probability()
    assert abs(exact - p) < max(0.02, 5 * se)


def test_random_background_latency_barely_moves_the_episode_losses():
    # calls outside the episode take Exp(mean 50 ms) instead of a fixed 50 ms: the closed
    # form with l = 50 ms stays within 0.005 per episode (and no slow-call losses occur)
    cfg = ElectionConfig.preset("kube-scheduler", api_latency=0.05)
    exact = episode_loss_probability(cfg, exponential_lengths(5.0), "refuse")
    sim = simulate_episodes(cfg, lambda rng, n: rng.exponential(5.0, n), "refuse", 40_000,
                            np.random.default_rng(21), background=stats.expon(scale=0.05))
    p, se = sim.loss_probability()
    assert abs(exact - p) < max(0.005, 4 * se)


def test_separate_get_latency_agrees_with_the_oracle():
    put, get = stats.lognorm(s=1.0, scale=1.5), stats.expon(scale=3.0)
    exact = renew_cycle_loss(SCHEDULER, CallLatency.from_distribution(put),
                             get_latency=CallLatency.from_distribution(get))
    sim = simulate_renew_cycles(SCHEDULER, put, 200_000, np.random.default_rng(17),
                                get_latency=get)
    p, se = sim.loss_probability()
    assert abs(exact.loss_probability_per_cycle - p) < max(0.005, 4 * se)
    # tau = RD/2: p = P(PUT > 5) * P(GET + PUT >= 5); the GET's law enters only there
    assert exact.loss_probability_per_cycle > renew_cycle_loss(
        SCHEDULER, CallLatency.from_distribution(put)).loss_probability_per_cycle


def test_single_candidate_waits_for_its_restart_and_a_full_lease():
    import warnings

    from ha_toolkit.election.lease_loss import leaderless_after_slow_call_loss
    from ha_toolkit.election.timing import follower_gap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = ElectionConfig.preset("kube-scheduler", candidates=1)
    gap = leaderless_after_slow_call_loss(cfg, restart=10.0)
    # restart 10 s, then a new identity reads the record and waits LDrec = 15 s; it takes
    # the lease at its first attempt past that, RP (1 + 1.2 U) apart: the overshoot of a
    # renewal process with gaps Uniform[2, 4.4) is at most one gap, and on average
    # E[G^2] / (2 E[G]) for a level far beyond the gaps (15 s is ~5 mean gaps)
    mean_gap = follower_gap(cfg).mean()
    second = follower_gap(cfg).var() + mean_gap**2
    assert gap == pytest.approx(10.0 + 15.0 + second / (2 * mean_gap), abs=0.15)
    episodes = lease_loss(cfg, episodes_per_day=24, episode_duration="30s")
    assert episodes.leaderless_per_loss > gap  # long episodes keep the restarted process out
