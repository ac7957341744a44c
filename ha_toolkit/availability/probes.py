"""Kubelet probes, restarts and graceful shutdown of the API server, as they run.

Detection (:func:`detection`)
    The kubelet runs one prober worker per probe of a container (kubernetes
    ``pkg/kubelet/prober/worker.go``, ``worker.run`` and ``worker.doProbe``). The worker
    calls ``doProbe`` synchronously, then waits on a ``time.Ticker`` of ``periodSeconds``.
    Go's ticker channel holds at most one pending tick and drops the others (also with
    Go 1.23's synchronous timer channels, which keep that one tick inside the runtime), so:

    * a probe shorter than the period starts on every tick;
    * a probe that lasts ``d >= period`` (one that times out after ``timeoutSeconds``) is
      followed at once by the next one: the tick that fired meanwhile is pending.

    Consecutive failures are counted in ``resultRun``; the result flips when it reaches
    ``failureThreshold`` (``successThreshold`` for successes). A failure at a moment
    independent of the ticker is first probed after a residual ``U * period`` (U uniform
    on [0, 1)), so with probe duration ``d`` (0 for refused connections, ``timeoutSeconds``
    for a hung server, whose HTTP probe fails on the client's timeout)::

        D = U * period + (failureThreshold - 1) * max(period, d) + d

    kubeadm's liveness probe (period 10 s, timeout 15 s, threshold 8) thus restarts a hung
    API server 120 to 130 s after it hung, not the 80 s that ``threshold * period``
    suggests. A process that exits needs no probe: the kubelet sees the exit at its next
    PLEG relist (``genericPlegRelistPeriod``, 1 s, ``pkg/kubelet/kubelet.go``).

Restart (:func:`serving_again`, :func:`recovery`, :func:`backoff_schedule`)
    After a liveness failure the kubelet kills the container (``terminationGracePeriodSeconds``,
    default 30 s, bounds the stop) and starts a new one in the same pod sync. Restarts are
    rate limited by ``flowcontrol.Backoff`` (client-go ``util/flowcontrol/backoff.go``) as
    ``kuberuntime_manager.go`` ``doBackOff`` uses it: the first restart after a quiet
    period is immediate; each further one waits ``10 s * 2**(k-1)``, at most 300 s
    (``backOffPeriod``, ``MaxContainerBackOff`` in ``pkg/kubelet``), counted from the old
    container's exit;
    the back-off starts over when the container ran more than ``2 * 300 s`` since the last
    restart (``hasExpired``).

    The new container is gated by its probes: probes are skipped while the container has
    run less than ``initialDelaySeconds``; liveness and readiness are skipped until the
    startup probe has passed; when the startup probe passes, the status update triggers
    the readiness probe at once (``prober_manager.go`` ``UpdatePodStatus``, the manual
    trigger), so with ``successThreshold`` 1 the pod is Ready as soon as it has started.

Load balancer (:func:`in_pool_window`)
    A load balancer's own health check behaves like a probe; a replica it has not yet
    removed receives ``1/M`` of the requests (M replicas in the pool), and they fail until
    it is removed or serves again: the window is ``min(D_lb, H)``.

Graceful shutdown (:func:`shutdown_errors`)
    On SIGTERM the API server's ``/readyz`` fails at once while it keeps serving for
    ``--shutdown-delay-duration`` (apiserver ``pkg/server/options/server_run_options.go``,
    the flag's help; ``pkg/server/genericapiserver.go``, the ``ShutdownInitiated`` and
    ``AfterShutdownDelayDuration`` lifecycle signals). After the delay it stops accepting
    connections; with ``--shutdown-send-retry-after`` it keeps listening until the
    in-flight requests have drained and answers new ones with 429 and ``Retry-After`` (a
    client-go client retries them). The kubelet kills the process at the end of the pod's
    grace period whatever the delay. Requests sent to the replica after it stopped
    accepting and before the load balancer removed it fail.

Modelling assumptions: the probes' ticker phases are independent of the moments of
failure and container start (exactly so after a kubelet restart, when each worker first
sleeps a random part of its period, ``worker.run``; otherwise the stop, start and relist
latencies of a restart, which vary by seconds, blur the alignment); a healthy probe takes
no time; the server becomes live and ready ``startup`` seconds after its container starts.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ha_toolkit.distribution import Distribution, measure_sum, min_of, point, uniform
from ha_toolkit.durations import parse_duration

__all__ = [
    "BACKOFF_INITIAL",
    "BACKOFF_MAX",
    "BACKOFF_RESET",
    "FAILURES",
    "KUBEADM_LIVENESS",
    "KUBEADM_READINESS",
    "KUBEADM_STARTUP",
    "PLEG_RELIST_PERIOD",
    "Probe",
    "Restart",
    "backoff_delay",
    "backoff_schedule",
    "detection",
    "in_pool_window",
    "probe_duration",
    "ready_after_start",
    "recovery",
    "serving_again",
    "shutdown_errors",
    "startup_detection",
    "startup_kill_probability",
]

#: ``genericPlegRelistPeriod`` (kubernetes ``pkg/kubelet/kubelet.go``): how often the
#: kubelet lists containers and so notices an exit.
PLEG_RELIST_PERIOD = 1.0
#: ``backOffPeriod`` and ``MaxContainerBackOff`` (kubernetes ``pkg/kubelet``).
BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
#: client-go ``flowcontrol.hasExpired``: the back-off starts over after ``2 * max``.
BACKOFF_RESET = 2.0 * BACKOFF_MAX

#: How the process fails: it exits, it refuses connections (probes fail at once), or it
#: hangs (every probe runs into its timeout).
FAILURES = ("exit", "refusing", "hung")

# Lattice points across the longest distribution built here (grid error well below 0.1 %).
_POINTS = 4000
# At most this many when the shortest probe period needs a finer step than _POINTS gives
# (a second's step over a few days: still well under a second to compute).
_MAX_POINTS = 400_000


def _seconds(value: Any, name: str, *, positive: bool = False) -> float:
    seconds = parse_duration(value, name=name)
    if not math.isfinite(seconds):
        raise ValueError(f"invalid {name} {value!r}: must be finite")
    if positive and not seconds > 0:
        raise ValueError(f"invalid {name} {value!r}: must be > 0")
    if seconds < 0:
        raise ValueError(f"invalid {name} {value!r}: must be >= 0")
    return seconds


def _count(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"invalid {name} {value!r}: expected a whole number >= {low}")
    if value < low:
        raise ValueError(f"invalid {name} {value!r}: must be >= {low}")
    return int(value)


def _failure(value: Any) -> str:
    if value not in FAILURES:
        raise ValueError(f"invalid failure {value!r}: expected one of {', '.join(FAILURES)}")
    return str(value)


# ------------------------------------------------------------------------------ probe
@dataclass(frozen=True)
class Probe:
    """A probe's timing settings (``v1.Probe``), or a load balancer's health check.

    Parameters
    ----------
    period : duration, default 10 s
        ``periodSeconds`` (> 0).
    timeout : duration, default 1 s
        ``timeoutSeconds`` (> 0): a probe of a hung server fails after this long.
    failure_threshold : int, default 3
        ``failureThreshold``: consecutive failures that flip the result.
    success_threshold : int, default 1
        ``successThreshold``: consecutive successes that flip it back (1 for liveness and
        startup probes, which the API validation enforces).
    initial_delay : duration, default 0
        ``initialDelaySeconds``: no probe while the container has run less than this.

    Notes
    -----
    The defaults are those of the API (kubernetes ``pkg/apis/core/v1/defaults.go``,
    ``SetDefaults_Probe``). For a load balancer, ``period`` is its interval, ``timeout``
    its check timeout and ``failure_threshold`` its fall count (HAProxy ``fall``).
    """

    period: float = 10.0
    timeout: float = 1.0
    failure_threshold: int = 3
    success_threshold: int = 1
    initial_delay: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "period", _seconds(self.period, "period", positive=True))
        object.__setattr__(self, "timeout", _seconds(self.timeout, "timeout", positive=True))
        object.__setattr__(
            self, "failure_threshold", _count(self.failure_threshold, "failure_threshold")
        )
        object.__setattr__(
            self, "success_threshold", _count(self.success_threshold, "success_threshold")
        )
        object.__setattr__(self, "initial_delay", _seconds(self.initial_delay, "initial_delay"))

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Probe:
        """A probe from a manifest's ``livenessProbe`` (or readiness, startup) mapping.

        Absent fields take the API defaults; present ones must be whole numbers (the
        fields are ``int32`` seconds).
        """
        if not isinstance(spec, Mapping):
            raise ValueError(f"invalid probe {spec!r}: expected a mapping")
        values = {}
        for key, field, default, low in (
            ("periodSeconds", "period", 10, 1),
            ("timeoutSeconds", "timeout", 1, 1),
            ("failureThreshold", "failure_threshold", 3, 1),
            ("successThreshold", "success_threshold", 1, 1),
            ("initialDelaySeconds", "initial_delay", 0, 0),
        ):
            raw = spec.get(key, default)
            values[field] = _count(raw, key, low)
        return cls(**values)

    def probe_duration(self, failure: str) -> float:
        """How long one probe takes while the server has failed in this way."""
        return probe_duration(self, failure)

    def spacing(self, failure: str) -> float:
        """Time between the starts of two failing probes: ``max(period, duration)``."""
        return max(self.period, probe_duration(self, failure))


#: kubeadm's probes of kube-apiserver (kubernetes ``cmd/kubeadm/app/util/staticpod/utils.go``:
#: ``LivenessProbe``, ``ReadinessProbe``, ``StartupProbe``; the startup probe's threshold
#: is the control-plane health-check timeout, 4 min, over its 10 s period).
KUBEADM_LIVENESS = Probe(period=10, timeout=15, failure_threshold=8, initial_delay=10)
KUBEADM_READINESS = Probe(period=1, timeout=15, failure_threshold=3)
KUBEADM_STARTUP = Probe(period=10, timeout=15, failure_threshold=24, initial_delay=10)


def probe_duration(probe: Probe, failure: str) -> float:
    """Duration of one failing probe: 0 when refused, ``timeout`` when the server hangs."""
    failure = _failure(failure)
    if failure == "exit":
        raise ValueError("invalid failure 'exit': a process that exits is not probed")
    return probe.timeout if failure == "hung" else 0.0


def _step(span: float, step: float | None, finest: float | None = None) -> float:
    """The lattice step: given, or the smallest of 1, 2, 5 times a power of ten that puts
    at most about ``_POINTS`` points across ``span``. Probe settings are whole seconds, so
    such a step puts every tick and threshold on the lattice and keeps them exact.

    ``finest`` is the shortest period of the probes involved: a uniform residual over it
    needs at least one step, so the step is not coarser than it (a long span over a short
    period then takes more points, up to ``_MAX_POINTS``).

    Raises
    ------
    ValueError
        When the span is not finite, or needs more than ``_MAX_POINTS`` steps of the
        shortest period (a failure threshold or timeouts far beyond any real probe).
    """
    if step is not None:
        return _seconds(step, "step", positive=True)
    if not math.isfinite(span):
        raise ValueError("invalid probe settings: the time they span is not finite; "
                         "give periods, timeouts and delays of at most a day")
    h = _one_two_five_at_least(max(span, 1.0) / _POINTS)
    if finest is not None and h > finest:
        h = _one_two_five_at_most(finest)
        if span / h > _MAX_POINTS:
            raise ValueError(
                f"invalid probe settings: failure_threshold x max(period, timeout) and the "
                f"delays span {span:.6g} s, more than {_MAX_POINTS} steps of {h:g} s (the "
                f"shortest period is {finest:g} s); lower the failure threshold or timeout"
            )
    return h


def _one_two_five_at_least(raw: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``raw`` (> 0)."""
    decade = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * decade >= raw * (1 - 1e-12):
            return factor * decade
    return 10.0 * decade


