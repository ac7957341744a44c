"""Subcommands of the API server models: queue, shuffle, apf."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_OK,
    MAX_ELEPHANTS,
    MAX_ENTROPY_BITS,
    MAX_QUEUES,
    MAX_SERVERS,
    UsageError,
    duration_flag,
    in_range,
    print_table,
    seconds,
)


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
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
    ap.add_argument(
        "--server-cl",
        type=int,
        default=600,
        metavar="N",
        help="server concurrency limit in seats (600)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    qu.set_defaults(func=_cmd_queue)
    sh.set_defaults(func=_cmd_shuffle)
    ap.set_defaults(func=_cmd_apf)


# ------------------------------------------------------------------------------- queue
def _cmd_queue(args: argparse.Namespace, out: TextIO) -> int:
    import math

    from ha_toolkit.apiserver.queues import mmck

    in_range("--servers", args.servers, 1, MAX_SERVERS)
    capacity: float | None = float(args.servers)
    if args.capacity is not None:
        raw = args.capacity.strip().lower()
        if raw in ("inf", "infinity", "none"):
            capacity = None
        else:
            try:
                capacity = int(raw)
            except ValueError:
                raise UsageError(
                    f"--capacity must be a whole number or inf, got {args.capacity!r}"
                ) from None
            if capacity < args.servers:
                raise UsageError(
                    f"--capacity must be >= --servers ({args.servers}), got {capacity}"
                )
            in_range("--capacity", capacity, high=MAX_SERVERS)
    if not (math.isfinite(args.arrival_rate) and args.arrival_rate >= 0):
        raise UsageError(f"--arrival-rate must be finite and >= 0, got {args.arrival_rate}")
    args.arrival_rate += 0.0  # -0.0 -> 0.0
    service_time = duration_flag("--service-time", args.service_time, positive=True)
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
        f"{seconds(service_time)} s, offered load {float(result.offered_load):.4g} Erlangs",
        file=out,
    )
    rows = [
        ["blocking (429) probability", f"{obj['blocking_probability']:.6g}"],
        ["utilization", f"{obj['utilization']:.6g}"],
        ["throughput (/s)", f"{obj['throughput']:.6g}"],
        ["mean wait (s)", f"{obj['mean_wait']:.6g}"],
        ["p99 wait (s)", f"{obj['p99_wait']:.6g}"],
    ]
    print_table(["quantity", "value"], rows, out, right=(1,))
    return EXIT_OK


# ----------------------------------------------------------------------------- shuffle
def _cmd_shuffle(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.apiserver.shuffle import overlap_probability, squish_probability

    in_range("--queues", args.queues, 1, MAX_QUEUES)
    in_range("--hand-size", args.hand_size, 1)
    in_range("--elephants", args.elephants, 0, MAX_ELEPHANTS)
    if args.hand_size > args.queues:
        raise UsageError(f"--hand-size must be <= --queues ({args.queues}), got {args.hand_size}")
    if _entropy_bits(args.queues, args.hand_size) > MAX_ENTROPY_BITS:
        # the API server's validation of a priority level's queuing settings
        raise UsageError(
            f"--hand-size: required entropy bits of deckSize {args.queues} and handSize "
            f"{args.hand_size} should not be greater than {MAX_ENTROPY_BITS}"
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
        [
            "P(shares a queue with one elephant)",
            f"{overlap_probability(args.queues, args.hand_size):.6g}",
        ],
    ]
    print_table(["quantity", "probability"], rows, out, right=(1,))
    return EXIT_OK


def _entropy_bits(queues: int, hand_size: int) -> int:
    """apiserver shufflesharding.RequiredEntropyBits: ceil(log2(deck) * hand)."""
    import math

    return math.ceil(math.log2(queues) * hand_size)


# --------------------------------------------------------------------------------- apf
def _cmd_apf(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.apiserver.apf import allocate

    in_range("--server-cl", args.server_cl, 1, MAX_SERVERS)
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
    header = [
        "level",
        "shares",
        "lendable",
        "nominal",
        "lendable CL",
        "min",
        "max",
        "max seats",
        "queues/hand/limit",
    ]
    print_table(header, rows, out, right=(1, 2, 3, 4, 5, 6, 7))
    return EXIT_OK
