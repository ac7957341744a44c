"""Parameter sweeps: a grid of points -> one tidy DataFrame, on any executor.

:func:`sweep` calls a function once per point of a grid and collects what it returns into
one row per point: the parameter columns, then the metric columns, in grid order. The
points run serially, or on any :class:`concurrent.futures.Executor`: a
:class:`~concurrent.futures.ProcessPoolExecutor` for the cores of one machine, or Dask's
``Client.get_executor()`` for a cluster (``pip install "ha-toolkit[dist]"``). The notebook
code does not change with the executor.

Randomness does not depend on the executor either. A function that takes an ``rng``
keyword gets a :class:`numpy.random.Generator` of its own for each point, built from the
point's child of ``numpy.random.SeedSequence(seed)`` (children spawned in grid order), so a
Monte Carlo sweep gives the same numbers serially, on 2 processes or on 200 Dask workers,
whatever the order in which the points finish.

Examples
--------
>>> from ha_toolkit.sweep import sweep
>>> def area(width, height):
...     return {"area": width * height}
>>> sweep(area, {"width": [1, 2], "height": [10, 20]})
   width  height  area
0      1      10    10
1      1      20    20
2      2      10    20
3      2      20    40
"""

from __future__ import annotations

import concurrent.futures as cf
import inspect
import itertools
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from ha_toolkit.progress import progress_bar

__all__ = [
    "SweepError",
    "grid_points",
    "progress_bar",
    "sweep",
]

#: Keyword a swept function declares to receive its point's random generator.
RNG_KEYWORD = "rng"


class SweepError(RuntimeError):
    """A point of a sweep failed.

    The message names the point (its position in the grid and its parameters); the
    original exception is chained as ``__cause__``.

    Attributes
    ----------
    index : int
        Position of the point in grid order (0-based).
    params : dict
        The point's parameters.
    """

    def __init__(self, index: int, params: Mapping[str, Any], cause: BaseException) -> None:
        self.index = index
        self.params = dict(params)
        shown = ", ".join(f"{name}={value!r}" for name, value in self.params.items())
        super().__init__(f"sweep point {index} ({shown}) failed: {type(cause).__name__}: {cause}")

    def __reduce__(self) -> tuple[Any, ...]:
        cause = self.__cause__ if self.__cause__ is not None else RuntimeError(str(self))
        return (type(self), (self.index, self.params, cause))


# ------------------------------------------------------------------------------ grids
def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(
            f"grid parameter names must be Python identifiers (they are passed as keyword "
            f"arguments), got {name!r} in {where}"
        )
    if name == RNG_KEYWORD:
        raise ValueError(
            f"grid parameter name {RNG_KEYWORD!r} is reserved for the per-point random "
            "generator; rename the parameter"
        )
    return name


def _values(name: str, values: Any) -> list[Any]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise ValueError(
            f"grid[{name!r}] must be a sequence of values (list, tuple, array, range), "
            f"got {type(values).__name__} {values!r}"
        )
    if isinstance(values, np.ndarray) and values.ndim != 1:
        raise ValueError(f"grid[{name!r}] must be one-dimensional, got shape {values.shape}")
    out = list(values)
    if not out:
        raise ValueError(f"grid[{name!r}] has no values; every parameter needs at least one")
    return out


