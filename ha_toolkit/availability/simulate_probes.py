"""Monte Carlo oracle for :mod:`ha_toolkit.availability.probes`: the workers, tick by tick.

Independent code (it shares no function with the exact module): every trial draws the
phases of the tickers and of the PLEG relist, then runs the loops literally:

* the prober worker of ``pkg/kubelet/prober/worker.go``: ``doProbe`` runs synchronously,
  the Go ticker fires on its grid and keeps at most one undelivered tick (the others are
  dropped), the worker takes a pending tick at once or waits for the next firing;
* ``doProbe``'s gates: the probe is skipped while ``int(seconds since start) <
  initialDelaySeconds``, liveness and readiness are skipped until the startup probe has
  passed, a startup success triggers one readiness probe at once;
* the kubelet's restart: a liveness kill takes the stop time, ``doBackOff`` waits the
  back-off counted from the old container's exit, an exit is seen at the next relist;
* a load balancer's check (the same loop) and the server's graceful shutdown.

The simulated quantities are returned as arrays of seconds; the tests compare their means
and quantiles with the exact distributions. Sampling error: the standard error of a mean
is ``std / sqrt(n)``.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "simulate_api_tier",
    "simulate_detection",
    "simulate_in_pool_window",
    "simulate_recovery",
    "simulate_shutdown_errors",
    "simulate_startup_detection",
]

# Failures at a time spread over this many seconds of the tickers' clocks: phases uniform.
_HORIZON = 10_000.0


def _check_rng(rng: np.random.Generator) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator")
    return rng


def _failing_probe_time(kind: str, timeout: float) -> float:
    return float(timeout) if kind == "hung" else 0.0


def _ticker_loop(first_fire, period, duration, threshold, max_probes=10_000):
    """When the ``threshold``-th consecutive failing probe ends.

    The worker waits for its ticker at ``first_fire`` (the first firing at or after the
    moment probes start failing). Every probe lasts ``duration``; firings during a probe
    fill the one-slot channel and the extra ones are dropped.
    """
    n = first_fire.size
    start = first_fire.copy()  # start of the current probe
    next_fire = first_fire + period  # the ticker's next firing not yet delivered
    count = np.zeros(n, dtype=np.int64)
    done = np.full(n, np.nan)
    for _ in range(max_probes):
        active = np.isnan(done)
        if not active.any():
            break
        end = start + duration
        count = np.where(active, count + 1, count)
        finished = active & (count >= threshold)
        done[finished] = end[finished]
        # deliver the firings up to the end of the probe: is one pending?
        pending = next_fire <= end
        fired = np.floor((end - next_fire) / period) + 1.0
        after_end = np.where(pending, next_fire + fired * period, next_fire)
        start = np.where(pending, end, after_end)
        next_fire = np.where(pending, after_end, after_end + period)
    return done


def _first_fire_at_or_after(t, phase, period):
    """The first firing at or after ``t`` of a ticker firing at ``phase + k * period``."""
    k = np.ceil((t - phase) / period)
    return phase + k * period


def simulate_detection(
    period: float,
    timeout: float,
    failure_threshold: int,
    failure: str,
    n: int,
    rng: np.random.Generator,
    *,
    relist: float = 1.0,
) -> np.ndarray:
    """Seconds from a failure to the kubelet acting on it, ``n`` trials.

    ``failure`` is ``"exit"`` (seen at the next relist), ``"refusing"`` or ``"hung"``.
    """
    rng = _check_rng(rng)
    fail_at = rng.uniform(0.0, _HORIZON, n)
    if failure == "exit":
        relist_phase = rng.uniform(0.0, relist, n)
        return _first_fire_at_or_after(fail_at, relist_phase, relist) - fail_at
    phase = rng.uniform(0.0, period, n)
    first = _first_fire_at_or_after(fail_at, phase, period)
    d = _failing_probe_time(failure, timeout)
    return _ticker_loop(first, period, d, failure_threshold) - fail_at


def simulate_startup_detection(
    probe, failure: str, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Seconds from a container's start until its startup probe kills it (the server never
    comes up): ticks skipped while ``int(elapsed) < initialDelaySeconds``, then the loop."""
    rng = _check_rng(rng)
    period, timeout, threshold, _, delay = _probe_fields(probe)
    start = rng.uniform(0.0, _HORIZON, n)
    phase = rng.uniform(0.0, period, n)
    tick = _first_fire_at_or_after(start, phase, period)
    for _ in range(100_000):
        early = np.floor(tick - start) < delay
        if not early.any():
            break
        tick = np.where(early, tick + period, tick)
    return _ticker_loop(tick, period, _failing_probe_time(failure, timeout), threshold) - start


