"""Monte Carlo failover of client-go leader election, attempt by attempt.

This module is the independent cross-check of the exact timing model. It does not derive any
formula: it runs the leader's renew loop and every follower's acquire loop of client-go
(``k8s.io/client-go/tools/leaderelection/leaderelection.go``) event by event, vectorised over
trials and followers with numpy, and measures when the first follower takes the lease.

The loops, as simulated (all times in seconds on one common clock):

* Leader, ``renew`` -> ``wait.Until(cycle, RetryPeriod)`` with a sliding period and no
  jitter; each successful cycle is one ``Update`` (the fast path of client-go >= 1.30). An
  Update sent at ``a`` is committed by the API server at ``a + l/2`` (``l`` is the round trip
  of one API call) and returns at ``a + l``; the next cycle starts ``RetryPeriod`` later.
  Every commit rewrites ``RenewTime``, so every commit is a new record version.
* Followers, ``acquire`` -> ``wait.JitterUntil(tryAcquireOrRenew, RetryPeriod,
  JitterFactor, sliding=true)``: the first attempt is immediate; after a failed attempt the
  follower waits ``RetryPeriod * (1 + JitterFactor * U)`` with ``U ~ Uniform[0, 1)``
  (``wait.Jitter``). ``tryAcquireOrRenew`` captures ``now`` before its GET; the GET reads the
  record at ``now + l/2``; if that record differs from the last one the follower saw it sets
  ``observedTime`` to the time after the GET (``now + l``). It refuses while the holder is
  non-empty and ``observedTime + LeaseDurationSeconds > now``, where LeaseDurationSeconds is
  the whole seconds stored in the record (``int(LeaseDuration / time.Second)``). Otherwise it
  sends its Update after the GET and holds the lease when that Update returns, at
  ``now + 2 l``.
* Crash: the leader dies at ``c``; no commit happens at or after ``c``.
* Release (``ReleaseOnCancel``, ``release``/``tryRelease``, client-go >= 1.34): at ``c`` the
  leader stops renewing, GETs the Lease (returns at ``c + l``) and Updates it with an empty
  HolderIdentity, committed at ``c + 1.5 l``; a follower whose GET reads that record takes
  the lease in the same attempt.

Followers only read the record until one of them writes it, so they evolve independently up
to the first acquisition, and the failover time of a trial is the earliest acquisition over
its followers minus ``c`` (with optimistic concurrency the first writer wins; later writers
fail and do not change that time).

Stationarity is obtained by running the loops from time 0 for a warm-up ``W`` and drawing
``c`` uniformly from ``[W, W + 10 (RetryPeriod + l))``, a whole number of leader periods.

API outage (:func:`simulate_outage`, client-go >= 1.32). The API is down on ``[o, o + T)``: a
call whose server action (``send + l/2``) falls in that window fails, returning at ``send + l``
(``"refuse"``) or hanging until ``send + tau`` (``"blackhole"``; ``tau``: ``call_timeout``,
see :func:`lock_client_timeout`). The leader's renew cycle is
``PollUntilContextTimeout(ctx, RP, RD, immediate=true)``: a ``time.Ticker`` of period RP
started with the cycle at ``t0``, a context deadline at ``t0 + RD``. Each attempt
(``tryAcquireOrRenew``) is the fast-path Update, then, if it fails, a GET and an Update; an
attempt that returns false at ``r`` is followed at once if a tick fired during it (the
ticker's one-slot channel; further missed ticks are dropped), else at the next tick; no
attempt starts at or after the deadline; a call still in flight at the deadline is
cancelled and fails (an Update whose server action came before the deadline is committed
all the same). A cycle without a successful attempt ends leadership at its deadline
(``OnStoppedLeading``). Followers run their acquire loops through the outage; a failed GET
observes nothing, so after the outage a follower may take the lease on a stale
``observedTime``; if its Update commits before the leader's next renewal, the leader's
renewal conflicts and the leader is lost at the deadline of that cycle.

Partition (:func:`simulate_partition`): at ``c`` the leader alone loses the API; it acts
until its failing cycle's deadline, with all its intervals stretched by the clock-rate ratio,
while the followers take over as after a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OutageSimulation",
    "lock_client_timeout",
    "simulate_failover",
    "simulate_outage",
    "simulate_partition",
]

SCENARIOS = ("crash", "release")
CHUNK_TRIALS = 200_000
"""Trials simulated at once; bounds memory to a few tens of MB per chunk."""

RELEASED = np.inf
"""Record version of the released record (empty HolderIdentity)."""

NEVER_SEEN = -1.0
"""Record version a follower holds before its first GET (differs from every real version)."""


def simulate_failover(
    cfg: Any,
    scenario: str = "crash",
    n_trials: int = 100_000,
    rng: np.random.Generator | None = None,
    *,
    warmup: float | None = None,
) -> np.ndarray:
    """Simulate failover times by running the client-go loops event by event.

    Parameters
    ----------
    cfg : ElectionConfig
        Uses ``record_lease_duration`` (what followers compare against), ``retry_period``,
        ``jitter_factor``, ``api_latency`` and ``followers``. ``lease_duration`` and
        ``renew_deadline`` do not enter: a healthy leader's renewals succeed on the first try.
    scenario : {"crash", "release"}
        ``"crash"``: the leader stops at a random moment ``c``. ``"release"``: the leader
        releases the lease at ``c`` (``LeaderElector.release``, ReleaseOnCancel).
    n_trials : int
        Number of independent trials.
    rng : numpy.random.Generator, optional
        Source of randomness. Pass one for reproducible results (the tests always do);
        ``None`` uses a fresh ``numpy.random.default_rng()``.
    warmup : float, optional
        Time the loops run before the window from which ``c`` is drawn. Default
        ``2 * record_lease_duration + 20 * ((1 + J) * retry_period + api_latency)``.

    Returns
    -------
    numpy.ndarray
        ``n_trials`` failover times in seconds: first acquisition by any follower minus ``c``.

    Raises
    ------
    ValueError
        For an unknown scenario, fewer than two candidates, a bad ``n_trials`` or ``warmup``.
    RuntimeError
        If a follower takes the lease from the healthy leader (before ``c``). A follower's
        polls are at least one leader period apart, so each of them sees a new record and
        restarts ``observedTime``; only a record lease of 0 s with no latency lets one through.
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"invalid scenario {scenario!r}: expected 'crash' or 'release'")
    followers = int(cfg.followers)
    if followers < 1:
        raise ValueError(
            "failover needs candidates >= 2 (a leader and at least one follower), "
            f"got candidates={cfg.candidates}"
        )
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"invalid n_trials {n_trials!r}: expected an integer >= 1")
    if warmup is None:
        warmup = default_warmup(cfg)
    elif not np.isfinite(warmup) or warmup < 0:
        raise ValueError(f"invalid warmup {warmup!r}: expected a finite number >= 0")
    if rng is None:
        rng = np.random.default_rng()

    chunks = []
    for start in range(0, int(n_trials), CHUNK_TRIALS):
        size = min(CHUNK_TRIALS, int(n_trials) - start)
        chunks.append(_simulate_chunk(cfg, scenario, size, followers, float(warmup), rng))
    return np.concatenate(chunks)


