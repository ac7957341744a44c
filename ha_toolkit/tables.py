"""Tables for people: readable headers with units, one number format, stable HTML.

:func:`styled_table` turns a tidy DataFrame into a :class:`pandas.io.formats.style.Styler`
that a notebook displays as an HTML table: ``lease_duration`` becomes "lease duration (s)",
numbers get a fixed number of significant digits (``16.57``, ``0.75``, ``5.672e-9``; the
format of :func:`significant`, which the command line's tables use too), missing values a
dash, and the index is hidden unless it carries meaning. The HTML ids derive from the
table's content, not from a random uuid, so stored notebook outputs stay the same from run
to run (nbval compares them).
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

__all__ = ["readable", "significant", "styled_table"]

#: Words a column name is spelled out to when it appears whole or as a part.
_WORDS = {
    "cl": "CL",
    "rps": "requests/s",
    "ks": "KS",
    "ld": "LD",
    "rd": "RD",
    "rp": "RP",
    "rel": "rel. error",
}


def significant(value: Any, digits: int = 4) -> str:
    """A number with ``digits`` significant digits, the toolkit's one table format.

    Positional notation from 1e-4 up to 1e6 without trailing zeros (``0.75``, ``16.57``,
    ``400``), scientific beyond with a short exponent (``5.672e-9``, ``1.235e6``); ``-`` for
    None or NaN, ``inf`` for infinity; strings and bools pass through as text.

    Parameters
    ----------
    value : real number, None or str
    digits : int, default 4
        Significant digits, at least 1.

    Returns
    -------
    str

    Examples
    --------
    >>> significant(16.5749), significant(5.67209e-09), significant(0.75)
    ('16.57', '5.672e-9', '0.75')
    """
    if isinstance(digits, bool) or not isinstance(digits, numbers.Integral) or digits < 1:
        raise ValueError(f"digits must be an integer >= 1, got {digits!r}")
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    x = float(value)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(x)))
    if -4 <= magnitude < 6:
        decimals = max(int(digits) - 1 - magnitude, 0)
        text = f"{x:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text
    mantissa, exponent = f"{x:.{int(digits) - 1}e}".split("e")
    if "." in mantissa:
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def readable(name: Any, unit: str | None = None) -> str:
    """A column header for people: ``"p99_failover"`` -> ``"p99 failover"``, plus the unit.

    Parameters
    ----------
    name : str or any
        The column name; underscores become spaces, a few abbreviations are spelled as
        Kubernetes writes them (``nominal_cl`` -> ``nominal CL``).
    unit : str, optional
        Appended in parentheses: ``readable("mean_wait", "ms")`` is ``"mean wait (ms)"``.
    """
    words = [_WORDS.get(part, part) for part in str(name).split("_") if part]
    text = " ".join(words) if words else str(name)
    return f"{text} ({unit})" if unit else text


def _check_columns(frame: pd.DataFrame, mapping: Mapping[Any, Any] | None, what: str) -> None:
    if mapping is None:
        return
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{what} must be a mapping of column to text, got {mapping!r}")
    unknown = [key for key in mapping if key not in frame.columns]
    if unknown:
        raise ValueError(f"{what}: no column {unknown[0]!r} in the frame")


def styled_table(
    frame: pd.DataFrame,
    *,
    units: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    digits: int | Mapping[str, int] = 4,
    index: bool = False,
    caption: str | None = None,
) -> Styler:
    """Render a DataFrame as a readable HTML table (a pandas Styler).

    Parameters
    ----------
    frame : pandas.DataFrame
        The table; its values are not changed.
    units : mapping of column to str, optional
        Units shown in the headers, e.g. ``{"p99": "s", "mean_wait": "ms"}``. Columns the
        frame does not have are ignored, so that one mapping serves several tables.
    labels : mapping of column to str, optional
        Headers to use instead of :func:`readable` of the column name (the unit is still
        appended).
    digits : int or mapping of column to int, default 4
        Significant digits of the numbers (see :func:`significant`); per column with a
        mapping (columns not named get 4).
    index : bool, default False
        Show the index (with a readable name), e.g. for a pivot table.
    caption : str, optional
        A caption above the table.

    Returns
    -------
    pandas.io.formats.style.Styler
        Displayed as HTML by Jupyter; ``.to_html()`` gives the markup. The HTML ids are a
        hash of the content, the same on every run; ``repr()`` is the formatted table as
        plain text (what a terminal or a text-only output shows).

    Raises
    ------
    ValueError
        When ``labels`` or ``digits`` name a column the frame does not have, two headers
        coincide, or ``frame`` is not a DataFrame.
    """
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    if units is not None and not isinstance(units, Mapping):
        raise ValueError(f"units must be a mapping of column to unit, got {units!r}")
    _check_columns(frame, labels, "labels")
    per_column = digits if isinstance(digits, Mapping) else {}
    _check_columns(frame, per_column or None, "digits")
    default_digits = 4 if isinstance(digits, Mapping) else digits
    significant(1.0, default_digits)  # validates digits
    units, labels = dict(units or {}), dict(labels or {})

    headers = {
        column: readable(labels[column] if column in labels else column, units.get(column))
        if column not in labels
        else labels[column] + (f" ({units[column]})" if column in units else "")
        for column in frame.columns
    }
    if len(set(headers.values())) != len(headers):
        raise ValueError("labels: two columns would get the same header")
    shown = frame.rename(columns=headers)
    if index and shown.index.names != [None]:
        shown.index = shown.index.set_names([readable(n) if n else n for n in shown.index.names])

    def formatter(column: Any) -> Any:
        n = int(per_column.get(column, default_digits))
        return lambda value: significant(value, n)

    styler = _styled_table_class()(shown)
    styler = styler.format({headers[c]: formatter(c) for c in frame.columns})
    text = shown.copy()
    for column in frame.columns:
        text[headers[column]] = [formatter(column)(v) for v in shown[headers[column]]]
    styler.text = text.to_string(index=index)
    if index:
        styler = styler.format_index(lambda v: significant(v) if _is_number(v) else str(v))
    else:
        styler = styler.hide(axis="index")
    if caption is not None:
        styler = styler.set_caption(caption)
    numeric = [headers[c] for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    styler = styler.set_table_styles(
        [{"selector": "th", "props": [("text-align", "right")]}], overwrite=False
    )
    return styler.set_uuid(_content_id(frame, caption))


def _styled_table_class() -> type:
    """A Styler whose plain-text form is the formatted table, not ``<Styler at 0x...>``:
    stored notebook outputs then stay the same from run to run."""
    from pandas.io.formats.style import Styler

    class StyledTable(Styler):
        text = ""

        def __repr__(self) -> str:
            return self.text

    return StyledTable


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _content_id(frame: pd.DataFrame, caption: str | None) -> str:
    """A short id from the table's content: stable across runs, distinct between tables.

    Numbers enter with four significant digits, as shown: a change in the last bits of a
    float (another machine, another BLAS) must not change the stored HTML of a notebook.
    """
    digest = hashlib.sha256()
    digest.update(repr(list(frame.columns)).encode())
    digest.update(frame.to_csv(float_format="%.4g").encode())
    digest.update(repr(caption).encode())
    return digest.hexdigest()[:10]
