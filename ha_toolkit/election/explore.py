"""Sweeps and tables of leader-switch timing, as the notebooks and the CLI use them.

Each function builds configurations, asks :func:`ha_toolkit.election.timing.failover` for
the exact distributions and returns either the distributions or a tidy DataFrame. No model
logic lives here: these are the loops and the bookkeeping a notebook would otherwise hold.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ha_toolkit.election.config import (
    CLIENT_GO_JITTER_FACTOR,
    ElectionConfig,
    LeaseOverlapWarning,
    preset_names,
)
from ha_toolkit.election.timing import failover

__all__ = [
    "SUMMARY_KEYS",
    "candidates_effect",
    "choose_renew_deadline",
    "hand_arithmetic_table",
    "p99_grid",
    "preset_failovers",
    "summarize",
    "summary_table",
]

#: Keys of :func:`summarize`, in order (seconds).
SUMMARY_KEYS = ("mean", "std", "p50", "p90", "p99", "min", "max")


def summarize(dist: Any) -> dict[str, float]:
    """Mean, std, p50, p90, p99, min and max of a duration distribution, as floats.

    Parameters
    ----------
    dist : Distribution
        Uses ``dist.summary()`` when it has one, else ``mean()``, ``std()``, ``ppf(q)`` and
        ``support()``.

    Returns
    -------
    dict of str to float
        Exactly the keys of :data:`SUMMARY_KEYS`, in that order.
    """
    raw: Mapping[str, Any] = {}
    if callable(getattr(dist, "summary", None)):
        raw = dist.summary()
    if not all(key in raw for key in SUMMARY_KEYS):
        lo, hi = dist.support()
        raw = {
            "mean": dist.mean(),
            "std": dist.std(),
            "p50": dist.ppf(0.5),
            "p90": dist.ppf(0.9),
            "p99": dist.ppf(0.99),
            "min": lo,
            "max": hi,
        }
    return {key: float(raw[key]) for key in SUMMARY_KEYS}


def preset_failovers(
    names: Iterable[str] | None = None, scenario: str = "crash", **overrides: Any
) -> dict[str, Any]:
    """Failover distributions of named presets.

    Parameters
    ----------
    names : iterable of str, optional
        Preset names (see :func:`ha_toolkit.election.config.preset_names`); all by default.
    scenario : {"crash", "release"}
        Passed to :func:`~ha_toolkit.election.timing.failover`.
    **overrides
        Fields applied to every preset, e.g. ``candidates=2`` or ``api_latency=0.05``.

    Returns
    -------
    dict of str to Distribution
        In the order of ``names``.
    """
    chosen = list(preset_names() if names is None else names)
    return {name: failover(ElectionConfig.preset(name, **overrides), scenario) for name in chosen}


def summary_table(
    names: Iterable[str] | None = None,
    scenarios: Sequence[str] = ("crash", "release"),
    **overrides: Any,
) -> pd.DataFrame:
    """Summary statistics of the failover time per preset and scenario.

    Parameters
    ----------
    names : iterable of str, optional
        Preset names; all by default.
    scenarios : sequence of str, default ("crash", "release")
        Scenarios to compute.
    **overrides
        Fields applied to every preset.

    Returns
    -------
    pandas.DataFrame
        Columns ``preset``, ``scenario``, ``lease_duration``, ``renew_deadline``,
        ``retry_period`` and the :data:`SUMMARY_KEYS` (seconds), one row per pair.
    """
    rows = []
    for name in preset_names() if names is None else names:
        cfg = ElectionConfig.preset(name, **overrides)
        for scenario in scenarios:
            rows.append(
                {
                    "preset": name,
                    "scenario": scenario,
                    "lease_duration": cfg.lease_duration,
                    "renew_deadline": cfg.renew_deadline,
                    "retry_period": cfg.retry_period,
                    **summarize(failover(cfg, scenario)),
                }
            )
    return pd.DataFrame(rows)


def choose_renew_deadline(
    lease_duration: float, retry_period: float, renew_fraction: float = 2.0 / 3.0
) -> float:
    """A renew deadline for a (lease duration, retry period) cell of a sweep.

    ``max(renew_fraction * LD, 1.25 * RP)``: the usual proportion (client-go's defaults
    15/10/2 have RD = 2/3 LD) unless that falls below client-go's floor ``1.2 * RP``, in
    which case RD sits just above the floor. The result may still be invalid (RD >= LD);
    :class:`~ha_toolkit.election.config.ElectionConfig` decides.

    Parameters
    ----------
    lease_duration, retry_period : float
        Seconds.
    renew_fraction : float, default 2/3
        Fraction of the lease duration, in (0, 1).

    Returns
    -------
    float
        Seconds.
    """
    if not 0.0 < renew_fraction < 1.0:
        raise ValueError(f"renew_fraction must lie in (0, 1), got {renew_fraction!r}")
    floor = (CLIENT_GO_JITTER_FACTOR + 0.05) * retry_period
    return float(max(renew_fraction * lease_duration, floor))


def p99_grid(
    lease_durations: Iterable[float],
    retry_periods: Iterable[float],
    renew_fraction: float = 2.0 / 3.0,
    scenario: str = "crash",
    candidates: int = 3,
    **overrides: Any,
) -> pd.DataFrame:
    """The 99th percentile of the failover time over a grid of LD x RP.

    Parameters
    ----------
    lease_durations, retry_periods : iterable of float
        Grid values in seconds (or duration strings).
    renew_fraction : float, default 2/3
        Sets each cell's renew deadline, see :func:`choose_renew_deadline`.
    scenario : {"crash", "release"}
        Passed to :func:`~ha_toolkit.election.timing.failover`.
    candidates : int, default 3
        Number of candidates.
    **overrides
        Further :class:`ElectionConfig` fields, e.g. ``jitter_factor`` or ``api_latency``.

    Returns
    -------
    pandas.DataFrame
        One row per cell, LD-major: ``lease_duration``, ``retry_period``,
        ``renew_deadline``, ``valid`` (whether client-go accepts the cell) and ``p99``
        (NaN for an invalid cell), all seconds.
    """
    from ha_toolkit.durations import parse_duration

    lds = [parse_duration(v, "lease_duration") for v in lease_durations]
    rps = [parse_duration(v, "retry_period") for v in retry_periods]
    rows = []
    for ld in lds:
        for rp in rps:
            rd = choose_renew_deadline(ld, rp, renew_fraction)
            try:
                with warnings.catch_warnings():
                    # the grid deliberately spans thin lease margins; failover does not
                    # depend on them
                    warnings.simplefilter("ignore", LeaseOverlapWarning)
                    cfg = ElectionConfig(ld, rd, rp, candidates=candidates, **overrides)
            except ValueError:
                cfg = None
            p99 = float(failover(cfg, scenario).ppf(0.99)) if cfg is not None else math.nan
            rows.append(
                {
                    "lease_duration": ld,
                    "retry_period": rp,
                    "renew_deadline": rd,
                    "valid": cfg is not None,
                    "p99": p99,
                }
            )
    return pd.DataFrame(
        rows, columns=["lease_duration", "retry_period", "renew_deadline", "valid", "p99"]
    )


def candidates_effect(
    cfg: ElectionConfig, counts: Iterable[int], scenario: str = "crash"
) -> pd.DataFrame:
    """Failover summary as the number of candidates changes.

    Parameters
    ----------
    cfg : ElectionConfig
        The base configuration; only ``candidates`` changes.
    counts : iterable of int
        Candidate counts, each >= 2 (a leader and at least one follower).
    scenario : {"crash", "release"}
        Passed to :func:`~ha_toolkit.election.timing.failover`.

    Returns
    -------
    pandas.DataFrame
        Columns ``candidates``, ``followers`` and the :data:`SUMMARY_KEYS` (seconds).
    """
    rows = []
    for n in counts:
        variant = dataclasses.replace(cfg, candidates=n)
        rows.append(
            {
                "candidates": variant.candidates,
                "followers": variant.followers,
                **summarize(failover(variant, scenario)),
            }
        )
    return pd.DataFrame(rows, columns=["candidates", "followers", *SUMMARY_KEYS])


def hand_arithmetic_table(cfg: ElectionConfig) -> pd.DataFrame:
    """OpenShift's hand arithmetic for the acquisition times beside the exact figures.

    library-go (``pkg/config/leaderelection/leaderelection.go``) reasons that a follower
    acquires at worst ``LD + RP`` after a leader dies without releasing (non-graceful) and
    at worst ``RP`` after it releases (graceful). Those bounds ignore the 1.2 jitter of the
    followers' waits and the lag before a follower sees the last renewal.

    Parameters
    ----------
    cfg : ElectionConfig
        The configuration, e.g. ``ElectionConfig.preset("openshift")``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario (``crash``: non-graceful, ``release``: graceful) with
        ``scenario``, ``acquisition``, ``hand_formula``, ``hand_worst``, ``exact_mean``,
        ``exact_p99``, ``exact_max`` (seconds) and ``p_beyond_hand``, the probability that
        the switch takes longer than the hand figure.
    """
    cases = (
        ("crash", "non-graceful", "LD + RP", cfg.lease_duration + cfg.retry_period),
        ("release", "graceful", "RP", cfg.retry_period),
    )
    rows = []
    for scenario, kind, formula, hand in cases:
        dist = failover(cfg, scenario)
        lo, hi = dist.support()
        rows.append(
            {
                "scenario": scenario,
                "acquisition": kind,
                "hand_formula": formula,
                "hand_worst": float(hand),
                "exact_mean": float(dist.mean()),
                "exact_p99": float(dist.ppf(0.99)),
                "exact_max": float(hi),
                "p_beyond_hand": float(np.clip(1.0 - dist.cdf(hand), 0.0, 1.0)),
            }
        )
    return pd.DataFrame(rows)
