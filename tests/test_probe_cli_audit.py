"""The probe subcommand and the audit of static pod probes."""

import math

import pytest
from cli_helpers import assert_usage_error, run, run_json

from ha_toolkit.audit import audit, sample_artifacts
from ha_toolkit.audit.pod_probes import parse_pod_probes, probe_rows, read_pod_probes
from ha_toolkit.audit.readers import ArtifactError
from ha_toolkit.availability.probes import KUBEADM_LIVENESS, KUBEADM_READINESS, KUBEADM_STARTUP

APISERVER = str(sample_artifacts()["manifests"] / "kube-apiserver.yaml")

POD = """
apiVersion: v1
kind: Pod
metadata: {{name: kube-apiserver, namespace: kube-system}}
spec:
  terminationGracePeriodSeconds: {grace}
  containers:
  - name: kube-apiserver
    command: [kube-apiserver, --secure-port=6443{flags}]
    livenessProbe: {{periodSeconds: {period}, timeoutSeconds: {timeout}, failureThreshold: 3}}
"""


def test_probe_from_the_kubeadm_manifest_hung(capsys):
    out = run_json(capsys, "probe", "--manifest", APISERVER, "--failure", "hung")
    det, rec = out["detection"], out["recovery"]
    assert set(det) == set(rec) == {"mean", "p50", "p99", "min", "max"}
    # U*10 + 7*15 + 15: uniform on [120, 130]
    assert det["min"] == pytest.approx(120.0, abs=1e-6)
    assert det["max"] == pytest.approx(130.0, abs=1e-6)
    assert det["p99"] == pytest.approx(129.9, abs=1e-3)
    # + SIGKILL after 30 s + 20 s start-up + the startup probe's tick U*10: a triangle on
    # [170, 190] whose 99th percentile is 190 - 10 * sqrt(0.02)
    assert rec["mean"] == pytest.approx(180.0, abs=1e-3)
    assert rec["p99"] == pytest.approx(190 - 10 * math.sqrt(0.02), abs=0.01)
    assert out["readiness"]["period"] == 1.0
    assert out["startup_probe"]["failure_threshold"] == 24


def test_probe_flags_match_the_manifest_liveness(capsys):
    flags = run_json(capsys, "probe", "--period", "10s", "--timeout", "15s",
                     "--failure-threshold", "8", "--initial-delay", "10s", "--failure", "hung")
    manifest = run_json(capsys, "probe", "--manifest", APISERVER, "--failure", "hung")
    assert flags["detection"] == manifest["detection"]
    # no startup probe, no readiness probe: Ready as soon as the container starts
    assert flags["recovery"]["mean"] == pytest.approx(125 + 30, abs=1e-3)


def test_probe_exit_is_seen_at_the_relist(capsys):
    out = run_json(capsys, "probe", "--period", "10", "--timeout", "1",
                   "--failure-threshold", "3", "--failure", "exit")
    assert out["detection"]["mean"] == pytest.approx(0.5, abs=1e-6)
    assert out["detection"]["max"] == pytest.approx(1.0, abs=1e-6)


def test_probe_table(capsys):
    code, out, err = run(capsys, "probe", "--manifest", APISERVER, "--failure", "refusing")
    assert code == 0 and err == ""
    assert "detection" in out and "recovery" in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--failure", "hung"], "--period"),
        (["--period", "0", "--timeout", "1", "--failure-threshold", "3", "--failure", "hung"],
         "period"),
        (["--period", "10", "--timeout", "1", "--failure-threshold", "3", "--failure", "slow"],
         "invalid choice"),
        (["--manifest", "missing.yaml", "--failure", "hung"], "missing.yaml"),
        (["--manifest", APISERVER, "--failure", "hung", "--recent-restarts", "-1"],
         "--recent-restarts"),
    ],
)
def test_probe_bad_input(capsys, argv, match):
    assert_usage_error(capsys, "probe", *argv, match=match)


def test_parse_pod_probes_reads_kubeadm_probes():
    row = read_pod_probes(APISERVER)
    assert row["component"] == "kube-apiserver"
    assert row["liveness"] == KUBEADM_LIVENESS
    assert row["readiness"] == KUBEADM_READINESS
    assert row["startup"] == KUBEADM_STARTUP
    assert row["grace_period"] == 30.0
    assert row["shutdown_delay"] == 0.0


def test_parse_pod_probes_reads_shutdown_flags():
    text = POD.format(grace=20, period=10, timeout=5,
                      flags=", --shutdown-delay-duration=25s, --shutdown-send-retry-after")
    row = parse_pod_probes(text)
    assert row["shutdown_delay"] == 25.0
    assert row["shutdown_send_retry_after"] is True
    [report] = probe_rows([row])
    assert "kills the server before the delay ends" in report["warnings"]


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (POD.format(grace=30, period="ten", timeout=1, flags=""), "livenessProbe.periodSeconds"),
        (POD.format(grace=30, period=0, timeout=1, flags=""), "livenessProbe.periodSeconds"),
        (POD.format(grace=-1, period=10, timeout=1, flags=""), "terminationGracePeriodSeconds"),
        (POD.format(grace=30, period=10, timeout=1, flags=", --shutdown-delay-duration=soon"),
         "command"),
    ],
)
def test_parse_pod_probes_names_the_bad_field(text, place):
    with pytest.raises(ArtifactError, match=place):
        parse_pod_probes(text, "pod.yaml")


def test_read_pod_probes_refuses_what_is_not_a_control_plane_pod(tmp_path):
    other = tmp_path / "etcd.yaml"
    other.write_text("kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command: [etcd]\n")
    with pytest.raises(ArtifactError, match="not a kube-apiserver"):
        read_pod_probes(other)
    binary = tmp_path / "bad.yaml"
    binary.write_bytes(b"\xff\xfe kind: Pod")
    with pytest.raises(ArtifactError, match="UTF-8"):
        read_pod_probes(binary)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (5 * 1024 * 1024 + 1))
    with pytest.raises(ArtifactError, match="limit"):
        read_pod_probes(big)


def test_probe_rows_warn_on_settings_that_defeat_their_purpose():
    text = POD.format(grace=30, period=2, timeout=1, flags="")
    [row] = probe_rows([parse_pod_probes(text)], startup=30)
    # no startup probe: 3 fast failures from the first ticks kill a 30 s start-up
    assert "no startup probe" in row["warnings"]
    # 3 timeouts of 1 s every 2 s: a server slow for 6 s is restarted
    assert "merely slow" in row["warnings"]
    # detection of a hung server: U*2 + 2*2 + 1
    assert row["detection_hung_p50"] == pytest.approx(6.0, abs=1e-6)


def test_audit_reports_probes_of_the_sample_manifests():
    report = audit(manifests=sample_artifacts()["manifests"])
    probes = report.probes.set_index("component")
    assert probes.loc["kube-apiserver", "detection_hung_p50"] == pytest.approx(125.0, abs=1e-6)
    warnings = probes.loc["kube-apiserver", "warnings"]
    assert "timeout 15s > period 10s" in warnings
    assert "--shutdown-delay-duration 0s" in warnings
    assert report.to_dict()["probes"][0]["component"] == "kube-apiserver"


def test_audit_command_prints_the_probe_table(capsys):
    code, out, err = run(capsys, "audit", "--manifests", str(sample_artifacts()["manifests"]))
    assert code == 0 and err == ""
    assert "kubelet probes" in out
    assert "125/129.9" in out  # hung: detected at p50/p99
    assert "kube-apiserver: --shutdown-delay-duration 0s" in out
