"""Tests of ha_toolkit.audit: the readers on good and hostile input, the report, the CLI."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_helpers import assert_usage_error, run, run_json
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ha_toolkit.audit import (
    ArtifactError,
    ArtifactWarning,
    audit,
    parse_leases,
    parse_manifest,
    parse_metrics,
    read_leases,
    read_manifests,
    read_metrics,
    sample_artifacts,
)
from ha_toolkit.audit.readers import MAX_BYTES
from ha_toolkit.election.tuning import Targets

LEASES, MANIFESTS, METRICS = sample_artifacts().values()
DAY = 86_400.0

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: kube-scheduler
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-scheduler
{flags}
    name: kube-scheduler
"""


def pod(*flags: str) -> str:
    return POD.format(flags="\n".join(f"    - {f}" for f in flags) or "    - --v=2")


def lease_doc(spec: dict, name: str = "kube-scheduler") -> str:
    item = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "kube-system"}, "spec": spec}
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": [item]})


METRIC_TEXT = """\
# TYPE apiserver_flowcontrol_nominal_limit_seats gauge
apiserver_flowcontrol_nominal_limit_seats{priority_level="workload-low"} 245
# TYPE apiserver_flowcontrol_dispatched_requests_total counter
apiserver_flowcontrol_dispatched_requests_total{flow_schema="a",priority_level="workload-low"} 10
apiserver_flowcontrol_dispatched_requests_total{flow_schema="b",priority_level="workload-low"} 5
"""


# ------------------------------------------------------------------------------ samples
def test_sample_leases_read_as_written():
    raw = json.loads(LEASES.read_text())["items"]
    frame = read_leases(LEASES)
    assert len(frame) == len(raw) == 7
    kcm = frame.set_index("name").loc["kube-controller-manager"]
    assert kcm["lease_duration_seconds"] == 30
    assert kcm["lease_transitions"] == 5
    assert kcm["holder"].startswith("cp-2_")
    assert str(kcm["renew_time"]) == "2026-11-26 17:02:10.884652+00:00"
    node = frame.set_index("name").loc["cp-1"]
    assert math.isnan(node["lease_transitions"]) and pd.isna(node["acquire_time"])


def test_sample_manifests_flags_and_defaults():
    frame = read_manifests(MANIFESTS).set_index("component")
    assert list(frame.index) == ["kube-apiserver", "kube-scheduler", "kube-controller-manager"]
    # kubeadm passes no leader-elect timings to the scheduler: the 15s/10s/2s defaults apply
    sched = frame.loc["kube-scheduler"]
    assert (sched.lease_duration, sched.renew_deadline, sched.retry_period) == (15, 10, 2)
    assert "lease_duration" in sched.defaulted
    kcm = frame.loc["kube-controller-manager"]  # the sample sets 30s and 20s
    assert (kcm.lease_duration, kcm.renew_deadline, kcm.retry_period) == (30, 20, 2)
    assert kcm.defaulted.split(",")[0] == "retry_period"
    api = frame.loc["kube-apiserver"]
    assert (api.max_requests_inflight, api.max_mutating_requests_inflight) == (400, 200)


def test_sample_metrics_sums_over_flow_schemas():
    frame = read_metrics(METRICS).set_index("priority_level")
    text = METRICS.read_text().splitlines()

    def total(prefix: str, level: str) -> float:
        return sum(float(line.rsplit(" ", 1)[1]) for line in text
                   if line.startswith(prefix + "{") and f'priority_level="{level}"' in line)

    for level in ("workload-high", "leader-election", "workload-low"):
        row = frame.loc[level]
        assert row.dispatched == total("apiserver_flowcontrol_dispatched_requests_total", level)
        assert row.execution_seconds_sum == pytest.approx(
            total("apiserver_flowcontrol_request_execution_seconds_sum", level))
    assert frame.loc["workload-low"].rejected == 412 + 37
    assert frame.loc["workload-low"].nominal_limit_seats == 245


# ------------------------------------------------------------------------------ report
@pytest.fixture(scope="module")
def report():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return audit(LEASES, MANIFESTS, METRICS, window="24h",
                     targets=Targets(max_p99_failover="25s"))


