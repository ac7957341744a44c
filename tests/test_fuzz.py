"""Fuzzing the command line and the artifact readers, and properties of the models.

Hostile input (hypothesis, a bounded number of examples; the module runs in well under a
minute): every command either answers (exit 0) or refuses on one line (exit 2), without a
traceback, in bounded time and memory (:mod:`bounded_helpers`), and nothing of a file that
is not an input reaches the output, whatever symbolic links lead to it.

Random valid input: the CDF of a failover time is monotone in [0, 1] and consistent with
its quantiles, probabilities lie in [0, 1], Erlang C >= Erlang B, and a release is on
average no slower than a crash, for jitter factors down to 1e-9 and API latencies up to a
minute.
"""

from __future__ import annotations

import json
import math
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from bounded_helpers import assert_bounded, run_bounded
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

FUZZ = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])
PROPERTIES = settings(max_examples=25, deadline=None, derandomize=True,
                      suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------ the CLI parser
# Values a user might type by mistake or on purpose. Durations stay short enough that
# every command is quick on this engine (a lease of a day is the exact engine's own case).
NUMBERS = ["0", "1", "2", "3", "-1", "-0", "1e308", "-1e308", "nan", "inf", "1e-320",
           "0.5", "10" + "0" * 30, "9" * 400, "0x10", "1_000", "", " ", "\u0661\u0665"]
DURATIONS = ["15s", "10s", "2s", "500ms", "1m", "0", "-1s", "-0s", "1e308", "nan", "inf",
             "\u0661\u0665s", "15", "", "15x", "9" * 400, "1ns", "0.5", "1e-9"]
COMMANDS: dict[str, dict[str, list[str]]] = {
    "failover": {"--preset": ["kube-scheduler", "openshift", "kube-vip", "nope", ""],
                 "--lease-duration": DURATIONS, "--renew-deadline": DURATIONS,
                 "--retry-period": [d for d in DURATIONS if d not in ("1ns", "1e-9")],
                 "--candidates": NUMBERS, "--jitter-factor": NUMBERS,
                 "--api-latency": DURATIONS, "--scenario": ["crash", "release", "x"]},
    "outage": {"--preset": ["kube-scheduler", "kube-vip"], "--outage": DURATIONS,
               "--mode": ["refuse", "blackhole", "x"], "--api-latency": DURATIONS},
    "overlap": {"--preset": ["kube-scheduler", "cert-manager"],
                "--clock-rate-ratio": NUMBERS, "--candidates": NUMBERS},
    "queue": {"--servers": NUMBERS, "--capacity": NUMBERS + ["inf", "none"],
              "--arrival-rate": NUMBERS, "--service-time": DURATIONS},
    "availability": {"--replicas": NUMBERS, "--quorum": NUMBERS + ["majority"],
                     "--mtbf": DURATIONS + ["30d", "2w"], "--mttr": DURATIONS},
    "shuffle": {"--queues": NUMBERS + ["64", "128"], "--hand-size": NUMBERS + ["6", "8"],
                "--elephants": NUMBERS + ["4", "16"]},
    "apf": {"--server-cl": NUMBERS + ["600"]},
    "presets": {},
}
# The subcommands added after the first fuzzing pass, with their own examples.
NEW_COMMANDS: dict[str, dict[str, list[str]]] = {
    "probe": {"--period": DURATIONS + ["1d", "2d"], "--timeout": DURATIONS + ["1d"],
              "--failure-threshold": NUMBERS + ["10000", "10001"],
              "--initial-delay": DURATIONS, "--startup": DURATIONS,
              "--grace-period": DURATIONS, "--recent-restarts": NUMBERS,
              "--failure": ["exit", "refusing", "hung", "x"]},
    "lease-loss": {"--episodes-per-day": NUMBERS + ["2/h", "1e300/ms", "86400"],
                   "--episode-duration": DURATIONS + ["2m", "1d"],
                   "--episode-mode": ["refuse", "blackhole", "throttled", "latency", "x"],
                   "--episode-latency": DURATIONS, "--retry-after": NUMBERS + ["86400"],
                   "--rejection": NUMBERS, "--crashes-per-year": NUMBERS,
                   "--latency-quantiles": ["p50=20ms,p99=800ms", "p99=1e308", "p50=1ns",
                                           "p99=x", ""]},
    "etcd-failover": {"--heartbeat-interval": DURATIONS + ["100ms", "10ms"],
                      "--election-timeout": DURATIONS + ["1000ms", "50s", "60s"],
                      "--members": NUMBERS + ["5", "7", "20"],
                      "--request-timeout": DURATIONS + ["200s", "1d"]},
}
REQUIRED = {"outage": {"--outage": "9s"}, "queue": {"--servers": "2", "--arrival-rate": "1",
                                                    "--service-time": "1s"},
            "availability": {"--replicas": "3", "--mtbf": "30d", "--mttr": "1h"},
            "shuffle": {"--queues": "64", "--hand-size": "8", "--elephants": "4"},
            "probe": {"--period": "10s", "--timeout": "15s", "--failure-threshold": "3",
                      "--failure": "hung"},
            "lease-loss": {"--episodes-per-day": "24", "--episode-duration": "5s"}}


@st.composite
def command_lines(draw, commands: dict[str, dict[str, list[str]]] = COMMANDS) -> list[str]:
    command = draw(st.sampled_from(sorted(commands)))
    flags = commands[command]
    chosen = dict(REQUIRED.get(command, {}))
    if command in ("failover", "outage", "overlap", "lease-loss"):
        chosen["--preset"] = "kube-scheduler"
    for flag in draw(st.lists(st.sampled_from(sorted(flags)), max_size=4, unique=True)
                     if flags else st.just([])):
        chosen[flag] = draw(st.sampled_from(flags[flag]))
    argv = [command]
    for flag, value in chosen.items():
        argv.append(f"{flag}={value}")  # = keeps a value such as -1 a value
    if draw(st.booleans()):
        argv.append("--json")
    if draw(st.integers(0, 9)) == 0:
        argv.append(draw(st.sampled_from(["--bogus", "extra", "--json=1", "-h"])))
    return argv


@FUZZ
@given(command_lines())
def test_fuzz_command_line(capsys, argv):
    outcome = run_bounded(capsys, *argv)
    assert_bounded(outcome)
    if outcome.code == 0 and "--json" in argv and "-h" not in argv:
        json.loads(outcome.out)  # one JSON object


def _no_constant(constant: str):
    raise AssertionError(f"{constant} in JSON output")


@settings(FUZZ, max_examples=30)
@given(command_lines(NEW_COMMANDS))
def test_fuzz_new_command_lines(capsys, argv):
    """probe, lease-loss, etcd-failover: answer or refuse on one line, no numpy warning
    printed, and strict JSON (no Infinity or NaN)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcome = run_bounded(capsys, *argv)
    assert_bounded(outcome)
    if outcome.code == 0 and "--json" in argv and "-h" not in argv:
        json.loads(outcome.out, parse_constant=_no_constant)


# ------------------------------------------------------------------- the artifact readers
SECRET = "pr1vate-7a9e-marker"
NAMES = ["kind", "metadata", "spec", "name", "namespace", "items", "holderIdentity",
         "leaseDurationSeconds", "leaseTransitions", "renewTime", "acquireTime",
         "containers", "command", "args", "leaderElection", "leaseDuration", "leaderElect"]
scalars = (st.none() | st.booleans() | st.integers(-(10**40), 10**40)
           | st.floats(allow_nan=True) | st.sampled_from(
               ["Lease", "Pod", "List", "kube-scheduler", "2024-01-01", "١٥s", "15s",
                "2024-01-31T12:00:00Z", "--leader-elect-retry-period=2s", "9" * 5000])
           | st.text(max_size=12))
documents = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(NAMES) | st.text(max_size=6), inner, max_size=5),
    max_leaves=20,
)
YAML_TRICKS = [
    "a: &a [1, 2]\nb: *a\n", "kind: Lease\nkind: Pod\n", "x: !!python/object:os.system {}\n",
    "kind: Pod\nspec: {containers: [{name: kube-scheduler, command: [kube-scheduler, "
    "--leader-elect-lease-duration=1e400s]}]}\n",
    "renewTime: 2024-13-45T00:00:00Z\n", "- ? - - [\n", "\t\x00\x7f", "%YAML 9.9\n---\nx\n",
    "items: [{kind: Lease, metadata: {name: a}, spec: {leaseDurationSeconds: 99999999999}}]\n",
]
METRIC_NAMES = ["apiserver_flowcontrol_current_limit_seats",
                "apiserver_flowcontrol_dispatched_requests_total",
                "apiserver_flowcontrol_request_execution_seconds_count",
                "apiserver_flowcontrol_request_execution_seconds_sum", "other_metric"]
metric_lines = st.builds(
    lambda name, level, value: f'{name}{{priority_level="{level}"}} {value}',
    st.sampled_from(METRIC_NAMES), st.sampled_from(["system", "workload-low", "x\"y", ""]),
    st.sampled_from(["1", "-1", "NaN", "+Inf", "1e400", "x", "", "9" * 400, "3 1700000000"]))
texts = st.one_of(
    documents.map(json.dumps),
    documents.map(lambda d: _yaml_dump(d)),
    st.sampled_from(YAML_TRICKS),
    st.lists(metric_lines | st.text(max_size=30), max_size=8).map("\n".join),
    st.text(max_size=200),
)


def _yaml_dump(doc) -> str:
    import yaml

    return yaml.safe_dump(doc, allow_unicode=True)


def _sample(name: str) -> str:
    from ha_toolkit.audit import sample_artifacts

    paths = sample_artifacts()
    path = paths[name] if name in paths else paths["manifests"] / name
    return path.read_text()


@st.composite
def mutated(draw, name: str) -> str:
    """A sample artifact with a few lines replaced, deleted or repeated: mostly readable,
    so that the report is produced and its notes exercised."""
    lines = _sample(name).splitlines()
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["replace", "delete", "repeat", "append"]))
        if action == "replace":
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            lines[i] = indent + draw(st.sampled_from([
                "leaseDurationSeconds: 1", '"leaseDurationSeconds": 86400,', "- --leader-elect",
                "- --leader-elect-retry-period=1ms", "- --max-requests-inflight=0",
                'renewTime: "2024-01-01"', "name: &x kube-scheduler", "x: *x", "9" * 5000,
                'apiserver_flowcontrol_current_limit_seats{priority_level="system"} 1e12',
                "\u0661\u0665s", "{", "]", ""]))
        elif action == "delete":
            del lines[i]
            if not lines:
                lines = [""]
        elif action == "repeat":
            lines.insert(i, lines[i])
        else:
            lines.append(lines[i])
    return "\n".join(lines) + "\n"


@st.composite
def artifact_sets(draw) -> dict:
    """Files for --leases, --manifests and --metrics, any of them absent, some of them
    symbolic links to a private file outside the inputs."""
    manifests = [("kube-apiserver.yaml", draw(mutated("kube-apiserver.yaml"))),
                 ("kube-scheduler.yaml", draw(mutated("kube-scheduler.yaml")))]
    manifests += draw(st.lists(st.tuples(st.sampled_from(
        ["a.yaml", "b.yml", "c.json", "d.txt", "E.YAML"]), texts | st.just("@secret")),
        max_size=2, unique_by=lambda t: t[0]))
    def one(name: str) -> str | None:
        kind = draw(st.sampled_from(["sample", "absent", "sample", "text", "secret"]))
        if kind == "absent":
            return None
        if kind == "secret":
            return "@secret"
        return draw(mutated(name) if kind == "sample" else texts)

    return {
        "leases": one("leases"),
        "metrics": one("metrics"),
        "manifests": draw(st.sampled_from([manifests, manifests, None])),
        "window": draw(st.sampled_from(["24h", None, "1h", "24h", "0", "x"])),
    }


def _materialise(root: Path, spec: dict) -> list[str]:
    private = root / "private"
    private.mkdir()
    secret = private / "secrets.yaml"
    secret.write_text(f"{SECRET}: [{SECRET}\n{SECRET}\n")
    inputs = root / "inputs"
    (inputs / "manifests").mkdir(parents=True)

    def place(path: Path, text: str) -> None:
        if text == "@secret":
            path.symlink_to(secret)
        else:
            path.write_text(text, encoding="utf-8", errors="surrogatepass")

    argv = ["audit"]
    for key in ("leases", "metrics"):
        if spec[key] is not None:
            path = inputs / f"{key}.txt"
            place(path, spec[key])
            argv += [f"--{key}", str(path)]
    if spec["manifests"] is not None or len(argv) == 1:
        for name, text in spec["manifests"] or ():
            place(inputs / "manifests" / name, text)
        argv += ["--manifests", str(inputs / "manifests")]
    if spec["window"] is not None:
        argv.append(f"--window={spec['window']}")
    return argv


@FUZZ
@given(artifact_sets(), st.booleans())
def test_fuzz_artifacts(capsys, spec, as_json):
    with tempfile.TemporaryDirectory() as tmp:
        argv = _materialise(Path(tmp), spec) + (["--json"] if as_json else [])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # warnings become notes, never printed
            outcome = run_bounded(capsys, *argv)
    assert_bounded(outcome)
    assert SECRET not in outcome.out + outcome.err


@FUZZ
@given(st.sampled_from(["leases", "metrics"]), texts)
def test_fuzz_one_artifact(capsys, flag, text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "artifact"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        outcome = run_bounded(capsys, "audit", f"--{flag}", str(path), "--window", "1h")
    assert_bounded(outcome)


# ------------------------------------------------------------------ properties of models
@st.composite
def election_configs(draw, min_jitter: float = 1e-3):
    """Valid client-go settings with jitter in [min_jitter, 3] (log-uniform) and an API
    latency of up to a minute (the durations grow with it so that renewals can complete)."""
    from ha_toolkit.election.config import ElectionConfig

    latency = draw(st.sampled_from([0.0, 0.001, 0.05, 1.0, 10.0, 60.0]))
    retry = draw(st.floats(0.2, 10.0)) + latency
    renew = retry * 1.2 * draw(st.floats(1.05, 3.0)) + 2 * latency
    lease = max(renew * draw(st.floats(1.05, 3.0)), 1.0)
    jitter = float(np.exp(draw(st.floats(math.log(min_jitter), math.log(3.0)))))
    candidates = draw(st.integers(2, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ElectionConfig(lease, renew, retry, jitter_factor=jitter, candidates=candidates,
                              api_latency=latency, release_on_cancel=True)


def _check_distribution(dist) -> None:
    lo, hi = dist.support()
    assert lo >= 0.0
    x = np.linspace(lo - 1.0, hi + 1.0, 301)
    cdf = np.asarray(dist.cdf(x))
    assert np.all((cdf >= 0.0) & (cdf <= 1.0))
    assert np.all(np.diff(cdf) >= -1e-12)  # monotone
    q = np.linspace(0.01, 0.99, 25)
    t = np.asarray(dist.ppf(q))
    assert np.all(np.diff(t) >= -1e-9)
    # the quantile's CDF reaches its level, and no earlier point does
    assert np.all(np.asarray(dist.cdf(t)) >= q - 1e-9)
    assert np.all(np.asarray(dist.cdf(t - 1e-6 * max(1.0, hi))) <= q + 1e-9)


@PROPERTIES
@given(election_configs())
def test_failover_distributions_are_distributions(cfg):
    from ha_toolkit.election.timing import failover

    crash, release = failover(cfg, "crash"), failover(cfg, "release")
    _check_distribution(crash)
    _check_distribution(release)
    # a release is taken at the followers' next attempt; a crash waits for the lease too
    assert release.mean() <= crash.mean() + 1e-9


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(election_configs(min_jitter=1e-9).filter(lambda c: c.jitter_factor < 1e-3))
@example(None)  # the fuzzing report's case
def test_failover_with_tiny_jitter_is_a_distribution(cfg):
    from ha_toolkit.election.config import ElectionConfig
    from ha_toolkit.election.timing import failover

    if cfg is None:
        cfg = ElectionConfig(101, 1, 0.5, jitter_factor=1e-9, candidates=2)

    _check_distribution(failover(cfg, "crash"))
    _check_distribution(failover(cfg, "release"))


@PROPERTIES
@given(election_configs(), st.floats(0.0, 120.0), st.sampled_from(["refuse", "blackhole"]))
def test_outage_survival_is_a_probability(cfg, outage, mode):
    from ha_toolkit.election.outage import outage_survival

    result = outage_survival(cfg, outage, mode)
    assert 0.0 <= result.survival_probability <= 1.0
    assert 0.0 <= result.min_tolerated_outage <= result.max_tolerated_outage


@PROPERTIES
@given(st.integers(1, 2000), st.floats(0.0, 1.0, exclude_max=True),
       st.integers(0, 50), st.floats(1e-3, 1e3))
def test_queue_probabilities_and_erlang_c_above_b(servers, load_share, room, rate):
    from ha_toolkit.apiserver.queues import erlang_b, erlang_c, mmck

    load = load_share * servers
    b, c = float(erlang_b(servers, load)), float(erlang_c(servers, load))
    assert 0.0 <= b <= c <= 1.0
    for offered in (load, 3.0 * servers):  # below and above saturation, finite room
        r = mmck(offered * rate, rate, servers, servers + room)
        for value in (r.blocking_probability, r.utilization, r.wait_probability):
            assert 0.0 <= float(value) <= 1.0
        assert float(r.throughput) <= servers * rate * (1 + 1e-12)


@PROPERTIES
@given(st.integers(1, 64).flatmap(lambda q: st.tuples(st.just(q), st.integers(1, q))),
       st.integers(0, 20))
def test_squish_probability_is_a_probability(deck_hand, elephants):
    from ha_toolkit.apiserver.shuffle import squish_probability

    queues, hand = deck_hand
    p = squish_probability(queues, hand, elephants)
    assert 0.0 <= p <= 1.0


@PROPERTIES
@given(st.integers(1, 9).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))),
       st.floats(-9.0, 9.0), st.floats(-9.0, 9.0))
def test_availability_and_its_complement_keep_their_digits(n_k, log_mtbf, log_mttr):
    """Both A and U = 1 - A of a k-of-n tier agree with exact rational arithmetic, to
    relative precision, across 18 decades of MTBF / MTTR (A from 1e-160 to 1 - 1e-160)."""
    from fractions import Fraction

    from ha_toolkit.availability.blocks import Component, k_of_n

    n, k = n_k
    unit = Component(10.0**log_mtbf, 10.0**log_mttr)
    a = Fraction(unit.mtbf) / (Fraction(unit.mtbf) + Fraction(unit.mttr))
    exact_a = sum(math.comb(n, m) * a**m * (1 - a) ** (n - m) for m in range(k, n + 1))
    tier = k_of_n(k, n, unit)
    for value, exact in ((tier.availability, exact_a), (tier.unavailability, 1 - exact_a)):
        assert 0.0 <= value <= 1.0
        if float(exact) > 1e-300:
            assert value == pytest.approx(float(exact), rel=1e-9)
    assert tier.nines >= 0.0 and math.copysign(1.0, tier.nines) > 0