def grid_points(grid: Mapping[str, Any] | pd.DataFrame) -> pd.DataFrame:
    """The points of a grid, one row each, in grid order.

    Parameters
    ----------
    grid : mapping of str to sequence, or pandas.DataFrame
        A mapping ``name -> values`` stands for the Cartesian product of the values, the
        first name varying slowest (as :func:`itertools.product`). A DataFrame is taken
        as its rows, in order (its index is dropped).

    Returns
    -------
    pandas.DataFrame
        One column per parameter, a fresh ``RangeIndex``.

    Raises
    ------
    ValueError
        For an empty grid, a name that is not a Python identifier or is ``"rng"``, a
        parameter without values, values that are a string or a scalar rather than a
        sequence, or duplicated DataFrame columns.
    """
    if isinstance(grid, pd.DataFrame):
        names = list(grid.columns)
        if not names:
            raise ValueError("grid DataFrame has no columns; it needs one per parameter")
        if len(set(names)) != len(names):
            dup = sorted({str(n) for n in names if names.count(n) > 1})
            raise ValueError(f"grid DataFrame has duplicated columns: {', '.join(dup)}")
        for name in names:
            _check_name(name, "the grid's columns")
        if len(grid) == 0:
            raise ValueError("grid DataFrame has no rows; it needs one row per point")
        return grid.reset_index(drop=True)
    if not isinstance(grid, Mapping):
        raise ValueError(
            "grid must be a mapping of parameter name -> values or a DataFrame of points, "
            f"got {type(grid).__name__}"
        )
    if not grid:
        raise ValueError("grid is empty; it needs at least one parameter")
    names = [_check_name(name, "the grid's keys") for name in grid]
    columns = [_values(name, grid[name]) for name in names]
    rows = list(itertools.product(*columns))
    return pd.DataFrame.from_records(rows, columns=names)


def _check_seed(seed: Any) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or (
        seed is not None
        and not isinstance(seed, numbers.Integral)
        and not (
            isinstance(seed, list | tuple)
            and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seed)
        )
    ):
        raise ValueError(
            "seed must be None, an integer >= 0, a sequence of such integers or a "
            f"numpy.random.SeedSequence, got {seed!r}"
        )
    try:
        return np.random.SeedSequence(seed)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"seed must be made of integers >= 0, got {seed!r} ({exc})") from None


def _accepts_rng(func: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    param = params.get(RNG_KEYWORD)
    return param is not None and param.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.KEYWORD_ONLY,
    )


# ------------------------------------------------------------------------------ points
def _run_point(
    func: Callable[..., Any],
    params: dict[str, Any],
    seed: np.random.SeedSequence | None,
) -> dict[str, Any]:
    """Evaluate one point (runs wherever the executor runs it; must stay importable)."""
    kwargs = dict(params)
    if seed is not None:
        kwargs[RNG_KEYWORD] = np.random.default_rng(seed)
    result = func(**kwargs)
    if isinstance(result, pd.Series):
        result = result.to_dict()
    if not isinstance(result, Mapping):
        raise TypeError(
            f"the swept function must return a dict or a pandas Series of metrics, "
            f"got {type(result).__name__}"
        )
    clash = [name for name in result if name in params]
    if clash:
        raise ValueError(
            f"metric name(s) {', '.join(map(repr, clash))} repeat parameter names; "
            "return metrics under other names"
        )
    return dict(result)


CHUNKS = 64
"""A sweep on an executor is cut into about this many tasks (at most 200 points each)."""


