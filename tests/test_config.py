"""Tests of ha_toolkit.election.config: validation, presets, data files."""

import dataclasses
import math
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from ha_toolkit._data import data_path
from ha_toolkit.election.config import (
    CLIENT_GO_JITTER_FACTOR,
    ElectionConfig,
    preset_names,
    presets_frame,
)

LD_RD = "leaseDuration must be greater than renewDeadline"
RD_RP = "renewDeadline must be greater than retryPeriod*JitterFactor"
LD_ZERO = "leaseDuration must be greater than zero"
RD_ZERO = "renewDeadline must be greater than zero"
RP_ZERO = "retryPeriod must be greater than zero"

# REFERENCE section 2, typed in by hand: name -> (LD, RD, RP, release on cancel), with two
# corrections read in the upstream code: cert-manager's controller sets ReleaseOnCancel
# (cmd/controller/app/controller.go, since 2021); cluster-autoscaler sets it but runs
# RunOrDie(ctx.TODO(), ...), whose context is never cancelled, so a SIGTERM never releases.
REFERENCE_PRESETS = {
    "kube-scheduler": (15, 10, 2, True),
    "kube-controller-manager": (15, 10, 2, False),
    "cloud-controller-manager": (15, 10, 2, False),
    "controller-runtime": (15, 10, 2, False),
    "cluster-autoscaler": (15, 10, 2, False),
    "openshift": (137, 107, 26, True),
    "openshift-sno": (270, 240, 60, True),
    "ingress-nginx": (30, 15, 7.5, False),
    "cert-manager": (60, 40, 15, True),
    "kube-vip": (5, 3, 1, False),
}
# ... and the file each value comes from.
REFERENCE_SOURCES = {
    "kube-scheduler": "pkg/scheduler/apis/config/v1/defaults.go",
    "kube-controller-manager": "pkg/controller/apis/config/v1alpha1/defaults.go",
    "cloud-controller-manager": "staging/src/k8s.io/cloud-provider/config/v1alpha1/defaults.go",
    "controller-runtime": "pkg/manager/internal.go",
    "cluster-autoscaler": "cluster-autoscaler/main.go",
    "openshift": "pkg/config/leaderelection/leaderelection.go",
    "openshift-sno": "pkg/config/leaderelection/leaderelection.go",
    "ingress-nginx": "internal/ingress/controller/status.go",
    "cert-manager": "internal/apis/config/shared/v1alpha1/defaults.go",
    "kube-vip": "cmd/kube-vip.go",
}


def message(excinfo) -> str:
    return str(excinfo.value)


# --- construction and conversion ------------------------------------------------------


def test_defaults_and_types():
    cfg = ElectionConfig(15, 10, 2)
    assert cfg.lease_duration == 15.0 and isinstance(cfg.lease_duration, float)
    assert cfg.renew_deadline == 10.0 and isinstance(cfg.renew_deadline, float)
    assert cfg.retry_period == 2.0 and isinstance(cfg.retry_period, float)
    assert cfg.jitter_factor == 1.2
    assert cfg.candidates == 3
    assert cfg.api_latency == 0.0
    assert cfg.release_on_cancel is False
    assert cfg.name is None
    assert CLIENT_GO_JITTER_FACTOR == 1.2


def test_duration_strings_and_timedeltas_accepted():
    cfg = ElectionConfig("15s", "10000ms", timedelta(seconds=2), api_latency="20ms")
    assert (cfg.lease_duration, cfg.renew_deadline, cfg.retry_period) == (15.0, 10.0, 2.0)
    assert cfg.api_latency == 0.02
    assert cfg == ElectionConfig(15, 10, 2, api_latency=0.02)
    assert hash(cfg) == hash(ElectionConfig(15, 10, 2, api_latency=0.02))
    assert ElectionConfig("1m", "45s", "5s").lease_duration == 60.0


def test_bad_duration_string_names_field():
    with pytest.raises(ValueError) as info:
        ElectionConfig("15x", 10, 2)
    assert "lease_duration" in message(info) and "'15x'" in message(info)
    with pytest.raises(ValueError, match="api_latency"):
        ElectionConfig(15, 10, 2, api_latency="soon")


