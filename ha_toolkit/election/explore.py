"""Sweeps and tables of leader-election timing, as the notebooks and the CLI use them.

Each function builds configurations, asks the exact models
(:func:`ha_toolkit.election.timing.failover`, :mod:`ha_toolkit.election.outage`,
:mod:`ha_toolkit.election.overlap`) for their answers and returns either the distributions or
a tidy DataFrame. No model logic lives here: these are the loops and the bookkeeping a
notebook would otherwise hold.
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
from ha_toolkit.election.outage import MODES, outage_survival, survival_curve
from ha_toolkit.election.overlap import overlap_summary
from ha_toolkit.election.timing import failover

__all__ = [
    "SUMMARY_KEYS",
    "candidates_effect",
    "choose_renew_deadline",
    "hand_arithmetic_table",
    "outage_guide",
    "outage_hand_arithmetic_table",
    "overlap_vs_clock_rate",
    "overlap_vs_margin",
    "p99_grid",
    "preset_survival_curves",
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


# ------------------------------------------------------------ outages and split brain
def _quiet_preset(name: str, **overrides: Any) -> ElectionConfig:
    """A preset built with :class:`LeaseOverlapWarning` silenced (the callers report it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeaseOverlapWarning)
        return ElectionConfig.preset(name, **overrides)


def _lease_margin(cfg: ElectionConfig) -> float:
    """``LDrec - RD - RP``: how much longer the lease runs than a cut-off leader acts."""
    return cfg.record_lease_duration - cfg.renew_deadline - cfg.retry_period


def preset_survival_curves(
    names: Iterable[str] | None = None,
    lengths: Iterable[float] = (),
    modes: Sequence[str] = MODES,
    **overrides: Any,
) -> pd.DataFrame:
    """Outage survival probability over presets x modes x outage lengths.

    Parameters
    ----------
    names : iterable of str, optional
        Preset names; all by default. Presets that leave no lease margin (``LD <= RD +
        RP``, e.g. openshift-sno) are built with
        :class:`~ha_toolkit.election.config.LeaseOverlapWarning` silenced; their rows have
        ``exact`` False (the survival is then an upper bound, see
        :func:`~ha_toolkit.election.outage.outage_survival`).
    lengths : iterable of float or str
        Outage lengths (seconds or duration strings), at least one.
    modes : sequence of str, default ("refuse", "blackhole")
        How the API fails during the outage.
    **overrides
        Fields applied to every preset, e.g. ``api_latency=0.05``.

    Returns
    -------
    pandas.DataFrame
        One row per (preset, mode, length), in that nesting order: ``preset``, ``mode``,
        ``outage``, ``survival_probability``, ``min_tolerated_outage``,
        ``max_tolerated_outage`` (seconds) and ``exact``.
    """
    lengths = list(np.ravel(list(lengths)))
    if not lengths:
        raise ValueError("lengths must hold at least one outage length")
    columns = [
        "preset",
        "mode",
        "outage",
        "survival_probability",
        "min_tolerated_outage",
        "max_tolerated_outage",
        "exact",
    ]
    parts = []
    for name in preset_names() if names is None else names:
        cfg = _quiet_preset(name, **overrides)
        for mode in modes:
            curve = survival_curve(cfg, lengths, mode)
            bounds = outage_survival(cfg, 0.0, mode)
            parts.append(
                curve.assign(
                    preset=name,
                    min_tolerated_outage=bounds.min_tolerated_outage,
                    max_tolerated_outage=bounds.max_tolerated_outage,
                    exact=bounds.exact,
                )
            )
    return pd.concat(parts, ignore_index=True)[columns]


