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
* **Release** (``ReleaseOnCancel``): the leader writes an empty ``HolderIdentity``; a follower
  takes a record with no holder at its next attempt.

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

Release failover: ``2 l + min over followers of R_i``, from the moment the release is sent.

Everything is computed with :mod:`ha_toolkit.distribution` on one lattice whose step
divides ``RP + l``; the only approximation is that lattice (CDF error O(step**2)).
"""

from __future__ import annotations

import math

import numpy as np

from ha_toolkit.distribution import (
    Distribution,
    equilibrium,
    measure_sum,
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
    "follower_overshoot",
    "lattice_step",
    "release_failover",
]

SCENARIOS = ("crash", "release")

# Cells per jitter width on the lattice that resolves the jitter.
_CELLS_PER_JITTER = 64
# Cells per renew period without jitter (then only the min over followers is inexact).
_CELLS_PER_PERIOD = 300
# Lattice error budget, relative to the failover's scale LDrec + RP + l: steps coarser than
# the jitter never exceed this fraction of it (the README promises 1e-4 of mean and p99).
_TOLERANCE = 1e-5
# Largest lattice the one-pass renewal solve may use below the expiry level.
_MAX_RENEWAL_POINTS = 1 << 17
# Cells per jitter width of the fine lattice of the narrow-jitter clusters.
_CELLS_PER_CLUSTER_JITTER = 16
# Largest total size of the narrow-jitter clusters' lattices.
_MAX_CLUSTER_POINTS = 4_000_000
# The renewal process counts as mixed (its overshoot is the equilibrium law) when the
# harmonics of its phase have decayed below this.
_MIXED = 1e-12


def _on_period(cfg: ElectionConfig, target: float) -> float:
    """The largest step at most ``target`` that divides the renew period ``RP + l``.

    Among the next 64 finer such steps, one that also divides the jitter width is preferred
    (then the gap's cells are all whole, e.g. 1.2 RP with no latency).
    """
    period = cfg.retry_period + cfg.api_latency
    cells = max(math.ceil(period / target - 1e-9), 1)
    width = _jitter_width(cfg)
    if width > 0:
        for n in range(cells, cells + 64):
            ratio = width * n / period
            if abs(ratio - round(ratio)) < 1e-9 * max(ratio, 1.0):
                return period / n
    return period / cells


def _jitter_width(cfg: ElectionConfig) -> float:
    return cfg.jitter_factor * cfg.retry_period


def _tolerance(cfg: ElectionConfig) -> float:
    """Absolute lattice error budget in seconds."""
    return _TOLERANCE * (cfg.record_lease_duration + cfg.retry_period + cfg.api_latency)


def lattice_step(cfg: ElectionConfig) -> float:
    """Default lattice step for ``cfg``: a whole fraction of the renew period ``RP + l``.

    Chosen by accuracy, not by a size cap: 32 cells across the jitter width ``J * RP``
    (where the lattice errors are O(step**2) of smooth densities; 300 per renew period
    without jitter), but never finer than
    needed for an error of 1e-5 of ``LDrec + RP + l`` (steps that coarse leave jitter
    narrower than a step to the narrow-jitter arithmetic of :func:`follower_overshoot`;
    without jitter the arithmetic is exact on any step that divides the period).
    """
    target = _tolerance(cfg)
    width = _jitter_width(cfg)
    if width > 0:
        target = max(target, width / _CELLS_PER_JITTER)
    else:
        target = max(target, (cfg.retry_period + cfg.api_latency) / _CELLS_PER_PERIOD)
    return _on_period(cfg, target)


def follower_gap(cfg: ElectionConfig, step: float | None = None) -> Distribution:
    """Time between the starts of two consecutive acquire attempts of a follower.

    ``l + RP * (1 + J * U)``, U ~ Uniform[0, 1): the attempt's own GET, then
    ``wait.Jitter(RP, J)`` (apimachinery ``pkg/util/wait``), as ``JitterUntil`` with
    ``sliding=true`` starts the wait after the attempt returns. Jitter narrower than one
    step is kept as two atoms on the neighbouring lattice points with the gap's exact mean.
    """
    step = lattice_step(cfg) if step is None else step
    low = cfg.api_latency + cfg.retry_period
    width = _jitter_width(cfg)
    if width == 0:
        return point(low, step)
    if width < step:
        k = math.floor((low + width / 2) / step + 1e-9)
        frac = min(max((low + width / 2) / step - k, 0.0), 1.0)
        return Distribution(k * step, step, [1.0 - frac, frac], [0.0])._trimmed()
    return uniform(low, low + width, step, origin=0.0)


def _phase_harmonics(width: float, mean: float, renewals: int) -> float:
    """Bound on the phase harmonics ``2 sum_n |sinc(pi n w / mu)|**k`` after k renewals."""
    if renewals < 1:
        return math.inf
    n = np.arange(1, 2001)
    x = np.pi * n * width / mean
    sinc = np.abs(np.sin(x) / x)
    base = mean / (np.pi * 2001 * width)  # |sinc| <= 1/x bounds the terms beyond n = 2000
    if base >= 1.0:
        return math.inf
    tail = base**renewals * 2001 / max(renewals - 1, 1)
    return float(2.0 * (np.sum(sinc**renewals) + tail))


def follower_overshoot(
    cfg: ElectionConfig, level: float, step: float | None = None
) -> Distribution:
    """Overshoot past ``level`` of a follower's attempts, counted from one attempt at 0.

    The attempts form a renewal process with gaps :func:`follower_gap`; the result is the
    law of the first attempt at or after ``level``, less ``level``, on the lattice ``step``.
    Which arithmetic applies is chosen by accuracy:

    * no jitter: the exact multiple of the period;
    * mixed: once the renewals before the level have washed out the phase (the harmonics
      ``|sinc(pi n J RP / mu)|**k`` below 1e-12), the overshoot is the equilibrium law of
      the gap (the renewal theorem; the error is below that bound times the gap);
    * otherwise the one-pass renewal solve of :func:`ha_toolkit.distribution.renewal_measure`
      on a lattice of 32 cells per jitter width, when that holds at most 2**17 points below
      the level;
    * narrow jitter: the k-th attempt lies in ``[k a, k (a + J RP)]`` (``a = RP + l``), and
      when these clusters do not overlap, only the one or two clusters next to the level
      matter; each is the exact sum of k uniform jitters on its own fine lattice.

    Raises
    ------
    ValueError
        When none applies (overlapping but unmixed narrow clusters far beyond the lattice
        budget), naming the bound on ``jitter_factor``.
    """
    step = lattice_step(cfg) if step is None else step
    a = cfg.retry_period + cfg.api_latency
    width = _jitter_width(cfg)
    level = float(level)
    if width == 0:
        k = max(math.ceil(level / a - 1e-9), 1)
        return point(k * a - level, step)
    if level <= 0:
        return follower_gap(cfg, step) - level
    mean = a + width / 2
    before_window = math.floor((level - a - width) / (a + width))
    if _phase_harmonics(width, mean, before_window) < _MIXED:
        fine = _on_period(cfg, min(step, width / _CELLS_PER_JITTER))
        return _to_lattice(equilibrium(follower_gap(cfg, fine), fine), step)
    fine = _on_period(cfg, min(step, width / _CELLS_PER_JITTER))
    if level / fine <= _MAX_RENEWAL_POINTS:
        return _to_lattice(renewal_overshoot(follower_gap(cfg, fine), level), step)
    return _narrow_overshoot(cfg, level, step)


def _to_lattice(dist: Distribution, step: float) -> Distribution:
    if abs(dist.step - step) <= 1e-9 * step and abs(dist.t0 / step - round(dist.t0 / step)) < 1e-6:
        return dist
    return dist.regrid(step, 0.0)


def _narrow_overshoot(cfg: ElectionConfig, level: float, step: float) -> Distribution:
    """Overshoot from the clusters ``k a + W_k`` next to the level (W_k: k jitters)."""
    a = cfg.retry_period + cfg.api_latency
    width = _jitter_width(cfg)
    # clusters k whose attempts can fall in [level - a - width, level)
    first = max(math.ceil((level - a - width) / (a + width)), 0)
    ks = range(first, max(math.ceil(level / a) - 1, first - 1) + 1)
    if ks and ks[-1] * width >= a:
        raise ValueError(
            f"jitter_factor={cfg.jitter_factor:g} is outside the exact model's range for "
            f"lease {level:g}s over retry period {cfg.retry_period:g}s: the jittered attempts "
            f"overlap without mixing (supported: jitter_factor * lease / retry period "
            f"< retry period + latency, or jitter_factor large enough to mix)"
        )
    fine = width / _CELLS_PER_CLUSTER_JITTER
    if sum(k + 1 for k in ks) * _CELLS_PER_CLUSTER_JITTER > _MAX_CLUSTER_POINTS:
        raise ValueError(
            f"jitter_factor={cfg.jitter_factor:g} with a lease of {level / a:.3g} retry "
            "periods is outside the exact model's range: the narrow-jitter clusters need "
            f"more than {_MAX_CLUSTER_POINTS:,} lattice points"
        )
    jitter = uniform(0.0, width, fine)
    pieces = []
    for k in ks:
        cluster = _power(jitter, k, fine)  # W_k, the sum of k jitters
        below, _ = cluster.split_at(level - k * a)
        if below.total <= 0:
            continue
        _, above = (below + jitter).split_at(level - (k + 1) * a)
        if above.total > 0:
            pieces.append(above.shift((k + 1) * a - level).regrid(step, 0.0))
    total = measure_sum(*pieces)
    return Distribution(total.t0, step, total.atoms, total.cells)._trimmed()


def _power(jitter: Distribution, k: int, step: float) -> Distribution:
    """The sum of ``k`` independent copies (binary powers: few convolutions)."""
    result = point(0.0, step)
    base = jitter
    while k:
        if k & 1:
            result = result + base
        k >>= 1
        if k:
            base = base + base
    return result


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
    past_expiry = follower_overshoot(cfg, cfg.record_lease_duration + cfg.api_latency, step)
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
    return lag - leader_phase + (cfg.record_lease_duration + 2.5 * latency)


def release_failover(cfg: ElectionConfig, step: float | None = None) -> Distribution:
    """Time from the leader's release (``ReleaseOnCancel``) to a follower's acquisition.

    ``release()`` writes a record with an empty ``HolderIdentity``; a follower whose GET
    reads it skips the expiry check and updates at once, so the time is the first
    follower's stationary residual time to its next attempt plus the GET and the Update.
    """
    _check_failover_inputs(cfg, "release")
    step = lattice_step(cfg) if step is None else step
    gap = follower_gap(cfg, step)
    to_next_attempt = equilibrium(gap, step)
    return min_of(*([to_next_attempt] * cfg.followers)) + 2.0 * cfg.api_latency


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