def default_warmup(cfg: Any) -> float:
    """Return the default warm-up: two record leases plus twenty longest follower gaps."""
    longest_gap = (1.0 + cfg.jitter_factor) * cfg.retry_period + cfg.api_latency
    return 2.0 * cfg.record_lease_duration + 20.0 * longest_gap


def _simulate_chunk(
    cfg: Any, scenario: str, n: int, followers: int, warmup: float, rng: np.random.Generator
) -> np.ndarray:
    """Run ``n`` trials; return their failover times."""
    rp = float(cfg.retry_period)
    lat = float(cfg.api_latency)
    # client-go renews with one Update per cycle; the Python client with a GET and an Update
    calls = 2 if getattr(cfg, "client", "client-go") == "python" else 1
    leader_period = rp + calls * lat

    # Leader: wait.Until starts at 0; its first Update goes out at a uniform offset.
    first_commit = rng.uniform(0.0, leader_period, n) + (calls - 0.5) * lat
    # The crash / release moment, a whole number of leader periods wide.
    c = warmup + rng.uniform(0.0, 10.0 * leader_period, n)
    # Followers: each JitterUntil starts at an independent uniform time.
    start = rng.uniform(0.0, (1.0 + cfg.jitter_factor) * rp + lat, (n, followers))

    horizon = warmup + 10.0 * leader_period + 10.0 * cfg.record_lease_duration + 1.0
    attempt = start.ravel()
    if calls == 1:
        last_commit = (
            first_commit
            + (leader_commits_before(first_commit, leader_period, c) - 1.0) * leader_period
        )
        attempt = _skip_warmup(
            attempt, np.repeat(last_commit, followers), rp, cfg.jitter_factor, lat, rng
        )
    acquired_at = _run_acquire_loops(
        cfg,
        scenario,
        attempt=attempt,
        first_commit=np.repeat(first_commit, followers),
        c=np.repeat(c, followers),
        tolerance=1e-12 * horizon,
        rng=rng,
    )
    return acquired_at.reshape(n, followers).min(axis=1) - c


_SKIP_BLOCK = 16
"""Attempts drawn at once per follower while skipping the warm-up."""