def test_frozen():
    cfg = ElectionConfig(15, 10, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.lease_duration = 20.0


# --- client-go validation: messages --------------------------------------------------


@pytest.mark.parametrize(
    ("ld", "rd", "rp", "expected"),
    [
        (10, 10, 2, LD_RD),
        (10, 11, 2, LD_RD),
        (15, 12, 10, RD_RP),  # RD == 1.2 * RP exactly
        (15, 11.9, 10, RD_RP),
        (15, 10, 10, RD_RP),
        (0, -1, -1, LD_ZERO),  # passes rules 1 and 2 (RD > 1.2 RP for negatives)
        (-1, -2, -2, LD_ZERO),
        (1, 0, -1, RD_ZERO),
        (1, -0.5, -1, RD_ZERO),
        (15, 10, 0, RP_ZERO),
        (15, 10, -1, RP_ZERO),
    ],
)
def test_client_go_messages(ld, rd, rp, expected):
    with pytest.raises(ValueError) as info:
        ElectionConfig(ld, rd, rp)
    assert message(info) == expected


def test_rd_just_above_jitter_bound_is_valid():
    # 1.2 * 10 s = 12 s; one nanosecond more passes, as in client-go.
    cfg = ElectionConfig(15, 12.000000001, 10)
    assert cfg.renew_deadline > 12


def test_comparisons_are_in_whole_nanoseconds():
    # LD exceeds RD by 0.1 ns: the same time.Duration in client-go, so rejected.
    with pytest.raises(ValueError, match=LD_RD):
        ElectionConfig(10 + 1e-10, 10, 1)


def test_validation_ignores_jitter_factor_field():
    # client-go validates with its constant 1.2 whatever jitter the caller models.
    with pytest.raises(ValueError, match=RD_RP.replace("*", r"\*")):
        ElectionConfig(15, 2.3, 2, jitter_factor=0.0)
    assert ElectionConfig(15, 10, 2, jitter_factor=5.0).jitter_factor == 5.0


# --- client-go validation: order -------------------------------------------------------


@pytest.mark.parametrize(
    ("ld", "rd", "rp", "expected"),
    [
        (10, 11, 10, LD_RD),  # violates rules 1 and 2
        (-5, -4, -10, LD_RD),  # violates rules 1 and 3
        (0, 0, 0, LD_RD),  # violates all
        (15, 0, 1, RD_RP),  # violates rule 2 and renewDeadline > 0
        (15, 10, 20, RD_RP),  # rule 2 only
        (0, -10, -10, LD_ZERO),  # leaseDuration and renewDeadline <= 0: lease first
        (1, -1, -2, RD_ZERO),  # renewDeadline and retryPeriod <= 0: renewDeadline first
    ],
)
def test_first_violated_rule_is_reported(ld, rd, rp, expected):
    with pytest.raises(ValueError) as info:
        ElectionConfig(ld, rd, rp)
    assert message(info) == expected


# --- other fields ---------------------------------------------------------------------


@pytest.mark.parametrize("field", ["lease_duration", "renew_deadline", "retry_period"])
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_durations_name_the_field(field, bad):
    values = {"lease_duration": 15, "renew_deadline": 10, "retry_period": 2, field: bad}
    with pytest.raises(ValueError) as info:
        ElectionConfig(**values)
    assert field in message(info)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1, True, "1.2"])
def test_bad_jitter_factor(bad):
    with pytest.raises(ValueError, match="jitter_factor"):
        ElectionConfig(15, 10, 2, jitter_factor=bad)


def test_jitter_factor_zero_and_int_accepted():
    assert ElectionConfig(15, 10, 2, jitter_factor=0).jitter_factor == 0.0
    assert isinstance(ElectionConfig(15, 10, 2, jitter_factor=1).jitter_factor, float)