def _one_two_five_at_most(raw: float) -> float:
    """The largest of 1, 2, 5 times a power of ten that is at most ``raw`` (> 0)."""
    decade = 10.0 ** math.floor(math.log10(raw))
    for factor in (10.0, 5.0, 2.0, 1.0):
        if factor * decade <= raw * (1 + 1e-12):
            return factor * decade
    return decade / 2.0


def _residual(period: float, step: float) -> Distribution:
    """The wait from a moment independent of a ticker to its next tick: U[0, period)."""
    return uniform(0.0, period, step, origin=0.0)


# ------------------------------------------------------------------------------ detection
def detection(
    probe: Probe,
    failure: str,
    *,
    relist: float | str = PLEG_RELIST_PERIOD,
    step: float | None = None,
) -> Distribution:
    """Time from a failure to the kubelet acting on it.

    Parameters
    ----------
    probe : Probe
        The liveness probe.
    failure : {"exit", "refusing", "hung"}
        ``"exit"``: seen at the next PLEG relist, ``U[0, relist)``; otherwise the
        ``failureThreshold``-th failing probe ends at
        ``U * period + (failureThreshold - 1) * max(period, d) + d`` (module docstring).
    relist : duration, default 1 s
        The PLEG relist period.
    step : float, optional
        Lattice step of the result.

    Returns
    -------
    Distribution
    """
    if not isinstance(probe, Probe):
        raise ValueError(f"invalid probe {probe!r}: expected a Probe")
    failure = _failure(failure)
    if failure == "exit":
        lo = _seconds(relist, "relist", positive=True)
        return uniform(0.0, lo, _step(lo, step), origin=0.0)
    d = probe_duration(probe, failure)
    offset = (probe.failure_threshold - 1) * probe.spacing(failure) + d
    h = _step(offset + probe.period, step, probe.period)
    return _residual(probe.period, h).shift(offset)


