"""The project's figures, drawn in one style and saved deterministically.

Every plot function takes data and an optional ``ax``, draws on it and returns the Axes.
The look of the figures comes from :func:`style`, a context manager around
:func:`matplotlib.rc_context`: nothing here changes the global ``rcParams``.

:func:`save_figure` writes ``<name>.png`` and ``<name>.svg`` into the repository's
``figures/`` directory, byte for byte the same on every run: the PNG carries no
``Software`` entry, the SVG no date nor creator, and its element ids come from a fixed
``svg.hashsalt``. Fonts are pinned to DejaVu Sans, which matplotlib ships, so the output
does not depend on the fonts of the machine.

Examples
--------
>>> import matplotlib.pyplot as plt
>>> from ha_toolkit.plotting import plot_cdf, save_figure, style
>>> with style():  # doctest: +SKIP
...     fig, ax = plt.subplots()
...     plot_cdf({"crash": dist}, ax=ax)
...     save_figure(fig, "example")
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import matplotlib as mpl
import numpy as np

__all__ = [
    "FIGURES_ENV",
    "STYLE",
    "SavedFigure",
    "figures_directory",
    "find_repo_root",
    "plot_cdf",
    "place_legend",
    "plot_heatmap",
    "save_figure",
    "style",
]

#: Environment variable naming the directory :func:`save_figure` writes to.
FIGURES_ENV = "HA_TOOLKIT_FIGURES"

#: Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

#: The project's rc settings. Every key that affects the rendered bytes is set explicitly,
#: so a figure looks the same under Agg and under the notebook's inline backend.
STYLE: dict[str, Any] = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100.0,
    "figure.facecolor": "white",
    "figure.edgecolor": "white",
    "figure.constrained_layout.use": True,
    "savefig.dpi": 150.0,
    "savefig.facecolor": "white",
    "savefig.edgecolor": "white",
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.05,
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10.0,
    "axes.titlesize": 11.0,
    "axes.labelsize": 10.0,
    "axes.grid": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": mpl.cycler(color=list(_PALETTE)),
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "legend.frameon": False,
    "legend.fontsize": 9.0,
    "lines.linewidth": 1.6,
    "image.cmap": "viridis",
    "svg.fonttype": "path",
    "svg.hashsalt": "ha-toolkit",
    "path.simplify": True,
}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class _HasCdf(Protocol):
    def cdf(self, x: Any) -> Any: ...

    def ppf(self, q: Any) -> Any: ...

    def support(self) -> tuple[float, float]: ...


@contextlib.contextmanager
def style(rc: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Apply the project's matplotlib style inside a ``with`` block.

    Parameters
    ----------
    rc : mapping, optional
        Extra rc settings applied on top of :data:`STYLE`.

    Yields
    ------
    None
        The previous ``rcParams`` are restored on exit, also on error.
    """
    settings = dict(STYLE)
    if rc:
        settings.update(rc)
    with mpl.rc_context(rc=settings):
        yield


def _new_axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots()
    return new


def _drawing_style(ax: Any) -> contextlib.AbstractContextManager[None]:
    """The project style when the function makes its own figure; else the caller's."""
    return style() if ax is None else contextlib.nullcontext()


