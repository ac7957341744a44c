"""The ``ha-toolkit`` console script.

Subcommands::

    ha-toolkit presets [--json]
    ha-toolkit --version
    ha-toolkit failover [--preset NAME] [--leader-elect-lease-duration D
                        --leader-elect-renew-deadline D --leader-elect-retry-period D]
                        [--candidates N] [--jitter-factor F] [--api-latency D]
                        [--client client-go|python] [--scenario crash|release] [--json]
    ha-toolkit outage [--preset NAME | durations...] [--candidates N] [--api-latency D]
                      --outage D [--mode refuse|blackhole] [--json]
    ha-toolkit overlap [--preset NAME | durations...] [--clock-rate-ratio R]
                       [--candidates N] [--api-latency D] [--json]
    ha-toolkit lease-loss [--preset NAME | durations...] [--latency-quantiles Q |
                          --latency-histogram FILE] [--episodes-per-day N
                          --episode-duration D [--episode-mode M]] [--json]
    ha-toolkit queue [--max-requests-inflight N] [--max-mutating-requests-inflight N]
                     [--enable-priority-and-fairness | --mutating] [--capacity K]
                     --arrival-rate L --service-time S [--json]
    ha-toolkit availability --replicas N [--quorum K] --mtbf D --mttr D [--json]
    ha-toolkit shuffle --queues Q --hand-size H --elephants E [--json]
    ha-toolkit apf [--max-requests-inflight N --max-mutating-requests-inflight N |
                   --server-cl N] [--json]
    ha-toolkit tune --max-p99-failover D [--max-p99-release D] [--survive-outage D
                    [--min-survival P] [--mode refuse|blackhole]] [--max-clock-rate-ratio R]
                    [--max-requests-per-second Q] [--allow-zero-margin] [--candidates N]
                    [--api-latency D] [--sort score|cost|p99|margin] [--top N] [--json]
    ha-toolkit check [--preset NAME | durations...] [the target flags of tune] [--json]
    ha-toolkit audit [--leases FILE] [--manifests DIR] [--metrics FILE] [--window D]
                     [--candidates N] [the target flags of tune] [--json]
    ha-toolkit etcd-failover [--heartbeat-interval D] [--election-timeout D] [--members N]
                             [--pre-vote] [--request-timeout D] [--json]
    ha-toolkit figures [--in-place] [--only PATTERN]
    ha-toolkit probe --period D --timeout D --failure-threshold N [--initial-delay D]
                     --failure exit|refusing|hung [--manifest FILE] [--json]

Flags that set a Kubernetes component's flag carry its name (``--max-requests-inflight``,
``--leader-elect-lease-duration``, ...), today's short names being aliases; ``--help`` groups
them by component. Durations accept ``15s``, ``1m30s``, ``500ms``, ``2h``, ``1d`` or plain
seconds (ASCII digits, as Go's ``time.ParseDuration``); rates ``3000/s``, ``50/min`` or a
plain number per second. ``--json`` prints one JSON object on stdout: the answer, its
``inputs`` and the model ``version``; without it a readable table. Bad input prints one line,
``ha-toolkit: error: <message>``, on stderr and exits with status 2.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence

from ha_toolkit import __version__
from ha_toolkit.cli import (
    apiserver,
    audit,
    availability,
    election,
    etcd,
    figures,
    lease_loss,
    probes,
)
from ha_toolkit.cli._common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Parser,
    UsageError,
    name_flags,
    one_line,
)

__all__ = ["main", "build_parser"]

# one module per model package; each adds its subcommands in this order
_MODULES = (election, lease_loss, etcd, apiserver, availability, probes, audit, figures)


def build_parser() -> Parser:
    """The ``ha-toolkit`` parser with every subcommand of every module."""
    parser = Parser(
        prog=PROG,
        description="Timing models of Kubernetes control-plane high availability.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True
    for module in _MODULES:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``ha-toolkit`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 on success, 2 for bad input (one line on stderr), 1 when a notebook fails or
        (tune, check) a target is missed.
    """
    out, err = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except UsageError as exc:
        print(f"{PROG}: error: {one_line(str(exc))}", file=err)
        return EXIT_USAGE
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    try:
        return args.func(args, out)
    except UsageError as exc:
        print(f"{PROG}: error: {one_line(str(exc))}", file=err)
        return EXIT_USAGE
    except ValueError as exc:  # a model's or a reader's refusal of what the user gave
        print(f"{PROG}: error: {one_line(_flag_message(exc))}", file=err)
        return EXIT_USAGE
    except RuntimeError as exc:  # NotebookError and other run-time failures
        print(f"{PROG}: error: {one_line(str(exc))}", file=err)
        return EXIT_FAILURE
    except BrokenPipeError:  # e.g. `ha-toolkit presets --json | head`
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return EXIT_FAILURE


def _flag_message(exc: ValueError) -> str:
    """A model's message naming the flags; an artifact's as it is (it names a file)."""
    from ha_toolkit.audit.readers import ArtifactError

    return str(exc) if isinstance(exc, ArtifactError) else name_flags(str(exc))
