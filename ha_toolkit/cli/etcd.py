"""Subcommand of the etcd model: etcd-failover."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ha_toolkit.cli._common import EXIT_OK, UsageError, add_json_flag, json_number, print_table

_KEYS = ("mean", "std", "p50", "p90", "p99", "min", "max")


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
    return {key: json_number(stats[key]) for key in _KEYS}


def _cmd_etcd_failover(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.etcd.config import RaftConfig
    from ha_toolkit.etcd.timing import failover, write_stall

    if args.members < 3:
        raise UsageError(
            f"--members must be >= 3 (a quorum must survive the leader), got {args.members}"
        )
    cfg = RaftConfig(
        heartbeat_interval=args.heartbeat_interval,
        election_timeout=args.election_timeout,
        members=args.members,
        pre_vote=args.pre_vote,
        request_timeout=args.request_timeout,
    )
    result = _summary(failover(cfg))
    result["write_stall"] = _summary(write_stall(cfg))
    if args.json:
        print(json.dumps(result), file=out)
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