def startup_detection(
    probe: Probe, failure: str, *, step: float | None = None
) -> Distribution:
    """Time from a container's start until its startup probe kills it, when the server
    never comes up (a crash loop: etcd unreachable, a bad flag that hangs).

    The first probe runs at the first tick at which the container has run
    ``initialDelaySeconds`` (``int(seconds since start) < initialDelaySeconds`` skips
    it; whole-second delays make that ``elapsed >= delay``), then failures are spaced by
    ``max(period, d)``: ``delay + U * period + (failureThreshold - 1) * max(period, d) + d``.
    ``failure`` is ``"refusing"`` (not listening yet) or ``"hung"``. kubeadm's startup
    probe (10 s x 24, timeout 15 s, delay 10 s) kills a hung server after 370 to 380 s.
    """
    if not isinstance(probe, Probe):
        raise ValueError(f"invalid probe {probe!r}: expected a Probe")
    failure = _failure(failure)
    if failure == "exit":
        raise ValueError("invalid failure 'exit': an exiting container is restarted at once, "
                         "its startup probe is not involved")
    d = probe_duration(probe, failure)
    offset = probe.initial_delay + (probe.failure_threshold - 1) * probe.spacing(failure) + d
    h = _step(offset + probe.period, step, probe.period)
    return _residual(probe.period, h).shift(offset)


