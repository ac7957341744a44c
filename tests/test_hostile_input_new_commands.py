"""Hostile and extreme input to probe, lease-loss and etcd-failover (and the newer flags of
audit, shuffle and queue): each case answers or refuses in bounded time and memory.

Every refusal is one line naming the flag and its bound, exit 2, no traceback and no
warning line (:mod:`bounded_helpers`); every answer at the edge of the bounds is strict
JSON (no Infinity, no NaN) whose numbers are finite.
"""

from __future__ import annotations

import json
import math
import warnings

import pytest
from bounded_helpers import assert_bounded, run_bounded, run_child

from ha_toolkit.availability.probes import Probe, Restart, detection, recovery

PROBE = ("probe", "--failure", "hung")
SCHEDULER = ("lease-loss", "--preset", "kube-scheduler")
EPISODES = (*SCHEDULER, "--episodes-per-day", "24")


def _strict_json(text: str) -> dict:
    """The JSON object, refusing the Infinity and NaN that Python's json would accept."""
    def refuse(constant: str):
        raise AssertionError(f"{constant} in JSON output")

    obj = json.loads(text, parse_constant=refuse)
    _all_finite(obj)
    return obj


def _all_finite(value) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _all_finite(item)
    elif isinstance(value, list):
        for item in value:
            _all_finite(item)
    elif isinstance(value, float):
        assert math.isfinite(value)


