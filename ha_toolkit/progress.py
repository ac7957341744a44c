"""Progress bars for long library calls (``progress=True``).

:func:`progress_bar` is what :func:`ha_toolkit.sweep.sweep`,
:func:`ha_toolkit.figures.run_figures` and
:func:`ha_toolkit.election.pyclient.run_trials` show when asked: a :mod:`tqdm.auto` bar (a
widget in JupyterLab, a line of text in a terminal), or nothing. It lives in a module of
its own, importing nothing of the toolkit, so that models may use it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["progress_bar"]


def progress_bar(total: int, enabled: bool, desc: str | None = None) -> Any:
    """A :func:`tqdm.auto.tqdm` bar, or a silent stand-in when ``enabled`` is false.

    In JupyterLab the bar is a widget, in a terminal a line of text. tqdm comes with the
    ``notebooks`` extra; it is imported only when a bar is asked for.

    Parameters
    ----------
    total : int
        Number of steps.
    enabled : bool
        Show the bar.
    desc : str, optional
        Label in front of the bar.

    Returns
    -------
    object
        Has ``update(n)`` and ``close()`` and works as a context manager.
    """
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError as exc:  # pragma: no cover - tqdm ships with the notebooks extra
        raise ImportError('progress=True needs tqdm: pip install "ha-toolkit[notebooks]"') from exc
    return tqdm(total=total, desc=desc)


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
