"""Tests for ha_toolkit.sweep: grid order, per-point random streams, executors, errors."""

from __future__ import annotations

import itertools
import math
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from ha_toolkit.election import ElectionConfig
from ha_toolkit.election.explore import choose_renew_deadline
from ha_toolkit.election.simulate import simulate_failover
from ha_toolkit.election.timing import failover
from ha_toolkit.sweep import SweepError, grid_points, sweep

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


# Module-level point functions, so that process pools can pickle them.
def area(width, height):
    return {"area": width * height, "perimeter": 2 * (width + height)}


def draws(x, rng, k=1):
    return {"u": rng.random(), "n": rng.normal(loc=x, scale=k)}


def failing(x):
    if x == 3:
        raise ZeroDivisionError("no good at three")
    return {"y": 1.0 / x}


def mc_failover(lease_duration, retry_period, candidates, api_latency, rng):
    """Monte Carlo crash failover at one point: mean and p99 of 400 trials."""
    cfg = ElectionConfig(
        lease_duration,
        choose_renew_deadline(lease_duration, retry_period),
        retry_period,
        candidates=candidates,
        api_latency=api_latency,
    )
    times = simulate_failover(cfg, "crash", n_trials=400, rng=rng)
    return {"mean": times.mean(), "std": times.std(ddof=1), "p99": np.quantile(times, 0.99)}


MC_GRID = {
    "lease_duration": [8.0, 10.0, 15.0, 30.0],
    "retry_period": [1.0, 2.0],
    "candidates": [2, 3, 4, 5],
    "api_latency": [0.0, 0.05],
}  # 64 points


def test_dict_grid_is_the_cartesian_product_in_order():
    grid = {"width": [1, 2, 3], "height": [10.0, 20.0]}
    out = sweep(area, grid)
    expected = pd.DataFrame(
        [
            {"width": w, "height": h, "area": w * h, "perimeter": 2 * (w + h)}
            for w, h in itertools.product(grid["width"], grid["height"])
        ]
    )
    pd.testing.assert_frame_equal(out, expected)
    assert list(out.columns) == ["width", "height", "area", "perimeter"]


def test_dataframe_grid_keeps_row_order_and_drops_its_index():
    grid = pd.DataFrame({"width": [3, 1, 2], "height": [1, 5, 2]}, index=[10, 20, 30])
    out = sweep(area, grid)
    assert list(out.index) == [0, 1, 2]
    assert out["area"].tolist() == [3, 5, 4]
    assert out["perimeter"].tolist() == [8, 12, 8]


def test_series_results_and_missing_metrics():
    def partial(x):
        return pd.Series({"a": x}) if x < 2 else {"a": x, "b": -x}

    out = sweep(partial, {"x": [0, 1, 2]})
    assert list(out.columns) == ["x", "a", "b"]
    assert out["a"].tolist() == [0, 1, 2]
    assert math.isnan(out["b"][0]) and math.isnan(out["b"][1]) and out["b"][2] == -2


def test_each_point_gets_its_own_child_of_the_seed():
    grid = {"x": [0.0, 1.0, 2.0, 3.0, 4.0]}
    out = sweep(draws, grid, seed=2024)
    children = np.random.SeedSequence(2024).spawn(5)
    for i, child in enumerate(children):
        rng = np.random.default_rng(child)
        assert out["u"][i] == rng.random()
        assert out["n"][i] == rng.normal(loc=grid["x"][i])
    assert out["u"].nunique() == 5
    # the same seed gives the same frame; another seed another one
    pd.testing.assert_frame_equal(out, sweep(draws, grid, seed=2024))
    assert not out.equals(sweep(draws, grid, seed=2025))


def test_rng_is_passed_only_to_functions_that_take_it():
    seen = []

    def no_rng(x, **extra):
        seen.append(extra)
        return {"y": x}

    sweep(no_rng, {"x": [1, 2]}, seed=1)
    assert seen == [{}, {}]


def test_same_frame_serially_with_threads_and_with_processes():
    grid = {"x": np.linspace(-1.0, 1.0, 12), "k": [1, 2]}
    serial = sweep(draws, grid, seed=11)
    with ThreadPoolExecutor(max_workers=3) as pool:
        threads = sweep(draws, grid, seed=11, executor=pool)
    with ProcessPoolExecutor(max_workers=2) as pool:
        processes = sweep(draws, grid, seed=11, executor=pool)
    pd.testing.assert_frame_equal(serial, threads)
    pd.testing.assert_frame_equal(serial, processes)


