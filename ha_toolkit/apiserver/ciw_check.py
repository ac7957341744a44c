"""Cross-check of the M/M/c/K model against Ciw, a discrete-event library written elsewhere.

One seeded Ciw run of an M/M/c/K queue (service rate 1, so times are in mean service times)
is cut into batches after a warm-up; the batch means of the blocking probability, the mean
wait of accepted requests, and P(W > t), P(R > t) at the model's mean wait and mean response
time give Student-t confidence intervals that the model's exact values should fall in.

Ciw draws from its own global random streams; ``ciw.seed`` is its API for a reproducible
run, so the seed here is an integer rather than a numpy Generator. Ciw is imported when a
function runs (it is a test and notebook dependency, not a core one).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from ha_toolkit.apiserver.queues import mmck

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["batch_comparison", "ciw_mmck_records", "compare_mmck_with_ciw"]


def _check_case(servers: int, capacity: int, load: float, horizon: float, batches: int) -> None:
    if isinstance(servers, bool) or int(servers) != servers or servers < 1:
        raise ValueError(f"servers must be an integer >= 1, got {servers!r}")
    if isinstance(capacity, bool) or int(capacity) != capacity or capacity < servers:
        raise ValueError(f"capacity must be an integer >= servers, got {capacity!r}")
    if not (math.isfinite(load) and load > 0):
        raise ValueError(f"load must be finite and > 0, got {load!r}")
    if not (math.isfinite(horizon) and horizon > 0):
        raise ValueError(f"horizon must be finite and > 0, got {horizon!r}")
    if isinstance(batches, bool) or int(batches) != batches or batches < 2:
        raise ValueError(f"batches must be an integer >= 2, got {batches!r}")


def ciw_mmck_records(
    servers: int, capacity: int, load: float, *, horizon: float, warmup: float, seed: int
) -> pd.DataFrame:
    """Simulate M/M/c/K in Ciw; one row per arrival after ``warmup``.

    Columns: ``arrival`` (time since the end of the warm-up), ``rejected``, ``wait`` and
    ``response`` (NaN for rejected arrivals).
    """
    import ciw
    import pandas as pd

    _check_case(servers, capacity, load, horizon, 2)
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=load)],
        service_distributions=[ciw.dists.Exponential(rate=1.0)],
        number_of_servers=[int(servers)],
        queue_capacities=[int(capacity) - int(servers)],
    )
    ciw.seed(int(seed))
    simulation = ciw.Simulation(network)
    simulation.simulate_until_max_time(warmup + horizon)
    records = [r for r in simulation.get_all_records() if r.arrival_date > warmup]
    served = np.array([r.record_type == "service" for r in records], dtype=bool)
    wait = np.array([r.waiting_time if r.record_type == "service" else np.nan for r in records])
    service = np.array([r.service_time if r.record_type == "service" else np.nan for r in records])
    return pd.DataFrame(
        {
            "arrival": np.array([r.arrival_date for r in records]) - warmup,
            "rejected": ~served,
            "wait": wait,
            "response": wait + service,
        }
    )


def compare_mmck_with_ciw(
    servers: int,
    capacity: int,
    load: float,
    *,
    horizon: float,
    seed: int,
    batches: int = 20,
    level: float = 0.99,
    warmup: float | None = None,
) -> pd.DataFrame:
    """The model's blocking, mean wait, P(W > t) and P(R > t) beside Ciw's batch means.

    Parameters
    ----------
    servers, capacity : int
        ``c`` and ``K`` (servers plus waiting room).
    load : float
        Offered load ``lambda / mu`` with ``mu = 1``.
    horizon : float
        Simulated time after the warm-up, in mean service times.
    seed : int
        Seed of Ciw's streams.
    batches : int, default 20
        Batches for the batch-means confidence intervals.
    level : float, default 0.99
        Confidence level of the intervals.
    warmup : float, optional
        Discarded start; default 5 % of ``horizon``.

    Returns
    -------
    pandas.DataFrame
        One row per measure: ``measure``, ``at`` (the t of a tail probability), ``model``,
        ``ciw``, ``half_width``, ``inside`` and ``error_in_half_widths``.
    """
    _check_case(servers, capacity, load, horizon, batches)
    warmup = 0.05 * horizon if warmup is None else float(warmup)
    records = ciw_mmck_records(servers, capacity, load, horizon=horizon, warmup=warmup, seed=seed)
    return batch_comparison(
        records, servers, capacity, load, horizon=horizon, batches=batches, level=level
    )


def batch_comparison(
    records: pd.DataFrame,
    servers: int,
    capacity: int,
    load: float,
    *,
    horizon: float,
    batches: int = 20,
    level: float = 0.99,
) -> pd.DataFrame:
    """Compare simulated records (as :func:`ciw_mmck_records` makes them) with the model.

    See :func:`compare_mmck_with_ciw` for the columns.
    """
    _check_case(servers, capacity, load, horizon, batches)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    import pandas as pd

    model = mmck(load, 1.0, servers, capacity)
    t_wait = float(model.mean_wait) if model.mean_wait > 0 else 1.0
    t_response = float(model.mean_response)
    which = np.minimum((records["arrival"] / horizon * batches).astype(int), batches - 1)
    accepted = ~records["rejected"].to_numpy()
    wait = records["wait"].to_numpy()
    response = records["response"].to_numpy()

    def per_batch(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(which[mask], values[mask], batches) / np.bincount(
            which[mask], None, batches
        )

    every = np.ones(len(records), dtype=bool)
    measures = [
        (
            "blocking",
            math.nan,
            records["rejected"].to_numpy(float),
            every,
            model.blocking_probability,
        ),
        ("mean wait", math.nan, wait, accepted, model.mean_wait),
        ("P(W > t)", t_wait, (wait > t_wait).astype(float), accepted, model.wait_sf(t_wait)),
        (
            "P(R > t)",
            t_response,
            (response > t_response).astype(float),
            accepted,
            model.response_sf(t_response),
        ),
    ]
    t_crit = stats.t.ppf(0.5 + level / 2, batches - 1)
    rows = []
    for name, at, values, mask, predicted in measures:
        means = per_batch(values, mask)
        half = t_crit * means.std(ddof=1) / math.sqrt(batches)
        estimate, exact = float(means.mean()), float(predicted)
        rows.append(
            {
                "measure": name,
                "at": at,
                "model": exact,
                "ciw": estimate,
                "half_width": half,
                "inside": abs(estimate - exact) <= half + 1e-12,
                "error_in_half_widths": (estimate - exact) / half if half > 0 else 0.0,
            }
        )
    return pd.DataFrame(rows)
