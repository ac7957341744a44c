"""``ha-toolkit shuffle --hash-value`` and ``--flow-schema``: the hand the server deals."""

from __future__ import annotations

import hashlib

import pytest
from cli_helpers import assert_usage_error, run, run_json
from dealer_reference import upstream_deal


@pytest.mark.parametrize("value", ["1001001001", "0xFFFFFFFFFFFFFFFF", "0"])
def test_hash_value_prints_the_hand(capsys, value):
    obj = run_json(capsys, "shuffle", "--queues", "128", "--hand-size", "6",
                   "--hash-value", value)
    assert obj["hand"] == upstream_deal(128, 6, int(value, 0))
    assert obj["hash_value"] == int(value, 0)


def test_flow_schema_hashes_name_and_distinguisher(capsys):
    digest = hashlib.sha256(b"system-leader-election\x00system:kube-scheduler").digest()
    value = int.from_bytes(digest[:8], "little")
    obj = run_json(capsys, "shuffle", "--queues", "16", "--hand-size", "4",
                   "--flow-schema", "system-leader-election",
                   "--distinguisher", "system:kube-scheduler")
    assert obj["hand"] == upstream_deal(16, 4, value)
    assert obj["hash_value"] == value
    assert obj["inputs"]["flow_schema"] == "system-leader-election"
    code, out, _ = run(capsys, "shuffle", "--queues", "16", "--hand-size", "4",
                       "--flow-schema", "system-leader-election",
                       "--distinguisher", "system:kube-scheduler")
    assert code == 0 and str(value) in out


@pytest.mark.parametrize(("argv", "match"), [
    (["--hash-value", "x"], "--hash-value must be a whole number"),
    (["--hash-value", "-1"], "--hash-value must lie in [0, 2**64)"),
    (["--hash-value", "1", "--elephants", "2"], "exactly one of --elephants"),
    (["--hash-value", "1", "--flow-schema", "a"], "exactly one of --elephants"),
])
def test_bad_hand_requests(capsys, argv, match):
    assert_usage_error(capsys, "shuffle", "--queues", "8", "--hand-size", "2", *argv,
                       match=match)


def test_entropy_limit_is_upstreams_message(capsys):
    assert_usage_error(capsys, "shuffle", "--queues", "512", "--hand-size", "8",
                       "--hash-value", "3", match="required entropy bits of deckSize 512")