def _chunk_size(n: int) -> int:
    return max(1, min(-(-n // CHUNKS), 200))


class _PointFailedError(Exception):
    """A chunk's failure: the point's offset in the chunk and the original exception."""

    def __init__(self, offset: int, cause: BaseException) -> None:
        super().__init__(offset, cause)
        self.offset = offset
        self.cause = cause


def _run_chunk(
    func: Callable[..., Any],
    params: list[dict[str, Any]],
    seeds: list[np.random.SeedSequence | None],
) -> list[dict[str, Any]]:
    """Evaluate consecutive points (runs wherever the executor runs it)."""
    out = []
    for k, (point, seed) in enumerate(zip(params, seeds, strict=True)):
        try:
            out.append(_run_point(func, point, seed))
        except Exception as exc:
            raise _PointFailedError(k, exc) from exc
    return out


def sweep(
    func: Callable[..., Any],
    grid: Mapping[str, Any] | pd.DataFrame,
    *,
    executor: cf.Executor | None = None,
    progress: bool = False,
    seed: int | np.random.SeedSequence | None = None,
) -> pd.DataFrame:
    """Evaluate ``func`` at every point of ``grid``; one row per point, in grid order.

    Parameters
    ----------
    func : callable
        Called as ``func(**params)`` (plus ``rng=generator`` when it declares an ``rng``
        parameter) and returns a dict or a :class:`pandas.Series` of metrics. With a
        process or cluster executor it must be picklable (a module-level function or a
        :func:`functools.partial` of one).
    grid : mapping of str to sequence, or pandas.DataFrame
        The points: a Cartesian product of named values, or the rows of a DataFrame
        (see :func:`grid_points`).
    executor : concurrent.futures.Executor, optional
        Where the points run: ``None`` runs them one after the other in this process; a
        :class:`~concurrent.futures.ProcessPoolExecutor` uses the local cores; Dask's
        ``distributed.Client(...).get_executor()`` runs them on a cluster. The executor is
        used, not shut down. Points go to it in about 64 tasks of consecutive points (at
        most 200 each), so that a task's overhead does not outweigh a cheap point.
    progress : bool, default False
        Show a :mod:`tqdm.auto` progress bar that advances as points finish.
    seed : int, sequence of int or numpy.random.SeedSequence, optional
        Root of the per-point random streams: point ``i`` gets
        ``numpy.random.default_rng(SeedSequence(seed).spawn(n)[i])``. ``None`` draws fresh
        entropy (results then differ from run to run). Ignored when ``func`` takes no
        ``rng``.

    Returns
    -------
    pandas.DataFrame
        The parameter columns, then the metric columns (in the order they first appear);
        a metric a point did not return is NaN there. ``RangeIndex`` in grid order, the
        same whatever the executor.

    Raises
    ------
    ValueError
        For a bad grid (see :func:`grid_points`), a non-callable ``func``, a bad ``seed``
        or an ``executor`` that is not a :class:`concurrent.futures.Executor`.
    SweepError
        When ``func`` raises at a point, or returns something other than a dict or
        Series, or a metric named like a parameter; the message names the point, the
        original exception is its ``__cause__``. The points not started yet are
        cancelled.

    Examples
    --------
    A Monte Carlo sweep, the same on every executor:

    >>> import numpy as np
    >>> def noisy(x, rng):
    ...     return {"y": x + rng.normal()}
    >>> a = sweep(noisy, {"x": [0.0, 1.0]}, seed=7)
    >>> b = sweep(noisy, {"x": [0.0, 1.0]}, seed=7)
    >>> a.equals(b)
    True
    """
    if not callable(func):
        raise ValueError(f"func must be callable, got {type(func).__name__}")
    if executor is not None and not isinstance(executor, cf.Executor):
        raise ValueError(
            "executor must be None or a concurrent.futures.Executor (for Dask: "
            f"client.get_executor()), got {type(executor).__name__}"
        )
    points = grid_points(grid)
    root = _check_seed(seed)
    wants_rng = _accepts_rng(func)
    n = len(points)
    seeds: list[np.random.SeedSequence | None] = root.spawn(n) if wants_rng else [None] * n
    params = points.to_dict(orient="records")
    results: list[dict[str, Any] | None] = [None] * n

    with progress_bar(n, progress, desc="sweep") as bar:
        if executor is None:
            for i in range(n):
                try:
                    results[i] = _run_point(func, params[i], seeds[i])
                except Exception as exc:
                    raise SweepError(i, params[i], exc) from exc
                bar.update(1)
        else:
            # chunks of points, not one task per point: a task's overhead on a cluster
            # (scheduling, pickling func) is milliseconds, often more than a point
            size = _chunk_size(n)
            futures = {
                executor.submit(_run_chunk, func, params[i : i + size], seeds[i : i + size]): i
                for i in range(0, n, size)
            }
            try:
                for future in cf.as_completed(futures):
                    first = futures[future]
                    try:
                        chunk = future.result()
                    except _PointFailedError as failed:
                        i = first + failed.offset
                        raise SweepError(i, params[i], failed.cause) from failed.cause
                    except Exception as exc:
                        raise SweepError(first, params[first], exc) from exc
                    results[first : first + len(chunk)] = chunk
                    bar.update(len(chunk))
            finally:
                for future in futures:
                    future.cancel()

    done = [m for m in results if m is not None]
    names: dict[str, None] = {}
    for metrics in done:
        names.update(dict.fromkeys(metrics))
    table = pd.DataFrame.from_records(
        [[m.get(name, np.nan) for name in names] for m in done], columns=list(names)
    )
    return pd.concat([points, table], axis=1)