# ------------------------------------------------------------------------------ restart
def backoff_delay(restarts: int) -> float:
    """The kubelet's wait before a restart, after ``restarts`` recent back-off restarts.

    0 for the first restart after a quiet period, then 10, 20, 40, ... 300 s (see the
    module docstring).
    """
    k = _count(restarts, "restarts", 0)
    if k == 0:
        return 0.0
    return min(BACKOFF_INITIAL * 2.0 ** min(k - 1, 60), BACKOFF_MAX)


def backoff_schedule(run_times: Any) -> list[float]:
    """Back-off waits of successive restarts of a container that runs ``run_times[i]``
    seconds (from its start to its exit) before failing.

    A run that, counted from the previous restart, lasted more than :data:`BACKOFF_RESET`
    starts the back-off over (``hasExpired`` compares the exit with the moment of the
    previous restart).

    Returns
    -------
    list of float
        The wait before each restart.
    """
    waits: list[float] = []
    backoff = None  # current back-off window; None before the first restart
    for i, raw in enumerate(run_times):
        run = _seconds(raw, f"run_times[{i}]")
        # the previous restart happened when the previous wait ended, just before this run
        if backoff is None or run > BACKOFF_RESET:
            waits.append(0.0)
            backoff = BACKOFF_INITIAL
        else:
            waits.append(backoff)
            backoff = min(2.0 * backoff, BACKOFF_MAX)
    return waits


