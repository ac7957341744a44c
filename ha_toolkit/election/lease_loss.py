r"""Leadership lost to a slow API: per-call latency, retries and slow episodes.

The leader's renew loop (client-go ``tools/leaderelection/leaderelection.go``, ``renew``)
runs cycles ``wait.UntilWithContext(cycle, RP)``; a cycle is
``wait.PollUntilContextTimeout(ctx, RP, RD, immediate=true, tryAcquireOrRenew)``: attempts on
a ticker of period RP from the cycle start, none at or after the deadline ``RD``; a tick
missed during a long attempt fires as soon as the attempt returns (apimachinery
``pkg/util/wait/loop.go``, ``loopConditionUntilContext`` with a ``fixedTimer``). An attempt
is the optimistic Update (the fast path); when it fails, a GET and, if the GET succeeds, an
Update. Every call runs under the cycle's deadline context and under the lock client's
per-call timeout ``tau`` (:func:`call_timeout`): client-go
``tools/leaderelection/resourcelock/interface.go`` ``NewFromKubeconfig`` sets
``config.Timeout = max(1 s, RD / 2)``, which ``rest.Request`` applies as one context
deadline around the whole request, retries included (``rest/request.go``,
``Request.request``).

Retries inside a call (``rest/with_retry.go``, ``IsNextRetry`` and ``checkWait``): a 429 or a
5xx response that carries an integer ``Retry-After`` is retried after that many seconds, at
most ``maxRetries = 10`` times (``rest/request.go``, ``NewRequest``); the sleep
(``SleepWithContext``) ends early when the request's context expires, and the call then
fails. API Priority and Fairness answers 429 with ``Retry-After`` starting at 1 s
(apiserver ``pkg/util/flowcontrol/dropped_requests_tracker.go``). A refused connection is
not retried (for a PUT no transport error is; for a GET only resets and EOFs).

Two sources of loss are modelled:

1. **Independent slow calls** (:func:`renew_cycle_loss`). Every HTTP attempt draws its
   round trip from a :class:`CallLatency`; with probability ``rejection`` it is answered
   429 + Retry-After instead. A call succeeds if its response arrives before both
   ``tau`` (from the call's start) and the cycle deadline. The probability that a cycle
   ends without a renewal is computed exactly on a time lattice of step ``h`` (the only
   approximation: latencies are rounded to the lattice, mass conserved), by pushing the
   distribution of the attempt start through the attempt's calls, one tick interval at a
   time. Cycles are independent, so losses per day of leadership are
   ``86400 * p / E[RP + D]``, ``D`` the cycle's duration (renewal-reward).
2. **Slow episodes** (:func:`episode_loss_probability`). Episodes start at the times of a
   Poisson process of rate ``nu`` and last ``T ~ G``; a call whose server action (its send
   plus half a round trip ``l``) falls in the episode is refused (``"refuse"``: fails after
   ``l``), hangs (``"blackhole"``: fails at its timeout or the deadline), is throttled
   (``"throttled"``: answered 429 with ``Retry-After`` after ``rejection_delay`` and retried
   as client-go does) or takes ``episode_latency`` (``"latency"``). Outside episodes calls
   take ``l``. With every call of the failing cycle failing, the cycle's HTTP attempts go
   out at fixed offsets ``c_0 < c_1 < ...`` from its start (:func:`failing_cycle_attempts`);
   the first attempt acting after the episode meets a healthy API, and the leader survives
   when the loop renews from there before the deadline (the attempt is *feasible*: usually
   its own answer, or its GET's Update, comes in time; a retry answered after its call's
   own timeout hands over to the next call). The episode
   starts at a moment independent of the loop, so the end of the episode, measured from the
   failing cycle's first action, is ``x = T - u`` with ``u ~ Uniform[0, RP + l)``, and

   .. math::

      S(T) = \frac{1}{P} \left| \mathcal{S} \cap (T - P, T] \right|,\qquad
      \mathcal{S} = \bigcup_{j \text{ feasible}} (c_{j-1}, c_j],\qquad P = RP + l,

   (``c_{-1} = -infinity``). Over a length distribution ``G`` with ``I(y) = int_0^y G``:
   ``E[S(T)] = (1/P) sum_j [I(c_j + P) - I(c_j) - I(c_{j-1} + P) + I(c_{j-1})]``, so the
   losses per day are ``nu * (1 - E[S(T)])``. For ``"refuse"`` and ``"blackhole"``
   ``S`` is one interval and this is :func:`ha_toolkit.election.outage.outage_survival`.

The two sources add (episodes are rare and short; a loss within an episode is not also
counted as a slow-call loss). :func:`lease_loss` adds the cost: each loss is a restart of
the component and a leaderless interval.

Not modelled: the client-side rate limiter (lease traffic is far below QPS 5), a 409
conflict after an Update that timed out on the client but was committed (it costs one more
round trip), latencies that are correlated from call to call outside episodes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ha_toolkit.distribution import Distribution
from ha_toolkit.durations import parse_duration
from ha_toolkit.election.config import ElectionConfig, require_client_go

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EPISODE_MODES",
    "MAX_RETRIES",
    "ExponentialLengths",
    "SECONDS_PER_DAY",
    "SECONDS_PER_YEAR",
    "CallLatency",
    "LeaseLoss",
    "RenewCycleLoss",
    "call_timeout",
    "compare_settings",
    "episode_curve",
    "episode_loss_probability",
    "episode_survival",
    "exponential_lengths",
    "failing_cycle_attempts",
    "lease_loss",
    "loss_curve",
    "parse_quantiles",
    "renew_cycle_loss",
]

EPISODE_MODES = ("refuse", "blackhole", "throttled", "latency")
MAX_RETRIES = 10
"""client-go ``rest.Request``'s default ``maxRetries`` for Retry-After responses."""
SECONDS_PER_DAY = 86_400.0
SECONDS_PER_YEAR = 365.25 * SECONDS_PER_DAY
# Lattice cells across the renew deadline in the slow-call model, by default and at most.
_CELLS_PER_DEADLINE = 8192
_MAX_CELLS = 1 << 18
# The leaderless cost after an episode runs on a lattice this many times the default.
_COST_STEP_FACTOR = 5
# Relative tolerance for "on the lattice".
_LATTICE_TOL = 1e-9


