"""Subcommand of the etcd model: etcd-failover."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_OK,
    MAX_DURATION,
    UsageError,
    add_json_flag,
    duration_flag,
    in_range,
    json_finite,
    print_json,
    print_table,
)

_KEYS = ("mean", "std", "p50", "p90", "p99", "min", "max")
#: The write stall is computed on a lattice of a hundredth of a heartbeat up to the client's
#: timeout: 2000 heartbeats keep it to a few seconds (etcd's default, 5 s + 2 x election
#: timeout, is beyond that only for heartbeats under 3 ms).
MAX_REQUEST_TIMEOUT_HEARTBEATS = 2_000


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
    sub = commands.add_parser(
        "etcd-failover",
        help="etcd leader failover and the write stall it causes",
        description=(
            "Distribution of the time from the etcd leader's death until a new leader "
            "(exact Raft timers: randomized election timeout, CheckQuorum leases, "
            "pre-vote), and of the time until a client's write to a surviving member "
            "commits. Flags in etcd's own names; durations accept 100ms, 1s or plain seconds."
        ),
    )
    sub.add_argument("--heartbeat-interval", metavar="D", default="100ms", help="(100ms)")
    sub.add_argument("--election-timeout", metavar="D", default="1000ms", help="(1000ms)")
    sub.add_argument("--members", metavar="N", type=int, default=3, help="voting members (3)")
    sub.add_argument("--pre-vote", action="store_true", help="etcd's --pre-vote")
    sub.add_argument(
        "--request-timeout",
        metavar="D",
        default=None,
        help="the client's timeout per write (default etcd's: 5s + 2 x election timeout)",
    )
    add_json_flag(sub)
    sub.set_defaults(func=_cmd_etcd_failover)


def _summary(dist: Any) -> dict[str, Any]:
    stats = dist.summary()
    return {key: json_finite(stats[key]) for key in _KEYS}


def _timer_ms(flag: str, raw: str) -> str:
    """A timer flag as given, once it is a duration of at most a day; etcd's own checks
    (> 0, whole milliseconds, the ratio, maxElectionMs) and wording follow in RaftConfig."""
    from ha_toolkit.durations import parse_duration

    in_range(flag, parse_duration(raw, name=flag), high=MAX_DURATION, unit=" s")
    return raw


def _request_timeout(raw: str | None, heartbeat: float) -> float | None:
    if raw is None:
        return None
    timeout = duration_flag("--request-timeout", raw, positive=True)
    longest = MAX_REQUEST_TIMEOUT_HEARTBEATS * heartbeat
    if timeout > longest:
        raise UsageError(
            f"--request-timeout must be <= {MAX_REQUEST_TIMEOUT_HEARTBEATS} x "
            f"--heartbeat-interval = {longest:g} s, got {timeout:g} s"
        )
    return timeout


def _check_chain(cfg: Any) -> None:
    """The exact chain's size, in the flags' terms (the model refuses it too)."""
    from ha_toolkit.etcd.timing import _MAX_WORK

    ticks = cfg.election_ticks
    if ticks * cfg.survivors**3 > _MAX_WORK:
        raise UsageError(
            f"--members {cfg.members} with {ticks} election ticks (--election-timeout / "
            f"--heartbeat-interval): ticks x (members - 1)^3 must be at most {_MAX_WORK} "
            "for the exact model"
        )


def _cmd_etcd_failover(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.etcd.config import RaftConfig
    from ha_toolkit.etcd.timing import failover, write_stall

    if args.members < 3:
        raise UsageError(
            f"--members must be >= 3 (a quorum must survive the leader), got {args.members}"
        )
    cfg = RaftConfig(
        heartbeat_interval=_timer_ms("--heartbeat-interval", args.heartbeat_interval),
        election_timeout=_timer_ms("--election-timeout", args.election_timeout),
        members=args.members,
        pre_vote=args.pre_vote,
    )
    _check_chain(cfg)
    timeout = _request_timeout(args.request_timeout, cfg.heartbeat_interval)
    if timeout is not None:
        cfg = dataclasses.replace(cfg, request_timeout=timeout)
    result = _summary(failover(cfg))
    result["write_stall"] = _summary(write_stall(cfg))
    if args.json:
        print_json(json_finite(result), dataclasses.asdict(cfg), out)
        return EXIT_OK
    print(
        f"etcd: {cfg.members} members, heartbeat {cfg.heartbeat_interval * 1000:g} ms, "
        f"election timeout {cfg.election_timeout * 1000:g} ms, pre-vote "
        f"{'on' if cfg.pre_vote else 'off'}; client timeout {cfg.request_timeout:g} s",
        file=out,
    )
    stall = result["write_stall"]
    rows = [[k, f"{result[k]:.3f}", f"{stall[k]:.3f}"] for k in _KEYS]
    print_table(["statistic", "new leader (s)", "write stall (s)"], rows, out, right=(1, 2))
    return EXIT_OK
