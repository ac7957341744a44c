"""Subcommand of the kubelet probe model: probe."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_OK,
    MAX_DURATION,
    UsageError,
    add_json_flag,
    duration_flag,
    in_range,
    json_finite,
    json_number,
    print_json,
    print_table,
)

_KEYS = ("mean", "p50", "p99", "min", "max")
#: periodSeconds and timeoutSeconds are whole seconds >= 1 (kubernetes
#: pkg/apis/core/validation ``validateProbe``: ``ValidatePositiveField`` on int32 seconds).
MIN_PROBE_SECONDS = 1.0
#: failureThreshold: the API takes any positive int32; beyond ten thousand failures (a day
#: of probes every 10 s is 8640) no probe is meant, and the model's lattice stays small.
MAX_FAILURE_THRESHOLD = 10_000
#: back-off restarts counted: the back-off is at its 300 s cap from the sixth on.
MAX_RECENT_RESTARTS = 1_000_000


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
    pr = commands.add_parser(
        "probe",
        help="how long the kubelet takes to detect a failed process and have it Ready again",
        description=(
            "Detection and recovery times of a static pod's liveness probe, as the kubelet's "
            "prober worker runs it: one probe per tick of periodSeconds, a probe that times "
            "out after timeoutSeconds > periodSeconds followed at once by the next, "
            "failureThreshold failures in a row. --failure exit: the kubelet sees the exit at "
            "its next relist (1 s); refusing: probes fail at once; hung: every probe times "
            "out. Recovery: until the restarted container is Ready (stop, back-off, "
            "--startup, startup and readiness probes). --manifest reads the probes, "
            "terminationGracePeriodSeconds and --shutdown-delay-duration from a static pod "
            "manifest; the probe flags then override its liveness probe."
        ),
    )
    pr.add_argument("--period", metavar="D", help="liveness periodSeconds")
    pr.add_argument("--timeout", metavar="D", help="liveness timeoutSeconds")
    pr.add_argument("--failure-threshold", type=int, metavar="N", help="failureThreshold")
    pr.add_argument("--initial-delay", metavar="D", help="initialDelaySeconds (0)")
    pr.add_argument(
        "--failure", required=True, choices=("exit", "refusing", "hung"), help="how it fails"
    )
    pr.add_argument("--manifest", metavar="FILE", help="a static pod manifest")
    pr.add_argument("--startup", default="20s", metavar="D",
                    help="time from container start until the server is healthy (20s)")
    pr.add_argument("--grace-period", metavar="D",
                    help="terminationGracePeriodSeconds (30s, or the manifest's)")
    pr.add_argument("--recent-restarts", type=int, default=0, metavar="N",
                    help="back-off restarts in the last 10 minutes (0: restart at once)")
    add_json_flag(pr)
    pr.set_defaults(func=_cmd_probe)


def _duration(value: str, flag: str) -> float:
    """Seconds of a delay flag: >= 0 and at most a day."""
    return duration_flag(flag, value)


def _probe_seconds(value: str, flag: str) -> float:
    """Seconds of --period or --timeout: at least 1 s (the API's minimum), at most a day."""
    seconds = duration_flag(flag, value, positive=True)
    return float(in_range(flag, seconds, MIN_PROBE_SECONDS, MAX_DURATION, unit=" s"))


def _liveness(args: argparse.Namespace, base: Any) -> Any:
    from ha_toolkit.availability.probes import Probe

    threshold = args.failure_threshold
    if threshold is not None:
        in_range("--failure-threshold", threshold, 1, MAX_FAILURE_THRESHOLD)
    given = {
        "period": None if args.period is None else _probe_seconds(args.period, "--period"),
        "timeout": None if args.timeout is None else _probe_seconds(args.timeout, "--timeout"),
        "failure_threshold": threshold,
        "initial_delay": (None if args.initial_delay is None
                          else _duration(args.initial_delay, "--initial-delay")),
    }
    if base is None:
        missing = [f"--{k.replace('_', '-')}" for k in ("period", "timeout", "failure_threshold")
                   if given[k] is None]
        if missing:
            raise UsageError(f"give {', '.join(missing)} or --manifest")
        base = Probe(given["period"], given["timeout"], given["failure_threshold"])
    values = {k: getattr(base, k) for k in
              ("period", "timeout", "failure_threshold", "success_threshold", "initial_delay")}
    values.update({k: v for k, v in given.items() if v is not None})
    return Probe(**values)


def _summary(dist: Any) -> dict[str, Any]:
    s = dist.summary((0.5, 0.99))
    return {k: json_number(round(s[k], 6)) for k in _KEYS}


def _cmd_probe(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.availability.probes import Restart, detection, recovery

    pod = None
    if args.manifest is not None:
        from ha_toolkit.audit.pod_probes import read_pod_probes

        pod = read_pod_probes(args.manifest)
        if pod["liveness"] is None and args.period is None:
            raise UsageError(f"{args.manifest}: the pod has no livenessProbe; give --period, "
                             "--timeout and --failure-threshold")
    live = _liveness(args, None if pod is None else pod["liveness"])
    in_range("--recent-restarts", args.recent_restarts, 0, MAX_RECENT_RESTARTS)
    grace = 30.0 if pod is None else pod["grace_period"]
    if args.grace_period is not None:
        grace = _duration(args.grace_period, "--grace-period")
    delay = 0.0
    if pod is not None and pod["component"] == "kube-apiserver":
        delay = pod["shutdown_delay"]
    restart = Restart(startup=_duration(args.startup, "--startup"), grace_period=grace,
                      shutdown_delay=delay, recent_restarts=args.recent_restarts)
    readiness = None if pod is None else pod["readiness"]
    startup_probe = None if pod is None else pod["startup"]
    det = detection(live, args.failure)
    rec = recovery(live, args.failure, restart, readiness=readiness, startup_probe=startup_probe)
    result = {
        "failure": args.failure,
        "source": args.manifest or "flags",
        "liveness": {
            "period": live.period,
            "timeout": live.timeout,
            "failure_threshold": live.failure_threshold,
            "initial_delay": live.initial_delay,
        },
        "readiness": _probe_json(readiness),
        "startup_probe": _probe_json(startup_probe),
        "restart": {
            "startup": restart.startup,
            "grace_period": restart.grace_period,
            "stop": restart.stop_time(args.failure),
            "backoff": restart.backoff,
            "shutdown_delay": restart.shutdown_delay,
        },
        "detection": _summary(det),
        "recovery": _summary(rec),
    }
    if args.json:
        # the probe settings are in the answer; the inputs say where they came from
        inputs = {"failure": args.failure, "manifest": args.manifest}
        print_json(json_finite(result), inputs, out)
        return EXIT_OK
    print(f"liveness: every {live.period:g}s, timeout {live.timeout:g}s, "
          f"{live.failure_threshold} failures; failure: {args.failure}", file=out)
    rows = [[name] + [f"{result[name][k]:.2f}" for k in _KEYS]
            for name in ("detection", "recovery")]
    print_table(["seconds", *_KEYS], rows, out, right=range(1, 6))
    return EXIT_OK


def _probe_json(p: Any) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"period": p.period, "timeout": p.timeout, "failure_threshold": p.failure_threshold,
            "success_threshold": p.success_threshold, "initial_delay": p.initial_delay}