def call_timeout(cfg: ElectionConfig) -> float:
    """The lock client's per-call timeout ``tau`` in seconds.

    :attr:`ElectionConfig.effective_call_timeout`: client-go's ``max(1 s, RD / 2)``
    (``resourcelock.NewFromKubeconfig``) unless the configuration says otherwise (OpenShift's
    library-go uses ``RD``).
    """
    return float(cfg.effective_call_timeout)


# ------------------------------------------------------------------------ call latency
@dataclass(frozen=True, eq=False)
class CallLatency:
    """The round trip of one HTTP attempt to the lease, as a distribution.

    Parameters
    ----------
    cdf : callable
        ``cdf(x)`` for an array of seconds ``x >= 0``: probability that the round trip is
        at most ``x``, not counting ``hang``. Non-decreasing, ``cdf(0) >= 0``.
    hang : float, default 0
        Probability that the attempt never returns (it fails at its timeout).
    label : str
        A description for tables.

    Use the constructors :meth:`point`, :meth:`from_quantiles`, :meth:`from_buckets` and
    :meth:`from_distribution` rather than this one.
    """

    cdf: Callable[[np.ndarray], np.ndarray]
    hang: float = 0.0
    label: str = ""

    def __post_init__(self) -> None:
        if not callable(self.cdf):
            raise ValueError("cdf must be callable")
        hang = float(self.hang)
        if not (0.0 <= hang <= 1.0):
            raise ValueError(f"hang must be a probability in [0, 1], got {self.hang!r}")
        object.__setattr__(self, "hang", hang)

    # ---- the distribution's face
    def probability_below(self, x: Any) -> np.ndarray:
        """``P(round trip <= x)``, hang excluded from the mass below any finite ``x``."""
        x = np.asarray(x, dtype=float)
        values = np.asarray(self.cdf(np.maximum(x, 0.0)), dtype=float)
        return np.where(x < 0, 0.0, np.clip(values, 0.0, 1.0) * (1.0 - self.hang))

    def sf(self, x: Any) -> Any:
        """``P(round trip > x)``, hang included."""
        out = 1.0 - self.probability_below(x)
        return float(out) if np.ndim(out) == 0 else out

    def quantile(self, q: float) -> float:
        """Smallest ``x`` with ``P(round trip <= x) >= q`` (inf if the hang mass is needed)."""
        q = float(q)
        if not 0.0 < q < 1.0:
            raise ValueError(f"q must lie in (0, 1), got {q!r}")
        hi = 1.0
        while self.probability_below(hi) < q:
            hi *= 2.0
            if hi > 1e7:
                return math.inf
        lo = 0.0
        for _ in range(80):  # bisection to far below a microsecond
            mid = 0.5 * (lo + hi)
            if self.probability_below(mid) >= q:
                hi = mid
            else:
                lo = mid
        return hi

    def attempt_pmf(self, step: float, cells: int) -> np.ndarray:
        """Round trips rounded to the lattice ``k * step``, ``k = 0 .. cells``.

        Entry ``k < cells`` holds ``P((k - 1/2) step < X <= (k + 1/2) step)`` (the midpoint
        rule, mean error O(step**2)); entry ``cells`` holds everything longer, hang included.
        """
        edges = (np.arange(cells + 1) + 0.5) * step
        below = self.probability_below(edges)
        pmf = np.empty(cells + 1)
        pmf[0] = below[0]
        pmf[1:cells] = np.maximum(np.diff(below[:cells]), 0.0)
        pmf[cells] = max(1.0 - below[cells - 1], 0.0)
        return pmf

    # ---- constructors
    @classmethod
    def point(cls, seconds: float | str) -> CallLatency:
        """Every round trip takes exactly ``seconds``."""
        value = parse_duration(seconds, name="latency")
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"latency must be a finite duration >= 0, got {seconds!r}")
        return cls(lambda x: (np.asarray(x) >= value).astype(float), 0.0, f"{value:g} s")

    @classmethod
    def from_quantiles(cls, quantiles: Mapping[float, float | str] | str) -> CallLatency:
        """A distribution through the given quantiles, e.g. ``{0.5: 0.02, 0.99: 0.8}``.

        Between the points (and from ``P(X > 0) = 1``) the log of the survival function is
        linear in the latency, i.e. exponential pieces; beyond the last quantile the last
        piece goes on, an exponential tail. A string such as
        ``"p50=20ms,p99=800ms,p999=3s"`` is read by :func:`parse_quantiles`.
        """
        if isinstance(quantiles, str):
            quantiles = parse_quantiles(quantiles)
        items = sorted((float(q), parse_duration(x, name=f"quantile {q}"))
                       for q, x in dict(quantiles).items())
        if not items:
            raise ValueError("give at least one quantile")
        for q, x in items:
            if not 0.0 < q < 1.0:
                raise ValueError(f"quantile levels must lie in (0, 1), got {q!r}")
            if not (math.isfinite(x) and x > 0):
                raise ValueError(f"quantile values must be finite durations > 0, got {x!r}")
        xs = np.array([0.0] + [x for _, x in items])
        if np.any(np.diff(xs) <= 0):
            raise ValueError("quantile values must increase with the level")
        log_sf = np.log(np.array([1.0] + [1.0 - q for q, _ in items]))
        slope = (log_sf[-1] - log_sf[-2]) / (xs[-1] - xs[-2])

        def cdf(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x, dtype=float)
            inside = np.interp(x, xs, log_sf)
            beyond = log_sf[-1] + slope * (x - xs[-1])
            return -np.expm1(np.where(x > xs[-1], beyond, inside))

        label = ", ".join(f"p{_level_name(q)}={x:g}s" for q, x in items)
        return cls(cdf, 0.0, label)

    @classmethod
    def from_buckets(cls, buckets: Mapping[float, float] | Sequence[tuple[float, float]]
                     ) -> CallLatency:
        """A Prometheus histogram: cumulative counts by upper bound ``le`` (``inf`` allowed).

        Within a bucket the latency is uniform (the convention of ``histogram_quantile``),
        the first bucket starting at 0. The count above the largest finite bound (the
        ``+Inf`` bucket's surplus) is taken as ``hang``: those requests outlast every
        finite bound and are taken to reach the lock client's timeout.
        """
        pairs = sorted((float(le), float(n)) for le, n in dict(buckets).items())
        if not pairs:
            raise ValueError("buckets must not be empty")
        bounds = np.array([le for le, _ in pairs])
        counts = np.array([n for _, n in pairs])
        if np.any(~np.isfinite(counts)) or np.any(counts < 0):
            raise ValueError("bucket counts must be finite and >= 0")
        if np.any(np.diff(counts) < 0):
            raise ValueError("bucket counts must be cumulative (non-decreasing in le)")
        if np.any(bounds <= 0) or np.any(np.isnan(bounds)):
            raise ValueError("bucket bounds (le) must be > 0")
        total = counts[-1]
        if total <= 0:
            raise ValueError("the histogram is empty (no observations)")
        finite = np.isfinite(bounds)
        fb, fc = bounds[finite], counts[finite]
        if fb.size == 0:
            raise ValueError("the histogram needs at least one finite bucket bound")
        hang = float((total - fc[-1]) / total)
        xs = np.concatenate(([0.0], fb))
        ps = np.concatenate(([0.0], fc / fc[-1])) if fc[-1] > 0 else np.zeros(fb.size + 1)

        def cdf(x: np.ndarray) -> np.ndarray:
            return np.interp(np.asarray(x, dtype=float), xs, ps)

        if fc[-1] <= 0:
            return cls(lambda x: np.zeros_like(np.asarray(x, dtype=float)), 1.0,
                       "histogram: every request above the largest bucket")
        return cls(cdf, hang, f"histogram of {int(total)} requests")

    @classmethod
    def from_distribution(cls, dist: Any, label: str = "") -> CallLatency:
        """From anything with a ``cdf`` method: a :class:`~ha_toolkit.distribution.
        Distribution` or a frozen :mod:`scipy.stats` distribution (mass below 0 moves to 0)."""
        if not hasattr(dist, "cdf"):
            raise ValueError("dist must have a cdf method")
        if isinstance(dist, Distribution):
            label = label or f"distribution, mean {dist.mean():.3g} s"
        return cls(lambda x: np.asarray(dist.cdf(x), dtype=float), 0.0, label or "distribution")