def plot_cdf(
    dists: Mapping[str, _HasCdf],
    ax: Any = None,
    *,
    quantiles: Sequence[float] = (0.99,),
    points: int = 600,
    xlabel: str = "time (s)",
    title: str | None = None,
    legend: str = "right",
) -> Any:
    """Plot the CDFs of several duration distributions and mark their quantiles.

    Parameters
    ----------
    dists : mapping of str to distribution
        Label -> object with ``cdf(x)``, ``ppf(q)`` and ``support() -> (lo, hi)``
        (e.g. :class:`ha_toolkit.distribution.Distribution`).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    quantiles : sequence of float, default (0.99,)
        Levels in (0, 1) marked on each curve with a dot and a dotted horizontal line; the
        value of the first one is added to the legend label.
    points : int, default 600
        Evaluation points per curve, spread both over the union of the supports and over
        the curve's own support (so narrow distributions stay resolved).
    xlabel : str, default "time (s)"
        Label of the horizontal axis.
    title : str, optional
        Title of the Axes.
    legend : {"right", "best", "none"}, default "right"
        Where the legend goes: beside the Axes, off the curves; ``"best"`` lets
        matplotlib choose a place inside (it may cover a curve); ``"none"`` draws none.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    if legend not in _LEGEND_PLACES:
        raise ValueError(f"legend must be one of {', '.join(_LEGEND_PLACES)}; got {legend!r}")
    if not dists:
        raise ValueError("dists must hold at least one distribution")
    qs = [float(q) for q in quantiles]
    for q in qs:
        if not 0.0 < q < 1.0:
            raise ValueError(f"quantiles must lie in (0, 1), got {q!r}")
    if points < 2:
        raise ValueError(f"points must be at least 2, got {points!r}")
    with _drawing_style(ax):
        ax = _draw_cdf(_new_axes(ax), dists, qs, points, xlabel, title)
        place_legend(ax, legend)
        return ax


def _draw_cdf(
    ax: Any,
    dists: Mapping[str, _HasCdf],
    qs: list[float],
    points: int,
    xlabel: str,
    title: str | None,
) -> Any:
    supports = {label: tuple(float(v) for v in d.support()) for label, d in dists.items()}
    lo = min(s[0] for s in supports.values())
    hi = max(s[1] for s in supports.values())
    pad = 0.02 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.05
    union = np.linspace(lo - pad, hi + pad, points)
    for label, dist in dists.items():
        own_lo, own_hi = supports[label]
        x = np.unique(np.concatenate([union, np.linspace(own_lo, own_hi, points)]))
        y = np.clip(np.asarray(dist.cdf(x), dtype=float), 0.0, 1.0)
        text = str(label)
        if qs:
            text += f" (p{_pct(qs[0])} {float(dist.ppf(qs[0])):.3g} s)"
        (line,) = ax.plot(x, y, label=text)
        for q in qs:
            ax.plot(float(dist.ppf(q)), q, "o", ms=4, color=line.get_color())
    for q in qs:
        ax.axhline(q, ls=":", lw=0.8, color="0.4")
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(0.0, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("probability (CDF)")
    if title is not None:
        ax.set_title(title)
    return ax


#: Legend placements of :func:`place_legend`.
_LEGEND_PLACES = ("right", "best", "none")


def place_legend(ax: Any, where: str = "right", **kwargs: Any) -> Any:
    """Put an Axes' legend off its curves, beside the Axes (``"right"``).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    where : {"right", "best", "none"}, default "right"
        ``"best"`` is matplotlib's choice inside the Axes; ``"none"`` removes the legend.
    **kwargs
        Passed to :meth:`matplotlib.axes.Axes.legend` (e.g. ``ncol``).

    Returns
    -------
    matplotlib.legend.Legend or None
    """
    if where not in _LEGEND_PLACES:
        raise ValueError(f"where must be one of {', '.join(_LEGEND_PLACES)}; got {where!r}")
    if where == "none":
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        return None
    if where == "best":
        return ax.legend(loc="best", **kwargs)
    # beside the Axes; constrained layout makes room for it (and settles within one draw)
    return ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), **kwargs)


def _pct(q: float) -> str:
    text = f"{100.0 * q:.6g}"
    return text


def _tick(value: Any) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.4g}"
    return str(value)


def plot_heatmap(
    frame: Any,
    x: str,
    y: str,
    value: str,
    ax: Any = None,
    fmt: str | Callable[[float], str] | None = None,
    *,
    cmap: str = "viridis",
    colorbar_label: str | None = None,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    log: bool = False,
    missing: str = "n/a",
    note: str | None = None,
) -> Any:
    """Draw an annotated heatmap from a tidy DataFrame.

    Parameters
    ----------
    frame : pandas.DataFrame
        Tidy table with one row per cell.
    x, y : str
        Columns giving the horizontal and vertical coordinates (sorted ascending; y grows
        upwards).
    value : str
        Column holding the cell values; NaN cells are left blank and annotated with
        ``missing``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    fmt : str or callable, optional
        Format of the annotations: a ``str.format`` pattern or a function of the value.
        Default ``"{:.3g}"``, or two significant digits (``1.8e-10``) with ``log``.
    cmap : str, default "viridis"
        Colour map.
    colorbar_label : str, optional
        Label of the colour bar (defaults to the readable ``value``).
    title : str, optional
        Title of the Axes.
    xlabel, ylabel : str, optional
        Axis labels; by default the column names made readable (``hand_size`` -> "hand
        size").
    log : bool, default False
        Colour on a logarithmic scale (for probabilities spanning many decades): the
        colour bar is labelled in the values themselves (1e-10, 1e-5, ...), not in
        exponents, and the cells show the values. Needs positive values.
    missing : str, default "n/a"
        Text of the NaN cells, e.g. "invalid".
    note : str, optional
        A line under the Axes, e.g. what the blank cells mean.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    for col in (x, y, value):
        if col not in frame.columns:
            raise ValueError(f"frame has no column {col!r}")
    if len(frame) == 0:
        raise ValueError("frame must not be empty")
    if frame.duplicated([x, y]).any():
        raise ValueError(f"frame has more than one row for some ({x}, {y}) cell")
    table = frame.pivot(index=y, columns=x, values=value).sort_index(axis=0).sort_index(axis=1)
    if (
        log
        and not (table.to_numpy(dtype=float)[np.isfinite(table.to_numpy(dtype=float))] > 0).all()
    ):
        raise ValueError(f"log=True needs positive values in {value!r}")
    if fmt is None:
        fmt = _two_digits if log else "{:.3g}"
    formatter = fmt.format if isinstance(fmt, str) else fmt
    from ha_toolkit.tables import readable

    labels = (
        readable(x) if xlabel is None else xlabel,
        readable(y) if ylabel is None else ylabel,
        readable(value) if colorbar_label is None else colorbar_label,
    )
    with _drawing_style(ax):
        ax = _draw_heatmap(_new_axes(ax), table, formatter, cmap, labels, title, log, missing)
        if note is not None:
            ax.annotate(
                note,
                xy=(0.0, 0.0),
                xycoords="axes fraction",
                xytext=(0.0, -40.0),
                textcoords="offset points",
                ha="left",
                va="top",
                fontsize=8,
                color="0.3",
                annotation_clip=False,
            )
        return ax


def _two_digits(value: float) -> str:
    from ha_toolkit.tables import significant

    return significant(value, 2)


def _draw_heatmap(
    ax: Any,
    table: Any,
    formatter: Callable[[float], str],
    cmap: str,
    labels: tuple[str, str, str],
    title: str | None,
    log: bool,
    missing: str,
) -> Any:
    from matplotlib.colors import LogNorm

    data = table.to_numpy(dtype=float)
    masked = np.ma.masked_invalid(data)
    nx, ny = data.shape[1], data.shape[0]
    finite = data[np.isfinite(data)]
    norm = LogNorm(vmin=finite.min(), vmax=finite.max()) if log and finite.size else None
    mesh = ax.pcolormesh(
        np.arange(nx + 1), np.arange(ny + 1), masked, cmap=cmap, norm=norm, shading="flat"
    )
    shade = np.log10(data) if log else data  # the text colour follows the colour scale
    finite_shade = shade[np.isfinite(shade)]
    mid = 0.5 * (finite_shade.min() + finite_shade.max()) if finite_shade.size else 0.0
    for i in range(ny):
        for j in range(nx):
            v = data[i, j]
            if np.isfinite(v):
                # viridis-like maps are dark at the low end: light text there
                color = "white" if shade[i, j] < mid else "black"
                text = formatter(float(v))
            else:
                color, text = "0.45", missing
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(np.arange(nx) + 0.5, [_tick(v) for v in table.columns])
    ax.set_yticks(np.arange(ny) + 0.5, [_tick(v) for v in table.index])
    ax.set_xlim(0, nx)
    ax.set_ylim(0, ny)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.grid(False)
    ax.figure.colorbar(mesh, ax=ax, label=labels[2])
    if title is not None:
        ax.set_title(title)
    return ax


def _is_repo_root(path: Path) -> bool:
    pyproject = path / "pyproject.toml"
    if not (pyproject.is_file() and (path / "ha_toolkit").is_dir()):
        return False
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return False
    return re.search(r'^name\s*=\s*"ha[-_]toolkit"', text, re.MULTILINE) is not None


def find_repo_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """Find the ha-toolkit source tree.

    Looks upwards from ``start`` (default: the current directory, e.g. ``notebooks/``) and
    then from this module's location (an editable install) for a directory holding
    ``pyproject.toml`` of the ``ha-toolkit`` project and the ``ha_toolkit`` package.

    Parameters
    ----------
    start : path-like, optional
        Where to start looking; the current working directory when omitted.

    Returns
    -------
    pathlib.Path or None
        The repository root, or None when neither place lies inside the source tree
        (e.g. an installed wheel used from elsewhere).
    """
    origins = [Path(start) if start is not None else Path.cwd(), Path(__file__).parent]
    for origin in origins:
        origin = origin.resolve()
        for candidate in (origin, *origin.parents):
            if _is_repo_root(candidate):
                return candidate
    return None


def figures_directory(directory: str | os.PathLike[str] | None = None) -> Path:
    """Return the directory figures are written to.

    Parameters
    ----------
    directory : path-like, optional
        Explicit directory; it wins over everything else.

    Returns
    -------
    pathlib.Path
        ``directory`` if given, else ``$HA_TOOLKIT_FIGURES`` if set, else ``figures/`` at
        the repository root (see :func:`find_repo_root`), else ``figures/`` in the current
        directory.
    """
    if directory is not None:
        return Path(directory)
    env = os.environ.get(FIGURES_ENV)
    if env:
        return Path(env)
    root = find_repo_root()
    return (root if root is not None else Path.cwd()) / "figures"


@dataclass(frozen=True)
class SavedFigure:
    """The files written by :func:`save_figure`.

    Displayed in a notebook, it shows the saved PNG itself, so what the reader sees is
    exactly the file in ``figures/``. Its text form names the figure, not the machine's
    paths.

    Attributes
    ----------
    name : str
        Figure name (file stem).
    png, svg : pathlib.Path
        The written files.
    """

    name: str
    png: Path
    svg: Path

    def __repr__(self) -> str:
        return f"SavedFigure({self.name!r}: {self.png.name}, {self.svg.name})"

    def _repr_png_(self) -> tuple[bytes, dict[str, int]]:
        data = self.png.read_bytes()
        # shown at screen size (figure.dpi), not at the file's print resolution
        width = int.from_bytes(data[16:20], "big")
        scale = float(STYLE["figure.dpi"]) / float(STYLE["savefig.dpi"])
        return data, {"width": max(1, round(width * scale))}


def _render(fig: Any, fmt: str, dpi: float, metadata: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
    return buffer.getvalue()


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` unless the file already holds exactly these bytes (keeps mtimes)."""
    try:
        if path.read_bytes() == data:
            return
    except OSError:
        pass
    path.write_bytes(data)


def save_figure(
    fig: Any,
    name: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    close: bool = True,
) -> SavedFigure:
    """Write ``<name>.png`` and ``<name>.svg`` deterministically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure to save.
    name : str
        File stem: letters, digits, ``.``, ``_`` and ``-``, no directories.
    directory : path-like, optional
        Output directory; see :func:`figures_directory` for the default. Created if
        missing.
    close : bool, default True
        Close the figure afterwards (so a notebook shows it once, through the returned
        :class:`SavedFigure`, and not a second time through the inline backend).

    Returns
    -------
    SavedFigure
        The paths written.

    Notes
    -----
    Saving is done inside :func:`style` with a fixed ``svg.hashsalt``; the PNG gets
    ``metadata={"Software": None}`` and the SVG ``metadata={"Date": None, "Creator": None}``,
    so saving the same figure twice gives identical bytes. A file that already holds
    those bytes is left untouched.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(
            f"name must be a file stem of letters, digits, '.', '_' or '-', got {name!r}"
        )
    out = figures_directory(directory)
    out.mkdir(parents=True, exist_ok=True)
    png, svg = out / f"{name}.png", out / f"{name}.svg"
    with style():
        dpi = float(mpl.rcParams["savefig.dpi"])
        # Constrained layout settles over draws (a legend beside the Axes needs a second
        # one), and would re-run, drifting by fractions of a point, at every file written:
        # settle it, then freeze it, so both files and any later save see the same layout.
        fig.draw_without_rendering()
        fig.draw_without_rendering()
        if fig.get_layout_engine() is not None:
            fig.set_layout_engine("none")
        _write_if_changed(png, _render(fig, "png", dpi, {"Software": None}))
        _write_if_changed(svg, _render(fig, "svg", dpi, {"Date": None, "Creator": None}))
    if close:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return SavedFigure(name=name, png=png, svg=svg)
