"""Subcommands of the leader-election models: presets, failover, outage, overlap, tune, check."""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_FAILURE,
    EXIT_OK,
    FLAGS,
    MAX_CANDIDATES,
    MAX_JITTER_FACTOR,
    PROG,
    UsageError,
    add_json_flag,
    duration_flag,
    in_range,
    json_number,
    name_flags,
    number,
    one_line,
    print_json,
    print_table,
    seconds,
)

#: Group titles of --help: the flags of a Kubernetes component under its name.
LEADER_ELECTION_GROUP = (
    "leader election: the flags of kube-scheduler, kube-controller-manager and "
    "cloud-controller-manager (today's short names are aliases)"
)
MODEL_GROUP = "the model: preset, processes, client, API latency"
TARGETS_GROUP = "targets"


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
    presets = commands.add_parser("presets", help="list the leader-election presets")
    add_json_flag(presets)

    fo = commands.add_parser(
        "failover",
        help="leader-switch time after a crash or a release",
        description=(
            "Distribution of the time from the leader's crash (or release) until a follower "
            "holds the lease. Durations accept 15s, 1m30s, 500ms, 2h, 1d or plain seconds; "
            "explicit durations override those of --preset."
        ),
    )
    model = _add_config_arguments(fo, client=True)
    model.add_argument(
        "--scenario",
        choices=("crash", "release"),
        default="crash",
        help="the leader crashes, or releases the lease on a clean shutdown (crash)",
    )
    add_json_flag(fo)

    ou = commands.add_parser(
        "outage",
        help="does the leader survive an API outage",
        description=(
            "Probability that the leader renews its lease through an API outage of the given "
            "length, and the lengths always and never survived. --mode refuse: calls fail at "
            "once; blackhole: calls hang until the lock client's per-call timeout "
            "(--call-timeout; the preset's, or max(1s, RD/2)) or the renew deadline. "
            "Durations accept 15s, 1m30s, 500ms, 2h, 1d or plain seconds."
        ),
    )
    model = _add_config_arguments(ou)
    model.add_argument("--outage", metavar="D", required=True, help="length of the API outage")
    model.add_argument(
        "--mode", choices=("refuse", "blackhole"), default="refuse", help="how calls fail"
    )
    add_json_flag(ou)

    ov = commands.add_parser(
        "overlap",
        help="can two leaders act at once after a partition",
        description=(
            "Overlap of the old and new leaders' terms when the leader is cut off from the "
            "API: the probability that both act at once, the largest overlap (negative: a "
            "gap) and the largest clock-rate ratio at which no overlap is possible."
        ),
    )
    model = _add_config_arguments(ov)
    model.add_argument(
        "--clock-rate-ratio",
        type=float,
        default=1.0,
        metavar="R",
        help="rate of the followers' clocks over the leader's (1)",
    )
    add_json_flag(ov)

    tu = commands.add_parser(
        "tune",
        help="lease settings that meet failover, outage, overlap and cost targets",
        description=(
            "Search client-go settings (LD in whole seconds, RD and RP on a grid) that meet "
            "every target and print the best of their Pareto set (p99 crash failover, outage "
            "always survived, lease requests per second), or which target binds. Settings "
            "whose overlap margin LDrec + 2 l - ratio (RD + RP) is not positive are left out "
            "unless --allow-zero-margin. Assumes the component releases the lease on a clean "
            "shutdown. Exit status 1 when nothing meets the targets."
        ),
    )
    _add_target_arguments(tu, failover_required=True)
    model = tu.add_argument_group(MODEL_GROUP)
    model.add_argument("--candidates", type=int, default=3, metavar="N", help="processes (3)")
    model.add_argument(
        "--api-latency", default="0", metavar="D", help="round trip of one API call (0)"
    )
    model.add_argument(
        "--jitter-factor", type=float, default=1.2, metavar="F", help="follower jitter (1.2)"
    )
    model.add_argument(
        "--call-timeout",
        default="half-renew-deadline",
        metavar="T",
        help=_CALL_TIMEOUT_HELP + " (half-renew-deadline)",
    )
    shown = tu.add_argument_group("output")
    shown.add_argument("--top", type=int, default=5, metavar="N", help="Pareto rows shown (5)")
    shown.add_argument(
        "--sort",
        choices=("score", "cost", "p99", "margin"),
        default="score",
        help=(
            "order of the rows: score (balanced: the worst objective scaled over the set), "
            "cost (requests/s), p99 (crash failover), margin (overlap margin, largest first)"
        ),
    )
    add_json_flag(tu)

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
    add_json_flag(ch)
    presets.set_defaults(func=_cmd_presets)
    fo.set_defaults(func=_cmd_failover)
    ou.set_defaults(func=_cmd_outage)
    ov.set_defaults(func=_cmd_overlap)
    tu.set_defaults(func=_cmd_tune)
    ch.set_defaults(func=_cmd_check)