def outage_hand_arithmetic_table(cfg: ElectionConfig) -> pd.DataFrame:
    """OpenShift's hand rule for the tolerated API downtime beside the exact range.

    library-go (``pkg/config/leaderelection/leaderelection.go``) states that its settings
    tolerate an API downtime of ``floor(RD / RP) * RP - RP`` (78 s for 137/107/26). The
    exact model (:func:`~ha_toolkit.election.outage.outage_survival`) gives, per way the
    API fails, the length up to which every outage is survived, the length beyond which
    none is, and the survival probability of an outage of exactly the hand figure.

    Parameters
    ----------
    cfg : ElectionConfig
        The configuration, e.g. ``ElectionConfig.preset("openshift")``.

    Returns
    -------
    pandas.DataFrame
        One row per mode with ``mode``, ``hand_formula``, ``hand_tolerance``,
        ``always_survived_up_to``, ``never_survived_beyond`` (seconds) and
        ``survival_at_hand``.
    """
    rd, rp = cfg.renew_deadline, cfg.retry_period
    # floor(RD / RP) on the nanosecond integers, as Go's Duration arithmetic would do it
    whole = round(rd * 1e9) // round(rp * 1e9)
    hand = whole * rp - rp
    rows = []
    for mode in MODES:
        result = outage_survival(cfg, hand, mode)
        rows.append(
            {
                "mode": mode,
                "hand_formula": "floor(RD/RP)*RP - RP",
                "hand_tolerance": float(hand),
                "always_survived_up_to": result.min_tolerated_outage,
                "never_survived_beyond": result.max_tolerated_outage,
                "survival_at_hand": result.survival_probability,
            }
        )
    return pd.DataFrame(rows)


def overlap_vs_margin(
    margins: Iterable[float],
    clock_rate_ratios: Iterable[float] = (1.0,),
    renew_deadline: float | str = 10.0,
    retry_period: float | str = 2.0,
    **overrides: Any,
) -> pd.DataFrame:
    """Term overlap after a partition as the lease margin ``LD - RD - RP`` changes.

    Each row's lease duration is ``LD = RD + RP + margin``; RD and RP stay fixed (client-go's
    defaults 10 s and 2 s unless given). A margin <= 0 is what
    :class:`~ha_toolkit.election.config.LeaseOverlapWarning` warns about; the sweep builds
    those configurations deliberately, with the warning silenced. Followers judge expiry by
    the record's whole seconds, so give margins that keep ``LD`` whole to read the x axis
    literally.

    Parameters
    ----------
    margins : iterable of float
        ``LD - RD - RP`` in seconds; each must exceed ``-RP`` (client-go needs LD > RD).
    clock_rate_ratios : iterable of float, default (1.0,)
        Rates of the followers' clocks over the old leader's, see
        :func:`~ha_toolkit.election.overlap.term_overlap`.
    renew_deadline, retry_period : float or str
        RD and RP.
    **overrides
        Further :class:`ElectionConfig` fields, e.g. ``candidates`` or ``api_latency``.

    Returns
    -------
    pandas.DataFrame
        One row per (margin, ratio), margin-major: ``margin``, ``lease_duration``,
        ``renew_deadline``, ``retry_period``, ``clock_rate_ratio``,
        ``overlap_probability``, ``max_overlap``, ``mean_overlap`` (seconds) and
        ``max_safe_clock_rate_ratio``.
    """
    from ha_toolkit.durations import parse_duration

    rd = parse_duration(renew_deadline, "renew_deadline")
    rp = parse_duration(retry_period, "retry_period")
    ratios = [float(r) for r in clock_rate_ratios]
    rows = []
    for margin in margins:
        margin = float(margin)
        if not (math.isfinite(margin) and margin > -rp):
            raise ValueError(
                f"margins must be finite and > -retry_period ({-rp:g}s) so that "
                f"leaseDuration > renewDeadline, got {margin!r}"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LeaseOverlapWarning)
            cfg = ElectionConfig(rd + rp + margin, rd, rp, **overrides)
        for ratio in ratios:
            summary = overlap_summary(cfg, ratio)
            rows.append(
                {
                    "margin": margin,
                    "lease_duration": cfg.lease_duration,
                    "renew_deadline": rd,
                    "retry_period": rp,
                    **summary.to_dict(),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "margin",
            "lease_duration",
            "renew_deadline",
            "retry_period",
            "clock_rate_ratio",
            "overlap_probability",
            "max_overlap",
            "mean_overlap",
            "max_safe_clock_rate_ratio",
        ],
    )


