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
* ``"blackhole"``: hangs until the lock client's per-call HTTP timeout
  (:attr:`ElectionConfig.effective_call_timeout`: ``max(1 s, RD/2)`` for client-go's
  ``resourcelock.NewFromKubeconfig``, ``RD`` for openshift/library-go's ``controllercmd``) or
  the cycle deadline, whichever comes first.

With every call failing, the failing cycle's calls go out at a fixed schedule of offsets
from ``t0`` (:func:`renew_call_offsets`). The first call that acts after the outage ends
renews the lease if its renewal completes before the deadline; so, with ``A`` the latest
offset that can still renew and ``u = t0 + l/2 - o`` the phase of the cycle's first call
after the outage start, the leader survives exactly when ``u >= T - A``. The outage starts at
a moment independent of the leader's loop, so ``u ~ Uniform[0, RP + l)`` and

    survival(T) = 1 for T <= A;  (A + RP + l - T) / (RP + l) up to A + RP + l;  0 beyond.

With a per-call timeout of ``RD`` (OpenShift) the first hung renewal uses up the whole cycle,
so ``A = 0``: the leader survives a blackhole only if no renewal acts in it,
``(RP + l - T) / (RP + l)``. With client-go's ``max(1 s, RD/2)`` the slow path's GET after
the first hung Update still fits (kube-scheduler: ``A = 5 s``).

Followers cannot take the lease before the leader's deadline when
``LDrec + 2 l >= RP + RD``; otherwise one may commit first after the outage, and the survival
above is an upper bound (:attr:`OutageSurvival.exact` says which).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from ha_toolkit.distribution import (
    Distribution,
    equilibrium,
    first_passage,
    measure_sum,
    min_of,
    mixture,
    point,
)
from ha_toolkit.durations import parse_duration
from ha_toolkit.election.config import ElectionConfig, require_client_go
from ha_toolkit.election.timing import follower_gap, follower_overshoot, lattice_step

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
# Mass below which a walk through the outage counts as finished.
_NEGLIGIBLE = 1e-13


def http_timeout(cfg: ElectionConfig) -> float:
    """The lock client's per-call HTTP timeout of ``cfg`` in seconds.

    :attr:`ElectionConfig.effective_call_timeout`: ``max(1 s, RD / 2)`` by default (client-go
    ``resourcelock.NewFromKubeconfig``), ``RD`` for openshift/library-go, or the duration set.
    """
    return cfg.effective_call_timeout


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")


def renew_call_offsets(cfg: ElectionConfig, mode: str = "refuse") -> list[tuple[float, str]]:
    """Send offsets (from the failing cycle's start) of the leader's calls while all fail.

    Each entry is ``(offset, kind)`` with kind ``"update"`` (the fast path) or ``"get"`` (the
    slow path's GET), for every call sent before the cycle deadline ``RD``.
    """
    _check_mode(mode)
    require_client_go(cfg, "the outage model")
    return _renew_calls(cfg, mode, tail_only=False)


# the schedule's last calls are found by jumping this many attempts short of the deadline
_TAIL_ATTEMPTS = 4
# a full schedule longer than this is refused (RD / RP of millions: use the tail)
_MAX_LISTED_ATTEMPTS = 1_000_000


def _renew_calls(cfg: ElectionConfig, mode: str, *, tail_only: bool) -> list[tuple[float, str]]:
    """The failing cycle's calls, or with ``tail_only`` only its last few attempts.

    The schedule settles at once into one of two regular forms (``f`` the time a failing call
    takes): with ``2 f < RP`` every attempt starts on the ticker's grid ``k RP``; otherwise
    the pending tick fires as each attempt returns, so attempt ``n`` starts at ``2 f n``. The
    tail is therefore reached by jumping to a few attempts before ``RD``, which keeps a
    ``RetryPeriod`` of nanoseconds against seconds of ``RenewDeadline`` from looping
    billions of times.
    """
    rp, rd, lat = cfg.retry_period, cfg.renew_deadline, cfg.api_latency
    failing_call = lat if mode == "refuse" else http_timeout(cfg)
    step = rp if 2 * failing_call < rp else 2 * failing_call
    if step > 0:
        attempts = rd / step
    else:  # pragma: no cover - RP > 0 always
        attempts = math.inf
    start, next_tick = 0.0, rp
    if tail_only and attempts > 2 * _TAIL_ATTEMPTS:
        jump = math.floor(attempts) - _TAIL_ATTEMPTS
        start = jump * step
        next_tick = rp * (math.floor(start / rp) + 1)
    elif not tail_only and attempts > _MAX_LISTED_ATTEMPTS:
        raise ValueError(
            f"renewDeadline / retryPeriod = {attempts:.3g}: the failing cycle's "
            f"{attempts:.3g} calls are too many to list (at most {_MAX_LISTED_ATTEMPTS:g})"
        )
    calls: list[tuple[float, str]] = []
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


def _tail_calls(cfg: ElectionConfig, mode: str) -> list[tuple[float, str]]:
    _check_mode(mode)
    require_client_go(cfg, "the outage model")
    return _renew_calls(cfg, mode, tail_only=True)


def _latest_renewing_offset(cfg: ElectionConfig, mode: str) -> float:
    """A: the latest call offset whose success still completes before the deadline."""
    lat, rd = cfg.api_latency, cfg.renew_deadline
    feasible = [
        offset
        for offset, kind in _tail_calls(cfg, mode)
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


def _first_poll_after_outage(
    polls: Distribution,
    outage: float,
    lat: float,
    normal_gap: Distribution,
    outage_gap: Distribution,
) -> Distribution:
    """Measure of a follower's first attempt start whose GET acts after the outage ends.

    ``polls`` is the (sub-probability) measure of one attempt's start, relative to the outage
    start. An attempt whose GET acts before the outage or during it is followed by the next
    one after ``normal_gap`` or ``outage_gap``; the walk goes on until every path has an
    attempt acting at or after ``outage`` (:func:`ha_toolkit.distribution.first_passage`).
    """
    # the walk up to the outage start with the normal gap, then through it with the
    # outage's: two first passages, each solved in one pass
    started = first_passage(polls, normal_gap, -lat / 2)
    during, after = started.split_at(outage - lat / 2)
    if during.total <= _NEGLIGIBLE:
        return after
    # the second passage starts at the attempts after those acting during the outage: passed
    # ``during`` itself, it would cut the cell straddling the level a second time
    through = first_passage(during + outage_gap, outage_gap, outage - lat / 2)
    return measure_sum(after, through) if after.total > 0 else through


def leaderless_after_outage(
    cfg: ElectionConfig,
    outage: float | str,
    mode: str = "refuse",
    *,
    startup: float | str | Distribution = 0.0,
    restart: float | str = 10.0,
    phases: int = 48,
    step: float | None = None,
) -> Distribution:
    """Leaderless time after an outage of length T that the leader does not survive.

    From the leader's stop (its failing cycle's deadline, ``OnStoppedLeading``) until a
    follower's acquiring Update returns, plus ``startup`` (the new leader's time from the
    lease to acting, e.g. a cache sync).

    The outage starts ``phi ~ Uniform[0, RP + l)`` after the leader's last committed renewal
    ``w`` (the loss happens for the larger phases, see :func:`outage_survival`); the leader
    stops at ``RP + l - phi - l/2 + RD`` after the outage start. Each follower first attempts
    to read ``w`` at ``R - phi - l/2`` (``R``: its stationary residual time). Then:

    * if that read acted before the outage, the follower knows ``w``; when its lease has
      expired by the outage's end it takes the lease at its first attempt acting after
      the outage, otherwise at its first attempt ``LDrec + l`` after that read;
    * if not, its first successful read after the outage sees ``w`` as a change and starts
      ``observedTime`` afresh, so it takes the lease a full ``LDrec + l`` (plus the
      overshoot of its attempts) later.

    With a single candidate nobody else can take over: the component exits, the kubelet
    restarts it after ``restart`` (its crash-loop back-off, 10 s the first time, see
    :func:`crash_loop_backoff`, plus the process's start until its first lease attempt),
    and the new process, a new identity that has seen no record yet, must wait a full
    ``LDrec + l`` after its first successful read. With followers, the restarted old leader
    is left out of the race: it joins as one more follower that has to wait a full lease.

    During the outage a follower's failing GET takes one round trip (``"refuse"``) or hangs
    for the HTTP timeout (``"blackhole"``), so its attempts are walked through the outage
    on the lattice, exactly. The phase ``phi`` is integrated by the midpoint rule over
    ``phases`` points, the one approximation beyond the lattice.

    Raises
    ------
    ValueError
        If the outage is always survived (no loss to condition on), if there are no
        followers, or for a ``"blackhole"`` outage shorter than ``LDrec + 1.5 l`` that a
        follower could sit out without its lease expiring (not modelled; use
        :func:`ha_toolkit.election.simulate.simulate_outage`).
    """
    _check_mode(mode)
    restart_delay = parse_duration(restart, name="restart")
    if not (math.isfinite(restart_delay) and restart_delay >= 0):
        raise ValueError(f"restart must be a finite duration >= 0, got {restart!r}")
    if isinstance(phases, bool) or int(phases) != phases or phases < 1:
        raise ValueError(f"phases must be an integer >= 1, got {phases!r}")
    length = parse_duration(outage, name="outage")
    a = _latest_renewing_offset(cfg, mode)
    lat = cfg.api_latency
    period = cfg.retry_period + lat
    lease = cfg.record_lease_duration
    if length <= a:
        raise ValueError(f"an outage of {length:g}s is always survived (up to {a:g}s)")
    expiry_level = length - 1.5 * lat - lease  # a read before this has expired by the end
    step = lattice_step(cfg) if step is None else step
    normal_gap = follower_gap(cfg, step)
    outage_gap = normal_gap if mode == "refuse" else normal_gap + (http_timeout(cfg) - lat)
    residual = equilibrium(normal_gap, step)
    wait_after_read = follower_overshoot(cfg, lease + lat, step) + (lease + 3 * lat)

    # the leader is lost for phases phi in (lowest, period); phi is taken on the lattice
    lowest = max(0.0, period - (length - a))
    edges = np.linspace(lowest, period, int(phases) + 1)
    parts, weights = [], []
    for lo_edge, hi_edge in zip(edges[:-1], edges[1:], strict=True):
        phi = step * round((lo_edge + hi_edge) / 2 / step)
        stop = period - phi - lat / 2 + cfg.renew_deadline
        if cfg.candidates == 1:
            restarted = point(stop + restart_delay, step)
            reread = _first_poll_after_outage(restarted, length, lat, normal_gap, outage_gap)
            parts.append(reread + wait_after_read - stop)
            weights.append(hi_edge - lo_edge)
            continue
        first_read = residual.shift(-phi - lat / 2)
        knew, missed = first_read.split_at(-lat / 2)
        expired, fresh = knew.split_at(expiry_level)
        if mode == "blackhole" and fresh.total > _NEGLIGIBLE:
            raise ValueError(
                f"a blackhole outage of {length:g}s is shorter than a follower's lease "
                f"({lease + 1.5 * lat:g}s): not modelled exactly; use simulate_outage"
            )
        pieces = []
        if expired.total > 0:
            pieces.append(
                _first_poll_after_outage(expired, length, lat, normal_gap, outage_gap) + 2 * lat
            )
        if fresh.total > 0:
            pieces.append(fresh + wait_after_read)
        if missed.total > 0:
            reread = _first_poll_after_outage(missed, length, lat, normal_gap, outage_gap)
            pieces.append(reread + wait_after_read)
        acquired = measure_sum(*pieces)
        first = min_of(*([acquired] * cfg.followers))
        parts.append(first - stop)
        weights.append(hi_edge - lo_edge)
    weights = np.asarray(weights, dtype=float)
    gap = mixture(weights / weights.sum(), parts)
    if isinstance(startup, Distribution):
        return gap + startup
    return gap + parse_duration(startup, name="startup")
