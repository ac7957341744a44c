"""ha-toolkit etcd-failover: keys, agreement with the library, bad input."""

import pytest
from cli_helpers import assert_usage_error, run, run_json

from ha_toolkit.etcd.config import RaftConfig
from ha_toolkit.etcd.timing import failover

KEYS = {"mean", "std", "p50", "p90", "p99", "min", "max"}


def test_json_keys_and_values(capsys):
    obj = run_json(
        capsys,
        "etcd-failover",
        "--heartbeat-interval",
        "100ms",
        "--election-timeout",
        "1000ms",
        "--members",
        "3",
        "--pre-vote",
    )
    assert set(obj) == KEYS | {"write_stall", "inputs", "version"}
    assert obj["inputs"]["members"] == 3 and obj["inputs"]["pre_vote"] is True
    assert set(obj["write_stall"]) == KEYS
    # with pre-vote and nothing ignored twice the leader comes within two timeouts
    assert 0.9 <= obj["min"] <= obj["p50"] <= obj["p99"] <= obj["max"] <= 1.9 + 1e-9
    assert obj["mean"] == pytest.approx(failover(RaftConfig(pre_vote=True)).mean())
    # etcd's own request timeout: 5 s + 2 x 1 s; the first write is lost with the leader
    assert obj["write_stall"]["p50"] == pytest.approx(7.0)


def test_request_timeout_shortens_the_stall(capsys):
    obj = run_json(capsys, "etcd-failover", "--request-timeout", "100ms", "--members", "5")
    assert obj["write_stall"]["min"] >= obj["min"]
    assert obj["write_stall"]["mean"] < obj["mean"] + 0.1 + 1e-9


def test_table(capsys):
    code, out, err = run(capsys, "etcd-failover", "--election-timeout", "500ms")
    assert code == 0 and err == ""
    assert "new leader (s)" in out and "write stall (s)" in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (("--heartbeat-interval", "300ms"), "should be at least as 5 times as"),
        (("--members", "2"), "--members must be >= 3"),
        (("--election-timeout", "soon"), "--election-timeout"),
        (("--members", "three"), "invalid int value"),
    ],
)
def test_bad_input(capsys, argv, match):
    assert_usage_error(capsys, "etcd-failover", *argv, match=match)
