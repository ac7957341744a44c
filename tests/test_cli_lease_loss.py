"""The lease-loss subcommand and the audit's slow-call losses."""

import math

import numpy as np
import pytest
from cli_helpers import assert_usage_error, run, run_json
from scipy import integrate

from ha_toolkit.audit import ArtifactError, audit, sample_artifacts
from ha_toolkit.audit.readers import parse_latency_buckets
from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.lease_loss import CallLatency, lease_loss

ACCEPTANCE = ("lease-loss", "--preset", "kube-scheduler", "--episodes-per-day", "24",
              "--episode-duration", "5s", "--episode-mode", "refuse")


def test_acceptance_command_gives_the_closed_form(capsys):
    obj = run_json(capsys, *ACCEPTANCE)
    # refuse mode, l = 0: 1 - S(T) = clip((T - 8) / 2, 0, 1); T ~ Exp(mean 5 s)
    per_episode = 5.0 / 2.0 * (math.exp(-8 / 5) - math.exp(-10 / 5))
    assert obj["losses_per_day"] == pytest.approx(24 * per_episode, rel=1e-9)
    assert obj["loss_probability_per_cycle"] == 0.0
    assert obj["leaderless_seconds_per_year"] == pytest.approx(
        obj["losses_per_day"] * 365.25 * obj["leaderless_per_loss"])
    assert obj["inputs"]["episodes_per_day"] == 24
    assert obj["inputs"]["episode_duration"] == 5.0
    assert obj["inputs"]["call_timeout"] == 5.0


def test_quantiles_and_table(capsys):
    obj = run_json(capsys, "lease-loss", "--preset", "kube-scheduler",
                   "--latency-quantiles", "p50=1s,p90=4s")
    expected = lease_loss(ElectionConfig.preset("kube-scheduler"),
                          CallLatency.from_quantiles({0.5: 1.0, 0.9: 4.0}))
    assert obj["losses_per_day"] == pytest.approx(expected.losses_per_day)
    code, out, err = run(capsys, "lease-loss", "--lease-duration", "30s", "--renew-deadline",
                         "15s", "--retry-period", "5s", "--latency-quantiles", "p99=2s")
    assert code == 0 and err == ""
    assert "losses (restarts) per day" in out and "per-call timeout 7.5 s" in out


def test_histogram_file_csv_and_metrics(capsys, tmp_path):
    csv = tmp_path / "buckets.csv"
    csv.write_text("le,count\n1,50\n10,100\n+Inf,100\n")
    obj = run_json(capsys, "lease-loss", "--preset", "kube-scheduler",
                   "--latency-histogram", str(csv))
    # X uniform on (0, 1] w.p. 1/2 and on (1, 10] w.p. 1/2; tau = 5 s:
    # p = P(X > 5) * P(Y + Z >= 5), computed here by quadrature
    def density(x):
        return 0.5 if 0 < x <= 1 else (0.5 / 9 if 1 < x <= 10 else 0.0)

    def cdf(x):
        return integrate.quad(density, 0, min(max(x, 0), 10), points=[1])[0]

    below = integrate.quad(lambda y: density(y) * cdf(5 - y), 0, 5, points=[1, 4])[0]
    p = 0.5 * 5 / 9 * (1 - below)
    assert obj["loss_probability_per_cycle"] == pytest.approx(p, rel=5e-3)
    metrics = run_json(capsys, "lease-loss", "--preset", "kube-scheduler",
                       "--latency-histogram", str(sample_artifacts()["metrics"]))
    assert 0 <= metrics["losses_per_day"] < 0.01


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (("--preset", "kube-scheduler"), "give --latency-quantiles"),
        (("--preset", "kube-scheduler", "--episodes-per-day", "3"), "--episode-duration"),
        (("--preset", "kube-scheduler", "--latency-quantiles", "p99=1s",
          "--latency-histogram", "x"), "not both"),
        (("--preset", "kube-scheduler", "--latency-quantiles", "median=1s"), "pNN=DURATION"),
        (("--preset", "kube-scheduler", "--episodes-per-day", "3", "--episode-duration", "5s",
          "--episode-mode", "latency"), "--episode-latency"),
        (("--preset", "kube-scheduler", "--episodes-per-day", "-3", "--episode-duration",
          "5s"), "--episodes-per-day must be >= 0"),
        (("--preset", "nope", "--latency-quantiles", "p99=1s"), "unknown preset"),
        (("--preset", "kube-scheduler", "--latency-quantiles", "p99=1s", "--rejection", "1.5"),
         "rejection"),
        (("--preset", "kube-scheduler", "--latency-quantiles", "p99=1s", "--retry-after",
          "-1"), "--retry-after must be >= 0"),
        (("--preset", "kube-scheduler", "--episodes-per-day", "inf", "--episode-duration",
          "5s"), "--episodes-per-day must be <= 86400"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, match):
    assert_usage_error(capsys, "lease-loss", *argv, match=match)


