"""The ``ha-toolkit`` console script.

Subcommands::

    ha-toolkit presets [--json]
    ha-toolkit failover [--preset NAME] [--lease-duration D --renew-deadline D
                        --retry-period D] [--candidates N] [--jitter-factor F]
                        [--api-latency D] [--scenario crash|release] [--json]
    ha-toolkit outage [--preset NAME | durations...] [--candidates N] [--api-latency D]
                      --outage D [--mode refuse|blackhole] [--json]
    ha-toolkit overlap [--preset NAME | durations...] [--clock-rate-ratio R]
                       [--candidates N] [--api-latency D] [--json]
    ha-toolkit queue --servers C [--capacity K] --arrival-rate L --service-time S [--json]
    ha-toolkit availability --replicas N [--quorum K] --mtbf D --mttr D [--json]
    ha-toolkit shuffle --queues Q --hand-size H --elephants E [--json]
    ha-toolkit apf [--server-cl N] [--json]
    ha-toolkit tune --max-p99-failover D [--max-p99-release D] [--survive-outage D
                    [--min-survival P] [--mode refuse|blackhole]] [--max-clock-rate-ratio R]
                    [--max-requests-per-second Q] [--candidates N] [--api-latency D] [--json]
    ha-toolkit check [--preset NAME | durations...] [the target flags of tune] [--json]
    ha-toolkit audit [--leases FILE] [--manifests DIR] [--metrics FILE] [--window D]
                     [--candidates N] [the target flags of tune] [--json]
    ha-toolkit figures [--in-place] [--only PATTERN]

Durations accept ``15s``, ``1m30s``, ``500ms`` or plain seconds. ``--json`` prints one JSON
object on stdout; without it a readable table. Bad input prints one line,
``ha-toolkit: error: <message>``, on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

__all__ = ["main"]

PROG = "ha-toolkit"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    """Bad command-line input; reported on one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _build_parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Timing models of Kubernetes control-plane high availability.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    presets = commands.add_parser("presets", help="list the leader-election presets")
    presets.add_argument("--json", action="store_true", help="print one JSON object")

    fo = commands.add_parser(
        "failover",
        help="leader-switch time after a crash or a release",
        description=(
            "Distribution of the time from the leader's crash (or release) until a follower "
            "holds the lease. Durations accept 15s, 1m30s, 500ms or plain seconds; explicit "
            "durations override those of --preset."
        ),
    )
    _add_config_arguments(fo)
    fo.add_argument("--scenario", choices=("crash", "release"), default="crash")
    fo.add_argument("--json", action="store_true", help="print one JSON object")

    ou = commands.add_parser(
        "outage",
        help="does the leader survive an API outage",
        description=(
            "Probability that the leader renews its lease through an API outage of the given "
            "length, and the lengths always and never survived. --mode refuse: calls fail at "
            "once; blackhole: calls hang until the HTTP timeout max(1s, RD/2). Durations "
            "accept 15s, 1m30s, 500ms or plain seconds."
        ),
    )
    _add_config_arguments(ou)
    ou.add_argument("--outage", metavar="D", required=True, help="length of the API outage")
    ou.add_argument("--mode", choices=("refuse", "blackhole"), default="refuse")
    ou.add_argument("--json", action="store_true", help="print one JSON object")

    ov = commands.add_parser(
        "overlap",
        help="can two leaders act at once after a partition",
        description=(
            "Overlap of the old and new leaders' terms when the leader is cut off from the "
            "API: the probability that both act at once, the largest overlap (negative: a "
            "gap) and the largest clock-rate ratio at which no overlap is possible."
        ),
    )
    _add_config_arguments(ov)
    ov.add_argument(
        "--clock-rate-ratio",
        type=float,
        default=1.0,
        metavar="R",
        help="rate of the followers' clocks over the leader's (1)",
    )
    ov.add_argument("--json", action="store_true", help="print one JSON object")

    qu = commands.add_parser(
        "queue",
        help="M/M/c/K model of an in-flight limit",
        description=(
            "Blocking (429) probability, utilization, throughput and wait of an M/M/c/K "
            "queue: C in-flight slots, capacity K = C + waiting room (default C: a loss "
            "system, like the legacy max-in-flight filter; 'inf' for an unbounded queue). "
            "The service time is a mean (15s, 50ms or plain seconds); waits are those of "
            "accepted requests, in seconds."
        ),
    )
    qu.add_argument("--servers", type=int, required=True, metavar="C", help="in-flight slots")
    qu.add_argument("--capacity", metavar="K", help="slots plus waiting room (default C)")
    qu.add_argument(
        "--arrival-rate", type=float, required=True, metavar="L", help="requests per second"
    )
    qu.add_argument("--service-time", required=True, metavar="S", help="mean service time")
    qu.add_argument("--json", action="store_true", help="print one JSON object")

    av = commands.add_parser(
        "availability",
        help="availability of K-of-N replicas from MTBF and MTTR",
        description=(
            "Steady-state availability of N identical replicas of which K must be up (1: "
            "stateless replicas; 'majority': floor(N/2)+1, an etcd quorum), each failing "
            "after a mean up time MTBF and restored after a mean MTTR, independently. "
            "Durations accept 720h, 30m, 90s, plain seconds, and also 30d or 2w. Downtime "
            "in seconds per 365-day year and 30-day month; nines = -log10(1 - A)."
        ),
    )
    av.add_argument("--replicas", type=int, required=True, metavar="N", help="replicas")
    av.add_argument(
        "--quorum", default="1", metavar="K", help="replicas needed: a number or 'majority' (1)"
    )
    av.add_argument("--mtbf", required=True, metavar="D", help="mean up time of one replica")
    av.add_argument("--mttr", required=True, metavar="D", help="mean time to restore one")
    av.add_argument("--json", action="store_true", help="print one JSON object")

    sh = commands.add_parser(
        "shuffle",
        help="shuffle-sharding: chance that a light flow is squished by heavy ones",
        description=(
            "Probability that every queue of a light flow's hand is also in the hand of one "
            "of E heavy flows (elephants), for independent uniformly random hands of H out "
            "of Q queues (API Priority and Fairness); exact."
        ),
    )
    sh.add_argument("--queues", type=int, required=True, metavar="Q", help="queues of the level")
    sh.add_argument("--hand-size", type=int, required=True, metavar="H", help="queues per hand")
    sh.add_argument("--elephants", type=int, required=True, metavar="E", help="heavy flows")
    sh.add_argument("--json", action="store_true", help="print one JSON object")

    ap = commands.add_parser(
        "apf",
        help="API Priority and Fairness: seats of the default priority levels",
        description=(
            "NominalCL, LendableCL, minCL and maxCL of the API server's default priority "
            "levels for a server concurrency limit (--max-requests-inflight plus "
            "--max-mutating-requests-inflight, 600 by default), and each level's queues."
        ),
    )
    ap.add_argument("--server-cl", type=int, default=600, metavar="N",
                    help="server concurrency limit in seats (600)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")

    tu = commands.add_parser(
        "tune",
        help="lease settings that meet failover, outage, overlap and cost targets",
        description=(
            "Search client-go settings (LD in whole seconds, RD and RP on a grid) that meet "
            "every target and print the best of their Pareto set (p99 crash failover, outage "
            "always survived, lease requests per second), or which target binds. Assumes the "
            "component releases the lease on a clean shutdown. Exit status 1 when nothing "
            "meets the targets."
        ),
    )
    _add_target_arguments(tu, failover_required=True)
    tu.add_argument("--candidates", type=int, default=3, metavar="N", help="processes (3)")
    tu.add_argument("--api-latency", default="0", metavar="D", help="round trip of one API call")
    tu.add_argument("--jitter-factor", type=float, default=1.2, metavar="F", help="(1.2)")
    tu.add_argument("--top", type=int, default=5, metavar="N", help="Pareto rows shown (5)")
    tu.add_argument("--json", action="store_true", help="print one JSON object")

    ch = commands.add_parser(
        "check",
        help="check lease settings against the targets of tune",
        description=(
            "Pass or fail, with the margin, of one configuration against the targets of "
            "tune. Exit status 1 when a target is missed."
        ),
    )
    _add_config_arguments(ch)
    _add_target_arguments(ch, failover_required=False)
    ch.add_argument("--json", action="store_true", help="print one JSON object")

    au = commands.add_parser(
        "audit",
        help="what a cluster's leases, manifests and /metrics imply",
        description=(
            "Read `kubectl get leases -A -o json`, a copy of /etc/kubernetes/manifests and "
            "`kubectl get --raw /metrics` (any may be omitted, at least one given) and report "
            "per component the failover times, outage tolerance, overlap margin and targets, "
            "and per priority level the utilisation and predicted 429 rate at today's load, "
            "+50 % and +100 %. Rates: counter totals / --window (e.g. the API server's "
            "uptime); without it no rates. Files above 5 MiB are refused."
        ),
    )
    au.add_argument("--leases", metavar="FILE", help="kubectl get leases -A -o json (or yaml)")
    au.add_argument("--manifests", metavar="DIR", help="static pod manifests directory")
    au.add_argument("--metrics", metavar="FILE", help="kubectl get --raw /metrics")
    au.add_argument("--window", metavar="D", help="time the metrics' counters cover (uptime)")
    au.add_argument("--candidates", type=int, default=3, metavar="N",
                    help="control-plane replicas per lease (3)")
    _add_target_arguments(au, failover_required=False)
    au.add_argument("--json", action="store_true", help="print one JSON object")

    fig = commands.add_parser(
        "figures",
        help="run the notebooks headless and write figures/",
        description="Execute notebooks/*.ipynb in name order; they write figures/.",
    )
    fig.add_argument(
        "--in-place", action="store_true", help="store the executed outputs in the notebooks"
    )
    fig.add_argument("--only", metavar="PATTERN", help="run only matching notebooks")
    fig.add_argument("--notebooks", metavar="DIR", help="notebooks folder (default: the repo's)")
    return parser


