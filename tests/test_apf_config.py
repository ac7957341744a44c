"""A cluster's own APF configuration: reading it safely, joining it with the metrics, and
the flows that share queues."""

from __future__ import annotations

import hashlib
import json
import math
import warnings

import pytest
from cli_helpers import assert_usage_error, run, run_json
from dealer_reference import upstream_deal

from ha_toolkit.audit import ArtifactError, ArtifactWarning, audit, sample_artifacts
from ha_toolkit.audit.apf_config import (
    apf_audit,
    flow_candidates,
    parse_apf_config,
    parse_apf_metrics,
    queue_sharing,
    read_apf_config,
    read_apf_metrics,
    sample_apf_config,
)

SAMPLE = sample_apf_config()
METRICS = sample_artifacts()["metrics"]
# NominalCL of the default levels at ServerCL 600 (the Kubernetes reference table)
REFERENCE_NOMINAL = {"exempt": 0, "catch-all": 13, "system": 74, "node-high": 98,
                     "leader-election": 25, "workload-high": 98, "workload-low": 245,
                     "global-default": 49}




def flow_hash_by_hand(schema: str, distinguisher: str) -> int:
    digest = hashlib.sha256(schema.encode() + b"\x00" + distinguisher.encode()).digest()
    return sum(b << (8 * k) for k, b in enumerate(digest[:8]))


def test_sample_is_the_bootstrap_configuration():
    cfg = read_apf_config(SAMPLE)
    pl = cfg.priority_levels.set_index("name")
    assert set(pl.index) == set(REFERENCE_NOMINAL)
    assert pl.loc["leader-election", ["queues", "hand_size", "queue_length_limit"]].tolist() \
        == [16, 4, 50]
    assert pl.loc["catch-all", "limit_response"] == "Reject"
    fs = cfg.flow_schemas.set_index("name")
    assert fs.loc["system-leader-election", "priority_level"] == "leader-election"
    assert fs.loc["system-leader-election", "distinguisher"] == "ByUser"
    assert fs.loc["kube-scheduler", "distinguisher"] == "ByNamespace"
    assert fs.loc["probes", "distinguisher"] == ""
    assert list(cfg.flow_schemas["matching_precedence"]) == sorted(
        cfg.flow_schemas["matching_precedence"])


def test_defaults_and_older_versions():
    text = json.dumps({"kind": "List", "apiVersion": "v1", "items": [
        {"apiVersion": "flowcontrol.apiserver.k8s.io/v1", "kind": "PriorityLevelConfiguration",
         "metadata": {"name": "q"}, "spec": {"type": "Limited", "limited": {
             "limitResponse": {"type": "Queue"}}}},
        {"apiVersion": "flowcontrol.apiserver.k8s.io/v1beta2",
         "kind": "PriorityLevelConfiguration", "metadata": {"name": "old"},
         "spec": {"type": "Limited", "limited": {"assuredConcurrencyShares": 7,
                                                 "limitResponse": {"type": "Reject"}}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}},
    ]})
    with pytest.warns(ArtifactWarning, match="items\\[2\\]: not a"):
        cfg = parse_apf_config(text)
    pl = cfg.priority_levels.set_index("name")
    # defaults of pkg/apis/flowcontrol/v1/defaults.go
    assert pl.loc["q", ["nominal_concurrency_shares", "queues", "hand_size",
                        "queue_length_limit", "lendable_percent"]].tolist() == [30, 64, 8, 50, 0]
    assert math.isnan(pl.loc["q", "borrowing_limit_percent"])
    assert pl.loc["old", "nominal_concurrency_shares"] == 7


