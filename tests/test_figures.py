"""Tests of ha_toolkit.figures: headless, ordered, deterministic notebook runs."""

from __future__ import annotations

import base64
import hashlib
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from ha_toolkit.cli import main
from ha_toolkit.figures import NotebookError, run_figures, select_notebooks

PLOT = """\
import os
import matplotlib
import matplotlib.pyplot as plt
from ha_toolkit.plotting import save_figure, style
with style():
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0, 1, 4], label="{label}")
    ax.legend()
saved = save_figure(fig, "{name}")
print(matplotlib.get_backend(), os.path.basename(os.getcwd()))
saved"""


def _write(path, cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.fixture
def tree(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    _write(
        notebooks / "02_second.ipynb",
        [
            new_markdown_cell("# second"),
            new_code_cell(PLOT.format(label="b", name="02_b")),
            new_code_cell("round(2 / 3, 3)"),
        ],
    )
    _write(
        notebooks / "01_first.ipynb",
        [
            new_code_cell(PLOT.format(label="a", name="01_a")),
        ],
    )
    return tmp_path


def _text(value):
    """Stored notebook text: a string or a list of lines."""
    return value if isinstance(value, str) else "".join(value)


def _hashes(root):
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_select_notebooks_order_and_filter(tree):
    folder = tree / "notebooks"
    assert [p.name for p in select_notebooks(folder)] == ["01_first.ipynb", "02_second.ipynb"]
    assert [p.name for p in select_notebooks(folder, "02_*")] == ["02_second.ipynb"]
    assert [p.name for p in select_notebooks(folder, "first")] == ["01_first.ipynb"]
    assert select_notebooks(folder, "zzz") == []


def test_in_place_run_twice_changes_no_byte(tree, monkeypatch):
    monkeypatch.delenv("HA_TOOLKIT_FIGURES", raising=False)
    figures = tree / "figures"
    runs = run_figures(tree / "notebooks", in_place=True)
    assert [r.path.name for r in runs] == ["01_first.ipynb", "02_second.ipynb"]
    assert runs[0].figures == ("01_a.png", "01_a.svg")
    assert all(r.stored for r in runs)
    assert sorted(p.name for p in figures.iterdir()) == [
        "01_a.png",
        "01_a.svg",
        "02_b.png",
        "02_b.svg",
    ]
    first = _hashes(tree)

    second_runs = run_figures(tree / "notebooks", in_place=True)
    assert _hashes(tree) == first
    assert not any(r.stored for r in second_runs)
    assert all(r.figures == () for r in second_runs)

    stored = json.loads((tree / "notebooks" / "02_second.ipynb").read_text())
    code = [c for c in stored["cells"] if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == [1, 2]
    assert all("execution" not in c["metadata"] for c in code)
    stream = "".join(_text(o["text"]) for o in code[0]["outputs"] if o["output_type"] == "stream")
    assert stream.strip().lower() == "agg notebooks"  # Agg backend, cwd = notebooks/
    shown = [o for o in code[0]["outputs"] if o["output_type"] == "execute_result"][0]
    # the notebook displays the saved file itself
    png = (figures / "02_b.png").read_bytes()
    assert base64.b64decode(shown["data"]["image/png"]) == png
    assert _text(shown["data"]["text/plain"]) == "SavedFigure('02_b': 02_b.png, 02_b.svg)"
    assert _text(code[1]["outputs"][0]["data"]["text/plain"]) == "0.667"


def test_figures_without_in_place_leave_notebooks_alone(tree, monkeypatch):
    target = tree / "elsewhere"
    monkeypatch.setenv("HA_TOOLKIT_FIGURES", str(target))
    before = (tree / "notebooks" / "01_first.ipynb").read_bytes()
    seen = []
    runs = run_figures(tree / "notebooks", only="01_*", progress=True, on_run=seen.append)
    assert [r.path.name for r in runs] == ["01_first.ipynb"]
    assert seen == runs  # each run reported as it finishes
    assert not runs[0].stored
    assert (tree / "notebooks" / "01_first.ipynb").read_bytes() == before
    assert sorted(p.name for p in target.iterdir()) == ["01_a.png", "01_a.svg"]


def test_failing_notebook_is_reported(tmp_path, capsys):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _write(folder / "01_bad.ipynb", [new_code_cell("raise KeyError('no such thing')")])
    with pytest.raises(NotebookError, match="01_bad.ipynb failed: KeyError"):
        run_figures(folder, figures_dir=tmp_path / "figures")
    code = main(["figures", "--notebooks", str(folder)])
    err = capsys.readouterr().err
    assert code == 1
    assert len(err.splitlines()) == 1
    assert err.startswith("ha-toolkit: error: 01_bad.ipynb failed: KeyError")


def test_cli_figures_reports_each_notebook(tree, capsys, monkeypatch):
    monkeypatch.setenv("HA_TOOLKIT_FIGURES", str(tree / "figures"))
    code = main(["figures", "--notebooks", str(tree / "notebooks"), "--only", "02"])
    out = capsys.readouterr().out
    assert code == 0
    rows = out.splitlines()
    assert len(rows) == 2 and rows[0].split()[0] == "02_second.ipynb"
    assert "2 figure files written" in rows[0]  # PNG and SVG
    assert rows[1].startswith("done: 1 notebook in ") and "2 figure files written" in rows[1]
    # a second run rewrites nothing and says so, rather than "0 written"
    code = main(["figures", "--notebooks", str(tree / "notebooks"), "--only", "02"])
    rows = capsys.readouterr().out.splitlines()
    assert code == 0
    assert rows[0].endswith("figures unchanged") and rows[1].endswith("figures unchanged")
