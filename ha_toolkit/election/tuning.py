"""From targets to lease settings: search client-go configurations, and check one.

A user states targets: the 99th percentile of the crash (and release) failover time, an API
outage to survive with a given probability, a clock-rate ratio up to which two leaders must
never act at once, and a budget of lease requests per second. :func:`recommend` searches a
grid of valid client-go settings (LeaseDuration in whole seconds, as the Lease record stores
it; RenewDeadline and RetryPeriod on a grid) and returns the Pareto set of those meeting
every target; :func:`evaluate` checks one configuration against the same targets.

Every figure comes from the exact models: :func:`~ha_toolkit.election.timing.failover` for
the failover percentiles, :func:`~ha_toolkit.election.outage.outage_survival` for outages and
:func:`~ha_toolkit.election.overlap.max_safe_clock_rate_ratio` /
:func:`~ha_toolkit.election.overlap.overlap_summary` for term overlap. Nothing here models
client-go anew; the module only organises the search.

How the search stays fast
-------------------------
* The outage and overlap criteria and the API cost are closed forms, cheap for every
  (RenewDeadline, RetryPeriod) pair; pairs that fail them are dropped before any
  distribution is computed.
* The crash failover depends on LeaseDuration and RetryPeriod only (with the jitter, the
  candidates and the API latency), not on RenewDeadline, and its distribution is
  stochastically nondecreasing in LeaseDuration: raising the lease moves every follower's
  first attempt at or after its expiry no earlier, path by path. So for a pair the shortest
  admissible lease is the best one, and the leases meeting a p99 target form a prefix of the
  grid, found by bisection. Simple bounds (the p99 is at least ``LD + 2.5 l - 0.01 (RP +
  l)`` and at most ``LD + 2.5 l + 2 (l + (1 + J) RP)``) settle most leases without any
  distribution.
* p99 values are cached per (LeaseDuration, RetryPeriod, jitter, candidates, latency), across
  calls (:func:`clear_cache` empties the cache).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ha_toolkit.durations import parse_duration
from ha_toolkit.election.config import CLIENT_GO_JITTER_FACTOR, ElectionConfig, LeaseOverlapWarning
from ha_toolkit.election.outage import MODES, outage_survival
from ha_toolkit.election.overlap import max_safe_clock_rate_ratio, overlap_summary
from ha_toolkit.election.timing import failover, lattice_step

__all__ = [
    "DEFAULT_LEASE_DURATIONS",
    "DEFAULT_RENEW_DEADLINES",
    "DEFAULT_RETRY_PERIODS",
    "OBJECTIVES",
    "SORT_ORDERS",
    "TARGET_NAMES",
    "Evaluation",
    "Recommendation",
    "TargetCheck",
    "Targets",
    "clear_cache",
    "dominating",
    "evaluate",
    "overlap_margin",
    "pareto_mask",
    "preset_fronts",
    "preset_positions",
    "recommend",
    "requests_per_second",
]

#: LeaseDuration grid of :func:`recommend` (whole seconds, as the Lease record stores them).
DEFAULT_LEASE_DURATIONS: tuple[float, ...] = tuple(float(s) for s in range(1, 301))
#: RenewDeadline grid: 0.5 s steps to 10 s, 1 s to 60 s, 5 s to 120 s, 10 s to 300 s.
DEFAULT_RENEW_DEADLINES: tuple[float, ...] = (
    tuple(0.5 * k for k in range(1, 21))
    + tuple(float(s) for s in range(11, 61))
    + tuple(float(s) for s in range(65, 121, 5))
    + tuple(float(s) for s in range(130, 301, 10))
)
#: RetryPeriod grid.
DEFAULT_RETRY_PERIODS: tuple[float, ...] = (
    0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 40.0,
    50.0, 60.0,
)  # fmt: skip

#: Target names, in report order (the fields of :class:`Targets` they come from).
TARGET_NAMES = (
    "max_p99_failover",
    "max_p99_release",
    "survive_outage",
    "max_clock_rate_ratio",
    "max_requests_per_second",
)

#: Objectives of the Pareto set: column -> +1 to minimise, -1 to maximise.
OBJECTIVES: dict[str, int] = {
    "p99_failover": 1,
    "p99_release": 1,  # only when a release target is set
    "tolerated_outage": -1,
    "requests_per_second": 1,
}

_FRAME_COLUMNS = [
    "lease_duration",
    "renew_deadline",
    "retry_period",
    "p99_failover",
    "p99_release",
    "tolerated_outage",
    "max_tolerated_outage",
    "survival_probability",
    "max_safe_clock_rate_ratio",
    "requests_per_second",
    "overlap_margin",
    "score",
]

#: Orders of :meth:`Recommendation.sorted`: name -> (columns, ascending), what it means.
SORT_ORDERS: dict[str, tuple[tuple[str, ...], tuple[bool, ...], str]] = {
    "score": (
        ("score", "p99_failover", "lease_duration", "renew_deadline"),
        (True, True, True, True),
        "balanced: the worst of the objectives scaled to [0, 1] over the set, lowest first",
    ),
    "cost": (
        ("requests_per_second", "p99_failover", "lease_duration"),
        (True, True, True),
        "fewest lease requests per second first",
    ),
    "p99": (
        ("p99_failover", "requests_per_second", "lease_duration"),
        (True, True, True),
        "lowest p99 crash failover first",
    ),
    "margin": (
        ("overlap_margin", "p99_failover", "lease_duration"),
        (False, True, True),
        "largest overlap margin (LDrec + 2 l - ratio (RD + RP)) first",
    ),
}
_Q = 0.99
_CACHE_LIMIT = 200_000
_P99_CACHE: dict[tuple, float] = {}


def clear_cache() -> None:
    """Forget the cached failover percentiles (they are kept across calls)."""
    _P99_CACHE.clear()


# ------------------------------------------------------------------------------ targets
def _positive_duration(value: Any, name: str, *, allow_zero: bool = False) -> float | None:
    if value is None:
        return None
    seconds = parse_duration(value, name=name)
    ok = seconds >= 0 if allow_zero else seconds > 0
    if not (math.isfinite(seconds) and ok):
        rule = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite duration {rule}, got {value!r}")
    return seconds


def _real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Targets:
    """What a configuration must achieve; ``None`` leaves a target out.

    Parameters
    ----------
    max_p99_failover : float or str, optional
        Largest 99th percentile of the crash failover time (seconds or a duration string).
    max_p99_release : float or str, optional
        Largest 99th percentile of the failover time after a clean shutdown. With
        ``ReleaseOnCancel`` that is the release failover; without it the lease must run out,
        as after a crash.
    survive_outage : float or str, optional
        Length of an API outage the leader must ride out.
    min_survival : float, default 0.99
        Required probability of surviving ``survive_outage``, in (0, 1]. With 1 every phase
        of the outage must be survived (the outage is at most ``min_tolerated_outage``).
    outage_mode : {"refuse", "blackhole"}, default "refuse"
        How calls fail during the outage (see :mod:`ha_toolkit.election.outage`); also the
        mode of the ``tolerated_outage`` objective of :func:`recommend`.
    max_clock_rate_ratio : float, default 1.0
        No term overlap after a partition while the followers' clocks run up to this many
        times faster than the leader's: ``max_safe_clock_rate_ratio(cfg) >= ratio``. At
        least 1: with equal clocks two leaders must never act at once (a recommender does
        not propose split-brain settings).
    max_requests_per_second : float, optional
        Budget of lease requests per second, see :func:`requests_per_second`.
    allow_zero_margin : bool, default True
        Whether the overlap target admits a zero margin, ``max_safe_clock_rate_ratio ==
        max_clock_rate_ratio`` (the followers' wait ``LDrec + 2 l`` exactly equal to
        ``ratio (RD + RP)``: the old leader's deadline and the new leader's first act
        coincide, and :class:`~ha_toolkit.election.config.LeaseOverlapWarning` fires at ratio
        1). With False the margin must be positive; the command line's ``tune`` and
        ``check`` default to that.

    Raises
    ------
    ValueError
        A duration that does not parse or is not > 0 (``survive_outage`` may be 0), a
        ``min_survival`` outside (0, 1], an unknown ``outage_mode``, a
        ``max_clock_rate_ratio`` below 1 or not finite, or a budget that is not > 0.
    """

    max_p99_failover: float | None = None
    max_p99_release: float | None = None
    survive_outage: float | None = None
    min_survival: float = 0.99
    outage_mode: str = "refuse"
    max_clock_rate_ratio: float = 1.0
    max_requests_per_second: float | None = None
    allow_zero_margin: bool = True

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("max_p99_failover", "max_p99_release"):
            set_(self, name, _positive_duration(getattr(self, name), name))
        set_(
            self,
            "survive_outage",
            _positive_duration(self.survive_outage, "survive_outage", allow_zero=True),
        )
        p = _real(self.min_survival, "min_survival")
        if not 0.0 < p <= 1.0:
            raise ValueError(f"min_survival must lie in (0, 1], got {self.min_survival!r}")
        set_(self, "min_survival", p)
        if self.outage_mode not in MODES:
            raise ValueError(
                f"outage_mode must be one of {', '.join(MODES)}; got {self.outage_mode!r}"
            )
        ratio = _real(self.max_clock_rate_ratio, "max_clock_rate_ratio")
        if not (math.isfinite(ratio) and ratio >= 1.0):
            raise ValueError(
                f"max_clock_rate_ratio must be finite and >= 1, got {self.max_clock_rate_ratio!r}"
            )
        set_(self, "max_clock_rate_ratio", ratio)
        if self.max_requests_per_second is not None:
            budget = _real(self.max_requests_per_second, "max_requests_per_second")
            if not (math.isfinite(budget) and budget > 0):
                raise ValueError(
                    "max_requests_per_second must be finite and > 0, "
                    f"got {self.max_requests_per_second!r}"
                )
            set_(self, "max_requests_per_second", budget)
        if not isinstance(self.allow_zero_margin, bool | np.bool_):
            raise ValueError(
                f"allow_zero_margin must be True or False, got {self.allow_zero_margin!r}"
            )
        set_(self, "allow_zero_margin", bool(self.allow_zero_margin))

    def overlap_ok(self, safe_ratio: float) -> bool:
        """Whether a safe clock-rate ratio meets the overlap target (strict without
        ``allow_zero_margin``)."""
        if self.allow_zero_margin:
            return safe_ratio >= self.max_clock_rate_ratio
        return safe_ratio > self.max_clock_rate_ratio

    @property
    def active(self) -> tuple[str, ...]:
        """Names of the targets in force, in :data:`TARGET_NAMES` order."""
        return tuple(
            name
            for name in TARGET_NAMES
            if name == "max_clock_rate_ratio" or getattr(self, name) is not None
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return dataclasses.asdict(self)


# ------------------------------------------------------------------------------ metrics
def requests_per_second(cfg: ElectionConfig) -> float:
    """Lease requests per second that one election sends to the API server.

    The leader renews once per ``RP + l`` (``wait.Until`` restarts the cycle RP after the
    previous one returns; a healthy cycle is one optimistic Update on the fast path, since
    client-go 1.30). Each follower attempts once per mean gap ``l + RP (1 + J / 2)`` (its
    GET, then ``wait.Jitter(RP, J)`` with a uniform jitter of mean ``J / 2``), one GET per
    attempt. So, with ``n - 1`` followers::

        requests_per_second = 1 / (RP + l) + (n - 1) / (l + RP (1 + J / 2))

    Parameters
    ----------
    cfg : ElectionConfig

    Returns
    -------
    float
        Requests per second in steady state (no failures, no acquisitions).
    """
    leader = 1.0 / (cfg.retry_period + cfg.api_latency)
    follower = 1.0 / (cfg.api_latency + cfg.retry_period * (1.0 + cfg.jitter_factor / 2.0))
    return leader + cfg.followers * follower


def overlap_margin(cfg: ElectionConfig, clock_rate_ratio: float = 1.0) -> float:
    """Seconds by which the followers' wait outlasts a cut-off leader's deadline.

    ``LDrec + 2 l - ratio (RP + RD)``: the old leader acts until ``RP + RD`` after its last
    renewal on its clock, a follower acts no earlier than ``LDrec + 2 l`` after it on its
    own (see :func:`~ha_toolkit.election.overlap.term_overlap`). Positive: a gap is
    guaranteed; zero or less: two leaders can act at once.
    """
    ratio = float(clock_rate_ratio)
    return (
        cfg.record_lease_duration
        + 2 * cfg.api_latency
        - ratio * (cfg.retry_period + cfg.renew_deadline)
    )


def _remember(key: tuple, compute) -> float:
    value = _P99_CACHE.get(key)
    if value is None:
        if len(_P99_CACHE) >= _CACHE_LIMIT:
            _P99_CACHE.clear()
        value = float(compute())
        _P99_CACHE[key] = value
    return value


def _crash_p99(cfg: ElectionConfig) -> float:
    """p99 of the crash failover; the cache key holds every field ``failover`` reads."""
    key = (
        "crash",
        cfg.record_lease_duration,
        cfg.retry_period,
        cfg.jitter_factor,
        cfg.candidates,
        cfg.api_latency,
    )
    return _remember(key, lambda: failover(cfg, "crash").ppf(_Q))


def _shutdown_p99(cfg: ElectionConfig) -> float:
    """p99 after a clean shutdown: the release failover, or a crash without release."""
    if not cfg.release_on_cancel:
        return _crash_p99(cfg)
    key = ("release", cfg.retry_period, cfg.jitter_factor, cfg.candidates, cfg.api_latency)
    return _remember(key, lambda: failover(cfg, "release").ppf(_Q))


@dataclass(frozen=True)
class TargetCheck:
    """One target checked against one configuration.

    Attributes
    ----------
    target : str
        A name of :data:`TARGET_NAMES`.
    metric : str
        The metric compared (``p99_failover``, ``p99_release``, ``survival_probability``,
        ``max_safe_clock_rate_ratio`` or ``requests_per_second``).
    value : float
        The configuration's metric.
    limit : float
        The target's bound (for ``survive_outage``: ``min_survival``).
    passed : bool
    margin : float
        Distance to the bound on the passing side, in the metric's unit (negative: the
        shortfall).
    note : str
        Extra information, e.g. that a survival probability is only an upper bound.
    """

    target: str
    metric: str
    value: float
    limit: float
    passed: bool
    margin: float
    note: str = ""


@dataclass(frozen=True)
class Evaluation:
    """A configuration checked against :class:`Targets` (from :func:`evaluate`).

    Attributes
    ----------
    config : ElectionConfig
    targets : Targets
    metrics : mapping of str to float
        ``p99_failover``, ``p99_release`` (after a clean shutdown), ``survival_probability``
        (NaN without an outage target), ``tolerated_outage`` (every outage up to it is
        survived, in the target's mode), ``max_tolerated_outage``,
        ``max_safe_clock_rate_ratio``, ``overlap_probability`` (at the target ratio) and
        ``requests_per_second``.
    checks : tuple of TargetCheck
        One per target in force.
    """

    config: ElectionConfig
    targets: Targets
    metrics: Mapping[str, float]
    checks: tuple[TargetCheck, ...]

    @property
    def passed(self) -> bool:
        """Whether every target is met."""
        return all(check.passed for check in self.checks)

    @property
    def failed(self) -> tuple[str, ...]:
        """Names of the targets missed."""
        return tuple(check.target for check in self.checks if not check.passed)

    def to_frame(self) -> pd.DataFrame:
        """One row per target: ``target``, ``metric``, ``value``, ``limit``, ``passed``,
        ``margin`` and ``note``."""
        return pd.DataFrame(
            [dataclasses.asdict(check) for check in self.checks],
            columns=[f.name for f in dataclasses.fields(TargetCheck)],
        )


def evaluate(cfg: ElectionConfig, targets: Targets | None = None) -> Evaluation:
    """Check a configuration against the targets, with the margin of each.

    Parameters
    ----------
    cfg : ElectionConfig
        Settings, candidates (at least 2), jitter, API latency and ``release_on_cancel``
        (which decides what a clean shutdown costs).
    targets : Targets, optional
        By default only the overlap target at clock-rate ratio 1.

    Returns
    -------
    Evaluation

    Notes
    -----
    The survival of an outage counts as passed only when it is exact: when
    ``LDrec + 2 l < RP + RD`` a follower may take the lease before the leader's deadline and
    :func:`~ha_toolkit.election.outage.outage_survival` gives an upper bound (that
    configuration fails the overlap target anyway).
    """
    if not isinstance(cfg, ElectionConfig):
        raise ValueError(f"cfg must be an ElectionConfig, got {type(cfg).__name__}")
    targets = Targets() if targets is None else targets
    if not isinstance(targets, Targets):
        raise ValueError(f"targets must be a Targets, got {type(targets).__name__}")
    outage = targets.survive_outage
    survival = outage_survival(cfg, 0.0 if outage is None else outage, targets.outage_mode)
    overlap = overlap_summary(cfg, targets.max_clock_rate_ratio)
    metrics = {
        "lease_duration": cfg.lease_duration,
        "renew_deadline": cfg.renew_deadline,
        "retry_period": cfg.retry_period,
        "p99_failover": _crash_p99(cfg),
        "p99_release": _shutdown_p99(cfg),
        "survival_probability": math.nan if outage is None else survival.survival_probability,
        "tolerated_outage": survival.min_tolerated_outage,
        "max_tolerated_outage": survival.max_tolerated_outage,
        "max_safe_clock_rate_ratio": overlap.max_safe_clock_rate_ratio,
        "overlap_probability": overlap.overlap_probability,
        "requests_per_second": requests_per_second(cfg),
        "overlap_margin": overlap_margin(cfg, targets.max_clock_rate_ratio),
    }
    checks = []
    for name in targets.active:
        if name == "max_p99_failover":
            value, limit = metrics["p99_failover"], targets.max_p99_failover
            checks.append(
                TargetCheck(name, "p99_failover", value, limit, value <= limit, limit - value)
            )
        elif name == "max_p99_release":
            value, limit = metrics["p99_release"], targets.max_p99_release
            note = "" if cfg.release_on_cancel else "no release on cancel: the lease runs out"
            checks.append(
                TargetCheck(name, "p99_release", value, limit, value <= limit, limit - value, note)
            )
        elif name == "survive_outage":
            value, limit = survival.survival_probability, targets.min_survival
            note = (
                f"{targets.outage_mode} outage of {outage:g} s; survived always up to "
                f"{survival.min_tolerated_outage:g} s, never beyond "
                f"{survival.max_tolerated_outage:g} s"
            )
            if not survival.exact:
                note += "; upper bound only (a follower can take the lease first)"
            passed = survival.exact and value >= limit
            checks.append(
                TargetCheck(name, "survival_probability", value, limit, passed, value - limit, note)
            )
        elif name == "max_clock_rate_ratio":
            value, limit = overlap.max_safe_clock_rate_ratio, targets.max_clock_rate_ratio
            note = (
                f"overlap probability {overlap.overlap_probability:.3g} at ratio {limit:g}; "
                f"margin {metrics['overlap_margin']:.4g} s"
            )
            if not targets.allow_zero_margin:
                note += " (must be > 0)"
            checks.append(
                TargetCheck(
                    name,
                    "max_safe_clock_rate_ratio",
                    value,
                    limit,
                    targets.overlap_ok(value),
                    value - limit,
                    note,
                )
            )
        else:
            value, limit = metrics["requests_per_second"], targets.max_requests_per_second
            checks.append(
                TargetCheck(
                    name, "requests_per_second", value, limit, value <= limit, limit - value
                )
            )
    return Evaluation(cfg, targets, metrics, tuple(checks))


# ------------------------------------------------------------------------------ Pareto
def pareto_mask(frame: pd.DataFrame, objectives: Mapping[str, int]) -> np.ndarray:
    """Which rows no other row dominates.

    Row ``a`` dominates row ``b`` when it is no worse in every objective and better in one.
    Rows with equal objectives do not dominate each other: all of them are kept.

    Parameters
    ----------
    frame : pandas.DataFrame
    objectives : mapping of str to int
        Column -> ``+1`` to minimise or ``-1`` to maximise.

    Returns
    -------
    numpy.ndarray of bool
    """
    for column, sign in objectives.items():
        if column not in frame.columns:
            raise ValueError(f"objectives: no column {column!r} in the frame")
        if sign not in (1, -1):
            raise ValueError(f"objectives[{column!r}] must be +1 or -1, got {sign!r}")
    if frame.empty:
        return np.zeros(0, dtype=bool)
    values = np.column_stack(
        [sign * frame[column].to_numpy(dtype=float) for column, sign in objectives.items()]
    )
    keep = np.ones(len(values), dtype=bool)
    for i, row in enumerate(values):
        no_worse = np.all(values <= row, axis=1)
        better = np.any(values < row, axis=1)
        keep[i] = not np.any(no_worse & better)
    return keep


def _objectives(targets: Targets) -> dict[str, int]:
    chosen = dict(OBJECTIVES)
    if targets.max_p99_release is None:
        del chosen["p99_release"]
    return chosen


def _scores(frame: pd.DataFrame, objectives: Mapping[str, int]) -> np.ndarray:
    """Largest objective of each row scaled to [0, 1] over the frame (0: best in all)."""
    scaled = []
    for column, sign in objectives.items():
        values = sign * frame[column].to_numpy(dtype=float)
        lo, hi = values.min(), values.max()
        scaled.append(np.zeros_like(values) if hi == lo else (values - lo) / (hi - lo))
    return np.max(np.column_stack(scaled), axis=1)


# ------------------------------------------------------------------------------ search
def _grid(values: Iterable[Any] | None, default: tuple[float, ...], name: str) -> np.ndarray:
    raw = default if values is None else list(values)
    out = []
    for value in raw:
        seconds = parse_duration(value, name=name)
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"{name} must hold finite durations > 0, got {value!r}")
        out.append(seconds)
    if not out:
        raise ValueError(f"{name} must hold at least one value")
    return np.unique(np.asarray(out, dtype=float))


class _Search:
    """One search: the grid, the closed-form criteria per (RD, RP) pair, cached p99s.

    Lease durations are handled as index intervals into the sorted lease grid: for a pair,
    client-go validity, the overlap target (and the exactness of the outage model) are
    lower bounds on the lease, the failover target an upper bound (a prefix of the grid).
    """

    def __init__(self, targets: Targets, lds, rds, rps, settings: dict[str, Any]) -> None:
        self.targets = targets
        self.lds, self.rds, self.rps = lds, rds, rps
        self.settings = settings
        self.n = len(lds)
        self.latency = settings["api_latency"]
        pair_rd, pair_j, lo_valid, lo_exact, lo_ratio = [], [], [], [], []
        tolerated, max_tolerated, survival = [], [], []
        length = 0.0 if targets.survive_outage is None else targets.survive_outage
        for j, rp in enumerate(rps):
            for rd in rds:
                lo = int(np.searchsorted(lds, rd, side="right"))  # first LD > RD
                if lo >= self.n:
                    continue
                try:
                    probe = self.config(lds[lo], rd, rp)
                except ValueError:
                    continue  # client-go rejects it (RD <= 1.2 RP)
                try:
                    result = outage_survival(probe, length, targets.outage_mode)
                except ValueError:
                    continue  # no renewal can complete within RD at this latency
                exact = self._ratio_index(lo, rd, rp, 1.0)
                pair_rd.append(float(rd))
                pair_j.append(j)
                lo_valid.append(lo)
                lo_exact.append(exact)
                lo_ratio.append(
                    self._ratio_index(
                        exact,
                        rd,
                        rp,
                        targets.max_clock_rate_ratio,
                        strict=not targets.allow_zero_margin,
                    )
                )
                tolerated.append(result.min_tolerated_outage)
                max_tolerated.append(result.max_tolerated_outage)
                survival.append(result.survival_probability)
        self.m = len(pair_rd)
        self.rd = np.asarray(pair_rd, dtype=float)
        self.j = np.asarray(pair_j, dtype=int)
        self.rp = rps[self.j] if self.m else np.zeros(0)
        self.lo_valid = np.asarray(lo_valid, dtype=int)
        self.lo_exact = np.asarray(lo_exact, dtype=int)
        self.lo_ratio = np.asarray(lo_ratio, dtype=int)
        self.tolerated = np.asarray(tolerated, dtype=float)
        self.max_tolerated = np.asarray(max_tolerated, dtype=float)
        self.survival = np.asarray(survival, dtype=float)

        # per retry period: cost, clean-shutdown p99, last lease meeting the failover target
        self.cost = np.full(len(rps), np.nan)
        self.release = np.full(len(rps), np.nan)
        self.last = np.full(len(rps), -1, dtype=int)
        for j in np.unique(self.j):
            first = int(self.lo_valid[self.j == j].min())
            cfg = self.probe(first, rps[j])
            self.cost[j] = requests_per_second(cfg)
            self.release[j] = _shutdown_p99(cfg)
            self.last[j] = self._failover_prefix(int(j), first)

        true = np.ones(self.m, dtype=bool)
        # each target: (pair condition, lower lease index or None, upper lease index or None)
        self.conditions: dict[str, tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] = {}
        for name in targets.active:
            if name == "max_p99_failover":
                self.conditions[name] = (true, None, self.last[self.j])
            elif name == "max_p99_release":
                self.conditions[name] = (
                    self.release[self.j] <= targets.max_p99_release,
                    None,
                    None,
                )
            elif name == "survive_outage":
                # counted only where the survival is exact (see evaluate)
                self.conditions[name] = (self.survival >= targets.min_survival, self.lo_exact, None)
            elif name == "max_clock_rate_ratio":
                self.conditions[name] = (true, self.lo_ratio, None)
            else:
                budget = targets.max_requests_per_second
                self.conditions[name] = (self.cost[self.j] <= budget, None, None)

    # -------------------------------------------------------------- configurations
    def config(self, ld: float, rd: float, rp: float) -> ElectionConfig:
        # The search builds thin-margin settings on purpose (with an API latency, LD <= RD +
        # RP can still be overlap-free); the overlap target is checked exactly by the closed
        # form, so LeaseOverlapWarning is silenced here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LeaseOverlapWarning)
            return ElectionConfig(ld, rd, rp, **self.settings)

    def probe(self, i: int, rp: float) -> ElectionConfig:
        """A valid configuration with lease index ``i`` and ``rp`` (RD halfway to 1.2 RP)."""
        ld = self.lds[i]
        return self.config(ld, 0.5 * (ld + CLIENT_GO_JITTER_FACTOR * rp), rp)

    def p99(self, i: int, rp: float) -> float:
        """p99 crash failover of lease index ``i``: it does not depend on RD."""
        return _crash_p99(self.probe(i, rp))

    def p99_bounds(self, i: int, rp: float) -> tuple[float, float]:
        """Bounds on the p99 crash failover, less and plus two lattice steps.

        ``failover = LD + 2.5 l - phi + lag`` with ``phi ~ U[0, RP + l)`` and ``0 <= lag <=
        2 (l + (1 + J) RP)`` (a residual time plus an overshoot, each below one gap), so
        ``P(failover <= x) <= P(phi >= LD + 2.5 l - x)`` gives the lower bound.
        """
        ld, lat = self.lds[i], self.latency
        slack = 2 * lattice_step(self.probe(i, rp))
        low = ld + 2.5 * lat - (1 - _Q) * (rp + lat) - slack
        high = ld + 2.5 * lat + 2 * (lat + (1 + self.settings["jitter_factor"]) * rp) + slack
        return low, high

    def _ratio_index(
        self, start: int, rd: float, rp: float, ratio: float, *, strict: bool = False
    ) -> int:
        """First lease index >= start whose safe clock-rate ratio reaches ``ratio`` (passes
        it, when ``strict``)."""
        guess = int(np.searchsorted(self.lds, ratio * (rp + rd) - 2 * self.latency - 1e-9))
        idx = max(start, guess)

        def ok(i: int) -> bool:
            safe = max_safe_clock_rate_ratio(self.config(self.lds[i], rd, rp))
            return safe > ratio if strict else safe >= ratio

        while idx < self.n and not ok(idx):
            idx += 1
        while idx - 1 >= start and ok(idx - 1):
            idx -= 1
        return idx

    def _failover_prefix(self, j: int, first: int) -> int:
        """Last lease index whose p99 crash failover meets the target (``first - 1``: none)."""
        limit = self.targets.max_p99_failover
        if limit is None:
            return self.n - 1
        rp = self.rps[j]

        def passes(i: int) -> bool:
            low, high = self.p99_bounds(i, rp)
            if low > limit:
                return False
            if high <= limit:
                return True
            return self.p99(i, rp) <= limit

        lo, hi = first, self.n  # the passing leases are a prefix: bisect its end
        while lo < hi:
            mid = (lo + hi) // 2
            if passes(mid):
                lo = mid + 1
            else:
                hi = mid
        return lo - 1

    # -------------------------------------------------------------- counting
    def interval(self, names: Iterable[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pairs with a lease meeting the named targets, and their lease index range."""
        mask = np.ones(self.m, dtype=bool)
        lo, hi = self.lo_valid.copy(), np.full(self.m, self.n - 1)
        for name in names:
            cond, low, high = self.conditions[name]
            mask &= cond
            if low is not None:
                lo = np.maximum(lo, low)
            if high is not None:
                hi = np.minimum(hi, high)
        return mask & (lo <= hi), lo, hi

    def count(self, names: Iterable[str]) -> int:
        """Grid configurations meeting the named targets."""
        mask, lo, hi = self.interval(names)
        return int(np.sum((hi - lo + 1)[mask]))

    # -------------------------------------------------------------- the Pareto set
    def pareto(self) -> pd.DataFrame:
        """The Pareto set of the configurations meeting every target, best first."""
        mask, lo, _ = self.interval(self.targets.active)
        rows = []
        for k in self._undominated(mask, lo):
            i, rd, rp = int(lo[k]), float(self.rd[k]), float(self.rp[k])
            rows.append(
                {
                    "lease_duration": float(self.lds[i]),
                    "renew_deadline": rd,
                    "retry_period": rp,
                    "p99_failover": self.p99(i, rp),
                    "p99_release": float(self.release[self.j[k]]),
                    "tolerated_outage": float(self.tolerated[k]),
                    "max_tolerated_outage": float(self.max_tolerated[k]),
                    "survival_probability": (
                        math.nan if self.targets.survive_outage is None else self.survival[k]
                    ),
                    "max_safe_clock_rate_ratio": max_safe_clock_rate_ratio(
                        self.config(self.lds[i], rd, rp)
                    ),
                    "requests_per_second": float(self.cost[self.j[k]]),
                    "overlap_margin": overlap_margin(
                        self.config(self.lds[i], rd, rp), self.targets.max_clock_rate_ratio
                    ),
                }
            )
        if not rows:
            return pd.DataFrame(columns=_FRAME_COLUMNS)
        objectives = _objectives(self.targets)
        frame = pd.DataFrame(rows, columns=_FRAME_COLUMNS[:-1])
        frame = frame.sort_values(["lease_duration", "renew_deadline"], kind="mergesort")
        frame = frame.drop_duplicates(list(objectives), keep="first")
        frame = frame[pareto_mask(frame, objectives)].copy()
        frame["score"] = _scores(frame, objectives)
        return frame.sort_values(
            ["score", "p99_failover", "lease_duration", "renew_deadline"], kind="mergesort"
        ).reset_index(drop=True)

    def _undominated(self, mask: np.ndarray, lo: np.ndarray) -> list[int]:
        """Feasible pairs that may be Pareto-optimal, found before most distributions.

        A pair's best configuration takes its shortest admissible lease (the p99 is
        nondecreasing in LD). Two prunings need no distribution for the pairs dropped:

        * among pairs with the same RP and the same tolerated outage only those with the
          shortest lease can be kept (the others are dominated, or tied and not the
          representative);
        * a pair whose p99 lower bound exceeds the p99 of a computed pair that is no worse
          in every other objective is dominated.
        """
        ks = np.flatnonzero(mask)
        if ks.size == 0:
            return []
        frame = pd.DataFrame({"k": ks, "j": self.j[ks], "tol": self.tolerated[ks], "lo": lo[ks]})
        frame = frame[frame["lo"] == frame.groupby(["j", "tol"])["lo"].transform("min")]
        bounds = [self.p99_bounds(int(r.lo), float(self.rps[r.j]))[0] for r in frame.itertuples()]
        frame = frame.assign(bound=bounds).sort_values(["bound", "k"], kind="mergesort")
        with_release = self.targets.max_p99_release is not None
        kept: list[int] = []
        done = np.empty((0, 4))  # p99, tolerated, cost, release of the kept pairs
        for row in frame.itertuples():
            cost, rel = self.cost[row.j], self.release[row.j]
            beaten = (done[:, 0] < row.bound) & (done[:, 1] >= row.tol) & (done[:, 2] <= cost)
            if with_release:
                beaten &= done[:, 3] <= rel
            if beaten.any():
                continue
            kept.append(int(row.k))
            p99 = self.p99(int(row.lo), float(self.rps[row.j]))
            done = np.vstack([done, [p99, row.tol, cost, rel]])
        return sorted(kept)

    # -------------------------------------------------------------- diagnostics
    def diagnostics(self, feasible_count: int) -> pd.DataFrame:
        """Per target: how many pass it, alone and with the others, and the closest miss."""
        rows = []
        active = self.targets.active
        for name in active:
            others = [other for other in active if other != name]
            mask, lo, hi = self.interval(others)
            value, ld, rd, rp = self._closest(name, mask, lo, hi)
            rows.append(
                {
                    "target": name,
                    "limit": _limit(self.targets, name),
                    "passing": self.count([name]),
                    "passing_others": self.count(others),
                    "closest": value,
                    "closest_lease_duration": ld,
                    "closest_renew_deadline": rd,
                    "closest_retry_period": rp,
                    "binding": feasible_count == 0 and bool(mask.any()),
                }
            )
        return pd.DataFrame(rows, columns=_DIAGNOSTIC_COLUMNS)

    def _closest(self, name: str, mask, lo, hi) -> tuple[float, float, float, float]:
        """Best value of a target's metric over the configurations meeting every other one.

        Returns ``(value, LD, RD, RP)`` of a configuration reaching it; NaNs when no
        configuration meets the other targets.
        """
        ks = np.flatnonzero(mask)
        if ks.size == 0:
            return (math.nan,) * 4
        if name == "max_p99_failover":
            # nondecreasing in LD: per retry period, its shortest admissible lease
            best = (math.inf,)
            for j in np.unique(self.j[ks]):
                here = ks[self.j[ks] == j]
                k = here[np.argmin(lo[here])]
                value = self.p99(int(lo[k]), float(self.rps[j]))
                if value < best[0]:
                    best = (value, float(self.lds[lo[k]]), float(self.rd[k]), float(self.rps[j]))
            return best
        if name == "max_clock_rate_ratio":
            # grows with LD: each pair's longest admissible lease
            best = (-math.inf,)
            for k in ks:
                ld, rd, rp = float(self.lds[hi[k]]), float(self.rd[k]), float(self.rp[k])
                value = max_safe_clock_rate_ratio(self.config(ld, rd, rp))
                if value > best[0]:
                    best = (value, ld, rd, rp)
            return best
        if name == "survive_outage":
            # the highest survival, then the longest outage always survived
            order = np.lexsort((-self.tolerated[ks], -self.survival[ks]))
            k = ks[order[0]]
            value = float(self.survival[k])
        else:
            values = (
                self.release[self.j[ks]] if name == "max_p99_release" else self.cost[self.j[ks]]
            )
            k = ks[int(np.argmin(values))]
            value = float(np.min(values))
        return value, float(self.lds[lo[k]]), float(self.rd[k]), float(self.rp[k])


_DIAGNOSTIC_COLUMNS = [
    "target",
    "limit",
    "passing",
    "passing_others",
    "closest",
    "closest_lease_duration",
    "closest_renew_deadline",
    "closest_retry_period",
    "binding",
]


def _limit(targets: Targets, name: str) -> float:
    if name == "survive_outage":
        return targets.min_survival
    return float(getattr(targets, name))


@dataclass(frozen=True)
class Recommendation:
    """The result of :func:`recommend`.

    Attributes
    ----------
    targets : Targets
    pareto : pandas.DataFrame
        The Pareto set of the configurations meeting every target, best first: columns
        ``lease_duration``, ``renew_deadline``, ``retry_period``, ``p99_failover``,
        ``p99_release``, ``tolerated_outage`` (every outage up to it survived, in the
        targets' mode), ``max_tolerated_outage``, ``survival_probability`` (of the target
        outage; NaN without one), ``max_safe_clock_rate_ratio``, ``requests_per_second``,
        ``overlap_margin`` (seconds, see :func:`overlap_margin`) and ``score`` (see
        :func:`recommend`). Empty when nothing meets the targets.
    diagnostics : pandas.DataFrame
        One row per target in force: ``target``, ``limit``, ``passing`` (grid
        configurations meeting it), ``passing_others`` (meeting every other target),
        ``closest`` (the best value of its metric among those, the closest miss when the
        target binds), ``closest_lease_duration``, ``closest_renew_deadline``,
        ``closest_retry_period`` (a configuration reaching it) and ``binding`` (nothing
        meets every target, but relaxing this one alone to ``closest`` would admit a
        configuration).
    grid_size : int
        Valid client-go configurations on the grid.
    feasible_count : int
        Grid configurations meeting every target.
    settings : mapping
        ``candidates``, ``api_latency``, ``jitter_factor`` and ``release_on_cancel`` of the
        configurations searched.
    """

    targets: Targets
    pareto: pd.DataFrame
    diagnostics: pd.DataFrame
    grid_size: int
    feasible_count: int
    settings: Mapping[str, Any]

    @property
    def feasible(self) -> bool:
        """Whether some configuration meets every target."""
        return not self.pareto.empty

    @property
    def best(self) -> dict[str, float] | None:
        """The first row of :attr:`pareto` as a dict, or None."""
        return None if self.pareto.empty else self.pareto.iloc[0].to_dict()

    @property
    def binding(self) -> tuple[str, ...]:
        """Targets that alone stand between the grid and a configuration."""
        return tuple(self.diagnostics.loc[self.diagnostics["binding"], "target"])

    def config(self, index: int = 0) -> ElectionConfig:
        """The :class:`ElectionConfig` of Pareto row ``index`` (0: the best)."""
        if not 0 <= index < len(self.pareto):
            raise ValueError(f"index must lie in [0, {len(self.pareto)}), got {index!r}")
        row = self.pareto.iloc[index]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LeaseOverlapWarning)
            return ElectionConfig(
                row["lease_duration"], row["renew_deadline"], row["retry_period"], **self.settings
            )

    def configs(self) -> list[ElectionConfig]:
        """Every Pareto row as an :class:`ElectionConfig`, best first."""
        return [self.config(i) for i in range(len(self.pareto))]

    def to_frame(self) -> pd.DataFrame:
        """The Pareto set (a copy of :attr:`pareto`)."""
        return self.pareto.copy()

    def sorted(self, by: str = "score") -> pd.DataFrame:
        """The Pareto set in one of the orders of :data:`SORT_ORDERS`.

        Parameters
        ----------
        by : {"score", "cost", "p99", "margin"}, default "score"
            ``score``: the balanced order of :attr:`pareto`; ``cost``: fewest lease requests
            per second first; ``p99``: lowest p99 crash failover first; ``margin``: largest
            overlap margin first. Ties are broken by the later columns of the order.
        """
        if by not in SORT_ORDERS:
            raise ValueError(f"by must be one of {', '.join(SORT_ORDERS)}; got {by!r}")
        columns, ascending, _ = SORT_ORDERS[by]
        return self.pareto.sort_values(
            list(columns), ascending=list(ascending), kind="mergesort"
        ).reset_index(drop=True)

    def target_slack(self, by: str = "score") -> pd.DataFrame:
        """Per target in force: does it bind, and how close the best row is to it.

        Parameters
        ----------
        by : str, default "score"
            The order (see :meth:`sorted`) whose first row is the best row.

        Returns
        -------
        pandas.DataFrame
            ``target``, ``limit``, ``best`` (the metric at the best row; NaN when nothing
            qualifies), ``slack`` (distance of ``best`` inside the limit, in the metric's
            unit), ``excluded`` (grid configurations meeting every other target that this
            one alone rules out) and ``binds`` (``excluded > 0``: loosening this target
            admits more configurations; a target that binds nothing can be loosened without
            any change to the answer).
        """
        ordered = self.sorted(by)
        best = {} if ordered.empty else ordered.iloc[0].to_dict()
        rows = []
        for row in self.diagnostics.to_dict("records"):
            name = row["target"]
            metric, sign = _TARGET_METRICS[name]
            value = float(best.get(metric, math.nan))
            excluded = int(row["passing_others"]) - int(self.feasible_count)
            rows.append(
                {
                    "target": name,
                    "limit": row["limit"],
                    "best": value,
                    "slack": sign * (row["limit"] - value),
                    "excluded": excluded,
                    "binds": excluded > 0,
                }
            )
        return pd.DataFrame(rows, columns=["target", "limit", "best", "slack", "excluded", "binds"])

    def binding_text(self, by: str = "score") -> str:
        """One line: which targets bind the search and which could be loosened freely; the
        slack is that of the first row in the order ``by``."""
        frame = self.target_slack(by)
        binds = frame[frame["binds"]]
        free = frame[~frame["binds"]]
        parts = []
        if len(binds):
            parts.append(
                "binding: "
                + ", ".join(
                    f"{r.target} (rules out {r.excluded} setting{'' if r.excluded == 1 else 's'}"
                    " meeting the others"
                    + ("" if r.slack != r.slack else f"; first row {r.slack:.3g} inside the limit")
                    + ")"
                    for r in binds.itertuples()
                )
            )
        if len(free):
            parts.append("not binding (loosening it changes nothing): " + ", ".join(free["target"]))
        return "; ".join(parts) + "."

    def explain(self) -> str:
        """One paragraph: how many configurations qualify, or which target binds."""
        if self.feasible:
            return (
                f"{self.feasible_count} of {self.grid_size} grid configurations meet every "
                f"target; {len(self.pareto)} of them are Pareto-optimal."
            )
        lines = [f"No configuration of the {self.grid_size} on the grid meets every target."]
        rows = self.diagnostics.to_dict("records")
        binding = [row for row in rows if row["binding"]]
        for row in binding:
            lines.append(
                f"{row['target']} binds: {_closest_text(row)} among the "
                f"{row['passing_others']} configuration"
                f"{'' if row['passing_others'] == 1 else 's'} meeting every other target, at "
                f"LD {row['closest_lease_duration']:g} s, RD {row['closest_renew_deadline']:g}"
                f" s, RP {row['closest_retry_period']:g} s."
            )
        if not binding:
            lines.append(
                "No single target binds: relaxing any one alone still leaves no configuration. "
                + "; ".join(f"{row['target']}: {row['passing']} pass" for row in rows)
                + "."
            )
        return " ".join(lines)

    def plot(self, ax: Any = None, *, annotate: int = 1) -> Any:
        """p99 crash failover against tolerated outage, coloured by requests per second.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
        annotate : int, default 1
            Ring and label the first ``annotate`` (best) rows with LD/RD/RP.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        from ha_toolkit.plotting import style

        with style() if ax is None else contextlib.nullcontext():
            if ax is None:
                _, ax = plt.subplots()
            frame = self.pareto
            points = ax.scatter(
                frame["tolerated_outage"],
                frame["p99_failover"],
                c=frame["requests_per_second"],
                s=18,
                cmap="viridis",
            )
            ax.figure.colorbar(points, ax=ax, label="lease requests per second")
            for rank, row in enumerate(frame.head(annotate).itertuples(), start=1):
                ax.plot(
                    row.tolerated_outage, row.p99_failover, "o", ms=11, mfc="none", color="black"
                )
                ax.annotate(
                    f"#{rank}: {row.lease_duration:g}/{row.renew_deadline:g}/"
                    f"{row.retry_period:g} s",
                    (row.tolerated_outage, row.p99_failover),
                    textcoords="offset points",
                    xytext=(-10, 12),
                    ha="right",
                    bbox={"boxstyle": "round", "fc": "white", "ec": "0.7", "alpha": 0.9},
                )
            ax.set_xlabel(f"outage always survived, {self.targets.outage_mode} (s)")
            ax.set_ylabel("p99 crash failover (s)")
        return ax


#: target -> (metric of the Pareto set, +1 when the metric must stay below the limit)
_TARGET_METRICS: dict[str, tuple[str, int]] = {
    "max_p99_failover": ("p99_failover", 1),
    "max_p99_release": ("p99_release", 1),
    "survive_outage": ("survival_probability", -1),
    "max_clock_rate_ratio": ("max_safe_clock_rate_ratio", -1),
    "max_requests_per_second": ("requests_per_second", 1),
}


def _closest_text(row: Mapping[str, Any]) -> str:
    value, limit = row["closest"], row["limit"]
    return {
        "max_p99_failover": f"the lowest p99 crash failover is {value:.4g} s (target {limit:g} s)",
        "max_p99_release": f"the lowest p99 release failover is {value:.4g} s (target {limit:g} s)",
        "survive_outage": f"the highest survival probability is {value:.4g} (target {limit:g})",
        "max_clock_rate_ratio": (
            f"the highest safe clock-rate ratio is {value:.4g} (target {limit:g})"
        ),
        "max_requests_per_second": (
            f"the lowest cost is {value:.4g} requests per second (target {limit:g})"
        ),
    }[row["target"]]


def recommend(
    targets: Targets | None = None,
    *,
    candidates: int = 3,
    api_latency: float | str = 0.0,
    jitter_factor: float = CLIENT_GO_JITTER_FACTOR,
    release_on_cancel: bool = True,
    lease_durations: Iterable[float] | None = None,
    renew_deadlines: Iterable[float | str] | None = None,
    retry_periods: Iterable[float | str] | None = None,
    call_timeout: float | str = "half-renew-deadline",
) -> Recommendation:
    """Search client-go settings that meet the targets; return their Pareto set.

    Every (LeaseDuration, RenewDeadline, RetryPeriod) of the grid that client-go accepts is
    considered. The Pareto set minimises the p99 crash failover (and the p99 release
    failover when it is targeted), maximises the outage always survived in the targets'
    mode (``min_tolerated_outage``) and minimises the lease requests per second
    (:func:`requests_per_second`). Configurations with equal objectives are represented by
    the one with the shortest lease, then the shortest renew deadline (the largest safe
    clock-rate ratio).

    Best first: each objective is scaled to [0, 1] over the Pareto set (0 the best value
    in the set, 1 the worst) and rows are ordered by their worst scaled objective, the
    ``score`` column (the configuration closest to the ideal point in the Chebyshev sense),
    then by p99 crash failover.

    Parameters
    ----------
    targets : Targets, optional
        By default only the overlap target (no overlap with equal clocks). Without a
        failover target the search must compute a distribution per grid pair and is slow
        on the default grid.
    candidates : int, default 3
        Contending processes (at least 2).
    api_latency : float or str, default 0
        Round trip of one API call.
    jitter_factor : float, default 1.2
        Followers' jitter.
    release_on_cancel : bool, default True
        Whether the configurations release the lease on a clean shutdown; the
        ``p99_release`` column is the release failover if so, else the crash failover.
    lease_durations : iterable of float, optional
        Whole seconds; default :data:`DEFAULT_LEASE_DURATIONS` (1 to 300 s).
    renew_deadlines, retry_periods : iterable of float or str, optional
        Defaults :data:`DEFAULT_RENEW_DEADLINES` and :data:`DEFAULT_RETRY_PERIODS`.
    call_timeout : float or str, default "half-renew-deadline"
        The lock client's per-call timeout of every configuration (see
        :class:`~ha_toolkit.election.config.ElectionConfig`); a rule follows each
        configuration's renew deadline. It sets how long a blackholed renewal hangs.

    Returns
    -------
    Recommendation
        With the Pareto set, or, when nothing meets the targets, empty with
        :attr:`Recommendation.diagnostics` saying which target binds.
    """
    targets = Targets() if targets is None else targets
    if not isinstance(targets, Targets):
        raise ValueError(f"targets must be a Targets, got {type(targets).__name__}")
    if isinstance(candidates, bool) or not isinstance(candidates, numbers.Integral):
        raise ValueError(f"candidates must be an integer >= 2, got {candidates!r}")
    if candidates < 2:
        raise ValueError(f"candidates must be >= 2 (a leader and a follower), got {candidates}")
    lds = _grid(lease_durations, DEFAULT_LEASE_DURATIONS, "lease_durations")
    if np.any(lds != np.round(lds)):
        raise ValueError("lease_durations must be whole seconds (the Lease stores whole seconds)")
    rds = _grid(renew_deadlines, DEFAULT_RENEW_DEADLINES, "renew_deadlines")
    rps = _grid(retry_periods, DEFAULT_RETRY_PERIODS, "retry_periods")
    settings: dict[str, Any] = {
        "candidates": int(candidates),
        "api_latency": parse_duration(api_latency, name="api_latency"),
        "jitter_factor": jitter_factor,
        "release_on_cancel": release_on_cancel,
        "call_timeout": call_timeout,
    }
    # ElectionConfig validates the latency, the jitter, the release flag and the timeout
    checked = ElectionConfig(10.0, 5.0, 1.0, **settings)
    settings["jitter_factor"] = checked.jitter_factor
    settings["call_timeout"] = checked.call_timeout

    search = _Search(targets, lds, rds, rps, settings)
    feasible_count = search.count(targets.active)
    return Recommendation(
        targets=targets,
        pareto=search.pareto(),
        diagnostics=search.diagnostics(feasible_count),
        grid_size=search.count(()),
        feasible_count=feasible_count,
        settings=dict(settings),
    )


# ------------------------------------------------------------------------------ presets
def dominating(
    cfg: ElectionConfig,
    *,
    outage_mode: str = "refuse",
    max_clock_rate_ratio: float | None = None,
    lease_durations: Iterable[float] | None = None,
    renew_deadlines: Iterable[float | str] | None = None,
    retry_periods: Iterable[float | str] | None = None,
) -> pd.DataFrame:
    """Grid configurations no worse than ``cfg`` in every respect and better in one.

    The objectives are those of :func:`recommend` without a release target: p99 crash
    failover, outage always survived (in ``outage_mode``) and requests per second, with the
    same candidates, jitter, API latency and release flag as ``cfg``. The configurations
    returned are also at least as safe against clock-rate differences: their largest safe
    clock-rate ratio reaches ``max_clock_rate_ratio``, by default that of ``cfg`` (at
    least 1).

    Parameters
    ----------
    cfg : ElectionConfig
    outage_mode : {"refuse", "blackhole"}, default "refuse"
    max_clock_rate_ratio : float, optional
        At least 1; by default ``max(1, max_safe_clock_rate_ratio(cfg))``.
    lease_durations, renew_deadlines, retry_periods : iterable, optional
        The grid, as for :func:`recommend`.

    Returns
    -------
    pandas.DataFrame
        Pareto rows of :func:`recommend` (best first) that dominate ``cfg``; empty when no
        grid configuration does.
    """
    own = evaluate(cfg, Targets(outage_mode=outage_mode)).metrics
    if max_clock_rate_ratio is None:
        max_clock_rate_ratio = max(1.0, own["max_safe_clock_rate_ratio"])
    targets = Targets(
        max_p99_failover=own["p99_failover"],
        # survival 1 at the tolerated length: always surviving it, i.e. at least as tolerant
        survive_outage=own["tolerated_outage"],
        min_survival=1.0,
        outage_mode=outage_mode,
        max_clock_rate_ratio=max_clock_rate_ratio,
        max_requests_per_second=own["requests_per_second"],
    )
    found = recommend(
        targets,
        candidates=cfg.candidates,
        api_latency=cfg.api_latency,
        jitter_factor=cfg.jitter_factor,
        release_on_cancel=cfg.release_on_cancel,
        lease_durations=lease_durations,
        renew_deadlines=renew_deadlines,
        retry_periods=retry_periods,
        call_timeout=cfg.call_timeout,
    ).pareto
    no_worse = (found["tolerated_outage"] >= own["tolerated_outage"]) & (
        found["requests_per_second"] <= own["requests_per_second"]
    )
    better = (
        (found["p99_failover"] < own["p99_failover"])
        | (found["tolerated_outage"] > own["tolerated_outage"])
        | (found["requests_per_second"] < own["requests_per_second"])
    )
    return found[no_worse & better].reset_index(drop=True)


def preset_positions(
    names: Iterable[str] | None = None,
    *,
    outage_mode: str = "refuse",
    lease_durations: Iterable[float] | None = None,
    renew_deadlines: Iterable[float | str] | None = None,
    retry_periods: Iterable[float | str] | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Where the presets sit among the objectives, and what dominates them.

    Parameters
    ----------
    names : iterable of str, optional
        Preset names; all by default (built with
        :class:`~ha_toolkit.election.config.LeaseOverlapWarning` silenced: the
        ``max_safe_clock_rate_ratio`` column shows a ratio below 1).
    outage_mode : {"refuse", "blackhole"}, default "refuse"
    lease_durations, renew_deadlines, retry_periods : iterable, optional
        The grid searched by :func:`dominating`.
    **overrides
        Fields applied to every preset, e.g. ``candidates`` or ``api_latency``.

    Returns
    -------
    pandas.DataFrame
        One row per preset: ``preset``, ``lease_duration``, ``renew_deadline``,
        ``retry_period``, ``p99_failover``, ``tolerated_outage``,
        ``requests_per_second``, ``max_safe_clock_rate_ratio``, ``dominated`` and, for
        the best dominating configuration (NaN when none), ``better_lease_duration``,
        ``better_renew_deadline``, ``better_retry_period``, ``better_p99_failover`` and
        ``better_tolerated_outage``.
    """
    from ha_toolkit.election.config import preset_names

    rows = []
    for name in preset_names() if names is None else names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LeaseOverlapWarning)
            cfg = ElectionConfig.preset(name, **overrides)
        own = evaluate(cfg, Targets(outage_mode=outage_mode)).metrics
        better = dominating(
            cfg,
            outage_mode=outage_mode,
            lease_durations=lease_durations,
            renew_deadlines=renew_deadlines,
            retry_periods=retry_periods,
        )
        first = better.iloc[0] if len(better) else None
        rows.append(
            {
                "preset": name,
                "lease_duration": cfg.lease_duration,
                "renew_deadline": cfg.renew_deadline,
                "retry_period": cfg.retry_period,
                "p99_failover": own["p99_failover"],
                "tolerated_outage": own["tolerated_outage"],
                "requests_per_second": own["requests_per_second"],
                "max_safe_clock_rate_ratio": own["max_safe_clock_rate_ratio"],
                "dominated": first is not None,
                **{
                    f"better_{key}": math.nan if first is None else float(first[key])
                    for key in (
                        "lease_duration",
                        "renew_deadline",
                        "retry_period",
                        "p99_failover",
                        "tolerated_outage",
                    )
                },
            }
        )
    return pd.DataFrame(rows)