def _skip_warmup(
    attempt: np.ndarray,
    last_commit: np.ndarray,
    rp: float,
    jitter: float,
    lat: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Advance each follower's loop to its first attempt reading at or after ``last_commit``.

    Before the leader's last commit every follower's GET returns a record version newer
    than its previous read (its attempts are at least ``RP + l``, one leader period, apart),
    so ``tryAcquireOrRenew`` only restarts ``observedTime`` and the follower sleeps: these
    attempts change nothing but the follower's clock. They are skipped in blocks of jittered
    sleeps (``wait.Jitter``) up to the first attempt that reads at or after the last commit;
    that attempt sees a changed record whatever it saw before, as the acquire loop then
    does from its initial state.
    """
    now = attempt.copy()
    # an attempt is skipped when its GET reads before the last commit
    limit = last_commit - lat / 2
    active = np.flatnonzero(now < limit)
    fixed = (lat + rp) * np.arange(1, _SKIP_BLOCK + 1)
    while active.size:
        # k attempts later: k (l + RP) plus RP J times the sum of k uniforms
        if jitter > 0:
            reached = rng.random((active.size, _SKIP_BLOCK))
            np.cumsum(reached, axis=1, out=reached)
            reached *= rp * jitter
            reached += fixed
        else:
            reached = np.broadcast_to(fixed, (active.size, _SKIP_BLOCK)).copy()
        reached += now[active, None]
        count = np.count_nonzero(reached < limit[active, None], axis=1)
        # stop AT the first attempt reading at or after the last commit (a stopping time:
        # the gap that crosses it is the one drawn, length bias included)
        now[active] = reached[np.arange(active.size), np.minimum(count, _SKIP_BLOCK - 1)]
        active = active[count == _SKIP_BLOCK]
    return now


def leader_commits_before(first_commit: np.ndarray, period: float, c: np.ndarray) -> np.ndarray:
    """Count the renewals committed strictly before ``c`` (the ``wait.Until`` renew cycles).

    Commits happen at ``first_commit + k * period`` for k = 0, 1, ...; a renewal sent
    before ``c`` but committed at or after it never happens (the leader is gone).
    """
    return np.maximum(np.ceil((c - first_commit) / period), 0.0)


def record_version_read(
    scenario: str,
    read_time: np.ndarray,
    first_commit: np.ndarray,
    period: float,
    commits_before_c: np.ndarray,
    released_at: np.ndarray,
) -> np.ndarray:
    """Return the version of the Lease record that a GET served at ``read_time`` returns.

    Version ``k`` is the record written by the leader's ``k``-th renewal (1-based; 0 = none
    yet), as a float; renewals stop before ``c``. In the release scenario every read at or
    after the release commit returns the released record ``RELEASED`` (empty HolderIdentity).
    """
    renewals = np.floor((read_time - first_commit) / period) + 1.0
    version = np.clip(renewals, 0.0, commits_before_c)
    if scenario == "release":
        version[read_time >= released_at] = RELEASED
    return version


def _run_acquire_loops(
    cfg: Any,
    scenario: str,
    *,
    attempt: np.ndarray,
    first_commit: np.ndarray,
    c: np.ndarray,
    tolerance: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Step every follower's ``wait.JitterUntil(tryAcquireOrRenew, ...)`` until it acquires.

    The arrays hold one entry per (trial, follower). One iteration is one
    ``tryAcquireOrRenew`` attempt of every follower still waiting: capture ``now``, GET
    (served at ``now + l/2``, returned at ``now + l``), update ``observedRecord`` and
    ``observedTime`` if the record changed, then either refuse and sleep ``RP * (1 + J * U)``
    (``wait.Jitter``), or send the acquiring Update and hold the lease at ``now + 2 l``.
    Returns the acquisition time of every follower.

    ``tolerance`` (1e-12 of the simulated horizon) absorbs the rounding of the accumulated
    attempt times, so that ``observedTime + LeaseDurationSeconds == now``, which happens with
    positive probability when ``J = 0``, counts as expired, as in exact arithmetic.
    """
    rp = float(cfg.retry_period)
    jitter = float(cfg.jitter_factor)
    lat = float(cfg.api_latency)
    lease = float(cfg.record_lease_duration)
    calls = 2 if getattr(cfg, "client", "client-go") == "python" else 1
    leader_period = rp + calls * lat

    acquired_at = np.full(attempt.size, np.nan)
    # Per waiting follower; compacted when many have acquired.
    index = np.arange(attempt.size)
    now = attempt.copy()
    commits_before_c = leader_commits_before(first_commit, leader_period, c)
    released_at = c + 1.5 * lat  # the release's GET, then its Update acts mid-flight
    seen = np.full(attempt.size, NEVER_SEEN)
    observed_time = np.full(attempt.size, -np.inf)
    waiting = np.ones(attempt.size, dtype=bool)

    while True:
        version = record_version_read(
            scenario, now + lat / 2, first_commit, leader_period, commits_before_c, released_at
        )
        changed = version != seen
        seen = version
        observed_time = np.where(changed, now + lat, observed_time)
        lease_valid = observed_time + lease > now + tolerance
        takes = waiting & ((version == RELEASED) | ~lease_valid)
        if takes.any():
            if np.any(now[takes] < c[takes]):
                raise RuntimeError(
                    "a follower acquired the lease while the leader was still renewing it "
                    f"(record lease duration {lease:g} s)"
                )
            acquired_at[index[takes]] = now[takes] + 2 * lat
            waiting &= ~takes
            remaining = np.count_nonzero(waiting)
            if remaining == 0:
                break
            if remaining <= index.size // 2:
                keep = waiting
                index, now, seen, observed_time = (
                    index[keep],
                    now[keep],
                    seen[keep],
                    observed_time[keep],
                )
                first_commit, commits_before_c = first_commit[keep], commits_before_c[keep]
                c, released_at = c[keep], released_at[keep]
                waiting = waiting[keep]
        sleep = rp * (1.0 + jitter * rng.random(now.size)) if jitter > 0 else rp
        now = now + lat + sleep
    return acquired_at


