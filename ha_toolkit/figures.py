"""Run the notebooks headless and write the figures (``ha-toolkit figures``).

Every ``notebooks/*.ipynb`` is executed in name order with :mod:`nbclient`, in a kernel of
the current Python environment, with ``notebooks/`` as the working directory and
``MPLBACKEND=Agg``. The notebooks save their figures through
:func:`ha_toolkit.plotting.save_figure` into ``figures/``.

With ``in_place=True`` the executed outputs are stored back into the notebooks. The stored
form is deterministic: no execution timestamps, execution counts 1..n in cell order, and a
notebook (or figure) whose content did not change is not rewritten. Running twice changes
no file.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ha_toolkit.plotting import FIGURES_ENV, find_repo_root

__all__ = [
    "NotebookError",
    "NotebookRun",
    "execute_notebook",
    "notebooks_directory",
    "run_figures",
    "select_notebooks",
]


class NotebookError(RuntimeError):
    """A notebook failed to execute; the message names the notebook and the error."""


@dataclass(frozen=True)
class NotebookRun:
    """What running one notebook did.

    Attributes
    ----------
    path : pathlib.Path
        The notebook.
    seconds : float
        Wall-clock execution time.
    figures : tuple of str
        Names of the files in the figures directory that were written (new or changed).
    stored : bool
        Whether the notebook file was rewritten (only with ``in_place``, and only when its
        outputs changed).
    """

    path: Path
    seconds: float
    figures: tuple[str, ...]
    stored: bool


def notebooks_directory(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the repository's ``notebooks/`` directory.

    Parameters
    ----------
    start : path-like, optional
        Where to start looking for the repository root (the current directory by default;
        the package location is tried next).

    Raises
    ------
    ValueError
        When no ha-toolkit source tree with a ``notebooks/`` folder is found.
    """
    root = find_repo_root(start)
    if root is None or not (root / "notebooks").is_dir():
        raise ValueError(
            "cannot find the notebooks/ folder of the ha-toolkit source tree; "
            "run from the repository or pass the notebooks directory"
        )
    return root / "notebooks"


def select_notebooks(directory: str | os.PathLike[str], only: str | None = None) -> list[Path]:
    """The notebooks of ``directory`` in name order, optionally filtered.

    Parameters
    ----------
    directory : path-like
        Folder holding ``*.ipynb`` files (checkpoints are ignored).
    only : str, optional
        A shell-style pattern (``01_*``, ``*timing*``) matched against the file name and
        its stem; a pattern without wildcards matches names containing it.

    Returns
    -------
    list of pathlib.Path
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise ValueError(f"notebooks directory {str(folder)!r} does not exist")
    paths = sorted(folder.glob("*.ipynb"), key=lambda p: p.name)
    if only is None:
        return paths
    wildcard = any(ch in only for ch in "*?[")
    chosen = []
    for path in paths:
        if wildcard:
            hit = fnmatch.fnmatchcase(path.name, only) or fnmatch.fnmatchcase(path.stem, only)
        else:
            hit = only in path.name
        if hit:
            chosen.append(path)
    return chosen


def _kernel_manager_class() -> type:
    """An async kernel manager whose ``python3`` kernel is this interpreter."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class CurrentEnvKernelSpecManager(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> Any:
            if kernel_name in ("python3", "python"):
                spec = ipykernel.kernelspec.get_kernel_dict()
                spec["argv"][0] = sys.executable
                return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES, **spec)
            return super().get_kernel_spec(kernel_name)

    class CurrentEnvKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("kernel_spec_manager", CurrentEnvKernelSpecManager())
            super().__init__(**kwargs)

    return CurrentEnvKernelManager


def _normalise(nb: Any) -> Any:
    """Drop what changes from run to run: timings, and renumber execution counts 1..n."""
    count = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if cell.get("execution_count") is None:
            continue
        count += 1
        cell.execution_count = count
        for output in cell.get("outputs", []):
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count
    return nb


