"""Locate the CSV inputs shipped with the package.

The repository keeps the CSV files in its top-level ``data/`` folder (the source of truth).
A wheel ships the same files as ``ha_toolkit/data`` (see ``pyproject.toml``). This module
finds a file in either place, so the package works installed from a wheel and installed
editable from a checkout.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["data_path"]

_REPO_DATA = Path(__file__).resolve().parent.parent / "data"


def data_path(name: str) -> Path:
    """Return the path of a data file shipped with the package.

    Parameters
    ----------
    name : str
        File name inside the data folder, e.g. ``"leader_election_presets.csv"``.

    Returns
    -------
    pathlib.Path
        An existing file: ``ha_toolkit/data/<name>`` of an installed wheel, else
        ``data/<name>`` of the repository checkout.

    Raises
    ------
    FileNotFoundError
        If the file is in neither place; the message lists both places tried.
    """
    if not name or Path(name).name != name:
        raise ValueError(f"invalid data file name {name!r}: expected a bare file name")
    tried: list[str] = []
    try:
        packaged = resources.files("ha_toolkit").joinpath("data", name)
        if packaged.is_file():
            return Path(str(packaged))
        tried.append(str(packaged))
    except (ModuleNotFoundError, NotADirectoryError):  # pragma: no cover - odd installs
        pass
    local = _REPO_DATA / name
    if local.is_file():
        return local
    tried.append(str(local))
    raise FileNotFoundError(f"data file {name!r} not found; looked in: {', '.join(tried)}")
