"""The ``ha-toolkit shuffle`` and ``ha-toolkit apf`` subcommands."""

from __future__ import annotations

import math

import pytest
from cli_helpers import answer, run, run_json


# ----------------------------------------------------------------------------- shuffle
def test_shuffle_json_is_the_contract_and_matches_the_published_table(capsys):
    obj = run_json(capsys, "shuffle", "--queues", "64", "--hand-size", "8", "--elephants", "4")
    assert list(answer(obj))[:1] == ["probability"]
    # Kubernetes documentation, API Priority and Fairness: hand 8, 64 queues, 4 elephants
    assert obj["probability"] == pytest.approx(0.0004886697053040446, rel=1e-9)


def test_shuffle_one_elephant_is_one_over_the_number_of_hands(capsys):
    obj = run_json(capsys, "shuffle", "--queues", "128", "--hand-size", "6", "--elephants", "1")
    assert obj["probability"] == pytest.approx(1 / math.comb(128, 6), rel=1e-12)


def test_shuffle_table(capsys):
    code, out, err = run(
        capsys, "shuffle", "--queues", "16", "--hand-size", "4", "--elephants", "2"
    )
    assert code == 0 and err == ""
    assert "P(mouse squished)" in out and "P(shares a queue with one elephant)" in out
    overlap = 1 - math.comb(12, 4) / math.comb(16, 4)
    assert f"{overlap:.4g}" in out  # four significant digits


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--queues", "4", "--hand-size", "6", "--elephants", "1"], "--hand-size must be <="),
        (["--queues", "0", "--hand-size", "1", "--elephants", "1"], "--queues must be >= 1"),
        (["--queues", "8", "--hand-size", "2", "--elephants", "-1"], "--elephants must be >= 0"),
        (["--queues", "8", "--hand-size", "2"], "required"),
        (["--queues", "x", "--hand-size", "2", "--elephants", "1"], "invalid int value"),
    ],
)
def test_shuffle_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run(capsys, "shuffle", *argv)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("ha-toolkit: error:")
    assert message in err


# --------------------------------------------------------------------------------- apf
def test_apf_json_has_the_reference_nominal_cl(capsys):
    obj = run_json(capsys, "apf")
    assert obj["server_cl"] == 600 and obj["nominal_cl_sum"] == 602
    nominal = {name: level["nominal_cl"] for name, level in obj["levels"].items()}
    assert nominal == {
        "exempt": 0,
        "catch-all": 13,
        "system": 74,
        "node-high": 98,
        "leader-election": 25,
        "workload-high": 98,
        "workload-low": 245,
        "global-default": 49,
    }
    wl = obj["levels"]["workload-low"]
    assert (wl["lendable_cl"], wl["min_cl"], wl["max_cl"], wl["max_seats"]) == (221, 24, 845, 37)
    assert wl["borrowing_limit_percent"] is None
    assert (wl["queues"], wl["hand_size"], wl["queue_length_limit"]) == (128, 6, 50)


def test_apf_server_cl_3000(capsys):
    obj = run_json(capsys, "apf", "--server-cl", "3000")
    assert obj["levels"]["workload-low"]["nominal_cl"] == 1225  # ceil(3000 * 100 / 245)
    assert obj["levels"]["leader-election"]["nominal_cl"] == 123  # ceil(122.4)


def test_apf_table(capsys):
    code, out, err = run(capsys, "apf")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("ServerCL 600 seats")
    row = next(line for line in lines if line.startswith("leader-election"))
    assert row.split()[:7] == ["leader-election", "10", "0%", "25", "0", "25", "625"]
    assert "16/4/50" in row


def test_apf_bad_server_cl(capsys):
    code, out, err = run(capsys, "apf", "--server-cl", "0")
    assert code == 2 and out == ""
    assert err.strip() == "ha-toolkit: error: --server-cl must be >= 1, got 0"
