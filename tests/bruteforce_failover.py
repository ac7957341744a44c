"""A brute-force crash failover of client-go leader election, held out from the exact model.

Shares nothing with :mod:`ha_toolkit.election.timing`, :mod:`ha_toolkit.distribution` or the
Monte Carlo oracle :mod:`ha_toolkit.election.simulate`: it reads the configuration's plain
numbers and runs every follower's acquire loop attempt by attempt
(``tools/leaderelection/leaderelection.go``: ``wait.JitterUntil(tryAcquireOrRenew, RP, J,
sliding=true)``), vectorised over trials and followers.

Time 0 is the crash. The leader's commits are every ``RP + l`` and the last one was ``phi``
before the crash, ``phi`` uniform over that period (the crash is independent of the loop).
Each follower's attempts are a stationary sequence: its first attempt after a reference time
one period before the last commit is drawn by length-biased sampling of a gap (accept a gap
``g`` with probability ``g / max gap``) and a uniform point inside it, which is what an
attempt loop running since long ago looks like from an independent instant. Then the loop:
GET served at ``t + l/2`` returns the number of commits made by then; a changed record sets
``observedTime = t + l``; an attempt with ``t >= observedTime + LeaseDurationSeconds``
acquires, its Update returning at ``t + 2 l``; otherwise the follower sleeps
``RP (1 + J U)`` after its GET returns. Every follower's gaps are at least one leader period,
so its first attempt sees a changed record whatever it saw before.

Only client-go configurations (one Update per renewal).
"""

from __future__ import annotations

import numpy as np


def _stationary_first_attempt(
    n: int, low: float, width: float, rng: np.random.Generator
) -> np.ndarray:
    """Time from an independent instant to a stationary attempt loop's next attempt."""
    gaps = np.empty(n)
    todo = np.arange(n)
    top = low + width
    while todo.size:
        g = low + width * rng.random(todo.size)
        accept = rng.random(todo.size) * top < g
        gaps[todo[accept]] = g[accept]
        todo = todo[~accept]
    return gaps * rng.random(n)


def brute_force_failover(
    lease_seconds: float,
    retry_period: float,
    jitter_factor: float,
    followers: int,
    api_latency: float,
    n_trials: int,
    rng: np.random.Generator,
    chunk: int = 50_000,
) -> np.ndarray:
    """Crash failover times (seconds from the crash to the new holder's Update returning).

    Parameters
    ----------
    lease_seconds : float
        The record's whole-second ``LeaseDurationSeconds``.
    retry_period, jitter_factor, api_latency : float
        ``RP``, ``J`` and the API round trip ``l``.
    followers : int
        Processes contending besides the crashed leader.
    n_trials : int
        Independent crashes.
    rng : numpy.random.Generator
        The random stream.
    """
    out = []
    for start in range(0, n_trials, chunk):
        size = min(chunk, n_trials - start)
        out.append(
            _trials(lease_seconds, retry_period, jitter_factor, followers, api_latency, size, rng)
        )
    return np.concatenate(out)


def _trials(
    lease: float,
    rp: float,
    jitter: float,
    followers: int,
    lat: float,
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    period = rp + lat
    phi = period * rng.random(n)
    last_commit = -phi
    reference = last_commit - period
    m = n * followers
    commit = np.repeat(last_commit, followers)
    t = np.repeat(reference, followers) + _stationary_first_attempt(m, period, jitter * rp, rng)
    seen = np.full(m, np.nan)
    observed = np.full(m, -np.inf)
    acquired = np.full(m, np.nan)
    live = np.arange(m)
    scale = lease + 10 * (rp * (1 + jitter) + lat)
    while live.size:
        tt = t[live]
        read = tt + lat / 2
        # commits at last_commit - k * period, k >= 0; none after the crash at 0
        version = np.minimum(np.floor((read - commit[live]) / period), 0.0)
        changed = version != seen[live]
        seen[live] = version
        obs = np.where(changed, tt + lat, observed[live])
        observed[live] = obs
        takes = tt + 1e-12 * scale >= obs + lease
        acquired[live[takes]] = tt[takes] + 2 * lat
        live = live[~takes]
        t[live] = tt[~takes] + lat + rp * (1.0 + jitter * rng.random(live.size))
    return acquired.reshape(n, followers).min(axis=1)
