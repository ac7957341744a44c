"""Subcommands of the API server models: queue, shuffle, apf."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_OK,
    MAX_ELEPHANTS,
    MAX_QUEUES,
    MAX_SERVERS,
    UsageError,
    add_json_flag,
    duration_flag,
    in_range,
    number,
    print_json,
    print_table,
    seconds,
)

#: Group title of --help for the API server's own flags.
APISERVER_GROUP = "kube-apiserver flags (--servers is an alias of --max-requests-inflight)"
MODEL_GROUP = "the load and the model"


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
    qu = commands.add_parser(
        "queue",
        help="M/M/c/K model of an in-flight limit: 429s per second, waits",
        description=(
            "Blocking (429) probability and rate, utilization, throughput and wait of an "
            "M/M/c/K queue: c in-flight slots, capacity K = c + waiting room (default c: a "
            "loss system, like the legacy max-in-flight filter; 'inf' for an unbounded "
            "queue). Without Priority and Fairness c is --max-requests-inflight (read-only "
            "requests; --mutating: --max-mutating-requests-inflight), two independent pools; "
            "with --enable-priority-and-fairness the server's limit is the sum of both flags, "
            "in seats. Rates accept 3000/s, 50/min or plain per second; the service time is a "
            "mean (50ms, 1s or plain seconds); waits are those of accepted requests, in "
            "seconds."
        ),
    )
    k8s = qu.add_argument_group(APISERVER_GROUP)
    k8s.add_argument(
        "--max-requests-inflight",
        "--servers",
        dest="max_requests_inflight",
        type=int,
        default=400,
        metavar="N",
        help="in-flight limit of read-only requests (400)",
    )
    k8s.add_argument(
        "--max-mutating-requests-inflight",
        type=int,
        default=200,
        metavar="N",
        help="in-flight limit of mutating requests (200)",
    )
    k8s.add_argument(
        "--enable-priority-and-fairness",
        action="store_true",
        help=(
            "model APF's server-wide limit: the sum of both flags, in seats (kube-apiserver "
            "enables APF by default; without this flag the legacy filter is modelled)"
        ),
    )
    model = qu.add_argument_group(MODEL_GROUP)
    model.add_argument(
        "--mutating",
        action="store_true",
        help="model the mutating pool of the legacy filter instead of the read-only one",
    )
    model.add_argument("--capacity", metavar="K", help="slots plus waiting room (default c)")
    model.add_argument(
        "--arrival-rate", required=True, metavar="L", help="offered requests (3000/s, 50/min)"
    )
    model.add_argument("--service-time", required=True, metavar="S", help="mean service time")
    add_json_flag(qu)

    sh = commands.add_parser(
        "shuffle",
        help="shuffle-sharding: squish probability, or the hand the API server deals a flow",
        description=(
            "With --elephants: probability that every queue of a light flow's hand is also "
            "in the hand of one of E heavy flows (elephants), for independent uniformly "
            "random hands of H out of Q queues (API Priority and Fairness); exact. With "
            "--hash-value V: the queues the API server's dealer deals from that 64-bit "
            "hash. With --flow-schema NAME [--distinguisher D]: the same from the flow's "
            "hash (SHA-256 of NAME, a zero byte and D, as the API server computes it)."
        ),
    )
    level = sh.add_argument_group(
        "priority level (PriorityLevelConfiguration spec.limited.limitResponse.queuing)"
    )
    level.add_argument("--queues", type=int, required=True, metavar="Q", help="queues")
    level.add_argument(
        "--hand-size", type=int, required=True, metavar="H", help="handSize: queues per hand"
    )
    flows = sh.add_argument_group("the load, or the flow whose hand to deal")
    flows.add_argument("--elephants", type=int, metavar="E", help="heavy flows")
    flows.add_argument("--hash-value", metavar="V", help="a flow's 64-bit hash (decimal or 0x..)")
    flows.add_argument("--flow-schema", metavar="NAME", help="FlowSchema name of a flow")
    flows.add_argument(
        "--distinguisher",
        default="",
        metavar="D",
        help="flow distinguisher: user or namespace ('' when the schema has none)",
    )
    add_json_flag(sh)

    ap = commands.add_parser(
        "apf",
        help="API Priority and Fairness: seats of the default priority levels",
        description=(
            "NominalCL, LendableCL, minCL and maxCL of the API server's default priority "
            "levels for a server concurrency limit (--max-requests-inflight plus "
            "--max-mutating-requests-inflight, 600 by default), and each level's queues."
        ),
    )
    k8s = ap.add_argument_group("kube-apiserver flags")
    k8s.add_argument(
        "--max-requests-inflight",
        type=int,
        default=None,
        metavar="N",
        help="read-only limit; with the next flag it sets the server's limit (400)",
    )
    k8s.add_argument(
        "--max-mutating-requests-inflight",
        type=int,
        default=None,
        metavar="N",
        help="mutating limit (200)",
    )
    ap.add_argument(
        "--server-cl",
        type=int,
        default=None,
        metavar="N",
        help="server concurrency limit in seats, instead of the two flags (600)",
    )
    ap.add_argument(
        "--kubernetes-version",
        metavar="V",
        help="bootstrap configuration of this minor version, e.g. 1.33 (default: the newest)",
    )
    add_json_flag(ap)
    qu.set_defaults(func=_cmd_queue)
    sh.set_defaults(func=_cmd_shuffle)
    ap.set_defaults(func=_cmd_apf)


# ------------------------------------------------------------------------------- queue
def _queue_pool(args: argparse.Namespace) -> tuple[int, str, str]:
    """Slots of the pool modelled, its name, and a line saying where the limit comes from."""
    for flag, value in (
        ("--max-requests-inflight", args.max_requests_inflight),
        ("--max-mutating-requests-inflight", args.max_mutating_requests_inflight),
    ):
        if value < 0:
            raise UsageError(f"{flag} must be >= 0, got {value}")
    if args.enable_priority_and_fairness:
        if args.mutating:
            raise UsageError(
                "--mutating models a pool of the legacy filter; with "
                "--enable-priority-and-fairness both kinds share one limit"
            )
        servers = args.max_requests_inflight + args.max_mutating_requests_inflight
        note = (
            f"APF on: the server's limit is --max-requests-inflight "
            f"{args.max_requests_inflight} + --max-mutating-requests-inflight "
            f"{args.max_mutating_requests_inflight} = {servers} seats,\n  shared by the "
            "priority levels (see ha-toolkit apf); modelled as one pool of one-seat requests"
        )
        return servers, "apf", note
    if args.mutating:
        servers = args.max_mutating_requests_inflight
        flag = "--max-mutating-requests-inflight"
        pool = "mutating"
    else:
        servers = args.max_requests_inflight
        flag = "--max-requests-inflight"
        pool = "readonly"
    other = "mutating" if pool == "readonly" else "read-only"
    note = (
        f"APF off (legacy max-in-flight filter): {flag} {servers}; {other} requests have "
        "their own pool"
    )
    return servers, pool, note


def _cmd_queue(args: argparse.Namespace, out: TextIO) -> int:
    import math

    from ha_toolkit.apiserver.queues import mmck
    from ha_toolkit.durations import parse_rate

    servers, pool, note = _queue_pool(args)
    flag = {"readonly": "--max-requests-inflight", "mutating": "--max-mutating-requests-inflight",
            "apf": "--max-requests-inflight + --max-mutating-requests-inflight"}
    in_range(flag[pool], servers, 1, MAX_SERVERS)
    capacity: float | None = float(servers)
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
            if capacity < servers:
                raise UsageError(f"--capacity must be >= the {servers} slots, got {capacity}")
            in_range("--capacity", capacity, high=MAX_SERVERS)
    arrival_rate = parse_rate(args.arrival_rate, name="--arrival-rate")
    if not (math.isfinite(arrival_rate) and arrival_rate >= 0):
        raise UsageError(f"--arrival-rate must be finite and >= 0, got {args.arrival_rate}")
    arrival_rate += 0.0  # -0.0 -> 0.0
    service_time = duration_flag("--service-time", args.service_time, positive=True)
    result = mmck(arrival_rate, 1.0 / service_time, servers, capacity)
    blocking = float(result.blocking_probability)
    obj = {
        "blocking_probability": blocking,
        "utilization": float(result.utilization),
        "throughput": float(result.throughput),
        "mean_wait": float(result.mean_wait),
        "p99_wait": float(result.wait_quantile(0.99)),
        "offered_load": float(result.offered_load),
        "rejections_per_second": arrival_rate * blocking,
    }
    if args.json:
        inputs = {
            "max_requests_inflight": args.max_requests_inflight,
            "max_mutating_requests_inflight": args.max_mutating_requests_inflight,
            "enable_priority_and_fairness": args.enable_priority_and_fairness,
            "pool": pool,
            "servers": servers,
            "capacity": capacity,
            "arrival_rate": arrival_rate,
            "service_time": service_time,
        }
        print_json(obj, inputs, out)
        return EXIT_OK
    cap = "inf" if capacity is None else f"{int(capacity)}"
    print(
        f"M/M/{servers}/{cap}: {number(arrival_rate)} requests/s offered, service time "
        f"{seconds(service_time)} s",
        file=out,
    )
    print(f"  {note}", file=out)
    rows = [
        ["offered load (Erlangs)", number(obj["offered_load"])],
        ["blocking (429) probability", number(blocking)],
        ["429s per second", number(obj["rejections_per_second"])],
        ["throughput (/s)", number(obj["throughput"])],
        ["utilization", number(obj["utilization"])],
        ["mean wait (s)", number(obj["mean_wait"])],
        ["p99 wait (s)", number(obj["p99_wait"])],
    ]
    print_table(["quantity", "value"], rows, out, right=(1,))
    return EXIT_OK


# ----------------------------------------------------------------------------- shuffle
def _cmd_shuffle(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.apiserver.shuffle import (
        MAX_HASH_BITS,
        overlap_probability,
        required_entropy_bits,
        squish_probability,
    )

    modes = [m for m, v in (("--elephants", args.elephants), ("--hash-value", args.hash_value),
                            ("--flow-schema", args.flow_schema)) if v is not None]
    if len(modes) != 1:
        raise UsageError("exactly one of --elephants, --hash-value or --flow-schema is "
                         f"required, got {len(modes)}")
    in_range("--queues", args.queues, 1, MAX_QUEUES)
    in_range("--hand-size", args.hand_size, 1)
    if args.hand_size > args.queues:
        raise UsageError(f"--hand-size must be <= --queues ({args.queues}), got {args.hand_size}")
    if args.elephants is None:
        return _shuffle_hand(args, out)
    in_range("--elephants", args.elephants, 0, MAX_ELEPHANTS)
    if required_entropy_bits(args.queues, args.hand_size) > MAX_HASH_BITS:
        # the API server's validation of a priority level's queuing settings
        raise UsageError(
            f"--hand-size: required entropy bits of deckSize {args.queues} and handSize "
            f"{args.hand_size} should not be greater than {MAX_HASH_BITS}"
        )
    p = squish_probability(args.queues, args.hand_size, args.elephants)
    shared = overlap_probability(args.queues, args.hand_size)
    if args.json:
        obj = {"probability": p, "shares_a_queue_probability": shared}
        inputs = {"queues": args.queues, "hand_size": args.hand_size, "elephants": args.elephants}
        print_json(obj, inputs, out)
        return EXIT_OK
    print(
        f"{args.queues} queues, hands of {args.hand_size}, {args.elephants} elephant"
        f"{'' if args.elephants == 1 else 's'}",
        file=out,
    )
    rows = [
        ["P(mouse squished)", number(p)],
        ["P(shares a queue with one elephant)", number(shared)],
    ]
    print_table(["quantity", "probability"], rows, out, right=(1,))
    return EXIT_OK


def _shuffle_hand(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.apiserver.shuffle import Dealer, flow_hash

    if args.flow_schema is not None:
        hash_value = flow_hash(args.flow_schema, args.distinguisher)
    else:
        text = args.hash_value.strip()
        if len(text) > 80:  # 2**64 - 1 has 20 digits, 64 in binary: never parse a megabyte
            raise UsageError(f"--hash-value must lie in [0, 2**64), got {len(text)} characters")
        try:
            hash_value = int(text, 0)
        except ValueError:
            raise UsageError(
                f"--hash-value must be a whole number (decimal or 0x...), got {args.hash_value!r}"
            ) from None
        if not 0 <= hash_value < 1 << 64:
            raise UsageError(f"--hash-value must lie in [0, 2**64), got {args.hash_value}")
    try:
        hand = list(Dealer(args.queues, args.hand_size).deal(hash_value))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        inputs = {"queues": args.queues, "hand_size": args.hand_size,
                  "hash_value": args.hash_value, "flow_schema": args.flow_schema,
                  "distinguisher": args.distinguisher}
        print_json({"hand": hand, "hash_value": hash_value}, inputs, out)
        return EXIT_OK
    if args.flow_schema is not None:
        print(f"flow: FlowSchema {args.flow_schema!r}, distinguisher {args.distinguisher!r}",
              file=out)
    print(f"hash value {hash_value}; {args.queues} queues, hands of {args.hand_size}", file=out)
    print_table(["order", "queue"], [[str(i), str(q)] for i, q in enumerate(hand)], out,
                right=(0, 1))
    return EXIT_OK


# --------------------------------------------------------------------------------- apf
def _server_cl(args: argparse.Namespace) -> tuple[int, str]:
    """The server concurrency limit and where it comes from."""
    flags = (args.max_requests_inflight, args.max_mutating_requests_inflight)
    if args.server_cl is not None:
        if any(flag is not None for flag in flags):
            raise UsageError(
                "give --server-cl or --max-requests-inflight/--max-mutating-requests-inflight, "
                "not both"
            )
        in_range("--server-cl", args.server_cl, 1, MAX_SERVERS)
        return args.server_cl, "--server-cl"
    read = 400 if flags[0] is None else flags[0]
    write = 200 if flags[1] is None else flags[1]
    for flag, value in (
        ("--max-requests-inflight", read),
        ("--max-mutating-requests-inflight", write),
    ):
        in_range(flag, value, 0, MAX_SERVERS)
    if read + write < 1:
        raise UsageError("--max-requests-inflight + --max-mutating-requests-inflight must be >= 1")
    return read + write, (
        f"--max-requests-inflight {read} + --max-mutating-requests-inflight {write}"
    )


def _cmd_apf(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.apiserver.apf import (
        KUBERNETES_VERSIONS,
        allocate,
        bootstrap_flow_schemas,
        default_priority_levels,
    )

    server_cl, source = _server_cl(args)
    version = args.kubernetes_version or KUBERNETES_VERSIONS[-1]
    try:
        levels_of_version = default_priority_levels(version)
        schemas = bootstrap_flow_schemas(version)
    except ValueError as exc:
        raise UsageError(str(exc).replace("Kubernetes version", "--kubernetes-version")) from None
    alloc = allocate(levels_of_version, server_cl=server_cl)
    frame = alloc.to_frame()
    if args.json:
        levels = {}
        for row in frame.to_dict("records"):
            blp = row["borrowing_limit_percent"]
            queued = bool(row["queues"])  # the table shows "-" for a level without queues
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
                "max_seats": int(row["max_seats"]) if row["max_seats"] else None,
                "queues": int(row["queues"]) if queued else None,
                "hand_size": int(row["hand_size"]) if queued else None,
                "queue_length_limit": int(row["queue_length_limit"]) if queued else None,
            }
        first = schemas.drop_duplicates("name")
        obj = {
            "server_cl": alloc.server_cl,
            "nominal_cl_sum": alloc.nominal_cl_sum,
            "share_sum": alloc.share_sum,
            "levels": levels,
            "kubernetes_version": ".".join(version.lstrip("v").split(".")[:2]),
            "flow_schemas": {
                str(row["name"]): {
                    "priority_level": str(row["priority_level"]),
                    "matching_precedence": int(row["matching_precedence"]),
                }
                for row in first.to_dict("records")
            },
        }
        inputs = {
            "server_cl": server_cl,
            "source": source,
            "max_requests_inflight": args.max_requests_inflight,
            "max_mutating_requests_inflight": args.max_mutating_requests_inflight,
            "kubernetes_version": args.kubernetes_version,
        }
        print_json(obj, inputs, out)
        return EXIT_OK
    print(
        f"ServerCL {alloc.server_cl} seats ({source}), sum of shares {alloc.share_sum}, "
        f"sum of NominalCL {alloc.nominal_cl_sum} (Kubernetes {version} bootstrap levels)",
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
