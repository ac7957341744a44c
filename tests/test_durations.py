"""Tests of ha_toolkit.durations.parse_duration."""

from datetime import timedelta
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ha_toolkit.durations import parse_duration, parse_rate


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("1m30s", 90.0),
        ("500ms", 0.5),
        ("2h", 7200.0),
        ("1h2m3.5s", 3600 + 120 + 3.5),
        ("-1s", -1.0),
        ("+2s", 2.0),
        ("15s", 15.0),
        ("1.5s", 1.5),
        (".5s", 0.5),
        ("1.s", 1.0),
        ("100us", 1e-4),
        ("100\u00b5s", 1e-4),  # micro sign
        ("100\u03bcs", 1e-4),  # Greek small letter mu
        ("10ns", 1e-8),
        ("1h1h", 7200.0),  # Go sums repeated units
        ("-1m30s", -90.0),  # the sign applies to the whole duration
        ("0", 0.0),
        ("15", 15.0),
        ("2.5", 2.5),
        (" 15s ", 15.0),
        ("1e3", 1000.0),
        ("1d", 86400.0),  # extension: days and weeks
        ("1d12h", 129600.0),
        ("12h1d", 129600.0),
        ("2w", 14 * 86400.0),
        ("1.5d", 129600.0),
        (15, 15.0),
        (2.5, 2.5),
        (0, 0.0),
        (-3, -3.0),
        (Fraction(1, 4), 0.25),
        (np.float64(1.25), 1.25),
        (np.int64(7), 7.0),
        (timedelta(minutes=1, seconds=30), 90.0),
        (timedelta(milliseconds=500), 0.5),
        (timedelta(seconds=-1), -1.0),
        (np.timedelta64(1500, "ms"), 1.5),
    ],
)
def test_parses_good_inputs(value, seconds):
    result = parse_duration(value)
    assert isinstance(result, float)
    assert result == seconds


@pytest.mark.parametrize(
    "value",
    [
        "15x",
        "",
        "   ",
        "s",
        "1.2.3s",
        ".s",
        "1m30",  # a trailing number without unit
        "1m 30s",
        "15S",  # units are case-sensitive, as in Go
        "\u0661\u0665s",  # Arabic-Indic digits: Go reads ASCII digits only
        "\uff11\uff15s",  # fullwidth digits
        "1\u0665",
        "15s\u00a0",  # a no-break space is not trimmed
        "1_000s",  # Python's float() accepts underscores; Go does not
        "1D",
        "--1s",
        "inf",
        "nan",
        "1e400",  # overflows to infinity
        True,
        False,
        np.bool_(True),
        float("nan"),
        float("inf"),
        float("-inf"),
        None,
        [15],
        b"15s",
        np.timedelta64("NaT"),
    ],
)
def test_rejects_bad_inputs_naming_value_and_parameter(value):
    with pytest.raises(ValueError) as info:
        parse_duration(value, name="lease_duration")
    message = str(info.value)
    assert "lease_duration" in message
    assert repr(value) in message


def test_default_name_in_message():
    with pytest.raises(ValueError, match=r"invalid duration '15x': expected a duration"):
        parse_duration("15x")


def test_message_matches_documented_form():
    with pytest.raises(ValueError) as info:
        parse_duration("15x", name="lease_duration")
    assert str(info.value) == (
        "invalid lease_duration '15x': expected a duration such as 15s, 1m30s, 500ms, 2h, "
        "1d or a number of seconds"
    )


@given(
    hours=st.integers(min_value=0, max_value=1000),
    minutes=st.integers(min_value=0, max_value=59),
    seconds=st.integers(min_value=0, max_value=59),
    millis=st.integers(min_value=0, max_value=999),
    negative=st.booleans(),
)
def test_formatted_components_parse_to_their_sum(hours, minutes, seconds, millis, negative):
    text = f"{'-' if negative else ''}{hours}h{minutes}m{seconds}s{millis}ms"
    exact = Fraction(hours * 3600 + minutes * 60 + seconds) + Fraction(millis, 1000)
    expected = float(-exact if negative else exact)
    assert parse_duration(text) == expected


@given(
    whole=st.integers(min_value=0, max_value=10**6),
    frac=st.integers(min_value=0, max_value=999_999),
    unit=st.sampled_from([("h", 3600), ("m", 60), ("s", 1), ("ms", Fraction(1, 1000))]),
)
def test_decimal_component_is_rounded_once(whole, frac, unit):
    suffix, scale = unit
    text = f"{whole}.{frac:06d}{suffix}"
    expected = float((Fraction(whole) + Fraction(frac, 10**6)) * scale)
    assert parse_duration(text) == expected


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_finite_floats_pass_through(x):
    assert parse_duration(x) == x


@given(st.timedeltas())
def test_timedelta_matches_total_seconds(td):
    exact = Fraction(td.days * 86400 + td.seconds) + Fraction(td.microseconds, 10**6)
    assert parse_duration(td) == pytest.approx(float(exact), rel=1e-15, abs=1e-9)


@pytest.mark.parametrize(
    ("value", "per_second"),
    [
        ("3000/s", Fraction(3000)),
        ("50/min", Fraction(50, 60)),
        ("50/m", Fraction(50, 60)),
        ("10/h", Fraction(10, 3600)),
        ("10/hour", Fraction(10, 3600)),
        ("5/d", Fraction(5, 86400)),
        ("3/sec", Fraction(3)),
        ("2/500ms", Fraction(4)),
        ("2/5s", Fraction(2, 5)),
        ("3/1m30s", Fraction(3, 90)),
        ("1.5/s", Fraction(3, 2)),
        ("1e3/s", Fraction(1000)),
        ("3000", Fraction(3000)),
        (" 7.5 ", Fraction(15, 2)),
        (12, Fraction(12)),
        (0.25, Fraction(1, 4)),
    ],
)
def test_parse_rate(value, per_second):
    assert parse_rate(value) == float(per_second)


@pytest.mark.parametrize(
    "value",
    ["3000/x", "/s", "3/", "3/0s", "3/-1s", "s/3", "3//s", "\u0663/s", "1_0/s", True, None, "inf"],
)
def test_parse_rate_rejects_naming_the_flag(value):
    with pytest.raises(ValueError, match="--arrival-rate"):
        parse_rate(value, name="--arrival-rate")