def _refused(capsys, *argv: str) -> str:
    """Run with warnings as errors (a warning must not reach the user); the one line."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcome = run_bounded(capsys, *argv)
    assert_bounded(outcome, codes=(2,))
    assert outcome.out == ""
    return outcome.err


def _answered(capsys, *argv: str) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcome = run_bounded(capsys, *argv, "--json")
    assert_bounded(outcome, codes=(0,))
    assert outcome.err == ""
    return _strict_json(outcome.out)


# ------------------------------------------------------------------------------- probe
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--period", "1e308", "--timeout", "1s", "--failure-threshold", "3"),
         "--period must be <= 86400 s, got 1e+308"),
        (("--period", "1ns", "--timeout", "1s", "--failure-threshold", "3"),
         "--period must be >= 1 s"),
        (("--period", "10s", "--timeout", "1e308", "--failure-threshold", "3"),
         "--timeout must be <= 86400 s"),
        (("--period", "10s", "--timeout", "0", "--failure-threshold", "3"),
         "--timeout must be positive"),
        (("--period", "10s", "--timeout", "15s", "--failure-threshold", "1000000000000"),
         "--failure-threshold must be <= 10000, got 1000000000000"),
        (("--period", "10s", "--timeout", "15s", "--failure-threshold", "0"),
         "--failure-threshold must be >= 1"),
        (("--period", "10s", "--timeout", "1s", "--failure-threshold", "3",
          "--initial-delay", "1e300"), "--initial-delay must be <= 86400 s"),
        (("--period", "10s", "--timeout", "1s", "--failure-threshold", "3",
          "--startup", "1e300"), "--startup must be <= 86400 s"),
        (("--period", "10s", "--timeout", "1s", "--failure-threshold", "3",
          "--grace-period", "1e300"), "--grace-period must be <= 86400 s"),
        (("--period", "10s", "--timeout", "1s", "--failure-threshold", "3",
          "--recent-restarts", "100000000000000000000"), "--recent-restarts must be <= 1000000"),
        # each flag within its bound, together more lattice steps than the model takes
        (("--period", "1s", "--timeout", "1d", "--failure-threshold", "10000"),
         "--failure-threshold x max(period, timeout)"),
    ],
    ids=["period-huge", "period-tiny", "timeout-huge", "timeout-zero", "threshold-huge",
         "threshold-zero", "initial-delay", "startup", "grace-period", "restarts", "span"],
)
def test_probe_extreme_flags_refused(capsys, argv, message):
    err = _refused(capsys, *PROBE, *argv, "--json")
    assert message in err


def test_probe_at_its_bounds_answers_finite_json(capsys):
    obj = _answered(capsys, *PROBE, "--period", "1d", "--timeout", "1d",
                    "--failure-threshold", "10000", "--initial-delay", "1d", "--startup", "1d",
                    "--grace-period", "1d")
    # detection = U * period + (N - 1) * max(period, timeout) + timeout, U ~ U[0, 1); the
    # lattice step (50000 s) does not divide a day, so the end cells spread their mass
    assert obj["detection"]["mean"] == pytest.approx(0.5 * 86400 + 9999 * 86400 + 86400,
                                                     abs=50_000)


def test_probe_long_span_over_a_short_period_stays_exact():
    """A span of thousands of periods: the lattice resolves the 1 s period (it used to
    put the whole period in one step and refuse with a lattice error)."""
    live = Probe(period=1, timeout=15, failure_threshold=500)
    det = detection(live, "hung")
    # U[0, 1) + 499 * 15 + 15: the closed form of the prober worker's schedule
    assert det.mean() == pytest.approx(0.5 + 499 * 15 + 15, abs=1e-9)
    lo, hi = det.support()
    assert lo == pytest.approx(7500.0) and hi == pytest.approx(7501.0)
    # hung: SIGKILL at the end of the grace period; without a readiness probe the new
    # container is Ready once it has started
    rec = recovery(live, "hung", Restart(startup=20, grace_period=30))
    assert rec.mean() == pytest.approx(det.mean() + 30, abs=1e-6)


def test_probe_model_refuses_what_no_lattice_holds():
    with pytest.raises(ValueError, match=r"failure_threshold x max\(period, timeout\).*"
                                         r"400000 steps of 1 s"):
        detection(Probe(period=1, timeout=86400, failure_threshold=10000), "hung")
    with pytest.raises(ValueError, match="not finite"):
        detection(Probe(period=1e308, timeout=1, failure_threshold=3), "hung")


# -------------------------------------------------------------------------- lease-loss
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((*SCHEDULER, "--episodes-per-day", "1e308", "--episode-duration", "5s"),
         "--episodes-per-day must be <= 86400, got 1e+308"),
        ((*SCHEDULER, "--episodes-per-day", "1e300/ms", "--episode-duration", "5s"),
         "--episodes-per-day must be <= 86400"),
        ((*SCHEDULER, "--episodes-per-day", "nan", "--episode-duration", "5s"),
         "--episodes-per-day must be a number"),
        ((*EPISODES, "--episode-duration", "1e308"), "--episode-duration must be <= 86400 s"),
        ((*EPISODES, "--episode-duration", "0"), "--episode-duration must be positive"),
        ((*EPISODES, "--episode-duration", "1d"),
         "--episode-duration must be <= 60 x (retry period + API latency) = 120 s"),
        ((*EPISODES, "--episode-duration", "1h", "--episode-mode", "blackhole"),
         "--episode-duration must be <= 60 x"),
        ((*EPISODES, "--episode-duration", "5s", "--episode-mode", "latency",
          "--episode-latency", "1e308"), "--episode-latency must be <= 86400 s"),
        ((*EPISODES, "--episode-duration", "5s", "--crashes-per-year", "1e308"),
         "--crashes-per-year must be <= 525600"),
        ((*EPISODES, "--episode-duration", "5s", "--episode-mode", "throttled",
          "--retry-after", "100000000000000000000"), "--retry-after must be <= 86400 s"),
        ((*SCHEDULER, "--latency-quantiles", "p99=1s", "--rejection", "nan"),
         "--rejection must be a number"),
        ((*SCHEDULER, "--latency-quantiles", "p99=1s", "--rejection", "1"),
         "--rejection must be < 1"),
    ],
    ids=["episodes-huge", "episodes-rate", "episodes-nan", "duration-huge", "duration-zero",
         "duration-long-refuse", "duration-long-blackhole", "latency-huge", "crashes",
         "retry-after", "rejection-nan", "rejection-one"],
)
def test_lease_loss_extreme_flags_refused(capsys, argv, message):
    err = _refused(capsys, *argv, "--json")
    assert message in err
    assert "Warning" not in err


def test_lease_loss_longest_refused_episode_answers_in_seconds():
    """The longest refuse episodes (60 retry periods), in a child process: its CPU time
    without the allocation tracing that run_bounded adds."""
    outcome = run_child(*SCHEDULER, "--episodes-per-day", "86400", "--episode-duration",
                        "120s", "--json")
    assert_bounded(outcome, codes=(0,))
    obj = _strict_json(outcome.out)
    assert obj["inputs"]["episode_duration"] == 120.0


def test_retry_after_beyond_timeout_and_deadline_acts_as_just_beyond():
    """A Retry-After longer than the call timeout (5 s) and the renew deadline (10 s) is
    never waited out: 6 s (computed without the cap) and a day give the same loss, and a
    day takes no more memory than a minute."""
    from ha_toolkit.election.config import ElectionConfig
    from ha_toolkit.election.lease_loss import CallLatency, renew_cycle_loss

    cfg = ElectionConfig.preset("kube-scheduler")
    latency = CallLatency.from_quantiles("p50=20ms,p99=800ms")
    short = renew_cycle_loss(cfg, latency, rejection=0.5, retry_after=6)
    long = renew_cycle_loss(cfg, latency, rejection=0.5, retry_after=86_400)
    assert long.loss_probability_per_cycle == pytest.approx(
        short.loss_probability_per_cycle, rel=1e-12)


@pytest.mark.parametrize(
    "argv",
    [
        (*SCHEDULER, "--episodes-per-day", "86400", "--episode-duration", "1d",
         "--episode-mode", "latency", "--episode-latency", "1d", "--crashes-per-year",
         "525600"),
        (*SCHEDULER, "--latency-quantiles", "p50=20ms,p99=1d", "--rejection", "0.999999",
         "--retry-after", "86400"),
    ],
    ids=["latency", "slow-calls"],
)
def test_lease_loss_at_its_bounds_answers_finite_json(capsys, argv):
    obj = _answered(capsys, *argv)
    assert obj["losses_per_day"] >= 0.0
    assert obj["leaderless_seconds_per_year"] == pytest.approx(
        obj["losses_per_day"] * 365.25 * obj["leaderless_per_loss"])


# ----------------------------------------------------------------------- etcd-failover
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--request-timeout", "1e308"), "--request-timeout must be <= 86400 s"),
        (("--request-timeout", "1d"),
         "--request-timeout must be <= 2000 x --heartbeat-interval = 200 s"),
        (("--request-timeout=-1s",), "--request-timeout must be positive"),
        (("--heartbeat-interval", "1e308"), "--heartbeat-interval must be <= 86400 s"),
        (("--election-timeout", "1e308"), "--election-timeout must be <= 86400 s"),
        # etcd's own wording
        (("--heartbeat-interval", "0"), "--heartbeat-interval must be >0 (set to '0')"),
        (("--heartbeat-interval", "0.5ms"), "must be a whole number of milliseconds"),
        (("--election-timeout", "60s", "--heartbeat-interval", "1s"),
         "--election-timeout[60000ms] is too long, and should be set less than 50000ms"),
        (("--election-timeout", "100ms"),
         "--election-timeout[100ms] should be at least as 5 times as --heartbeat-interval"),
        (("--members", "20"),
         "--members 20 with 10 election ticks (--election-timeout / --heartbeat-interval): "
         "ticks x (members - 1)^3 must be at most 20000"),
        (("--members", "1" + "0" * 30), "ticks x (members - 1)^3 must be at most 20000"),
        (("--members", "2"), "--members must be >= 3"),
    ],
    ids=["timeout-huge", "timeout-day", "timeout-negative", "heartbeat-huge",
         "election-huge", "heartbeat-zero", "heartbeat-sub-ms", "election-too-long",
         "ratio", "members-20", "members-huge", "members-2"],
)
def test_etcd_failover_extreme_flags_refused(capsys, argv, message):
    err = _refused(capsys, "etcd-failover", *argv, "--json")
    assert message in err


def test_etcd_failover_at_its_bounds_answers_finite_json(capsys):
    # the longest timeout in a child process: its CPU time without allocation tracing
    outcome = run_child("etcd-failover", "--request-timeout", "200s", "--json")
    assert_bounded(outcome, codes=(0,))
    obj = _strict_json(outcome.out)
    # the write stall never exceeds the client's timeout plus the failover
    assert obj["write_stall"]["max"] <= 200.0 + obj["max"] + 1e-9
    slow = _answered(capsys, "etcd-failover", "--heartbeat-interval", "10s",
                     "--election-timeout", "50s")
    # the earliest election: E ticks from the last heartbeat, which came up to a tick
    # before the death, so (E - 1) h = 40 s
    assert slow["min"] == pytest.approx(40.0)


# ---------------------------------------------------------------- audit, shuffle, queue
APF_LEVEL = """\
apiVersion: v1
kind: List
items:
- apiVersion: flowcontrol.apiserver.k8s.io/v1
  kind: PriorityLevelConfiguration
  metadata: {{name: a}}
  spec:
    type: Limited
    limited:
      nominalConcurrencyShares: 30
      limitResponse:
        type: Queue
        queuing: {{queues: {queues}, handSize: {hand}, queueLengthLimit: 50}}
