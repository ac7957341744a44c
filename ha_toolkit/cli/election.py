"""Subcommands of the leader-election models: presets, failover, outage, overlap, tune, check."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_FAILURE,
    EXIT_OK,
    MAX_CANDIDATES,
    MAX_JITTER_FACTOR,
    PROG,
    UsageError,
    duration_flag,
    in_range,
    json_number,
    name_flags,
    one_line,
    print_table,
    seconds,
)


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
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
    presets.set_defaults(func=_cmd_presets)
    fo.set_defaults(func=_cmd_failover)
    ou.set_defaults(func=_cmd_outage)
    ov.set_defaults(func=_cmd_overlap)
    tu.set_defaults(func=_cmd_tune)
    ch.set_defaults(func=_cmd_check)


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
            seconds(row["lease_duration"]),
            seconds(row["renew_deadline"]),
            seconds(row["retry_period"]),
            "yes" if row["release_on_cancel"] else "no",
        ]
        for row in frame.to_dict("records")
    ]
    header = ["preset", "lease (s)", "renew (s)", "retry (s)", "release on cancel"]
    print_table(header, rows, out, right=(1, 2, 3))
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
            print(f"{PROG}: warning: {one_line(str(warning.message))}", file=sys.stderr)
        else:
            warnings.showwarning(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return cfg


def _build_config(args: argparse.Namespace) -> Any:
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
            # positive first: client-go's ordering checks would name the wrong problem
            overrides[field] = duration_flag(flag, raw, positive=field != "api_latency")
    if args.candidates is not None:
        overrides["candidates"] = in_range("--candidates", args.candidates, 1, MAX_CANDIDATES)
    if args.jitter_factor is not None:
        overrides["jitter_factor"] = in_range(
            "--jitter-factor", args.jitter_factor, 0.0, MAX_JITTER_FACTOR
        )
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
        raise UsageError(
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
    print_table(["statistic", "seconds"], rows, out, right=(1,))
    return EXIT_OK


def _settings_line(cfg: Any) -> str:
    return (
        f"  lease {seconds(cfg.lease_duration)} s, renew deadline "
        f"{seconds(cfg.renew_deadline)} s, retry {seconds(cfg.retry_period)} s, "
        f"jitter {cfg.jitter_factor:g}, {cfg.candidates} candidates, "
        f"API latency {seconds(cfg.api_latency)} s"
    )


# ------------------------------------------------------------------------------ outage
def _cmd_outage(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.outage import outage_survival

    cfg = _config(args)
    length = duration_flag("--outage", args.outage)
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
    print(f"{label}: API outage of {seconds(length)} s, {how}", file=out)
    print(_settings_line(cfg), file=out)
    rows = [
        ["survival probability", f"{result.survival_probability:.3f}"],
        ["always survived up to (s)", f"{result.min_tolerated_outage:.3f}"],
        ["never survived beyond (s)", f"{result.max_tolerated_outage:.3f}"],
    ]
    print_table(["quantity", "value"], rows, out, right=(1,))
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
    in_range("--clock-rate-ratio", args.clock_rate_ratio, high=_MAX_CLOCK_RATE_RATIO,
             positive=True)
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
    print_table(["quantity", "value"], rows, out, right=(1,))
    print("  a negative overlap is a gap with no leader acting", file=out)
    return EXIT_OK


# clocks that differ in rate by more than this are broken, not drifting
_MAX_CLOCK_RATE_RATIO = 1000.0

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
    from ha_toolkit.election.tuning import Targets

    if args.min_survival is not None and args.survive_outage is None:
        raise UsageError("--min-survival needs --survive-outage")
    values: dict[str, Any] = {
        "outage_mode": args.mode,
        "max_clock_rate_ratio": args.max_clock_rate_ratio,
        "max_requests_per_second": args.max_requests_per_second,
    }
    for field in ("max_p99_failover", "max_p99_release", "survive_outage"):
        raw = getattr(args, field)
        if raw is not None:
            values[field] = duration_flag(_TARGET_FLAGS[field], raw)
    if args.min_survival is not None:
        values["min_survival"] = args.min_survival
    in_range("--max-clock-rate-ratio", args.max_clock_rate_ratio, high=_MAX_CLOCK_RATE_RATIO)
    try:
        return Targets(**values)
    except ValueError as exc:
        raise UsageError(name_flags(str(exc))) from None


def _targets_line(targets: Any) -> str:
    parts = []
    if targets.max_p99_failover is not None:
        parts.append(f"p99 crash failover <= {seconds(targets.max_p99_failover)} s")
    if targets.max_p99_release is not None:
        parts.append(f"p99 release failover <= {seconds(targets.max_p99_release)} s")
    if targets.survive_outage is not None:
        parts.append(
            f"survive a {seconds(targets.survive_outage)} s {targets.outage_mode} outage "
            f"with p >= {targets.min_survival:g}"
        )
    parts.append(f"no term overlap up to clock-rate ratio {targets.max_clock_rate_ratio:g}")
    if targets.max_requests_per_second is not None:
        parts.append(f"<= {targets.max_requests_per_second:g} lease requests/s")
    return "targets: " + "; ".join(parts)


def _cmd_tune(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.tuning import recommend

    targets = _targets(args)
    in_range("--top", args.top, 1)
    found = recommend(
        targets,
        candidates=in_range("--candidates", args.candidates, 2, MAX_CANDIDATES),
        api_latency=duration_flag("--api-latency", args.api_latency),
        jitter_factor=in_range("--jitter-factor", args.jitter_factor, 0.0, MAX_JITTER_FACTOR),
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
        obj.update({key: json_number(best.get(key)) for key in keys})
        obj["pareto_size"] = len(found.pareto)
        obj["feasible_count"] = found.feasible_count
        obj["grid_size"] = found.grid_size
        obj["pareto"] = [
            {key: json_number(value) for key, value in row.items()}
            for row in top.to_dict("records")
        ]
        obj["binding"] = list(found.binding)
        obj["diagnostics"] = [
            {key: json_number(value) for key, value in row.items()}
            for row in found.diagnostics.to_dict("records")
        ]
        print(json.dumps(obj), file=out)
        return EXIT_OK if found.feasible else EXIT_FAILURE
    print(_targets_line(targets), file=out)
    print(
        f"  {args.candidates} candidates, API latency {seconds(found.settings['api_latency'])}"
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
        print_table(header, rows, out, right=(1, 2, 3, 4))
        return EXIT_FAILURE
    rows = [
        [
            seconds(row["lease_duration"]),
            seconds(row["renew_deadline"]),
            seconds(row["retry_period"]),
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
    print_table(header, rows, out, right=tuple(range(8)))
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
                    "value": json_number(check.value),
                    "limit": json_number(check.limit),
                    "passed": check.passed,
                    "margin": json_number(check.margin),
                    "note": check.note,
                }
                for check in result.checks
            },
            "metrics": {key: json_number(value) for key, value in result.metrics.items()},
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
    print_table(["target", "metric", "value", "limit", "margin", "result"], rows, out,
                 right=(2, 3, 4))  # fmt: skip
    for check in result.checks:
        if check.note:
            print(f"  {check.target}: {check.note}", file=out)
    return EXIT_OK if result.passed else EXIT_FAILURE
