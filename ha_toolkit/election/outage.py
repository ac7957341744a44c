"""Does the leader survive an API outage, and how long is the control loop leaderless if not?

The leader's ``renew`` loop (client-go ``tools/leaderelection/leaderelection.go``) runs
cycles ``wait.Until(cycle, RP)``; a cycle is
``wait.PollUntilContextTimeout(ctx, RP, RD, immediate=true, tryAcquireOrRenew)``: a ticker of
period RP from the cycle start ``t0``, a context deadline at ``t0 + RD``, attempt 0 at once.
An attempt is the optimistic Update (the fast path); when it fails, a GET and, if the GET
succeeds, an Update (the slow path). A tick missed during a long attempt fires as soon as the
attempt returns; further missed ticks are dropped (Go's ``time.Ticker``). When the cycle's
deadline passes without a success, the leader stops leading and the component exits.

API calls take ``l`` for the round trip and act on the server at the midpoint. During the
outage ``[o, o + T)`` a call acting on the server:

* ``"refuse"``: fails and returns after the round trip (connection refused, 5xx);
* ``"blackhole"``: hangs until the lock client's per-call HTTP timeout ``max(1 s, RD/2)`` or
  the cycle deadline, whichever comes first.

With every call failing, the failing cycle's calls go out at a fixed schedule of offsets
from ``t0`` (:func:`renew_call_offsets`). The first call that acts after the outage ends
renews the lease if its renewal completes before the deadline; so, with ``A`` the latest
offset that can still renew and ``u = t0 + l/2 - o`` the phase of the cycle's first call
after the outage start, the leader survives exactly when ``u >= T - A``. The outage starts at
a moment independent of the leader's loop, so ``u ~ Uniform[0, RP + l)`` and

    survival(T) = 1 for T <= A;  (A + RP + l - T) / (RP + l) up to A + RP + l;  0 beyond.

Followers cannot take the lease before the leader's deadline when
``LDrec + 2 l >= RP + RD``; otherwise one may commit first after the outage, and the survival
above is an upper bound (:attr:`OutageSurvival.exact` says which).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from ha_toolkit.distribution import Distribution, equilibrium, min_of, point, uniform
from ha_toolkit.durations import parse_duration
from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.timing import follower_gap, lattice_step

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MODES",
    "OutageSurvival",
    "crash_loop_backoff",
    "http_timeout",
    "leaderless_after_outage",
    "outage_survival",
    "renew_call_offsets",
    "survival_curve",
]

MODES = ("refuse", "blackhole")


def http_timeout(cfg: ElectionConfig) -> float:
    """The lock client's per-call HTTP timeout: ``max(1 s, RD / 2)``."""
    return max(1.0, cfg.renew_deadline / 2.0)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")


def renew_call_offsets(cfg: ElectionConfig, mode: str = "refuse") -> list[tuple[float, str]]:
    """Send offsets (from the failing cycle's start) of the leader's calls while all fail.

    Each entry is ``(offset, kind)`` with kind ``"update"`` (the fast path) or ``"get"`` (the
    slow path's GET), for every call sent before the cycle deadline ``RD``.
    """
    _check_mode(mode)
    rp, rd, lat = cfg.retry_period, cfg.renew_deadline, cfg.api_latency
    failing_call = lat if mode == "refuse" else http_timeout(cfg)
    calls: list[tuple[float, str]] = []
    start, next_tick = 0.0, rp
    while start < rd:
        calls.append((start, "update"))
        get_at = start + failing_call
        if get_at >= rd:
            break
        calls.append((get_at, "get"))
        returned = get_at + failing_call
        if returned >= rd:
            break
        if next_tick <= returned:
            # one pending tick fires at once; the ticker's later ticks stay on its grid
            start = returned
            next_tick = rp * (math.floor(returned / rp) + 1)
        else:
            start = next_tick
            next_tick += rp
    return calls


