"""What every subcommand shares: the error type, the parser, number and table output."""

from __future__ import annotations

import argparse
import json
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
    sub.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object: the answer, its 'inputs' and the model 'version'",
    )


def print_json(answer: dict[str, Any], inputs: dict[str, Any], out: TextIO) -> None:
    """Print the answer as one JSON object with the inputs it was computed from.

    The answer's keys come first and stay stable; ``inputs`` holds what the answer was
    computed from (preset, settings, scenario, ...) and ``version`` the version of
    ha-toolkit (the models') that computed it.
    """
    from ha_toolkit import __version__

    obj = dict(answer)
    obj["inputs"] = {key: _plain(value) for key, value in inputs.items()}
    obj["version"] = __version__
    print(json.dumps(obj), file=out)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return json_number(value)


def number(value: Any, digits: int = 4) -> str:
    """One number format for every table: ``digits`` significant digits.

    Positional notation from 1e-4 up to 1e6 without trailing zeros (``0.75``, ``16.57``,
    ``400``), scientific beyond with a short exponent (``5.672e-9``); ``-`` for None or
    NaN, ``inf`` for infinity. The notebooks' tables use the same format
    (:func:`ha_toolkit.tables.significant`).
    """
    from ha_toolkit.tables import significant

    return significant(value, digits)


def json_number(value: Any) -> Any:
    """A plain int or float for JSON, None for NaN (JSON has no NaN)."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    return None if math.isnan(value) else value


def seconds(value: Any) -> str:
    """A setting in seconds, as given (``15``, ``0.5``, ``86400``)."""
    return f"{float(value):.10g}"


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