# ----------------------------------------------------------------------------- presets
def _cmd_presets(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.config import presets_frame

    frame = presets_frame()
    if args.json:
        obj = {
            str(row["name"]): {
                "lease_duration": float(row["lease_duration"]),
                "renew_deadline": float(row["renew_deadline"]),
                "retry_period": float(row["retry_period"]),
                "release_on_cancel": bool(row["release_on_cancel"]),
                "source": str(row["source"]),
                "notes": str(row["notes"]),
            }
            for row in frame.to_dict("records")
        }
        print(json.dumps(obj, indent=2), file=out)
        return EXIT_OK
    rows = [
        [
            str(row["name"]),
            _seconds(row["lease_duration"]),
            _seconds(row["renew_deadline"]),
            _seconds(row["retry_period"]),
            "yes" if row["release_on_cancel"] else "no",
        ]
        for row in frame.to_dict("records")
    ]
    header = ["preset", "lease (s)", "renew (s)", "retry (s)", "release on cancel"]
    _print_table(header, rows, out, right=(1, 2, 3))
    return EXIT_OK


# ------------------------------------------------------------------- election settings
def _add_config_arguments(sub: argparse.ArgumentParser) -> None:
    """The election settings shared by failover, outage and overlap (read by _config)."""
    sub.add_argument("--preset", metavar="NAME", help="start from a named preset")
    sub.add_argument("--lease-duration", metavar="D", help="LeaseDuration")
    sub.add_argument("--renew-deadline", metavar="D", help="RenewDeadline")
    sub.add_argument("--retry-period", metavar="D", help="RetryPeriod")
    sub.add_argument("--candidates", type=int, metavar="N", help="contending processes")
    sub.add_argument("--jitter-factor", type=float, metavar="F", help="follower jitter (1.2)")
    sub.add_argument("--api-latency", metavar="D", help="round trip of one API call")


def _config(args: argparse.Namespace) -> Any:
    from ha_toolkit.election.config import LeaseOverlapWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LeaseOverlapWarning)
        cfg = _build_config(args)
    for warning in caught:
        if issubclass(warning.category, LeaseOverlapWarning):
            # one readable line on stderr, without the source path Python would print
            print(f"{PROG}: warning: {_one_line(str(warning.message))}", file=sys.stderr)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return cfg