"""


@pytest.mark.parametrize(("queues", "hand"), [(10_000_000, 10_000_000), (10_000_000, 1000)])
def test_apf_config_hand_beyond_a_hash_refused_at_its_place(capsys, tmp_path, queues, hand):
    path = tmp_path / "apf.yaml"
    path.write_text(APF_LEVEL.format(queues=queues, hand=hand))
    err = _refused(capsys, "audit", "--apf-config", str(path))
    assert (f"apf.yaml: items[0].spec.limited.limitResponse.queuing.handSize: required "
            f"entropy bits of deckSize {queues} and handSize {hand} should not be greater "
            "than 60") in err
    assert "--hand-size" not in err  # a file's error names the file, not a flag


@pytest.mark.parametrize(
    ("value", "message"),
    [("0x" + "f" * 5000, "got 5002 characters"), ("9" * 5000, "got 5000 characters"),
     (str(2**64), f"got {2**64}"), ("-1", "got -1")],
    ids=["hex-5000", "decimal-5000", "two-to-64", "negative"],
)
def test_shuffle_hash_value_out_of_range_refused(capsys, value, message):
    err = _refused(capsys, "shuffle", "--queues", "64", "--hand-size", "8",
                   f"--hash-value={value}")
    assert "--hash-value must lie in [0, 2**64)" in err and message in err
    assert len(err) < 200


def test_shuffle_largest_hash_value_answers(capsys):
    obj = _answered(capsys, "shuffle", "--queues", "64", "--hand-size", "8",
                    "--hash-value", "0x" + "f" * 16)
    assert obj["hash_value"] == 2**64 - 1 and len(set(obj["hand"])) == 8


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--enable-priority-and-fairness", "--max-requests-inflight", "1000000",
          "--max-mutating-requests-inflight", "1000000"),
         "--max-requests-inflight + --max-mutating-requests-inflight must be <= 1000000, "
         "got 2000000"),
        (("--enable-priority-and-fairness", "--max-requests-inflight", "0",
          "--max-mutating-requests-inflight", "0"),
         "--max-requests-inflight + --max-mutating-requests-inflight must be >= 1"),
        (("--mutating", "--max-mutating-requests-inflight", "1" + "0" * 30),
         "--max-mutating-requests-inflight must be <= 1000000"),
        (("--mutating", "--enable-priority-and-fairness"), "--mutating models a pool"),
    ],
    ids=["apf-sum", "apf-zero", "mutating-huge", "both"],
)
def test_queue_pool_flags_refused(capsys, argv, message):
    err = _refused(capsys, "queue", *argv, "--arrival-rate", "1", "--service-time", "1s")
    assert message in err