def test_histogram_file_errors(capsys, tmp_path):
    empty = tmp_path / "m.txt"
    empty.write_text("# TYPE x counter\nx 1\n")
    assert_usage_error(capsys, "lease-loss", "--preset", "kube-scheduler",
                       "--latency-histogram", str(empty), match="no apiserver_request")
    bad = tmp_path / "b.csv"
    bad.write_text("le,count\n1,abc\n")
    assert_usage_error(capsys, "lease-loss", "--preset", "kube-scheduler",
                       "--latency-histogram", str(bad), match="line 2")


def test_latency_buckets_sum_over_labels_and_keep_leases_put():
    text = "\n".join([
        "# TYPE apiserver_request_duration_seconds histogram",
        'apiserver_request_duration_seconds_bucket{resource="leases",verb="PUT",scope="a",'
        'le="1"} 3',
        'apiserver_request_duration_seconds_bucket{resource="leases",verb="PUT",scope="a",'
        'le="+Inf"} 4',
        'apiserver_request_duration_seconds_bucket{resource="leases",verb="PUT",scope="b",'
        'le="1"} 5',
        'apiserver_request_duration_seconds_bucket{resource="leases",verb="PUT",scope="b",'
        'le="+Inf"} 5',
        'apiserver_request_duration_seconds_bucket{resource="pods",verb="PUT",le="1"} 100',
        'apiserver_request_duration_seconds_bucket{resource="leases",verb="GET",le="1"} 100',
    ]) + "\n"
    assert parse_latency_buckets(text) == {1.0: 8.0, math.inf: 9.0}
    assert parse_latency_buckets("# TYPE y gauge\ny 1\n") == {}
    with pytest.raises(ArtifactError):
        parse_latency_buckets("le,count\n1\n")


def test_audit_reports_losses_per_day_per_component():
    report = audit(**sample_artifacts(), window="24h")
    rows = report.components.set_index("component")
    for name in ("kube-scheduler", "kube-controller-manager"):
        value = rows.loc[name, "slow_call_losses_per_day"]
        assert np.isfinite(value) and 0 <= value < 0.01
        assert 0.01 < rows.loc[name, "lease_put_p99"] < 5
    assert np.isnan(rows.loc["kube-apiserver", "slow_call_losses_per_day"])
    # the controller manager's longer deadline (20 s, timeout 10 s) loses less than the
    # scheduler's 10 s with the same latencies
    assert (rows.loc["kube-controller-manager", "slow_call_losses_per_day"]
            <= rows.loc["kube-scheduler", "slow_call_losses_per_day"])


def test_call_timeout_flag_reaches_the_model(capsys):
    base = ("lease-loss", "--preset", "kube-scheduler", "--episodes-per-day", "24",
            "--episode-duration", "5s", "--episode-mode", "blackhole")
    default = run_json(capsys, *base)
    whole = run_json(capsys, *base, "--call-timeout", "renew-deadline")
    assert default["inputs"]["call_timeout"] == 5.0 and whole["inputs"]["call_timeout"] == 10.0
    # one hanging call uses the whole deadline: only an episode over before the first
    # renewal acts is survived, S(T) = (2 - T) / 2 for T < P = 2 s; with T ~ Exp(mean 5):
    # E[S] = (2 - 5 (1 - exp(-2/5))) / 2
    expected = 24 * (1.0 - (2.0 - 5.0 * (1.0 - math.exp(-0.4))) / 2.0)
    assert whole["losses_per_day"] == pytest.approx(expected, rel=1e-9)
    assert whole["losses_per_day"] > default["losses_per_day"]


def test_episode_rate_as_a_rate(capsys):
    per_day = run_json(capsys, *ACCEPTANCE)
    per_hour = run_json(capsys, "lease-loss", "--preset", "kube-scheduler", "--episodes-per-day",
                        "1/h", "--episode-duration", "5s", "--episode-mode", "refuse")
    assert per_hour["losses_per_day"] == pytest.approx(per_day["losses_per_day"], rel=1e-12)
    assert_usage_error(capsys, "lease-loss", "--preset", "kube-scheduler", "--episodes-per-day",
                       "often", "--episode-duration", "5s", match="--episodes-per-day")