@dataclass(frozen=True)
class Restart:
    """What happens between the kubelet's decision and the server serving again.

    Parameters
    ----------
    startup : duration, default 20 s
        Time from the container's start until ``/livez`` and ``/readyz`` pass (start-up,
        etcd connection, informer caches, post-start hooks).
    grace_period : duration, default 30 s
        ``terminationGracePeriodSeconds`` of the pod: a hung process is killed (SIGKILL)
        after it.
    shutdown_delay : duration, default 0
        ``--shutdown-delay-duration``: a live process killed by its liveness probe (a
        refusing one) first serves out this delay, capped by the grace period.
    recent_restarts : int, default 0
        Back-off restarts since the back-off last started over (see
        :func:`backoff_delay`).
    relist : duration, default 1 s
        The PLEG relist period.
    """

    startup: float = 20.0
    grace_period: float = 30.0
    shutdown_delay: float = 0.0
    recent_restarts: int = 0
    relist: float = PLEG_RELIST_PERIOD

    def __post_init__(self) -> None:
        object.__setattr__(self, "startup", _seconds(self.startup, "startup"))
        object.__setattr__(self, "grace_period", _seconds(self.grace_period, "grace_period"))
        object.__setattr__(
            self, "shutdown_delay", _seconds(self.shutdown_delay, "shutdown_delay")
        )
        object.__setattr__(
            self, "recent_restarts", _count(self.recent_restarts, "recent_restarts", 0)
        )
        object.__setattr__(self, "relist", _seconds(self.relist, "relist", positive=True))

    @property
    def backoff(self) -> float:
        """The wait before the restart."""
        return backoff_delay(self.recent_restarts)

    def stop_time(self, failure: str) -> float:
        """Time to stop the old container after the liveness failure.

        0 for an exit (already stopped); the grace period for a hung process (it never
        finishes its shutdown, SIGKILL ends it); ``min(shutdown_delay, grace_period)`` for
        a refusing one, which runs its graceful shutdown.
        """
        failure = _failure(failure)
        if failure == "exit":
            return 0.0
        if failure == "hung":
            return self.grace_period
        return min(self.shutdown_delay, self.grace_period)


def _restart_gap(failure: str, restart: Restart, live: Probe, step: float) -> Distribution:
    """Time from the failure until the new container starts."""
    if failure == "exit":
        # the kubelet acts at its relist; a back-off counts from the exit itself
        seen = uniform(0.0, restart.relist, step, origin=0.0)
        wait = restart.backoff
        if wait <= 0:
            return seen
        if wait >= restart.relist:
            return point(wait, step)
        below, above = seen.split_at(wait)
        return measure_sum(_scaled_point(wait, below.total, step), above)
    det = detection(live, failure, step=step)
    return det.shift(restart.stop_time(failure) + restart.backoff)


