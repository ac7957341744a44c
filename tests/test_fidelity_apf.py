"""Upstream-fidelity fixes of the API server models: entropy check, queue-wait limit.

Hand-derived values:

* ``shufflesharding.RequiredEntropyBits(deck, hand) = ceil(log2(deck) * hand)`` is the
  smallest ``b`` with ``deck**hand <= 2**b``: exactly ``(deck**hand - 1).bit_length()`` in
  integers. 100 queues, hand 9: 100**9 = 10**18 < 2**60 (about 1.15e18), valid; hand 10
  needs 67 bits.
* The queue-wait limit is a quarter of the request's deadline, at most 1 min; the deadline
  is ``?timeout=`` when in (0, --request-timeout), else --request-timeout.
"""

from __future__ import annotations

import heapq
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import assert_usage_error, run_json

from ha_toolkit.apiserver.apf import (
    DEFAULT_KUBERNETES_VERSION,
    KUBERNETES_VERSIONS,
    PriorityLevel,
    bootstrap_flow_schemas,
    default_priority_levels,
    level_queue,
    match_flow_schema,
    queue_wait_limit,
    watch_list_enabled,
    watch_work_estimate,
)
from ha_toolkit.apiserver.inflight import legacy_filter, legacy_pool
from ha_toolkit.apiserver.shuffle import MAX_HASH_BITS, required_entropy_bits


# ---------------------------------------------------------------- 4. entropy
def test_required_entropy_bits_is_the_bit_length_of_the_deals():
    for queues in range(1, 600):
        for hand in range(1, min(queues, 16) + 1):
            exact = (queues**hand - 1).bit_length() if queues > 1 else 0
            assert required_entropy_bits(queues, hand) == exact, (queues, hand)


def test_a_level_upstream_accepts_is_accepted():
    # 100 queues, hand 9: ceil(6.64 * 9) = 60 bits; the old rule said 9 * 7 = 63
    assert 100**9 <= 2**MAX_HASH_BITS
    level = PriorityLevel("x", queues=100, hand_size=9, queue_length_limit=50)
    assert level.queuing
    # 1024 queues (exactly 10 bits each): hand 6 is 60 bits, hand 7 is 70
    PriorityLevel("y", queues=1024, hand_size=6, queue_length_limit=1)


@pytest.mark.parametrize(("queues", "hand"), [(100, 10), (1024, 7), (17, 15)])
def test_a_level_upstream_rejects_is_rejected_with_its_message(queues, hand):
    assert queues**hand > 2**MAX_HASH_BITS
    with pytest.raises(ValueError, match="required entropy bits of deckSize") as info:
        PriorityLevel("x", queues=queues, hand_size=hand, queue_length_limit=1)
    assert "hand_size" in str(info.value)


# ---------------------------------------------------------------- 5. queue-wait limit
@pytest.mark.parametrize(
    ("timeout", "server", "expected"),
    [
        (None, 60.0, 15.0),  # no ?timeout=: a quarter of --request-timeout
        (0.0, 60.0, 15.0),  # ?timeout=0 means none
        (5.0, 60.0, 1.25),  # kube-scheduler's lease calls (lock client timeout 5 s)
        (30.0, 60.0, 7.5),
        (107.0, 60.0, 15.0),  # OpenShift's 1m47s is above --request-timeout
        (60.0, 60.0, 15.0),
        (None, 600.0, 60.0),  # the 1 min cap
        (300.0, 600.0, 60.0),
        (200.0, 600.0, 50.0),
        (3e-9, 60.0, 0.0),  # Go's integer Duration / 4: 3 ns -> 0
        (1.000000001, 60.0, 0.25),  # 1000000001 ns / 4 = 250000000 ns
    ],
)
def test_queue_wait_limit(timeout, server, expected):
    assert queue_wait_limit(timeout, server_request_timeout=server) == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"request_timeout": -1.0}, "request_timeout"),
        ({"request_timeout": "soon"}, "request_timeout"),
        ({"server_request_timeout": 0.0}, "server_request_timeout"),
        ({"server_request_timeout": math.inf}, "server_request_timeout"),
    ],
)
def test_queue_wait_limit_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        queue_wait_limit(**kwargs)


