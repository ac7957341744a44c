"""API Priority and Fairness in the leader's renew loop: queueing feeding lease losses.

The leader's lease calls are classified into a priority level (``leader-election`` for
kube-scheduler and kube-controller-manager, FlowSchema ``system-leader-election``). There
each HTTP attempt either

* is rejected at once (429) when the level's seats are all busy and its queue is full,
* waits in a queue and is rejected (429) when it has waited the *wait limit*, or
* waits ``W`` and is executed (``S``), answering after ``l + W + S``.

The wait limit comes from the call's own timeout: the lock client sends ``?timeout=tau``
(client-go ``rest/request.go``, ``Request.URL``), the API server's request-deadline filter
turns it into the request's deadline, and ``getRequestWaitContext`` (apiserver
``pkg/server/filters/priority-and-fairness.go``) lets it queue for a quarter of that, at
most one minute. kube-scheduler's 5 s calls may queue 1.25 s; OpenShift's 107 s calls
26.75 s. A 429 carries ``Retry-After`` (1 s unless the level keeps rejecting,
``pkg/util/flowcontrol/dropped_requests_tracker.go``), which client-go honours
(``rest/with_retry.go``).

The level is :func:`ha_toolkit.apiserver.apf.level_queue` (the 429 probabilities and the
regime), the served attempt's wait the M/M/c/K wait of
:func:`ha_toolkit.apiserver.queues.mmck` below the wait limit, the execution exponential;
the renew loop is :func:`ha_toolkit.election.lease_loss.renew_cycle_loss` with these
attempt latencies and rejections. This module is the only place where the two models meet.

Approximations: the lease calls are a negligible share of the level's load (they see the
level, they do not change it); successive attempts see independent states of the level
(in truth a congested level stays congested for a while, which makes losses burstier than
this says); Retry-After stays at the given value.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ha_toolkit.apiserver.apf import allocate, default_priority_levels, level_queue
from ha_toolkit.apiserver.queues import mmck
from ha_toolkit.durations import parse_duration
from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.lease_loss import CallLatency, call_timeout, renew_cycle_loss

__all__ = ["APF_MAX_WAIT", "LeaseUnderAPF", "apf_wait_limit", "lease_loss_under_apf"]

APF_MAX_WAIT = 60.0
"""The hard cap of a request's queue wait in APF, seconds (``getRequestWaitContext``)."""
# Points of the lattice on which W + S is tabulated.
_GRID = 4096


def apf_wait_limit(timeout: float) -> float:
    """Queue-wait limit of a request whose deadline is ``timeout`` seconds: ``min(t/4, 60)``."""
    value = float(timeout)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"timeout must be a finite duration > 0, got {timeout!r}")
    return min(value / 4.0, APF_MAX_WAIT)


@dataclass(frozen=True)
class LeaseUnderAPF:
    """The renew loop of one leader behind one loaded priority level.

    Attributes
    ----------
    level : str
        The priority level.
    current_cl : int
        Its seats.
    arrival_rate, service_time : float
        The level's load (requests per second, mean execution seconds).
    utilization : float
        Mean share of the seats in use.
    regime : str
        Which constraint rejects (see :func:`ha_toolkit.apiserver.apf.level_queue`).
    wait_limit : float
        How long a lease call may queue, seconds.
    rejection_probability : float
        An attempt is answered 429 (queue full or waited the wait limit).
    queue_full_probability, timeout_probability : float
        The two kinds of 429.
    late_probability : float
        A served attempt answers after the call's timeout (wait plus execution).
    p99_served_latency : float
        99th percentile of a served attempt's round trip, seconds.
    loss_probability_per_cycle, losses_per_day : float
        The renew loop's answer (:func:`~ha_toolkit.election.lease_loss.renew_cycle_loss`).
    timeout : float
        The lock client's per-call timeout.
    """

    level: str
    current_cl: int
    arrival_rate: float
    service_time: float
    utilization: float
    regime: str
    wait_limit: float
    rejection_probability: float
    queue_full_probability: float
    timeout_probability: float
    late_probability: float
    p99_served_latency: float
    loss_probability_per_cycle: float
    losses_per_day: float
    timeout: float

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)


def _accepted_wait_cdf(arrival_rate: float, service_rate: float, servers: int,
                       capacity: int, t: np.ndarray) -> np.ndarray:
    """``P(W <= t)`` of an accepted request of M/M/c/K, summed from positive terms.

    An accepted arrival finds ``n < K`` in the system with probability ``p_n / (1 - p_K)``
    (PASTA) and, when ``n >= c``, waits ``Erlang(n - c + 1, c mu)``. Summing the lower
    regularized gamma functions keeps the relative precision of a tiny ``P(W <= t)`` (an
    overloaded level, where a lease call is served only when its wait ends under the limit),
    which ``1 - P(W > t)`` loses to round-off.
    """
    from scipy.special import gammainc, gammaln, logsumexp

    c, k = int(servers), int(capacity)
    load = arrival_rate / service_rate
    n = np.arange(k)  # the states an accepted arrival can find
    log_a = math.log(load) if load > 0 else -math.inf
    with np.errstate(invalid="ignore"):
        log_p = np.where(n <= c, n * log_a - gammaln(n + 1.0),
                         c * log_a - gammaln(c + 1.0) + (n - c) * (log_a - math.log(c)))
    log_p = np.where(n == 0, 0.0, log_p)
    log_p -= logsumexp(log_p)
    p = np.exp(log_p)
    immediate = float(p[:c].sum())
    queued = n >= c
    x = c * service_rate * np.asarray(t, dtype=float)
    waited = gammainc((n[queued] - c + 1.0)[None, :], x[:, None]) @ p[queued]
    return np.minimum(immediate + waited, 1.0)