def _level_name(q: float) -> str:
    digits = f"{q:.6f}".rstrip("0").split(".")[1]
    return digits if len(digits) > 1 else digits + "0"


def parse_quantiles(text: str) -> dict[float, float]:
    """Read ``"p50=20ms,p99=800ms,p999=3s"``: level digits after ``p`` (``p999`` = 0.999).

    Raises
    ------
    ValueError
        Naming the bad item.
    """
    out: dict[float, float] = {}
    for raw in str(text).split(","):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name = name.strip().lower()
        if not sep or not name.startswith("p") or not name[1:].isdigit():
            raise ValueError(f"bad quantile {item!r}: expected pNN=DURATION such as p99=800ms")
        digits = name[1:]
        level = float("0." + digits) if len(digits) > 1 else float(digits) / 10.0
        if not 0.0 < level < 1.0:
            raise ValueError(f"bad quantile {item!r}: the level must lie in (0, 1)")
        out[level] = parse_duration(value.strip(), name=name)
    if not out:
        raise ValueError("no quantiles given: expected e.g. p50=20ms,p99=800ms")
    return out


# ------------------------------------------------------------------- independent calls
@dataclass(frozen=True)
class RenewCycleLoss:
    """The slow-call model's answer (:func:`renew_cycle_loss`).

    Attributes
    ----------
    loss_probability_per_cycle : float
        Probability that a renew cycle ends without a renewal.
    mean_cycle : float
        ``E[RP + D]``: mean time between the starts of two cycles, seconds.
    losses_per_day : float
        ``86400 * p / mean_cycle``, per day of leadership.
    call_failure_probability : float
        Probability that one call (retries included) fails when started at a cycle's start.
    timeout : float
        The per-call timeout used, seconds.
    step : float
        Lattice step, seconds.
    """

    loss_probability_per_cycle: float
    mean_cycle: float
    losses_per_day: float
    call_failure_probability: float
    timeout: float
    step: float

    def to_dict(self) -> dict[str, float]:
        """The fields as a plain dict."""
        return asdict(self)


def _default_step(rd: float, grid_values: Sequence[float]) -> float:
    """A step near ``RD / 8192`` dividing every value given (to the microsecond)."""
    micro = [round(v * 1e6) for v in grid_values if v > 0]
    common = 0
    for m in micro:
        common = math.gcd(common, m)
    common_s = common / 1e6 if common else rd
    target = rd / _CELLS_PER_DEADLINE
    if common_s < target / 4:
        # no usable common divisor (e.g. RD = 10.0001 s): round the times to the target
        return target
    return common_s / max(1, math.ceil(common_s / target - _LATTICE_TOL))


def _index(seconds: float, step: float) -> int:
    return int(round(seconds / step))