def test_level_queue_takes_the_wait_limit_from_the_request_timeout():
    # One server, ample room, wait limit D: Barrer's M/M/1+D, P(timeout) =
    # rho (1 - rho) z / (1 - rho^2 z), z = exp(-(mu - lambda) D); a lease call with
    # ?timeout=5s waits at most D = 1.25 s, not the 15 s of a request without one.
    level = PriorityLevel("one", queues=1, hand_size=1, queue_length_limit=1000)
    lam = 0.9
    lease = level_queue(level, 1, lam, 1.0, request_timeout=5.0)
    plain = level_queue(level, 1, lam, 1.0)
    for result, limit in ((lease, 1.25), (plain, 15.0)):
        z = math.exp(-(1.0 - lam) * limit)
        expected = lam * (1 - lam) * z / (1 - lam**2 * z)
        assert result.wait_limit == limit
        assert float(result.timeout_probability) == pytest.approx(expected, rel=1e-9)
    assert float(lease.timeout_probability) > 2 * float(plain.timeout_probability)
    with pytest.raises(ValueError, match="not both"):
        level_queue(level, 1, lam, 1.0, wait_limit=2.0, request_timeout=5.0)


# ---------------------------------------------------------------- 6. bootstrap by version
# Typed in by hand from kubernetes/apiserver pkg/apis/flowcontrol/bootstrap/default.go at the
# tags kubernetes-1.33.0 and kubernetes-1.34.0: (FlowSchema, priority level, precedence).
SCHEMAS_1_33 = [
    ("exempt", "exempt", 1),
    ("probes", "exempt", 2),
    ("system-leader-election", "leader-election", 100),
    ("endpoint-controller", "workload-high", 150),
    ("workload-leader-election", "leader-election", 200),
    ("system-node-high", "node-high", 400),
    ("system-nodes", "system", 500),
    ("kube-controller-manager", "workload-high", 800),
    ("kube-scheduler", "workload-high", 800),
    ("kube-system-service-accounts", "workload-high", 900),
    ("service-accounts", "workload-low", 9000),
    ("global-default", "global-default", 9900),
    ("catch-all", "catch-all", 10000),
]
REMOVED_IN_1_34 = {"endpoint-controller", "workload-leader-election"}
SCHEMAS_1_34 = [row for row in SCHEMAS_1_33 if row[0] not in REMOVED_IN_1_34]
LEASES = "coordination.k8s.io"
KUBE_SYSTEM_SA = "system:serviceaccount:kube-system:my-operator"


def schemas_of(version):
    frame = bootstrap_flow_schemas(version).drop_duplicates("name")
    return [
        (row.name, row.priority_level, row.matching_precedence)
        for row in frame.itertuples(index=False)
    ]


@pytest.mark.parametrize("version", ["1.29", "1.30", "1.31", "1.32", "1.33"])
def test_flow_schemas_up_to_1_33(version):
    assert schemas_of(version) == SCHEMAS_1_33


@pytest.mark.parametrize("version", ["1.34", "1.35", "1.36", None, "v1.34.2"])
def test_flow_schemas_from_1_34(version):
    assert schemas_of(version) == SCHEMAS_1_34


def test_the_newest_version_is_the_default():
    assert DEFAULT_KUBERNETES_VERSION == KUBERNETES_VERSIONS[-1] == "1.36"
    assert {"1.29", "1.34"} <= set(KUBERNETES_VERSIONS)