def _scaled_point(t: float, mass: float, step: float) -> Distribution:
    return Distribution(t, step, [mass], [], _defective=True)


def serving_again(
    liveness: Probe,
    failure: str,
    restart: Restart | None = None,
    *,
    step: float | None = None,
) -> Distribution:
    """Time from a failure until the restarted API server serves again (healthy).

    ``H = gap + startup`` where the gap is the relist (exit, plus its back-off) or the
    liveness detection, the stop and the back-off (refusing, hung).
    """
    if not isinstance(liveness, Probe):
        raise ValueError(f"invalid liveness {liveness!r}: expected a Probe")
    failure = _failure(failure)
    r = Restart() if restart is None else restart
    if not isinstance(r, Restart):
        raise ValueError(f"invalid restart {restart!r}: expected a Restart")
    span = _span(liveness, failure, r)
    h = _step(span, step, _finest(failure, r, liveness))
    return _restart_gap(failure, r, liveness, h).shift(r.startup)


def _finest(failure: str, r: Restart, *probes: Probe | None) -> float:
    """The shortest period a restart's distributions are uniform over: the probes', and
    the relist's when the process exits (only then does the kubelet wait for a relist)."""
    periods = [p.period for p in probes if p is not None]
    if failure == "exit":
        periods.append(r.relist)
    return min(periods)


def _span(liveness: Probe, failure: str, r: Restart) -> float:
    span = r.startup + r.backoff + r.relist + r.grace_period + 2 * liveness.period
    if failure != "exit":
        span += liveness.failure_threshold * liveness.spacing(failure) + liveness.timeout
    return span


def ready_after_start(
    restart: Restart,
    readiness: Probe | None = None,
    startup_probe: Probe | None = None,
    *,
    step: float = 0.01,
) -> Distribution:
    """Time from the container's start until the kubelet reports it Ready.

    With a startup probe: it passes at its first tick at or after
    ``max(startup, initialDelay_s)``, i.e. ``A = max(startup, delay_s) + U_s * period_s``;
    the readiness probe then runs at once (manual trigger) unless its own initial delay
    has not passed, in which case it waits for its first tick after that delay::

        Ready = A                          if A >= delay_r
              = delay_r + U_r * period_r   otherwise

    and each further success of ``successThreshold`` comes at a later readiness tick
    (the first after a residual ``U_r * period_r``). Without a startup probe: the first
    readiness tick at or after ``max(startup, delay_r)``, then
    ``(successThreshold - 1) * period_r`` more. Without a readiness probe the container
    is Ready once started (once the startup probe has passed).
    """
    h = step
    if startup_probe is not None:
        a = _residual(startup_probe.period, h).shift(
            max(restart.startup, startup_probe.initial_delay)
        )
        if readiness is None:
            return a
        extra = readiness.success_threshold - 1
        below, above = a.split_at(readiness.initial_delay)
        # triggered at once: the first success; the others come at the following ticks
        parts = [above + _tick_run(readiness, extra, h) if extra else above]
        if below.total > 0:
            later = _residual(readiness.period, h).shift(
                readiness.initial_delay + extra * readiness.period
            )
            parts.append(_scaled(later, below.total))
        return measure_sum(*parts)
    if readiness is not None:
        first = _residual(readiness.period, h).shift(max(restart.startup, readiness.initial_delay))
        return first.shift((readiness.success_threshold - 1) * readiness.period)
    return point(0.0, h)


def _tick_run(probe: Probe, count: int, step: float) -> Distribution:
    """Time of ``count`` more ticks after a moment independent of the ticker."""
    return _residual(probe.period, step).shift((count - 1) * probe.period)


def _scaled(d: Distribution, mass: float) -> Distribution:
    return Distribution(d.t0, d.step, d.atoms * mass, d.cells * mass, _defective=True)


