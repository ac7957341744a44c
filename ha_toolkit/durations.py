"""Parse durations written the way Kubernetes components write them.

``parse_duration`` turns ``"15s"``, ``"1m30s"``, ``"500ms"``, a :class:`datetime.timedelta`
or a plain number of seconds into a float number of seconds. The string grammar is the one
of Go's ``time.ParseDuration`` (a sign, then one or more decimal numbers each followed by a
unit among ``ns``, ``us``/``µs``, ``ms``, ``s``, ``m``, ``h``), extended so that a bare
number such as ``"15"`` or ``"2.5"`` means seconds.
"""

from __future__ import annotations

import math
import numbers
import re
from datetime import timedelta
from decimal import Decimal
from typing import TypeAlias

import numpy as np

__all__ = ["DurationLike", "parse_duration"]

DurationLike: TypeAlias = str | float | int | timedelta | np.timedelta64
"""Anything :func:`parse_duration` accepts."""

_EXPECTED = "expected a duration such as 15s, 1m30s, 500ms or a number of seconds"

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
}
_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_UNIT = "|".join(sorted(map(re.escape, _UNIT_SECONDS), key=len, reverse=True))
_COMPONENT_RE = re.compile(rf"({_NUMBER})({_UNIT})")
_GO_DURATION_RE = re.compile(rf"([+-]?)((?:{_NUMBER}(?:{_UNIT}))+)")
_PLAIN_SECONDS_RE = re.compile(rf"[+-]?{_NUMBER}(?:[eE][+-]?\d+)?")


def _invalid(value: object, name: str, reason: str = _EXPECTED) -> ValueError:
    return ValueError(f"invalid {name} {value!r}: {reason}")


def _finite(seconds: float, value: object, name: str) -> float:
    if not math.isfinite(seconds):
        raise _invalid(value, name, "expected a finite duration")
    return seconds


def _parse_string(value: str, name: str) -> float:
    text = value.strip()
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
        ``"1.5s"``, ``"100us"``, ``"100µs"``, ``"10ns"``, ``"1h2m3.5s"``), a numeric string
        (``"15"``, ``"2.5"``: seconds), a real number of seconds, or a timedelta.
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
