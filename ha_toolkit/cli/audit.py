"""Subcommand of the cluster audit: audit."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_OK,
    MAX_CANDIDATES,
    UsageError,
    add_json_flag,
    in_range,
    json_number,
    print_json,
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
    au.add_argument(
        "--apf-config",
        metavar="FILE",
        help="kubectl get flowschemas,prioritylevelconfigurations -o yaml",
    )
    au.add_argument("--window", metavar="D", help="time the metrics' counters cover (uptime)")
    au.add_argument(
        "--candidates",
        type=int,
        default=3,
        metavar="N",
        help="control-plane replicas per lease (3)",
    )
    _add_target_arguments(au, failover_required=False)
    add_json_flag(au)
    au.set_defaults(func=_cmd_audit)


# ------------------------------------------------------------------------------- audit
def _cmd_audit(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.audit import audit

    if (args.leases is None and args.manifests is None and args.metrics is None
            and args.apf_config is None):
        raise UsageError("give at least one of --leases, --manifests, --metrics, --apf-config")
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
        apf_config=args.apf_config,
    )
    if args.json:
        inputs = {
            "leases": args.leases,
            "manifests": args.manifests,
            "metrics": args.metrics,
            "window": window,
            "candidates": args.candidates,
            "targets": {k: json_number(v) for k, v in targets.to_dict().items()},
        }
        print_json(report.to_dict(), inputs, out)
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
        slow = [r for r in comps.to_dict("records")
                if r.get("slow_call_losses_per_day") == r.get("slow_call_losses_per_day")
                and r.get("slow_call_losses_per_day") is not None]
        if slow:
            losses = ", ".join(f"{r['component']} {num(r['slow_call_losses_per_day'])}"
                               for r in slow)
            print(f"  slow renewals (lease PUT p99 {num(slow[0]['lease_put_p99'])} s): "
                  f"losses per day {losses}", file=out)
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
    _print_probes(report, out)
    if report.apf is not None:
        _print_apf(report.apf, out, num)
    if report.notes:
        print("notes:", file=out)
        for note in report.notes:
            print(f"  {note}", file=out)
    return EXIT_OK


def _print_probes(report: Any, out: TextIO) -> None:
    """The kubelet probe timings of the static pods and their warnings."""
    frame = getattr(report, "probes", None)
    if frame is None or not len(frame):
        return
    print("kubelet probes (seconds; hung: p50/p99)", file=out)

    def num(value: Any) -> str:
        return "-" if value is None or value != value else f"{value:.4g}"

    rows = [[r["component"], r["liveness"] or "-", num(r["detection_refusing"]),
             f"{num(r['detection_hung_p50'])}/{num(r['detection_hung_p99'])}",
             f"{num(r['recovery_hung_p50'])}/{num(r['recovery_hung_p99'])}"]
            for r in frame.to_dict("records")]
    print_table(["component", "liveness", "refusing", "hung detected", "hung Ready again"],
                rows, out, right=(2, 3, 4))
    for r in frame.to_dict("records"):
        for warning in filter(None, r["warnings"].split("; ")):
            print(f"  {r['component']}: {warning}", file=out)
def _print_apf(apf: Any, out: TextIO, num: Any) -> None:
    """The cluster's own APF configuration against what its server reports."""
    print(file=out)
    print(f"priority and fairness configuration (limits at ServerCL {apf.server_cl})", file=out)
    rows = []
    for r in apf.levels.to_dict("records"):
        queues = (f"{num(r['queues'], 'g')}/{num(r['hand_size'], 'g')}/"
                  f"{num(r['queue_length_limit'], 'g')}" if r["queues"] == r["queues"]
                  and r["queues"] else "-")
        rows.append([
            r["priority_level"],
            r["type"] or "-",
            f"{num(r['nominal_cl'], 'g')}/{num(r['min_cl'], 'g')}/{num(r['max_cl'], 'g')}",
            f"{num(r['nominal_limit_seats'], 'g')}/{num(r['lower_limit_seats'], 'g')}/"
            f"{num(r['upper_limit_seats'], 'g')}",
            f"{num(r['executing_seats'], 'g')}/{num(r['current_limit_seats'], 'g')}",
            num(r["inqueue_requests"], "g"),
            queues,
            r["rejected_reasons"] or "-",
            r["status"] or "-",
        ])
    print_table(["level", "type", "config nom/min/max", "server nom/min/max", "in use",
                 "queued", "queues/hand/len", "429s", "status"], rows, out,
                right=(2, 3, 4, 5, 6))
    if len(apf.sharing):
        print("flows sharing queues (hands dealt as the server deals them)", file=out)
        rows = [[r["priority_level"], f"{r['flow_schema']}/{r['distinguisher']}", r["hand"],
                 r["shares_with"].replace(";", ", ") or "-"]
                for r in apf.sharing.to_dict("records")]
        print_table(["level", "flow", "hand", "shares a queue with"], rows, out)
    for note in apf.notes:
        if "shares queues" not in note:
            print(f"  {note}", file=out)
