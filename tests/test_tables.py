"""Tests of ha_toolkit.tables: readable headers, one number format, stable HTML."""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ha_toolkit.tables import readable, significant, styled_table


def cells(html: str) -> list[str]:
    return re.findall(r"<td [^>]*>([^<]*)</td>", html)


def headers(html: str) -> list[str]:
    return re.findall(r'<th [^>]*class="col_heading[^"]*" >([^<]*)</th>', html)


@pytest.fixture
def frame():
    return pd.DataFrame(
        {
            "lease_duration": [15.0, 137.0],
            "p99": [19.61963, 197.60256],
            "nominal_cl": [13, 74],
            "probability": [5.67209e-09, np.nan],
            "preset": ["kube-scheduler", "openshift"],
        }
    )


def test_headers_are_readable_with_units(frame):
    html = styled_table(frame, units={"lease_duration": "s", "p99": "s"}).to_html()
    assert headers(html) == ["lease duration (s)", "p99 (s)", "nominal CL", "probability", "preset"]


def test_units_of_other_tables_are_ignored(frame):
    html = styled_table(frame[["p99"]], units={"p99": "s", "mean": "s"}).to_html()
    assert headers(html) == ["p99 (s)"]


def test_labels_replace_the_name_and_keep_the_unit(frame):
    html = styled_table(frame, labels={"p99": "p99 crash failover"}, units={"p99": "s"}).to_html()
    assert "p99 crash failover (s)" in headers(html)


def test_numbers_in_significant_digits_and_missing_as_dash(frame):
    html = styled_table(frame).to_html()
    assert cells(html) == [
        "15", "19.62", "13", "5.672e-9", "kube-scheduler",
        "137", "197.6", "74", "-", "openshift",
    ]  # fmt: skip
    assert "<th" in html and "row0" in html


def test_digits_per_column(frame):
    html = styled_table(frame[["p99", "probability"]], digits={"p99": 2}).to_html()
    assert cells(html) == ["20", "5.672e-9", "198", "-"]  # positional keeps whole digits


def test_index_hidden_unless_asked(frame):
    pivot = frame.set_index("preset")[["p99"]]
    hidden = styled_table(pivot).to_html()
    shown = styled_table(pivot, index=True).to_html()
    assert "kube-scheduler" not in hidden
    assert "kube-scheduler" in shown


def test_html_is_the_same_on_every_call_and_differs_between_tables(frame):
    first = styled_table(frame, caption="x").to_html()
    assert first == styled_table(frame.copy(), caption="x").to_html()
    other = styled_table(frame.head(1), caption="x").to_html()
    ids = {re.search(r'<table id="(T_[0-9a-f]+)"', html).group(1) for html in (first, other)}
    assert len(ids) == 2


def test_values_are_not_changed(frame):
    before = frame.copy()
    styled_table(frame, units={"p99": "s"})
    pd.testing.assert_frame_equal(frame, before)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"units": ["s"]}, "units must be a mapping"),
        ({"labels": {"nope": "x"}}, "labels: no column 'nope'"),
        ({"digits": 0}, "digits must be an integer >= 1"),
        ({"labels": {"p99": "preset"}}, "same header"),
    ],
)
def test_bad_arguments(frame, kwargs, match):
    with pytest.raises(ValueError, match=match):
        styled_table(frame, **kwargs)


def test_not_a_frame():
    with pytest.raises(ValueError, match="frame must be a pandas DataFrame"):
        styled_table([[1, 2]])


def test_readable():
    assert readable("p99_failover") == "p99 failover"
    assert readable("mean_wait", "ms") == "mean wait (ms)"
    assert readable("lendable_cl") == "lendable CL"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.75, "0.75"),
        (16.5749, "16.57"),
        (-0.5, "-0.5"),
        (400, "400"),
        (999999.4, "999999"),
        (1234567, "1.235e6"),
        (5.67209e-09, "5.672e-9"),
        (1e-10, "1e-10"),
        (0.0001, "0.0001"),
        (0.0, "0"),
        (float("nan"), "-"),
        (None, "-"),
        (float("-inf"), "-inf"),
        (True, "yes"),
        ("text", "text"),
    ],
)
def test_significant(value, text):
    assert significant(value) == text


@given(st.floats(min_value=-1e12, max_value=1e12, allow_nan=False).filter(lambda x: x != 0))
def test_significant_is_within_half_a_unit_of_the_fourth_digit(x):
    shown = Decimal(significant(x))
    # independent check: the relative rounding error of 4 significant digits is at most
    # 5e-4, plus the few extra digits positional notation keeps for large integers
    assert abs(shown - Decimal(x)) <= Decimal(5e-4) * abs(Decimal(x))


def test_plain_text_form_is_the_formatted_table(frame):
    text = repr(styled_table(frame[["lease_duration", "p99"]], units={"p99": "s"}))
    assert "0x" not in text  # no memory address: stored notebook outputs stay the same
    assert text.splitlines()[0].split() == ["lease", "duration", "p99", "(s)"]
    assert text.splitlines()[1].split() == ["15", "19.62"]


def test_html_is_the_same_when_numbers_differ_below_the_digits_shown():
    # stored notebook outputs must not change with round-off in the last bits
    import pandas as pd

    from ha_toolkit.tables import styled_table

    first = styled_table(pd.DataFrame({"p99 (s)": [18670.000000001, 0.12345671]})).to_html()
    again = styled_table(pd.DataFrame({"p99 (s)": [18670.000000002, 0.12345672]})).to_html()
    other = styled_table(pd.DataFrame({"p99 (s)": [18680.0, 0.12345672]})).to_html()
    assert first == again
    assert first != other
