"""Exact leader-switch timing of client-go leader election.

The model follows ``k8s.io/client-go/tools/leaderelection/leaderelection.go``:

* **Followers** run ``acquire``: ``wait.JitterUntil(tryAcquireOrRenew, RP, J, sliding=true)``.
  Each attempt GETs the Lease; the next attempt starts ``RP * (1 + J*U)`` after the attempt
  returns (``wait.Jitter``), so attempt starts are a renewal process with gaps
  ``l + RP * (1 + J*U)``, U ~ Uniform[0, 1), l the API round trip.
* ``tryAcquireOrRenew`` captures ``now`` before the GET; when the record read differs from
  the last one seen it sets ``observedTime`` to the time after the GET; it refuses while
  ``observedTime + LeaseDurationSeconds`` is after ``now``. The record's
  ``LeaseDurationSeconds`` holds whole seconds (``int(LeaseDuration / time.Second)``).
* **The leader** runs ``renew``: ``wait.Until(cycle, RP)``; a healthy cycle is one
  optimistic Update (the fast path since client-go 1.30), so a new record is committed
  every ``RP + l``.
* **Release** (``ReleaseOnCancel``): the leader GETs the Lease, then Updates it with an empty
  ``HolderIdentity`` (``release``/``tryRelease``, client-go >= 1.34), committed ``1.5 l`` after
  the release starts; a follower takes a record with no holder at its next attempt.

API calls take ``l = cfg.api_latency`` for the round trip and act on the server at the
midpoint. Follower acquisition completes when its Update returns, ``2 l`` after its
attempt starts (GET, then Update).

Crash failover, from the crash to the first follower's acquisition::

    LDrec + 2.5 l - phi + min over followers of (R_i + O_i)

* ``phi`` ~ Uniform[0, RP + l): the leader's time since its last committed renewal;
* ``R_i``: follower i's stationary residual time to its first attempt that reads that last
  renewal (the equilibrium distribution of its gap);
* ``O_i``: the overshoot of its later attempts past ``observedTime + LDrec`` (renewal theory,
  summed over the number of attempts).

Release failover: ``3 l + min over followers of R_i``, from the moment the release starts:
the release's GET and Update commit at ``1.5 l``, a follower's first attempt whose GET reads
the empty record starts at ``l`` or later, then its GET and Update take ``2 l``.

Everything is computed with :mod:`ha_toolkit.distribution` on one lattice whose step
divides ``RP + l``; the only approximation is that lattice (CDF error O(step**2)).
"""

from __future__ import annotations

import math

from ha_toolkit.distribution import (
    Distribution,
    equilibrium,
    min_of,
    point,
    renewal_overshoot,
    uniform,
)
from ha_toolkit.election.config import ElectionConfig

__all__ = [
    "SCENARIOS",
    "crash_failover",
    "failover",
    "follower_gap",
    "follower_lag",
    "lattice_step",
    "release_failover",
]

SCENARIOS = ("crash", "release")

# Cells per jitter width (or per retry period without jitter) on the default lattice.
_CELLS_PER_PERIOD = 300
# Largest lattice the default step allows over the failover's support.
_MAX_POINTS = 20_000


def lattice_step(cfg: ElectionConfig) -> float:
    """Default lattice step for ``cfg``: a whole fraction of the renew period ``RP + l``.

    Fine enough for 300 cells across the jitter width (or across RP with no jitter) and
    coarse enough that the crash failover's support holds at most 20 000 points.
    """
    period = cfg.retry_period + cfg.api_latency
    width = cfg.jitter_factor * cfg.retry_period or cfg.retry_period
    target = width / _CELLS_PER_PERIOD
    support = (
        cfg.record_lease_duration
        + 2.5 * cfg.api_latency
        + 2 * ((1 + cfg.jitter_factor) * cfg.retry_period + cfg.api_latency)
    )
    target = max(target, support / _MAX_POINTS)
    return period / math.ceil(period / target)


def follower_gap(cfg: ElectionConfig, step: float | None = None) -> Distribution:
    """Time between the starts of two consecutive acquire attempts of a follower.

    ``l + RP * (1 + J * U)``, U ~ Uniform[0, 1): the attempt's own GET, then
    ``wait.Jitter(RP, J)`` (apimachinery ``pkg/util/wait``), as ``JitterUntil`` with
    ``sliding=true`` starts the wait after the attempt returns.
    """
    step = lattice_step(cfg) if step is None else step
    low = cfg.api_latency + cfg.retry_period
    if cfg.jitter_factor == 0:
        return point(low, step)
    return uniform(low, low + cfg.jitter_factor * cfg.retry_period, step, origin=0.0)


