"""Kubelet probes, restarts, load balancer windows and graceful shutdown against the
tick-by-tick oracle and closed forms."""

import numpy as np
import pytest

from ha_toolkit.availability import simulate_probes as sim
from ha_toolkit.availability.probes import (
    FAILURES,
    KUBEADM_LIVENESS,
    KUBEADM_READINESS,
    KUBEADM_STARTUP,
    Probe,
    Restart,
    backoff_delay,
    backoff_schedule,
    detection,
    in_pool_window,
    recovery,
    serving_again,
    shutdown_errors,
    startup_detection,
    startup_kill_probability,
)

N = 100_000
MEAN_TOL = 0.005
QUANTILE_TOL = 0.01

# (period, timeout, failure threshold, initial delay); several with timeout > period
SETTINGS = [
    (10, 15, 8, 10),  # kubeadm's liveness probe of kube-apiserver
    (10, 1, 3, 0),  # the API defaults
    (5, 5, 3, 0),  # timeout equal to the period
    (1, 15, 3, 0),  # kubeadm's readiness probe
    (3, 7, 4, 0),
    (20, 2, 1, 0),
    (2, 3, 5, 4),
]


def _as_mapping(p):
    return {
        "period": p.period,
        "timeout": p.timeout,
        "failure_threshold": p.failure_threshold,
        "success_threshold": p.success_threshold,
        "initial_delay": p.initial_delay,
    }


def _restart_mapping(r):
    return {
        "startup": r.startup,
        "grace_period": r.grace_period,
        "shutdown_delay": r.shutdown_delay,
        "backoff": r.backoff,
        "relist": r.relist,
    }


def _agree(exact, sample):
    sample = np.asarray(sample)
    assert exact.mean() == pytest.approx(sample.mean(), rel=MEAN_TOL)
    for q in (0.5, 0.9, 0.99):
        assert exact.ppf(q) == pytest.approx(np.quantile(sample, q), rel=QUANTILE_TOL), q


@pytest.mark.parametrize("setting", SETTINGS)
@pytest.mark.parametrize("failure", FAILURES)
def test_detection_matches_the_worker_loop(setting, failure):
    period, timeout, threshold, delay = setting
    probe = Probe(period, timeout, threshold, initial_delay=delay)
    rng = np.random.default_rng([SETTINGS.index(setting), FAILURES.index(failure)])
    sample = sim.simulate_detection(period, timeout, threshold, failure, N, rng)
    _agree(detection(probe, failure), sample)


def test_kubeadm_hung_detection_is_120_to_130_seconds():
    # 8 back-to-back probes of 15 s after a residual of the 10 s ticker
    d = detection(KUBEADM_LIVENESS, "hung")
    lo, hi = d.support()
    assert lo == pytest.approx(120.0, abs=0.05)
    assert hi == pytest.approx(130.0, abs=0.05)
    assert d.mean() == pytest.approx(125.0, rel=1e-4)
    # refused connections fail at once: one probe per tick
    assert detection(KUBEADM_LIVENESS, "refusing").mean() == pytest.approx(75.0, rel=1e-4)


def test_timeout_longer_than_period_spaces_probes_by_the_timeout():
    slow = detection(Probe(10, 25, 3), "hung")
    # U*10 + 2*25 + 25
    assert slow.mean() == pytest.approx(5 + 75, rel=1e-4)


@pytest.mark.parametrize("setting", SETTINGS + [(10, 15, 24, 10), (7, 3, 4, 5)])
@pytest.mark.parametrize("failure", ["refusing", "hung"])
def test_startup_detection_matches_the_worker_loop(setting, failure):
    period, timeout, threshold, delay = setting
    probe = Probe(period, timeout, threshold, initial_delay=delay)
    rng = np.random.default_rng([period, timeout, threshold, delay])
    sample = sim.simulate_startup_detection(probe, failure, N, rng)
    _agree(startup_detection(probe, failure), sample)


def test_kubeadm_startup_probe_kills_a_hung_server_after_six_minutes():
    lo, hi = startup_detection(KUBEADM_STARTUP, "hung").support()
    # 10 s delay, the first tick within 10 s, 23 x 15 s + 15 s
    assert (lo, hi) == (pytest.approx(370.0, abs=0.05), pytest.approx(380.0, abs=0.05))


RECOVERY_CASES = [
    (KUBEADM_READINESS, KUBEADM_STARTUP, Restart(startup=25, recent_restarts=2)),
    (Probe(5, 1, 3, success_threshold=2, initial_delay=40), KUBEADM_STARTUP, Restart(startup=25)),
    (Probe(3, 1, 3, success_threshold=3, initial_delay=5), None, Restart(startup=25)),
    (KUBEADM_READINESS, Probe(7, 2, 30, initial_delay=3), Restart(startup=12.5, shutdown_delay=8,
                                                                   recent_restarts=1)),
    (None, KUBEADM_STARTUP, Restart(startup=33)),  # Ready when the startup probe passes
    (None, None, Restart(startup=15, recent_restarts=3)),  # Ready when the container starts
]


@pytest.mark.parametrize("case", range(len(RECOVERY_CASES)))
@pytest.mark.parametrize("failure", FAILURES)
def test_recovery_matches_the_simulated_restart(case, failure):
    readiness, startup_probe, restart = RECOVERY_CASES[case]
    rng = np.random.default_rng(100 + case)
    out = sim.simulate_recovery(
        _as_mapping(KUBEADM_LIVENESS), failure, _restart_mapping(restart), N, rng,
        readiness=None if readiness is None else _as_mapping(readiness),
        startup_probe=None if startup_probe is None else _as_mapping(startup_probe),
    )
    assert not out["killed"].any()
    exact = recovery(KUBEADM_LIVENESS, failure, restart, readiness=readiness,
                     startup_probe=startup_probe)
    _agree(exact, out["ready"])
    _agree(serving_again(KUBEADM_LIVENESS, failure, restart), out["serving"])


