"""The real Python client (PyPI ``kubernetes``) on a virtual clock, against the model.

Single trials are checked against hand-derived event times; samples of a few hundred
seeded trials against the exact ``client="python"`` model, with tolerances from the sample
size (4 standard errors for the mean and the p99, the 1 % Kolmogorov-Smirnov critical value).
"""

from __future__ import annotations

import math
import threading
import time as real_time
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kubernetes.leaderelection import leaderelection

from ha_toolkit.distribution import uniform
from ha_toolkit.election import ElectionConfig, failover
from ha_toolkit.election.config import LeaseOverlapWarning
from ha_toolkit.election.pyclient import (
    EPOCH,
    InMemoryLock,
    LeaseStore,
    VirtualClock,
    VirtualTimeScheduler,
    compare_to_model,
    config_error,
    ecdf_error,
    ks_critical_value,
    run_trial,
    run_trials,
)

Z = 4.0


def python_cfg(ld=15.0, rd=10.0, rp=2.0, **kw) -> ElectionConfig:
    return ElectionConfig(ld, rd, rp, client="python", **kw)


# ------------------------------------------------------------------ the scheduler


def test_scheduler_runs_tasks_in_virtual_time_order_ties_in_registration_order():
    sched = VirtualTimeScheduler()
    log = []

    def task(name, gaps):
        def body():
            for gap in gaps:
                log.append((sched.now, name))
                sched.sleep(gap)
            log.append((sched.now, name))

        return body

    sched.spawn(task("a", [1.0, 1.0]), 0.0, "a")
    sched.spawn(task("b", [0.5, 1.5]), 0.0, "b")
    sched.call_at(1.25, lambda: log.append((sched.now, "callback")))
    try:
        sched.run(lambda: len(log) == 7)
    finally:
        sched.shutdown()
    assert log == [
        (0.0, "a"),
        (0.0, "b"),
        (0.5, "b"),
        (1.0, "a"),
        (1.25, "callback"),
        (2.0, "b"),  # registered at 0.5, before a's (at 1.0)
        (2.0, "a"),
    ]


def test_scheduler_sleep_outside_a_task_and_stuck_runs_raise():
    sched = VirtualTimeScheduler()
    with pytest.raises(RuntimeError, match="outside a scheduled task"):
        sched.sleep(1.0)
    sched.spawn(lambda: None, 0.0, "short")
    with pytest.raises(RuntimeError, match="nothing is left to run"):
        sched.run(lambda: False)
    sched.shutdown()


def test_scheduler_reraises_a_task_error_and_parks():
    sched = VirtualTimeScheduler()

    def boom():
        sched.sleep(1.0)
        raise ZeroDivisionError("in a task")

    sched.spawn(boom, 0.0, "boom")
    with pytest.raises(ZeroDivisionError, match="in a task"):
        sched.run(lambda: False)
    sched.shutdown()

    sched = VirtualTimeScheduler()
    ticks = []

    def ticker():
        while True:
            ticks.append(sched.now)
            sched.sleep(1.0)

    task = sched.spawn(ticker, 0.0, "ticker")
    sched.call_at(2.5, lambda: sched.park(task))
    with pytest.raises(RuntimeError, match="virtual time 11"):
        sched.call_at(10.0, lambda: None)
        sched.call_at(11.0, lambda: None)
        sched.run(lambda: False, horizon=10.5)
    sched.shutdown()
    assert ticks == [0.0, 1.0, 2.0]


def test_virtual_clock_reads_epoch_plus_virtual_time():
    sched = VirtualTimeScheduler()
    clock = VirtualClock(sched)
    seen = []

    def body():
        seen.append(clock.time())
        clock.sleep(2.5)
        seen.append(clock.time())

    sched.spawn(body, 1.0, "t")
    try:
        sched.run(lambda: len(seen) == 2)
    finally:
        sched.shutdown()
    assert seen == [EPOCH + 1.0, EPOCH + 3.5]


# ------------------------------------------------------------------ the lock


