"""What every subcommand shares: the error type, the parser, number and table output."""

from __future__ import annotations

import argparse
import math
import numbers
from collections.abc import Sequence
from typing import Any, NoReturn, TextIO

PROG = "ha-toolkit"
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad command-line input; reported on one line with exit status 2."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def add_json_flag(sub: argparse.ArgumentParser) -> None:
    """The ``--json`` flag every answering subcommand takes."""
    sub.add_argument("--json", action="store_true", help="print one JSON object")


def json_number(value: Any) -> Any:
    """A plain int or float for JSON, None for NaN (JSON has no NaN)."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    return None if math.isnan(value) else value


def seconds(value: Any) -> str:
    return f"{float(value):g}"


def print_table(
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


def one_line(message: str) -> str:
    return " ".join(str(message).split())