# --------------------------------------------------------------------------------------------
# API outage and partition
# --------------------------------------------------------------------------------------------

OUTAGE_MODES = ("refuse", "blackhole")
TICK_TOLERANCE = 1e-9
"""Relative tolerance on tick indices: a tick at the very moment an attempt returns counts."""

OutageSpec = float | np.ndarray | Callable[[np.random.Generator, int], Any]


@dataclass(frozen=True, eq=False)
class OutageSimulation:
    """Per-trial outcome of :func:`simulate_outage`; all times relative to the outage start.

    Attributes
    ----------
    mode : str
        ``"refuse"`` or ``"blackhole"``.
    outage : numpy.ndarray
        Outage length ``T`` of each trial, seconds.
    survived : numpy.ndarray of bool
        The leader renewed before its cycle deadline and no follower committed first.
    preempted : numpy.ndarray of bool
        The leader's loop alone would have survived, but a follower committed an acquisition
        on a stale observation before the leader's first renewal after the outage.
        ``survived | preempted`` is the leader-only survival.
    lost_at : numpy.ndarray
        When the leader stops leading (``OnStoppedLeading``: the deadline of the cycle that
        fails), NaN if it survived.
    new_leader_at : numpy.ndarray
        When a follower's acquiring Update returns, NaN if the leader survived, if followers
        were not simulated, or if no follower acquired within the horizon.
    """

    mode: str
    outage: np.ndarray
    survived: np.ndarray
    preempted: np.ndarray
    lost_at: np.ndarray
    new_leader_at: np.ndarray

    def __len__(self) -> int:
        return int(self.survived.size)

    def survival_probability(self) -> float:
        """Fraction of trials in which the leader kept the lease."""
        return float(np.mean(self.survived))

    def to_frame(self) -> pd.DataFrame:
        """One row per trial: outage, survived, preempted, lost_at, new_leader_at."""
        import pandas as pd

        return pd.DataFrame(
            {
                "outage": self.outage,
                "survived": self.survived,
                "preempted": self.preempted,
                "lost_at": self.lost_at,
                "new_leader_at": self.new_leader_at,
            }
        )


def lock_client_timeout(cfg: Any) -> float:
    """Return the lock client's per-call HTTP timeout from the configuration's ``call_timeout``.

    The rule ``"half-renew-deadline"`` is client-go ``resourcelock.NewFromKubeconfig``'s
    ``max(1 s, RenewDeadline / 2)``; ``"renew-deadline"`` is openshift/library-go
    ``controllercmd``'s ``RenewDeadline``; a number is the timeout itself.
    """
    rule = getattr(cfg, "call_timeout", "half-renew-deadline")
    if rule == "half-renew-deadline":
        return max(1.0, float(cfg.renew_deadline) / 2.0)
    if rule == "renew-deadline":
        return float(cfg.renew_deadline)
    return float(rule)


