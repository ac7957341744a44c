"""The ``ha-toolkit`` console script.

Subcommands::

    ha-toolkit presets [--json]
    ha-toolkit failover [--preset NAME] [--lease-duration D --renew-deadline D
                        --retry-period D] [--candidates N] [--jitter-factor F]
                        [--api-latency D] [--scenario crash|release] [--json]
    ha-toolkit figures [--in-place] [--only PATTERN]

Durations accept ``15s``, ``1m30s``, ``500ms`` or plain seconds. ``--json`` prints one JSON
object on stdout; without it a readable table. Bad input prints one line,
``ha-toolkit: error: <message>``, on stderr and exits with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

__all__ = ["main"]

PROG = "ha-toolkit"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class _UsageError(Exception):
    """Bad command-line input; reported on one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(message)


def _build_parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Timing models of Kubernetes control-plane high availability.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

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
    fo.add_argument("--preset", metavar="NAME", help="start from a named preset")
    fo.add_argument("--lease-duration", metavar="D", help="LeaseDuration")
    fo.add_argument("--renew-deadline", metavar="D", help="RenewDeadline")
    fo.add_argument("--retry-period", metavar="D", help="RetryPeriod")
    fo.add_argument("--candidates", type=int, metavar="N", help="contending processes")
    fo.add_argument("--jitter-factor", type=float, metavar="F", help="follower jitter (1.2)")
    fo.add_argument("--api-latency", metavar="D", help="round trip of one API call")
    fo.add_argument("--scenario", choices=("crash", "release"), default="crash")
    fo.add_argument("--json", action="store_true", help="print one JSON object")

    fig = commands.add_parser(
        "figures",
        help="run the notebooks headless and write figures/",
        description="Execute notebooks/*.ipynb in name order; they write figures/.",
    )
    fig.add_argument(
        "--in-place", action="store_true", help="store the executed outputs in the notebooks"
    )
    fig.add_argument("--only", metavar="PATTERN", help="run only matching notebooks")
    fig.add_argument("--notebooks", metavar="DIR", help="notebooks folder (default: the repo's)")
    return parser


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
            _seconds(row["lease_duration"]),
            _seconds(row["renew_deadline"]),
            _seconds(row["retry_period"]),
            "yes" if row["release_on_cancel"] else "no",
        ]
        for row in frame.to_dict("records")
    ]
    header = ["preset", "lease (s)", "renew (s)", "retry (s)", "release on cancel"]
    _print_table(header, rows, out, right=(1, 2, 3))
    return EXIT_OK


# ---------------------------------------------------------------------------- failover
def _config(args: argparse.Namespace) -> Any:
    from ha_toolkit.durations import parse_duration
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
            overrides[field] = parse_duration(raw, name=flag)
    if args.candidates is not None:
        overrides["candidates"] = args.candidates
    if args.jitter_factor is not None:
        overrides["jitter_factor"] = args.jitter_factor
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
        raise _UsageError(
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
    print(
        f"  lease {_seconds(cfg.lease_duration)} s, renew deadline "
        f"{_seconds(cfg.renew_deadline)} s, retry {_seconds(cfg.retry_period)} s, "
        f"jitter {cfg.jitter_factor:g}, {cfg.candidates} candidates, "
        f"API latency {_seconds(cfg.api_latency)} s",
        file=out,
    )
    rows = [[key, f"{value:.3f}"] for key, value in stats.items()]
    _print_table(["statistic", "seconds"], rows, out, right=(1,))
    return EXIT_OK


# ----------------------------------------------------------------------------- figures
def _cmd_figures(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.figures import run_figures

    runs = run_figures(args.notebooks, only=args.only, in_place=args.in_place)
    rows = []
    for run in runs:
        stored = ("stored" if run.stored else "unchanged") if args.in_place else "-"
        rows.append([run.path.name, f"{run.seconds:.1f}", str(len(run.figures)), stored])
    _print_table(["notebook", "seconds", "files written", "outputs"], rows, out, right=(1, 2))
    return EXIT_OK


# ------------------------------------------------------------------------------ output
def _seconds(value: Any) -> str:
    return f"{float(value):g}"


def _print_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO, right: Sequence[int] = ()
) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        parts = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    print(line(header), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for row in rows:
        print(line(row), file=out)


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


_COMMANDS = {"presets": _cmd_presets, "failover": _cmd_failover, "figures": _cmd_figures}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ha-toolkit`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 on success, 2 for bad input (one line on stderr), 1 when a notebook fails.
    """
    out, err = sys.stdout, sys.stderr
    parser = _build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except _UsageError as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=err)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        return _COMMANDS[args.command](args, out)
    except (_UsageError, ValueError) as exc:
        print(f"{PROG}: error: {_one_line(str(exc))}", file=err)
        return EXIT_USAGE
    except RuntimeError as exc:  # NotebookError and other run-time failures
        print(f"{PROG}: error: {_one_line(str(exc))}", file=err)
        return EXIT_FAILURE
    except BrokenPipeError:  # e.g. `ha-toolkit presets --json | head`
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return EXIT_FAILURE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
