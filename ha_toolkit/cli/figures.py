"""Subcommand of the figures pipeline: figures."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ha_toolkit.cli._common import (
    EXIT_OK,
    print_table,
)


def register(commands: Any) -> None:
    """Add this module's subcommands to the parser's subcommand set."""
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
    fig.set_defaults(func=_cmd_figures)


# ----------------------------------------------------------------------------- figures
def _cmd_figures(args: argparse.Namespace, out: TextIO) -> int:
    from ha_toolkit.figures import run_figures

    runs = run_figures(args.notebooks, only=args.only, in_place=args.in_place)
    rows = []
    for run in runs:
        stored = ("stored" if run.stored else "unchanged") if args.in_place else "-"
        rows.append([run.path.name, f"{run.seconds:.1f}", str(len(run.figures)), stored])
    print_table(["notebook", "seconds", "files written", "outputs"], rows, out, right=(1, 2))
    return EXIT_OK
