"""Tests of the ``outage`` and ``overlap`` subcommands against hand-derived values.

kube-scheduler's settings are LD 15 s, RD 10 s, RP 2 s (REFERENCE section 2).

outage, refuse: every call fails at once, so the failing renew cycle tries at 0, 2, 4, 6 and
8 s from its start (k * RP < RD). Its start falls uniformly within one renew period RP = 2 s
after the outage starts, so an outage of T s is survived with probability
clip((8 + 2 - T) / 2, 0, 1): always up to 8 s, never beyond 10 s.

outage, blackhole: the lock client's HTTP timeout is max(1 s, RD / 2) = 5 s. The fast-path
Update sent at 0 hangs 5 s, then the fallback GET sent at 5 s hangs to the deadline, so the
last chance is at 5 s: clip((5 + 2 - T) / 2, 0, 1).

overlap: a cut-off leader acts until ratio * (RP + RD) after its last renewal; a follower
cannot act before LD. The largest overlap is ratio * 12 - 15 s and no overlap is possible
while ratio <= LD / (RP + RD) = 1.25.
"""

from __future__ import annotations

import json

import pytest
from cli_helpers import answer, assert_usage_error, run, run_json

from ha_toolkit.cli import main

OUTAGE_KEYS = [
    "survival_probability",
    "min_tolerated_outage",
    "max_tolerated_outage",
    "mode",
    "exact",
]
OVERLAP_KEYS = ["overlap_probability", "max_overlap", "max_safe_clock_rate_ratio", "mean_overlap"]


def outage(capsys, length, mode="refuse", *config):
    return run_json(
        capsys, "outage", *(config or ("--preset", "kube-scheduler")), "--outage", length,
        "--mode", mode,
    )  # fmt: skip


# ------------------------------------------------------------------------------ outage
@pytest.mark.parametrize(
    ("mode", "length", "expected"),
    [
        ("refuse", "8s", 1.0),
        ("refuse", "9s", 0.5),
        ("refuse", "11s", 0.0),
        ("blackhole", "4s", 1.0),
        ("blackhole", "6s", 0.5),
        ("blackhole", "8s", 0.0),
    ],
)
def test_outage_survival_matches_the_hand_derivation(capsys, mode, length, expected):
    obj = outage(capsys, length, mode)
    assert list(answer(obj)) == OUTAGE_KEYS
    assert obj["survival_probability"] == pytest.approx(expected, abs=1e-12)
    last = 8.0 if mode == "refuse" else 5.0
    assert obj["min_tolerated_outage"] == pytest.approx(last)
    assert obj["max_tolerated_outage"] == pytest.approx(last + 2.0)
    assert obj["mode"] == mode
    # LD 15 >= RP + RD 12: no follower can take the lease before the leader's deadline
    assert obj["exact"] is True


def test_outage_default_mode_is_refuse_and_spellings_agree(capsys):
    default = run_json(capsys, "outage", "--preset", "kube-scheduler", "--outage", "9s")
    assert default["mode"] == "refuse"
    for spelling in ("9", "9000ms", "0m9s"):
        assert answer(outage(capsys, spelling)) == answer(default)
    explicit = outage(
        capsys, "9s", "refuse", "--lease-duration", "15s", "--renew-deadline", "10s",
        "--retry-period", "2s",
    )  # fmt: skip
    assert answer(explicit) == answer(default)


def test_outage_openshift_range(capsys):
    # refuse: attempts at 0, 26, 52, 78, 104 s; blackhole: library-go's lock client times a
    # call out after RD = 107 s, so the first hung Update uses up the whole cycle (A = 0)
    for mode, last in (("refuse", 104.0), ("blackhole", 0.0)):
        obj = outage(capsys, "78s", mode, "--preset", "openshift")
        assert obj["min_tolerated_outage"] == pytest.approx(last)
        assert obj["max_tolerated_outage"] == pytest.approx(last + 26.0)
    # OpenShift's own 78 s: always survived when calls are refused, never when they hang
    assert outage(capsys, "78s", "refuse", "--preset", "openshift")["survival_probability"] == 1
    blackhole = outage(capsys, "78s", "blackhole", "--preset", "openshift")
    assert blackhole["survival_probability"] == 0.0
    # with client-go's max(1 s, RD/2) instead, the fall-back GET at 53.5 s still fits
    half = outage(capsys, "78s", "blackhole", "--preset", "openshift",
                  "--call-timeout", "half-renew-deadline")  # fmt: skip
    assert half["min_tolerated_outage"] == pytest.approx(53.5)
    assert half["survival_probability"] == pytest.approx(1.5 / 26.0)


def test_outage_with_api_latency(capsys):
    # l = 0.1 s: each refused call returns after 0.1 s, so the Update at 8 s and its GET at
    # 8.1 s are the last calls; a GET at 8.1 s that succeeds is followed by an Update that
    # returns at 8.3 s < RD, so A = 8.1 s. Renewals recur every RP + l = 2.1 s.
    obj = outage(capsys, "9.15s", "refuse", "--preset", "kube-scheduler", "--api-latency", "100ms")
    assert obj["min_tolerated_outage"] == pytest.approx(8.1)
    assert obj["max_tolerated_outage"] == pytest.approx(10.2)
    assert obj["survival_probability"] == pytest.approx((10.2 - 9.15) / 2.1)