def _latest_renewing_offset(cfg: ElectionConfig, mode: str) -> float:
    """A: the latest call offset whose success still completes before the deadline."""
    lat, rd = cfg.api_latency, cfg.renew_deadline
    feasible = [
        offset
        for offset, kind in renew_call_offsets(cfg, mode)
        # a successful Update returns after l; a GET needs its Update too
        if offset + (lat if kind == "update" else 2 * lat) <= rd
    ]
    if not feasible:
        raise ValueError(
            "no renewal can complete within renewDeadline: api_latency is too large for "
            f"renew_deadline={rd:g}s"
        )
    return max(feasible)


@dataclass(frozen=True)
class OutageSurvival:
    """Whether the leader keeps its lease through an API outage.

    Attributes
    ----------
    mode : str
        ``"refuse"`` or ``"blackhole"``.
    outage_mean : float
        Mean outage length in seconds (the length itself for a fixed outage).
    survival_probability : float
        Probability that the leader renews before its cycle deadline.
    loss_probability : float
        ``1 - survival_probability``.
    min_tolerated_outage : float
        Every outage up to this length is survived, whatever its phase.
    max_tolerated_outage : float
        No outage longer than this is survived.
    exact : bool
        False when a follower could take the lease before the leader's deadline
        (``LDrec + 2 l < RP + RD``): the survival is then an upper bound.
    """

    mode: str
    outage_mean: float
    survival_probability: float
    loss_probability: float
    min_tolerated_outage: float
    max_tolerated_outage: float
    exact: bool

    def to_dict(self) -> dict:
        """The fields as a plain dict."""
        return asdict(self)

    def to_frame(self) -> pd.DataFrame:
        """A one-row DataFrame."""
        import pandas as pd

        return pd.DataFrame([self.to_dict()])


def _followers_cannot_preempt(cfg: ElectionConfig) -> bool:
    """True when no follower can commit before the leader's renew deadline has passed."""
    return cfg.record_lease_duration + 2 * cfg.api_latency >= (
        cfg.retry_period + cfg.renew_deadline
    )


def _survival_at(lengths, a: float, period: float):
    lengths = np.asarray(lengths, dtype=float)
    return np.clip((a + period - lengths) / period, 0.0, 1.0)


def outage_survival(
    cfg: ElectionConfig, outage: float | str | Distribution, mode: str = "refuse"
) -> OutageSurvival:
    """Probability that the leader keeps its lease through an outage of the API.

    Parameters
    ----------
    cfg : ElectionConfig
        Lease settings and API latency.
    outage : float, str, timedelta or Distribution
        The outage length, or its distribution (e.g. measured etcd leader elections).
    mode : {"refuse", "blackhole"}
        How calls fail during the outage (see the module docstring).

    Returns
    -------
    OutageSurvival
    """
    _check_mode(mode)
    a = _latest_renewing_offset(cfg, mode)
    period = cfg.retry_period + cfg.api_latency
    if isinstance(outage, Distribution):
        lo, _ = outage.support()
        if lo < 0:
            raise ValueError(f"outage lengths must be >= 0, the distribution starts at {lo!r}")
        # survival(T) = (1/P) * integral_A^{A+P} 1[T <= t] dt, so its mean is (1/P) * int F
        integral = outage.integrated_cdf(a + period) - outage.integrated_cdf(a)
        survival = float(np.clip(integral / period, 0.0, 1.0))
        mean = outage.mean()
    else:
        length = parse_duration(outage, name="outage")
        if not (math.isfinite(length) and length >= 0):
            raise ValueError(f"outage must be a finite duration >= 0, got {length!r}")
        survival = float(_survival_at(length, a, period))
        mean = length
    return OutageSurvival(
        mode=mode,
        outage_mean=float(mean),
        survival_probability=survival,
        loss_probability=1.0 - survival,
        min_tolerated_outage=a,
        max_tolerated_outage=a + period,
        exact=_followers_cannot_preempt(cfg),
    )