def simulate_outage(
    cfg: Any,
    outage: OutageSpec,
    mode: str = "refuse",
    n_trials: int = 100_000,
    rng: np.random.Generator | None = None,
    *,
    followers: bool = True,
    warmup: float | None = None,
) -> OutageSimulation:
    """Simulate a leader through an API outage, call by call (client-go >= 1.32).

    The leader's renew loop runs with period ``RP + l`` long before the outage; the outage
    starts at a uniformly random moment ``o`` and lasts ``T``. The loop is run literally from
    the first cycle whose fast-path Update acts at or after ``o`` (see the module docstring
    for the rules) until it renews or its cycle deadline passes. The followers' acquire
    loops run from time 0 through the outage (failed GETs observe nothing); the earliest
    follower commit decides whether the leader is preempted.

    Parameters
    ----------
    cfg : ElectionConfig
        Uses ``renew_deadline``, ``retry_period``, ``api_latency``, ``jitter_factor``,
        ``record_lease_duration`` and ``followers``.
    outage : float, array_like or callable
        Outage length in seconds: one number for every trial, an array of ``n_trials``
        lengths, or a sampler ``outage(rng, size)`` returning ``size`` lengths (a
        distribution of outage lengths). Lengths must be finite and >= 0.
    mode : {"refuse", "blackhole"}
        How a call fails during the outage: at once (after one round trip ``l``), or after
        hanging until the lock client's timeout (:func:`lock_client_timeout`) or the cycle
        deadline.
    n_trials : int
        Number of independent trials.
    rng : numpy.random.Generator, optional
        Source of randomness; ``None`` uses a fresh ``numpy.random.default_rng()``.
    followers : bool, default True
        Simulate the followers (preemption and the new leader's time). ``False`` gives the
        leader-side criterion alone.
    warmup : float, optional
        Time the loops run before the window from which ``o`` is drawn; default as in
        :func:`simulate_failover`.

    Returns
    -------
    OutageSimulation
        Per-trial ``survived``, ``preempted``, ``lost_at`` and ``new_leader_at`` (relative
        to ``o``); ``new_leader_at`` is NaN beyond a horizon of
        ``T + 2 LDrec + 2 (RD + RP) + 20 (longest follower gap + timeout)`` after ``o``.

    Raises
    ------
    ValueError
        For an unknown ``mode``, a bad ``outage``, ``n_trials`` or ``warmup``.
    RuntimeError
        If a follower takes the lease from the leader before the outage (see
        :func:`simulate_failover`).

    Examples
    --------
    >>> from ha_toolkit.election import ElectionConfig
    >>> cfg = ElectionConfig(15, 10, 2, api_latency=0.0)
    >>> res = simulate_outage(cfg, 9.0, "refuse", 2_000, np.random.default_rng(0))
    >>> 0.4 < res.survival_probability() < 0.6
    True
    """
    if mode not in OUTAGE_MODES:
        raise ValueError(f"invalid mode {mode!r}: expected 'refuse' or 'blackhole'")
    n_trials = _check_trials(n_trials)
    warmup = _check_warmup(cfg, warmup)
    if rng is None:
        rng = np.random.default_rng()
    lengths = _outage_lengths(outage, n_trials, rng)
    n_followers = int(cfg.followers) if followers else 0

    parts = []
    for start in range(0, n_trials, CHUNK_TRIALS):
        size = min(CHUNK_TRIALS, n_trials - start)
        parts.append(
            _outage_chunk(cfg, lengths[start : start + size], mode, n_followers, warmup, rng)
        )
    columns = [np.concatenate(column) for column in zip(*parts, strict=True)]
    survived, preempted, lost_at, new_leader_at = columns
    return OutageSimulation(mode, lengths, survived, preempted, lost_at, new_leader_at)


def simulate_partition(
    cfg: Any,
    clock_rate_ratio: float = 1.0,
    n_trials: int = 100_000,
    rng: np.random.Generator | None = None,
    *,
    warmup: float | None = None,
) -> np.ndarray:
    """Simulate the term overlap after the leader alone is cut off from the API.

    At a uniformly random moment ``c`` the leader's calls start failing; it keeps acting until
    the deadline of its failing renew cycle. The leader's clock runs slow by
    ``clock_rate_ratio`` (rho): its retry period, renew deadline, ticker and HTTP timeout are
    all stretched by rho in real time (the API latency is not). The followers, on real time,
    see the API normally and take over as after a crash at ``c``.

    Parameters
    ----------
    cfg : ElectionConfig
        Needs ``candidates >= 2``.
    clock_rate_ratio : float, default 1
        Followers' clock rate over the old leader's clock rate; finite and > 0.
    n_trials : int
        Number of independent trials.
    rng : numpy.random.Generator, optional
        Source of randomness; ``None`` uses a fresh ``numpy.random.default_rng()``.
    warmup : float, optional
        As in :func:`simulate_failover`.

    Returns
    -------
    numpy.ndarray
        ``n_trials`` overlaps in seconds: the old leader's stop time minus the time the new
        leader's acquiring Update returns (> 0: two leaders act at once).

    Raises
    ------
    ValueError
        Fewer than two candidates, a bad ``clock_rate_ratio``, ``n_trials`` or ``warmup``.
    RuntimeError
        If a follower takes the lease from the healthy (slow-clocked) leader before ``c``.
    """
    if cfg.followers < 1:
        raise ValueError(
            "partition needs candidates >= 2 (a leader and at least one follower), "
            f"got candidates={cfg.candidates}"
        )
    rho = clock_rate_ratio
    if isinstance(rho, bool) or not isinstance(rho, (int, float, np.number)):
        raise ValueError(f"invalid clock_rate_ratio {rho!r}: expected a finite number > 0")
    if not (np.isfinite(rho) and rho > 0):
        raise ValueError(f"invalid clock_rate_ratio {rho!r}: expected a finite number > 0")
    n_trials = _check_trials(n_trials)
    warmup = _check_warmup(cfg, warmup)
    if rng is None:
        rng = np.random.default_rng()
    parts = []
    for start in range(0, n_trials, CHUNK_TRIALS):
        size = min(CHUNK_TRIALS, n_trials - start)
        parts.append(_partition_chunk(cfg, float(rho), size, warmup, rng))
    return np.concatenate(parts)


