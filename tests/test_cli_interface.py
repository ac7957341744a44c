"""The command line as an SRE meets it: Kubernetes' flag names, one grammar, complete JSON,
tune's explanations, queue's 429s per second, the Python client, --version."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
from cli_helpers import assert_usage_error, run, run_json

import ha_toolkit
from ha_toolkit.cli import main
from ha_toolkit.cli._common import number
from ha_toolkit.cli.figures import _summary, _terminal

SETTINGS = ("15s", "10s", "2s")


def erlang_b(c: int, A: Fraction) -> Fraction:
    """Erlang B by the recursion of REFERENCE section 7, in exact arithmetic."""
    b = Fraction(1)
    for n in range(1, c + 1):
        b = A * b / (n + A * b)
    return b


# ------------------------------------------------------------------ 1. Kubernetes' names
@pytest.mark.parametrize("command", ["failover", "outage", "overlap", "check"])
def test_leader_elect_flags_and_their_aliases_agree(capsys, command):
    extra = {"outage": ["--outage", "9s"], "check": ["--max-p99-failover", "30s"]}
    ld, rd, rp = SETTINGS
    long = run_json(
        capsys,
        command,
        "--leader-elect-lease-duration",
        ld,
        "--leader-elect-renew-deadline",
        rd,
        "--leader-elect-retry-period",
        rp,
        *extra.get(command, []),
    )
    short = run_json(
        capsys,
        command,
        "--lease-duration",
        ld,
        "--renew-deadline",
        rd,
        "--retry-period",
        rp,
        *extra.get(command, []),
    )
    assert long == short
    assert (long["inputs"]["lease_duration"], long["inputs"]["retry_period"]) == (15.0, 2.0)


def test_queue_takes_the_api_server_flag_names(capsys):
    argv = ("--arrival-rate", "3", "--service-time", "1")
    k8s = run_json(capsys, "queue", "--max-requests-inflight", "4", *argv)
    alias = run_json(capsys, "queue", "--servers", "4", *argv)
    assert k8s == alias
    assert k8s["inputs"]["servers"] == 4
    mutating = run_json(
        capsys, "queue", "--max-mutating-requests-inflight", "4", "--mutating", *argv
    )
    assert mutating["blocking_probability"] == k8s["blocking_probability"]
    assert mutating["inputs"]["pool"] == "mutating"


@pytest.mark.parametrize(
    ("command", "titles"),
    [
        ("failover", ["leader election: the flags of kube-scheduler", "the model"]),
        ("tune", ["targets", "the model", "output"]),
        ("queue", ["kube-apiserver flags", "the load and the model"]),
        ("apf", ["kube-apiserver flags"]),
        ("shuffle", ["priority level (PriorityLevelConfiguration"]),
    ],
)
def test_help_groups_flags_by_component(capsys, command, titles):
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    for title in titles:
        assert re.search(rf"^{re.escape(title)}.*:$", out, re.MULTILINE), title
    if command == "failover":
        section = out.split("leader election:")[1].split("the model")[0]
        assert "--leader-elect-lease-duration D, --lease-duration D" in section


# -------------------------------------------------------------------------- 2. grammar
def test_one_duration_grammar_everywhere(capsys):
    day = run_json(capsys, "outage", "--preset", "openshift", "--outage", "1d")
    seconds = run_json(capsys, "outage", "--preset", "openshift", "--outage", "86400")
    assert day == seconds
    assert day["inputs"]["outage"] == 86400.0
    assert day["survival_probability"] == 0.0  # no lease rides out a day's outage
    avail = run_json(capsys, "availability", "--replicas", "1", "--mtbf", "1d", "--mttr", "2h")
    assert avail["availability"] == pytest.approx(24 / 26, rel=1e-12)


def test_non_ascii_digits_are_refused_naming_the_flag(capsys):
    assert_usage_error(
        capsys,
        "failover",
        "--preset",
        "kube-scheduler",
        "--leader-elect-lease-duration",
        "\u0661\u0665s",
        match="--leader-elect-lease-duration",
    )


@pytest.mark.parametrize(
    ("rate", "per_second"), [("3000/s", 3000), ("180000/min", 3000), ("3000", 3000)]
)
def test_rates_in_the_rate_grammar(capsys, rate, per_second):
    obj = run_json(
        capsys,
        "queue",
        "--max-requests-inflight",
        "400",
        "--arrival-rate",
        rate,
        "--service-time",
        "130ms",
    )
    assert obj["inputs"]["arrival_rate"] == per_second
    A = Fraction(per_second) * Fraction(13, 100)
    assert obj["offered_load"] == pytest.approx(float(A), rel=1e-12)


def test_tables_use_one_significant_digit_format(capsys):
    code, out, _ = run(capsys, "shuffle", "--queues", "128", "--hand-size", "6", "--elephants", "1")
    assert code == 0
    squished = 1 / math.comb(128, 6)
    mantissa, exponent = f"{squished:.3e}".split("e")
    assert f"{mantissa}e{int(exponent)}" in out  # 1.844e-10
    assert "e-0" not in out and "e+" not in out  # short exponents, no 5.67209e-09
    for token in re.findall(r"\d[\d.e-]*", out.split("-----")[-1]):
        mantissa = token.split("e")[0].replace(".", "").lstrip("0")
        assert len(mantissa) <= 4, token


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5.67209e-09, "5.672e-9"),
        (0.75, "0.75"),
        (16.5749, "16.57"),
        (400, "400"),
        (1234567, "1.235e6"),
        (0.000123456, "0.0001235"),
        (float("nan"), "-"),
        (None, "-"),
        (float("inf"), "inf"),
        (0.0, "0"),
    ],
)
def test_number_format(value, text):
    assert number(value) == text


# ---------------------------------------------------------------------- 3. complete JSON
JSON_COMMANDS = [
    ("presets",),
    ("failover", "--preset", "kube-scheduler"),
    ("outage", "--preset", "kube-scheduler", "--outage", "9s"),
    ("overlap", "--preset", "kube-scheduler"),
    ("check", "--preset", "kube-scheduler", "--max-p99-failover", "30s"),
    ("queue", "--arrival-rate", "100", "--service-time", "1s"),
    ("shuffle", "--queues", "64", "--hand-size", "8", "--elephants", "4"),
    ("apf",),
    ("availability", "--replicas", "3", "--quorum", "majority", "--mtbf", "30d", "--mttr", "1h"),
    ("audit", "--manifests", "data/samples/manifests"),
]


@pytest.mark.parametrize("argv", JSON_COMMANDS, ids=lambda argv: argv[0])
def test_every_answer_carries_its_inputs_and_the_model_version(capsys, argv, monkeypatch):
    monkeypatch.chdir(ha_toolkit.__file__.rsplit("/ha_toolkit/", 1)[0])
    obj = run_json(capsys, *argv)
    assert list(obj)[-2:] == ["inputs", "version"]
    assert obj["version"] == ha_toolkit.__version__
    assert isinstance(obj["inputs"], dict)


def test_shuffle_json_has_both_probabilities_of_the_table(capsys):
    obj = run_json(capsys, "shuffle", "--queues", "16", "--hand-size", "4", "--elephants", "2")
    assert obj["shares_a_queue_probability"] == pytest.approx(
        1 - math.comb(12, 4) / math.comb(16, 4), rel=1e-12
    )
    assert obj["inputs"] == {"queues": 16, "hand_size": 4, "elephants": 2}


def test_apf_json_uses_null_where_the_table_shows_a_dash(capsys):
    obj = run_json(capsys, "apf")
    catch_all = obj["levels"]["catch-all"]  # a limited level that rejects: no queues
    assert catch_all["queues"] is None and catch_all["hand_size"] is None
    assert catch_all["queue_length_limit"] is None
    assert obj["levels"]["exempt"]["max_seats"] is None
    assert obj["levels"]["leader-election"]["queues"] == 16  # REFERENCE section 4
    code, out, _ = run(capsys, "apf")
    row = next(line for line in out.splitlines() if line.startswith("catch-all"))
    assert row.split()[-1] == "-" and row.split()[-2] == "-"


def test_apf_server_cl_from_the_two_flags(capsys):
    obj = run_json(
        capsys,
        "apf",
        "--max-requests-inflight",
        "800",
        "--max-mutating-requests-inflight",
        "400",
    )
    assert obj["server_cl"] == 1200
    # NominalCL = ceil(ServerCL * NCS / 245), REFERENCE section 4
    assert obj["levels"]["leader-election"]["nominal_cl"] == math.ceil(1200 * 10 / 245)


# ----------------------------------------------------------------------- 4. tune explains
TUNE = ("tune", "--max-p99-failover", "20s", "--survive-outage", "10s")


def test_tune_leaves_out_settings_without_a_positive_margin(capsys):
    strict = run_json(capsys, *TUNE, "--top", "100")
    loose = run_json(capsys, *TUNE, "--top", "100", "--allow-zero-margin")
    for row in strict["pareto"]:
        # the margin, by hand: LD + 2 l - (RD + RP) with l = 0 and whole-second LD
        margin = row["lease_duration"] - row["renew_deadline"] - row["retry_period"]
        assert row["overlap_margin"] == pytest.approx(margin, abs=1e-12)
        assert margin > 0
    assert any(
        row["lease_duration"] == row["renew_deadline"] + row["retry_period"]
        for row in loose["pareto"]
    )
    assert strict["inputs"]["targets"]["allow_zero_margin"] is False
    assert loose["inputs"]["targets"]["allow_zero_margin"] is True


@pytest.mark.parametrize(
    ("sort", "column", "sign"),
    [
        ("cost", "requests_per_second", 1),
        ("p99", "p99_failover", 1),
        ("margin", "overlap_margin", -1),
    ],
)
def test_tune_sort_orders(capsys, sort, column, sign):
    obj = run_json(capsys, *TUNE, "--top", "100", "--sort", sort)
    values = [sign * row[column] for row in obj["pareto"]]
    assert values == sorted(values)
    assert obj["sort"] == sort and obj[column] == obj["pareto"][0][column]


def test_tune_says_its_order_and_which_target_binds(capsys):
    code, out, _ = run(capsys, *TUNE, "--max-requests-per-second", "100/s", "--sort", "p99")
    assert code == 0
    assert "sorted by p99: lowest p99 crash failover first" in out
    binding = next(line for line in out.splitlines() if line.startswith("binding:"))
    assert "--max-p99-failover" in binding  # the flag, as the user typed it
    # 100 requests per second is far above any setting's cost: loosening it changes nothing
    assert "not binding (loosening it changes nothing): --max-requests-per-second" in binding


def test_check_without_margin_fails_the_overlap_target(capsys):
    # 15/14/1: the followers' 15 s equal the leader's RD + RP, a zero margin
    argv = ("check", "--lease-duration", "15", "--renew-deadline", "14", "--retry-period", "1")
    code, out, err = run(capsys, *argv, "--json")
    assert code == 1 and "warning" in err
    code, out, err = run(capsys, *argv, "--allow-zero-margin", "--json")
    assert code == 0


# ------------------------------------------------------------------- 5. queue, client, version
def test_queue_reports_offered_load_and_429s_per_second(capsys):
    obj = run_json(
        capsys, "queue", "--max-requests-inflight", "400", "--arrival-rate", "8000/s",
        "--service-time", "50ms",
    )  # fmt: skip
    B = erlang_b(400, Fraction(400))
    assert obj["offered_load"] == pytest.approx(400.0, rel=1e-12)
    assert obj["rejections_per_second"] == pytest.approx(8000 * float(B), rel=1e-10)
    code, out, _ = run(
        capsys, "queue", "--max-requests-inflight", "400", "--arrival-rate", "8000/s",
        "--service-time", "50ms",
    )  # fmt: skip
    assert "offered load (Erlangs)" in out and "429s per second" in out
    assert "APF off" in out


def test_queue_with_apf_uses_the_sum_of_both_flags_in_seats(capsys):
    argv = ("--arrival-rate", "3000/s", "--service-time", "200ms")
    obj = run_json(capsys, "queue", "--enable-priority-and-fairness", *argv)
    assert obj["inputs"]["servers"] == 600
    B = erlang_b(600, Fraction(600))
    assert obj["blocking_probability"] == pytest.approx(float(B), rel=1e-10)
    code, out, _ = run(capsys, "queue", "--enable-priority-and-fairness", *argv)
    assert "--max-requests-inflight 400 + --max-mutating-requests-inflight 200 = 600 seats" in out
    assert_usage_error(
        capsys, "queue", "--enable-priority-and-fairness", "--mutating", *argv, match="--mutating"
    )


def test_failover_with_the_python_client_matches_the_hand_derivation(capsys):
    # One follower polling every RP = 2 s without jitter, at a phase phi ~ U[0, 2) after the
    # leader's renewals; it sees the last renewal (at s) at s + phi and acquires at its first
    # poll at least LD = 15 s later, s + phi + 16; the crash is at s + U[0, 2). So the
    # failover is 16 + phi - u: triangular on [14, 18], P(X > x) = (18 - x)^2 / 8 near 18.
    obj = run_json(
        capsys, "failover", "--preset", "kube-scheduler", "--client", "python",
        "--candidates", "2",
    )  # fmt: skip
    assert obj["inputs"]["client"] == "python"
    assert obj["mean"] == pytest.approx(16.0, abs=0.01)
    assert obj["std"] == pytest.approx(math.sqrt(8 / 12), abs=0.01)
    assert obj["p99"] == pytest.approx(18 - math.sqrt(0.08), abs=0.01)
    assert (obj["min"], obj["max"]) == pytest.approx((14.0, 18.0), abs=0.01)


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ha-toolkit {ha_toolkit.__version__}"


# ---------------------------------------------------------------------------- 6. progress
class _Stream:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_bar_only_on_a_terminal():
    assert _terminal(_Stream(True)) is True
    assert _terminal(_Stream(False)) is False
    assert _terminal(object()) is False


def test_figures_summary_says_unchanged_rather_than_zero_written(tmp_path):
    from ha_toolkit.figures import NotebookRun

    runs = [NotebookRun(tmp_path / "01_a.ipynb", 2.0, (), False)]
    assert _summary(runs, in_place=False) == "done: 1 notebook in 2 s; figures unchanged"
    runs.append(NotebookRun(tmp_path / "02_b.ipynb", 3.0, ("b.png", "b.svg"), True))
    text = _summary(runs, in_place=True)
    assert text == "done: 2 notebooks in 5 s; 2 figure files written; outputs stored in 1"


# ------------------------------------------------------------------------- 9. quick loop
def test_make_test_fast_runs_unit_tests_without_notebooks_browser_or_slow_tests():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    recipe = makefile.split("\ntest-fast:", 1)[1].split("\n\n", 1)[0]
    assert "pytest tests" in recipe
    assert '-m "not slow and not browser"' in recipe
    assert "nbval" not in recipe.lower() and "notebooks/" not in recipe
    assert "test-fast" in makefile.split(".PHONY:", 1)[1].splitlines()[0]
