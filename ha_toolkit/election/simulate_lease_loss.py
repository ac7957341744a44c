"""Monte Carlo of the leader's renew loop with random latencies, episodes and retries.

The independent cross-check of :mod:`ha_toolkit.election.lease_loss`: it derives nothing,
it runs the leader's loop of client-go call by call, vectorised over trials with numpy.

* Renew loop (``tools/leaderelection/leaderelection.go``, ``renew``): cycles start ``RP``
  after the previous one returned; a cycle is ``PollUntilContextTimeout(RP, RD,
  immediate=true)``: attempts on a ticker of period RP from the cycle's start (an attempt
  that returns after a tick is followed at once, else at the next tick), no attempt at or
  after the deadline ``t0 + RD``. An attempt is an Update; if it fails, a GET and, if
  that succeeds, an Update.
* A call (``rest.Request``, ``rest/request.go`` and ``rest/with_retry.go``) has a context
  deadline ``min(send + tau, t0 + RD)``, ``tau`` the lock client's timeout
  (``cfg.effective_call_timeout``: ``max(1 s, RD / 2)`` for client-go's lock client). It
  sends HTTP attempts: a served attempt returns after its drawn round trip and succeeds if
  that is before the deadline (else the call fails at the deadline); a 429 arrives after
  the rejection delay, then the client sleeps ``Retry-After`` and retries, at most
  ``max_retries`` times; a sleep that reaches the deadline ends the call there; the last
  429 fails the call.
* Episodes (:func:`simulate_episodes`): the API misbehaves on ``[o, o + T)`` for HTTP
  attempts whose server action (``send + round trip / 2``) falls in it: ``"refuse"``
  (fails after the round trip), ``"blackhole"`` (no answer: the call fails at its
  deadline), ``"throttled"`` (a 429, retried) or ``"latency"`` (answers after
  ``episode_latency``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CycleSimulation",
    "EpisodeSimulation",
    "simulate_episodes",
    "simulate_renew_cycles",
]

Sampler = Callable[[np.random.Generator, int], np.ndarray]
MODES = ("refuse", "blackhole", "throttled", "latency")
_TICK_TOLERANCE = 1e-9


def _timeout(cfg: Any) -> float:
    """The lock client's per-call timeout, seconds (the configuration applies its rule)."""
    return float(cfg.effective_call_timeout)


def _sampler(latency: Any) -> Sampler:
    """A sampler ``(rng, size) -> seconds`` from a number, a sampler or an ``rvs`` object."""
    if callable(latency) and not hasattr(latency, "rvs"):
        return latency
    if hasattr(latency, "rvs"):
        return lambda rng, size: np.maximum(latency.rvs(size=size, random_state=rng), 0.0)
    value = float(latency)
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(f"latency must be a finite number >= 0, got {latency!r}")
    return lambda rng, size: np.full(size, value)


@dataclass(frozen=True, eq=False)
class CycleSimulation:
    """Per-cycle outcome of :func:`simulate_renew_cycles`.

    Attributes
    ----------
    failed : numpy.ndarray of bool
        The cycle ended without a renewal.
    duration : numpy.ndarray
        Seconds from the cycle's start until it returned (``RD`` when it failed).
    retry_period : float
    """

    failed: np.ndarray
    duration: np.ndarray
    retry_period: float

    def loss_probability(self) -> tuple[float, float]:
        """Fraction of failed cycles and its standard error."""
        p = float(np.mean(self.failed))
        return p, float(np.sqrt(p * (1.0 - p) / self.failed.size))

    def losses_per_day(self) -> float:
        """Failed cycles per day of leadership: failures over the summed cycle times."""
        total = float(np.sum(self.duration + self.retry_period))
        return 86_400.0 * float(np.sum(self.failed)) / total


