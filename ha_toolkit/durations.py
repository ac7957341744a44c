"""Parse durations and rates written the way Kubernetes components write them.

One grammar for every duration the toolkit reads (flags, configs, presets):
``parse_duration`` turns ``"15s"``, ``"1m30s"``, ``"500ms"``, ``"2h"``, ``"1d"``, a
:class:`datetime.timedelta` or a plain number of seconds into a float number of seconds.
The string grammar is the one of Go's ``time.ParseDuration`` (Go ``src/time/format.go``,
``ParseDuration``; what ``metav1.Duration`` and the components' ``--leader-elect-*`` flags
use): an optional sign, then one or more decimal numbers, each followed by a unit among
``ns``, ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``; ASCII digits only, no spaces, units
case-sensitive. Two extensions: a bare number such as ``"15"`` or ``"2.5"`` (optionally
with an exponent, ``"1e3"``) means seconds, and the units ``d`` (24 h) and ``w`` (7 d) are
accepted, since availability figures (MTBF, windows) are naturally written in days.

``parse_rate`` reads rates in the same spirit: ``"3000/s"``, ``"50/min"``, ``"2/5s"``
(two per five seconds), or a plain number per second.
"""

from __future__ import annotations

import math
import numbers
import re
from datetime import timedelta
from decimal import Decimal
from typing import TypeAlias

import numpy as np

__all__ = ["DurationLike", "RateLike", "parse_duration", "parse_rate"]

DurationLike: TypeAlias = str | float | int | timedelta | np.timedelta64
"""Anything :func:`parse_duration` accepts."""

RateLike: TypeAlias = str | float | int
"""Anything :func:`parse_rate` accepts."""

_EXPECTED = "expected a duration such as 15s, 1m30s, 500ms, 2h, 1d or a number of seconds"
_EXPECTED_RATE = "expected a rate such as 3000/s, 50/min, 2/5s or a number per second"

# Seconds per unit, exact. Go accepts U+00B5 (micro sign) and U+03BC (Greek mu) for "µs".
_UNIT_SECONDS: dict[str, Decimal] = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "\u00b5s": Decimal("1e-6"),
    "\u03bcs": Decimal("1e-6"),
    "ms": Decimal("1e-3"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
    # extensions beyond Go: days and weeks
    "d": Decimal(86400),
    "w": Decimal(7 * 86400),
}
# ASCII digits only, as Go: Python's \d would also match other scripts' digits
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
_UNIT = "|".join(sorted(map(re.escape, _UNIT_SECONDS), key=len, reverse=True))
_COMPONENT_RE = re.compile(rf"({_NUMBER})({_UNIT})")
_GO_DURATION_RE = re.compile(rf"([+-]?)((?:{_NUMBER}(?:{_UNIT}))+)")
_PLAIN_SECONDS_RE = re.compile(rf"[+-]?{_NUMBER}(?:[eE][+-]?[0-9]+)?")
# Rates: a count, "/", then a unit (one of them) or a duration; "min", "sec", "hour" and
# "day" are accepted as spelled out because "50/min" is how people write rates.
_RATE_RE = re.compile(rf"({_NUMBER}(?:[eE][+-]?[0-9]+)?)/(.+)")
_RATE_WORDS: dict[str, str] = {"sec": "s", "min": "m", "hour": "h", "day": "d"}
_ASCII_SPACE = " \t\n\r"


def _invalid(value: object, name: str, reason: str = _EXPECTED) -> ValueError:
    return ValueError(f"invalid {name} {value!r}: {reason}")


def _finite(seconds: float, value: object, name: str) -> float:
    if not math.isfinite(seconds):
        raise _invalid(value, name, "expected a finite duration")
    return seconds


def _parse_string(value: str, name: str) -> float:
    text = value.strip(_ASCII_SPACE)
    if _PLAIN_SECONDS_RE.fullmatch(text):
        return _finite(float(Decimal(text)), value, name)
    match = _GO_DURATION_RE.fullmatch(text)
    if match is None:
        raise _invalid(value, name)
    sign, body = match.groups()
    total = sum(
        (Decimal(number) * _UNIT_SECONDS[unit] for number, unit in _COMPONENT_RE.findall(body)),
        start=Decimal(0),
    )
    if sign == "-":
        total = -total
    return _finite(float(total), value, name)