def test_priority_levels_are_the_same_in_every_version():
    newest = default_priority_levels()
    for version in KUBERNETES_VERSIONS:
        assert default_priority_levels(version) == newest
    assert [lv.name for lv in newest] == [
        "exempt", "catch-all", "system", "node-high", "leader-election", "workload-high",
        "workload-low", "global-default",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("user", "groups", "verb", "resource", "group", "version", "schema", "level"),
    [
        ("system:kube-scheduler", (), "update", "leases", LEASES, "1.33",
         "system-leader-election", "leader-election"),
        ("system:kube-scheduler", (), "update", "leases", LEASES, "1.34",
         "system-leader-election", "leader-election"),
        ("system:kube-scheduler", (), "list", "pods", "", "1.34", "kube-scheduler",
         "workload-high"),
        # a kube-system service account holding its lock in a ConfigMap
        (KUBE_SYSTEM_SA, (), "update", "configmaps", "", "1.33", "workload-leader-election",
         "leader-election"),
        (KUBE_SYSTEM_SA, (), "update", "configmaps", "", "1.34",
         "kube-system-service-accounts", "workload-high"),
        (KUBE_SYSTEM_SA, (), "update", "leases", LEASES, "1.34", "system-leader-election",
         "leader-election"),
        ("system:kube-controller-manager", (), "update", "endpoints", "", "1.33",
         "endpoint-controller", "workload-high"),
        ("system:kube-controller-manager", (), "update", "endpoints", "", "1.34",
         "kube-controller-manager", "workload-high"),
        # an operator outside kube-system (e.g. cert-manager): its lease is workload-low
        ("system:serviceaccount:cert-manager:cert-manager", (), "update", "leases", LEASES,
         "1.34", "service-accounts", "workload-low"),
        ("system:node:n1", ("system:nodes",), "update", "leases", LEASES, "1.34",
         "system-node-high", "node-high"),
        ("admin", ("system:masters",), "delete", "pods", "", "1.34", "exempt", "exempt"),
        ("alice", (), "get", "pods", "", "1.34", "global-default", "global-default"),
    ],
)  # fmt: skip
def test_match_flow_schema(user, groups, verb, resource, group, version, schema, level):
    found = match_flow_schema(user, verb, resource, group, groups=groups, version=version)
    assert (found["flow_schema"], found["priority_level"]) == (schema, level)


def test_unknown_version_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="1.29, 1.30"):
        default_priority_levels("1.20")
    with pytest.raises(ValueError, match="unknown Kubernetes version"):
        bootstrap_flow_schemas("2.0")


def test_cli_apf_picks_the_kubernetes_version(capsys):
    old = run_json(capsys, "apf", "--kubernetes-version", "1.33")
    new = run_json(capsys, "apf")
    assert old["kubernetes_version"] == "1.33" and new["kubernetes_version"] == "1.36"
    assert old["flow_schemas"]["workload-leader-election"]["priority_level"] == "leader-election"
    assert "workload-leader-election" not in new["flow_schemas"]
    assert old["levels"] == new["levels"]
    assert_usage_error(capsys, "apf", "--kubernetes-version", "1.20", match="1.29")


# ---------------------------------------------------------------- 7. WATCH seats
def test_watch_list_default_follows_the_feature_gate():
    # pkg/features/kube_features.go: beta on in 1.32, off in 1.33, on from 1.34
    on = {v: watch_list_enabled(v) for v in KUBERNETES_VERSIONS}
    assert on == {"1.29": False, "1.30": False, "1.31": False, "1.32": True, "1.33": False,
                  "1.34": True, "1.35": True, "1.36": True}  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, 10),  # rv "": initial events from the cache, ceil(5000/100) = 50, capped at 10
        ({"resource_version": "0"}, 10),
        ({"resource_version": "4711"}, 1),  # resumes: no initial events
        ({"resource_version": "4711", "send_initial_events": True}, 10),
        ({"version": "1.33"}, 1),  # WatchList off: every watch 1 seat
        ({"version": "1.32"}, 10),
        ({"watch_list": False}, 1),
        ({"max_seats": 4}, 4),  # the level's cap
        ({"single": True}, 1),
        # size-based: 5000 x 2 kB = 10 MB, but from the cache at most 1 MB: 10 seats
        ({"avg_object_bytes": 2000.0}, 10),
        ({"avg_object_bytes": 100.0}, 5),  # 500 kB: ceil(500 kB / 100 kB)
    ],
)
def test_watch_seats(kwargs, expected):
    assert watch_work_estimate(5000, **kwargs).initial_seats == expected


def test_small_watches_with_initial_events_cost_what_the_list_costs():
    # 150 objects: ceil(150/100) = 2 seats, the same as a LIST served from the cache
    assert watch_work_estimate(150).initial_seats == 2
    assert watch_work_estimate(150, resource_version="9").initial_seats == 1