def _check_trials(n_trials: Any) -> int:
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"invalid n_trials {n_trials!r}: expected an integer >= 1")
    return int(n_trials)


def _check_warmup(cfg: Any, warmup: float | None) -> float:
    if warmup is None:
        return default_warmup(cfg)
    if not np.isfinite(warmup) or warmup < 0:
        raise ValueError(f"invalid warmup {warmup!r}: expected a finite number >= 0")
    return float(warmup)


def _outage_lengths(outage: OutageSpec, n: int, rng: np.random.Generator) -> np.ndarray:
    """Turn the ``outage`` argument into ``n`` validated lengths."""
    if callable(outage):
        values = outage(rng, n)
    elif isinstance(outage, bool):
        raise ValueError(f"invalid outage {outage!r}: expected seconds, an array or a sampler")
    else:
        values = outage
    try:
        lengths = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"invalid outage {outage!r}: expected seconds, an array or a sampler"
        ) from None
    if lengths.ndim == 0:
        lengths = np.full(n, float(lengths))
    if lengths.shape != (n,):
        raise ValueError(
            f"invalid outage: expected one length or {n} lengths (n_trials), "
            f"got shape {lengths.shape}"
        )
    if not np.all(np.isfinite(lengths)) or np.any(lengths < 0):
        raise ValueError("invalid outage: lengths must be finite and >= 0 seconds")
    return lengths