def test_kubeadm_hung_recovery_adds_grace_startup_and_the_startup_tick():
    r = Restart(startup=20)
    rec = recovery(KUBEADM_LIVENESS, "hung", r, readiness=KUBEADM_READINESS,
                   startup_probe=KUBEADM_STARTUP)
    # 125 (detection) + 30 (SIGKILL after the grace period) + 20 + U*10 (startup tick)
    assert rec.mean() == pytest.approx(125 + 30 + 20 + 5, rel=1e-3)


def test_backoff_follows_the_kubelet_schedule():
    assert [backoff_delay(k) for k in range(8)] == [0, 10, 20, 40, 80, 160, 300, 300]
    # a run longer than 10 minutes starts the back-off over
    assert backoff_schedule([5, 5, 5, 601, 5]) == [0, 10, 20, 0, 10]


@pytest.mark.parametrize("startup", [60.0, 85.0, 95.0])
def test_startup_kill_probability_matches_the_simulation(startup):
    # no startup probe: the liveness probe (delay 10, 8 x 10 s) guards the start
    rng = np.random.default_rng(7)
    restart = Restart(startup=startup)
    out = sim.simulate_recovery(_as_mapping(KUBEADM_LIVENESS), "exit", _restart_mapping(restart),
                                N, rng, readiness=None, startup_probe=None)
    p = startup_kill_probability(startup, KUBEADM_LIVENESS)
    assert p == pytest.approx(out["killed"].mean(), abs=0.005)
    # with kubeadm's startup probe (24 x 10 s) nothing is killed at these start-up times
    assert startup_kill_probability(startup, KUBEADM_LIVENESS, KUBEADM_STARTUP) == 0.0


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("lb", [Probe(10, 5, 3), Probe(2, 5, 2)])
def test_in_pool_window_matches_the_simulation(failure, lb):
    restart = Restart(startup=15)
    rng = np.random.default_rng(11)
    sample = sim.simulate_in_pool_window(_as_mapping(lb), _as_mapping(KUBEADM_LIVENESS), failure,
                                         _restart_mapping(restart), N, rng)
    _agree(in_pool_window(lb, failure, KUBEADM_LIVENESS, restart), sample)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shutdown_delay": 0.0},
        {"shutdown_delay": 15.0},
        {"shutdown_delay": 40.0},  # beyond the grace period: killed at 30 s
        {"shutdown_delay": 5.0, "send_retry_after": True, "drain": 4.0},
        {"shutdown_delay": 15.0, "lb_checks_readyz": False},
    ],
)
def test_shutdown_errors_match_the_simulation(kwargs):
    lb = Probe(10, 5, 3)
    rng = np.random.default_rng(3)
    delay = kwargs.pop("shutdown_delay")
    out = sim.simulate_shutdown_errors(_as_mapping(lb), delay, N, rng, request_rate=90.0,
                                       **kwargs)
    res = shutdown_errors(lb, delay, **kwargs)
    assert res.mean_error_seconds == pytest.approx(out["refused_seconds"].mean(), rel=0.01,
                                                   abs=0.02)
    assert res.mean_retry_seconds == pytest.approx(out["retry_seconds"].mean(), rel=0.01,
                                                   abs=0.02)
    # Poisson requests: failed per upgrade = rate / M * error seconds
    assert res.failed_requests(90.0) == pytest.approx(out["failed"].mean(), rel=0.02, abs=0.1)


def test_shutdown_delay_covering_detection_removes_errors():
    lb = Probe(10, 5, 3)  # removed 20 to 30 s after /readyz turns red
    assert shutdown_errors(lb, 0).mean_error_seconds == pytest.approx(25.0, rel=1e-3)
    assert shutdown_errors(lb, 30).mean_error_seconds == pytest.approx(0.0, abs=1e-6)
    # but the grace period (30 s) cuts a longer delay short
    assert shutdown_errors(lb, 40, grace_period=30).mean_error_seconds == pytest.approx(
        0.0, abs=1e-6)
    assert shutdown_errors(lb, 40, grace_period=25).mean_error_seconds == pytest.approx(
        0.5 * 5 * 5 / 10, rel=1e-3)


def test_failed_fraction_spreads_the_error_seconds_over_the_upgrade():
    res = shutdown_errors(Probe(10, 5, 3), 0, replicas=3)
    # 25 s of errors for a third of the requests, over a 100 s upgrade
    assert res.failed_fraction(100) == pytest.approx(25 / 3 / 100, rel=1e-3)
    with pytest.raises(ValueError, match="upgrade_seconds"):
        res.failed_fraction(0)


def test_probe_from_spec_applies_api_defaults():
    assert Probe.from_spec({}) == Probe(10, 1, 3, 1, 0)
    assert Probe.from_spec({"periodSeconds": 10, "timeoutSeconds": 15, "failureThreshold": 8,
                            "initialDelaySeconds": 10}) == KUBEADM_LIVENESS


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: Probe(period=0), "period"),
        (lambda: Probe(failure_threshold=0), "failure_threshold"),
        (lambda: Probe(timeout="fast"), "timeout"),
        (lambda: Probe.from_spec({"periodSeconds": 2.5}), "periodSeconds"),
        (lambda: detection(KUBEADM_LIVENESS, "crashed"), "failure"),
        (lambda: Restart(startup=-1), "startup"),
        (lambda: Restart(recent_restarts=-1), "recent_restarts"),
        (lambda: shutdown_errors(Probe(), -5), "shutdown_delay"),
    ],
)
def test_bad_input_names_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