def _probe_fields(probe):
    """(period, timeout, failure threshold, success threshold, initial delay) of a mapping
    such as ``{"period": 10, "timeout": 15, ...}`` or of an object with those attributes."""
    get = probe.get if isinstance(probe, dict) else lambda k, d=None: getattr(probe, k, d)
    return (
        float(get("period")),
        float(get("timeout", 1.0)),
        int(get("failure_threshold", 3)),
        int(get("success_threshold", 1)),
        float(get("initial_delay", 0.0)),
    )


def _restart_start(live, failure, restart, n, rng):
    """(failure time, start of the new container) per trial."""
    period, timeout, threshold, _, _ = _probe_fields(live)
    fail_at = rng.uniform(0.0, _HORIZON, n)
    backoff = float(restart["backoff"])
    if failure == "exit":
        relist = float(restart["relist"])
        relist_phase = rng.uniform(0.0, relist, n)
        seen = _first_fire_at_or_after(fail_at, relist_phase, relist)
        # doBackOff: in back-off while now - FinishedAt < backoff; restarted when it ends
        return fail_at, np.maximum(seen, fail_at + backoff)
    phase = rng.uniform(0.0, period, n)
    first = _first_fire_at_or_after(fail_at, phase, period)
    killed_at = _ticker_loop(first, period, _failing_probe_time(failure, timeout), threshold)
    if failure == "hung":
        stop = float(restart["grace_period"])
    else:
        stop = min(float(restart["shutdown_delay"]), float(restart["grace_period"]))
    exited = killed_at + stop
    return fail_at, exited + backoff


def _startup_passes(start, healthy, probe, rng, max_ticks=100_000):
    """When the startup probe passes (NaN when it kills the container first)."""
    period, _, threshold, _, delay = _probe_fields(probe)
    phase = rng.uniform(0.0, period, start.size)
    tick = _first_fire_at_or_after(start, phase, period)
    fails = np.zeros(start.size, dtype=np.int64)
    passed = np.full(start.size, np.nan)
    alive = np.ones(start.size, dtype=bool)
    for _ in range(max_ticks):
        open_ = alive & np.isnan(passed)
        if not open_.any():
            break
        probing = open_ & (np.floor(tick - start) >= delay)
        ok = probing & (tick >= healthy)
        passed[ok] = tick[ok]
        failed = probing & ~ok
        fails = fails + failed
        alive &= ~(failed & (fails >= threshold))
        tick = tick + period
    return passed


def _ready_at(start, healthy, started, probe, rng, max_ticks=100_000):
    """When the readiness probe has succeeded ``successThreshold`` times in a row."""
    period, _, _, success, delay = _probe_fields(probe)
    n = start.size
    run = np.zeros(n, dtype=np.int64)
    ready = np.full(n, np.nan)
    # the manual trigger when the startup probe passes: one probe at once
    trigger = ~np.isnan(started) & (np.floor(started - start) >= delay)
    ok = trigger & (started >= healthy)
    run[ok] = 1
    ready[ok & (success <= 1)] = started[ok & (success <= 1)]
    phase = rng.uniform(0.0, period, n)
    gate = np.where(np.isnan(started), np.inf, started)
    tick = _first_fire_at_or_after(np.where(trigger, started, start), phase, period)
    # a tick at the trigger's own instant is a separate probe: start just after it
    tick = np.where(trigger & (tick <= started), tick + period, tick)
    for _ in range(max_ticks):
        open_ = np.isnan(ready) & np.isfinite(gate)
        if not open_.any():
            break
        probing = open_ & (np.floor(tick - start) >= delay) & (tick >= gate)
        success_now = probing & (tick >= healthy)
        run = np.where(success_now, run + 1, np.where(probing, 0, run))
        hit = success_now & (run >= success)
        ready[hit] = tick[hit]
        tick = tick + period
    return ready


