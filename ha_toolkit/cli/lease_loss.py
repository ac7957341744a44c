"""Subcommand of the slow-API model: lease-loss."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_OK,
    MAX_CRASHES_PER_YEAR,
    MAX_EPISODES_PER_DAY,
    MAX_RETRY_AFTER,
    UsageError,
    add_json_flag,
    duration_flag,
    in_range,
    json_finite,
    print_json,
    print_table,
)
from ha_toolkit.cli.election import _add_config_arguments, _config, _settings_line

_MODES = ("refuse", "blackhole", "throttled", "latency")
#: Refused and hanging episodes: the leaderless time after a loss walks each follower's
#: retries through the episode (to about twice its mean), which takes time in proportion to
#: the episode over the retry period; 60 periods answer in a few seconds.
MAX_EPISODE_PERIODS = 60


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
    sub = commands.add_parser(
        "lease-loss",
        help="how often a slow API costs the leader its lease",
        description=(
            "Expected losses of leadership per day from slow lease calls (a latency "
            "distribution, each call capped by the lock client's timeout and retried on "
            "429 + Retry-After like client-go) and from slow episodes (Poisson arrivals, "
            "exponential lengths of mean --episode-duration), and the leaderless seconds "
            "per year they cost. Durations accept 15s, 1m30s, 500ms or plain seconds."
        ),
    )
    _add_config_arguments(sub)
    sub.add_argument("--latency-quantiles", metavar="Q",
                     help="per-call latency quantiles, e.g. p50=20ms,p99=800ms,p999=3s")
    sub.add_argument("--latency-histogram", metavar="FILE",
                     help="per-call latency: a /metrics scrape (the lease PUT histogram "
                     "apiserver_request_duration_seconds) or a CSV with columns le,count")
    sub.add_argument("--rejection", type=float, default=0.0, metavar="P",
                     help="probability that a call attempt gets 429 + Retry-After (0)")
    sub.add_argument("--retry-after", type=int, default=1, metavar="S",
                     help="Retry-After seconds of a 429 (1)")
    sub.add_argument("--episodes-per-day", metavar="N",
                     help="slow episodes a day: a number, or a rate such as 2/h")
    sub.add_argument("--episode-duration", metavar="D", help="mean length of an episode")
    sub.add_argument("--episode-mode", choices=_MODES, default="refuse",
                     help="calls in an episode are refused, hang, get 429 or take "
                     "--episode-latency (refuse)")
    sub.add_argument("--episode-latency", metavar="D", help="call latency in a latency episode")
    sub.add_argument("--crashes-per-year", type=float, default=0.0, metavar="N",
                     help="crash rate, for the leaderless time crashes cost beside (0)")
    add_json_flag(sub)
    sub.set_defaults(func=_cmd_lease_loss)


def _latency(args: argparse.Namespace) -> Any:
    from ha_toolkit.election.lease_loss import CallLatency

    if args.latency_quantiles is not None and args.latency_histogram is not None:
        raise UsageError("give --latency-quantiles or --latency-histogram, not both")
    if args.latency_quantiles is not None:
        return CallLatency.from_quantiles(args.latency_quantiles)
    if args.latency_histogram is not None:
        from ha_toolkit.audit.readers import read_latency_buckets

        buckets = read_latency_buckets(args.latency_histogram)
        return CallLatency.from_buckets(buckets)
    return None


def _episodes_per_day(raw: str | None) -> float | None:
    """A plain number is per day; ``COUNT/UNIT`` is read by the rate grammar."""
    if raw is None:
        return None
    if "/" in raw:
        from ha_toolkit.durations import parse_rate

        per_day = parse_rate(raw, name="--episodes-per-day") * 86_400.0
    else:
        try:
            per_day = float(raw)
        except ValueError:
            raise UsageError(f"invalid --episodes-per-day {raw!r}: expected a number a day "
                             "or a rate such as 2/h") from None
    return float(in_range("--episodes-per-day", per_day, 0.0, MAX_EPISODES_PER_DAY))


def _check_numbers(args: argparse.Namespace) -> None:
    """The plain-number flags within their bounds (issue: extreme input)."""
    in_range("--rejection", args.rejection, 0.0, 1.0)
    if args.rejection == 1.0:
        raise UsageError("--rejection must be < 1 (every call rejected never renews), got 1")
    in_range("--retry-after", args.retry_after, 0, MAX_RETRY_AFTER, unit=" s")
    in_range("--crashes-per-year", args.crashes_per_year, 0.0, MAX_CRASHES_PER_YEAR)


def _cmd_lease_loss(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.election.lease_loss import lease_loss

    cfg = _config(args)
    _check_numbers(args)
    latency = _latency(args)
    episodes = _episodes_per_day(args.episodes_per_day)
    if episodes is not None and args.episode_duration is None:
        raise UsageError("--episodes-per-day needs --episode-duration")
    if episodes is None and args.episode_duration is not None:
        raise UsageError("--episode-duration needs --episodes-per-day")
    if latency is None and episodes is None:
        raise UsageError(
            "give --latency-quantiles or --latency-histogram, or --episodes-per-day and "
            "--episode-duration"
        )
    if args.episode_mode == "latency" and args.episode_latency is None:
        raise UsageError("--episode-mode latency needs --episode-latency")
    duration = (None if args.episode_duration is None
                else duration_flag("--episode-duration", args.episode_duration, positive=True))
    episode_latency = (None if args.episode_latency is None
                       else duration_flag("--episode-latency", args.episode_latency))
    if duration is not None and args.episode_mode in ("refuse", "blackhole"):
        period = cfg.retry_period + cfg.api_latency
        longest = MAX_EPISODE_PERIODS * period
        if duration > longest:
            raise UsageError(
                f"--episode-duration must be <= {MAX_EPISODE_PERIODS} x (retry period + API "
                f"latency) = {longest:g} s for {args.episode_mode} episodes of these settings, "
                f"got {duration:g} s"
            )
    result = lease_loss(
        cfg,
        latency,
        episodes_per_day=0.0 if episodes is None else episodes,
        episode_duration=duration,
        episode_mode=args.episode_mode,
        episode_latency=episode_latency,
        retry_after=args.retry_after,
        rejection=args.rejection,
        crashes_per_year=args.crashes_per_year,
    )
    obj = {key: json_finite(value) for key, value in result.to_dict().items()
           if key != "inputs"}
    obj["inputs"] = json_finite(result.inputs)
    if args.json:
        answer = {key: value for key, value in obj.items() if key != "inputs"}
        print_json(answer, obj["inputs"], out)
        return EXIT_OK
    label = cfg.name if cfg.name else "custom"
    print(f"{label}: leadership lost to a slow API (per-call timeout "
          f"{result.timeout:g} s)", file=out)
    print(_settings_line(cfg), file=out)
    rows = [
        ["loss probability per renew cycle", f"{result.loss_probability_per_cycle:.3g}"],
        ["losses/day from slow calls", f"{result.iid_losses_per_day:.4g}"],
        ["loss probability per episode", f"{result.episode_loss_probability:.4f}"],
        ["losses/day from episodes", f"{result.episode_losses_per_day:.4g}"],
        ["losses (restarts) per day", f"{result.losses_per_day:.4g}"],
        ["leaderless seconds per loss", f"{result.leaderless_per_loss:.2f}"],
        ["leaderless seconds/year, slowness", f"{result.leaderless_seconds_per_year:.4g}"],
        ["leaderless seconds/year, crashes", f"{result.crash_leaderless_seconds_per_year:.4g}"],
    ]
    print_table(["quantity", "value"], rows, out, right=(1,))
    return EXIT_OK
