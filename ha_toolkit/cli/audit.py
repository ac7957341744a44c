"""Subcommand of the cluster audit: audit."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_OK,
    MAX_CANDIDATES,
    UsageError,
    in_range,
    print_table,
)
from ha_toolkit.cli.election import _add_target_arguments, _targets, _targets_line


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
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
    au.add_argument(
        "--candidates",
        type=int,
        default=3,
        metavar="N",
        help="control-plane replicas per lease (3)",
    )
    _add_target_arguments(au, failover_required=False)
    au.add_argument("--json", action="store_true", help="print one JSON object")
    au.set_defaults(func=_cmd_audit)


# ------------------------------------------------------------------------------- audit
def _cmd_audit(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.audit import audit

    if args.leases is None and args.manifests is None and args.metrics is None:
        raise UsageError("give at least one of --leases, --manifests, --metrics")
    in_range("--candidates", args.candidates, 2, MAX_CANDIDATES)
    targets = _targets(args)
    window = None
    if args.window is not None:
        from ha_toolkit.cli._common import duration_flag

        # counters since the API server started: up to years, not bounded like the settings
        window = duration_flag("--window", args.window, positive=True, high=1e12)
    report = audit(
        args.leases,
        args.manifests,
        args.metrics,
        window=window,
        targets=targets,
        candidates=args.candidates,
    )
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
            settings = "/".join(
                num(r[k], "g") for k in ("lease_duration", "renew_deadline", "retry_period")
            )
            verdict = (
                "-" if r["passed"] is None else ("pass" if r["passed"] else "FAIL " + r["failed"])
            )
            rows.append(
                [
                    r["component"],
                    settings,
                    f"{num(r['p50_crash'])}/{num(r['p99_crash'])}",
                    f"{num(r['p50_release'])}/{num(r['p99_release'])}",
                    f"{num(r['min_tolerated_outage'])}-{num(r['max_tolerated_outage'])}",
                    num(r["overlap_margin"]),
                    num(r["max_safe_clock_rate_ratio"]),
                    verdict,
                ]
            )
        print_table(["component", "LD/RD/RP s", "crash p50/p99 s", "shutdown p50/p99 s",
                      "outage s", "margin s", "safe ratio", "targets"], rows, out,
                     right=(2, 3, 4, 5, 6))  # fmt: skip
        for r in comps.to_dict("records"):
            if r["note"] and r["component"] != "kube-apiserver":
                print(f"  {r['component']}: {r['note']}", file=out)
    if len(report.levels):
        if len(comps):
            print(file=out)
        window_text = (
            "no window: no rates"
            if report.window is None
            else (f"rates over a window of {report.window:g} s")
        )
        print(f"priority levels ({window_text})", file=out)
        load = report.load.set_index(["priority_level", "load_factor"])
        factors = sorted(set(report.load["load_factor"])) if len(report.load) else []
        header = ["level", "seats", "req/s", "exec s", "demand"]
        header += [f"util/429 x{f:g}" for f in factors]
        rows = []
        for r in report.levels.to_dict("records"):
            row = [
                r["priority_level"],
                f"{num(r['current_limit_seats'], 'g')}/{num(r['nominal_limit_seats'], 'g')}",
                num(r["arrival_rate"], ".4g"),
                num(r["service_time"]),
                num(r["seat_demand"]),
            ]
            for f in factors:
                key = (r["priority_level"], f)
                if key in load.index:
                    x = load.loc[key]
                    row.append(f"{x['utilization']:.2f}/{x['rejection_rate']:.4g}")
                else:
                    row.append("-")
            rows.append(row)
        print_table(header, rows, out, right=tuple(range(1, len(header))))
        print(
            "  seats: current/nominal; demand: seats in use (Little's law); "
            "429: predicted rejections per second",
            file=out,
        )
    if report.notes:
        print("notes:", file=out)
        for note in report.notes:
            print(f"  {note}", file=out)
    return EXIT_OK
