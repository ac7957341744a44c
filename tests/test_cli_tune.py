"""Tests of the ``tune`` and ``check`` subcommands.

The configuration ``tune`` prints is rebuilt and fed back into the exact models; ``check``
is compared with hand-derived values for kube-scheduler (15/10/2 s, REFERENCE section 2):
refused calls are retried at 0, 2, 4, 6, 8 s of the failing cycle, so an outage of 9 s is
survived with probability (8 + 2 - 9) / 2 = 0.5; the largest safe clock-rate ratio is
15 / (10 + 2) = 1.25; the cost is 1/2 + 2 / (2 * 1.6) = 1.125 lease requests per second.
"""

from __future__ import annotations

import json
import warnings

import pytest
from cli_helpers import run

from ha_toolkit.election import ElectionConfig, failover
from ha_toolkit.election.config import LeaseOverlapWarning
from ha_toolkit.election.outage import outage_survival
from ha_toolkit.election.overlap import overlap_summary

TUNE_KEYS = [
    "lease_duration",
    "renew_deadline",
    "retry_period",
    "p99_failover",
    "p99_release",
    "survival_probability",
    "requests_per_second",
]


def test_tune_json_best_meets_the_targets(capsys):
    code, out, err = run(
        capsys,
        "tune",
        "--max-p99-failover", "15s",
        "--survive-outage", "5s",
        "--max-clock-rate-ratio", "1.1",
        "--max-requests-per-second", "2",
        "--json",
    )  # fmt: skip
    assert code == 0 and err == ""
    obj = json.loads(out)
    assert obj["feasible"] is True
    for key in TUNE_KEYS:
        assert isinstance(obj[key], float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeaseOverlapWarning)
        cfg = ElectionConfig(
            obj["lease_duration"], obj["renew_deadline"], obj["retry_period"],
            release_on_cancel=True,
        )  # fmt: skip
    assert obj["lease_duration"] == int(obj["lease_duration"])
    crash = float(failover(cfg, "crash").ppf(0.99))
    assert crash == pytest.approx(obj["p99_failover"], rel=1e-12) and crash <= 15
    assert float(failover(cfg, "release").ppf(0.99)) == pytest.approx(obj["p99_release"])
    surv = outage_survival(cfg, 5.0, "refuse")
    assert surv.exact and surv.survival_probability >= 0.99
    assert surv.survival_probability == pytest.approx(obj["survival_probability"])
    assert overlap_summary(cfg, 1.1).overlap_probability == 0.0
    rp = obj["retry_period"]
    assert obj["requests_per_second"] == pytest.approx(1 / rp + 2 / (1.6 * rp))
    assert obj["requests_per_second"] <= 2
    assert obj["pareto_size"] >= len(obj["pareto"]) >= 1
    assert obj["pareto"][0]["lease_duration"] == obj["lease_duration"]
    assert obj["binding"] == []


def test_tune_text_table(capsys):
    code, out, _ = run(capsys, "tune", "--max-p99-failover", "10", "--top", "3")
    assert code == 0
    assert out.startswith("targets: p99 crash failover <= 10 s")
    assert "Pareto-optimal" in out and "sorted by score: balanced" in out and "(3 of" in out
    assert "lease (s)" in out


def test_tune_infeasible_names_the_binding_targets(capsys):
    code, out, _ = run(
        capsys, "tune", "--max-p99-failover", "10s", "--survive-outage", "30s", "--json"
    )
    assert code == 1
    obj = json.loads(out)
    assert obj["feasible"] is False
    assert all(obj[key] is None for key in TUNE_KEYS)
    assert set(obj["binding"]) == {"max_p99_failover", "survive_outage"}
    rows = {row["target"]: row for row in obj["diagnostics"]}
    # surviving 30 s of refused calls needs an attempt at or after 30 s within RD, so
    # LD > RD > 30 s and the crash p99 exceeds LD - 0.01 RP
    assert rows["max_p99_failover"]["closest"] > 30
    assert isinstance(rows["max_p99_failover"]["passing"], int)
    code, out, _ = run(capsys, "tune", "--max-p99-failover", "10s", "--survive-outage", "30s")
    assert code == 1
    assert "--max-p99-failover binds" in out and "--survive-outage binds" in out


def test_check_kube_scheduler_hand_values(capsys):
    code, out, err = run(
        capsys,
        "check", "--preset", "kube-scheduler",
        "--survive-outage", "9s",
        "--max-clock-rate-ratio", "1.2",
        "--max-requests-per-second", "1.2",
        "--json",
    )  # fmt: skip
    assert code == 1 and err == ""
    obj = json.loads(out)
    assert obj["passed"] is False and obj["failed"] == ["survive_outage"]
    checks = obj["checks"]
    assert checks["survive_outage"]["value"] == pytest.approx(0.5)
    assert checks["max_clock_rate_ratio"]["value"] == pytest.approx(1.25)
    assert checks["max_requests_per_second"]["margin"] == pytest.approx(1.2 - 1.125)
    assert obj["metrics"]["tolerated_outage"] == pytest.approx(8.0)

    code, out, _ = run(
        capsys, "check", "--lease-duration", "15s", "--renew-deadline", "10s",
        "--retry-period", "2s", "--max-p99-failover", "20",
    )  # fmt: skip
    assert code == 0
    assert "every target met" in out and "pass" in out


def test_check_split_brain_preset_fails_overlap(capsys):
    code, out, err = run(capsys, "check", "--preset", "openshift-sno", "--json")
    assert code == 1
    assert json.loads(out)["failed"] == ["max_clock_rate_ratio"]
    assert "warning" in err  # the preset's LeaseOverlapWarning, on one line


@pytest.mark.parametrize(
    ("argv", "word"),
    [
        (["tune"], "--max-p99-failover"),
        (["tune", "--max-p99-failover", "soon"], "--max-p99-failover"),
        (["tune", "--max-p99-failover", "10", "--min-survival", "0.9"], "--survive-outage"),
        (
            ["tune", "--max-p99-failover", "10", "--survive-outage", "5", "--min-survival", "2"],
            "--min-survival",
        ),
        (["tune", "--max-p99-failover", "10", "--max-clock-rate-ratio", "0.5"], "ratio"),
        (["tune", "--max-p99-failover", "10", "--candidates", "1"], "candidates"),
        (["tune", "--max-p99-failover", "10", "--top", "0"], "--top"),
        (["check", "--max-p99-failover", "10"], "--lease-duration"),
    ],
)
def test_bad_input_one_line_exit_2(capsys, argv, word):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("ha-toolkit: error:") and word in err
