"""Upstream-fidelity fixes of the leader-election models (per-call timeout, presets, warnings).

Hand-derived values:

* client-go ``resourcelock.NewFromKubeconfig`` gives the lock client ``max(1 s, RD / 2)``;
  openshift/library-go ``controllercmd`` gives it ``RD``.
* OpenShift, blackhole: the first renewal Update that acts in the outage hangs for RD = 107 s,
  i.e. to the cycle deadline, so the leader survives only if no renewal acts in the outage:
  the first cycle call after the outage start acts u ~ U[0, RP) after it, survival
  P(u >= T) = (26 - T) / 26: 0.5 at 13 s, 0 at 30 s.
* kube-scheduler, blackhole: the Update hangs 5 s, then the GET sent at 5 s can still renew:
  survival clip((5 + 2 - T) / 2, 0, 1): 1 at 5 s, 0 at 7 s.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from cli_helpers import assert_usage_error, run, run_json

from ha_toolkit.election.config import (
    ElectionConfig,
    LeaseTruncationWarning,
    presets_frame,
)
from ha_toolkit.election.outage import outage_survival, renew_call_offsets
from ha_toolkit.election.simulate import simulate_outage
from ha_toolkit.election.tuning import Targets, evaluate

TRIALS = 20_000


# ---------------------------------------------------------------- 1. per-call timeout
@pytest.mark.parametrize(
    ("rd", "rule", "expected"),
    [
        (10, "half-renew-deadline", 5.0),
        (1.5, "half-renew-deadline", 1.0),  # raised to one second
        (107, "half-renew-deadline", 53.5),
        (107, "renew-deadline", 107.0),
        (10, "3s", 3.0),
        (10, 0.25, 0.25),
    ],
)
def test_effective_call_timeout_follows_the_rule(rd, rule, expected):
    cfg = ElectionConfig(math.ceil(rd) + 30, rd, 1, call_timeout=rule)
    assert cfg.effective_call_timeout == expected


def test_default_call_timeout_is_client_gos_rule():
    assert ElectionConfig(15, 10, 2).call_timeout == "half-renew-deadline"
    assert ElectionConfig(15, 10, 2).effective_call_timeout == 5.0


@pytest.mark.parametrize("bad", ["half", "-1s", 0, "0s", float("nan"), None])
def test_bad_call_timeout_names_the_field(bad):
    with pytest.raises(ValueError, match="call_timeout"):
        ElectionConfig(15, 10, 2, call_timeout=bad)


def test_presets_carry_their_call_timeout():
    assert ElectionConfig.preset("openshift").effective_call_timeout == 107.0
    assert ElectionConfig.preset("openshift-sno").effective_call_timeout == 240.0
    for name in ("kube-scheduler", "kube-controller-manager", "controller-runtime"):
        assert ElectionConfig.preset(name).effective_call_timeout == 5.0
    frame = presets_frame().set_index("name")
    assert "builder.go" in frame.loc["openshift", "call_timeout_source"]
    assert "NewFromKubeconfig" in frame.loc["kube-scheduler", "call_timeout_source"]
    assert frame["call_timeout_source"].str.len().min() > 0


def test_openshift_blackhole_uses_up_the_cycle_with_its_first_call():
    cfg = ElectionConfig.preset("openshift")
    assert renew_call_offsets(cfg, "blackhole") == [(0.0, "update")]
    for length in (0.0, 6.5, 13.0, 19.5, 26.0, 30.0, 78.0):
        expected = max(0.0, (26.0 - length) / 26.0)
        assert outage_survival(cfg, length, "blackhole").survival_probability == pytest.approx(
            expected, abs=1e-12
        )


@pytest.mark.parametrize(("length", "expected"), [(4.0, 1.0), (5.0, 1.0), (6.0, 0.5), (7.0, 0.0)])
def test_kube_scheduler_blackhole_is_unchanged(length, expected):
    cfg = ElectionConfig.preset("kube-scheduler")
    assert outage_survival(cfg, length, "blackhole").survival_probability == expected


@pytest.mark.parametrize(
    ("preset", "length", "expected"),
    [
        ("openshift", 13.0, 0.5),
        ("openshift", 30.0, 0.0),
        ("kube-scheduler", 5.0, 1.0),
        ("kube-scheduler", 7.0, 0.0),
    ],
)
def test_the_oracle_agrees_on_blackhole_survival(preset, length, expected):
    cfg = ElectionConfig.preset(preset)
    rng = np.random.default_rng(sum(map(ord, preset)) + int(length))
    sim = simulate_outage(cfg, length, "blackhole", TRIALS, rng)
    tolerance = 4.5 * math.sqrt(max(expected * (1 - expected), 1e-4) / TRIALS)
    assert sim.survival_probability() == pytest.approx(expected, abs=tolerance)


def test_a_custom_call_timeout_changes_the_oracle_the_same_way():
    # RD 10 with a 2 s timeout: Update 0-2, GET 2-4, next tick at 4: Update 4-6, GET 6-8,
    # Update 8-10: the last call that can renew is the Update at 8 s, as when refused.
    cfg = ElectionConfig(15, 10, 2, call_timeout="2s")
    exact = outage_survival(cfg, 9.0, "blackhole")
    assert (exact.min_tolerated_outage, exact.max_tolerated_outage) == (8.0, 10.0)
    sim = simulate_outage(cfg, 9.0, "blackhole", TRIALS, np.random.default_rng(9))
    assert sim.survival_probability() == pytest.approx(0.5, abs=4.5 * math.sqrt(0.25 / TRIALS))


def test_tuning_evaluates_with_the_configured_timeout():
    targets = Targets(survive_outage=13.0, outage_mode="blackhole", min_survival=0.5)
    own = evaluate(ElectionConfig.preset("openshift"), targets)
    assert own.metrics["tolerated_outage"] == 0.0
    assert own.metrics["survival_probability"] == pytest.approx(0.5)


# ---------------------------------------------------------------- CLI
def test_cli_outage_acceptance(capsys):
    base = ("outage", "--preset", "openshift", "--mode", "blackhole")
    assert run_json(capsys, *base, "--outage", "13s")["survival_probability"] == 0.5
    assert run_json(capsys, *base, "--outage", "30s")["survival_probability"] == 0.0
    ks = ("outage", "--preset", "kube-scheduler", "--mode", "blackhole")
    assert run_json(capsys, *ks, "--outage", "5s")["survival_probability"] == 1.0
    assert run_json(capsys, *ks, "--outage", "7s")["survival_probability"] == 0.0


def test_cli_call_timeout_flag(capsys):
    ks = ("outage", "--preset", "kube-scheduler", "--mode", "blackhole", "--outage", "1s")
    obj = run_json(capsys, *ks, "--call-timeout", "renew-deadline")
    assert (obj["min_tolerated_outage"], obj["max_tolerated_outage"]) == (0.0, 2.0)
    obj = run_json(capsys, *ks, "--call-timeout", "2s")
    assert (obj["min_tolerated_outage"], obj["max_tolerated_outage"]) == (8.0, 10.0)
    assert_usage_error(capsys, *ks, "--call-timeout", "0s", match="--call-timeout")
    assert_usage_error(capsys, *ks, "--call-timeout", "soon", match="--call-timeout")


def test_cli_presets_show_timeout_and_release_with_sources(capsys):
    obj = run_json(capsys, "presets")
    presets = {name: row for name, row in obj.items() if name not in ("inputs", "version")}
    assert len(presets) >= 10
    for row in presets.values():
        for key in ("call_timeout", "call_timeout_source", "release_on_cancel_source"):
            assert key in row
        assert row["call_timeout"] > 0
    assert obj["openshift"]["call_timeout"] == 107.0
    assert obj["kube-scheduler"]["call_timeout"] == 5.0
    # 2. cert-manager releases; cluster-autoscaler's RunOrDie(ctx.TODO()) never does
    assert obj["cert-manager"]["release_on_cancel"] is True
    assert "controller.go" in obj["cert-manager"]["release_on_cancel_source"]
    assert obj["cluster-autoscaler"]["release_on_cancel"] is False
    assert "RunOrDie" in obj["cluster-autoscaler"]["release_on_cancel_source"]
    code, out, _ = run(capsys, "presets")
    assert code == 0 and "call timeout" in out


def test_openshift_notes_give_its_own_tolerance_figures():
    notes = presets_frame().set_index("name").loc["openshift", "notes"]
    assert "78 s" in notes and "60 s" in notes
    source = presets_frame().set_index("name").loc["openshift", "release_on_cancel_source"]
    assert "ToLeaderElectionWithLease" in source


# ---------------------------------------------------------------- 9. lease truncation
def test_a_fractional_lease_warns_once_that_it_is_truncated():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = ElectionConfig("15.5s", 10, 2)
    truncation = [w for w in caught if issubclass(w.category, LeaseTruncationWarning)]
    assert len(truncation) == 1
    assert "15" in str(truncation[0].message) and "whole" in str(truncation[0].message)
    assert cfg.record_lease_duration == 15.0


def test_whole_seconds_and_the_python_client_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", LeaseTruncationWarning)
        ElectionConfig(15, 10, 2)
        ElectionConfig(15.5, 10, 2, client="python")


def test_cli_warns_once_on_stderr(capsys):
    code, out, err = run(
        capsys, "outage", "--lease-duration", "15.5s", "--renew-deadline", "10s",
        "--retry-period", "2s", "--outage", "1s", "--json",
    )  # fmt: skip
    assert code == 0
    json.loads(out)
    lines = [line for line in err.splitlines() if "whole number of seconds" in line]
    assert len(lines) == 1 and lines[0].startswith("ha-toolkit: warning: ")
