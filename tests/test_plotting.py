"""Tests of ha_toolkit.plotting: return values, style isolation, deterministic files."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from scipy import stats  # noqa: E402

from ha_toolkit import plotting  # noqa: E402
from ha_toolkit.plotting import (  # noqa: E402
    FIGURES_ENV,
    figures_directory,
    find_repo_root,
    plot_cdf,
    plot_heatmap,
    save_figure,
    style,
)


class Frozen:
    """A scipy frozen distribution with the ``support() -> (lo, hi)`` face plot_cdf uses."""

    def __init__(self, dist):
        self._d = dist

    def cdf(self, x):
        return self._d.cdf(x)

    def ppf(self, q):
        return self._d.ppf(q)

    def support(self):
        return self._d.support()


def _dists():
    return {
        "uniform 2-6": Frozen(stats.uniform(loc=2.0, scale=4.0)),
        "triangular 15-19": Frozen(stats.triang(c=0.5, loc=15.0, scale=4.0)),
    }


def _grid_frame():
    rows = []
    for ld in (10.0, 15.0, 20.0):
        for rp in (1.0, 2.0):
            rows.append({"LD": ld, "RP": rp, "v": ld + 2.2 * rp if ld > 12 else np.nan})
    return pd.DataFrame(rows)


@pytest.fixture(autouse=True)
def _close_all():
    yield
    plt.close("all")


def _rc_snapshot():
    return {k: repr(v) for k, v in matplotlib.rcParams.items()}


def test_plot_cdf_returns_axes_and_marks_p99():
    fig, ax = plt.subplots()
    out = plot_cdf(_dists(), ax=ax)
    assert out is ax
    assert isinstance(out, Axes)
    lines = out.get_lines()
    # per distribution: one curve and one p99 marker; then one horizontal p99 line
    markers = [ln for ln in lines if ln.get_marker() == "o"]
    assert len(markers) == 2
    expected = sorted([2.0 + 4.0 * 0.99, stats.triang(c=0.5, loc=15, scale=4).ppf(0.99)])
    got = sorted(float(np.asarray(m.get_xdata())[0]) for m in markers)
    np.testing.assert_allclose(got, expected)
    assert all(float(np.asarray(m.get_ydata())[0]) == 0.99 for m in markers)
    labels = [t.get_text() for t in out.get_legend().get_texts()]
    assert labels[0].startswith("uniform 2-6 (p99 5.96")
    # the curves cover the union of the supports and reach 0 and 1
    curve = lines[0]
    assert np.asarray(curve.get_xdata()).min() < 2.0
    assert np.asarray(curve.get_xdata()).max() > 19.0
    assert np.asarray(curve.get_ydata()).min() == 0.0
    assert np.asarray(curve.get_ydata()).max() == 1.0


def test_plot_cdf_makes_its_own_axes_and_checks_arguments():
    ax = plot_cdf(_dists(), quantiles=(0.5, 0.9))
    assert isinstance(ax, Axes)
    assert len([ln for ln in ax.get_lines() if ln.get_marker() == "o"]) == 4
    with pytest.raises(ValueError, match="quantiles"):
        plot_cdf(_dists(), quantiles=(1.0,))
    with pytest.raises(ValueError, match="dists"):
        plot_cdf({})


def test_plot_heatmap_returns_axes_and_annotates_cells():
    frame = _grid_frame()
    fig, ax = plt.subplots()
    out = plot_heatmap(frame, "LD", "RP", "v", ax=ax, fmt="{:.1f}")
    assert out is ax
    texts = sorted(t.get_text() for t in ax.texts)
    expected = sorted("n/a" if np.isnan(v) else f"{v:.1f}" for v in frame["v"])
    assert texts == expected
    assert [t.get_text() for t in ax.get_xticklabels()] == ["10", "15", "20"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "2"]
    with pytest.raises(ValueError, match="column"):
        plot_heatmap(frame, "LD", "nope", "v")
    with pytest.raises(ValueError, match="more than one row"):
        plot_heatmap(pd.concat([frame, frame]), "LD", "RP", "v")


def test_plot_heatmap_callable_format():
    ax = plot_heatmap(_grid_frame(), "LD", "RP", "v", fmt=lambda v: f"<{v:.0f}>")
    assert "<17>" in {t.get_text() for t in ax.texts}


def test_style_does_not_leak_into_rcparams():
    before = _rc_snapshot()
    with style():
        assert matplotlib.rcParams["svg.hashsalt"] == "ha-toolkit"
        assert matplotlib.rcParams["savefig.dpi"] == 150.0
        fig, ax = plt.subplots()
        plot_cdf(_dists(), ax=ax)
    assert _rc_snapshot() == before
    plot_cdf(_dists())
    plot_heatmap(_grid_frame(), "LD", "RP", "v")
    assert _rc_snapshot() == before


def test_style_restores_on_error():
    before = _rc_snapshot()
    with pytest.raises(RuntimeError):
        with style({"lines.linewidth": 7.0}):
            assert matplotlib.rcParams["lines.linewidth"] == 7.0
            raise RuntimeError("boom")
    assert _rc_snapshot() == before


def _figure():
    with style():
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3))
        plot_cdf(_dists(), ax=a1, title="CDF")
        plot_heatmap(_grid_frame(), "LD", "RP", "v", ax=a2)
    return fig


def test_save_figure_is_byte_identical(tmp_path):
    first = save_figure(_figure(), "demo", tmp_path / "a")
    second = save_figure(_figure(), "demo", tmp_path / "b")
    png1, svg1 = first.png.read_bytes(), first.svg.read_bytes()
    assert png1 == second.png.read_bytes()
    assert svg1 == second.svg.read_bytes()
    assert png1.startswith(b"\x89PNG")
    assert b"Software" not in png1
    assert b"<dc:date>" not in svg1 and b"Matplotlib v" not in svg1
    # saving the very same figure again (not closed) also gives the same bytes
    fig = _figure()
    a = save_figure(fig, "again", tmp_path / "c", close=False)
    b1, b2 = a.png.read_bytes(), a.svg.read_bytes()
    save_figure(fig, "again", tmp_path / "c")
    assert (a.png.read_bytes(), a.svg.read_bytes()) == (b1, b2)


def test_save_figure_closes_and_names(tmp_path):
    fig = _figure()
    saved = save_figure(fig, "named", tmp_path)
    assert not plt.fignum_exists(fig.number)
    assert saved.png == tmp_path / "named.png" and saved.svg == tmp_path / "named.svg"
    assert repr(saved) == "SavedFigure('named': named.png, named.svg)"
    data, meta = saved._repr_png_()
    assert data == saved.png.read_bytes()
    png_width = int.from_bytes(data[16:20], "big")
    assert meta == {"width": round(png_width * 100 / 150)}
    with pytest.raises(ValueError, match="name"):
        save_figure(_figure(), "../escape", tmp_path)


def test_figures_directory_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(FIGURES_ENV, str(tmp_path / "env"))
    assert figures_directory() == tmp_path / "env"
    assert figures_directory(tmp_path / "arg") == tmp_path / "arg"
    saved = save_figure(_figure(), "viaenv")
    assert saved.png.parent == tmp_path / "env"
    monkeypatch.delenv(FIGURES_ENV)
    root = find_repo_root()
    if root is not None:  # run from the source tree
        assert figures_directory() == root / "figures"


def test_find_repo_root_from_a_subdirectory(tmp_path, monkeypatch):
    (tmp_path / "ha_toolkit").mkdir()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "ha-toolkit"\n')
    sub = tmp_path / "notebooks" / "deeper"
    sub.mkdir(parents=True)
    assert find_repo_root(sub) == tmp_path.resolve()
    monkeypatch.chdir(sub)
    monkeypatch.delenv(FIGURES_ENV, raising=False)
    assert figures_directory() == tmp_path.resolve() / "figures"


def test_module_exports():
    assert set(plotting.__all__) >= {"plot_cdf", "plot_heatmap", "save_figure", "style"}


def test_plot_heatmap_log_scale_labels_cells_and_colour_bar_in_the_values():
    import math

    from matplotlib.colors import LogNorm

    # probabilities of a squished mouse, 1 elephant: 1 / C(Q, H), over five decades
    frame = pd.DataFrame(
        [
            {"hand_size": h, "queues": q, "probability": 1 / math.comb(q, h)}
            for q in (32, 64)
            for h in (4, 6)
        ]
    )
    fig, ax = plt.subplots()
    plot_heatmap(frame, "hand_size", "queues", "probability", ax=ax, log=True)
    mesh = ax.collections[0]
    assert isinstance(mesh.norm, LogNorm)
    assert mesh.norm.vmin == pytest.approx(1 / math.comb(64, 6))
    assert mesh.norm.vmax == pytest.approx(1 / math.comb(32, 4))
    texts = {t.get_text() for t in ax.texts}
    assert f"{1 / math.comb(32, 4):.1e}".replace("e-0", "e-") in texts  # 2.8e-5
    assert ax.get_xlabel() == "hand size" and ax.get_ylabel() == "queues"
    colorbar_axes = fig.axes[1]
    assert colorbar_axes.get_ylabel() == "probability"
    with pytest.raises(ValueError, match="positive"):
        plot_heatmap(frame.assign(probability=0.0), "hand_size", "queues", "probability", log=True)


def test_plot_heatmap_names_blank_cells_and_adds_a_note():
    ax = plot_heatmap(
        _grid_frame(), "LD", "RP", "v", missing="invalid", note="blank: client-go refuses it"
    )
    texts = [t.get_text() for t in ax.texts]
    assert texts.count("invalid") == 2  # LD 10 at RP 1 and 2
    assert "blank: client-go refuses it" in texts


def test_plot_cdf_legend_sits_beside_the_axes():
    fig, ax = plt.subplots()
    with style():
        plot_cdf(_dists(), ax=ax)
    fig.draw_without_rendering()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # off the curves
    inside = plot_cdf(_dists(), legend="best")
    inside.figure.draw_without_rendering()
    assert inside.get_legend().get_window_extent().x1 <= inside.get_window_extent().x1 + 1
    assert plot_cdf(_dists(), legend="none").get_legend() is None
    with pytest.raises(ValueError, match="legend must be one of"):
        plot_cdf(_dists(), legend="left")
