"""Tests of the ha-toolkit console script (ha_toolkit.cli.main and the installed script)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_usage_error, run, run_json

import ha_toolkit
from ha_toolkit.cli import main

KEYS = ["mean", "std", "p50", "p90", "p99", "min", "max"]


def test_failover_json_has_exactly_the_contract_keys(capsys):
    obj = run_json(capsys, "failover", "--preset", "kube-scheduler")
    # the answer's keys first, then what it was computed from and the model version
    assert list(obj) == [*KEYS, "inputs", "version"]
    assert all(isinstance(obj[key], float) for key in KEYS)
    assert obj["version"] == ha_toolkit.__version__
    assert obj["inputs"]["preset"] == "kube-scheduler"
    assert obj["inputs"]["lease_duration"] == 15.0
    assert obj["inputs"]["scenario"] == "crash"
    assert obj["min"] <= obj["p50"] <= obj["p90"] <= obj["p99"] <= obj["max"]


def test_failover_release_matches_closed_form(capsys):
    # One follower polling every RP exactly (no jitter): after a release at a random moment
    # it acquires at its next poll, so the time is Uniform[0, RP).
    rp = 2.0
    obj = run_json(
        capsys,
        "failover",
        "--lease-duration",
        "15s",
        "--renew-deadline",
        "10s",
        "--retry-period",
        "2s",
        "--jitter-factor",
        "0",
        "--candidates",
        "2",
        "--scenario",
        "release",
    )
    expected = {
        "mean": rp / 2,
        "std": rp / 12**0.5,
        "p50": 0.5 * rp,
        "p90": 0.9 * rp,
        "p99": 0.99 * rp,
        "min": 0.0,
        "max": rp,
    }
    for key in KEYS:
        assert obj[key] == pytest.approx(expected[key], abs=0.02), key


def test_failover_release_with_two_jittered_followers(capsys):
    # Two followers, each with a stationary residual R of a Uniform[RP, (1+J)RP) gap:
    # P(R > t) = E[(G - t)^+] / E[G]. The release time is min(R1, R2): P(T > t) = P(R > t)^2.
    rp, j = 2.0, 1.2
    a, b = rp, (1 + j) * rp
    mean_gap = (a + b) / 2

    def residual_sf(t):
        if t <= a:
            return 1 - t / mean_gap
        return (b - t) ** 2 / (2 * (b - a)) / mean_gap

    def sf(t):
        return residual_sf(t) ** 2

    def quantile(q):
        lo, hi = 0.0, b
        for _ in range(100):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if 1 - sf(mid) < q else (lo, mid)
        return lo

    obj = run_json(capsys, "failover", "--preset", "kube-scheduler", "--scenario", "release")
    for key, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99)):
        assert obj[key] == pytest.approx(quantile(q), abs=0.02), key
    assert obj["max"] == pytest.approx(b, abs=0.02)


@pytest.mark.parametrize(
    "forms",
    [
        (("15s", "10s", "2s"), ("15", "10", "2"), ("0m15s", "10000ms", "2.0")),
        (("1m30s", "1m", "500ms"), ("90", "60s", "0.5")),
    ],
)
def test_duration_spellings_agree(capsys, forms):
    results = []
    for ld, rd, rp in forms:
        results.append(
            run_json(
                capsys,
                "failover",
                "--lease-duration",
                ld,
                "--renew-deadline",
                rd,
                "--retry-period",
                rp,
            )
        )
    assert all(r == results[0] for r in results)


def test_explicit_durations_override_the_preset(capsys):
    from_preset = run_json(
        capsys,
        "failover",
        "--preset",
        "kube-scheduler",
        "--retry-period",
        "1s",
        "--candidates",
        "4",
    )
    explicit = run_json(
        capsys,
        "failover",
        "--lease-duration",
        "15s",
        "--renew-deadline",
        "10s",
        "--retry-period",
        "1s",
        "--candidates",
        "4",
    )
    plain = run_json(capsys, "failover", "--preset", "kube-scheduler")
    assert {k: from_preset[k] for k in KEYS} == {k: explicit[k] for k in KEYS}
    assert from_preset["inputs"]["preset"] == "kube-scheduler"
    assert explicit["inputs"]["preset"] is None
    assert from_preset["inputs"]["retry_period"] == explicit["inputs"]["retry_period"] == 1.0
    assert {k: from_preset[k] for k in KEYS} != {k: plain[k] for k in KEYS}


def test_failover_table_is_readable_and_aligned(capsys):
    code, out, err = run(capsys, "failover", "--preset", "openshift")
    assert code == 0 and err == ""
    assert "openshift" in out and "crash" in out
    rows = [line for line in out.splitlines() if line.split(" ")[0] in KEYS]
    assert [r.split()[0] for r in rows] == KEYS
    assert len({len(r) for r in rows}) == 1  # right-aligned numbers
    json_obj = run_json(capsys, "failover", "--preset", "openshift")
    # four significant digits
    assert float(rows[4].split()[1]) == pytest.approx(json_obj["p99"], rel=5e-4)


def test_client_go_validation_message(capsys):
    line = assert_usage_error(
        capsys,
        "failover",
        "--lease-duration",
        "10s",
        "--renew-deadline",
        "11s",
        "--retry-period",
        "2s",
    )
    assert line == "ha-toolkit: error: leaseDuration must be greater than renewDeadline"
    assert_usage_error(
        capsys,
        "failover",
        "--lease-duration",
        "15s",
        "--renew-deadline",
        "2s",
        "--retry-period",
        "2s",
        match="renewDeadline must be greater than retryPeriod*JitterFactor",
    )


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (
            (
                "failover",
                "--lease-duration",
                "15x",
                "--renew-deadline",
                "10s",
                "--retry-period",
                "2s",
            ),
            "'15x'",
        ),
        (("failover", "--preset", "no-such-preset"), "no-such-preset"),
        (("failover", "--lease-duration", "15s"), "--renew-deadline"),
        (("failover",), "--preset"),
        (("failover", "--preset", "kube-vip", "--candidates", "1"), "candidates"),
        (("failover", "--preset", "kube-vip", "--candidates", "two"), "--candidates"),
        (("failover", "--preset", "kube-vip", "--scenario", "boom"), "--scenario"),
        (("failover", "--preset", "kube-vip", "--api-latency=-1s"), "--api-latency must be >= 0"),
        (("failover", "--preset", "kube-vip", "--jitter-factor", "nan"), "--jitter-factor must be"),
        (("no-such-command",), "no-such-command"),
        ((), "required"),
        (("presets", "--bogus"), "--bogus"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(capsys, argv, match):
    assert_usage_error(capsys, *argv, match=match)


def test_help_exits_zero(capsys):
    assert main(["--help"]) == 0
    assert "failover" in capsys.readouterr().out


def test_presets_json_and_table(capsys):
    obj = run_json(capsys, "presets")
    # REFERENCE section 2, by hand
    assert obj["kube-scheduler"]["lease_duration"] == 15.0
    assert obj["kube-scheduler"]["release_on_cancel"] is True
    assert (
        obj["openshift"]["lease_duration"],
        obj["openshift"]["renew_deadline"],
        obj["openshift"]["retry_period"],
    ) == (137.0, 107.0, 26.0)
    assert obj["ingress-nginx"]["retry_period"] == 7.5
    assert obj["kube-controller-manager"]["release_on_cancel"] is False
    code, out, err = run(capsys, "presets")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split()[0] == "preset"
    assert obj["version"] == ha_toolkit.__version__ and obj["inputs"] == {}
    assert len(lines) == 2 + len(obj) - 2
    assert any(line.split()[:4] == ["openshift", "137", "107", "26"] for line in lines)


def test_figures_with_nothing_to_run_is_a_usage_error(capsys, tmp_path):
    (tmp_path / "01_x.ipynb").write_text("{}")
    assert_usage_error(
        capsys, "figures", "--notebooks", str(tmp_path), "--only", "zzz", match="zzz"
    )
    assert_usage_error(
        capsys, "figures", "--notebooks", str(tmp_path / "missing"), match="does not exist"
    )


def _console_script():
    beside = Path(sys.executable).with_name("ha-toolkit")
    if beside.exists():
        return str(beside)
    return shutil.which("ha-toolkit")


def test_console_script():
    script = _console_script()
    if script is None:
        pytest.skip("the ha-toolkit console script is not installed")
    done = subprocess.run(
        [script, "failover", "--preset", "kube-scheduler", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout)) == [*KEYS, "inputs", "version"]
    bad = subprocess.run(
        [
            script,
            "failover",
            "--lease-duration",
            "10s",
            "--renew-deadline",
            "11s",
            "--retry-period",
            "2s",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr == "ha-toolkit: error: leaseDuration must be greater than renewDeadline\n"