def test_lock_optimistic_concurrency_and_latency():
    sched = VirtualTimeScheduler()
    store = LeaseStore()
    a = InMemoryLock(store, "a", sched, latency=0.2)
    b = InMemoryLock(store, "b", sched, latency=0.2)
    out = {}

    def body():
        ok, err = a.get("x", "ns")
        out["absent"] = (ok, err.body, sched.now)
        out["create"] = a.create(name="x", namespace="ns", election_record=Rec("a"))
        b.get("x", "ns")
        a.get("x", "ns")
        out["a_update"] = a.update("x", "ns", Rec("a"))
        out["b_stale_update"] = b.update("x", "ns", Rec("b"))
        out["b_create_again"] = b.create(name="x", namespace="ns", election_record=Rec("b"))
        out["end"] = sched.now

    sched.spawn(body, 0.0, "t")
    try:
        sched.run(lambda: "end" in out)
    finally:
        sched.shutdown()
    assert out["absent"] == (False, '{"code": 404}', pytest.approx(0.2))
    assert out["create"] is True and out["a_update"] is True
    assert out["b_stale_update"] is False and out["b_create_again"] is False
    assert out["end"] == pytest.approx(7 * 0.2)
    # writes act at the midpoint of their call
    assert [(round(t, 9), who, v) for t, who, v in store.writes] == [(0.3, "a", 1), (0.9, "a", 2)]
    assert store.holder == "a"


class Rec:
    def __init__(self, holder):
        self.holder_identity = holder


# ------------------------------------------------------------------ the client's validation


@pytest.mark.parametrize(
    ("ld", "rd", "rp"),
    [
        (10, 10, 2),
        (15, 2.4, 2),
        (0.9, 0.5, 0.3),
        (1.5, 0.9, 0.5),
        (3, 1.1, 0.9),
    ],
)
def test_config_errors_match_the_python_clients_sys_exit(ld, rd, rp):
    message = config_error(ld, rd, rp)
    assert message is not None
    with pytest.raises(ValueError) as info:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LeaseOverlapWarning)
            python_cfg(ld, rd, rp)
    assert str(info.value) == message


@given(
    st.floats(0.05, 30.0, allow_nan=False),
    st.floats(0.05, 30.0, allow_nan=False),
    st.floats(0.05, 30.0, allow_nan=False),
)
def test_config_validation_agrees_with_the_python_client(ld, rd, rp):
    message = config_error(ld, rd, rp)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeaseOverlapWarning)
        try:
            python_cfg(ld, rd, rp)
        except ValueError as exc:
            assert str(exc) == message
        else:
            assert message is None


# ------------------------------------------------------------------ single trials by hand


def test_crash_trial_matches_hand_derived_times_without_latency():
    # Leader creates at 0 and renews at 0, 2, 4, 6 (crash at 7.3). The follower polls at
    # 0.5 + 2k; its poll at 6.5 reads the 6 s renewal, so observed = 6.5; it acquires at its
    # first poll at or after 6.5 + 15 = 21.5, i.e. at 22.5.
    out = run_trial(python_cfg(candidates=2), np.array([0.5]), 7.3)
    assert out["failover"] == pytest.approx(22.5 - 7.3, abs=1e-9)
    assert out["leader"] == 0 and out["winner"] == 1
    assert out["last_renewal"] == pytest.approx(1.3, abs=1e-9)
    np.testing.assert_allclose(out["leader_writes"], [0.0, 0.0, 2.0, 4.0, 6.0], atol=1e-9)
    assert math.isnan(out["stopped_leading"])


def test_crash_trial_matches_hand_derived_times_with_latency():
    # l = 0.1: create commits at 0.15, renewals (GET + Update, then RP) commit at
    # 0.35 + 2.2k: 0.35, 2.55, 4.75, 6.95; crash at 7.0. The follower polls at 0.5 + 2.1j,
    # reading at +0.05: its read at 8.95 is the first to see the 6.95 record, so
    # observed = 9.0; first poll at or after 24.0 is 8.9 + 8 * 2.1 = 25.7; its Update
    # returns 2 l later, at 25.9.
    out = run_trial(python_cfg(candidates=2, api_latency=0.1), np.array([0.5]), 7.0)
    assert out["failover"] == pytest.approx(25.9 - 7.0, abs=1e-9)
    np.testing.assert_allclose(out["leader_writes"], [0.15, 0.35, 2.55, 4.75, 6.95], atol=1e-9)


