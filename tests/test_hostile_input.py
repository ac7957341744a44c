"""Hostile and extreme input: each case answers or refuses in bounded time and memory.

Every case of the fuzzing report has a test here: exit status 0 or 2, one line on stderr
for 2, no traceback, under 10 s and 500 MB (:mod:`bounded_helpers`), and the refusal
names the flag or the file and the place, never a piece of another file.
"""

from __future__ import annotations

import json
import math
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from bounded_helpers import assert_bounded, run_bounded, run_child

from ha_toolkit.audit import ArtifactError, ArtifactWarning, parse_leases, parse_manifest
from ha_toolkit.audit.readers import parse_metrics, read_manifests

SECRET = "s3cr3t-marker-7f1c"  # a line of a file that is not an input
KIND_BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
items:
- kind: *h
  metadata: {name: x, namespace: y}
"""
CONFIG_BOMB = KIND_BOMB.split("items:")[0] + (
    "kind: KubeSchedulerConfiguration\nleaderElection: {leaderElect: *h}\n"
)
METRIC = (
    'apiserver_flowcontrol_dispatched_requests_total{{flow_schema="a",priority_level="{level}"}}'
    " {value}\n"
)
POD = """\
kind: Pod
spec:
  containers:
  - name: kube-scheduler
    command: [kube-scheduler, {flags}]
