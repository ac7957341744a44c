"""Figures of control-plane availability, in the project's style.

Each function takes a DataFrame from :mod:`ha_toolkit.availability.controlplane` or
:mod:`ha_toolkit.availability.explore` and an optional ``ax``, and returns the Axes. When it
makes its own figure it draws inside :func:`ha_toolkit.plotting.style`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np

from ha_toolkit.plotting import style

__all__ = ["plot_downtime_share", "plot_mechanisms", "plot_nines"]

_HOURS = 3600.0


def _axes(ax: Any) -> tuple[Any, contextlib.AbstractContextManager[None]]:
    if ax is not None:
        return ax, contextlib.nullcontext()
    import matplotlib.pyplot as plt

    with style():
        _, new = plt.subplots()
    return new, style()


def _check_columns(frame: Any, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"frame has no column(s) {', '.join(map(repr, missing))}")
    if len(frame) == 0:
        raise ValueError("frame must not be empty")


def plot_downtime_share(
    frame: Any, ax: Any = None, *, title: str | None = None, unit: str = "min"
) -> Any:
    """Horizontal bars of each component's downtime a year, labelled with its share.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`~ha_toolkit.availability.controlplane.control_plane` output (columns
        ``component``, ``downtime_per_year``, ``share``); the ``"control plane"`` total
        row is left out of the bars and shown in the title.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    title : str, optional
        Title; by default the total availability and downtime.
    unit : {"s", "min", "h"}
        Unit of the downtime axis.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_columns(frame, ("component", "downtime_per_year", "share"))
    scale = {"s": 1.0, "min": 60.0, "h": _HOURS}
    if unit not in scale:
        raise ValueError(f"invalid unit {unit!r}: expected s, min or h")
    total = frame[frame["component"] == "control plane"]
    parts = frame[frame["component"] != "control plane"].sort_values("downtime_per_year")
    ax, ctx = _axes(ax)
    with ctx:
        values = parts["downtime_per_year"].to_numpy(float) / scale[unit]
        y = np.arange(len(parts))
        ax.barh(y, values, color="#0072B2")
        for yi, v, share in zip(y, values, parts["share"], strict=True):
            ax.text(v, yi, f" {100 * share:.1f} %", va="center", fontsize=8)
        ax.set_yticks(y, list(parts["component"]))
        ax.set_xlabel(f"downtime per year ({unit})")
        ax.set_xlim(0, max(values.max(), 1e-12) * 1.2)
        ax.grid(axis="y", visible=False)
        if title is None and len(total):
            row = total.iloc[0]
            title = (
                f"control plane: {100 * row['availability']:.4f} %, "
                f"{row['downtime_per_year'] / scale[unit]:.3g} {unit} a year"
            )
        if title:
            ax.set_title(title)
    return ax


def plot_mechanisms(
    frame: Any,
    x: str,
    ax: Any = None,
    *,
    value: str = "downtime_per_year",
    unit: str = "s",
    title: str | None = None,
) -> Any:
    """Stacked bars: downtime by mechanism for each value of ``x``.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tidy rows with columns ``x``, ``mechanism`` and ``value`` (seconds), e.g. from
        :func:`~ha_toolkit.availability.explore.leader_settings_effect`.
    x : str
        Column giving the bars, in order of first appearance.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    value : str
        Column of the stacked quantity (seconds).
    unit : {"s", "min", "h"}
        Unit of the vertical axis.
    title : str, optional
        Title of the Axes.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_columns(frame, (x, "mechanism", value))
    scale = {"s": 1.0, "min": 60.0, "h": _HOURS}
    if unit not in scale:
        raise ValueError(f"invalid unit {unit!r}: expected s, min or h")
    table = frame.pivot_table(
        index=x, columns="mechanism", values=value, aggfunc="sum", sort=False
    ).fillna(0.0)
    table = table.loc[list(dict.fromkeys(frame[x]))]
    order = table.sum(axis=0).sort_values(ascending=False).index
    ax, ctx = _axes(ax)
    with ctx:
        bottom = np.zeros(len(table))
        positions = np.arange(len(table))
        for mech in order:
            heights = table[mech].to_numpy(float) / scale[unit]
            ax.bar(positions, heights, bottom=bottom, label=str(mech))
            bottom += heights
        ax.set_xticks(positions, [str(v) for v in table.index])
        ax.set_ylim(0, max(float(bottom.max()), 1e-12) * 1.08)
        ax.set_ylabel(f"downtime per year ({unit})")
        ax.set_xlabel(x)
        ax.grid(axis="x", visible=False)
        ax.legend(loc="upper left", fontsize=8)
        if title:
            ax.set_title(title)
    return ax


def plot_nines(frame: Any, ax: Any = None, *, title: str | None = None) -> Any:
    """Nines against tier size, one line per tier kind.

    Parameters
    ----------
    frame : pandas.DataFrame
        :func:`~ha_toolkit.availability.explore.nines_vs_replicas` output (columns
        ``replicas``, ``tier``, ``nines``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    title : str, optional
        Title of the Axes.

    Returns
    -------
    matplotlib.axes.Axes
    """
    _check_columns(frame, ("replicas", "tier", "nines"))
    ax, ctx = _axes(ax)
    with ctx:
        for tier, part in frame.groupby("tier", sort=False):
            nines = part["nines"].to_numpy(float)
            ax.plot(
                part["replicas"],
                np.where(np.isfinite(nines), nines, np.nan),
                marker="o",
                label=str(tier),
            )
        ax.set_xlabel("replicas")
        ax.set_ylabel("nines, -log10(1 - A)")
        ax.set_xticks(sorted(frame["replicas"].unique()))
        ax.legend()
        if title:
            ax.set_title(title)
    return ax
