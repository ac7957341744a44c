"""Tests of ``ha-toolkit availability`` against exact binomial sums."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import pytest
from cli_helpers import answer, run

KEYS = [
    "availability",
    "nines",
    "downtime_per_year",
    "downtime_per_month",
    "replica_availability",
]


def exact_tier(replicas: int, needed: int, mtbf: int, mttr: int) -> Fraction:
    a = Fraction(mtbf, mtbf + mttr)
    return sum(
        (
            math.comb(replicas, i) * a**i * (1 - a) ** (replicas - i)
            for i in range(needed, replicas + 1)
        ),
        Fraction(0),
    )


@pytest.mark.parametrize(
    ("argv", "replicas", "needed", "mtbf", "mttr"),
    [
        (
            ["--replicas", "3", "--quorum", "2", "--mtbf", "720h", "--mttr", "1h"],
            3,
            2,
            2592000,
            3600,
        ),
        (
            ["--replicas", "5", "--quorum", "majority", "--mtbf", "30d", "--mttr", "4h"],
            5,
            3,
            2592000,
            14400,
        ),
        (["--replicas", "2", "--mtbf", "2w", "--mttr", "90m"], 2, 1, 1209600, 5400),
        (["--replicas", "1", "--mtbf", "8760h", "--mttr", "3600"], 1, 1, 31536000, 3600),
    ],
)
def test_json_matches_the_binomial(capsys, argv, replicas, needed, mtbf, mttr):
    code, out, err = run(capsys, "availability", *argv, "--json")
    assert code == 0 and err == ""
    obj = json.loads(out)
    assert list(answer(obj)) == KEYS
    exact = exact_tier(replicas, needed, mtbf, mttr)
    u = float(1 - exact)
    assert obj["availability"] == pytest.approx(float(exact), abs=1e-12)
    assert obj["nines"] == pytest.approx(-math.log10(u), rel=1e-9)
    assert obj["downtime_per_year"] == pytest.approx(u * 365 * 86400, rel=1e-9)
    assert obj["downtime_per_month"] == pytest.approx(u * 30 * 86400, rel=1e-9)
    assert obj["replica_availability"] == pytest.approx(mtbf / (mtbf + mttr), rel=1e-12)
    assert obj["inputs"] == {"replicas": replicas, "quorum": needed, "mtbf": mtbf, "mttr": mttr}


def test_json_with_instant_repair(capsys):
    code, out, _ = run(
        capsys, "availability", "--replicas", "1", "--mtbf", "1h", "--mttr", "0", "--json"
    )
    assert code == 0
    obj = json.loads(out)  # strict JSON: no Infinity
    assert answer(obj) == {
        "availability": 1.0,
        "nines": None,
        "downtime_per_year": 0.0,
        "downtime_per_month": 0.0,
        "replica_availability": 1.0,
    }


def test_table(capsys):
    code, out, err = run(
        capsys, "availability", "--replicas", "3", "--quorum", "2", "--mtbf", "720h", "--mttr", "1h"
    )
    assert code == 0 and err == ""
    assert "2 of 3 replicas needed" in out
    assert "downtime per year" in out and "nines" in out


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["--replicas", "3", "--quorum", "4", "--mtbf", "1h", "--mttr", "1m"], "--quorum"),
        (["--replicas", "3", "--quorum", "two", "--mtbf", "1h", "--mttr", "1m"], "--quorum"),
        (["--replicas", "0", "--mtbf", "1h", "--mttr", "1m"], "--replicas"),
        (["--replicas", "3", "--mtbf", "1x", "--mttr", "1m"], "--mtbf"),
        (["--replicas", "3", "--mtbf=-1h", "--mttr", "1m"], "mtbf"),
        (["--replicas", "3", "--mtbf", "1h", "--mttr=-1m"], "mttr"),
        (["--replicas", "3", "--mtbf", "1h"], "--mttr"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, match):
    code, out, err = run(capsys, "availability", *argv)
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ha-toolkit: error: ")
    assert match in lines[0]