def simulate_recovery(
    liveness,
    failure: str,
    restart: dict,
    n: int,
    rng: np.random.Generator,
    *,
    readiness=None,
    startup_probe=None,
) -> dict[str, np.ndarray]:
    """Seconds from a failure until the server serves again and until the pod is Ready.

    Parameters
    ----------
    liveness, readiness, startup_probe
        Probes as mappings (or objects) with ``period``, ``timeout``,
        ``failure_threshold``, ``success_threshold``, ``initial_delay``.
    restart : dict
        ``startup``, ``grace_period``, ``shutdown_delay``, ``backoff`` (the wait of this
        restart), ``relist``.

    Returns
    -------
    dict
        ``serving`` and ``ready`` (arrays; NaN for the trials where the new container was
        killed before it started) and ``killed`` (bool array).
    """
    rng = _check_rng(rng)
    fail_at, start = _restart_start(liveness, failure, restart, n, rng)
    healthy = start + float(restart["startup"])
    if startup_probe is not None:
        started = _startup_passes(start, healthy, startup_probe, rng)
        killed = np.isnan(started)
    else:
        started = np.full(n, np.nan)
        killed = np.zeros(n, dtype=bool)
        lp, _, lf, _, ld = _probe_fields(liveness)
        # no startup probe: the liveness probe guards the start
        phase = rng.uniform(0.0, lp, n)
        first = _first_fire_at_or_after(start, phase, lp)
        while True:
            early = np.floor(first - start) < ld
            if not early.any():
                break
            first = np.where(early, first + lp, first)
        killed = first + (lf - 1) * lp < healthy
    if readiness is None:
        # no readiness probe: Ready once started (at the start without a startup probe)
        ready = started if startup_probe is not None else start
    elif startup_probe is not None:
        ready = _ready_at(start, healthy, started, readiness, rng)
    else:
        ready = _ready_without_startup(start, healthy, readiness, rng)
    serving = np.where(killed, np.nan, healthy - fail_at)
    return {"serving": serving, "ready": np.where(killed, np.nan, ready - fail_at),
            "killed": killed}


def _ready_without_startup(start, healthy, probe, rng):
    period, _, _, success, delay = _probe_fields(probe)
    n = start.size
    phase = rng.uniform(0.0, period, n)
    tick = _first_fire_at_or_after(start, phase, period)
    run = np.zeros(n, dtype=np.int64)
    ready = np.full(n, np.nan)
    for _ in range(1_000_000):
        open_ = np.isnan(ready)
        if not open_.any():
            break
        probing = open_ & (np.floor(tick - start) >= delay)
        ok = probing & (tick >= healthy)
        run = np.where(ok, run + 1, np.where(probing, 0, run))
        hit = ok & (run >= success)
        ready[hit] = tick[hit]
        tick = tick + period
    return ready