def parse_duration(value: DurationLike, name: str = "duration") -> float:
    """Convert a duration to seconds.

    Parameters
    ----------
    value : str, int, float, datetime.timedelta or numpy.timedelta64
        A Go-style duration string (``"15s"``, ``"1m30s"``, ``"500ms"``, ``"2h"``,
        ``"1.5s"``, ``"100us"``, ``"100µs"``, ``"10ns"``, ``"1h2m3.5s"``), with days and
        weeks too (``"1d"``, ``"1d12h"``, ``"2w"``), a numeric string (``"15"``, ``"2.5"``:
        seconds), a real number of seconds, or a timedelta. Digits are ASCII only.
        A leading sign is allowed, as in Go: ``"-1s"`` is ``-1.0``. Checking the sign is
        left to the caller.
    name : str, optional
        The parameter's name, used in the error message.

    Returns
    -------
    float
        The duration in seconds. String components are summed exactly and rounded once.

    Raises
    ------
    ValueError
        For anything else, including ``bool``, ``None``, NaN, infinities and malformed
        strings. The message quotes the input and names the parameter, e.g.
        ``invalid lease_duration '15x': expected a duration such as 15s, 1m30s, 500ms or a
        number of seconds``.

    Examples
    --------
    >>> parse_duration("1m30s")
    90.0
    >>> parse_duration("500ms")
    0.5
    >>> parse_duration(timedelta(minutes=2))
    120.0
    """
    if isinstance(value, bool | np.bool_):
        raise _invalid(value, name, "a bool is not a duration")
    if isinstance(value, str):
        return _parse_string(value, name)
    if isinstance(value, timedelta):
        return _finite(value.total_seconds(), value, name)
    if isinstance(value, np.timedelta64):
        if np.isnat(value):
            raise _invalid(value, name, "expected a finite duration")
        return _finite(float(value / np.timedelta64(1, "s")), value, name)
    if isinstance(value, numbers.Real):
        return _finite(float(value), value, name)
    raise _invalid(value, name)


def parse_rate(value: RateLike, name: str = "rate") -> float:
    """Convert a rate to events per second.

    Parameters
    ----------
    value : str, int or float
        ``"COUNT/UNIT"`` with a unit of :func:`parse_duration` (``"3000/s"``, ``"50/m"``,
        ``"10/h"``, ``"5/d"``) or one of ``sec``, ``min``, ``hour``, ``day``
        (``"50/min"``); ``"COUNT/DURATION"`` (``"2/5s"``, ``"1/1m30s"``); or a plain number
        per second (``"3000"``, ``2.5``). ASCII digits only.
    name : str, optional
        The parameter's name, used in the error message.

    Returns
    -------
    float
        Events per second (finite; the sign is the caller's to check).

    Raises
    ------
    ValueError
        For anything else, e.g. ``invalid --arrival-rate '3000/x': expected a rate such as
        3000/s, 50/min, 2/5s or a number per second``; also for a zero duration.

    Examples
    --------
    >>> parse_rate("3000/s")
    3000.0
    >>> parse_rate("90/min")
    1.5
    >>> parse_rate("2/500ms")
    4.0
    """
    if isinstance(value, bool | np.bool_):
        raise _invalid(value, name, "a bool is not a rate")
    if isinstance(value, numbers.Real):
        return _finite(float(value), value, name)
    if not isinstance(value, str):
        raise _invalid(value, name, _EXPECTED_RATE)
    text = value.strip(_ASCII_SPACE)
    if _PLAIN_SECONDS_RE.fullmatch(text):
        return _finite(float(Decimal(text)), value, name)
    match = _RATE_RE.fullmatch(text)
    if match is None:
        raise _invalid(value, name, _EXPECTED_RATE)
    count, per = match.groups()
    per = _RATE_WORDS.get(per, per)
    if per in _UNIT_SECONDS:
        per = "1" + per
    if not _GO_DURATION_RE.fullmatch(per) or per[0] in "+-":
        raise _invalid(value, name, _EXPECTED_RATE)
    interval = _parse_string(per, name)
    if not interval > 0:
        raise _invalid(value, name, "the time after '/' must be > 0")
    return _finite(float(Decimal(count) / Decimal(repr(interval))), value, name)