def test_millisecond_truncation_can_let_a_poll_through_just_before_expiry():
    # RP = 1.99995: renewals at k RP; crash at 9.0 after the one at 4 RP = 7.9998. The
    # follower (polls at 0.7 + j RP) first reads it at 0.7 + 4 RP = 8.6998 = observed.
    # Exactly, 8 RP = 15.9996 s < 16 s later is too early, so it would acquire at the 9th
    # poll. The client compares int(now * 1000) with int(observed * 1000) + 16000; observed
    # is ...008699.8 ms, so the 8th poll (...024699.4 ms) already passes.
    rp = 1.99995
    observed = 0.7 + 4 * rp
    eighth = observed + 8 * rp
    assert int((EPOCH + eighth) * 1000) >= int((EPOCH + observed) * 1000) + 16000
    assert eighth < observed + 16.0
    out = run_trial(python_cfg(16.0, 10.0, rp, candidates=2), np.array([0.7]), 9.0)
    assert out["failover"] == pytest.approx(eighth - 9.0, abs=1e-9)


def test_leader_renews_every_retry_period_plus_two_round_trips():
    cfg = python_cfg(candidates=3, api_latency=0.04)
    out = run_trial(cfg, np.array([0.3, 1.7]), 30.0)
    gaps = np.diff(out["leader_writes"][1:])
    np.testing.assert_allclose(gaps, cfg.retry_period + 2 * cfg.api_latency, atol=1e-9)


def test_cut_off_leader_stops_after_its_renew_deadline():
    # Without latency each failed attempt is one GET; attempts at c0 + k RP while
    # int(now ms) < int(c0 ms) + RD ms, c0 = last success + RP: the client gives up
    # RP + ceil(RD / RP) RP = 2 + 5 * 2 = 12 s after its last renewal.
    cfg = python_cfg(15.0, 9.0, 2.0, candidates=3)
    out = run_trial(cfg, np.array([0.4, 1.1]), 7.3, mode="partition")
    assert out["stopped_leading"] + out["last_renewal"] == pytest.approx(12.0, abs=1e-9)
    # the followers cannot tell a partition from a crash
    crash = run_trial(cfg, np.array([0.4, 1.1]), 7.3)
    assert out["failover"] == pytest.approx(crash["failover"], abs=1e-12)


def test_trials_are_deterministic_and_leave_the_module_as_found():
    cfg = python_cfg(candidates=3, api_latency=0.02)
    before = threading.active_count()
    a = run_trials(cfg, 40, np.random.default_rng(7))
    b = run_trials(cfg, 40, np.random.default_rng(7), progress=True)  # a bar changes nothing
    c = run_trials(cfg, 40, np.random.default_rng(8))
    np.testing.assert_array_equal(a.failover, b.failover)
    assert not np.array_equal(a.failover, c.failover)
    assert leaderelection.time is real_time
    # pooled threads: at most one per candidate stays around
    assert threading.active_count() <= before + cfg.candidates + 1
    frame = a.to_frame()
    assert list(frame.columns) == [
        "failover",
        "stopped_leading",
        "last_renewal",
        "crash_at",
        "winner",
    ]
    assert len(frame) == 40 and set(frame["winner"]) <= {1, 2}


# ------------------------------------------------------------------ against the model


def assert_agrees(sample: np.ndarray, cfg: ElectionConfig) -> None:
    model = failover(cfg, "crash")
    n = sample.size
    result = compare_to_model(sample, model)
    # mean: 4 standard errors of a sample mean (the model's std)
    assert abs(result["mean_measured"] - result["mean_model"]) < Z * model.std() / math.sqrt(n)
    # p99: 4 standard errors of a sample quantile, sqrt(p (1 - p) / n) / f(q)
    q = result["p99_model"]
    h = 0.02 * model.std()
    density = (model.cdf(q + h) - model.cdf(q - h)) / (2 * h)
    se = math.sqrt(0.99 * 0.01 / n) / density
    assert abs(result["p99_measured"] - q) < Z * se
    assert result["ks"] < result["ks_critical"]


