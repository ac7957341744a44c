"""What every subcommand shares: the error type, the parser, number and table output."""

from __future__ import annotations

import argparse
import json
import math
import numbers
import re
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
    value = float(value) + 0.0  # -0.0 -> 0.0
    return None if math.isnan(value) else value


def json_finite(value: Any) -> Any:
    """:func:`json_number`, and None for an infinity too (JSON has neither), through
    dicts and lists: for answers where an infinite value means "none" or "unbounded"."""
    if isinstance(value, dict):
        return {str(key): json_finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_finite(item) for item in value]
    value = json_number(value)
    return None if isinstance(value, float) and math.isinf(value) else value


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


def one_line(message: str, limit: int = 1000) -> str:
    """``message`` on one line, at most ``limit`` characters (a flag may hold a megabyte)."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------- bounds of flags
# The largest values the commands accept. Each is far beyond any real cluster and small
# enough that the models answer in seconds and bounded memory.
MAX_DURATION = 86_400.0  # one day: lease settings, API latency, outages, targets
MAX_CANDIDATES = 1_000
MAX_JITTER_FACTOR = 100.0
MAX_SERVERS = 1_000_000  # in-flight slots, seats, queue capacity
MAX_REPLICAS = 10_000
MAX_QUEUES = 10_000_000  # apiserver ValidatePriorityLevelQueuingConfiguration
MAX_ENTROPY_BITS = 60  # apiserver shufflesharding.MaxHashBits
MAX_ELEPHANTS = 10_000
MAX_EPISODES_PER_DAY = 86_400.0  # lease-loss: one slow episode a second
MAX_CRASHES_PER_YEAR = 525_600.0  # lease-loss: one crash a minute
MAX_RETRY_AFTER = 86_400  # lease-loss: Retry-After seconds, a day

# Model parameter -> the flag that sets it, so that a model's ValueError names the flag.
FLAGS = {
    "lease_duration": "--leader-elect-lease-duration",
    "renew_deadline": "--leader-elect-renew-deadline",
    "retry_period": "--leader-elect-retry-period",
    "jitter_factor": "--jitter-factor",
    "candidates": "--candidates",
    "api_latency": "--api-latency",
    "arrival_rate": "--arrival-rate",
    "service_rate": "--service-time",
    "servers": "--max-requests-inflight",
    "capacity": "--capacity",
    "hand_size": "--hand-size",
    "queues": "--queues",
    "elephants": "--elephants",
    "server_cl": "--server-cl",
    "clock_rate_ratio": "--clock-rate-ratio",
    "max_p99_failover": "--max-p99-failover",
    "max_p99_release": "--max-p99-release",
    "survive_outage": "--survive-outage",
    "min_survival": "--min-survival",
    "outage_mode": "--mode",
    "max_clock_rate_ratio": "--max-clock-rate-ratio",
    "max_requests_per_second": "--max-requests-per-second",
    "failure_threshold": "--failure-threshold",
    "episodes_per_day": "--episodes-per-day",
    "episode_duration": "--episode-duration",
    "episode_latency": "--episode-latency",
    "retry_after": "--retry-after",
    "crashes_per_year": "--crashes-per-year",
}
_FIELD = re.compile(r"\b(" + "|".join(sorted(FLAGS, key=len, reverse=True)) + r")\b")


def name_flags(message: str) -> str:
    """A model's message with each parameter name replaced by the flag that sets it."""
    return _FIELD.sub(lambda m: FLAGS[m.group(1)], message)


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else f"{value:g}"


def _shown(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    return text if len(text) <= 40 else f"a number of {len(text)} digits"


def in_range(
    flag: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    *,
    positive: bool = False,
    unit: str = "",
) -> Any:
    """``value`` if it lies in the bounds, else a UsageError naming the flag and the bound.

    Parameters
    ----------
    flag : str
        The flag, e.g. ``"--jitter-factor"``.
    value : int or float
        What the user gave, already converted.
    low, high : float, optional
        Inclusive bounds.
    positive : bool
        Require ``value > 0`` (checked before ``high``).
    unit : str
        Appended to the bound in the message, e.g. ``" s"``.

    Raises
    ------
    UsageError
        ``--jitter-factor must be >= 0, got -1``; NaN is never in range.
    """
    if isinstance(value, float) and math.isnan(value):
        raise UsageError(f"{flag} must be a number, got nan")
    if positive and not value > 0:
        raise UsageError(f"{flag} must be positive, got {_shown(value)}")
    if low is not None and not value >= low:
        raise UsageError(f"{flag} must be >= {_bound(low)}{unit}, got {_shown(value)}")
    if high is not None and not value <= high:
        raise UsageError(f"{flag} must be <= {_bound(high)}{unit}, got {_shown(value)}")
    return value + 0.0 if isinstance(value, float) else value  # -0.0 prints as -0


def duration_flag(
    flag: str, raw: Any, *, positive: bool = False, high: float = MAX_DURATION
) -> float:
    """Seconds of a duration flag, >= 0 (> 0 with ``positive``) and at most ``high``."""
    from ha_toolkit.durations import parse_duration

    seconds = parse_duration(raw, name=flag)
    return float(in_range(flag, seconds, None if positive else 0.0, high, positive=positive,
                          unit=" s"))