def recovery(
    liveness: Probe,
    failure: str,
    restart: Restart | None = None,
    *,
    readiness: Probe | None = None,
    startup_probe: Probe | None = None,
    step: float | None = None,
) -> Distribution:
    """Time from a failure until the kubelet reports the new container Ready.

    The restart gap of :func:`serving_again` plus :func:`ready_after_start`. Assumes the
    new container is not killed during its start (see :func:`startup_kill_probability`).
    """
    if not isinstance(liveness, Probe):
        raise ValueError(f"invalid liveness {liveness!r}: expected a Probe")
    failure = _failure(failure)
    r = Restart() if restart is None else restart
    if not isinstance(r, Restart):
        raise ValueError(f"invalid restart {restart!r}: expected a Restart")
    for name, p in (("readiness", readiness), ("startup_probe", startup_probe)):
        if p is not None and not isinstance(p, Probe):
            raise ValueError(f"invalid {name} {p!r}: expected a Probe")
    span = _span(liveness, failure, r)
    for p in (readiness, startup_probe):
        if p is not None:
            span += p.period * p.success_threshold + p.initial_delay
    h = _step(span, step, _finest(failure, r, liveness, readiness, startup_probe))
    return _restart_gap(failure, r, liveness, h) + ready_after_start(
        r, readiness, startup_probe, step=h
    )


def startup_kill_probability(
    startup: float | str, liveness: Probe, startup_probe: Probe | None = None
) -> float:
    """Probability that a new container is killed before it has started.

    Before the server is up, probes fail at once (connection refused). The probe that
    guards the start (the startup probe, else the liveness probe) trips at its
    ``failureThreshold``-th tick from ``initialDelay``: at
    ``delay + U * period + (failureThreshold - 1) * period``; the container is killed when
    that comes before ``startup``.
    """
    t = _seconds(startup, "startup")
    guard = liveness if startup_probe is None else startup_probe
    if not isinstance(guard, Probe):
        raise ValueError(f"invalid probe {guard!r}: expected a Probe")
    earliest = guard.initial_delay + (guard.failure_threshold - 1) * guard.period
    return float(min(max((t - earliest) / guard.period, 0.0), 1.0))


# ------------------------------------------------------------------------------ load balancer
def in_pool_window(
    lb: Probe,
    failure: str,
    liveness: Probe = KUBEADM_LIVENESS,
    restart: Restart | None = None,
    *,
    step: float | None = None,
) -> Distribution:
    """How long a failed replica keeps receiving (and failing) its share of requests.

    ``min(D_lb, H)``: the load balancer's detection (its check fails in 0 s when the
    process is gone or refuses, after its timeout when it hangs) or the server serving
    again, whichever comes first. Multiply the mean by ``1/M`` and the request rate for
    the requests lost.
    """
    if not isinstance(lb, Probe):
        raise ValueError(f"invalid lb {lb!r}: expected a Probe")
    failure = _failure(failure)
    r = Restart() if restart is None else restart
    kind = "refusing" if failure == "exit" else failure
    span = max(_span(liveness, failure, r), lb.failure_threshold * lb.spacing(kind) + lb.period)
    h = _step(span, step, _finest(failure, r, liveness, lb))
    d = lb.probe_duration(kind)
    d_lb = _residual(lb.period, h).shift((lb.failure_threshold - 1) * lb.spacing(kind) + d)
    return min_of(d_lb, serving_again(liveness, failure, r, step=h))