def _conv(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    """The first ``size`` entries of the convolution of two non-negative mass vectors."""
    if a.size == 0 or b.size == 0:
        return np.zeros(size)
    if a.size * b.size < 50_000:
        out = np.convolve(a, b)
    else:
        from scipy import signal

        out = signal.fftconvolve(a, b)
        out = np.maximum(out, 0.0)
    if out.size < size:
        out = np.concatenate((out, np.zeros(size - out.size)))
    return out[:size]


def _call_outcome(
    served: np.ndarray,
    cells: int,
    *,
    rejection: float,
    rejection_pmf: np.ndarray,
    retry_cells: int,
    max_retries: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Durations of one call (a ``rest.Request`` with its Retry-After retries).

    ``served`` is the pmf of a served attempt's round trip on the lattice (``cells`` + 1
    entries, the last one "at or beyond the timeout"). An attempt is answered 429 with
    probability ``rejection``, after a delay of pmf ``rejection_pmf`` (the same lattice and
    length); the client sleeps ``retry_cells``
    and tries again, at most ``max_retries`` times, all within the timeout (``cells``).
    Returns ``(ok, failed)``: the pmfs of the call's duration when it succeeds (entries
    below the timeout) and when it fails (a timeout at ``cells`` or a last 429 earlier).
    """
    ok = np.zeros(cells + 1)
    failed = np.zeros(cells + 1)
    pending = np.zeros(cells + 1)
    pending[0] = 1.0
    served_ok = served[:cells] * (1.0 - rejection)
    for attempt in range(max_retries + 1):
        if pending.sum() <= 0:
            break
        done = _conv(pending, served_ok, 2 * cells + 1)
        ok[:cells] += done[:cells]
        # served too late (or hanging): the request's context expires at the timeout
        failed[cells] += pending.sum() * (1.0 - rejection) - done[:cells].sum()
        if rejection <= 0:
            break
        answered = _conv(pending * rejection, rejection_pmf, 2 * cells + 2)
        if attempt == max_retries:  # the last 429 is returned to the caller
            failed[:cells] += answered[:cells]
            failed[cells] += answered[cells:].sum()
            break
        again = np.zeros(answered.size + retry_cells)
        again[retry_cells:] = answered
        pending = again[: cells + 1].copy()
        pending[cells] = 0.0
        # the sleep (or the 429 itself) runs past the timeout: SleepWithContext ends there
        failed[cells] += again[cells:].sum()
    return ok, failed


def renew_cycle_loss(
    cfg: ElectionConfig,
    latency: CallLatency | float | str,
    *,
    get_latency: CallLatency | None = None,
    rejection: float = 0.0,
    rejection_delay: float | str | CallLatency | None = None,
    retry_after: int = 1,
    max_retries: int = MAX_RETRIES,
    step: float | None = None,
) -> RenewCycleLoss:
    """Probability that a renew cycle fails when every call's latency is random.

    Parameters
    ----------
    cfg : ElectionConfig
        Lease settings (``retry_period``, ``renew_deadline``; the per-call timeout from
        :func:`call_timeout`).
    latency : CallLatency, float or str
        Round trip of a served Update (and of a GET unless ``get_latency`` is given).
    get_latency : CallLatency, optional
        Round trip of a served GET.
    rejection : float, default 0
        Probability that an HTTP attempt is answered 429 + ``Retry-After`` (e.g. by APF).
    rejection_delay : float, str or CallLatency, optional
        Time from sending an attempt to its 429 (a fixed time or a distribution); default
        the median of ``latency``.
    retry_after : int, default 1
        The ``Retry-After`` seconds (APF and max-in-flight send 1).
    max_retries : int, default 10
        client-go's retry budget per call.
    step : float, optional
        Lattice step in seconds; by default about ``RD / 8192``, dividing RP, RD and the
        timeout.

    Returns
    -------
    RenewCycleLoss
    """
    require_client_go(cfg, "the slow-call model")
    put = latency if isinstance(latency, CallLatency) else CallLatency.point(latency)
    get = put if get_latency is None else get_latency
    rejection = float(rejection)
    if not 0.0 <= rejection < 1.0:
        raise ValueError(f"rejection must be a probability in [0, 1), got {rejection!r}")
    retries = _check_retries(retry_after, max_retries)
    rp, rd = cfg.retry_period, cfg.renew_deadline
    tau = call_timeout(cfg)
    if rejection_delay is None:
        delay = put.quantile(0.5) if rejection > 0 else 0.0
        delay = CallLatency.point(0.0 if not math.isfinite(delay) else delay)
    elif isinstance(rejection_delay, CallLatency):
        delay = rejection_delay
    else:
        delay = CallLatency.point(parse_duration(rejection_delay, name="rejection_delay"))
    # a Retry-After beyond both the call timeout and the renew deadline is never waited
    # out (the call and the renewal give up first): it acts as one just beyond them, and
    # the lattice does not grow with it
    waited = min(int(retry_after), math.ceil(max(tau, rd)) + 1)
    if step is None:
        step = _default_step(rd, [rp, rd, tau, float(waited)])
    step = float(step)
    if not (math.isfinite(step) and step > 0):
        raise ValueError(f"step must be a finite duration > 0, got {step!r}")
    n = _index(rd, step)  # lattice points 0 .. n-1 lie before the deadline
    if n > _MAX_CELLS:
        raise ValueError(f"step {step:g} s is too fine: renew_deadline / step must be at most "
                         f"{_MAX_CELLS}")
    k_tau = max(1, _index(tau, step))
    kw = {"rejection": rejection, "rejection_pmf": delay.attempt_pmf(step, k_tau),
          "retry_cells": _index(float(waited), step), "max_retries": retries}
    put_ok, put_fail = _call_outcome(put.attempt_pmf(step, k_tau), k_tau, **kw)
    if get is put:
        get_ok, get_fail = put_ok, put_fail
    else:
        get_ok, get_fail = _call_outcome(get.attempt_pmf(step, k_tau), k_tau, **kw)
    tick = _index(rp, step)

    starts = np.zeros(n)
    starts[0] = 1.0
    success_mass = 0.0
    success_time = 0.0
    times = np.arange(n) * step
    first_call_failure = float(put_fail.sum())
    for j in range(math.ceil(n / tick)):
        lo, hi = j * tick, min((j + 1) * tick, n)
        group = np.zeros(n)
        group[lo:hi] = starts[lo:hi]
        if group.sum() <= 0:
            continue
        renewed = _conv(group, put_ok, n)
        get_at = _conv(group, put_fail, n)
        got = _conv(get_at, get_ok, n)
        ended = _conv(get_at, get_fail, n)
        renewed += _conv(got, put_ok, n)
        ended += _conv(got, put_fail, n)
        success_mass += renewed.sum()
        success_time += float((renewed * times).sum())
        # an attempt that ends within its tick interval waits for the next tick
        waiting = ended[lo:hi].sum()
        ended[lo:hi] = 0.0
        if hi < n:
            ended[hi] += waiting
        starts[hi:] += ended[hi:]
    p_fail = float(np.clip(1.0 - success_mass, 0.0, 1.0))
    mean_cycle = rp + success_time + p_fail * rd
    return RenewCycleLoss(
        loss_probability_per_cycle=p_fail,
        mean_cycle=mean_cycle,
        losses_per_day=SECONDS_PER_DAY * p_fail / mean_cycle,
        call_failure_probability=first_call_failure,
        timeout=tau,
        step=step,
    )


def _check_retries(retry_after: Any, max_retries: Any) -> int:
    if isinstance(retry_after, bool) or int(retry_after) != retry_after or retry_after < 0:
        raise ValueError(f"retry_after must be whole seconds >= 0 (Retry-After is an integer), "
                         f"got {retry_after!r}")
    if isinstance(max_retries, bool) or int(max_retries) != max_retries or max_retries < 0:
        raise ValueError(f"max_retries must be an integer >= 0, got {max_retries!r}")
    return int(max_retries)


# ---------------------------------------------------------------------------- episodes
def _check_mode(mode: str) -> None:
    if mode not in EPISODE_MODES:
        raise ValueError(f"episode mode must be one of {', '.join(EPISODE_MODES)}; got {mode!r}")


def failing_cycle_attempts(
    cfg: ElectionConfig,
    mode: str = "refuse",
    *,
    retry_after: int = 1,
    rejection_delay: float | str | None = None,
    episode_latency: float | str | None = None,
    max_retries: int = MAX_RETRIES,
) -> list[tuple[float, bool]]:
    """HTTP attempts of a renew cycle whose calls all meet the episode.

    Each entry is ``(offset, feasible)``: when the attempt is sent, from the cycle's start,
    and whether, were it the first to act after the episode, the cycle would still renew
    before its deadline: the attempt answers after ``l`` (a GET's Update after ``2 l``); an
    answer that comes after the call's own timeout fails that call, and the loop goes on
    with the API healthy (GET after an Update, the next attempt after a GET).

    ``mode`` as in the module docstring; ``"latency"`` with ``episode_latency`` below the
    call timeout and the deadline loses nothing (an empty schedule then means "always
    survived"), above it behaves as ``"blackhole"``.
    """
    _check_mode(mode)
    require_client_go(cfg, "the episode model")
    retries = _check_retries(retry_after, max_retries)
    lat, rp, rd = cfg.api_latency, cfg.retry_period, cfg.renew_deadline
    tau = call_timeout(cfg)
    reject = lat if rejection_delay is None else parse_duration(rejection_delay,
                                                                 name="rejection_delay")
    if mode == "latency":
        if episode_latency is None:
            raise ValueError("the latency mode needs episode_latency")
        slow = parse_duration(episode_latency, name="episode_latency")
        if slow < min(tau, rd):
            return []
        mode = "blackhole"
    attempts: list[tuple[float, bool]] = []
    tie = _LATTICE_TOL * max(rd, 1.0)  # a success exactly at a deadline is too late

    def renews(kind: str, call_start: float, send: float, next_tick: float) -> bool:
        """Whether the cycle renews if the API is healthy from the attempt at ``send`` on.

        The attempt answers after ``l``; a call whose answer would come after its own
        timeout fails there and the loop goes on (GET after Update, next attempt after a
        GET), all before the cycle deadline.
        """
        limit = min(call_start + tau, rd)
        if send + lat < limit - tie:
            if kind == "update":
                return True
            answered = send + lat  # the GET succeeded: its Update follows at once
            return answered + lat < min(answered + tau, rd) - tie
        if limit >= rd - tie:
            return False
        if kind == "update":
            return renews("get", limit, limit, next_tick)
        following = limit if next_tick <= limit else next_tick
        if following >= rd - tie:
            return False
        return renews("update", following, following, rp * (math.floor(following / rp
                                                                       + _LATTICE_TOL) + 1))

    def call(start: float, kind: str, next_tick: float) -> float:
        """Walk one failing call; return when it fails (at most the deadline)."""
        limit = min(start + tau, rd)
        send, tries = start, 0
        while True:
            attempts.append((send, renews(kind, start, send, next_tick)))
            if mode == "refuse":
                return min(send + lat, rd)
            if mode == "blackhole":
                return limit
            answered = send + reject
            if answered >= limit:
                return limit
            if tries == retries:
                return answered
            tries += 1
            send = answered + retry_after
            if send >= limit:
                return limit

    start, next_tick = 0.0, rp
    while start < rd:
        returned = call(start, "update", next_tick)
        if returned >= rd:
            break
        returned = call(returned, "get", next_tick)
        if returned >= rd:
            break
        if next_tick <= returned:
            # one pending tick fires at once; later ticks stay on the ticker's grid
            start = returned
            next_tick = rp * (math.floor(returned / rp + _LATTICE_TOL) + 1)
        else:
            start = next_tick
            next_tick += rp
    return attempts


def _surviving_intervals(attempts: list[tuple[float, bool]]) -> list[tuple[float, float]]:
    """The set of episode ends (from the first action) that the leader survives."""
    intervals: list[tuple[float, float]] = []
    previous = -math.inf
    for offset, feasible in attempts:
        if feasible:
            if intervals and intervals[-1][1] == previous:
                intervals[-1] = (intervals[-1][0], offset)
            else:
                intervals.append((previous, offset))
        previous = offset
    return intervals


def episode_survival(cfg: ElectionConfig, length: Any, mode: str = "refuse", **kwargs: Any
                     ) -> Any:
    """Probability that the leader keeps the lease through an episode of the given length.

    ``length`` in seconds (a number or an array); ``kwargs`` as for
    :func:`failing_cycle_attempts`. Exact: see the module docstring.
    """
    attempts = failing_cycle_attempts(cfg, mode, **kwargs)
    lengths = np.asarray(length, dtype=float)
    if np.any(~np.isfinite(lengths)) or np.any(lengths < 0):
        raise ValueError("episode lengths must be finite and >= 0")
    if mode == "latency" and not attempts:
        out = np.ones_like(lengths)
        return float(out) if out.ndim == 0 else out
    period = cfg.retry_period + cfg.api_latency
    covered = np.zeros_like(lengths)
    for a, b in _surviving_intervals(attempts):
        lo = np.maximum(lengths - period, a)
        hi = np.minimum(lengths, b)
        covered += np.clip(hi - lo, 0.0, None)
    out = np.clip(covered / period, 0.0, 1.0)
    return float(out) if out.ndim == 0 else out


def _integrated_cdf(lengths: Any) -> tuple[Callable[[float], float], float]:
    """``y -> int_0^y G`` and the mean of the length distribution ``lengths``."""
    if isinstance(lengths, Distribution):
        lo, _ = lengths.support()
        if lo < 0:
            raise ValueError(f"episode lengths must be >= 0, the distribution starts at {lo!r}")
        return (lambda y: float(lengths.integrated_cdf(y))), float(lengths.mean())
    if hasattr(lengths, "cdf") and hasattr(lengths, "mean"):  # a frozen scipy distribution
        from scipy import integrate

        def scipy_integral(y: float) -> float:
            if y <= 0:
                return 0.0
            value, _ = integrate.quad(lambda t: float(lengths.cdf(t)), 0.0, y, limit=200)
            return value

        return scipy_integral, float(lengths.mean())
    fixed = parse_duration(lengths, name="episode length")
    if not (math.isfinite(fixed) and fixed >= 0):
        raise ValueError(f"episode length must be a finite duration >= 0, got {lengths!r}")
    return (lambda y: max(y - fixed, 0.0)), fixed


@dataclass(frozen=True)
class ExponentialLengths:
    """Exponential episode lengths of a given mean (seconds): the default length model.

    A small closed-form stand-in for ``scipy.stats.expon(scale=mean)`` (same ``cdf``,
    ``ppf`` and ``mean``), which keeps the command line free of scipy.stats' import time.
    """

    scale: float

    def mean(self) -> float:
        """The mean length."""
        return self.scale

    def cdf(self, x: Any) -> Any:
        """``1 - exp(-x / mean)`` for ``x >= 0``."""
        x = np.asarray(x, dtype=float)
        return np.where(x > 0, -np.expm1(-np.maximum(x, 0.0) / self.scale), 0.0)

    def ppf(self, q: Any) -> Any:
        """The quantile function, ``-mean * log(1 - q)`` (inf where it overflows)."""
        with np.errstate(over="ignore"):  # a huge mean: inf, which callers refuse
            return -self.scale * np.log1p(-np.asarray(q, dtype=float))


def exponential_lengths(mean: float | str) -> ExponentialLengths:
    """Exponential episode lengths with the given mean."""
    value = parse_duration(mean, name="episode_duration")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"episode_duration must be a finite duration > 0, got {mean!r}")
    return ExponentialLengths(value)


def episode_loss_probability(cfg: ElectionConfig, lengths: Any, mode: str = "refuse",
                             **kwargs: Any) -> float:
    """``1 - E[S(T)]``: probability that one episode costs the leadership.

    Parameters
    ----------
    cfg : ElectionConfig
    lengths : float, str, Distribution or frozen scipy distribution
        The episode length, or its distribution (:func:`exponential_lengths` for the
        exponential of a given mean: its integral is closed-form).
    mode : {"refuse", "blackhole", "throttled", "latency"}
    **kwargs
        As for :func:`failing_cycle_attempts`.
    """
    attempts = failing_cycle_attempts(cfg, mode, **kwargs)
    if mode == "latency" and not attempts:
        return 0.0
    period = cfg.retry_period + cfg.api_latency
    exp_mean = _exponential_mean(lengths)
    if exp_mean is not None:
        def integral(y: float) -> float:  # int_0^y (1 - exp(-t/m)) dt, closed form
            return 0.0 if y <= 0 else y + exp_mean * math.expm1(-y / exp_mean)
    else:
        integral, _ = _integrated_cdf(lengths)
    kept = 0.0
    for a, b in _surviving_intervals(attempts):
        lo = max(a, -period)  # ends before -P never occur: T >= 0 and u < P
        kept += integral(b + period) - integral(b) - integral(lo + period) + integral(lo)
    return float(np.clip(1.0 - kept / period, 0.0, 1.0))


def _exponential_mean(lengths: Any) -> float | None:
    """The mean of exponential lengths (ours or scipy's ``expon`` at 0), else None."""
    if isinstance(lengths, ExponentialLengths):
        return lengths.scale
    dist = getattr(lengths, "dist", None)
    if getattr(dist, "name", None) == "expon" and float(lengths.support()[0]) == 0.0:
        return float(lengths.mean())
    return None


# -------------------------------------------------------------------------- the answer
@dataclass(frozen=True)
class LeaseLoss:
    """Expected losses of leadership to a slow API, and what they cost (:func:`lease_loss`).

    Attributes
    ----------
    loss_probability_per_cycle : float
        Slow calls: probability that one renew cycle fails.
    iid_losses_per_day : float
        Slow calls: losses per day of leadership.
    episode_loss_probability : float
        Probability that one episode costs the leadership (0 without episodes).
    episode_losses_per_day : float
        ``episodes_per_day * episode_loss_probability``.
    losses_per_day : float
        The sum; each loss is also a restart of the component.
    leaderless_per_loss : float
        Mean seconds without an acting leader after a loss.
    leaderless_seconds_per_year : float
        ``losses per year * leaderless_per_loss``.
    crash_leaderless_seconds_per_year : float
        The same for crashes at ``crashes_per_year``: mean crash failover time each.
    timeout : float
        The lock client's per-call timeout used.
    inputs : dict
        What the answer was computed from.
    """

    loss_probability_per_cycle: float
    iid_losses_per_day: float
    episode_loss_probability: float
    episode_losses_per_day: float
    losses_per_day: float
    leaderless_per_loss: float
    leaderless_seconds_per_year: float
    crash_leaderless_seconds_per_year: float
    timeout: float
    inputs: dict = field(default_factory=dict)

    @property
    def restarts_per_day(self) -> float:
        """Component restarts per day caused by slowness (one per loss)."""
        return self.losses_per_day

    def to_dict(self) -> dict[str, Any]:
        """The fields (and ``restarts_per_day``) as a plain dict."""
        out = asdict(self)
        out["restarts_per_day"] = self.restarts_per_day
        return out

    def to_frame(self) -> pd.DataFrame:
        """A one-row DataFrame of the numeric fields."""
        import pandas as pd

        row = {k: v for k, v in self.to_dict().items() if k != "inputs"}
        return pd.DataFrame([row])


def leaderless_after_slow_call_loss(cfg: ElectionConfig, restart: float = 10.0) -> float:
    """Mean leaderless seconds after a loss to slow calls, the API healthy for followers.

    The followers see the last renewal ``w`` as after a crash, so (linearity) the new
    leader holds the lease ``E[crash failover] + P/2`` after ``w`` (a crash falls
    uniformly within a renew period ``P = RP + l`` after its last renewal); the old leader
    stops at ``w + l/2 + RP + RD``. Clipped at 0 (two leaders at once are not a gap).

    With a single candidate nobody takes over: the component exits, the kubelet restarts
    it (``restart`` seconds, the first crash-loop back-off) and the new process waits a
    full lease from its first read. That is the single-candidate case of
    :func:`~ha_toolkit.election.outage.leaderless_after_outage` for an outage just longer
    than the leader tolerates (the API is healthy again when the process comes back).
    """
    from ha_toolkit.election.timing import failover

    if cfg.followers < 1:
        from ha_toolkit.election.outage import leaderless_after_outage, outage_survival

        just_lost = outage_survival(cfg, 0.0, "refuse").min_tolerated_outage + 1e-3
        return float(leaderless_after_outage(cfg, just_lost, "refuse", restart=restart,
                                             phases=4).mean())
    period = cfg.retry_period + cfg.api_latency
    acquired = failover(cfg, "crash").mean() + period / 2.0
    stop = cfg.api_latency / 2.0 + cfg.retry_period + cfg.renew_deadline
    return max(acquired - stop, 0.0)


def _leaderless_after_episodes(cfg: ElectionConfig, lengths: Any, mode: str,
                               survival: Callable[[np.ndarray], np.ndarray],
                               t_min: float, nodes: int = 4) -> float:
    """Mean leaderless seconds after an episode loss, weighted by the loss probability.

    :func:`~ha_toolkit.election.outage.leaderless_after_outage` at ``nodes`` lengths: the
    quantiles of the length distribution restricted to lengths that can cause a loss,
    weighted by ``1 - S(T)``. Only for the refuse and blackhole modes (the outage model's).
    """
    from ha_toolkit.election.outage import leaderless_after_outage
    from ha_toolkit.election.timing import lattice_step

    if mode not in ("refuse", "blackhole"):
        return math.nan
    if isinstance(lengths, Distribution) or hasattr(lengths, "ppf"):
        # nodes on the lengths that can cause a loss: T > t_min
        floor = float(np.clip(lengths.cdf(t_min), 0.0, 1.0))
        probs = floor + (1.0 - floor) * (np.arange(nodes) + 0.5) / nodes
        grid = np.asarray(lengths.ppf(probs), dtype=float)
    else:
        grid = np.array([parse_duration(lengths, name="episode length")])
    weights = 1.0 - np.asarray(survival(grid), dtype=float)
    values = []
    for t, w in zip(grid, weights, strict=True):
        if w <= 1e-12:
            values.append(0.0)
            continue
        try:
            # a coarse lattice and 4 phases: the mean moves by < 0.05 s, 5x faster
            gap = leaderless_after_outage(cfg, float(t), mode, phases=4,
                                          step=_COST_STEP_FACTOR * lattice_step(cfg))
        except ValueError:  # a blackhole shorter than a lease: not modelled there
            return math.nan
        values.append(gap.mean())
    if weights.sum() <= 0:
        return math.nan
    return float(np.dot(weights, values) / weights.sum())


def lease_loss(
    cfg: ElectionConfig,
    latency: CallLatency | float | str | None = None,
    *,
    episodes_per_day: float = 0.0,
    episode_duration: Any = None,
    episode_mode: str = "refuse",
    episode_latency: float | str | None = None,
    retry_after: int = 1,
    rejection: float = 0.0,
    rejection_delay: float | str | None = None,
    crashes_per_year: float = 0.0,
) -> LeaseLoss:
    """Expected losses of leadership per day from slow calls and slow episodes.

    Parameters
    ----------
    cfg : ElectionConfig
        Lease settings; ``api_latency`` is the round trip outside episodes when ``latency``
        is None.
    latency : CallLatency, float or str, optional
        Round trip of each lease call (the slow-call model); None: no slow-call losses.
    episodes_per_day : float, default 0
        Rate of slow episodes.
    episode_duration : float, str, Distribution or frozen scipy distribution
        A number is the mean of exponential lengths; a distribution is used as given.
    episode_mode : {"refuse", "blackhole", "throttled", "latency"}
    episode_latency : float or str, optional
        The latency of calls in a ``"latency"`` episode.
    retry_after : int, default 1
        ``Retry-After`` of 429s (throttled episodes and ``rejection``).
    rejection : float, default 0
        Probability that an attempt outside episodes is answered 429 (slow-call model).
    rejection_delay : float or str, optional
        Time until a 429 arrives (default: the median latency; ``api_latency`` in episodes).
    crashes_per_year : float, default 0
        Crash rate, for the leaderless seconds caused by crashes beside slowness.

    Returns
    -------
    LeaseLoss

    Notes
    -----
    The leaderless time after a loss: after a refused or hanging episode, the exact
    :func:`~ha_toolkit.election.outage.leaderless_after_outage` (its mean, at four lengths
    of the episodes that can cause a loss, weighted by the loss probability; the followers
    cannot take over during the episode either); after slow calls, and after throttled or
    slow episodes, :func:`leaderless_after_slow_call_loss` (the followers see the API as
    healthy, an approximation for episodes that also slow them down).
    """
    require_client_go(cfg, "the lease-loss model")
    rate = float(episodes_per_day)
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"episodes_per_day must be a finite number >= 0, got {episodes_per_day!r}")
    crashes = float(crashes_per_year)
    if not (math.isfinite(crashes) and crashes >= 0):
        raise ValueError(f"crashes_per_year must be a finite number >= 0, got {crashes_per_year!r}")
    _check_mode(episode_mode)
    inputs: dict[str, Any] = {
        "preset": cfg.name,
        "lease_duration": cfg.lease_duration,
        "renew_deadline": cfg.renew_deadline,
        "retry_period": cfg.retry_period,
        "api_latency": cfg.api_latency,
        "candidates": cfg.candidates,
        "call_timeout": call_timeout(cfg),
        "episodes_per_day": rate,
        "episode_mode": episode_mode,
        "retry_after": retry_after,
    }
    p_cycle, iid_rate = 0.0, 0.0
    if latency is None and float(rejection) > 0:
        raise ValueError("rejection applies to the slow-call model: give a latency too")
    if latency is not None:
        cycle = renew_cycle_loss(cfg, latency, rejection=rejection,
                                 rejection_delay=rejection_delay, retry_after=retry_after)
        p_cycle, iid_rate = cycle.loss_probability_per_cycle, cycle.losses_per_day
        inputs["latency"] = latency.label if isinstance(latency, CallLatency) else latency
        inputs["rejection"] = rejection
    p_episode, episode_rate, episode_gap = 0.0, 0.0, math.nan
    if rate > 0:
        if episode_duration is None:
            raise ValueError("episodes_per_day needs episode_duration")
        lengths = episode_duration
        if not isinstance(lengths, Distribution) and not hasattr(lengths, "cdf"):
            lengths = exponential_lengths(episode_duration)
            inputs["episode_duration"] = float(lengths.mean())
            inputs["episode_lengths"] = "exponential"
        else:
            inputs["episode_duration"] = float(lengths.mean())
            inputs["episode_lengths"] = "given"
        kw = {"retry_after": retry_after, "episode_latency": episode_latency}
        if episode_mode == "throttled" and rejection_delay is not None:
            kw["rejection_delay"] = rejection_delay
        p_episode = episode_loss_probability(cfg, lengths, episode_mode, **kw)
        episode_rate = rate * p_episode
        if episode_rate > 0:
            intervals = _surviving_intervals(failing_cycle_attempts(cfg, episode_mode, **kw))
            t_min = intervals[0][1] if intervals and intervals[0][0] == -math.inf else 0.0
            episode_gap = _leaderless_after_episodes(
                cfg, lengths, episode_mode,
                lambda t: episode_survival(cfg, t, episode_mode, **kw), t_min)
    iid_gap = leaderless_after_slow_call_loss(cfg) if iid_rate > 0 else math.nan
    if math.isnan(episode_gap):
        # throttled and latency episodes: the followers' view as after slow calls
        episode_gap = leaderless_after_slow_call_loss(cfg) if episode_rate > 0 else math.nan
    total = iid_rate + episode_rate
    parts = [(iid_rate, iid_gap), (episode_rate, episode_gap)]
    per_loss = (sum(r * g for r, g in parts if r > 0) / total) if total > 0 else 0.0
    crash_cost = 0.0
    if crashes > 0 and cfg.followers >= 1:
        from ha_toolkit.election.timing import failover

        crash_cost = crashes * failover(cfg, "crash").mean()
    return LeaseLoss(
        loss_probability_per_cycle=p_cycle,
        iid_losses_per_day=iid_rate,
        episode_loss_probability=p_episode,
        episode_losses_per_day=episode_rate,
        losses_per_day=total,
        leaderless_per_loss=per_loss,
        leaderless_seconds_per_year=total * SECONDS_PER_YEAR / SECONDS_PER_DAY * per_loss,
        crash_leaderless_seconds_per_year=crash_cost,
        timeout=call_timeout(cfg),
        inputs=inputs,
    )


# ------------------------------------------------------------------------ sweeps, tables
def loss_curve(configs: Mapping[str, ElectionConfig], p99: Sequence[float], *,
               p50: float | str = 0.02) -> pd.DataFrame:
    """Slow-call losses per day against the p99 of the call latency, for several settings.

    The latency of each point is :meth:`CallLatency.from_quantiles` through ``p50`` and
    the ``p99`` (an exponential tail beyond).

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``p99``, ``timeout``, ``loss_probability_per_cycle``,
        ``losses_per_day``.
    """
    import pandas as pd

    median = parse_duration(p50, name="p50")
    rows = []
    for name, cfg in configs.items():
        for value in p99:
            x = parse_duration(value, name="p99")
            if not x > median:
                raise ValueError(f"p99 must exceed p50 ({median:g} s), got {x!r}")
            result = renew_cycle_loss(cfg, CallLatency.from_quantiles({0.5: median, 0.99: x}))
            rows.append({"name": name, "p99": x, "timeout": result.timeout,
                         "loss_probability_per_cycle": result.loss_probability_per_cycle,
                         "losses_per_day": result.losses_per_day})
    return pd.DataFrame(rows)


def episode_curve(cfg: ElectionConfig, lengths: Sequence[float],
                  modes: Sequence[str] = ("refuse", "blackhole", "throttled"),
                  **kwargs: Any) -> pd.DataFrame:
    """Survival of one episode against its length, per mode (a tidy DataFrame).

    Columns ``length``, ``mode``, ``survival_probability``, ``loss_probability``;
    ``kwargs`` as for :func:`failing_cycle_attempts`.
    """
    import pandas as pd

    values = np.asarray([parse_duration(x, name="lengths") for x in lengths], dtype=float)
    frames = []
    for mode in modes:
        survival = np.atleast_1d(episode_survival(cfg, values, mode, **kwargs))
        frames.append(pd.DataFrame({"length": values, "mode": mode,
                                    "survival_probability": survival,
                                    "loss_probability": 1.0 - survival}))
    return pd.concat(frames, ignore_index=True)


def compare_settings(variants: Mapping[str, ElectionConfig], **scenario: Any) -> pd.DataFrame:
    """What each setting costs in lease requests and buys in losses, under one scenario.

    Parameters
    ----------
    variants : mapping of str to ElectionConfig
        The first one is the baseline.
    **scenario
        Arguments of :func:`lease_loss` (``latency``, ``episodes_per_day``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per variant: ``lease_duration``, ``renew_deadline``, ``retry_period``,
        ``timeout``, ``p99_crash_failover`` (what the setting costs after a crash),
        ``requests_per_second`` (the election's steady lease traffic,
        :func:`~ha_toolkit.election.tuning.requests_per_second`), ``losses_per_day``,
        ``leaderless_seconds_per_year`` and ``losses_avoided_per_request_per_second``:
        losses per day avoided against the baseline per extra request per second
        (with no more requests: ``inf`` when a variant loses less, ``-inf`` when it loses
        more, 0 when equal; NaN for the baseline).
    """
    import pandas as pd

    from ha_toolkit.election.timing import failover
    from ha_toolkit.election.tuning import requests_per_second

    rows = []
    for name, cfg in variants.items():
        result = lease_loss(cfg, **scenario)
        crash = failover(cfg, "crash").ppf(0.99) if cfg.followers >= 1 else math.nan
        rows.append({"name": name, "lease_duration": cfg.lease_duration,
                     "renew_deadline": cfg.renew_deadline, "retry_period": cfg.retry_period,
                     "timeout": result.timeout, "p99_crash_failover": float(crash),
                     "requests_per_second": requests_per_second(cfg),
                     "losses_per_day": result.losses_per_day,
                     "leaderless_seconds_per_year": result.leaderless_seconds_per_year})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    base = frame.iloc[0]
    extra = frame["requests_per_second"] - base["requests_per_second"]
    avoided = base["losses_per_day"] - frame["losses_per_day"]
    with np.errstate(divide="ignore", invalid="ignore"):
        # no more requests: +inf if it loses less (a free gain), -inf if more, 0 if equal
        free = np.where(avoided > 0, np.inf, np.where(avoided < 0, -np.inf, 0.0))
        ratio = np.where(extra > 1e-12, avoided / extra.where(extra > 1e-12, 1.0), free)
    ratio[0] = np.nan
    frame["losses_avoided_per_request_per_second"] = ratio
    return frame