def overlap_vs_clock_rate(
    names: Iterable[str] | None = None,
    clock_rate_ratios: Iterable[float] = (1.0,),
    **overrides: Any,
) -> pd.DataFrame:
    """Term overlap after a partition over presets x clock-rate ratios.

    Parameters
    ----------
    names : iterable of str, optional
        Preset names; all by default (built with
        :class:`~ha_toolkit.election.config.LeaseOverlapWarning` silenced: the
        ``lease_margin`` column shows the same fact).
    clock_rate_ratios : iterable of float, default (1.0,)
        Rates of the followers' clocks over the old leader's.
    **overrides
        Fields applied to every preset, e.g. ``candidates=2``.

    Returns
    -------
    pandas.DataFrame
        One row per (preset, ratio), preset-major: ``preset``, ``lease_margin``
        (``LDrec - RD - RP``, seconds), ``clock_rate_ratio``, ``overlap_probability``,
        ``max_overlap``, ``mean_overlap`` (seconds), ``max_safe_clock_rate_ratio`` and
        ``lease_to_deadline_ratio`` (``LD / RD``, the tolerated ratio client-go's package
        doc quotes).
    """
    ratios = [float(r) for r in clock_rate_ratios]
    rows = []
    for name in preset_names() if names is None else names:
        cfg = _quiet_preset(name, **overrides)
        for ratio in ratios:
            rows.append(
                {
                    "preset": name,
                    "lease_margin": _lease_margin(cfg),
                    **overlap_summary(cfg, ratio).to_dict(),
                    "lease_to_deadline_ratio": cfg.lease_duration / cfg.renew_deadline,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "preset",
            "lease_margin",
            "clock_rate_ratio",
            "overlap_probability",
            "max_overlap",
            "mean_overlap",
            "max_safe_clock_rate_ratio",
            "lease_to_deadline_ratio",
        ],
    )