# ---------------------------------------------------------------- 8. legacy max-in-flight
@pytest.mark.parametrize(
    ("verb", "subresource", "pool"),
    [
        ("get", "", "readonly"),
        ("list", "", "readonly"),
        ("watch", "", None),  # non-mutating, but long-running: no slot
        ("proxy", "", None),
        ("create", "", "mutating"),
        ("update", "status", "mutating"),
        ("patch", "", "mutating"),
        ("delete", "", "mutating"),
        ("deletecollection", "", "mutating"),
        ("create", "exec", None),
        ("get", "log", None),
    ],
)
def test_legacy_pool(verb, subresource, pool):
    assert legacy_pool(verb, subresource) == pool


def erlang_b_exact(c, load):
    b = Fraction(1)
    for n in range(1, c + 1):
        b = load * b / (n + load * b)
    return b


def test_system_masters_pass_a_full_pool():
    # 3 read slots, 3 requests/s of 1 s: B(3, 3) = 9/26; a quarter from system:masters
    frame = legacy_filter(3.0, 1.0, 1.0, 1.0, 3, 5, privileged_share=0.25)
    read = frame[frame["pool"] == "readonly"].iloc[0]
    full = float(erlang_b_exact(3, Fraction(3)))
    assert full == pytest.approx(9 / 26)
    assert read["pool_full_probability"] == pytest.approx(full, rel=1e-12)
    assert read["rejection_probability"] == pytest.approx(0.75 * full, rel=1e-12)
    assert read["over_limit_rate"] == pytest.approx(3.0 * 0.25 * full, rel=1e-12)
    assert read["throughput"] == pytest.approx(3.0 * (1 - 0.75 * full), rel=1e-12)
    plain = legacy_filter(3.0, 1.0, 1.0, 1.0, 3, 5)
    assert plain.loc[0, "rejection_probability"] == pytest.approx(full, rel=1e-12)


def test_system_masters_against_a_simulation():
    # The filter's select: a request takes a free slot; one that finds none is served
    # without a slot if it is system:masters, else 429. Event by event, 3 slots.
    rng = np.random.default_rng(13)
    n, lam, share = 60_000, 3.0, 0.25
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    service = rng.exponential(1.0, n)
    privileged = rng.random(n) < share
    busy: list[float] = []
    rejected = over = 0
    for t, s, masters in zip(arrivals, service, privileged, strict=True):
        while busy and busy[0] <= t:
            heapq.heappop(busy)
        if len(busy) < 3:
            heapq.heappush(busy, t + s)
        elif masters:
            over += 1
        else:
            rejected += 1
    expected = legacy_filter(lam, 1.0, 1.0, 1.0, 3, 5, privileged_share=share).iloc[0]
    for observed, p in ((rejected / n, expected["rejection_probability"]),
                        (over / n, expected["over_limit_rate"] / lam)):
        assert observed == pytest.approx(p, abs=5 * math.sqrt(p * (1 - p) / n))


def test_privileged_share_must_be_a_fraction():
    with pytest.raises(ValueError, match="privileged_share"):
        legacy_filter(1.0, 1.0, 1.0, 1.0, privileged_share=1.5)


# ---------------------------------------------------------------- 5. per-flow wait limits
def simulate_patience_mix(servers, lam, limits, shares, n, rng):
    """FCFS M/M/c with each arrival leaving after waiting its class's limit, event by event.

    An arrival takes the earliest-free server if it would wait less than its limit, else it
    leaves at its limit (it never takes a server): the order of service is arrival order.
    """
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    service = rng.exponential(1.0, n)
    classes = rng.choice(len(limits), size=n, p=shares)
    free = [0.0] * servers
    timed_out = np.zeros(len(limits))
    seen = np.zeros(len(limits))
    waits = np.zeros(n)
    for i in range(n):
        wait = max(0.0, free[0] - arrivals[i])
        limit = limits[classes[i]]
        seen[classes[i]] += 1
        if wait >= limit:
            timed_out[classes[i]] += 1
            waits[i] = limit
        else:
            heapq.heapreplace(free, arrivals[i] + wait + service[i])
            waits[i] = wait
    return timed_out / seen, waits.mean()