def execute_notebook(
    path: str | os.PathLike[str],
    *,
    timeout: float = 600.0,
    env: Mapping[str, str] | None = None,
) -> Any:
    """Execute a notebook headless and return it with its outputs.

    Parameters
    ----------
    path : path-like
        The ``.ipynb`` file; it is read, not written.
    timeout : float, default 600
        Seconds allowed per cell.
    env : mapping, optional
        Environment of the kernel; defaults to this process's with ``MPLBACKEND=Agg``.

    Returns
    -------
    nbformat.NotebookNode
        The executed notebook, normalised (see module docstring).

    Raises
    ------
    NotebookError
        If a cell raises; the message names the notebook, the cell and the exception.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb_path = Path(path)
    nb = nbformat.read(nb_path, as_version=4)
    if env is None:
        env = {**os.environ, "MPLBACKEND": "Agg"}
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        kernel_manager_class=_kernel_manager_class(),
        record_timing=False,
        resources={"metadata": {"path": str(nb_path.parent.resolve())}},
    )
    # The kernel process's own log (start-up warnings) goes to a file, not to our stderr;
    # cell outputs, including their stderr, arrive through the messaging channels.
    with tempfile.TemporaryFile(mode="w+b") as kernel_log:
        try:
            client.execute(env=dict(env), stderr=kernel_log)
        except CellExecutionError as exc:
            ename = getattr(exc, "ename", type(exc).__name__)
            evalue = str(getattr(exc, "evalue", "")).splitlines()
            detail = f"{ename}: {evalue[0]}" if evalue else ename
            raise NotebookError(f"{nb_path.name} failed: {detail}") from exc
        except Exception as exc:  # dead kernel, timeout, start-up failure
            kernel_log.seek(0)
            lines = kernel_log.read().decode("utf-8", "replace").strip().splitlines()
            hint = f" (kernel: {lines[-1].strip()})" if lines else ""
            raise NotebookError(
                f"{nb_path.name} failed: {type(exc).__name__}: {exc}{hint}"
            ) from exc
    return _normalise(nb)


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    if not directory.is_dir():
        return {}
    return {
        p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in directory.iterdir() if p.is_file()
    }


def run_figures(
    notebooks_dir: str | os.PathLike[str] | None = None,
    *,
    only: str | None = None,
    in_place: bool = False,
    figures_dir: str | os.PathLike[str] | None = None,
    timeout: float = 600.0,
    progress: bool = False,
    on_run: Callable[[NotebookRun], None] | None = None,
) -> list[NotebookRun]:
    """Execute the notebooks in name order; they write their figures.

    Parameters
    ----------
    notebooks_dir : path-like, optional
        Default: the repository's ``notebooks/`` (see :func:`notebooks_directory`).
    only : str, optional
        Run only the notebooks matching this pattern (see :func:`select_notebooks`).
    in_place : bool, default False
        Store the executed outputs back into each notebook (rewritten only if changed).
    figures_dir : path-like, optional
        Where the figures go; passed to the kernels as ``$HA_TOOLKIT_FIGURES``. Default:
        ``$HA_TOOLKIT_FIGURES`` if set, else ``figures/`` beside ``notebooks/``.
    timeout : float, default 600
        Seconds allowed per cell.
    progress : bool, default False
        Show a :mod:`tqdm.auto` progress bar over the notebooks (needs tqdm, of the
        ``notebooks`` extra).
    on_run : callable, optional
        Called with each :class:`NotebookRun` as soon as its notebook finishes, e.g. to
        print a line per notebook.

    Returns
    -------
    list of NotebookRun
        One entry per executed notebook.

    Raises
    ------
    ValueError
        When the directory is missing or no notebook matches ``only``.
    NotebookError
        When a notebook fails (the later ones are not run).
    """

    folder = Path(notebooks_dir) if notebooks_dir is not None else notebooks_directory()
    paths = select_notebooks(folder, only)
    if not paths:
        what = f"matches {only!r}" if only is not None else "exists"
        raise ValueError(f"no notebook in {folder.name}/ {what}")
    if figures_dir is None:
        figures_dir = os.environ.get(FIGURES_ENV) or folder.resolve().parent / "figures"
    figures = Path(figures_dir).resolve()
    env = {**os.environ, "MPLBACKEND": "Agg", FIGURES_ENV: str(figures)}
    env.setdefault("PYTHONHASHSEED", "0")
    from ha_toolkit.progress import progress_bar

    runs = []
    with progress_bar(len(paths), progress, desc="notebooks") as bar:
        for path in paths:
            run = _run_one(path, figures, env, timeout=timeout, in_place=in_place)
            runs.append(run)
            bar.update(1)
            if on_run is not None:
                on_run(run)
    return runs


def _run_one(
    path: Path, figures: Path, env: Mapping[str, str], *, timeout: float, in_place: bool
) -> NotebookRun:
    """Execute one notebook; which figure files it wrote; store its outputs if asked."""
    import nbformat

    before = _snapshot(figures)
    start = time.perf_counter()
    nb = execute_notebook(path, timeout=timeout, env=env)
    seconds = time.perf_counter() - start
    after = _snapshot(figures)
    written = tuple(sorted(name for name, stamp in after.items() if before.get(name) != stamp))
    stored = False
    if in_place:
        text = nbformat.writes(nb)
        text += "" if text.endswith("\n") else "\n"
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            stored = True
    return NotebookRun(path=path, seconds=seconds, figures=written, stored=stored)