class _Calls:
    """The HTTP attempts of every trial's calls, with the trial's episode window."""

    def __init__(self, cfg: Any, rng: np.random.Generator, latency: Sampler, *,
                 rejection: float, rejection_delay: Sampler | None, retry_after: float,
                 max_retries: int, mode: str | None = None,
                 episode_latency: float = 0.0) -> None:
        self.rng = rng
        self.latency = latency
        self.rejection = rejection
        self.rejection_delay = rejection_delay
        self.retry_after = retry_after
        self.max_retries = max_retries
        self.tau = _timeout(cfg)
        self.mode = mode
        self.episode_latency = episode_latency
        self.get_latency: Sampler | None = None

    def run(self, send: np.ndarray, deadline: np.ndarray, start: np.ndarray,
            end: np.ndarray, kind: str = "update") -> tuple[np.ndarray, np.ndarray]:
        """One call per entry, sent at ``send``; returns ``(ok, returned)``."""
        sampler = self.get_latency if kind == "get" and self.get_latency else self.latency
        n = send.size
        limit = np.minimum(send + self.tau, deadline)
        now = send.copy()
        ok = np.zeros(n, dtype=bool)
        returned = np.full(n, np.nan)
        active = np.ones(n, dtype=bool)
        for attempt in range(self.max_retries + 1):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            t = now[idx]
            trip = sampler(self.rng, idx.size)
            action = t + trip / 2.0
            inside = (action >= start[idx]) & (action < end[idx])
            rejected = self.rng.random(idx.size) < self.rejection
            delay = trip if self.rejection_delay is None else self.rejection_delay(
                self.rng, idx.size)
            answer = t + trip
            if self.mode == "refuse":
                failed_now = inside
            else:
                failed_now = np.zeros(idx.size, dtype=bool)
            if self.mode == "blackhole":
                answer = np.where(inside, np.inf, answer)
            elif self.mode == "latency":
                answer = np.where(inside, t + self.episode_latency, answer)
            elif self.mode == "throttled":
                rejected = rejected | inside
                delay = np.where(inside, trip if self.rejection_delay is None else delay, delay)
            served = ~rejected & ~failed_now
            # served: success if the answer beats the deadline, else the call fails there
            good = served & (answer < limit[idx])
            ok[idx[good]] = True
            returned[idx[good]] = answer[good]
            late = served & ~good
            returned[idx[late]] = limit[idx[late]]
            # refused: fails after the round trip, never retried
            refused = failed_now & ~rejected
            returned[idx[refused]] = np.minimum(t[refused] + trip[refused],
                                                limit[idx[refused]])
            # 429: retried after Retry-After while the budget and the deadline allow
            rej = rejected & ~failed_now
            got = t + delay
            too_late = rej & (got >= limit[idx])
            returned[idx[too_late]] = limit[idx[too_late]]
            rej &= ~too_late
            if attempt == self.max_retries:
                returned[idx[rej]] = got[rej]
                active[idx] = False
                break
            again = got + self.retry_after
            stop = rej & (again >= limit[idx])
            returned[idx[stop]] = limit[idx[stop]]
            retry = rej & ~stop
            now[idx[retry]] = again[retry]
            active[idx[~retry]] = False
        return ok, returned