def outage_guide(
    outages: Iterable[float] = (5.0, 10.0, 30.0, 60.0, 120.0),
    modes: Sequence[str] = MODES,
    target: float = 0.99,
    *,
    lease_ratio: float = 1.5,
    retry_fraction: float = 0.2,
    retry_period: float | str | None = None,
    max_renew_deadline: int = 1000,
    failover_p99: bool = True,
    **overrides: Any,
) -> pd.DataFrame:
    """The smallest settings that survive an API outage of a given length.

    The rule: RD runs over whole seconds 1, 2, 3, ...; ``RP = retry_fraction * RD``
    (RD / 5 by default) or the fixed ``retry_period`` when given; ``LD = ceil(lease_ratio
    * RD)`` in whole seconds (the Lease record stores whole seconds). With the defaults this
    is the family through client-go's 15 / 10 / 2 s. A candidate is considered only if
    client-go accepts it (LD > RD > 1.2 RP) and it keeps a lease margin (LD > RD + RP, so a
    cut-off leader stops before a follower can take over). The first RD at which
    :func:`~ha_toolkit.election.outage.outage_survival` of an outage of exactly that length
    reaches ``target`` is reported.

    Parameters
    ----------
    outages : iterable of float or str
        Outage lengths, each > 0.
    modes : sequence of str, default ("refuse", "blackhole")
        How the API fails during the outage.
    target : float, default 0.99
        Required survival probability, in (0, 1].
    lease_ratio : float, default 1.5
        LD / RD before rounding up; > 1.
    retry_fraction : float, default 0.2
        RP / RD when ``retry_period`` is not given; in (0, 1/1.2).
    retry_period : float or str, optional
        A fixed RP instead of ``retry_fraction * RD``.
    max_renew_deadline : int, default 1000
        Largest RD tried (seconds); a row with no solution up to it holds NaN.
    failover_p99 : bool, default True
        Add ``crash_failover_p99``, the 99th percentile of the crash failover time of the
        chosen settings (the price of riding out the outage).
    **overrides
        Further :class:`ElectionConfig` fields, e.g. ``candidates`` or ``api_latency``.

    Returns
    -------
    pandas.DataFrame
        One row per (outage, mode): ``outage``, ``mode``, ``target``, ``renew_deadline``,
        ``retry_period``, ``lease_duration``, ``survival_probability``,
        ``min_tolerated_outage``, ``max_tolerated_outage`` (seconds) and, if asked,
        ``crash_failover_p99``.
    """
    from ha_toolkit.durations import parse_duration

    lengths = [parse_duration(x, "outages") for x in outages]
    for length in lengths:
        if not (math.isfinite(length) and length > 0):
            raise ValueError(f"outages must be finite and > 0, got {length!r}")
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"modes must be among {', '.join(MODES)}; got {mode!r}")
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must lie in (0, 1], got {target!r}")
    if not lease_ratio > 1.0:
        raise ValueError(f"lease_ratio must be > 1, got {lease_ratio!r}")
    if retry_period is None:
        if not 0.0 < retry_fraction < 1.0 / CLIENT_GO_JITTER_FACTOR:
            raise ValueError(
                f"retry_fraction must lie in (0, 1/{CLIENT_GO_JITTER_FACTOR:g}), "
                f"got {retry_fraction!r}"
            )
        fixed_rp = None
    else:
        fixed_rp = parse_duration(retry_period, "retry_period")
        if not fixed_rp > 0:
            raise ValueError(f"retry_period must be > 0, got {retry_period!r}")
    if isinstance(max_renew_deadline, bool) or int(max_renew_deadline) < 1:
        raise ValueError(f"max_renew_deadline must be an integer >= 1, got {max_renew_deadline!r}")

    def candidates() -> Iterable[ElectionConfig]:
        for rd in range(1, int(max_renew_deadline) + 1):
            rp = fixed_rp if fixed_rp is not None else retry_fraction * rd
            ld = math.ceil(lease_ratio * rd)
            if not (ld > rd + rp and rd > CLIENT_GO_JITTER_FACTOR * rp):
                continue
            try:
                yield ElectionConfig(ld, rd, rp, **overrides)
            except ValueError:
                continue  # rejected by client-go's validation at nanosecond precision

    rows = []
    for length in lengths:
        for mode in modes:
            row: dict[str, Any] = {"outage": length, "mode": mode, "target": target}
            chosen = None
            for cfg in candidates():
                try:
                    result = outage_survival(cfg, length, mode)
                except ValueError:
                    continue  # the API latency leaves no time to renew within RD
                if result.survival_probability >= target:
                    chosen = (cfg, result)
                    break
            if chosen is None:
                row.update(
                    dict.fromkeys(
                        (
                            "renew_deadline",
                            "retry_period",
                            "lease_duration",
                            "survival_probability",
                            "min_tolerated_outage",
                            "max_tolerated_outage",
                        ),
                        math.nan,
                    )
                )
                if failover_p99:
                    row["crash_failover_p99"] = math.nan
            else:
                cfg, result = chosen
                row.update(
                    {
                        "renew_deadline": cfg.renew_deadline,
                        "retry_period": cfg.retry_period,
                        "lease_duration": cfg.lease_duration,
                        "survival_probability": result.survival_probability,
                        "min_tolerated_outage": result.min_tolerated_outage,
                        "max_tolerated_outage": result.max_tolerated_outage,
                    }
                )
                if failover_p99:
                    row["crash_failover_p99"] = float(failover(cfg, "crash").ppf(0.99))
            rows.append(row)
    return pd.DataFrame(rows)
