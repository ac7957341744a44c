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
* Release (``ReleaseOnCancel``, ``release``): at ``c`` the leader stops renewing and writes
  an empty HolderIdentity, committed at ``c + l/2``; a follower whose GET reads that record
  takes the lease in the same attempt.

Followers only read the record until one of them writes it, so they evolve independently up
to the first acquisition, and the failover time of a trial is the earliest acquisition over
its followers minus ``c`` (with optimistic concurrency the first writer wins; later writers
fail and do not change that time).

Stationarity is obtained by running the loops from time 0 for a warm-up ``W`` and drawing
``c`` uniformly from ``[W, W + 10 (RetryPeriod + l))``, a whole number of leader periods.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["simulate_failover"]

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
    leader_period = rp + lat

    # Leader: wait.Until starts at 0; its first Update goes out at a uniform offset.
    first_commit = rng.uniform(0.0, leader_period, n) + lat / 2
    # The crash / release moment, a whole number of leader periods wide.
    c = warmup + rng.uniform(0.0, 10.0 * leader_period, n)
    # Followers: each JitterUntil starts at an independent uniform time.
    start = rng.uniform(0.0, (1.0 + cfg.jitter_factor) * rp + lat, (n, followers))

    horizon = warmup + 10.0 * leader_period + 10.0 * cfg.record_lease_duration + 1.0
    acquired_at = _run_acquire_loops(
        cfg,
        scenario,
        attempt=start.ravel(),
        first_commit=np.repeat(first_commit, followers),
        c=np.repeat(c, followers),
        tolerance=1e-12 * horizon,
        rng=rng,
    )
    return acquired_at.reshape(n, followers).min(axis=1) - c


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
    leader_period = rp + lat

    acquired_at = np.full(attempt.size, np.nan)
    # Per waiting follower; compacted when many have acquired.
    index = np.arange(attempt.size)
    now = attempt.copy()
    commits_before_c = leader_commits_before(first_commit, leader_period, c)
    released_at = c + lat / 2
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