def test_report_closed_forms(report):
    comps = report.components.set_index("component")
    for name, ld, rd, rp in (("kube-scheduler", 15, 10, 2), ("kube-controller-manager", 30, 20, 2)):
        row = comps.loc[name]
        assert row.overlap_margin == pytest.approx(ld - rd - rp)
        assert row.max_safe_clock_rate_ratio == pytest.approx(ld / (rd + rp))
        # no latency, RD a multiple of RP: the last renewal attempt starts at RD - RP and the
        # cycle ends at RD (refused calls return at once)
        assert row.min_tolerated_outage == pytest.approx(rd - rp)
        assert row.max_tolerated_outage == pytest.approx(rd)
    assert comps.loc["kube-scheduler"].passed
    assert not comps.loc["kube-controller-manager"].passed  # p99 ~ LD + ... > 25 s
    assert comps.loc["kube-controller-manager"].failed == "max_p99_failover"
    # kube-controller-manager does not release: its shutdown costs a crash failover
    kcm = comps.loc["kube-controller-manager"]
    assert kcm.p99_release == kcm.p99_crash
    assert comps.loc["kube-apiserver"].server_cl == 600


def test_report_failover_quantiles_match_simulation(report):
    from ha_toolkit.election.simulate import simulate_failover

    n = 20_000
    rng = np.random.default_rng(20261126)
    comps = report.components.set_index("component")
    for name, scenario, col in (("kube-scheduler", "crash", "crash"),
                                ("kube-scheduler", "release", "release")):
        cfg = report.configs[name]
        times = simulate_failover(cfg, scenario, n, rng)
        for q in (0.5, 0.99):
            value = comps.loc[name, f"p{round(q * 100)}_{col}"]
            share = float(np.mean(times <= value))
            # binomial standard error of the empirical CDF, 5 sigma, plus the grid's 0.2 %
            tol = 5 * math.sqrt(q * (1 - q) / n) + 0.002
            assert abs(share - q) < tol, (name, scenario, q, share)


def test_report_levels_from_counters(report):
    levels = report.levels.set_index("priority_level")
    wl = levels.loc["workload-low"]
    dispatched = 1650 * DAY  # how the sample was made
    assert wl.arrival_rate == pytest.approx((dispatched + 449) / DAY)
    assert wl.service_time == pytest.approx(0.14)
    assert wl.seat_demand == pytest.approx(1650 * 0.14)
    assert wl.utilization == pytest.approx(1650 * 0.14 / 300)
    load = report.load.set_index(["priority_level", "load_factor"])
    today = load.loc[("workload-low", 1.0)]
    assert today.utilization == pytest.approx(1650 * 0.14 / 300, rel=1e-3)
    # at twice the load the level is overloaded: it serves at most c / S per second and
    # rejects the rest (fluid limit), up to the few queued requests
    double = load.loc[("workload-low", 2.0)]
    lam = 2 * wl.arrival_rate
    assert double.rejection_rate == pytest.approx(lam - 300 / 0.14, rel=0.01)
    assert "exempt" not in report.load["priority_level"].tolist()
    assert set(report.load["load_factor"]) == {1.0, 1.5, 2.0}


def test_report_without_window_gives_no_rates():
    r = audit(metrics=METRICS)
    assert r.levels["arrival_rate"].isna().all() and r.load.empty
    assert any("no window" in note for note in r.notes)


def test_report_from_leases_only_assumes_default_rd_rp():
    r = audit(leases=LEASES)
    comps = r.components.set_index("component")
    assert comps.loc["kube-controller-manager"].lease_duration == 30
    assert comps.loc["kube-controller-manager"].renew_deadline == 10
    assert any("assumed" in note for note in r.notes)


def test_report_lease_mismatch_and_invalid_settings(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "s.yaml").write_text(pod("--leader-elect-lease-duration=9s"))
    (tmp_path / "l.json").write_text(lease_doc({"leaseDurationSeconds": 15}))
    r = audit(tmp_path / "l.json", tmp_path / "m")
    row = r.components.set_index("component").loc["kube-scheduler"]
    assert "would not start" in row.note and not row.passed
    assert any("leaseDurationSeconds 15" in note for note in r.notes)


def test_report_bad_arguments():
    with pytest.raises(ValueError, match="at least one"):
        audit()
    with pytest.raises(ValueError, match="window"):
        audit(metrics=METRICS, window="-1s")
    with pytest.raises(ValueError, match="candidates"):
        audit(leases=LEASES, candidates=1)


def test_report_to_dict_is_json(report):
    obj = json.loads(json.dumps(report.to_dict()))
    assert obj["window"] == DAY
    assert {c["component"] for c in obj["components"]} >= {"kube-scheduler"}


# ------------------------------------------------------------------------------ hostile input
def test_refuses_a_huge_file(tmp_path):
    big = tmp_path / "huge.json"
    with big.open("wb") as fh:
        fh.truncate(MAX_BYTES + 1)
    for reader in (read_leases, read_metrics):
        with pytest.raises(ArtifactError, match=r"huge\.json: file: .*over the limit"):
            reader(big)