@pytest.mark.parametrize(("servers", "lam"), [(3, 3.5), (1, 0.9)])
def test_per_flow_wait_limits_match_a_simulation(servers, lam):
    # lease calls with ?timeout=2s (wait limit 0.5 s) beside requests with ?timeout=12s (3 s)
    level = PriorityLevel("one", queues=1, hand_size=1, queue_length_limit=10**6)
    exact = level_queue(level, servers, lam, 1.0, request_timeout=[2.0, 12.0],
                        request_shares=[0.3, 0.7])
    assert exact.wait_limits == (0.5, 3.0) and exact.regime == "wait limit"
    n = 120_000
    by_class, mean_wait = simulate_patience_mix(servers, lam, [0.5, 3.0], [0.3, 0.7], n,
                                                np.random.default_rng(servers))
    for p, observed, share in zip(exact.timeout_by_class, by_class, (0.3, 0.7), strict=True):
        p = float(p)
        # arrivals are correlated through the queue: a generous 6 sigma of the binomial
        assert observed == pytest.approx(p, abs=6 * math.sqrt(p * (1 - p) / (share * n)) + 2e-3)
    assert float(exact.mean_wait) == pytest.approx(mean_wait, rel=0.03)
    total = 0.3 * float(exact.timeout_by_class[0]) + 0.7 * float(exact.timeout_by_class[1])
    assert float(exact.timeout_probability) == pytest.approx(total, rel=1e-12)


def test_equal_request_timeouts_are_one_class():
    level = PriorityLevel("one", queues=1, hand_size=1, queue_length_limit=1000)
    for servers, lam in [(3, 3.5), (1, 0.9), (4, 2.0)]:
        mixed = level_queue(level, servers, lam, 1.0, request_timeout=[8.0, 8.0],
                            request_shares=[0.3, 0.7])
        single = level_queue(level, servers, lam, 1.0, wait_limit=2.0)
        for name in ("timeout_probability", "mean_wait", "p99_wait"):
            assert float(getattr(mixed, name)) == pytest.approx(
                float(getattr(single, name)), rel=1e-9, abs=1e-12), name


def test_request_classes_need_their_shares():
    level = PriorityLevel("one", queues=1, hand_size=1, queue_length_limit=1000)
    with pytest.raises(ValueError, match="request_shares"):
        level_queue(level, 1, 0.5, 1.0, request_timeout=[5.0, None])
    with pytest.raises(ValueError, match="one share per request timeout"):
        level_queue(level, 1, 0.5, 1.0, request_timeout=[5.0, None], request_shares=[1.0])


def test_the_audit_gives_lease_calls_their_own_wait_limits(tmp_path):
    # leader-election busy with 0.5 s calls on 2 seats; the sample manifests' lock clients
    # time calls out after 5 s (kube-scheduler, RD 10 s) and 10 s (kube-controller-manager,
    # RD 20 s): their lease calls wait at most 1.25 s and 2.5 s, not 15 s
    from ha_toolkit.audit.report import audit

    level = 'priority_level="leader-election"'
    schema = f'flow_schema="system-leader-election",{level}'
    metrics = tmp_path / "metrics.txt"
    metrics.write_text(
        f"apiserver_flowcontrol_current_limit_seats{{{level}}} 2\n"
        f"apiserver_flowcontrol_nominal_limit_seats{{{level}}} 25\n"
        f"apiserver_flowcontrol_dispatched_requests_total{{{schema}}} 864000\n"
        f'apiserver_flowcontrol_request_execution_seconds_sum{{{schema},type="regular"}} 432000\n'
        f'apiserver_flowcontrol_request_execution_seconds_count{{{schema},type="regular"}} 864000\n'
    )
    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    report = audit(manifests=samples / "manifests", metrics=metrics, window="24h",
                   load_factors=(0.2, 1.0))
    timeouts = sorted(cfg.effective_call_timeout for cfg in report.configs.values())
    assert timeouts == [5.0, 10.0]
    load = report.load.set_index("load_factor")
    assert (load["regime"] == "wait limit").all()
    assert load["p99_wait"].max() <= 2.5 + 1e-9
    leader_election = {lv.name: lv for lv in default_priority_levels()}["leader-election"]
    expected = level_queue(leader_election, 2, 10.0, 0.5, request_timeout=[5.0, 10.0],
                           request_shares=[1, 1])
    assert load.loc[1.0, "rejection_probability"] == pytest.approx(
        float(expected.rejection_probability), rel=1e-9)
