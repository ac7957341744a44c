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

import numpy as np
from scipy import fft, special

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
_MAX_RENEWAL_POINTS = 1 << 14


def _on_period(cfg: ElectionConfig, target: float, level: float | None = -1.0) -> float:
    """The largest step at most ``target`` that divides the renew period ``RP + l``.

    Among the next 512 finer such steps (down to a quarter of ``target``), one that also
    divides the jitter width and ``level`` is preferred, then one that divides the width
    (then the gap's cells are whole and no cell straddles the level, e.g. for whole-second
    settings with no latency). ``level`` defaults (any negative value) to the expiry level
    ``LDrec + l``; ``None`` prefers no level.
    """
    period = cfg.retry_period + cfg.api_latency
    cells = max(math.ceil(period / target - 1e-9), 1)
    width = _jitter_width(cfg)
    if level is not None and level < 0:
        level = cfg.record_lease_duration + cfg.api_latency

    def divides(length: float, n: int) -> bool:
        ratio = length * n / period
        return abs(ratio - round(ratio)) < 1e-9 * max(ratio, 1.0)

    if width > 0:
        tries = range(cells, min(4 * cells, cells + 512) + 1)
        for n in tries:
            if divides(width, n) and (level is None or divides(level, n)):
                return period / n
        for n in tries[:64]:
            if divides(width, n):
                return period / n
    return period / cells


def _jitter_width(cfg: ElectionConfig) -> float:
    return cfg.jitter_factor * cfg.retry_period


def _tolerance(cfg: ElectionConfig) -> float:
    """Absolute lattice error budget in seconds."""
    return _TOLERANCE * (cfg.record_lease_duration + cfg.retry_period + cfg.api_latency)


def lattice_step(cfg: ElectionConfig) -> float:
    """Default lattice step for ``cfg``: a whole fraction of the renew period ``RP + l``.

    Chosen by accuracy, not by a size cap: 64 cells across the jitter width ``J * RP``,
    times the square root of the number of followers (the lattice errors are O(step**2) of
    smooth densities; 300 cells per renew period without jitter), but never finer than
    needed for an error of 1e-5 of ``LDrec + RP + l``. Jitter narrower than such a step is
    left to the cluster arithmetic of :func:`follower_overshoot`; without jitter the
    arithmetic is exact on any step that divides the period. Where it can, the step also
    divides the jitter width and the expiry level (whole cells, no straddled level).
    """
    return _lattice_step(cfg, _tolerance(cfg), cfg.record_lease_duration + cfg.api_latency)


def _release_step(cfg: ElectionConfig) -> float:
    """The release failover's step: it depends on the poll loop only, not on the lease."""
    return _lattice_step(cfg, _TOLERANCE * (cfg.retry_period + cfg.api_latency), None)


def _lattice_step(cfg: ElectionConfig, tolerance: float, level: float | None) -> float:
    target = tolerance
    width = _jitter_width(cfg)
    # the minimum over f followers sits in the first 1/f of their common law: its in-cell
    # error grows with f, so the cells shrink with sqrt(f)
    crowd = math.sqrt(max(cfg.followers, 1))
    if width > 0:
        target = max(target, width / (_CELLS_PER_JITTER * crowd))
    else:
        target = max(target, (cfg.retry_period + cfg.api_latency) / _CELLS_PER_PERIOD)
    return _on_period(cfg, target, level)


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
      ``2 sum_n |sinc(pi n J RP / mu)|**k`` times the longest gap below a tenth of the
      lattice error budget), the overshoot is the equilibrium law of the gap (the renewal
      theorem; that product bounds the error of the mean in all cases we checked against
      the one-pass solve);
    * otherwise the one-pass renewal solve of :func:`ha_toolkit.distribution.renewal_measure`
      on a lattice of 64 cells per jitter width, when that holds at most 2**14 points below
      the level;
    * otherwise (jitter narrow against the level, or too many renewals for that lattice):
      the k-th attempt is at ``k a + W_k`` (``a = RP + l``, ``W_k`` the sum of k jitters),
      and only the clusters within 10 standard deviations of the last gap before the level
      count; each contributes its exact mass per lattice cell (:func:`_cluster_overshoot`).

    Raises
    ------
    ValueError
        With more than 5e7 attempts before the expiry (LD/RP far beyond 1e7), naming the
        bound.
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
    # the renewal solve needs cells across the jitter only, not the followers' finer ones
    fine = _on_period(cfg, width / _CELLS_PER_JITTER)
    harmonics = _phase_harmonics(width, mean, before_window)
    if harmonics * (a + width) < 0.1 * _tolerance(cfg):
        return _to_lattice(equilibrium(follower_gap(cfg, fine), fine), step)
    if level / fine <= _MAX_RENEWAL_POINTS:
        return _to_lattice(renewal_overshoot(follower_gap(cfg, fine), level), step)
    return _cluster_overshoot(cfg, level, step)


def _to_lattice(dist: Distribution, step: float) -> Distribution:
    if abs(dist.step - step) <= 1e-9 * step and abs(dist.t0 / step - round(dist.t0 / step)) < 1e-6:
        return dist
    return dist.regrid(step, 0.0)