def preset_fronts(
    names: Iterable[str] | None = None,
    *,
    outage_mode: str = "refuse",
    failover_factor: float = 2.0,
    lease_durations: Iterable[float] | None = None,
    renew_deadlines: Iterable[float | str] | None = None,
    retry_periods: Iterable[float | str] | None = None,
    **overrides: Any,
) -> pd.DataFrame:
    """Per preset, the front of p99 crash failover against outage tolerance at its budget.

    For each preset: the grid configurations that cost at most as many lease requests per
    second and are at least as safe against clock-rate differences (largest safe ratio at
    least the preset's, and at least 1), reduced to those no other such configuration
    beats in both p99 crash failover and outage always survived. The preset is dominated
    exactly when a row of its front is no worse in both and better in one (see
    :func:`dominating`).

    Parameters
    ----------
    names : iterable of str, optional
        Preset names; all by default.
    outage_mode : {"refuse", "blackhole"}, default "refuse"
    failover_factor : float, default 2
        Each front is searched up to this multiple of the preset's p99 crash failover.
    lease_durations, renew_deadlines, retry_periods : iterable, optional
        The grid, as for :func:`recommend`.
    **overrides
        Fields applied to every preset, e.g. ``candidates``.

    Returns
    -------
    pandas.DataFrame
        The columns of :attr:`Recommendation.pareto` without ``score``, plus ``preset``
        (first), ``budget`` (the preset's requests per second) and
        ``min_clock_rate_ratio``; per preset sorted by tolerated outage.
    """
    from ha_toolkit.election.config import preset_names

    if not (math.isfinite(failover_factor) and failover_factor >= 1.0):
        raise ValueError(f"failover_factor must be finite and >= 1, got {failover_factor!r}")
    parts = []
    for name in preset_names() if names is None else names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LeaseOverlapWarning)
            cfg = ElectionConfig.preset(name, **overrides)
        own = evaluate(cfg, Targets(outage_mode=outage_mode)).metrics
        ratio = max(1.0, own["max_safe_clock_rate_ratio"])
        found = recommend(
            Targets(
                max_p99_failover=failover_factor * own["p99_failover"],
                outage_mode=outage_mode,
                max_clock_rate_ratio=ratio,
                max_requests_per_second=own["requests_per_second"],
            ),
            candidates=cfg.candidates,
            api_latency=cfg.api_latency,
            jitter_factor=cfg.jitter_factor,
            release_on_cancel=cfg.release_on_cancel,
            lease_durations=lease_durations,
            renew_deadlines=renew_deadlines,
            retry_periods=retry_periods,
        ).pareto.drop(columns="score")
        front = found[pareto_mask(found, {"p99_failover": 1, "tolerated_outage": -1})]
        parts.append(
            front.sort_values(["tolerated_outage", "p99_failover"]).assign(
                preset=name, budget=own["requests_per_second"], min_clock_rate_ratio=ratio
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    return frame[["preset", *[c for c in frame.columns if c != "preset"]]]