def test_malformed_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("kind: Pod\nspec: [unclosed\n  containers: x\n")
    with pytest.raises(ArtifactError, match=r"bad\.yaml: line \d+ column \d+: malformed YAML"):
        read_manifests(tmp_path)


def test_malformed_json_names_line():
    with pytest.raises(ArtifactError, match=r"leases\.json: line 2 column \d+: malformed JSON"):
        parse_leases('{"items": [\n  {,]}', "leases.json")


def test_not_utf8(tmp_path):
    path = tmp_path / "l.json"
    path.write_bytes(b'{"items": ["\xff"]}')
    with pytest.raises(ArtifactError, match="byte 12: not UTF-8"):
        read_leases(path)


def test_missing_fields():
    with pytest.raises(ArtifactError, match="m.yaml: spec.containers: missing"):
        parse_manifest("kind: Pod\nspec: {}\n", "m.yaml")
    with pytest.raises(ArtifactError, match="top level: expected a Lease or a List"):
        parse_leases('{"kind": "List"}', "l.json")
    doc = json.dumps({"items": [{"kind": "Lease", "metadata": {}},
                                json.loads(lease_doc({"leaseDurationSeconds": 15}))["items"][0]]})
    with pytest.warns(ArtifactWarning, match=r"items\[0\]\.metadata\.name: missing"):
        frame = parse_leases(doc, "l.json")
    assert frame["name"].tolist() == ["kube-scheduler"]  # the rest is still read


def test_wrong_types():
    with pytest.warns(ArtifactWarning, match=r"spec\.leaseDurationSeconds: expected a whole"):
        assert parse_leases(lease_doc({"leaseDurationSeconds": "15"})).empty
    with pytest.raises(ArtifactError, match=r"command\[1\]: expected a string, got int"):
        parse_manifest(pod("1"))
    with pytest.raises(ArtifactError, match="--leader-elect: expected true or false"):
        parse_manifest(pod("--leader-elect=maybe"))
    with pytest.warns(ArtifactWarning, match="not a Pod"):
        assert parse_manifest("kind: ConfigMap\n") is None


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--leader-elect-lease-duration=-15s", "must be > 0"),
        ("--leader-elect-renew-deadline=1000000h", "must be > 0 and <= 86400"),
        ("--leader-elect-retry-period=soon", "retry-period"),
        ("--max-requests-inflight=1000000000000", r"must lie in \[0, 1000000\]"),
        ("--max-mutating-requests-inflight=-3", r"must lie in \[0, 1000000\]"),
    ],
)
def test_absurd_flag_values(flag, message):
    with pytest.raises(ArtifactError, match=r"m\.yaml: spec\.containers\[0\]\.command\[1\]: "):
        parse_manifest(pod(flag), "m.yaml")
    with pytest.raises(ArtifactError, match=message):
        parse_manifest(pod(flag), "m.yaml")


def test_absurd_lease_and_metric_values():
    with pytest.warns(ArtifactWarning, match=r"must lie in \[1, 86400\], got -5"):
        assert parse_leases(lease_doc({"leaseDurationSeconds": -5})).empty
    text = METRIC_TEXT + (
        'apiserver_flowcontrol_current_limit_seats{priority_level="workload-low"} 1e12\n'
        'apiserver_flowcontrol_current_inqueue_requests{priority_level="workload-low"} -4\n')
    with pytest.warns(ArtifactWarning) as caught:
        frame = parse_metrics(text, "m.txt").set_index("priority_level")
    messages = " ".join(str(w.message) for w in caught)
    assert "1e+12 seats is above" in messages and "must be finite and >= 0" in messages
    assert math.isnan(frame.loc["workload-low"].current_limit_seats)
    assert frame.loc["workload-low"].dispatched == 15  # the rest is still read


def test_duplicate_flags_warn_and_last_wins():
    with pytest.warns(ArtifactWarning, match=r"command\[2\]: --leader-elect-lease-duration "
                                             r"repeated \(first at .*command\[1\]\)"):
        row = parse_manifest(pod("--leader-elect-lease-duration=20s",
                                 "--leader-elect-lease-duration", "40s"))
    assert row["lease_duration"] == 40


def test_duplicate_samples_and_leases_skipped():
    line = METRIC_TEXT.splitlines()[-1]
    with pytest.warns(ArtifactWarning, match="repeated sample"):
        frame = parse_metrics(METRIC_TEXT + line + "\n")
    assert frame.iloc[0].dispatched == 15
    item = json.loads(lease_doc({}))["items"][0]
    with pytest.warns(ArtifactWarning, match="listed twice"):
        assert len(parse_leases(json.dumps({"items": [item, item]}))) == 1