@pytest.mark.parametrize(("text", "match"), [
    ("", "empty"),
    ("[1, 2", "malformed JSON"),
    ("items: 3", "items: expected a list"),
    ("kind: List\nitems: []", "no FlowSchema nor PriorityLevelConfiguration"),
    ("items:\n- apiVersion: flowcontrol.apiserver.k8s.io/v1\n  kind: FlowSchema\n"
     "  metadata: {name: a}\n  spec: {}", "priorityLevelConfiguration: missing"),
    ("items:\n- apiVersion: flowcontrol.apiserver.k8s.io/v1\n  kind: FlowSchema\n"
     "  metadata: {name: a}\n  spec: {priorityLevelConfiguration: {name: b},"
     " matchingPrecedence: 0}", "must lie in \\[1, 10000\\]"),
    ("items:\n- apiVersion: flowcontrol.apiserver.k8s.io/v1\n"
     "  kind: PriorityLevelConfiguration\n  metadata: {name: a}\n  spec: {type: Limited,"
     " limited: {limitResponse: {type: Queue, queuing: {queues: 4, handSize: 9}}}}",
     "handSize: must lie in \\[1, 4\\]"),
    ("items:\n- apiVersion: flowcontrol.apiserver.k8s.io/v1\n"
     "  kind: PriorityLevelConfiguration\n  metadata: {name: a}\n  spec: {type: Limited,"
     " limited: {lendablePercent: 101}}", "lendablePercent: must lie in \\[0, 100\\]"),
    ("items:\n- apiVersion: flowcontrol.apiserver.k8s.io/v1\n"
     "  kind: PriorityLevelConfiguration\n  metadata: {name: a}\n  spec: {type: Limited,"
     " limited: {nominalConcurrencyShares: true}}", "expected a number, got bool"),
    ("items:\n- apiVersion: flowcontrol.apiserver.k8s.io/v1\n  kind: FlowSchema\n"
     "  metadata: {name: a}\n  spec: {priorityLevelConfiguration: {name: b}, rules: "
     "[{subjects: [{kind: Robot}]}]}", "must be User, Group or ServiceAccount"),
    ("!!python/object/apply:os.system ['true']", "malformed YAML"),
])
def test_bad_configurations_name_the_place(text, match):
    with pytest.raises(ArtifactError, match=match):
        parse_apf_config(text, "cfg.yaml")


def test_duplicates_and_size_limit(tmp_path):
    item = ("- apiVersion: flowcontrol.apiserver.k8s.io/v1\n  kind: PriorityLevelConfiguration"
            "\n  metadata: {name: a}\n  spec: {type: Exempt}\n")
    with pytest.raises(ArtifactError, match="given twice"):
        parse_apf_config("items:\n" + item + item)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (5 * 1024 * 1024 + 1))
    with pytest.raises(ArtifactError, match="over the limit"):
        read_apf_config(big)