@pytest.fixture(scope="module")
def dask_client():
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        if IN_CI:
            pytest.fail('dask[distributed] must be installed in CI (pip install -e ".[dev]")')
        pytest.skip("dask[distributed] is not installed (extra 'dist')")
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def test_monte_carlo_sweep_matches_on_processes_and_on_dask(dask_client):
    assert len(dask_client.scheduler_info()["workers"]) == 2
    serial = sweep(mc_failover, MC_GRID, seed=7)
    assert len(serial) == 64
    with ProcessPoolExecutor(max_workers=2) as pool:
        processes = sweep(mc_failover, MC_GRID, seed=7, executor=pool)
    on_dask = sweep(mc_failover, MC_GRID, seed=7, executor=dask_client.get_executor())
    pd.testing.assert_frame_equal(serial, processes)
    pd.testing.assert_frame_equal(serial, on_dask)
    # The simulated means agree with the exact model within their sampling error.
    for row in serial.itertuples():
        cfg = ElectionConfig(
            row.lease_duration,
            choose_renew_deadline(row.lease_duration, row.retry_period),
            row.retry_period,
            candidates=row.candidates,
            api_latency=row.api_latency,
        )
        exact = failover(cfg).mean()
        assert abs(row.mean - exact) < 5.0 * row.std / math.sqrt(400), row


def test_dask_errors_name_the_point(dask_client):
    with pytest.raises(SweepError, match=r"sweep point 2 \(x=3\).*ZeroDivisionError") as info:
        sweep(failing, {"x": [1, 2, 3, 4]}, executor=dask_client.get_executor())
    assert info.value.index == 2 and info.value.params == {"x": 3}


@pytest.mark.parametrize("where", ["serial", "processes"])
def test_errors_name_the_point(where):
    grid = {"x": [1, 2, 3, 4]}
    with pytest.raises(SweepError, match=r"sweep point 2 \(x=3\).*no good at three") as info:
        if where == "serial":
            sweep(failing, grid)
        else:
            with ProcessPoolExecutor(max_workers=2) as pool:
                sweep(failing, grid, executor=pool)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert info.value.index == 2 and info.value.params == {"x": 3}


def test_bad_results_name_the_point():
    with pytest.raises(SweepError, match=r"point 0 \(x=1\).*dict or a pandas Series"):
        sweep(lambda x: x, {"x": [1]})
    with pytest.raises(SweepError, match=r"point 0 \(x=1\).*'x' repeat parameter names"):
        sweep(lambda x: {"x": x}, {"x": [1]})


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({}, "grid is empty"),
        ({"x": []}, r"grid\['x'\] has no values"),
        ({"x": 3}, r"grid\['x'\] must be a sequence"),
        ({"x": "abc"}, r"grid\['x'\] must be a sequence"),
        ({"x": {"a": 1}}, r"grid\['x'\] must be a sequence"),
        ({"x": np.zeros((2, 2))}, "one-dimensional"),
        ({"not a name": [1]}, "Python identifiers"),
        ({1: [1]}, "Python identifiers"),
        ({"rng": [1]}, "'rng' is reserved"),
        ([("x", [1])], "mapping of parameter name"),
        (pd.DataFrame(), "no columns"),
        (pd.DataFrame({"x": []}), "no rows"),
        (pd.DataFrame([[1, 2]], columns=["x", "x"]), "duplicated columns: x"),
    ],
)
def test_bad_grids_are_rejected_clearly(grid, message):
    with pytest.raises(ValueError, match=message):
        grid_points(grid)
    with pytest.raises(ValueError, match=message):
        sweep(area, grid)


@pytest.mark.parametrize("seed", [-1, 1.5, "seven", True, [1, -2]])
def test_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        sweep(draws, {"x": [1.0]}, seed=seed)


def test_bad_func_and_executor():
    with pytest.raises(ValueError, match="func must be callable"):
        sweep(42, {"x": [1]})
    with pytest.raises(ValueError, match="concurrent.futures.Executor"):
        sweep(area, {"width": [1], "height": [1]}, executor="dask")


def test_progress_bar_counts_the_points(capsys):
    out = sweep(area, {"width": [1, 2], "height": [1, 2, 3]}, progress=True)
    assert len(out) == 6
    err = capsys.readouterr().err
    assert "sweep" in err and "6/6" in err
    sweep(area, {"width": [1], "height": [1]})
    assert capsys.readouterr().err == ""


def _fails_at_seven(x):
    if x == 7:
        raise ZeroDivisionError("no good at seven")
    return {"y": 2 * x}


def test_points_run_in_chunks_in_grid_order_and_errors_name_the_point():
    # 300 points make chunks of several points: order and error index survive the chunking
    grid = {"x": list(range(300))}
    with ThreadPoolExecutor(max_workers=3) as pool:
        table = sweep(_fails_at_seven, {"x": [x for x in range(300) if x != 7]}, executor=pool)
        assert list(table["y"]) == [2 * x for x in range(300) if x != 7]
        with pytest.raises(SweepError, match=r"sweep point 7 \(x=7\).*no good at seven") as info:
            sweep(_fails_at_seven, grid, executor=pool)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert info.value.index == 7