def simulate_in_pool_window(
    lb,
    liveness,
    failure: str,
    restart: dict,
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Seconds a failed replica stays in the load balancer's pool while not serving."""
    rng = _check_rng(rng)
    serving = simulate_recovery(liveness, failure, restart, n, rng)["serving"]
    period, timeout, threshold, _, _ = _probe_fields(lb)
    kind = "hung" if failure == "hung" else "refusing"
    phase = rng.uniform(0.0, period, n)
    first = _first_fire_at_or_after(np.zeros(n), phase, period)
    removed = _ticker_loop(first, period, _failing_probe_time(kind, timeout), threshold)
    return np.minimum(removed, serving)


def simulate_shutdown_errors(
    lb,
    shutdown_delay: float,
    n: int,
    rng: np.random.Generator,
    *,
    send_retry_after: bool = False,
    drain: float = 0.0,
    grace_period: float = 30.0,
    lb_checks_readyz: bool = True,
    request_rate: float | None = None,
    replicas: int = 3,
) -> dict[str, np.ndarray]:
    """A rolling restart of one replica, SIGTERM at 0: refused and 429 seconds per trial.

    With ``request_rate``, also ``failed``: the number of failed requests per trial among
    Poisson arrivals at that rate, each sent to this replica with probability
    ``1 / replicas``.
    """
    rng = _check_rng(rng)
    period, _, threshold, _, _ = _probe_fields(lb)
    # the server: serving until the delay ends (or SIGKILL), then 429 while draining
    accepting_until = min(shutdown_delay, grace_period)
    closed_at = accepting_until
    if send_retry_after:
        closed_at = min(accepting_until + drain, grace_period)
    checks_fail_from = 0.0 if lb_checks_readyz else closed_at
    phase = rng.uniform(0.0, period, n)
    first = _first_fire_at_or_after(np.full(n, checks_fail_from), phase, period)
    removed = _ticker_loop(first, period, 0.0, threshold)
    refused = np.maximum(removed - closed_at, 0.0)
    retried = np.clip(removed - accepting_until, 0.0, closed_at - accepting_until)
    out = {"refused_seconds": refused, "retry_seconds": retried}
    if request_rate is not None:
        out["failed"] = rng.poisson(request_rate / replicas * refused)
    return out


def _episodes(per_year, kind, liveness, restart, readiness, startup_probe, lb, horizon, rng):
    """Serving-again and LB-removal delays of the failures of one kind over ``horizon``."""
    count = rng.poisson(per_year * horizon / _YEAR)
    if count == 0:
        return np.zeros(0), np.zeros(0)
    out = simulate_recovery(liveness, kind, restart, count, rng, readiness=readiness,
                            startup_probe=startup_probe)
    serving = out["serving"]
    period, timeout, threshold, _, _ = _probe_fields(lb)
    lb_kind = "hung" if kind == "hung" else "refusing"
    first = rng.uniform(0.0, period, count)
    removed = _ticker_loop(first, period, _failing_probe_time(lb_kind, timeout), threshold)
    return serving, removed


_YEAR = 365.0 * 86400.0


def simulate_api_tier(
    replicas: int,
    crashes_per_year: float,
    hangs_per_year: float,
    liveness,
    restart: dict,
    lb,
    years: float,
    rng: np.random.Generator,
    *,
    readiness=None,
    startup_probe=None,
) -> dict[str, float]:
    """Fraction of requests failed by API server processes that crash and hang.

    Each replica runs up for exponential times (crashes and hangs as independent Poisson
    processes, ``per_year`` each), then fails: its serving-again time and the load
    balancer's removal come from the tick-by-tick loops of :func:`simulate_recovery` and
    of a load balancer check started at a uniform phase. Requests spread evenly over the
    replicas in the pool; those sent to a failed replica still in the pool fail, all fail
    when no replica serves.

    Returns
    -------
    dict
        ``failed_fraction`` (time average of failed requests), ``all_down`` (fraction of
        time with no replica serving) and ``in_pool`` (``failed_fraction - all_down``:
        the part lost while some replica served).
    """
    rng = _check_rng(rng)
    horizon = float(years) * _YEAR
    rate = (crashes_per_year + hangs_per_year) / _YEAR
    times, d_up, d_dead = [], [], []
    for _ in range(int(replicas)):
        # the failure epochs: up times between them, each failure then takes its episode
        kinds = []
        for kind, per_year in (("exit", crashes_per_year), ("hung", hangs_per_year)):
            if per_year > 0:
                # more episodes than the horizon can hold; the surplus is cut below
                serving, removed = _episodes(per_year, kind, liveness, restart, readiness,
                                             startup_probe, lb, 2.0 * horizon, rng)
                kinds.append((serving, removed))
        serving = np.concatenate([k[0] for k in kinds])
        removed = np.concatenate([k[1] for k in kinds])
        order = rng.permutation(serving.size)  # kinds mixed in proportion to their rates
        serving, removed = serving[order], removed[order]
        ups = rng.exponential(1.0 / rate, serving.size)
        starts = np.cumsum(ups + np.concatenate(([0.0], serving[:-1])))
        keep = starts < horizon
        starts, serving, removed = starts[keep], serving[keep], removed[keep]
        back = starts + serving
        dead_end = starts + np.minimum(removed, serving)
        times += [starts, dead_end, back]
        d_up += [-np.ones(starts.size), np.zeros(starts.size), np.ones(starts.size)]
        d_dead += [np.ones(starts.size), -np.ones(starts.size), np.zeros(starts.size)]
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    t = np.clip(t[order], 0.0, horizon)
    up = replicas + np.cumsum(np.concatenate(d_up)[order])
    dead = np.cumsum(np.concatenate(d_dead)[order])
    widths = np.diff(np.concatenate((t, [horizon])))
    pool = up + dead
    failed = np.where(up > 0, dead / np.maximum(pool, 1), 1.0)
    # before the first event every replica is up and nothing fails
    failed_fraction = float(failed @ widths) / horizon
    all_down = float((up <= 0) @ widths) / horizon
    return {"failed_fraction": failed_fraction, "all_down": all_down,
            "in_pool": failed_fraction - all_down}
