"""Subcommand of the availability models: availability."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_OK,
    MAX_REPLICAS,
    UsageError,
    add_json_flag,
    in_range,
    number,
    print_json,
    print_table,
)


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
    av = commands.add_parser(
        "availability",
        help="availability of K-of-N replicas from MTBF and MTTR",
        description=(
            "Steady-state availability of N identical replicas of which K must be up (1: "
            "stateless replicas; 'majority': floor(N/2)+1, an etcd quorum), each failing "
            "after a mean up time MTBF and restored after a mean MTTR, independently. "
            "Durations accept 30d, 2w, 720h, 30m, 90s or plain seconds. Downtime "
            "in seconds per 365-day year and 30-day month; nines = -log10(1 - A)."
        ),
    )
    av.add_argument("--replicas", type=int, required=True, metavar="N", help="replicas")
    av.add_argument(
        "--quorum", default="1", metavar="K", help="replicas needed: a number or 'majority' (1)"
    )
    av.add_argument("--mtbf", required=True, metavar="D", help="mean up time of one replica")
    av.add_argument("--mttr", required=True, metavar="D", help="mean time to restore one")
    add_json_flag(av)
    av.set_defaults(func=_cmd_availability)


# ------------------------------------------------------------------------ availability
def _cmd_availability(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.availability.blocks import quorum
    from ha_toolkit.availability.explore import format_duration, tier_availability

    in_range("--replicas", args.replicas, 1, MAX_REPLICAS)
    text = str(args.quorum).strip().lower()
    if text == "majority":
        needed = quorum(args.replicas)
    else:
        try:
            needed = int(text)
        except ValueError:
            raise UsageError(
                f"invalid --quorum {args.quorum!r}: expected a whole number or 'majority'"
            ) from None
    if not 1 <= needed <= args.replicas:
        raise UsageError(f"invalid --quorum {needed}: must lie in 1..{args.replicas}")
    mtbf, mttr = _flag(args.mtbf, "--mtbf"), _flag(args.mttr, "--mttr")
    res = tier_availability(args.replicas, needed, mtbf, mttr)
    if args.json:
        nines = res["nines"]
        obj = {
            "availability": res["availability"],
            "nines": nines if nines != float("inf") else None,
            "downtime_per_year": res["downtime_per_year"],
            "downtime_per_month": res["downtime_per_month"],
            "replica_availability": res["replica_availability"],
        }
        inputs = {"replicas": args.replicas, "quorum": needed, "mtbf": mtbf, "mttr": mttr}
        print_json(obj, inputs, out)
        return EXIT_OK
    print(
        f"{needed} of {args.replicas} replicas needed; one replica available "
        f"{100 * res['replica_availability']:.6g} %",
        file=out,
    )
    nines = res["nines"]
    rows = [
        ["availability", f"{100 * res['availability']:.8g} %"],
        ["nines", number(nines)],
        ["downtime per year", format_duration(res["downtime_per_year"])],
        ["downtime per 30-day month", format_duration(res["downtime_per_month"])],
    ]
    print_table(["quantity", "value"], rows, out, right=(1,))
    return EXIT_OK


def _flag(value: str, flag: str) -> float:
    from ha_toolkit.durations import parse_duration

    return parse_duration(value, name=flag)