def survival_curve(cfg: ElectionConfig, lengths, mode: str = "refuse") -> pd.DataFrame:
    """Survival probability over outage lengths (seconds): a tidy DataFrame."""
    import pandas as pd

    _check_mode(mode)
    lengths = np.asarray([parse_duration(x, name="lengths") for x in np.ravel(lengths)])
    a = _latest_renewing_offset(cfg, mode)
    period = cfg.retry_period + cfg.api_latency
    return pd.DataFrame(
        {
            "outage": lengths,
            "mode": mode,
            "survival_probability": _survival_at(lengths, a, period),
        }
    )


def crash_loop_backoff(restart: int) -> float:
    """The kubelet's delay before the n-th consecutive restart of a container (n >= 1).

    10 s doubling to at most 5 min (reset once the container has run for 10 min).
    """
    if isinstance(restart, bool) or int(restart) != restart or restart < 1:
        raise ValueError(f"restart must be an integer >= 1, got {restart!r}")
    return float(min(10.0 * 2 ** (int(restart) - 1), 300.0))


def leaderless_after_outage(
    cfg: ElectionConfig,
    outage: float | str,
    mode: str = "refuse",
    *,
    startup: float | str | Distribution = 0.0,
    step: float | None = None,
) -> Distribution:
    """Leaderless time caused by an outage of length T that the leader does not survive.

    Conditional on the loss: the leader stops at its deadline ``t0 + RD``; a follower takes
    the lease at its first attempt whose GET acts after the outage ends (its stale
    ``observedTime + LeaseDurationSeconds`` has passed by then, which needs
    ``T >= LDrec + 1.5 l``), then the new leader needs ``startup`` (e.g. cache sync) before
    it acts. From the stop to acting::

        T + 2 l - RD - u + min over followers of R_i + startup,  u ~ U[0, min(RP + l, T - A))

    ``R_i`` is the follower's stationary residual time to its next attempt. In
    ``"refuse"`` mode the followers' failing GETs keep their rhythm and this is exact. In
    ``"blackhole"`` mode their GETs hang for the HTTP timeout, so their gaps during the
    outage are ``timeout + RP (1 + J U)``; taking the residual of that rhythm is exact once
    the outage is several such gaps long, an approximation for shorter ones.

    Raises
    ------
    ValueError
        If the outage is always survived (there is no loss to condition on), the outage is
        shorter than ``LDrec + 1.5 l`` (followers would still wait for the lease to expire),
        or there are no followers.
    """
    _check_mode(mode)
    if cfg.candidates < 2:
        raise ValueError(
            "leaderless_after_outage needs candidates >= 2 (a follower takes over), "
            f"got candidates={cfg.candidates}"
        )
    length = parse_duration(outage, name="outage")
    a = _latest_renewing_offset(cfg, mode)
    lat = cfg.api_latency
    period = cfg.retry_period + lat
    if length <= a:
        raise ValueError(f"an outage of {length:g}s is always survived (up to {a:g}s)")
    if length < cfg.record_lease_duration + 1.5 * lat:
        raise ValueError(
            f"outage must be at least the lease ({cfg.record_lease_duration + 1.5 * lat:g}s) "
            "for the followers' lease to have expired when it ends"
        )
    step = lattice_step(cfg) if step is None else step
    phase = uniform(0.0, min(period, length - a), step, origin=0.0)
    if mode == "refuse":
        gap = follower_gap(cfg, step)
    else:
        gap = follower_gap(cfg, step) + (http_timeout(cfg) - lat)
    residual = min_of(*([equilibrium(gap, step)] * cfg.followers))
    gap_time = residual - phase + (length + 2 * lat - cfg.renew_deadline)
    if isinstance(startup, Distribution):
        return gap_time + startup
    return gap_time + point(parse_duration(startup, name="startup"), step)