# ----------------------------------------------------------------------------- presets
def _cmd_presets(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.config import ElectionConfig, presets_frame

    frame = presets_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # listing, not modelling: no margin warnings here
        timeouts = {
            name: ElectionConfig.preset(name).effective_call_timeout for name in frame["name"]
        }
    if args.json:
        obj = {
            str(row["name"]): {
                "lease_duration": float(row["lease_duration"]),
                "renew_deadline": float(row["renew_deadline"]),
                "retry_period": float(row["retry_period"]),
                "release_on_cancel": bool(row["release_on_cancel"]),
                "release_on_cancel_source": str(row["release_on_cancel_source"]),
                "call_timeout": float(timeouts[row["name"]]),
                "call_timeout_rule": _rule_name(row["call_timeout"]),
                "call_timeout_source": str(row["call_timeout_source"]),
                "source": str(row["source"]),
                "notes": str(row["notes"]),
            }
            for row in frame.to_dict("records")
        }
        # preset names stay the top-level keys (stable); "inputs" and "version" join them
        print_json(obj, {}, out)
        return EXIT_OK
    rows = [
        [
            str(row["name"]),
            seconds(row["lease_duration"]),
            seconds(row["renew_deadline"]),
            seconds(row["retry_period"]),
            seconds(timeouts[row["name"]]),
            _rule_name(row["call_timeout"]),
            "yes" if row["release_on_cancel"] else "no",
        ]
        for row in frame.to_dict("records")
    ]
    header = [
        "preset",
        "lease (s)",
        "renew (s)",
        "retry (s)",
        "call timeout (s)",
        "timeout rule",
        "release on cancel",
    ]
    print_table(header, rows, out, right=(1, 2, 3, 4))
    return EXIT_OK


def _rule_name(call_timeout: Any) -> str:
    """The preset's timeout rule, or "fixed" for a duration."""
    return call_timeout if isinstance(call_timeout, str) else "fixed"


# ------------------------------------------------------------------- election settings
def _add_config_arguments(
    sub: argparse.ArgumentParser, *, client: bool = False
) -> argparse._ArgumentGroup:
    """The election settings shared by failover, outage, overlap and check (read by
    _config), in two --help groups; returns the model group for more model flags."""
    k8s = sub.add_argument_group(LEADER_ELECTION_GROUP)
    k8s.add_argument(
        "--leader-elect-lease-duration",
        "--lease-duration",
        dest="lease_duration",
        metavar="D",
        help="LeaseDuration: how long followers wait after the last renewal they saw",
    )
    k8s.add_argument(
        "--leader-elect-renew-deadline",
        "--renew-deadline",
        dest="renew_deadline",
        metavar="D",
        help="RenewDeadline: how long the leader retries a failing renewal",
    )
    k8s.add_argument(
        "--leader-elect-retry-period",
        "--retry-period",
        dest="retry_period",
        metavar="D",
        help="RetryPeriod: the interval between attempts",
    )
    model = sub.add_argument_group(MODEL_GROUP)
    model.add_argument("--preset", metavar="NAME", help="start from a named preset")
    model.add_argument("--candidates", type=int, metavar="N", help="contending processes (3)")
    model.add_argument("--jitter-factor", type=float, metavar="F", help="follower jitter (1.2)")
    model.add_argument("--api-latency", metavar="D", help="round trip of one API call (0)")
    model.add_argument("--call-timeout", metavar="T", help=_CALL_TIMEOUT_HELP)
    if client:
        model.add_argument(
            "--client",
            choices=("client-go", "python"),
            default=None,
            help=(
                "whose loops: client-go (Go components) or python (the PyPI kubernetes "
                "client's leaderelection) (client-go)"
            ),
        )
    return model


_CALL_TIMEOUT_HELP = (
    "per-call timeout of the lock client: a duration, half-renew-deadline (client-go, "
    "max(1s, RD/2)) or renew-deadline (OpenShift)"
)


def _call_timeout(raw: str) -> Any:
    """--call-timeout: a rule name as is, else a duration > 0."""
    from ha_toolkit.durations import parse_duration
    from ha_toolkit.election.config import CALL_TIMEOUT_RULES

    if raw.strip().lower() in CALL_TIMEOUT_RULES:
        return raw.strip().lower()
    try:
        value = parse_duration(raw, name="--call-timeout")
    except ValueError:
        raise UsageError(
            f"invalid --call-timeout {raw!r}: expected a duration > 0, "
            f"{' or '.join(CALL_TIMEOUT_RULES)}"
        ) from None
    if not value > 0:
        raise UsageError(f"invalid --call-timeout {raw!r}: must be > 0")
    return value


def _config(args: argparse.Namespace) -> Any:
    from ha_toolkit.election.config import LeaseOverlapWarning, LeaseTruncationWarning

    ours = (LeaseOverlapWarning, LeaseTruncationWarning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = _build_config(args)
    for warning in caught:
        if issubclass(warning.category, ours):
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
        ("--leader-elect-lease-duration", "lease_duration"),
        ("--leader-elect-renew-deadline", "renew_deadline"),
        ("--leader-elect-retry-period", "retry_period"),
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
    if args.call_timeout is not None:
        overrides["call_timeout"] = _call_timeout(args.call_timeout)
    if getattr(args, "client", None) is not None:
        overrides["client"] = args.client
        if args.client == "python":
            # the Python client has no ReleaseOnCancel, whatever the preset's component does
            overrides["release_on_cancel"] = False
    if args.preset is not None:
        return ElectionConfig.preset(args.preset, **overrides)
    missing = [
        f"--leader-elect-{field.replace('_', '-')} (--{field.replace('_', '-')})"
        for field in ("lease_duration", "renew_deadline", "retry_period")
        if field not in overrides
    ]
    if missing:
        raise UsageError(
            f"missing {', '.join(missing)}: give the three leader-election durations, or "
            "--preset NAME"
        )
    return ElectionConfig(**overrides)


def _cmd_failover(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.explore import summarize
    from ha_toolkit.election.timing import failover

    cfg = _config(args)
    stats = summarize(failover(cfg, args.scenario))
    if args.json:
        print_json(stats, {**_config_inputs(args, cfg), "scenario": args.scenario}, out)
        return EXIT_OK
    label = cfg.name if cfg.name else "custom"
    print(
        f"{label}: {args.scenario} failover, seconds from the "
        f"{'crash' if args.scenario == 'crash' else 'release'} until a follower holds the lease",
        file=out,
    )
    print(_settings_line(cfg), file=out)
    rows = [[key, number(value)] for key, value in stats.items()]
    print_table(["statistic", "seconds"], rows, out, right=(1,))
    return EXIT_OK


def _settings_line(cfg: Any) -> str:
    client = "" if cfg.client == "client-go" else f", {cfg.client} client"
    return (
        f"  lease {seconds(cfg.lease_duration)} s, renew deadline "
        f"{seconds(cfg.renew_deadline)} s, retry {seconds(cfg.retry_period)} s, "
        f"jitter {cfg.jitter_factor:g}, {cfg.candidates} candidates, "
        f"API latency {seconds(cfg.api_latency)} s, "
        f"call timeout {seconds(cfg.effective_call_timeout)} s{client}"
    )


def _config_inputs(args: argparse.Namespace, cfg: Any) -> dict[str, Any]:
    """What an election answer was computed from, for the JSON's ``inputs``."""
    return {
        "preset": args.preset,
        "lease_duration": cfg.lease_duration,
        "record_lease_duration": cfg.record_lease_duration,
        "renew_deadline": cfg.renew_deadline,
        "retry_period": cfg.retry_period,
        "jitter_factor": cfg.jitter_factor,
        "candidates": cfg.candidates,
        "api_latency": cfg.api_latency,
        "release_on_cancel": cfg.release_on_cancel,
        "client": cfg.client,
    }


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
        inputs = {**_config_inputs(args, cfg), "outage": length, "mode": args.mode}
        print_json(obj, inputs, out)
        return EXIT_OK
    how = "calls refused" if args.mode == "refuse" else "calls hang (blackhole)"
    label = cfg.name if cfg.name else "custom"
    print(f"{label}: API outage of {seconds(length)} s, {how}", file=out)
    print(_settings_line(cfg), file=out)
    rows = [
        ["survival probability", number(result.survival_probability)],
        ["always survived up to (s)", number(result.min_tolerated_outage)],
        ["never survived beyond (s)", number(result.max_tolerated_outage)],
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
        "clock_rate_ratio": summary.clock_rate_ratio,
    }
    if args.json:
        inputs = {**_config_inputs(args, cfg), "clock_rate_ratio": args.clock_rate_ratio}
        print_json(obj, inputs, out)
        return EXIT_OK
    label = cfg.name if cfg.name else "custom"
    print(
        f"{label}: leader cut off from the API, followers' clocks at "
        f"{summary.clock_rate_ratio:g} x the leader's rate",
        file=out,
    )
    print(_settings_line(cfg), file=out)
    rows = [
        ["overlap probability", number(summary.overlap_probability)],
        ["max overlap (s)", number(summary.max_overlap)],
        ["mean overlap (s)", number(summary.mean_overlap)],
        ["max safe clock-rate ratio", number(summary.max_safe_clock_rate_ratio)],
    ]
    print_table(["quantity", "value"], rows, out, right=(1,))
    print("  a negative overlap is a gap with no leader acting", file=out)
    return EXIT_OK


# clocks that differ in rate by more than this are broken, not drifting
_MAX_CLOCK_RATE_RATIO = 1000.0

_TARGET_FLAGS = {
    field: FLAGS[field]
    for field in ("max_p99_failover", "max_p99_release", "survive_outage", "min_survival",
                  "outage_mode", "max_clock_rate_ratio", "max_requests_per_second")
} | {"allow_zero_margin": "--allow-zero-margin"}


def _add_target_arguments(sub: argparse.ArgumentParser, *, failover_required: bool) -> None:
    """The targets shared by tune, check and audit (read by _targets)."""
    group = sub.add_argument_group(TARGETS_GROUP)
    group.add_argument(
        "--max-p99-failover",
        metavar="D",
        required=failover_required,
        help="largest p99 of the crash failover time",
    )
    group.add_argument(
        "--max-p99-release", metavar="D", help="largest p99 failover after a clean shutdown"
    )
    group.add_argument("--survive-outage", metavar="D", help="API outage the leader must survive")
    group.add_argument(
        "--min-survival", type=float, metavar="P", help="probability of surviving it (0.99)"
    )
    group.add_argument(
        "--mode", choices=("refuse", "blackhole"), default="refuse", help="how calls fail"
    )
    group.add_argument(
        "--max-clock-rate-ratio",
        type=float,
        default=1.0,
        metavar="R",
        help="no term overlap up to this clock-rate ratio (1)",
    )
    group.add_argument(
        "--max-requests-per-second", metavar="Q", help="lease request budget (e.g. 5/s, 300/min)"
    )
    group.add_argument(
        "--allow-zero-margin",
        action="store_true",
        help=(
            "admit settings whose overlap margin LDrec + 2 l - ratio (RD + RP) is zero (the "
            "old leader's deadline meets the new leader's first act); by default it must be "
            "positive"
        ),
    )


def _targets(args: argparse.Namespace) -> Any:
    from ha_toolkit.election.tuning import Targets

    if args.min_survival is not None and args.survive_outage is None:
        raise UsageError("--min-survival needs --survive-outage")
    from ha_toolkit.durations import parse_rate

    values: dict[str, Any] = {
        "outage_mode": args.mode,
        "max_clock_rate_ratio": args.max_clock_rate_ratio,
        "allow_zero_margin": args.allow_zero_margin,
    }
    if args.max_requests_per_second is not None:
        values["max_requests_per_second"] = parse_rate(
            args.max_requests_per_second, name="--max-requests-per-second"
        )
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
    margin = "zero margin allowed" if targets.allow_zero_margin else "positive margin"
    parts.append(
        f"no term overlap up to clock-rate ratio {targets.max_clock_rate_ratio:g} ({margin})"
    )
    if targets.max_requests_per_second is not None:
        parts.append(f"<= {targets.max_requests_per_second:g} lease requests/s")
    return "targets: " + "; ".join(parts)


def _flagged(text: str) -> str:
    """Target names as the flags that set them, for the text output (JSON keeps names)."""
    for field, flag in _TARGET_FLAGS.items():
        text = text.replace(field, flag)
    return text


def _targets_inputs(targets: Any) -> dict[str, Any]:
    return {key: json_number(value) for key, value in targets.to_dict().items()}


def _cmd_tune(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.tuning import SORT_ORDERS, recommend

    targets = _targets(args)
    in_range("--top", args.top, 1)
    found = recommend(
        targets,
        candidates=in_range("--candidates", args.candidates, 2, MAX_CANDIDATES),
        api_latency=duration_flag("--api-latency", args.api_latency),
        jitter_factor=in_range("--jitter-factor", args.jitter_factor, 0.0, MAX_JITTER_FACTOR),
        call_timeout=_call_timeout(args.call_timeout),
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
        "max_tolerated_outage",
        "max_safe_clock_rate_ratio",
        "overlap_margin",
    )
    ordered = found.sorted(args.sort)
    best = None if ordered.empty else ordered.iloc[0].to_dict()
    top = ordered.head(args.top)
    order_text = SORT_ORDERS[args.sort][2]
    if args.json:
        obj: dict[str, Any] = {"feasible": found.feasible}
        obj.update({key: json_number((best or {}).get(key)) for key in keys})
        obj["sort"] = args.sort
        obj["sort_order"] = order_text
        obj["pareto_size"] = len(found.pareto)
        obj["feasible_count"] = found.feasible_count
        obj["grid_size"] = found.grid_size
        obj["pareto"] = [
            {key: json_number(value) for key, value in row.items()}
            for row in top.to_dict("records")
        ]
        obj["binding"] = list(found.binding)
        obj["explanation"] = found.explain()
        obj["binding_text"] = found.binding_text(args.sort)
        obj["targets"] = [
            {key: json_number(value) for key, value in row.items()}
            for row in found.target_slack(args.sort).to_dict("records")
        ]
        obj["diagnostics"] = [
            {key: json_number(value) for key, value in row.items()}
            for row in found.diagnostics.to_dict("records")
        ]
        inputs = {
            "targets": _targets_inputs(targets),
            **{key: found.settings[key] for key in sorted(found.settings)},
            "top": args.top,
            "sort": args.sort,
        }
        print_json(obj, inputs, out)
        return EXIT_OK if found.feasible else EXIT_FAILURE
    print(_targets_line(targets), file=out)
    print(
        f"  {args.candidates} candidates, API latency {seconds(found.settings['api_latency'])}"
        f" s, jitter {found.settings['jitter_factor']:g}",
        file=out,
    )
    print(_flagged(found.explain()), file=out)
    if not found.feasible:
        rows = [
            [
                _flagged(str(row["target"])),
                number(row["limit"]),
                str(row["passing"]),
                str(row["passing_others"]),
                number(row["closest"]),
                "yes" if row["binding"] else "no",
            ]
            for row in found.diagnostics.to_dict("records")
        ]
        header = ["target", "limit", "passing", "passing others", "closest", "binding"]
        print_table(header, rows, out, right=(1, 2, 3, 4))
        return EXIT_FAILURE
    print(_flagged(found.binding_text(args.sort)), file=out)
    rows = [
        [
            seconds(row["lease_duration"]),
            seconds(row["renew_deadline"]),
            seconds(row["retry_period"]),
            number(row["p99_failover"]),
            number(row["p99_release"]),
            number(row["tolerated_outage"]),
            number(row["overlap_margin"]),
            number(row["max_safe_clock_rate_ratio"]),
            number(row["requests_per_second"]),
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
        "overlap margin (s)",
        "safe clock ratio",
        "requests/s",
    ]
    print(
        f"sorted by {args.sort}: {order_text} ({len(top)} of {len(found.pareto)} "
        "Pareto-optimal settings; --sort cost|p99|margin|score):",
        file=out,
    )
    print_table(header, rows, out, right=tuple(range(len(header))))
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
        inputs = {**_config_inputs(args, cfg), "targets": _targets_inputs(targets)}
        print_json(obj, inputs, out)
        return EXIT_OK if result.passed else EXIT_FAILURE
    label = cfg.name if cfg.name else "custom"
    print(f"{label}: {'every target met' if result.passed else 'target(s) missed'}", file=out)
    print(_settings_line(cfg), file=out)
    rows = [
        [
            _flagged(check.target),
            check.metric,
            number(check.value),
            number(check.limit),
            ("+" if check.margin >= 0 else "") + number(check.margin),
            "pass" if check.passed else "FAIL",
        ]
        for check in result.checks
    ]
    print_table(["target", "metric", "value", "limit", "margin", "result"], rows, out,
                 right=(2, 3, 4))  # fmt: skip
    for check in result.checks:
        if check.note:
            print(f"  {_flagged(check.target)}: {check.note}", file=out)
    return EXIT_OK if result.passed else EXIT_FAILURE
