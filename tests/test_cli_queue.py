"""The ``ha-toolkit queue`` subcommand."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from cli_helpers import answer, run, run_json

KEYS = [
    "blocking_probability",
    "utilization",
    "throughput",
    "mean_wait",
    "p99_wait",
    "offered_load",
    "rejections_per_second",
]


def erlang_b_recursion(c: int, A: Fraction) -> Fraction:
    b = Fraction(1)
    for n in range(1, c + 1):
        b = A * b / (n + A * b)
    return b


def test_json_has_exactly_the_contract_keys(capsys):
    obj = run_json(capsys, "queue", "--servers", "4", "--arrival-rate", "3", "--service-time", "1")
    assert list(answer(obj)) == KEYS
    assert all(isinstance(v, float) for v in answer(obj).values())


def test_default_capacity_is_a_loss_system(capsys):
    # 400 slots, 8000 requests/s of 50 ms: 400 Erlangs -> Erlang B, no waiting
    obj = run_json(
        capsys, "queue", "--servers", "400", "--arrival-rate", "8000", "--service-time", "50ms"
    )
    B = float(erlang_b_recursion(400, Fraction(400)))
    assert obj["blocking_probability"] == pytest.approx(B, rel=1e-10)
    assert obj["throughput"] == pytest.approx(8000 * (1 - B), rel=1e-10)
    assert obj["utilization"] == pytest.approx(1 - B, rel=1e-10)
    assert obj["mean_wait"] == 0.0 and obj["p99_wait"] == 0.0


def test_infinite_capacity_is_erlang_c(capsys):
    obj = run_json(
        capsys,
        "queue",
        "--servers",
        "4",
        "--capacity",
        "inf",
        "--arrival-rate",
        "3",
        "--service-time",
        "1s",
    )
    A = Fraction(3)
    B = erlang_b_recursion(4, A)
    C = float(B / (1 - A / 4 * (1 - B)))
    assert obj["blocking_probability"] == 0.0
    assert obj["mean_wait"] == pytest.approx(C / (4 - 3), rel=1e-12)
    assert obj["p99_wait"] == pytest.approx(math.log(C / 0.01) / (4 - 3), rel=1e-12)


def test_waiting_room_matches_direct_summation(capsys):
    obj = run_json(
        capsys,
        "queue",
        "--servers",
        "2",
        "--capacity",
        "5",
        "--arrival-rate",
        "1.5",
        "--service-time",
        "1000ms",
    )
    p = [Fraction(1), Fraction(3, 2), Fraction(9, 8)]
    for _ in range(3, 6):
        p.append(p[-1] * Fraction(3, 4))
    Z = sum(p)
    assert obj["blocking_probability"] == pytest.approx(float(p[5] / Z), rel=1e-12)


def test_table_output(capsys):
    code, out, err = run(
        capsys, "queue", "--servers", "4", "--arrival-rate", "3", "--service-time", "1"
    )
    assert code == 0 and err == ""
    assert "blocking (429) probability" in out and "p99 wait" in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (
            ["--servers", "0", "--arrival-rate", "1", "--service-time", "1"],
            "--max-requests-inflight",
        ),
        (["--servers", "2.5", "--arrival-rate", "1", "--service-time", "1"], "--servers"),
        (
            ["--servers", "4", "--capacity", "3", "--arrival-rate", "1", "--service-time", "1"],
            "--capacity",
        ),
        (["--servers", "4", "--arrival-rate", "-1", "--service-time", "1"], "--arrival-rate"),
        (["--servers", "4", "--arrival-rate", "1", "--service-time", "fast"], "--service-time"),
        (["--servers", "4", "--arrival-rate", "1", "--service-time", "0s"], "--service-time"),
        (
            ["--servers", "4", "--capacity", "inf", "--arrival-rate", "5", "--service-time", "1"],
            "infinite queue",
        ),
        (["--servers", "4", "--service-time", "1"], "--arrival-rate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, match):
    code, out, err = run(capsys, "queue", *argv)
    assert code == 2
    assert out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ha-toolkit: error: ")
    assert match in lines[0]