@pytest.mark.parametrize("bad", [0, -1, True, False, 2.0, "3", None])
def test_bad_candidates(bad):
    with pytest.raises(ValueError, match="candidates"):
        ElectionConfig(15, 10, 2, candidates=bad)


def test_candidates_integer_like_accepted():
    cfg = ElectionConfig(15, 10, 2, candidates=np.int64(5))
    assert cfg.candidates == 5 and type(cfg.candidates) is int
    assert ElectionConfig(15, 10, 2, candidates=1).followers == 0


@pytest.mark.parametrize("bad", [-0.001, "-1s", math.nan, math.inf])
def test_bad_api_latency(bad):
    with pytest.raises(ValueError, match="api_latency"):
        ElectionConfig(15, 10, 2, api_latency=bad)


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_bad_release_on_cancel(bad):
    with pytest.raises(ValueError, match="release_on_cancel"):
        ElectionConfig(15, 10, 2, release_on_cancel=bad)


def test_bad_name():
    with pytest.raises(ValueError, match="name"):
        ElectionConfig(15, 10, 2, name=3)


# --- derived properties ------------------------------------------------------------------


def test_followers():
    assert ElectionConfig(15, 10, 2, candidates=3).followers == 2
    assert ElectionConfig(15, 10, 2, candidates=7).followers == 6


@pytest.mark.parametrize(
    ("ld", "whole"),
    [(15, 15.0), (15.9, 15.0), (137, 137.0), (5.5, 5.0), ("2m0.999s", 120.0), (1.5, 1.0)],
)
def test_record_lease_duration_truncates_to_whole_seconds(ld, whole):
    cfg = ElectionConfig(ld, 1, 0.5)
    assert cfg.record_lease_duration == whole
    assert isinstance(cfg.record_lease_duration, float)


def test_renew_period():
    cfg = ElectionConfig(15, 10, 2, api_latency="50ms")
    assert cfg.renew_period == pytest.approx(2.05, abs=1e-15)


# --- dataclasses.replace -----------------------------------------------------------------


def test_replace_creates_a_new_validated_config():
    cfg = ElectionConfig.preset("kube-scheduler")
    more = dataclasses.replace(cfg, candidates=5, api_latency="10ms")
    assert more.candidates == 5 and more.api_latency == 0.01
    assert cfg.candidates == 3  # unchanged
    assert dataclasses.replace(cfg, lease_duration="1m").lease_duration == 60.0
    with pytest.raises(ValueError, match=LD_RD):
        dataclasses.replace(cfg, renew_deadline=20)
    with pytest.raises(ValueError, match="candidates"):
        dataclasses.replace(cfg, candidates=0)


# --- presets ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REFERENCE_PRESETS))
def test_every_reference_preset(name):
    ld, rd, rp, release = REFERENCE_PRESETS[name]
    cfg = ElectionConfig.preset(name)
    assert cfg.name == name
    assert (cfg.lease_duration, cfg.renew_deadline, cfg.retry_period) == (ld, rd, rp)
    assert cfg.release_on_cancel is release
    assert cfg.jitter_factor == 1.2 and cfg.candidates == 3 and cfg.api_latency == 0.0
    row = presets_frame().set_index("name").loc[name]
    assert REFERENCE_SOURCES[name] in row["source"]


def test_preset_names_match_reference():
    assert sorted(preset_names()) == sorted(REFERENCE_PRESETS)


def test_preset_overrides_and_case():
    cfg = ElectionConfig.preset("Kube-Scheduler", candidates=5, api_latency="20ms")
    assert cfg.name == "kube-scheduler" and cfg.candidates == 5 and cfg.api_latency == 0.02
    assert ElectionConfig.preset("openshift", name="mine").name == "mine"
    assert ElectionConfig.preset("openshift", release_on_cancel=False).release_on_cancel is False
    with pytest.raises(ValueError, match=LD_RD):
        ElectionConfig.preset("kube-vip", renew_deadline=6)
    with pytest.raises(TypeError, match="lease"):
        ElectionConfig.preset("kube-vip", lease=3)