# ------------------------------------------------------------------------------ shutdown
@dataclass(frozen=True)
class ShutdownErrors:
    """Requests a replica fails while it shuts down (see :func:`shutdown_errors`).

    Attributes
    ----------
    error_window : Distribution
        Seconds during which the replica refuses requests the load balancer still sends.
    retry_window : Distribution
        Seconds during which it answers 429 with ``Retry-After`` (client-go retries).
    mean_error_seconds, mean_retry_seconds : float
        Their means.
    replicas : int
        Replicas in the pool; each gets ``1/replicas`` of the requests.
    """

    error_window: Distribution
    retry_window: Distribution
    mean_error_seconds: float
    mean_retry_seconds: float
    replicas: int

    def failed_fraction(self, upgrade_seconds: float) -> float:
        """Fraction of all requests that fail during an upgrade of one replica that takes
        ``upgrade_seconds``."""
        span = _seconds(upgrade_seconds, "upgrade_seconds", positive=True)
        return self.mean_error_seconds / self.replicas / span

    def failed_requests(self, request_rate: float) -> float:
        """Expected failed requests per upgraded replica at ``request_rate`` per second."""
        return self.mean_error_seconds / self.replicas * _seconds(request_rate, "request_rate")


def shutdown_errors(
    lb: Probe,
    shutdown_delay: float | str = 0.0,
    *,
    send_retry_after: bool = False,
    drain: float | str = 0.0,
    grace_period: float | str = 30.0,
    lb_checks_readyz: bool = True,
    replicas: int = 3,
    step: float | None = None,
) -> ShutdownErrors:
    """Requests lost when one API server is stopped gracefully (a rolling upgrade).

    The replica stops accepting at ``S = min(shutdown_delay, grace_period)`` (plus
    ``drain`` with ``--shutdown-send-retry-after``, during which new requests get 429).
    A load balancer that checks ``/readyz`` starts failing its checks at SIGTERM (fast 500
    answers): it removes the replica after ``D = U * interval + (fall - 1) * interval``.
    One that checks ``/livez`` or TCP only notices when connections are refused, so ``D``
    starts at the stop. The error window is ``max(0, D - stop)``.

    Parameters
    ----------
    lb : Probe
        The load balancer's check (period = interval, failure_threshold = fall).
    shutdown_delay : duration
        ``--shutdown-delay-duration`` (default 0).
    send_retry_after : bool
        ``--shutdown-send-retry-after``.
    drain : duration
        Time for the in-flight requests to finish after the delay.
    grace_period : duration
        The pod's ``terminationGracePeriodSeconds`` (the process is killed then).
    lb_checks_readyz : bool
        Whether the load balancer checks ``/readyz``.
    replicas : int
        Replicas in the pool.
    """
    if not isinstance(lb, Probe):
        raise ValueError(f"invalid lb {lb!r}: expected a Probe")
    delay = _seconds(shutdown_delay, "shutdown_delay")
    drain_s = _seconds(drain, "drain")
    grace = _seconds(grace_period, "grace_period")
    n = _count(replicas, "replicas")
    serving_until = min(delay, grace)
    stop = min(serving_until + (drain_s if send_retry_after else 0.0), grace)
    offset = (lb.failure_threshold - 1) * lb.period
    h = _step(offset + lb.period + stop, step, lb.period)
    d_lb = _residual(lb.period, h).shift(offset + (0.0 if lb_checks_readyz else stop))
    error = _positive_part(d_lb.shift(-stop), h)
    if send_retry_after:
        retry = _clip(d_lb.shift(-serving_until), stop - serving_until, h)
    else:
        retry = point(0.0, h)
    return ShutdownErrors(error, retry, error.mean(), retry.mean(), n)


def _positive_part(d: Distribution, step: float) -> Distribution:
    below, above = d.split_at(0.0)
    if below.total <= 0:
        return d
    return measure_sum(_scaled_point(0.0, below.total, step), above)


def _clip(d: Distribution, upper: float, step: float) -> Distribution:
    """``min(max(d, 0), upper)``."""
    if upper <= 0:
        return point(0.0, step)
    d = _positive_part(d, step)
    below, above = d.split_at(upper)
    if above.total <= 0:
        return d
    return measure_sum(below, _scaled_point(upper, above.total, step))