def _attempt(calls: _Calls, s: np.ndarray, deadline: np.ndarray, start: np.ndarray,
             end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``tryAcquireOrRenew`` of a leader: fast-path Update, else GET and Update."""
    ok, returned = calls.run(s, deadline, start, end)
    slow = ~ok & (returned < deadline)
    if slow.any():
        i = np.flatnonzero(slow)
        got, at = calls.run(returned[i], deadline[i], start[i], end[i], kind="get")
        returned[i] = at
        j = i[got & (at < deadline[i])]
        if j.size:
            upd, at2 = calls.run(returned[j], deadline[j], start[j], end[j])
            ok[j] = upd
            returned[j] = at2
    return ok, returned


def _cycles(calls: _Calls, rp: float, rd: float, t0: np.ndarray, start: np.ndarray,
            end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run one renew cycle per entry from ``t0``; return ``(renewed, returned)``."""
    n = t0.size
    deadline = t0 + rd
    renewed = np.zeros(n, dtype=bool)
    returned = np.full(n, np.nan)
    s = t0.copy()
    idx = np.arange(n)
    while idx.size:
        ok, r = _attempt(calls, s[idx], deadline[idx], start[idx], end[idx])
        renewed[idx[ok]] = True
        returned[idx[ok]] = r[ok]
        before = np.floor((s[idx] - t0[idx]) / rp + _TICK_TOLERANCE)
        after = np.floor((r - t0[idx]) / rp + _TICK_TOLERANCE)
        nxt = np.where(after > before, r, t0[idx] + (after + 1.0) * rp)
        lost = ~ok & ((r >= deadline[idx]) | (nxt >= deadline[idx] - 1e-12 * rd))
        returned[idx[lost]] = deadline[idx[lost]]
        s[idx] = nxt
        idx = idx[~ok & ~lost]
    return renewed, returned


def simulate_renew_cycles(
    cfg: Any,
    latency: Any,
    n_cycles: int = 100_000,
    rng: np.random.Generator | None = None,
    *,
    rejection: float = 0.0,
    rejection_delay: Any = None,
    retry_after: float = 1.0,
    max_retries: int = 10,
    get_latency: Any = None,
) -> CycleSimulation:
    """Simulate independent renew cycles whose every call draws a random latency.

    Parameters
    ----------
    cfg : ElectionConfig
        Uses ``retry_period``, ``renew_deadline`` and the per-call timeout.
    latency : float, sampler or scipy frozen distribution
        Round trip of a served HTTP attempt: a number, ``latency(rng, size)`` returning
        seconds (``inf`` for no answer), or an object with ``rvs``.
    n_cycles : int
    rng : numpy.random.Generator, optional
    rejection : float
        Probability that an HTTP attempt is answered 429 + Retry-After.
    rejection_delay : float or sampler, optional
        Time to the 429; by default the attempt's drawn round trip.
    retry_after : float
        Seconds slept before a retry.
    max_retries : int
    get_latency : float, sampler or scipy frozen distribution, optional
        Round trip of a served GET (the slow path); default ``latency``.

    Returns
    -------
    CycleSimulation
    """
    rng = np.random.default_rng() if rng is None else rng
    n = int(n_cycles)
    if n < 1:
        raise ValueError(f"n_cycles must be >= 1, got {n_cycles!r}")
    delay = None if rejection_delay is None else _sampler(rejection_delay)
    calls = _Calls(cfg, rng, _sampler(latency), rejection=float(rejection),
                   rejection_delay=delay, retry_after=float(retry_after),
                   max_retries=int(max_retries))
    if get_latency is not None:
        calls.get_latency = _sampler(get_latency)
    never = np.full(n, np.inf)
    renewed, returned = _cycles(calls, float(cfg.retry_period), float(cfg.renew_deadline),
                                np.zeros(n), never, never)
    return CycleSimulation(~renewed, returned, float(cfg.retry_period))


@dataclass(frozen=True, eq=False)
class EpisodeSimulation:
    """Per-trial outcome of :func:`simulate_episodes`.

    Attributes
    ----------
    length : numpy.ndarray
        Episode lengths.
    lost : numpy.ndarray of bool
        The leader's renew loop failed in a cycle that met the episode.
    """

    length: np.ndarray
    lost: np.ndarray

    def loss_probability(self) -> tuple[float, float]:
        """Fraction of episodes that cost the leadership and its standard error."""
        p = float(np.mean(self.lost))
        return p, float(np.sqrt(p * (1.0 - p) / self.lost.size))


def simulate_episodes(
    cfg: Any,
    lengths: Any,
    mode: str = "refuse",
    n_trials: int = 100_000,
    rng: np.random.Generator | None = None,
    *,
    retry_after: float = 1.0,
    rejection_delay: float | None = None,
    episode_latency: float = 0.0,
    max_retries: int = 10,
    warmup_cycles: int = 5,
    background: Any = None,
) -> EpisodeSimulation:
    """Simulate the leader's loop through one episode per trial.

    The loop runs from time 0 with round trips ``cfg.api_latency``; the episode starts at a
    uniform moment in ``[W, W + 10 P)`` (``P = RP + l``, ``W = warmup_cycles * P``) and
    lasts ``T``. Cycles run literally until one renews with an Update acting after the
    episode (survived) or one fails (lost).

    Parameters
    ----------
    lengths : float, array of ``n_trials`` or sampler ``(rng, size) -> seconds``
    mode : {"refuse", "blackhole", "throttled", "latency"}
    rejection_delay : float, optional
        Time to a 429 in a throttled episode; default the round trip.
    episode_latency : float
        Round trip in a ``"latency"`` episode.
    background : float, sampler or scipy frozen distribution, optional
        Round trips of every call (outside episodes, and the refused or throttled answers in
        them); default ``cfg.api_latency``. A cycle that fails before the episode starts
        counts as a loss too (the slow-call losses of that stretch).
    """
    if mode not in MODES:
        raise ValueError(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}")
    rng = np.random.default_rng() if rng is None else rng
    n = int(n_trials)
    if callable(lengths):
        length = np.asarray(lengths(rng, n), dtype=float)
    else:
        length = np.broadcast_to(np.asarray(lengths, dtype=float), (n,)).copy()
    if np.any(~np.isfinite(length)) or np.any(length < 0):
        raise ValueError("episode lengths must be finite and >= 0")
    lat = float(cfg.api_latency)
    rp, rd = float(cfg.retry_period), float(cfg.renew_deadline)
    period = rp + lat
    delay = None if rejection_delay is None else _sampler(rejection_delay)
    trips = _sampler(lat if background is None else background)
    calls = _Calls(cfg, rng, trips, rejection=0.0, rejection_delay=delay,
                   retry_after=float(retry_after), max_retries=int(max_retries), mode=mode,
                   episode_latency=float(episode_latency))
    start = warmup_cycles * period + rng.uniform(0.0, 10.0 * period, n)
    end = start + length
    t0 = rng.uniform(0.0, period, n)  # the loop's first cycle
    lost = np.zeros(n, dtype=bool)
    idx = np.arange(n)
    while idx.size:
        renewed, returned = _cycles(calls, rp, rd, t0[idx], start[idx], end[idx])
        lost[idx[~renewed]] = True
        # a renewal answered after the episode's end: every later call acts after it
        over = renewed & (returned >= end[idx])
        t0[idx] = returned + rp
        idx = idx[renewed & ~over]
    return EpisodeSimulation(length, lost)