def _served_latency(queue: Any, limit: float, service_time: float, network: float,
                    horizon: float) -> CallLatency:
    """``l + W + S`` with ``W`` the M/M/c/K wait given ``W < limit``, ``S ~ Exp``."""
    step = horizon / _GRID
    x = np.arange(_GRID + 1) * step
    args = (float(queue.arrival_rate), float(queue.service_rate), int(queue.servers),
            int(queue.capacity))
    below = float(_accepted_wait_cdf(*args, np.array([limit]))[0])
    w_cdf = _accepted_wait_cdf(*args, np.minimum(x, limit))
    w_cdf = np.where(x >= limit, below, w_cdf) / max(below, 1e-300)
    w_pmf = np.diff(np.concatenate(([0.0], w_cdf)))
    s_pmf = np.diff(-np.expm1(-np.concatenate(([0.0], x + step / 2)) / service_time))
    total = np.convolve(np.maximum(w_pmf, 0.0), s_pmf)[: _GRID + 1]
    table = np.minimum(np.cumsum(total), 1.0)

    def cdf(t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float) - network
        # beyond the table every attempt counts as late: it only matters past the timeout
        return np.where(t < 0, 0.0, np.interp(t, x, table, right=table[-1]))

    return CallLatency(cdf, 0.0, "APF wait + execution")


def lease_loss_under_apf(
    cfg: ElectionConfig,
    arrival_rate: float,
    service_time: float | str,
    *,
    level: str = "leader-election",
    current_cl: int | None = None,
    server_cl: int = 600,
    network_latency: float | str = 0.0,
    retry_after: int = 1,
) -> LeaseUnderAPF:
    """Losses of leadership when the lease calls queue in a loaded priority level.

    Parameters
    ----------
    cfg : ElectionConfig
        The leader's settings; its per-call timeout sets the wait limit.
    arrival_rate : float
        Requests per second in the level (all flows).
    service_time : float or str
        Mean execution time of a request of the level (e.g. an etcd write).
    level : str, default "leader-election"
        A default priority level.
    current_cl : int, optional
        The level's seats; by default its NominalCL at ``server_cl``.
    server_cl : int, default 600
        ``--max-requests-inflight`` + ``--max-mutating-requests-inflight``.
    network_latency : float or str, default 0
        Round trip outside the API server.
    retry_after : int, default 1
        Retry-After of the 429s.

    Returns
    -------
    LeaseUnderAPF
    """
    levels = {lv.name: lv for lv in default_priority_levels()}
    if level not in levels:
        raise ValueError(f"unknown priority level {level!r}; known: {', '.join(levels)}")
    chosen = levels[level]
    if chosen.exempt:
        raise ValueError(f"level {level!r} is exempt: it never queues nor rejects")
    service = parse_duration(service_time, name="service_time")
    network = parse_duration(network_latency, name="network_latency")
    if current_cl is None:
        current_cl = int(allocate(server_cl=server_cl).level(level)["nominal_cl"])
    tau = call_timeout(cfg)
    limit = apf_wait_limit(tau)
    q = level_queue(chosen, int(current_cl), float(arrival_rate), service, wait_limit=limit)
    full = float(q.queue_full_probability)
    timed_out = float(q.timeout_probability)
    reject = float(q.rejection_probability)
    queue = mmck(float(arrival_rate), 1.0 / service, float(q.servers), float(q.capacity))
    served = _served_latency(queue, limit, service, network, horizon=1.5 * tau + limit)
    share_full = full / reject if reject > 0 else 1.0
    delay = CallLatency(
        lambda t: share_full * (np.asarray(t) >= network)
        + (1.0 - share_full) * (np.asarray(t) >= network + limit),
        0.0, "429 at once or after the wait limit")
    loop = renew_cycle_loss(cfg, served, rejection=min(reject, 1.0 - 1e-12),
                            rejection_delay=delay, retry_after=retry_after)
    return LeaseUnderAPF(
        level=level,
        current_cl=int(current_cl),
        arrival_rate=float(arrival_rate),
        service_time=service,
        utilization=float(q.utilization),
        regime=str(q.regime),
        wait_limit=limit,
        rejection_probability=reject,
        queue_full_probability=full,
        timeout_probability=timed_out,
        late_probability=float(served.sf(tau)),
        p99_served_latency=served.quantile(0.99),
        loss_probability_per_cycle=loop.loss_probability_per_cycle,
        losses_per_day=loop.losses_per_day,
        timeout=tau,
    )