def _build_config(args: argparse.Namespace) -> Any:
    from ha_toolkit.durations import parse_duration
    from ha_toolkit.election.config import ElectionConfig

    overrides: dict[str, Any] = {}
    for flag, field in (
        ("--lease-duration", "lease_duration"),
        ("--renew-deadline", "renew_deadline"),
        ("--retry-period", "retry_period"),
        ("--api-latency", "api_latency"),
    ):
        raw = getattr(args, field)
        if raw is not None:
            overrides[field] = parse_duration(raw, name=flag)
    if args.candidates is not None:
        overrides["candidates"] = args.candidates
    if args.jitter_factor is not None:
        overrides["jitter_factor"] = args.jitter_factor
    if args.preset is not None:
        return ElectionConfig.preset(args.preset, **overrides)
    missing = [
        flag
        for flag, field in (
            ("--lease-duration", "lease_duration"),
            ("--renew-deadline", "renew_deadline"),
            ("--retry-period", "retry_period"),
        )
        if field not in overrides
    ]
    if missing:
        raise _UsageError(
            f"missing {', '.join(missing)}: give --lease-duration, --renew-deadline and "
            "--retry-period, or --preset NAME"
        )
    return ElectionConfig(**overrides)


def _cmd_failover(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.explore import summarize
    from ha_toolkit.election.timing import failover

    cfg = _config(args)
    stats = summarize(failover(cfg, args.scenario))
    if args.json:
        print(json.dumps(stats), file=out)
        return EXIT_OK
    label = cfg.name if cfg.name else "custom"
    print(
        f"{label}: {args.scenario} failover, seconds from the "
        f"{'crash' if args.scenario == 'crash' else 'release'} until a follower holds the lease",
        file=out,
    )
    print(_settings_line(cfg), file=out)
    rows = [[key, f"{value:.3f}"] for key, value in stats.items()]
    _print_table(["statistic", "seconds"], rows, out, right=(1,))
    return EXIT_OK


def _settings_line(cfg: Any) -> str:
    return (
        f"  lease {_seconds(cfg.lease_duration)} s, renew deadline "
        f"{_seconds(cfg.renew_deadline)} s, retry {_seconds(cfg.retry_period)} s, "
        f"jitter {cfg.jitter_factor:g}, {cfg.candidates} candidates, "
        f"API latency {_seconds(cfg.api_latency)} s"
    )


# ------------------------------------------------------------------------------ outage
def _cmd_outage(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.durations import parse_duration
    from ha_toolkit.election.outage import outage_survival

    cfg = _config(args)
    length = parse_duration(args.outage, name="--outage")
    result = outage_survival(cfg, length, args.mode)
    obj = {
        "survival_probability": result.survival_probability,
        "min_tolerated_outage": result.min_tolerated_outage,
        "max_tolerated_outage": result.max_tolerated_outage,
        "mode": result.mode,
        "exact": result.exact,
    }
    if args.json:
        print(json.dumps(obj), file=out)
        return EXIT_OK
    how = "calls refused" if args.mode == "refuse" else "calls hang (blackhole)"
    label = cfg.name if cfg.name else "custom"
    print(f"{label}: API outage of {_seconds(length)} s, {how}", file=out)
    print(_settings_line(cfg), file=out)
    rows = [
        ["survival probability", f"{result.survival_probability:.3f}"],
        ["always survived up to (s)", f"{result.min_tolerated_outage:.3f}"],
        ["never survived beyond (s)", f"{result.max_tolerated_outage:.3f}"],
    ]
    _print_table(["quantity", "value"], rows, out, right=(1,))
    if not result.exact:
        print(
            "  upper bound: a follower can take the lease before the leader's renew deadline",
            file=out,
        )
    return EXIT_OK


# ----------------------------------------------------------------------------- overlap
def _cmd_overlap(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.overlap import overlap_summary

    cfg = _config(args)
    summary = overlap_summary(cfg, args.clock_rate_ratio)
    obj = {
        "overlap_probability": summary.overlap_probability,
        "max_overlap": summary.max_overlap,
        "max_safe_clock_rate_ratio": summary.max_safe_clock_rate_ratio,
        "mean_overlap": summary.mean_overlap,
    }
    if args.json:
        print(json.dumps(obj), file=out)
        return EXIT_OK
    label = cfg.name if cfg.name else "custom"
    print(
        f"{label}: leader cut off from the API, followers' clocks at "
        f"{summary.clock_rate_ratio:g} x the leader's rate",
        file=out,
    )
    print(_settings_line(cfg), file=out)
    rows = [
        ["overlap probability", f"{summary.overlap_probability:.3f}"],
        ["max overlap (s)", f"{summary.max_overlap:.3f}"],
        ["mean overlap (s)", f"{summary.mean_overlap:.3f}"],
        ["max safe clock-rate ratio", f"{summary.max_safe_clock_rate_ratio:.4f}"],
    ]
    _print_table(["quantity", "value"], rows, out, right=(1,))
    print("  a negative overlap is a gap with no leader acting", file=out)
    return EXIT_OK


# ------------------------------------------------------------------------------- queue
def _cmd_queue(args: argparse.Namespace, out: TextIO) -> int:
    import math

    from ha_toolkit.apiserver.queues import mmck
    from ha_toolkit.durations import parse_duration

    if args.servers < 1:
        raise _UsageError(f"--servers must be >= 1, got {args.servers}")
    capacity: float | None = float(args.servers)
    if args.capacity is not None:
        raw = args.capacity.strip().lower()
        if raw in ("inf", "infinity", "none"):
            capacity = None
        else:
            try:
                capacity = int(raw)
            except ValueError:
                raise _UsageError(
                    f"--capacity must be a whole number or inf, got {args.capacity!r}"
                ) from None
            if capacity < args.servers:
                raise _UsageError(
                    f"--capacity must be >= --servers ({args.servers}), got {capacity}"
                )
    if not (math.isfinite(args.arrival_rate) and args.arrival_rate >= 0):
        raise _UsageError(f"--arrival-rate must be finite and >= 0, got {args.arrival_rate}")
    service_time = parse_duration(args.service_time, name="--service-time")
    if not service_time > 0:
        raise _UsageError(f"--service-time must be > 0, got {args.service_time!r}")
    result = mmck(args.arrival_rate, 1.0 / service_time, args.servers, capacity)
    obj = {
        "blocking_probability": float(result.blocking_probability),
        "utilization": float(result.utilization),
        "throughput": float(result.throughput),
        "mean_wait": float(result.mean_wait),
        "p99_wait": float(result.wait_quantile(0.99)),
    }
    if args.json:
        print(json.dumps(obj), file=out)
        return EXIT_OK
    cap = "inf" if capacity is None else f"{int(capacity)}"
    print(
        f"M/M/{args.servers}/{cap}: arrival rate {args.arrival_rate:g}/s, service time "
        f"{_seconds(service_time)} s, offered load {float(result.offered_load):.4g} Erlangs",
        file=out,
    )
    rows = [
        ["blocking (429) probability", f"{obj['blocking_probability']:.6g}"],
        ["utilization", f"{obj['utilization']:.6g}"],
        ["throughput (/s)", f"{obj['throughput']:.6g}"],
        ["mean wait (s)", f"{obj['mean_wait']:.6g}"],
        ["p99 wait (s)", f"{obj['p99_wait']:.6g}"],
    ]
    _print_table(["quantity", "value"], rows, out, right=(1,))
    return EXIT_OK


# ------------------------------------------------------------------------ availability
def _cmd_availability(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.availability.blocks import quorum
    from ha_toolkit.availability.explore import format_duration, tier_availability

    if args.replicas < 1:
        raise _UsageError(f"invalid --replicas {args.replicas}: must be >= 1")
    text = str(args.quorum).strip().lower()
    if text == "majority":
        needed = quorum(args.replicas)
    else:
        try:
            needed = int(text)
        except ValueError:
            raise _UsageError(
                f"invalid --quorum {args.quorum!r}: expected a whole number or 'majority'"
            ) from None
    if not 1 <= needed <= args.replicas:
        raise _UsageError(f"invalid --quorum {needed}: must lie in 1..{args.replicas}")
    res = tier_availability(
        args.replicas, needed, _flag(args.mtbf, "--mtbf"), _flag(args.mttr, "--mttr")
    )
    if args.json:
        nines = res["nines"]
        obj = {
            "availability": res["availability"],
            "nines": nines if nines != float("inf") else None,
            "downtime_per_year": res["downtime_per_year"],
            "downtime_per_month": res["downtime_per_month"],
        }
        print(json.dumps(obj), file=out)
        return EXIT_OK
    print(
        f"{needed} of {args.replicas} replicas needed; one replica available "
        f"{100 * res['replica_availability']:.6g} %",
        file=out,
    )
    nines = res["nines"]
    rows = [
        ["availability", f"{100 * res['availability']:.8g} %"],
        ["nines", "inf" if nines == float("inf") else f"{nines:.3f}"],
        ["downtime per year", format_duration(res["downtime_per_year"])],
        ["downtime per 30-day month", format_duration(res["downtime_per_month"])],
    ]
    _print_table(["quantity", "value"], rows, out, right=(1,))
    return EXIT_OK


def _flag(value: str, flag: str) -> float:
    from ha_toolkit.availability.blocks import parse_long_duration

    return parse_long_duration(value, name=flag)


# ----------------------------------------------------------------------------- shuffle
def _cmd_shuffle(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.apiserver.shuffle import overlap_probability, squish_probability

    for flag, value, low in (
        ("--queues", args.queues, 1),
        ("--hand-size", args.hand_size, 1),
        ("--elephants", args.elephants, 0),
    ):
        if value < low:
            raise _UsageError(f"{flag} must be >= {low}, got {value}")
    if args.hand_size > args.queues:
        raise _UsageError(
            f"--hand-size must be <= --queues ({args.queues}), got {args.hand_size}"
        )
    p = squish_probability(args.queues, args.hand_size, args.elephants)
    if args.json:
        print(json.dumps({"probability": p}), file=out)
        return EXIT_OK
    print(
        f"{args.queues} queues, hands of {args.hand_size}, {args.elephants} elephant"
        f"{'' if args.elephants == 1 else 's'}",
        file=out,
    )
    rows = [
        ["P(mouse squished)", f"{p:.6g}"],
        ["P(shares a queue with one elephant)",
         f"{overlap_probability(args.queues, args.hand_size):.6g}"],
    ]
    _print_table(["quantity", "probability"], rows, out, right=(1,))
    return EXIT_OK


# --------------------------------------------------------------------------------- apf
def _cmd_apf(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.apiserver.apf import allocate

    if args.server_cl < 1:
        raise _UsageError(f"--server-cl must be >= 1, got {args.server_cl}")
    alloc = allocate(server_cl=args.server_cl)
    frame = alloc.to_frame()
    if args.json:
        levels = {}
        for row in frame.to_dict("records"):
            blp = row["borrowing_limit_percent"]
            levels[str(row["name"])] = {
                "type": str(row["type"]),
                "nominal_concurrency_shares": int(row["nominal_concurrency_shares"]),
                "lendable_percent": int(row["lendable_percent"]),
                "borrowing_limit_percent": None if blp != blp else int(blp),
                "nominal_cl": int(row["nominal_cl"]),
                "lendable_cl": int(row["lendable_cl"]),
                "borrowing_cl": int(row["borrowing_cl"]),
                "min_cl": int(row["min_cl"]),
                "max_cl": int(row["max_cl"]),
                "max_seats": int(row["max_seats"]),
                "queues": int(row["queues"]),
                "hand_size": int(row["hand_size"]),
                "queue_length_limit": int(row["queue_length_limit"]),
            }
        obj = {
            "server_cl": alloc.server_cl,
            "nominal_cl_sum": alloc.nominal_cl_sum,
            "levels": levels,
        }
        print(json.dumps(obj), file=out)
        return EXIT_OK
    print(
        f"ServerCL {alloc.server_cl} seats, sum of shares {alloc.share_sum}, "
        f"sum of NominalCL {alloc.nominal_cl_sum}",
        file=out,
    )
    rows = []
    for row in frame.to_dict("records"):
        queuing = (
            f"{row['queues']}/{row['hand_size']}/{row['queue_length_limit']}"
            if row["queues"]
            else "-"
        )
        rows.append(
            [
                str(row["name"]),
                str(row["nominal_concurrency_shares"]),
                f"{row['lendable_percent']}%",
                str(row["nominal_cl"]),
                str(row["lendable_cl"]),
                str(row["min_cl"]),
                str(row["max_cl"]),
                str(row["max_seats"]) if row["max_seats"] else "-",
                queuing,
            ]
        )
    header = ["level", "shares", "lendable", "nominal", "lendable CL", "min", "max",
              "max seats", "queues/hand/limit"]
    _print_table(header, rows, out, right=(1, 2, 3, 4, 5, 6, 7))
    return EXIT_OK


# ------------------------------------------------------------------------ tune, check
_TARGET_FLAGS = {
    "max_p99_failover": "--max-p99-failover",
    "max_p99_release": "--max-p99-release",
    "survive_outage": "--survive-outage",
    "min_survival": "--min-survival",
    "outage_mode": "--mode",
    "max_clock_rate_ratio": "--max-clock-rate-ratio",
    "max_requests_per_second": "--max-requests-per-second",
}


def _add_target_arguments(sub: argparse.ArgumentParser, *, failover_required: bool) -> None:
    """The targets shared by tune and check (read by _targets)."""
    sub.add_argument(
        "--max-p99-failover",
        metavar="D",
        required=failover_required,
        help="largest p99 of the crash failover time",
    )
    sub.add_argument(
        "--max-p99-release", metavar="D", help="largest p99 failover after a clean shutdown"
    )
    sub.add_argument("--survive-outage", metavar="D", help="API outage the leader must survive")
    sub.add_argument(
        "--min-survival", type=float, metavar="P", help="probability of surviving it (0.99)"
    )
    sub.add_argument(
        "--mode", choices=("refuse", "blackhole"), default="refuse", help="how calls fail"
    )
    sub.add_argument(
        "--max-clock-rate-ratio",
        type=float,
        default=1.0,
        metavar="R",
        help="no term overlap up to this clock-rate ratio (1)",
    )
    sub.add_argument(
        "--max-requests-per-second", type=float, metavar="Q", help="lease request budget"
    )


def _targets(args: argparse.Namespace) -> Any:
    from ha_toolkit.durations import parse_duration
    from ha_toolkit.election.tuning import Targets

    if args.min_survival is not None and args.survive_outage is None:
        raise _UsageError("--min-survival needs --survive-outage")
    values: dict[str, Any] = {
        "outage_mode": args.mode,
        "max_clock_rate_ratio": args.max_clock_rate_ratio,
        "max_requests_per_second": args.max_requests_per_second,
    }
    for field in ("max_p99_failover", "max_p99_release", "survive_outage"):
        raw = getattr(args, field)
        if raw is not None:
            values[field] = parse_duration(raw, name=_TARGET_FLAGS[field])
    if args.min_survival is not None:
        values["min_survival"] = args.min_survival
    try:
        return Targets(**values)
    except ValueError as exc:
        message = str(exc)
        for field, flag in _TARGET_FLAGS.items():
            message = message.replace(field, flag)
        raise _UsageError(message) from None


def _json_number(value: Any) -> Any:
    """A plain int or float for JSON, None for NaN (JSON has no NaN)."""
    import math
    import numbers

    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    return None if math.isnan(value) else value


def _targets_line(targets: Any) -> str:
    parts = []
    if targets.max_p99_failover is not None:
        parts.append(f"p99 crash failover <= {_seconds(targets.max_p99_failover)} s")
    if targets.max_p99_release is not None:
        parts.append(f"p99 release failover <= {_seconds(targets.max_p99_release)} s")
    if targets.survive_outage is not None:
        parts.append(
            f"survive a {_seconds(targets.survive_outage)} s {targets.outage_mode} outage "
            f"with p >= {targets.min_survival:g}"
        )
    parts.append(f"no term overlap up to clock-rate ratio {targets.max_clock_rate_ratio:g}")
    if targets.max_requests_per_second is not None:
        parts.append(f"<= {targets.max_requests_per_second:g} lease requests/s")
    return "targets: " + "; ".join(parts)


def _cmd_tune(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.durations import parse_duration
    from ha_toolkit.election.tuning import recommend

    targets = _targets(args)
    if args.top < 1:
        raise _UsageError(f"--top must be >= 1, got {args.top}")
    found = recommend(
        targets,
        candidates=args.candidates,
        api_latency=parse_duration(args.api_latency, name="--api-latency"),
        jitter_factor=args.jitter_factor,
    )
    keys = (
        "lease_duration",
        "renew_deadline",
        "retry_period",
        "p99_failover",
        "p99_release",
        "survival_probability",
        "requests_per_second",
        "tolerated_outage",
        "max_safe_clock_rate_ratio",
    )
    best = found.best or {}
    top = found.pareto.head(args.top)
    if args.json:
        obj: dict[str, Any] = {"feasible": found.feasible}
        obj.update({key: _json_number(best.get(key)) for key in keys})
        obj["pareto_size"] = len(found.pareto)
        obj["feasible_count"] = found.feasible_count
        obj["grid_size"] = found.grid_size
        obj["pareto"] = [
            {key: _json_number(value) for key, value in row.items()}
            for row in top.to_dict("records")
        ]
        obj["binding"] = list(found.binding)
        obj["diagnostics"] = [
            {key: _json_number(value) for key, value in row.items()}
            for row in found.diagnostics.to_dict("records")
        ]
        print(json.dumps(obj), file=out)
        return EXIT_OK if found.feasible else EXIT_FAILURE
    print(_targets_line(targets), file=out)
    print(
        f"  {args.candidates} candidates, API latency {_seconds(found.settings['api_latency'])}"
        f" s, jitter {found.settings['jitter_factor']:g}",
        file=out,
    )
    print(found.explain(), file=out)
    if not found.feasible:
        rows = [
            [
                str(row["target"]),
                f"{row['limit']:g}",
                str(row["passing"]),
                str(row["passing_others"]),
                "-" if row["closest"] != row["closest"] else f"{row['closest']:.4g}",
                "yes" if row["binding"] else "no",
            ]
            for row in found.diagnostics.to_dict("records")
        ]
        header = ["target", "limit", "passing", "passing others", "closest", "binding"]
        _print_table(header, rows, out, right=(1, 2, 3, 4))
        return EXIT_FAILURE
    rows = [
        [
            _seconds(row["lease_duration"]),
            _seconds(row["renew_deadline"]),
            _seconds(row["retry_period"]),
            f"{row['p99_failover']:.2f}",
            f"{row['p99_release']:.2f}",
            f"{row['tolerated_outage']:.2f}",
            f"{row['max_safe_clock_rate_ratio']:.3f}",
            f"{row['requests_per_second']:.3f}",
        ]
        for row in top.to_dict("records")
    ]
    header = [
        "lease (s)",
        "renew (s)",
        "retry (s)",
        "p99 crash (s)",
        "p99 release (s)",
        "outage survived (s)",
        "safe clock ratio",
        "requests/s",
    ]
    print(f"best first ({len(top)} of {len(found.pareto)}):", file=out)
    _print_table(header, rows, out, right=tuple(range(8)))
    return EXIT_OK


def _cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.tuning import evaluate

    targets = _targets(args)
    cfg = _config(args)
    result = evaluate(cfg, targets)
    if args.json:
        obj = {
            "passed": result.passed,
            "failed": list(result.failed),
            "checks": {
                check.target: {
                    "metric": check.metric,
                    "value": _json_number(check.value),
                    "limit": _json_number(check.limit),
                    "passed": check.passed,
                    "margin": _json_number(check.margin),
                    "note": check.note,
                }
                for check in result.checks
            },
            "metrics": {key: _json_number(value) for key, value in result.metrics.items()},
        }
        print(json.dumps(obj), file=out)
        return EXIT_OK if result.passed else EXIT_FAILURE
    label = cfg.name if cfg.name else "custom"
    print(f"{label}: {'every target met' if result.passed else 'target(s) missed'}", file=out)
    print(_settings_line(cfg), file=out)
    rows = [
        [
            check.target,
            check.metric,
            f"{check.value:.4g}",
            f"{check.limit:g}",
            f"{check.margin:+.4g}",
            "pass" if check.passed else "FAIL",
        ]
        for check in result.checks
    ]
    _print_table(["target", "metric", "value", "limit", "margin", "result"], rows, out,
                 right=(2, 3, 4))  # fmt: skip
    for check in result.checks:
        if check.note:
            print(f"  {check.target}: {check.note}", file=out)
    return EXIT_OK if result.passed else EXIT_FAILURE


# ------------------------------------------------------------------------------- audit
def _cmd_audit(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.audit import audit

    if args.leases is None and args.manifests is None and args.metrics is None:
        raise _UsageError("give at least one of --leases, --manifests, --metrics")
    if args.candidates < 2:
        raise _UsageError(f"--candidates must be >= 2, got {args.candidates}")
    targets = _targets(args)
    window = None
    if args.window is not None:
        from ha_toolkit.durations import parse_duration

        window = parse_duration(args.window, name="--window")
        if not window > 0:
            raise _UsageError(f"--window must be > 0, got {args.window!r}")
    report = audit(args.leases, args.manifests, args.metrics, window=window, targets=targets,
                   candidates=args.candidates)
    if args.json:
        print(json.dumps(report.to_dict()), file=out)
        return EXIT_OK

    def num(value: Any, fmt: str = ".3g") -> str:
        return "-" if value is None or value != value else format(value, fmt)

    comps = report.components
    if len(comps):
        print(_targets_line(targets), file=out)
        rows = []
        for r in comps.to_dict("records"):
            if r["component"] == "kube-apiserver":
                rows.append([r["component"], f"ServerCL {num(r['server_cl'], 'g')}"] + ["-"] * 6)
                continue
            settings = "/".join(num(r[k], "g") for k in
                                ("lease_duration", "renew_deadline", "retry_period"))
            verdict = "-" if r["passed"] is None else ("pass" if r["passed"] else
                                                       "FAIL " + r["failed"])
            rows.append([
                r["component"], settings,
                f"{num(r['p50_crash'])}/{num(r['p99_crash'])}",
                f"{num(r['p50_release'])}/{num(r['p99_release'])}",
                f"{num(r['min_tolerated_outage'])}-{num(r['max_tolerated_outage'])}",
                num(r["overlap_margin"]), num(r["max_safe_clock_rate_ratio"]), verdict,
            ])
        _print_table(["component", "LD/RD/RP s", "crash p50/p99 s", "shutdown p50/p99 s",
                      "outage s", "margin s", "safe ratio", "targets"], rows, out,
                     right=(2, 3, 4, 5, 6))  # fmt: skip
        for r in comps.to_dict("records"):
            if r["note"] and r["component"] != "kube-apiserver":
                print(f"  {r['component']}: {r['note']}", file=out)
    if len(report.levels):
        if len(comps):
            print(file=out)
        window_text = "no window: no rates" if report.window is None else (
            f"rates over a window of {report.window:g} s")
        print(f"priority levels ({window_text})", file=out)
        load = report.load.set_index(["priority_level", "load_factor"])
        factors = sorted(set(report.load["load_factor"])) if len(report.load) else []
        header = ["level", "seats", "req/s", "exec s", "demand"]
        header += [f"util/429 x{f:g}" for f in factors]
        rows = []
        for r in report.levels.to_dict("records"):
            row = [r["priority_level"],
                   f"{num(r['current_limit_seats'], 'g')}/{num(r['nominal_limit_seats'], 'g')}",
                   num(r["arrival_rate"], ".4g"), num(r["service_time"]),
                   num(r["seat_demand"])]
            for f in factors:
                key = (r["priority_level"], f)
                if key in load.index:
                    x = load.loc[key]
                    row.append(f"{x['utilization']:.2f}/{x['rejection_rate']:.4g}")
                else:
                    row.append("-")
            rows.append(row)
        _print_table(header, rows, out, right=tuple(range(1, len(header))))
        print("  seats: current/nominal; demand: seats in use (Little's law); "
              "429: predicted rejections per second", file=out)
    if report.notes:
        print("notes:", file=out)
        for note in report.notes:
            print(f"  {note}", file=out)
    return EXIT_OK


# ----------------------------------------------------------------------------- figures
def _cmd_figures(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.figures import run_figures

    runs = run_figures(args.notebooks, only=args.only, in_place=args.in_place)
    rows = []
    for run in runs:
        stored = ("stored" if run.stored else "unchanged") if args.in_place else "-"
        rows.append([run.path.name, f"{run.seconds:.1f}", str(len(run.figures)), stored])
    _print_table(["notebook", "seconds", "files written", "outputs"], rows, out, right=(1, 2))
    return EXIT_OK


# ------------------------------------------------------------------------------ output
def _seconds(value: Any) -> str:
    return f"{float(value):g}"


def _print_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO, right: Sequence[int] = ()
) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    print(line(header), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line(row), file=out)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


_COMMANDS = {
    "presets": _cmd_presets,
    "failover": _cmd_failover,
    "outage": _cmd_outage,
    "overlap": _cmd_overlap,
    "queue": _cmd_queue,
    "availability": _cmd_availability,
    "shuffle": _cmd_shuffle,
    "apf": _cmd_apf,
    "tune": _cmd_tune,
    "check": _cmd_check,
    "audit": _cmd_audit,
    "figures": _cmd_figures,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ha-toolkit`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 on success, 2 for bad input (one line on stderr), 1 when a notebook fails or
        (tune, check) a target is missed.
    """
    out, err = sys.stdout, sys.stderr
    parser = _build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except _UsageError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=err)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        return _COMMANDS[args.command](args, out)
    except (_UsageError, ValueError) as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=err)
        return EXIT_USAGE
    except RuntimeError as exc:  # NotebookError and other run-time failures
        print(f"{PROG}: error: {_one_line(str(exc))}", file=err)
        return EXIT_FAILURE
    except BrokenPipeError:  # e.g. `ha-toolkit presets --json | head`
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