def test_metrics_state():
    state = read_apf_metrics(METRICS).set_index("priority_level")
    low = state.loc["workload-low"]
    assert low["nominal_limit_seats"] == 245 and low["current_limit_seats"] == 300
    assert low["rejected_queue_full"] == 37 and low["rejected_time_out"] == 412
    # lower = NominalCL - LendableCL = 245 - round(245 * 0.9) (Go rounds 220.5 up)
    assert low["lower_limit_seats"] == 245 - 221
    name = "apiserver_flowcontrol_current_executing_seats"
    text = (f"# TYPE {name} gauge\n"
            f'{name}{{priority_level="a",flow_schema="x"}} 2\n'
            f'{name}{{priority_level="a",flow_schema="y"}} 3\n'
            f'{name}{{flow_schema="z"}} 3\n'
            f'{name}{{priority_level="b",flow_schema="x"}} -1\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = parse_apf_metrics(text).set_index("priority_level")
    assert s.loc["a", "executing_seats"] == 5 and "b" not in s.index
    assert len([w for w in caught if issubclass(w.category, ArtifactWarning)]) == 2
    with pytest.raises(ArtifactError, match="no apiserver_flowcontrol_"):
        parse_apf_metrics("up 1\n")


def test_audit_of_the_sample_against_the_reference_table():
    report = apf_audit(read_apf_config(SAMPLE), read_apf_metrics(METRICS),
                       nodes=("cp-1", "cp-2"))
    lv = report.levels.set_index("priority_level")
    for name, nominal in REFERENCE_NOMINAL.items():
        assert lv.loc[name, "nominal_cl"] == nominal
        assert lv.loc[name, "nominal_limit_seats"] == nominal
    # minCL = NominalCL - round(NominalCL * lendable%), maxCL = NominalCL + ServerCL (unset)
    assert lv.loc["system", "min_cl"] == 74 - round(74 * 0.33)
    assert lv.loc["node-high", "min_cl"] == 98 - 25  # 24.5 rounds away from zero
    assert lv.loc["leader-election", "max_cl"] == 25 + 600
    assert bool(lv.loc["workload-low", "saturated"])  # 300 of 300 seats in use, 7 queued
    assert lv.loc["workload-low", "borrowing"] == 55
    assert not lv.loc["system", "saturated"] and lv.loc["system", "borrowing"] == -14
    assert "queue-full=37" in lv.loc["workload-low", "rejected_reasons"]
    assert not [n for n in report.notes if "reports" in n]  # configuration and server agree


def test_queue_sharing_is_the_servers_deal():
    cfg = read_apf_config(SAMPLE)
    flows = flow_candidates(cfg, nodes=("n1", "n2", "n3"),
                            extra={"system-leader-election": ["system:serviceaccount:kube-"
                                                              "system:cloud-controller"]})
    le = flows[flows["priority_level"] == "leader-election"]["distinguisher"].tolist()
    assert le == ["system:kube-controller-manager", "system:kube-scheduler",
                  "system:serviceaccount:kube-system:cloud-controller"]
    sys_flows = flows[flows["priority_level"] == "system"]["distinguisher"].tolist()
    assert sys_flows == ["system:node:n1", "system:node:n2", "system:node:n3"]
    sharing = queue_sharing(cfg, flows)
    queues = {"leader-election": (16, 4), "system": (64, 6)}
    hands = {}
    for r in sharing.to_dict("records"):
        q, h = queues[r["priority_level"]]
        expected = upstream_deal(q, h, flow_hash_by_hand(r["flow_schema"], r["distinguisher"]))
        assert r["hand"] == ";".join(map(str, expected))
        hands[(r["priority_level"], r["distinguisher"])] = set(expected)
    for r in sharing.to_dict("records"):
        mine = hands[(r["priority_level"], r["distinguisher"])]
        others = {d for (lvl, d), hd in hands.items()
                  if lvl == r["priority_level"] and d != r["distinguisher"] and hd & mine}
        assert {s.split("/", 1)[1] for s in r["shares_with"].split(";") if s} == others


def test_audit_report_and_cli_with_the_configuration(capsys):
    report = audit(**sample_artifacts(), window="24h", apf_config=SAMPLE)
    assert report.apf is not None and len(report.apf.sharing) >= 2
    obj = json.loads(json.dumps(report.to_dict()))
    assert set(obj["apf"]) == {"levels", "sharing", "notes"}
    out = run_json(capsys, "audit", "--apf-config", str(SAMPLE), "--metrics", str(METRICS),
                   "--window", "24h")
    assert {r["priority_level"] for r in out["apf"]["levels"]} == set(REFERENCE_NOMINAL)
    code, text, _ = run(capsys, "audit", "--apf-config", str(SAMPLE))
    assert code == 0 and "flows sharing queues" in text
    assert_usage_error(capsys, "audit", match="--apf-config")


def test_predictions_use_the_clusters_own_levels(tmp_path):
    """The same scrape predicted with a configuration whose workload-low has one queue of
    one place differs from the defaults' 128 queues of 50 (an independent rerun of
    level_queue with that level is the expectation)."""
    import yaml

    from ha_toolkit.apiserver.apf import PriorityLevel, level_queue

    doc = yaml.safe_load(SAMPLE.read_text())
    for item in doc["items"]:
        if item["kind"] == "PriorityLevelConfiguration" and \
                item["metadata"]["name"] == "workload-low":
            item["spec"]["limited"]["limitResponse"]["queuing"] = {
                "queues": 1, "handSize": 1, "queueLengthLimit": 1}
    custom = tmp_path / "apf.yaml"
    custom.write_text(yaml.safe_dump(doc))
    base = audit(metrics=METRICS, window="24h").load
    own = audit(metrics=METRICS, window="24h", apf_config=custom).load
    pick = (own["priority_level"] == "workload-low") & (own["load_factor"] == 1.0)
    row = own[pick].iloc[0]
    level = PriorityLevel("workload-low", nominal_concurrency_shares=100, lendable_percent=90,
                          queues=1, hand_size=1, queue_length_limit=1)
    expected = level_queue(level, int(row["current_limit_seats"]), row["arrival_rate"],
                           row["service_time"])
    assert row["rejection_probability"] == pytest.approx(
        float(expected.rejection_probability))
    before = base[(base["priority_level"] == "workload-low") & (base["load_factor"] == 1.0)]
    assert row["rejection_probability"] != before.iloc[0]["rejection_probability"]