"""


def lease_json(**spec) -> str:
    item = {"kind": "Lease", "metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
            "spec": spec}
    return json.dumps({"kind": "List", "items": [item]})


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


# ------------------------------------------------------------------------- 1. YAML aliases
@pytest.mark.parametrize("text", [KIND_BOMB, CONFIG_BOMB], ids=["lease-kind", "leader-elect"])
def test_alias_bomb_refused_at_once(capsys, tmp_path, text):
    assert len(text.encode()) < 600  # a few hundred bytes that expand to 9**8 leaves
    path = _write(tmp_path / "bomb.yaml", text)
    flag = "--leases" if "items" in text else "--manifests"
    target = path if flag == "--leases" else str(tmp_path)
    outcome = run_bounded(capsys, "audit", flag, target)
    assert_bounded(outcome, codes=(2,))
    assert "bomb.yaml: line 1 column" in outcome.err and "aliases are not accepted" in outcome.err
    assert outcome.peak_bytes < 50 * 1024 * 1024


def test_any_alias_refused_even_a_small_one():
    with pytest.raises(ArtifactError, match=r"m\.yaml: line 2 column \d+: .*anchors and aliases"):
        parse_manifest("kind: Pod\nspec: {a: &x 1, b: *x}\n", "m.yaml")
    with pytest.raises(ArtifactError, match="anchors and aliases"):
        parse_manifest("&a [*a]\n", "m.yaml")  # a recursive alias


# ---------------------------------------------------------------- 2. symlinks, error text
@pytest.fixture()
def secret(tmp_path):
    """A file outside the inputs, and the directory the inputs live in."""
    outside = tmp_path / "outside"
    outside.mkdir()
    path = outside / "private.yaml"
    path.write_text(f"{SECRET} {{ not: [yaml\n{SECRET}\n")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    return path, inputs


@pytest.mark.parametrize("flag", ["--metrics", "--leases"])
def test_symlinked_file_content_never_echoed(capsys, secret, flag):
    path, inputs = secret
    link = inputs / "artifact.yaml"
    link.symlink_to(path)
    outcome = run_bounded(capsys, "audit", flag, str(link))
    assert_bounded(outcome, codes=(2,))
    assert SECRET not in outcome.err + outcome.out
    assert "artifact.yaml: " in outcome.err  # the file and the place, not the text


def test_manifests_symlink_out_of_the_directory_skipped_and_named(capsys, secret):
    path, inputs = secret
    (inputs / "kube-scheduler.yaml").symlink_to(path)
    (inputs / "notes.txt").write_text("x")
    (inputs / "sub.yaml").mkdir()
    outcome = run_bounded(capsys, "audit", "--manifests", str(inputs), "--json")
    assert_bounded(outcome, codes=(0,))
    assert SECRET not in outcome.out + outcome.err
    notes = " ".join(json.loads(outcome.out)["notes"])
    assert "skipped (a symbolic link out of the directory): 'kube-scheduler.yaml'" in notes
    assert "skipped (not *.yaml, *.yml or *.json): 'notes.txt'" in notes
    assert "skipped (not a regular file): 'sub.yaml'" in notes
    assert "no manifest of kube-apiserver" in notes


def test_manifests_symlink_inside_the_directory_followed(tmp_path):
    real = tmp_path / "real.yml.orig"
    real.write_text(POD.format(flags="--leader-elect-lease-duration=20s"))
    (tmp_path / "kube-scheduler.yaml").symlink_to(real)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        frame = read_manifests(tmp_path)
    assert frame.iloc[0].lease_duration == 20


@pytest.mark.parametrize(
    ("text", "place"),
    [
        (f"kind: Pod\nspec: {{containers: [{SECRET}\n", "line 3 column 1"),
        (f'{{"kind": "{SECRET}", "x": [1,, 2]}}', "line 1 column"),
        (f"kind: Pod\nspec: !!binary {SECRET}\n", "spec"),
    ],
)
def test_parser_messages_carry_places_not_text(text, place):
    with pytest.raises(ArtifactError) as caught:
        parse_manifest(text, "m.yaml")
    assert SECRET not in str(caught.value)
    assert place in str(caught.value)


def test_manifest_values_not_echoed():
    for flag in (f"--leader-elect={SECRET}", f"--leader-elect-retry-period={SECRET}",
                 f"--max-requests-inflight={SECRET}"):
        with pytest.raises(ArtifactError) as caught:
            parse_manifest(POD.format(flags=flag), "m.yaml")
        assert SECRET not in str(caught.value)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert parse_manifest(f"kind: {SECRET}\n", "m.yaml") is None
        assert parse_leases(json.dumps({"items": [{"kind": SECRET}]})).empty
    assert seen and all(SECRET not in str(w.message) for w in seen)


# ---------------------------------------------------------------------- 4. tracebacks
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("failover", "--preset", "kube-scheduler", "--candidates", str(10**30)),
         "--candidates must be <= 1000, got 1000000000000000000000000000000"),
        (("failover", "--preset", "kube-scheduler", "--candidates", "1000000"),
         "--candidates must be <= 1000, got 1000000"),
        (("apf", "--server-cl", str(10**30)), "--server-cl must be <= 1000000"),
        (("availability", "--replicas", str(10**30), "--mtbf", "30d", "--mttr", "1h"),
         "--replicas must be <= 10000"),
        (("failover", "--preset", "kube-scheduler", "--lease-duration", "1e308"),
         "--leader-elect-lease-duration must be <= 86400 s, got 1e+308"),
        (("failover", "--preset", "kube-scheduler", "--jitter-factor", "1e308"),
         "--jitter-factor must be <= 100, got 1e+308"),
        (("failover", "--preset", "kube-scheduler", "--api-latency", "1e308"),
         "--api-latency must be <= 86400 s, got 1e+308"),
        (("queue", "--servers", "1", "--capacity", "2147483648", "--arrival-rate", "10",
          "--service-time", "100ms"), "--capacity must be <= 1000000, got 2147483648"),
        (("queue", "--servers", "2000000", "--arrival-rate", "10", "--service-time", "1s"),
         "--max-requests-inflight must be <= 1000000"),
        (("shuffle", "--queues", "64", "--hand-size", "8", "--elephants", str(10**30)),
         "--elephants must be <= 10000"),
        (("shuffle", "--queues", str(10**8), "--hand-size", "2", "--elephants", "1"),
         "--queues must be <= 10000000"),
        (("shuffle", "--queues", "1000", "--hand-size", "10", "--elephants", "1"),
         "required entropy bits of deckSize 1000 and handSize 10 should not be greater than 60"),
        (("tune", "--max-p99-failover", "1e308"), "--max-p99-failover must be <= 86400 s"),
        (("tune", "--max-p99-failover", "20s", "--candidates", str(10**30)),
         "--candidates must be <= 1000"),
        (("overlap", "--preset", "kube-scheduler", "--clock-rate-ratio", "1e308"),
         "--clock-rate-ratio must be <= 1000"),
        (("outage", "--preset", "kube-scheduler", "--outage", "1e308"),
         "--outage must be <= 86400 s"),
        (("audit", "--manifests", ".", "--candidates", str(10**30)),
         "--candidates must be <= 1000"),
        (("failover", "--preset", "kube-scheduler", "--candidates", "9" * 5000),
         "invalid int value"),
    ],
)
def test_extreme_flag_values_refused_with_the_bound(capsys, argv, message):
    outcome = run_bounded(capsys, *argv)
    assert_bounded(outcome, codes=(2,))
    assert message in outcome.err
    assert len(outcome.err) < 1100  # a 5000-digit value is not echoed whole


def test_huge_metric_sample_value_skipped(capsys, tmp_path):
    text = (METRIC.format(level="system", value="1" * 400)
            + METRIC.format(level="workload-high", value="2" * 5000)
            + METRIC.format(level="workload-low", value="7"))
    path = _write(tmp_path / "metrics.txt", text)
    outcome = run_bounded(capsys, "audit", "--metrics", path, "--json")
    assert_bounded(outcome, codes=(0,))
    obj = json.loads(outcome.out)
    assert [lv["priority_level"] for lv in obj["levels"]] == ["workload-low"]
    assert sum("must be finite and >= 0, got inf; skipped" in n for n in obj["notes"]) == 2


# ------------------------------------------------------------------- 5. edges of the models
def test_mmck_utilization_never_above_one():
    from ha_toolkit.apiserver.queues import mmck

    r = mmck(29541386.0, 0.5, 1, 2)
    # M/M/1/2 by hand, in exact rationals: p_n proportional to A**n
    a = Fraction(29541386) / Fraction(1, 2)
    busy = (a + a * a) / (1 + a + a * a)
    assert float(r.utilization) <= 1.0
    assert float(r.utilization) == pytest.approx(float(busy), rel=1e-15)
    assert float(r.throughput) <= 0.5


def test_tiny_availability_keeps_its_digits(capsys):
    from ha_toolkit.availability.blocks import Component, k_of_n, parallel, series

    # MTBF 1 ns, MTTR 1 h: one replica is up a = 1e-9 / (1e-9 + 3600) of the time
    a = Fraction(1, 10**9) / (Fraction(1, 10**9) + 3600)
    two_of_three = 3 * a**2 * (1 - a) + a**3  # exact binomial tail
    unit = Component("1ns", "1h")
    assert unit.availability == pytest.approx(float(a), rel=1e-14)
    assert k_of_n(2, 3, unit).availability == pytest.approx(float(two_of_three), rel=1e-12)
    assert series(unit, unit).availability == pytest.approx(float(a * a), rel=1e-14)
    assert parallel(unit, unit).availability == pytest.approx(float(1 - (1 - a) ** 2),
                                                              rel=1e-14)
    outcome = run_bounded(capsys, "availability", "--replicas", "3", "--quorum", "majority",
                          "--mtbf", "1ns", "--mttr", "1h", "--json")
    assert_bounded(outcome, codes=(0,))
    obj = json.loads(outcome.out)
    assert obj["availability"] == pytest.approx(float(two_of_three), rel=1e-12)
    nines = -math.log1p(-float(two_of_three)) / math.log(10.0)  # -log10(1 - A), A tiny
    assert obj["nines"] == pytest.approx(nines, rel=1e-12)


@pytest.mark.parametrize(
    "argv",
    [
        ("availability", "--replicas", "1", "--mtbf", "1ns", "--mttr", "1000000h"),
        ("queue", "--servers", "1", "--arrival-rate", "-0", "--service-time", "1s"),
        ("failover", "--preset", "kube-vip", "--api-latency=-0s"),
    ],
)
def test_no_negative_zero_printed(capsys, argv):
    for json_flag in ((), ("--json",)):
        outcome = run_bounded(capsys, *argv, *json_flag)
        assert_bounded(outcome, codes=(0,))
        assert "-0 " not in outcome.out and "-0.0" not in outcome.out
        assert not any(cell == "-0" for cell in outcome.out.split())


def test_crash_failover_never_starts_below_zero():
    from ha_toolkit.election.config import ElectionConfig
    from ha_toolkit.election.timing import failover

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = ElectionConfig(0.9, 0.5, 0.1, jitter_factor=0.0)  # the Lease stores 0 s
    dist = failover(cfg, "crash")
    assert dist.support()[0] == 0.0
    assert dist.ppf(0.0) == 0.0


# ------------------------------------------------------------------- 6. lenient parsing
@pytest.mark.parametrize(
    "stamp", ["2024-01-01", "2024-W01-1T00:00:00Z", "2024-01-01T00:00:00", "20240101T000000Z",
              "2024-01-01t00:00:00z", "2024-01-01 00:00:00Z", "2024-02-30T00:00:00Z",
              "2024-01-01T00:00:00+25:00", "9999-12-31T23:59:59-23:59"])
def test_lease_times_rfc3339_only(stamp):
    quoted = f"kind: Lease\nmetadata: {{name: x}}\nspec: {{renewTime: '{stamp}'}}\n"
    for text in (lease_json(renewTime=stamp), quoted):
        with pytest.warns(ArtifactWarning, match=r"\.spec\.renewTime: .*RFC 3339"):
            assert parse_leases(text, "l.json").empty
    unquoted = f"kind: Lease\nmetadata: {{name: x}}\nspec: {{renewTime: {stamp}}}\n"
    with pytest.warns(ArtifactWarning, match="RFC 3339"):
        assert parse_leases(unquoted, "l.yaml").empty


@pytest.mark.parametrize(
    ("stamp", "utc"),
    [("2024-01-31T12:00:00Z", "2024-01-31T12:00:00"),
     ("2024-01-31T12:00:00.123456789Z", "2024-01-31T12:00:00.123456"),
     ("2024-01-31T14:30:00+02:30", "2024-01-31T12:00:00")],
)
def test_lease_times_rfc3339_read(stamp, utc):
    for text in (lease_json(renewTime=stamp),
                 f"kind: Lease\nmetadata: {{name: x}}\nspec: {{renewTime: {stamp}}}\n"):
        frame = parse_leases(text)
        assert frame.iloc[0].renew_time.tz_convert(None).isoformat() == utc


def test_repeated_keys_warn_last_wins():
    text = '{"kind": "Lease", "metadata": {"name": "a", "name": "b"}, "spec": {}}'
    with pytest.warns(ArtifactWarning, match="key 'name' repeated in an object; the last"):
        assert parse_leases(text).iloc[0]["name"] == "b"
    yaml_text = "kind: Lease\nmetadata:\n  name: a\n  name: b\n"
    with pytest.warns(ArtifactWarning, match=r"line 4 column 3: key 'name' repeated \(first at "
                                             r"line 3 column 3\); the last one wins"):
        assert parse_leases(yaml_text).iloc[0]["name"] == "b"


def test_manifests_with_nothing_readable_give_a_note(capsys, tmp_path):
    (tmp_path / "README").write_text("nothing here")
    (tmp_path / "cm.yaml").write_text("kind: ConfigMap\n")
    outcome = run_bounded(capsys, "audit", "--manifests", str(tmp_path), "--json")
    assert_bounded(outcome, codes=(0,))
    notes = " ".join(json.loads(outcome.out)["notes"])
    assert "no manifest of kube-apiserver, kube-scheduler, kube-controller-manager among " \
           "the 1 file(s) read" in notes
    assert "skipped (not *.yaml, *.yml or *.json): 'README'" in notes


def test_one_bad_metrics_line_skipped_not_fatal():
    text = (METRIC.format(level="system", value="3")
            + 'apiserver_flowcontrol_dispatched_requests_total{priority_level="global-default" 5\n'
            + METRIC.format(level="workload-low", value="7"))
    with pytest.warns(ArtifactWarning, match=r"m\.txt: line 2: not a Prometheus sample line"):
        frame = parse_metrics(text, "m.txt")
    assert sorted(frame.priority_level) == ["system", "workload-low"]
    foreign = "# a scrape of many series\nother_series{x=\"1\" 1\n" + text.splitlines()[0]
    assert parse_metrics(foreign).iloc[0].dispatched == 3  # other series are not parsed


def test_one_level_outside_the_queue_model_is_noted(capsys, tmp_path):
    text = (METRIC.format(level="workload-low", value="1e300")
            + 'apiserver_flowcontrol_request_execution_seconds_sum{priority_level="workload-low"}'
            " 1e300\n"
            + 'apiserver_flowcontrol_request_execution_seconds_count{priority_level="workload-low"}'
            " 1\n"
            + 'apiserver_flowcontrol_current_limit_seats{priority_level="workload-low"} 245\n'
            + METRIC.format(level="system", value="100")
            + 'apiserver_flowcontrol_request_execution_seconds_sum{priority_level="system"} 10\n'
            + 'apiserver_flowcontrol_request_execution_seconds_count{priority_level="system"} 100\n'
            + 'apiserver_flowcontrol_current_limit_seats{priority_level="system"} 74\n')
    path = _write(tmp_path / "metrics.txt", text)
    outcome = run_bounded(capsys, "audit", "--metrics", path, "--window", "1s", "--json")
    assert_bounded(outcome, codes=(0,))
    obj = json.loads(outcome.out)
    assert {row["priority_level"] for row in obj["load"]} == {"system"}
    assert any("'workload-low': no prediction" in n for n in obj["notes"])


@pytest.mark.parametrize("suffix", ["json", "yaml"])
def test_5000_digit_integer_names_the_file(capsys, tmp_path, suffix):
    digits = "9" * 5000
    text = (lease_json(leaseDurationSeconds=0).replace("0}", digits + "}") if suffix == "json"
            else f"kind: Lease\nmetadata: {{name: x}}\nspec:\n  leaseDurationSeconds: {digits}\n")
    path = _write(tmp_path / f"leases.{suffix}", text)
    outcome = run_bounded(capsys, "audit", "--leases", path)
    assert_bounded(outcome, codes=(2,))
    assert f"leases.{suffix}: " in outcome.err
    assert "an integer of 5000 digits; at most 30 are accepted" in outcome.err
    if suffix == "yaml":
        assert "line 4 column 25" in outcome.err


# ------------------------------------------------------------------ 7. messages name flags
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("failover", "--preset", "kube-scheduler", "--jitter-factor", "-1"),
         "ha-toolkit: error: --jitter-factor must be >= 0, got -1"),
        (("failover", "--lease-duration", "0s", "--renew-deadline", "10s", "--retry-period",
          "2s"), "ha-toolkit: error: --leader-elect-lease-duration must be positive, got 0"),
        (("failover", "--lease-duration=-15s", "--renew-deadline", "10s", "--retry-period",
          "2s"), "ha-toolkit: error: --leader-elect-lease-duration must be positive, got -15"),
        (("check", "--lease-duration", "15s", "--renew-deadline", "10s",
          "--retry-period=-1s"),
         "ha-toolkit: error: --leader-elect-retry-period must be positive, got -1"),
        (("failover", "--preset", "kube-vip", "--candidates", "0"),
         "ha-toolkit: error: --candidates must be >= 1, got 0"),
        (("tune", "--max-p99-failover", "20s", "--jitter-factor", "nan"),
         "ha-toolkit: error: --jitter-factor must be a number, got nan"),
        (("failover", "--preset", "kube-vip", "--candidates", "1"), "--candidates"),
    ],
)
def test_messages_name_the_flag(capsys, argv, message):
    outcome = run_bounded(capsys, *argv)
    assert_bounded(outcome, codes=(2,))
    assert message in outcome.err
    assert "_" not in outcome.err.split("error:", 1)[1].split(",")[0]  # no field names


# -------------------------------------------------- 3. long runs (the exact engine's cases)
_GIVE_UP = 25.0  # seconds of wall time after which a case has failed anyway
SLOW_CASES = [
    pytest.param(("queue", "--servers", "1", "--capacity", "1000000", "--arrival-rate", "10",
                  "--service-time", "100ms"), id="queue-capacity-1e6-near-load-1"),
    pytest.param(("shuffle", "--queues", "64", "--hand-size", "8", "--elephants", "10000"),
                 id="shuffle-10000-elephants"),
    pytest.param(("tune", "--max-p99-failover", "600s"), id="tune-600s"),
    pytest.param(("failover", "--lease-duration", "86400", "--renew-deadline", "10s",
                  "--retry-period", "2s"), id="lease-86400s"),
    pytest.param(("failover", "--lease-duration", "15s", "--renew-deadline", "10s",
                  "--retry-period", "1ns"), id="retry-period-1ns"),
]


@pytest.mark.slow
@pytest.mark.parametrize("argv", SLOW_CASES)
def test_long_cases_answer_within_bounds(argv):
    assert_bounded(run_child(*argv, wall_limit=_GIVE_UP))


@pytest.mark.slow
@pytest.mark.parametrize("artifact", ["lease", "manifest"])
def test_long_artifact_cases_answer_within_bounds(tmp_path, artifact):
    if artifact == "lease":
        path = _write(tmp_path / "leases.json", lease_json(leaseDurationSeconds=86400))
        argv = ("audit", "--leases", path)
    else:
        _write(tmp_path / "kube-scheduler.yaml",
               POD.format(flags="--leader-elect-retry-period=1ns"))
        argv = ("audit", "--manifests", str(tmp_path))
    assert_bounded(run_child(*argv, wall_limit=_GIVE_UP))


def test_child_runner_measures_a_quick_command():
    outcome = run_child("failover", "--preset", "kube-scheduler", "--candidates", str(10**30))
    assert_bounded(outcome, codes=(2,))
    assert outcome.peak_bytes > 10 * 1024 * 1024  # it did measure the child
    assert np.isfinite(outcome.seconds)


def test_manifests_directory_read_within_bounds(tmp_path, monkeypatch):
    from ha_toolkit.audit import readers

    for i in range(readers.MAX_MANIFEST_FILES + 3):
        (tmp_path / f"cm-{i:03d}.yaml").write_text("kind: ConfigMap\n")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        read_manifests(tmp_path)
    text = " ".join(str(w.message) for w in seen)
    assert (f"skipped (beyond the first {readers.MAX_MANIFEST_FILES} files): 'cm-064.yaml', "
            "'cm-065.yaml', 'cm-066.yaml'") in text
    monkeypatch.setattr(readers, "_MAX_ENTRIES", 5)
    monkeypatch.setattr(readers, "MAX_BYTES", 40)  # 16 bytes a file: two fit
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        read_manifests(tmp_path)
    text = " ".join(str(w.message) for w in seen)
    assert "more than 5 entries: only 5 of them looked at" in text
    assert "skipped (beyond 40 bytes in total)" in text
    assert text.count("not a Pod") == 2


def test_names_from_files_are_names_before_they_are_printed():
    huge = "x" * 300
    text = METRIC.format(level=huge, value="1") + METRIC.format(level="system", value="2")
    with pytest.warns(ArtifactWarning, match="priority_level: not a Kubernetes object name") \
            as seen:
        frame = parse_metrics(text, "m.txt")
    assert frame.priority_level.tolist() == ["system"]
    assert all(huge not in str(w.message) for w in seen)
    for meta, spec in (({"name": "a\nb"}, {}), ({"name": "a", "namespace": huge}, {}),
                       ({"name": "a"}, {"holderIdentity": "h" * 2000})):
        doc = json.dumps({"kind": "Lease", "metadata": meta, "spec": spec})
        with pytest.warns(ArtifactWarning, match="Lease skipped"):
            assert parse_leases(doc, "l.json").empty


def test_manifests_symlink_loops_skipped(capsys, tmp_path):
    (tmp_path / "loop.yaml").symlink_to("loop.yaml")
    (tmp_path / "a.yaml").symlink_to("b.yaml")
    (tmp_path / "b.yaml").symlink_to("a.yaml")
    outcome = run_bounded(capsys, "audit", "--manifests", str(tmp_path), "--json")
    assert_bounded(outcome, codes=(0,))
    notes = json.loads(outcome.out)["notes"]
    assert any("skipped (not a regular file): 'a.yaml', 'b.yaml', 'loop.yaml'" in n
               for n in notes)
    outcome = run_bounded(capsys, "audit", "--leases", str(tmp_path / "loop.yaml"))
    assert_bounded(outcome, codes=(2,))
    assert "loop.yaml: file: cannot read it" in outcome.err


def test_flag_names_replace_whole_field_names_only():
    from ha_toolkit.cli._common import UsageError, in_range, name_flags

    assert name_flags("invalid jitter_factor -1.0; observers and servers, max_p99_failover") \
        == ("invalid --jitter-factor -1.0; observers and --max-requests-inflight, "
           "--max-p99-failover")
    assert name_flags("leaseDuration must be greater than renewDeadline") == \
        "leaseDuration must be greater than renewDeadline"  # client-go's own words stay
    assert in_range("--x", -0.0, 0.0) == 0.0 and math.copysign(1, in_range("--x", -0.0, 0)) > 0
    for value, message in ((float("nan"), "--x must be a number, got nan"),
                           (0, "--x must be positive, got 0"),
                           (10**50, "--x must be <= 5, got a number of 51 digits")):
        with pytest.raises(UsageError, match=message):
            in_range("--x", value, 0, 5, positive=True)


def test_a_million_tiny_records_bounded(capsys, tmp_path):
    from ha_toolkit.audit import readers

    n = (readers.MAX_BYTES - 100) // 4
    # in a child process: tracemalloc (run_bounded's memory count) would slow the millions
    # of small allocations several times over, and that is not the command's own time
    path = _write(tmp_path / "leases.yaml", "items:\n" + "- a\n" * n)  # 1.3 million nodes
    outcome = run_child("audit", "--leases", path)
    assert_bounded(outcome, codes=(2,))
    assert f"file: more than {readers.MAX_YAML_NODES} YAML nodes" in outcome.err
    path = _write(tmp_path / "leases.json", '{"items": [' + "1," * (n * 2 - 10) + "1]}")
    outcome = run_child("audit", "--leases", path, "--json")
    assert_bounded(outcome, codes=(0,))
    notes = json.loads(outcome.out)["notes"]
    assert len(notes) == readers.MAX_WARNINGS + 1
    assert notes[0].endswith(f"items: {n * 2 - 9} items; only the first {readers.MAX_LEASES} "
                             "are read")
    assert notes[-1].endswith(f"file: {readers.MAX_LEASES + 1 - readers.MAX_WARNINGS} more "
                              "warnings not shown")