def _check_failover_inputs(cfg: ElectionConfig, scenario: str) -> None:
    if not isinstance(cfg, ElectionConfig):
        raise TypeError(f"cfg must be an ElectionConfig, got {type(cfg).__name__}")
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}; got {scenario!r}")
    if scenario == "release" and cfg.client == "python":
        raise ValueError("the Python client never releases its lease: no release scenario")
    if cfg.candidates < 2:
        raise ValueError(
            "a failover needs candidates >= 2 (the leader and at least one follower), "
            f"got candidates={cfg.candidates}"
        )


def follower_lag(cfg: ElectionConfig, step: float | None = None) -> Distribution:
    """Time from the leader's last committed renewal until the first follower may act.

    ``min over followers of (R_i + O_i)``: follower i first reads that last record ``R_i``
    after it was written (less half a round trip), and its first attempt at or after
    ``observedTime + LeaseDurationSeconds`` comes ``O_i`` after that expiry. Crash failover
    and term overlap are both this lag shifted by fixed amounts (and, for the crash, less
    the leader's phase).
    """
    step = lattice_step(cfg) if step is None else step
    gap = follower_gap(cfg, step)
    to_first_read = equilibrium(gap, step)
    past_expiry = renewal_overshoot(gap, cfg.record_lease_duration + cfg.api_latency)
    one_follower = to_first_read + past_expiry
    return min_of(*([one_follower] * cfg.followers))


def crash_failover(cfg: ElectionConfig, step: float | None = None) -> Distribution:
    """Time from the leader's crash (no release) to a follower's successful acquisition.

    The crash falls at a moment independent of every loop, so the leader's time since its
    last committed renewal is Uniform over the renew period (``RP + l`` for client-go's
    one-Update renewal, ``RP + 2 l`` for the Python client's GET and Update). Each
    follower first reads that last record at its first attempt whose GET reaches the
    server after it (``observedTime`` is set, ``tryAcquireOrRenew`` step 2), then acquires
    at its first attempt starting at or after ``observedTime + LeaseDurationSeconds``; the
    first follower to get there wins (optimistic concurrency on the Update). See
    :func:`follower_lag`.
    """
    _check_failover_inputs(cfg, "crash")
    step = lattice_step(cfg) if step is None else step
    latency = cfg.api_latency
    leader_phase = uniform(0.0, cfg.renew_period, step, origin=0.0)
    lag = follower_lag(cfg, step)
    return _from_zero(lag - leader_phase + (cfg.record_lease_duration + 2.5 * latency))


def _from_zero(dist: Distribution) -> Distribution:
    """``dist`` with a lattice origin a rounding error below 0 moved to 0.

    A failover time is never negative; with LeaseDurationSeconds 0 (LD < 1 s) and no jitter
    the crash failover starts at 0, which the lattice arithmetic lands at -1e-17.
    """
    if -1e-9 * dist.step < dist.t0 < 0.0:
        return dist.shift(-dist.t0)
    return dist


def release_failover(cfg: ElectionConfig, step: float | None = None) -> Distribution:
    """Time from the leader's release (``ReleaseOnCancel``) to a follower's acquisition.

    client-go's ``release`` (``tryRelease`` since 1.37; the GET was added in 1.34) GETs the
    Lease for its resourceVersion, then Updates it with an empty ``HolderIdentity``: the
    empty record is committed ``1.5 l`` after the release starts. A follower whose GET reads
    it (an attempt started ``l`` or more after the release) skips the expiry check and
    updates at once, so the time is ``l`` plus the first follower's stationary residual time
    to its next attempt plus the follower's GET and Update, ``3 l + min_i R_i``.
    """
    _check_failover_inputs(cfg, "release")
    step = lattice_step(cfg) if step is None else step
    gap = follower_gap(cfg, step)
    to_next_attempt = equilibrium(gap, step)
    return min_of(*([to_next_attempt] * cfg.followers)) + 3.0 * cfg.api_latency


def failover(cfg: ElectionConfig, scenario: str = "crash", *, step: float | None = None):
    """Distribution of the leader-switch time.

    Parameters
    ----------
    cfg : ElectionConfig
        Lease settings, jitter, candidates and API latency.
    scenario : {"crash", "release"}
        ``"crash"``: the leader dies without releasing (see :func:`crash_failover`);
        ``"release"``: it releases the lease on a clean shutdown (:func:`release_failover`).
    step : float, optional
        Lattice step in seconds; by default :func:`lattice_step`.

    Returns
    -------
    Distribution
        Seconds from the crash (or release) until a follower holds the lease.
    """
    _check_failover_inputs(cfg, scenario)
    if scenario == "crash":
        return crash_failover(cfg, step)
    return release_failover(cfg, step)
