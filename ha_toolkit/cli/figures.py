"""Subcommand of the figures pipeline: figures."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ha_toolkit.cli._common import EXIT_OK


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
    import sys

    from ha_toolkit.figures import run_figures

    def report(run: Any) -> None:
        # one line per notebook as soon as it finishes (a full run takes minutes)
        files = (
            f"{len(run.figures)} figure file{'' if len(run.figures) == 1 else 's'} written"
            if run.figures
            else "figures unchanged"
        )
        line = f"{run.path.name}  {run.seconds:.1f} s  {files}"
        if args.in_place:
            line += "; outputs " + ("stored" if run.stored else "unchanged")
        print(line, file=out, flush=True)

    runs = run_figures(
        args.notebooks,
        only=args.only,
        in_place=args.in_place,
        progress=_terminal(sys.stderr),
        on_run=report,
    )
    print(_summary(runs, args.in_place), file=out)
    return EXIT_OK


def _terminal(stream: Any) -> bool:
    """Whether a progress bar belongs on this stream: only an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _summary(runs: Any, in_place: bool) -> str:
    written = sum(len(run.figures) for run in runs)
    seconds = sum(run.seconds for run in runs)
    count = f"{len(runs)} notebook{'' if len(runs) == 1 else 's'} in {seconds:.0f} s"
    files = f"{written} figure files written" if written else "figures unchanged"
    text = f"done: {count}; {files}"
    if in_place:
        stored = sum(run.stored for run in runs)
        text += f"; outputs stored in {stored}" if stored else "; outputs unchanged"
    return text