def test_metrics_garbage_and_foreign_metrics():
    with pytest.raises(ArtifactError, match="m.txt: line 1: not Prometheus text format"):
        parse_metrics('apiserver_flowcontrol_nominal_limit_seats{priority_level="x" 3\n', "m.txt")
    with pytest.raises(ArtifactError, match="no apiserver_flowcontrol_"):
        parse_metrics("process_start_time_seconds 1\n", "m.txt")


def test_scheduler_config_file_and_flag_precedence(tmp_path):
    (tmp_path / "kube-scheduler.yaml").write_text(pod("--leader-elect-retry-period=3s"))
    (tmp_path / "config.yaml").write_text(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
        "leaderElection:\n  leaseDuration: 40s\n  renewDeadline: 30s\n  retryPeriod: 5s\n")
    row = read_manifests(tmp_path).iloc[0]
    assert (row.lease_duration, row.renew_deadline, row.retry_period) == (40, 30, 3)


# ------------------------------------------------------------------------------ fuzzing
FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["kind", "metadata", "spec", "name", "namespace", "items",
                         "holderIdentity", "leaseDurationSeconds", "leaseTransitions",
                         "renewTime", "acquireTime", "containers", "command", "args",
                         "leaderElection", "leaseDuration"]) | st.text(max_size=8),
        inner, max_size=5),
    max_leaves=25,
)


def _only_artifact_errors(call, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ArtifactWarning)
        try:
            call(*args)
        except ArtifactError:
            pass


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), json_values.map(json.dumps)))
def test_fuzz_leases(text):
    _only_artifact_errors(parse_leases, text)


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300), json_values.map(json.dumps),
                 st.lists(st.text(max_size=40) | st.sampled_from(
                     ["--leader-elect", "--leader-elect-lease-duration", "--max-requests-inflight",
                      "--leader-elect-retry-period=1e400s", "--leader-elect=0"]), max_size=6)
                 .map(lambda flags: pod(*(json.dumps(f) for f in flags)))))
def test_fuzz_manifest(text):
    _only_artifact_errors(parse_manifest, text)


metric_lines = st.builds(
    lambda name, level, value: f'{name}{{priority_level="{level}"}} {value}',
    st.sampled_from(["apiserver_flowcontrol_current_limit_seats",
                     "apiserver_flowcontrol_dispatched_requests_total",
                     "apiserver_flowcontrol_request_execution_seconds_count"]),
    st.text(max_size=6), st.sampled_from(["1", "-1", "NaN", "+Inf", "1e400", "x", ""]))


@FUZZ
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300),
                 st.lists(metric_lines | st.text(max_size=30), max_size=6).map("\n".join)))
def test_fuzz_metrics(text):
    _only_artifact_errors(parse_metrics, text)


# ------------------------------------------------------------------------------ CLI
def test_cli_prints_report_on_samples(capsys):
    code, out, err = run(capsys, "audit", "--leases", str(LEASES), "--manifests", str(MANIFESTS),
                         "--metrics", str(METRICS), "--window", "24h")
    assert code == 0 and err == ""
    assert "kube-controller-manager" in out and "workload-low" in out
    assert "rates over a window of 86400 s" in out


def test_cli_json(capsys):
    obj = run_json(capsys, "audit", "--manifests", str(MANIFESTS), "--max-p99-failover", "25s")
    comps = {c["component"]: c for c in obj["components"]}
    assert comps["kube-controller-manager"]["passed"] is False
    assert obj["levels"] == [] and obj["window"] is None


def test_cli_bad_input_one_line_exit_2(capsys, tmp_path: Path):
    bad = tmp_path / "leases.json"
    bad.write_text("{not json")
    assert_usage_error(capsys, "audit", "--leases", str(bad),
                       match="leases.json: line 1 column 2: malformed JSON")
    assert_usage_error(capsys, "audit", match="at least one of")
    assert_usage_error(capsys, "audit", "--metrics", str(METRICS), "--window", "0s",
                       match="--window")
    assert_usage_error(capsys, "audit", "--manifests", str(tmp_path / "missing"),
                       match="missing: directory: not found")


def test_report_plot_returns_axes(report):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = report.plot()
    assert len(ax.patches) == len(report.load)  # one bar per level and load factor
    assert any("1157/s" == t.get_text() for t in ax.texts)
    plt.close(ax.figure)
