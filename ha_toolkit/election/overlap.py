"""Can two leaders act at once? Term overlap when the leader is cut off from the API.

client-go does no fencing (``tools/leaderelection/leaderelection.go``, package doc). When
the leader is partitioned from the API (not crashed), it keeps acting until its failing
renew cycle's context deadline: the cycle starts ``RP`` after its last successful renewal
returned, and the deadline is ``RD`` later, both on the leader's own clock. The followers
see no renewal, exactly as after a crash, and the first of them holds the lease after
``LDrec + 2 l`` plus the follower lag (:func:`ha_toolkit.election.timing.follower_lag`)
from the last renewal's commit, on their clocks.

With ``rho`` the rate of the followers' clocks over the old leader's (``rho > 1``: the
leader's timers run slow), the overlap in real time is::

    overlap = rho * (RP + RD) - LDrec - 2 l - lag,   lag = min over followers of (R_i + O_i)

(the leader's phase at the partition cancels). A positive overlap means two processes act
as leader at once; a negative one is a leaderless gap. Because the lag can be arbitrarily
close to 0, no overlap is possible exactly when ``rho <= (LDrec + 2 l) / (RP + RD)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ha_toolkit.distribution import Distribution, max_of, point
from ha_toolkit.durations import parse_duration
from ha_toolkit.election.config import ElectionConfig, require_client_go
from ha_toolkit.election.timing import follower_lag, lattice_step

__all__ = [
    "OverlapSummary",
    "leaderless_after_partition",
    "max_safe_clock_rate_ratio",
    "overlap_summary",
    "term_overlap",
]


def _check_ratio(clock_rate_ratio: float) -> float:
    ratio = float(clock_rate_ratio)
    if not (math.isfinite(ratio) and ratio > 0):
        raise ValueError(f"clock_rate_ratio must be finite and > 0, got {clock_rate_ratio!r}")
    return ratio


def _check_followers(cfg: ElectionConfig, what: str) -> None:
    if cfg.candidates < 2:
        raise ValueError(
            f"{what} needs candidates >= 2 (the leader and at least one follower), "
            f"got candidates={cfg.candidates}"
        )


def term_overlap(
    cfg: ElectionConfig, clock_rate_ratio: float = 1.0, *, step: float | None = None
) -> Distribution:
    """Distribution of the overlap of the old and new leaders' terms after a partition.

    Parameters
    ----------
    cfg : ElectionConfig
        Lease settings, candidates and API latency.
    clock_rate_ratio : float, default 1
        Rate of the followers' clocks over the old leader's clock.
    step : float, optional
        Lattice step; by default :func:`ha_toolkit.election.timing.lattice_step`.

    Returns
    -------
    Distribution
        Seconds the old leader still acts after the new one starts (negative: a gap).
    """
    _check_followers(cfg, "term_overlap")
    require_client_go(cfg, "term_overlap")
    ratio = _check_ratio(clock_rate_ratio)
    step = lattice_step(cfg) if step is None else step
    reach = ratio * (cfg.retry_period + cfg.renew_deadline)
    return reach - cfg.record_lease_duration - 2 * cfg.api_latency - follower_lag(cfg, step)


def max_safe_clock_rate_ratio(cfg: ElectionConfig) -> float:
    """The largest clock-rate ratio at which the terms can never overlap.

    ``(LDrec + 2 l) / (RP + RD)``; client-go's package doc speaks of about ``LD / RD``,
    which forgets the retry period before the failing cycle starts.
    """
    require_client_go(cfg, "max_safe_clock_rate_ratio")
    return (cfg.record_lease_duration + 2 * cfg.api_latency) / (
        cfg.retry_period + cfg.renew_deadline
    )


@dataclass(frozen=True)
class OverlapSummary:
    """Headline figures of :func:`term_overlap`.

    Attributes
    ----------
    clock_rate_ratio : float
    overlap_probability : float
        P(overlap > 0): two leaders act at once.
    max_overlap : float
        The largest overlap (seconds; negative: there is always a gap of at least that).
    mean_overlap : float
    max_safe_clock_rate_ratio : float
    """

    clock_rate_ratio: float
    overlap_probability: float
    max_overlap: float
    mean_overlap: float
    max_safe_clock_rate_ratio: float

    def to_dict(self) -> dict:
        """The fields as a plain dict."""
        return asdict(self)


def overlap_summary(cfg: ElectionConfig, clock_rate_ratio: float = 1.0) -> OverlapSummary:
    """P(overlap > 0), the largest and mean overlap, and the largest safe clock-rate ratio."""
    ratio = _check_ratio(clock_rate_ratio)
    dist = term_overlap(cfg, ratio)
    reach = ratio * (cfg.retry_period + cfg.renew_deadline)
    max_overlap = reach - cfg.record_lease_duration - 2 * cfg.api_latency
    return OverlapSummary(
        clock_rate_ratio=ratio,
        # the bound is exact: at or below it the probability is 0, not a lattice residue
        overlap_probability=float(dist.sf(0.0)) if max_overlap > 0 else 0.0,
        max_overlap=max_overlap,
        mean_overlap=dist.mean(),
        max_safe_clock_rate_ratio=max_safe_clock_rate_ratio(cfg),
    )


def leaderless_after_partition(
    cfg: ElectionConfig,
    clock_rate_ratio: float = 1.0,
    *,
    startup: float | str | Distribution = 0.0,
    step: float | None = None,
) -> Distribution:
    """Time nobody acts as leader after the leader is partitioned: ``max(-overlap, 0)``.

    Plus ``startup``, the new leader's time from acquiring the lease to acting (a cache
    sync, for components that start their informers only once they lead).
    """
    step = lattice_step(cfg) if step is None else step
    gap = max_of(-term_overlap(cfg, clock_rate_ratio, step=step), point(0.0, step))
    if isinstance(startup, Distribution):
        return gap + startup
    return gap + parse_duration(startup, name="startup")