def test_outage_table_is_readable(capsys):
    code, out, err = run(capsys, "outage", "--preset", "kube-scheduler", "--outage", "9s")
    assert code == 0 and err == ""
    assert out.splitlines()[0].startswith("kube-scheduler: API outage of 9 s")
    values = {
        line.rsplit(None, 1)[0].strip(): float(line.split()[-1])
        for line in out.splitlines()
        if line.startswith(("survival", "always", "never"))
    }
    assert values == {
        "survival probability": 0.5,
        "always survived up to (s)": 8.0,
        "never survived beyond (s)": 10.0,
    }
    assert "upper bound" not in out


def test_lease_overlap_warning_is_one_line_and_marks_an_upper_bound(capsys):
    # openshift-sno: LD 270 s <= RD 240 s + RP 60 s
    code, out, err = run(capsys, "outage", "--preset", "openshift-sno", "--outage", "100s")
    assert code == 0
    assert err.splitlines() == [
        "ha-toolkit: warning: leaseDuration (270s) <= renewDeadline + retryPeriod (300s): "
        "a partitioned leader can still act after a follower takes the lease"
    ]
    assert "upper bound" in out
    code, out, err = run(capsys, "outage", "--preset", "openshift-sno", "--outage", "1s", "--json")
    assert code == 0 and len(err.splitlines()) == 1
    assert json.loads(out)["exact"] is False
    code, out, err = run(capsys, "failover", "--preset", "openshift-sno", "--json")
    assert code == 0 and err.startswith("ha-toolkit: warning: leaseDuration (270s)")
    assert len(err.splitlines()) == 1


# ----------------------------------------------------------------------------- overlap
def test_overlap_equal_clocks(capsys):
    obj = run_json(capsys, "overlap", "--preset", "kube-scheduler")
    assert list(answer(obj)) == [*OVERLAP_KEYS, "clock_rate_ratio"]
    assert obj["overlap_probability"] == pytest.approx(0.0, abs=1e-12)
    assert obj["max_overlap"] == pytest.approx(2 + 10 - 15)
    assert obj["max_safe_clock_rate_ratio"] == pytest.approx(15 / 12)
    assert obj["mean_overlap"] < obj["max_overlap"]
    assert obj == run_json(
        capsys, "overlap", "--preset", "kube-scheduler", "--clock-rate-ratio", "1"
    )


def test_overlap_fast_follower_clocks(capsys):
    obj = run_json(capsys, "overlap", "--preset", "kube-scheduler", "--clock-rate-ratio", "1.5")
    assert obj["max_overlap"] == pytest.approx(1.5 * 12 - 15)
    assert obj["max_safe_clock_rate_ratio"] == pytest.approx(1.25)
    assert 0.0 < obj["overlap_probability"] < 1.0
    assert obj["mean_overlap"] < obj["max_overlap"]
    # just at the safe ratio the largest overlap is exactly zero
    edge = run_json(capsys, "overlap", "--preset", "kube-scheduler", "--clock-rate-ratio", "1.25")
    assert edge["max_overlap"] == pytest.approx(0.0, abs=1e-12)
    assert edge["overlap_probability"] == pytest.approx(0.0, abs=1e-12)


def test_overlap_latency_and_thin_margin(capsys):
    # two API round trips of 0.1 s lengthen the followers' path: (15 + 0.2) / 12
    obj = run_json(capsys, "overlap", "--preset", "kube-scheduler", "--api-latency", "0.1")
    assert obj["max_safe_clock_rate_ratio"] == pytest.approx(15.2 / 12)
    assert obj["max_overlap"] == pytest.approx(12 - 15.2)
    code, out, err = run(capsys, "overlap", "--preset", "openshift-sno", "--json")
    assert code == 0 and len(err.splitlines()) == 1
    sno = json.loads(out)
    assert sno["max_overlap"] == pytest.approx(60 + 240 - 270)
    assert sno["max_safe_clock_rate_ratio"] == pytest.approx(270 / 300)
    assert sno["overlap_probability"] > 0


def test_overlap_table_is_readable(capsys):
    code, out, err = run(capsys, "overlap", "--preset", "kube-scheduler")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("kube-scheduler: leader cut off from the API")
    rows = {line.rsplit(None, 1)[0].strip(): line.split()[-1] for line in lines[4:8]}
    assert rows["max overlap (s)"] == "-3"
    assert rows["max safe clock-rate ratio"] == "1.25"


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (("outage", "--preset", "kube-scheduler"), "--outage"),
        (("outage", "--preset", "kube-scheduler", "--outage", "9x"), "'9x'"),
        (("outage", "--preset", "kube-scheduler", "--outage=-1s"), "outage"),
        (("outage", "--preset", "kube-scheduler", "--outage", "9", "--mode", "x"), "--mode"),
        (("outage", "--lease-duration", "15s", "--outage", "9"), "--renew-deadline"),
        (("outage", "--preset", "nope", "--outage", "9"), "nope"),
        (
            ("outage", "--preset", "kube-scheduler", "--api-latency", "20s", "--outage", "9"),
            "--api-latency",
        ),
        (("overlap",), "--preset"),
        (("overlap", "--preset", "kube-scheduler", "--clock-rate-ratio", "0"), "--clock-rate-r"),
        (("overlap", "--preset", "kube-scheduler", "--clock-rate-ratio", "x"), "--clock-rate"),
        (("overlap", "--preset", "kube-scheduler", "--candidates", "1"), "candidates"),
        (
            (
                "overlap",
                "--lease-duration",
                "10s",
                "--renew-deadline",
                "11s",
                "--retry-period",
                "2s",
            ),
            "leaseDuration must be greater than renewDeadline",
        ),
    ],
)
def test_bad_input_gives_one_line_and_status_2(capsys, argv, match):
    assert_usage_error(capsys, *argv, match=match)


def test_help_lists_the_subcommands(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "outage" in out and "overlap" in out