def test_unknown_preset_lists_known_names():
    with pytest.raises(ValueError) as info:
        ElectionConfig.preset("kube-shceduler")
    text = message(info)
    assert "'kube-shceduler'" in text
    for name in REFERENCE_PRESETS:
        assert name in text


def test_presets_frame():
    frame = presets_frame()
    assert list(frame.columns) == [
        "name",
        "lease_duration",
        "renew_deadline",
        "retry_period",
        "release_on_cancel",
        "release_on_cancel_source",
        "call_timeout",
        "call_timeout_source",
        "source",
        "notes",
    ]
    assert len(frame) == len(REFERENCE_PRESETS)
    for column in ("lease_duration", "renew_deadline", "retry_period"):
        assert frame[column].dtype == np.float64
    assert frame["release_on_cancel"].dtype == bool
    assert frame["source"].str.len().min() > 0
    pd.testing.assert_frame_equal(frame, ElectionConfig.presets())
    frame.loc[0, "lease_duration"] = -1.0  # a copy: the cache must not change
    assert presets_frame().loc[0, "lease_duration"] > 0


def test_every_preset_satisfies_client_go_rules_independently():
    for _, row in presets_frame().iterrows():
        assert row.lease_duration > row.renew_deadline > 1.2 * row.retry_period > 0


# --- data files -------------------------------------------------------------------------


def test_data_path_finds_presets_csv():
    path = data_path("leader_election_presets.csv")
    assert path.is_file()
    assert path.read_text(encoding="utf-8").startswith("name,lease_duration,")


def test_data_path_errors():
    with pytest.raises(FileNotFoundError, match="no_such_file.csv"):
        data_path("no_such_file.csv")
    with pytest.raises(ValueError):
        data_path("../pyproject.toml")


# ---------------------------------------------------------------- the Python client's flavour
def test_jitter_defaults_per_client():
    assert ElectionConfig(15, 10, 2).jitter_factor == 1.2
    assert ElectionConfig(15, 10, 2, jitter_factor=None).jitter_factor == 1.2
    assert ElectionConfig(15, 10, 2, client="python").jitter_factor == 0.0


def test_python_client_uses_its_own_lease_and_a_two_call_renewal():
    cfg = ElectionConfig(15.5, 10, 2, api_latency=0.1, client="python")
    assert cfg.record_lease_duration == 15.5  # no whole-second Lease field in between
    assert cfg.renew_period == pytest.approx(2.2)  # GET + Update, then sleep
    go = ElectionConfig(15.5, 10, 2, api_latency=0.1)
    assert go.record_lease_duration == 15.0
    assert go.renew_period == pytest.approx(2.1)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"lease_duration": 10, "renew_deadline": 11, "retry_period": 2},
            "lease_duration must be greater than renew_deadline",
        ),
        (
            {"lease_duration": 15, "renew_deadline": 2, "retry_period": 2},
            "renewDeadline must be greater than retry_period*jitter_factor",
        ),
        (
            {"lease_duration": 0.9, "renew_deadline": 0.8, "retry_period": 0.5},
            "lease_duration must be greater than one",
        ),
        (
            {"lease_duration": 3, "renew_deadline": 0.9, "retry_period": 0.5},
            "renew_deadline must be greater than one",
        ),
        (
            {"lease_duration": 3, "renew_deadline": 2, "retry_period": 0.5},
            "retry_period must be greater than one",
        ),
    ],
)
def test_python_client_validation_messages(values, expected):
    with pytest.raises(ValueError) as info:
        ElectionConfig(**values, client="python")
    assert str(info.value) == expected


def test_python_client_refuses_what_it_does_not_do():
    with pytest.raises(ValueError, match="does not jitter"):
        ElectionConfig(15, 10, 2, jitter_factor=1.2, client="python")
    with pytest.raises(ValueError, match="never releases"):
        ElectionConfig(15, 10, 2, release_on_cancel=True, client="python")
    with pytest.raises(ValueError, match="invalid client"):
        ElectionConfig(15, 10, 2, client="java")