def _outage_chunk(
    cfg: Any,
    lengths: np.ndarray,
    mode: str,
    n_followers: int,
    warmup: float,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run ``lengths.size`` outage trials; return survived, preempted, lost_at, new_leader_at."""
    n = lengths.size
    rp = float(cfg.retry_period)
    lat = float(cfg.api_latency)
    period = rp + lat
    tau = lock_client_timeout(cfg)

    # Leader: commits at first_commit + k * period while the API is up; o uniform.
    first_commit = rng.uniform(0.0, period, n) + lat / 2
    o = warmup + rng.uniform(0.0, 10.0 * period, n)
    end = o + lengths
    commits_before = leader_commits_before(first_commit, period, o)
    first_cycle = first_commit - lat / 2 + commits_before * period
    leader = _run_renew_cycles(
        first_cycle,
        o,
        end,
        blackhole=mode == "blackhole",
        retry=rp,
        deadline=float(cfg.renew_deadline),
        timeout=tau,
        lat=lat,
    )
    renewed_at, lost, deadline, stray = leader
    lost_at = np.where(lost, deadline - o, np.nan)

    preempted = np.zeros(n, dtype=bool)
    new_leader_at = np.full(n, np.nan)
    if n_followers > 0:
        # The record's versions after o: the first renewal (survivor) or a stray commit.
        extra = np.where(lost, np.nan_to_num(stray, nan=np.inf), renewed_at)
        limit = np.where(lost, np.inf, renewed_at)
        longest_gap = (1.0 + cfg.jitter_factor) * rp + lat
        horizon = end + (
            2.0 * cfg.record_lease_duration
            + 2.0 * (cfg.renew_deadline + rp)
            + 20.0 * (longest_gap + tau)
        )
        start = rng.uniform(0.0, longest_gap, (n, n_followers))
        first_acquisition = _run_acquire_loops_through_outage(
            cfg,
            start=start,
            down_start=o,
            down_end=end,
            blackhole=mode == "blackhole",
            first_commit=first_commit,
            period=period,
            commits_before=commits_before,
            extra_commit=extra,
            healthy_until=o,
            limit=limit,
            horizon=horizon,
            timeout=tau,
            rng=rng,
        )
        preempted = ~lost & (first_acquisition < renewed_at)
        # The leader's renewal conflicts: its cycle fails at its deadline.
        lost_at = np.where(preempted, deadline - o, lost_at)
        taken = lost | preempted
        acquired = np.where(np.isfinite(first_acquisition), first_acquisition + lat / 2, np.nan)
        new_leader_at = np.where(taken, acquired - o, np.nan)
    survived = ~lost & ~preempted
    return survived, preempted, lost_at, new_leader_at


def _partition_chunk(
    cfg: Any, rho: float, n: int, warmup: float, rng: np.random.Generator
) -> np.ndarray:
    """Run ``n`` partition trials; return the overlaps."""
    rp = float(cfg.retry_period)
    lat = float(cfg.api_latency)
    period = rho * rp + lat  # the slow leader's renewal period, real time

    first_commit = rng.uniform(0.0, period, n) + lat / 2
    c = warmup + rng.uniform(0.0, 10.0 * period, n)
    commits_before = leader_commits_before(first_commit, period, c)
    first_cycle = first_commit - lat / 2 + commits_before * period
    _, lost, deadline, _ = _run_renew_cycles(
        first_cycle,
        c,
        np.full(n, np.inf),
        blackhole=False,
        retry=rho * rp,
        deadline=rho * float(cfg.renew_deadline),
        timeout=rho * lock_client_timeout(cfg),
        lat=lat,
    )
    assert lost.all()  # the partition never ends: every cycle from c on fails

    longest_gap = (1.0 + cfg.jitter_factor) * rp + lat
    followers = int(cfg.followers)
    start = rng.uniform(0.0, longest_gap, (n, followers))
    never = np.full(n, np.inf)
    first_acquisition = _run_acquire_loops_through_outage(
        cfg,
        start=start,
        down_start=never,
        down_end=never,
        blackhole=False,
        first_commit=first_commit,
        period=period,
        commits_before=commits_before,
        extra_commit=never,
        healthy_until=c,
        limit=never,
        horizon=c + 4.0 * cfg.record_lease_duration + 40.0 * longest_gap,
        timeout=lock_client_timeout(cfg),
        rng=rng,
    )
    if not np.all(np.isfinite(first_acquisition)):
        raise RuntimeError("a follower did not acquire the lease within the horizon")
    return deadline - (first_acquisition + lat / 2)


def _call(
    send: np.ndarray,
    down_start: np.ndarray,
    down_end: np.ndarray,
    deadline: np.ndarray,
    *,
    blackhole: bool,
    timeout: float,
    lat: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One API call of the leader under its cycle's deadline context.

    Returns ``(ok, returned, acted)``: whether the call succeeded, when it returned (at most
    the deadline, where a call still in flight is cancelled) and whether the server acted on
    it (its action ``send + l/2`` is outside the outage and before the deadline; for an
    Update this is a commit even when the response comes too late).
    """
    action = send + lat / 2
    down = (action >= down_start) & (action < down_end)
    returned = send + (np.where(down, timeout, lat) if blackhole else lat)
    in_time = returned < deadline
    ok = ~down & in_time
    acted = ~down & (action < deadline)
    return ok, np.minimum(returned, deadline), acted


def _run_renew_cycles(
    first_cycle: np.ndarray,
    down_start: np.ndarray,
    down_end: np.ndarray,
    *,
    blackhole: bool,
    retry: float,
    deadline: float,
    timeout: float,
    lat: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Run the leader's renew loop from ``first_cycle`` to its first renewal or its loss.

    ``first_cycle`` is the start of the first cycle whose fast-path Update acts at or after
    the outage start (earlier cycles renewed at once). Follows
    ``PollUntilContextTimeout(ctx, retry, deadline, immediate=true)`` attempt by attempt;
    a successful cycle that renewed before the outage ended cannot occur (its Update acted
    in the outage), so the first success ends the simulation of a trial.

    Returns ``(renewed_at, lost, cycle_deadline, stray)``: the commit time of the first
    renewal (NaN if lost), whether the leader was lost, the deadline of the last cycle run
    (the loss time when lost) and the commit time of an Update acted on but answered after
    the deadline (NaN if none).
    """
    n = first_cycle.size
    renewed_at = np.full(n, np.nan)
    lost = np.zeros(n, dtype=bool)
    cycle_start = first_cycle.copy()
    cycle_deadline = first_cycle + deadline
    stray = np.full(n, np.nan)
    attempt = first_cycle.copy()
    idx = np.arange(n)
    scale = float(np.max(np.abs(first_cycle), initial=1.0)) + deadline
    tolerance = 1e-12 * scale

    while idx.size:
        s = attempt[idx]
        t0 = cycle_start[idx]
        d = cycle_deadline[idx]
        o = down_start[idx]
        e = down_end[idx]
        kw = {"blackhole": blackhole, "timeout": timeout, "lat": lat}

        # 1. The fast path: an optimistic Update.
        ok1, r1, acted1 = _call(s, o, e, d, **kw)
        # 2. The slow path after a failed fast path that left time: GET, then Update.
        get = ~ok1 & (r1 < d)
        ok_get, r_get, _ = _call(r1, o, e, d, **kw)
        ok_get &= get
        ok_upd, r_upd, acted_upd = _call(r_get, o, e, d, **kw)
        ok_upd &= ok_get
        acted_upd &= ok_get

        success = ok1 | ok_upd
        commit = np.where(ok1, s + lat / 2, r_get + lat / 2)
        renewed_at[idx[success]] = commit[success]
        # Updates the server committed though their response came after the deadline.
        late1 = acted1 & ~ok1
        late_upd = acted_upd & ~ok_upd
        late = late1 | late_upd
        stray[idx[late]] = np.where(late1, s + lat / 2, r_get + lat / 2)[late]

        returned = np.where(ok1 | ~get, r1, np.where(ok_get, r_upd, r_get))
        # Next attempt: at once if a tick fired during this one, else at the next tick.
        ticks_before = np.floor((s - t0) / retry + TICK_TOLERANCE)
        ticks_after = np.floor((returned - t0) / retry + TICK_TOLERANCE)
        pending = ticks_after > ticks_before
        following = np.where(pending, returned, t0 + (ticks_after + 1.0) * retry)
        failed = ~success & ((returned >= d - tolerance) | (following >= d - tolerance))
        lost[idx[failed]] = True
        attempt[idx] = following
        idx = idx[~success & ~failed]
    return renewed_at, lost, cycle_deadline, stray


def _run_acquire_loops_through_outage(
    cfg: Any,
    *,
    start: np.ndarray,
    down_start: np.ndarray,
    down_end: np.ndarray,
    blackhole: bool,
    first_commit: np.ndarray,
    period: float,
    commits_before: np.ndarray,
    extra_commit: np.ndarray,
    healthy_until: np.ndarray,
    limit: np.ndarray,
    horizon: np.ndarray,
    timeout: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Step the followers' acquire loops; return each trial's earliest acquisition commit.

    ``start`` has shape (trials, followers); the other arrays are per trial. The leader's
    record versions are its commits ``first_commit + k * period`` for
    ``k < commits_before`` plus one ``extra_commit`` (its first renewal after the outage,
    or a stray commit; ``inf`` if none). The followers' GETs and Updates acting in
    ``[down_start, down_end)`` fail (after ``l``, or after ``timeout`` in blackhole mode).
    A follower stops once its next commit could not come before ``limit`` (the leader's
    renewal), before another follower's acquisition, or after ``horizon``. Returns ``inf``
    for a trial without acquisition. Raises RuntimeError on a commit before
    ``healthy_until``.
    """
    rp = float(cfg.retry_period)
    jitter = float(cfg.jitter_factor)
    lat = float(cfg.api_latency)
    lease = float(cfg.record_lease_duration)
    n, followers = start.shape

    trial = np.repeat(np.arange(n), followers)
    now = start.ravel().copy()
    seen = np.full(now.size, NEVER_SEEN)
    observed_time = np.full(now.size, -np.inf)
    best = np.full(n, np.inf)
    tolerance = 1e-12 * float(np.max(horizon[np.isfinite(horizon)], initial=1.0))

    def version(t: np.ndarray, k: np.ndarray) -> np.ndarray:
        renewals = np.floor((t - first_commit[k]) / period) + 1.0
        grid = np.clip(renewals, 0.0, commits_before[k])
        return grid + (t >= extra_commit[k])

    while now.size:
        k = trial
        read = now + lat / 2
        get_down = (read >= down_start[k]) & (read < down_end[k])
        got = ~get_down
        current = version(read, k)
        changed = got & (current != seen)
        seen = np.where(changed, current, seen)
        observed_time = np.where(changed, now + lat, observed_time)
        expired = got & (observed_time + lease <= now + tolerance)

        commit = now + 1.5 * lat
        update_down = (commit >= down_start[k]) & (commit < down_end[k])
        conflict = version(commit, k) != current
        takes = expired & ~update_down & ~conflict
        if takes.any():
            if np.any(commit[takes] < healthy_until[k[takes]]):
                raise RuntimeError(
                    "a follower acquired the lease while the leader was still renewing it "
                    f"(record lease duration {lease:g} s)"
                )
            np.minimum.at(best, k[takes], commit[takes])

        finished = now + lat
        if blackhole:
            finished = np.where(get_down, now + timeout, finished)
        tried = expired & ~takes
        finished = np.where(tried, now + 2 * lat, finished)
        if blackhole:
            finished = np.where(tried & update_down, now + lat + timeout, finished)
        sleep = rp * (1.0 + jitter * rng.random(now.size)) if jitter > 0 else rp
        now = finished + sleep

        bound = np.minimum(limit[k], best[k])
        keep = ~takes & (now + 1.5 * lat < bound) & (now <= horizon[k])
        if not keep.all():
            trial, now, seen, observed_time = (
                trial[keep],
                now[keep],
                seen[keep],
                observed_time[keep],
            )
    return best