@pytest.mark.parametrize(
    "cfg",
    [
        python_cfg(candidates=3),
        python_cfg(15.7, 9.0, 2.3, candidates=2, api_latency=0.037),
        python_cfg(candidates=5, api_latency=0.2),
    ],
    ids=["15/10/2", "15.7/9/2.3 37ms 2 cand", "5 cand 200ms"],
)
def test_python_client_failover_agrees_with_the_model(cfg):
    trials = run_trials(cfg, 300, np.random.default_rng([2026, cfg.candidates]))
    assert trials.n == 300
    assert np.all(trials.failover > 0)
    assert_agrees(trials.failover, cfg)
    # the crash phase is uniform over the renew period, as the model assumes
    assert trials.last_renewal.max() <= cfg.renew_period + 1e-9
    se = cfg.renew_period / math.sqrt(12 * trials.n)
    assert abs(trials.last_renewal.mean() - cfg.renew_period / 2) < Z * se


def test_a_wrong_model_is_rejected():
    cfg = python_cfg(candidates=3)
    trials = run_trials(cfg, 300, np.random.default_rng(11))
    # the client-go flavour (jitter, record lease) predicts other failover times
    go = failover(ElectionConfig(15.0, 10.0, 2.0, candidates=3), "crash")
    assert trials.compare(go)["ks"] > ks_critical_value(300)
    assert trials.compare()["ks"] < ks_critical_value(300)


# ------------------------------------------------------------------ comparison functions


def test_ks_critical_value_approaches_kolmogorovs_asymptotic_quantile():
    # Kolmogorov's distribution: P(sqrt(n) D > 1.6276) = 0.01 as n -> infinity
    assert ks_critical_value(100_000) * math.sqrt(100_000) == pytest.approx(1.6276, abs=2e-3)
    assert ks_critical_value(50, 0.05) > ks_critical_value(500, 0.05)
    with pytest.raises(ValueError, match="alpha"):
        ks_critical_value(10, 1.5)


def test_compare_to_model_on_draws_from_the_model():
    model = uniform(2.0, 4.0, 0.001, origin=0.0)
    draws = np.random.default_rng(5).uniform(2.0, 4.0, 2000)
    out = compare_to_model(draws, model)
    assert out["mean_model"] == pytest.approx(3.0, abs=1e-9)
    assert out["p99_model"] == pytest.approx(3.98, abs=1e-3)
    assert abs(out["mean_rel"]) < Z * (2 / math.sqrt(12)) / math.sqrt(2000) / 3
    assert out["ks"] < out["ks_critical"]
    shifted = compare_to_model(draws + 0.2, model)
    assert shifted["ks"] > shifted["ks_critical"]


def test_ecdf_error_against_a_uniform_model():
    model = uniform(0.0, 1.0, 0.001, origin=0.0)
    frame = ecdf_error(np.array([0.75, 0.25, 0.5]), model)
    np.testing.assert_allclose(frame["x"], [0.25, 0.5, 0.75])
    np.testing.assert_allclose(frame["ecdf"], [1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(frame["error"], [1 / 3 - 0.25, 2 / 3 - 0.5, 0.25], atol=1e-12)
    with pytest.raises(ValueError, match="sample"):
        ecdf_error(np.array([np.nan]), model)


# ------------------------------------------------------------------ bad input


def test_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="client must be 'python'"):
        run_trials(ElectionConfig(15, 10, 2), 5, rng)
    with pytest.raises(ValueError, match="candidates"):
        run_trials(python_cfg(candidates=1), 5, rng)
    with pytest.raises(ValueError, match="n_trials"):
        run_trials(python_cfg(), 0, rng)
    with pytest.raises(TypeError, match="Generator"):
        run_trials(python_cfg(), 5, 42)
    with pytest.raises(ValueError, match="warmup"):
        run_trials(python_cfg(), 5, rng, warmup=0.5)
    with pytest.raises(ValueError, match="mode"):
        run_trials(python_cfg(), 5, rng, mode="explode")
    with pytest.raises(ValueError, match="follower_starts"):
        run_trial(python_cfg(), np.array([1.0]), 10.0)
    with pytest.raises(ValueError, match="crash_at"):
        run_trial(python_cfg(), np.array([1.0, 3.0]), 2.0)