def _cluster_overshoot(cfg: ElectionConfig, level: float, step: float) -> Distribution:
    """Overshoot from the renewal measure next to the level, cluster by cluster.

    The k-th attempt is at ``k a + W_k`` (``a = RP + l``, ``W_k`` the sum of k jitters
    ``J RP U``). Only attempts in ``[level - a - J RP, level)`` can jump over the level, and
    only clusters within 10 standard deviations of that window carry mass there (beyond,
    less than 1e-20). The renewal measure's mass in each lattice cell of the window is the
    exact difference of the clusters' CDFs (:func:`_jitter_sum_cdf`); one convolution with
    the gap then gives the overshoot.
    """
    a = cfg.retry_period + cfg.api_latency
    width = _jitter_width(cfg)
    lo = level - a - width
    # a lattice through the level, so that no cell straddles it: which side of the level
    # an attempt falls on decides a whole gap
    x = level - step * np.arange(math.ceil((level - lo) / step) + 1, -1, -1)
    k_min = max(math.floor(lo / (a + width)) - 1, 0)
    k_max = math.ceil(level / a) + 1
    if k_max - k_min > 50_000_000:
        raise ValueError(
            f"jitter_factor={cfg.jitter_factor:g} with a lease of {level / a:.3g} retry "
            "periods is outside the exact model's range (at most 5e7 attempts before expiry)"
        )
    k = np.arange(k_min, k_max + 1)
    mean = k * width / 2
    spread = 10.0 * np.sqrt(k / 12.0) * width
    reach_lo = np.maximum(mean - spread, 0.0) + k * a
    reach_hi = np.minimum(mean + spread, k * width) + k * a
    near = k[(reach_hi >= x[0]) & (reach_lo <= x[-1])]
    atoms = np.zeros(x.size)
    cells = np.zeros(x.size - 1)
    for kk in near:
        if kk == 0:
            if x[0] <= 0:  # the attempt at 0 itself, split between its lattice neighbours
                u = -x[0] / step
                j = min(int(math.floor(u)), x.size - 2)
                atoms[j] += 1.0 - (u - j)
                atoms[j + 1] += u - j
            continue
        first_attempt, last_attempt = kk * a, kk * (a + width)
        if last_attempt - first_attempt < step and x[0] <= first_attempt and last_attempt < level:
            # a cluster narrower than a cell, wholly below the level: its mass at its mean,
            # split between the neighbouring lattice points (the mean is kept exactly)
            u = (first_attempt + kk * width / 2 - x[0]) / step
            j = min(int(math.floor(u)), x.size - 2)
            atoms[j] += 1.0 - (u - j)
            atoms[j + 1] += u - j
            continue
        values = _jitter_sum_cdf(int(kk), width, x - kk * a)
        cells += np.maximum(np.diff(values), 0.0)
    window = Distribution(x[0], step, atoms, cells, _defective=True)
    _, above = (window + follower_gap(cfg, step)).split_at(level)
    total = above.total
    above = Distribution(above.t0 - level, step, above.atoms / total, above.cells / total)
    return _to_lattice(above._trimmed(), step)


# Sums of up to this many jitters are built on a lattice; longer ones by their Edgeworth
# expansion, whose error (O(k**-3) of the CDF) is then below 1e-7.
_EXACT_JITTER_SUMS = 64


def _jitter_sum_cdf(k: int, width: float, x: np.ndarray) -> np.ndarray:
    """CDF at ``x`` of the sum of ``k`` independent Uniform(0, width) (Irwin-Hall).

    Up to 64 terms: the k-fold convolution on a lattice of 64 cells per width, in one
    transform; beyond: the Edgeworth expansion to order 1/k**2 (standardised cumulants
    ``-1.2/k`` and ``48/(7 k**2)`` of the uniform sum), clipped to ``[0, k width]``.
    """
    if k <= _EXACT_JITTER_SUMS:
        cells = 64
        h = width / cells
        size = k * cells
        n = _fft_length(size + 1)
        one = np.zeros(n)
        one[:cells] = 1.0 / cells
        f = np.fft.rfft(one)
        # cells of k uniforms with the triangle rule: X (X (1 + z) / 2)**(k - 1)
        z = np.exp(-2j * np.pi * np.arange(f.size) / n)
        mass = np.fft.irfft(f * (0.5 * (1.0 + z) * f) ** (k - 1), n)[:size]
        mass = np.maximum(mass, 0.0)
        grid = h * np.arange(size + 1)
        cum = np.concatenate(([0.0], np.cumsum(mass)))
        return np.interp(x, grid, cum / cum[-1], left=0.0, right=1.0)
    mean = k * width / 2
    sd = math.sqrt(k / 12.0) * width
    z = (x - mean) / sd
    lam4 = -1.2 / k
    lam6 = 48.0 / (7.0 * k * k)
    he3 = z**3 - 3 * z
    he5 = z**5 - 10 * z**3 + 15 * z
    he7 = z**7 - 21 * z**5 + 105 * z**3 - 105 * z
    phi = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    correction = lam4 / 24 * he3 + lam6 / 720 * he5 + lam4 * lam4 / 1152 * he7
    value = special.ndtr(z) - phi * correction
    value = np.where(x <= 0, 0.0, np.where(x >= k * width, 1.0, value))
    return np.clip(value, 0.0, 1.0)


def _fft_length(n: int) -> int:
    return fft.next_fast_len(n, real=True)


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
    step = _release_step(cfg) if step is None else step
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
