"""Availability of a Kubernetes control plane: load balancer, etcd, API servers, leaders.

Each tier is a set of identical replicas that fail and are repaired independently (a
replica is the series of the units it needs, e.g. its machine and its process: see
:class:`~ha_toolkit.availability.blocks.Replica`). ``M``, the number of replicas up, is
then Binomial(n, A_replica) at every moment, and the failures of up replicas arrive at rate
``lambda = sum(1 / MTBF)`` each (up and down times exponential). On top of the states, the
tiers add the short gaps that follow a failure:

**API servers** (:func:`api_server_terms`): stateless replicas behind a load balancer that
sends each request to one replica in its pool. The tier fails every request when no
replica is up; besides, a replica that dies stays in the pool until the health check has
failed ``threshold`` times in a row, and meanwhile its share ``1/M`` of the requests fails.
With probes every ``interval`` at a phase independent of the failure, the detection delay
is ``D ~ Uniform[(threshold - 1) * interval, threshold * interval] + timeout``; the replica
also stops failing requests if it is back first, so each failure costs
``E[min(D, R)] / M`` of the requests (R the repair time). Summed over failures::

    U_api = P(M = 0) + lambda * P(M >= 2) * E[min(D, R)]

**etcd** (:func:`etcd_terms`): a Raft cluster serves while a quorum ``floor(n/2) + 1`` of
its members is up. Writes stop for an election after the leader fails (while a quorum
remains) and when a lost quorum comes back::

    U_etcd = P(M < q) + g * lambda * (P(M >= q + 1) + q P(M = q))

**Leader-elected components** (:func:`leader_elected_terms`: kube-scheduler,
kube-controller-manager) work while one replica holds the lease and has taken over. They
are down when every replica is down, and leaderless after:

* a crash of the leader while ``m >= 2`` replicas were up: the crash failover of client-go
  with ``m`` candidates (:func:`ha_toolkit.election.timing.failover`), rate
  ``lambda * P(M = m)``;
* the recovery from "all down": a fresh process must wait a whole lease before it may take
  a lease whose holder it never saw renew (:func:`fresh_acquisition`);
* planned rolling restarts: each restart of the leader hands the lease over (the
  ``"release"`` scenario when the component releases its lease on shutdown, the
  ``"crash"`` one otherwise), :func:`rolling_update_handovers` times per update (the
  restart order must not follow the lease: a fixed order leaves the lease on the
  machines restarted first, and the next update moves it more often);
* API outages the leader does not ride out (:func:`leadership_loss_probability`, from
  :func:`ha_toolkit.election.outage.outage_survival`): the time after the API is back until
  a follower has taken over (:func:`leaderless_after_api_return`). The outage itself counts
  in the row of whatever caused it, not here. When the outage is a tier on the same
  machines coming back (stacked etcd regaining its quorum), fewer replicas are up at its
  end than on average (:func:`restoration_up_count`);

and every new leader needs ``takeover`` seconds (cache sync, controller start) before it
works.

:func:`control_plane` composes the rows for a :class:`Topology` with the
:class:`Assumptions` of ``data/availability_assumptions.csv`` and adds their series as the
total. The terms are exact for the model to first order in (gap length / MTBF); the total
treats the rows as independent, which they are not quite when one machine hosts several
of them (one machine failure can start two gaps at once): the total then counts those
overlaps twice and errs on the safe side. ``ha_toolkit.availability.simulate`` measures
every term and the true union by simulation.
"""

from __future__ import annotations

import csv
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ha_toolkit._data import data_path
from ha_toolkit.availability.blocks import (
    SECONDS_PER_YEAR,
    Component,
    Replica,
    _check_count,
    parse_long_duration,
    quorum,
    up_count_pmf,
)
from ha_toolkit.availability.probes import (
    KUBEADM_LIVENESS,
    KUBEADM_READINESS,
    KUBEADM_STARTUP,
    Probe,
    Restart,
    detection,
    in_pool_window,
    recovery,
    serving_again,
)
from ha_toolkit.distribution import Distribution, renewal_overshoot
from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.timing import failover, follower_gap

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ASSUMPTIONS_FILE",
    "COMPONENTS",
    "ApiServerFailures",
    "RESTART_BACKOFF",
    "Assumptions",
    "HealthCheck",
    "Outage",
    "Term",
    "Topology",
    "api_server_phases",
    "api_server_terms",
    "assumptions_frame",
    "control_plane",
    "control_plane_terms",
    "etcd_terms",
    "fresh_acquisition",
    "leader_elected_terms",
    "leader_outages",
    "leaderless_after_api_return",
    "leadership_loss_probability",
    "restoration_up_count",
    "rolling_update_handovers",
    "terms_frame",
]

ASSUMPTIONS_FILE = "availability_assumptions.csv"
_ASSUMPTION_COLUMNS = ("parameter", "value", "unit", "source_or_reason")
_UNIT_SECONDS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_MODES = ("refuse", "blackhole")
_ORDERS = ("random", "leader-last")


def _seconds(value: Any, name: str, *, positive: bool = False) -> float:
    seconds = parse_long_duration(value, name=name)
    if positive and not seconds > 0:
        raise ValueError(f"invalid {name} {value!r}: must be > 0")
    if seconds < 0:
        raise ValueError(f"invalid {name} {value!r}: must be >= 0")
    return seconds


def _rate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"invalid {name} {value!r}: expected a number >= 0")
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"invalid {name} {value!r}: must be finite and >= 0")
    return value


# ---------------------------------------------------------------------- health check
@dataclass(frozen=True)
class HealthCheck:
    """A load balancer's health check of its backends.

    Parameters
    ----------
    interval : duration, default 10 s
        Time between two probes of one backend (> 0).
    threshold : int, default 3
        Consecutive failed probes before the backend leaves the pool (HAProxy ``fall``,
        cloud "unhealthy threshold").
    timeout : duration, default 0
        Time a failed probe takes to count as failed: 0 for a refused connection, the
        probe timeout for a machine that is gone.

    Notes
    -----
    A backend that dies at a moment independent of the probe schedule is removed after
    ``D ~ Uniform[(threshold - 1) * interval, threshold * interval] + timeout``.
    """

    interval: float = 10.0
    threshold: int = 3
    timeout: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval", _seconds(self.interval, "interval", positive=True))
        object.__setattr__(self, "threshold", _check_count(self.threshold, "threshold"))
        object.__setattr__(self, "timeout", _seconds(self.timeout, "timeout"))

    @property
    def detection_window(self) -> tuple[float, float]:
        """Shortest and longest time from a backend's death to its removal."""
        lo = (self.threshold - 1) * self.interval + self.timeout
        return lo, lo + self.interval

    @property
    def mean_detection(self) -> float:
        """Mean time from a backend's death to its removal."""
        lo, hi = self.detection_window
        return 0.5 * (lo + hi)

    def undetected_time(self, mttr: float) -> float:
        """``E[min(D, R)]``: how long a dead backend stays in the pool.

        Parameters
        ----------
        mttr : float
            Mean of the exponential repair time R (seconds, >= 0); the backend serves
            again as soon as it is repaired.
        """
        tau = _seconds(mttr, "mttr")
        if tau == 0.0:
            return 0.0
        lo, hi = self.detection_window
        x, w = np.polynomial.legendre.leggauss(24)
        d = 0.5 * (lo + hi) + 0.5 * (hi - lo) * x
        # E[min(d, R)] = tau * (1 - exp(-d / tau)) for a fixed d
        return float(0.5 * w @ (-tau * np.expm1(-d / tau)))

    def expected_undetected(self, replica: Replica | Component) -> float:
        """``E[min(D, R)]`` for a failure of ``replica``: a mix over the unit that failed.

        Unit ``j`` causes a share ``(1 / MTBF_j) / sum(1 / MTBF)`` of the failures and its
        repair ends the outage (other units failing meanwhile is second order).
        """
        units = replica.units
        rates = np.array([u.failure_rate for u in units])
        times = np.array([self.undetected_time(u.mttr) for u in units])
        return float(rates @ times / rates.sum())


# ---------------------------------------------------------------------------- terms
@dataclass(frozen=True)
class Term:
    """One mechanism's share of a component's unavailability.

    Attributes
    ----------
    component : str
        E.g. ``"etcd"``.
    mechanism : str
        E.g. ``"quorum lost"``.
    unavailability : float
        Long-run fraction of time (of requests, for the API servers) lost to it.
    events_per_year : float
        How often the mechanism starts, per 365-day year.
    """

    component: str
    mechanism: str
    unavailability: float
    events_per_year: float

    @property
    def downtime_per_year(self) -> float:
        """Seconds a year."""
        return self.unavailability * SECONDS_PER_YEAR

    @property
    def seconds_per_event(self) -> float:
        """Mean cost of one event in seconds (0 when there are no events)."""
        if self.events_per_year <= 0:
            return 0.0
        return self.downtime_per_year / self.events_per_year

    def to_dict(self) -> dict[str, Any]:
        """The fields and the derived ``downtime_per_year`` and ``seconds_per_event``."""
        return {
            "component": self.component,
            "mechanism": self.mechanism,
            "unavailability": self.unavailability,
            "downtime_per_year": self.downtime_per_year,
            "events_per_year": self.events_per_year,
            "seconds_per_event": self.seconds_per_event,
        }


def terms_frame(terms: Sequence[Term]) -> pd.DataFrame:
    """A tidy DataFrame of terms: one row each, the columns of :meth:`Term.to_dict`."""
    import pandas as pd

    columns = [
        "component",
        "mechanism",
        "unavailability",
        "downtime_per_year",
        "events_per_year",
        "seconds_per_event",
    ]
    return pd.DataFrame([t.to_dict() for t in terms], columns=columns)


def _per_year(rate_per_second: float) -> float:
    return float(rate_per_second * SECONDS_PER_YEAR)


def _replica(value: Any, name: str) -> Replica:
    if isinstance(value, Replica):
        return value
    if isinstance(value, Component):
        return Replica((value,))
    raise ValueError(f"invalid {name} {value!r}: expected a Component or a Replica")


@dataclass(frozen=True)
class ApiServerFailures:
    """How API server processes fail, and how the kubelet and the load balancer react.

    Replaces the assumed constant ``apiserver_mtbf`` / ``apiserver_mttr`` of the process
    with the kubelet's probes and restart (:mod:`ha_toolkit.availability.probes`).

    Parameters
    ----------
    crashes_per_year : float, default 4
        Process exits (out of memory, panics) per replica and year.
    hangs_per_year : float, default 1
        Hangs per replica and year: the process lives but every request and probe times
        out (deadlock, a stuck etcd client, a machine thrashing).
    liveness, readiness, startup_probe : Probe
        The static pod's probes; kubeadm's by default.
    restart : Restart
        Start-up, grace period, shutdown delay and back-off of the restart.
    lb_timeout : duration, default 5 s
        The load balancer's check timeout: how long its check of a hung server takes.
    """

    crashes_per_year: float = 4.0
    hangs_per_year: float = 1.0
    liveness: Probe = KUBEADM_LIVENESS
    readiness: Probe | None = KUBEADM_READINESS
    startup_probe: Probe | None = KUBEADM_STARTUP
    restart: Restart = field(default_factory=Restart)
    lb_timeout: float = 5.0

    def __post_init__(self) -> None:
        crashes = _rate(self.crashes_per_year, "crashes_per_year")
        hangs = _rate(self.hangs_per_year, "hangs_per_year")
        if crashes + hangs <= 0:
            raise ValueError("invalid crashes_per_year and hangs_per_year: both are 0; give "
                             "at least one failure rate > 0")
        object.__setattr__(self, "crashes_per_year", crashes)
        object.__setattr__(self, "hangs_per_year", hangs)
        if not isinstance(self.liveness, Probe):
            raise ValueError(f"invalid liveness {self.liveness!r}: expected a Probe")
        for name in ("readiness", "startup_probe"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Probe):
                raise ValueError(f"invalid {name} {value!r}: expected a Probe or None")
        if not isinstance(self.restart, Restart):
            raise ValueError(f"invalid restart {self.restart!r}: expected a Restart")
        object.__setattr__(self, "lb_timeout", _seconds(self.lb_timeout, "lb_timeout"))

    @property
    def kinds(self) -> tuple[tuple[str, float], ...]:
        """``(failure, per year)`` of the two ways a process fails."""
        return (("exit", self.crashes_per_year), ("hung", self.hangs_per_year))

    def lb_probe(self, health_check: HealthCheck) -> Probe:
        """The load balancer's check as a probe (its timeout for a hung server)."""
        return Probe(health_check.interval, max(self.lb_timeout, 1e-9), health_check.threshold)

    def component(self) -> Component:
        """The process as a component: failures at the summed rate, restored when the
        restarted server serves again (the mean of
        :func:`~ha_toolkit.availability.probes.serving_again`, weighted by the rates)."""
        total = self.crashes_per_year + self.hangs_per_year
        mttr = sum(rate * _serving_mean(self, kind) for kind, rate in self.kinds) / total
        return Component(SECONDS_PER_YEAR / total, mttr, "apiserver")


@lru_cache(maxsize=64)
def _serving_mean(failures: ApiServerFailures, kind: str) -> float:
    return serving_again(failures.liveness, kind, failures.restart).mean()


@lru_cache(maxsize=64)
def _window_mean(failures: ApiServerFailures, lb: Probe, kind: str) -> float:
    return in_pool_window(lb, kind, failures.liveness, failures.restart).mean()


def api_server_phases(
    failures: ApiServerFailures | None = None, health_check: HealthCheck | None = None
) -> pd.DataFrame:
    """Mean seconds of each phase after a crash and after a hang, and the setting behind it.

    Parameters
    ----------
    failures : ApiServerFailures, optional
        Default ``ApiServerFailures()`` (kubeadm's probes).
    health_check : HealthCheck, optional
        The load balancer's check; default ``HealthCheck()``.

    Returns
    -------
    pandas.DataFrame
        Columns ``failure, phase, settings, seconds``: the kubelet's detection, the stop,
        the back-off, the start-up, the start-up and readiness probes (to Ready), and the
        load balancer's window (requests failing while the replica is still in the pool).
    """
    import pandas as pd

    f = ApiServerFailures() if failures is None else failures
    hc = HealthCheck() if health_check is None else health_check
    lb = f.lb_probe(hc)
    r = f.restart
    rows = []
    for kind, _ in f.kinds:
        det = detection(f.liveness, kind, relist=r.relist).mean()
        serving = _serving_mean(f, kind)
        ready = recovery(f.liveness, kind, r, readiness=f.readiness,
                         startup_probe=f.startup_probe).mean()
        what = "PLEG relist" if kind == "exit" else "liveness period, timeout, failureThreshold"
        rows += [
            (kind, "kubelet detection", what, det),
            (kind, "stop", "terminationGracePeriodSeconds", r.stop_time(kind)),
            (kind, "back-off", "recent restarts",
             max(round(serving - r.startup - det - r.stop_time(kind), 9), 0.0)),
            (kind, "start-up", "API server start-up", r.startup),
            (kind, "probes to Ready", "startup and readiness probes", ready - serving),
            (kind, "failing in the LB pool", "LB interval, fall, timeout",
             _window_mean(f, lb, kind)),
        ]
    return pd.DataFrame(rows, columns=["failure", "phase", "settings", "seconds"])


def api_server_terms(
    replicas: int,
    replica: Replica | Component,
    health_check: HealthCheck | None = None,
    *,
    component: str = "API servers",
    failures: ApiServerFailures | None = None,
) -> list[Term]:
    """Request-level unavailability of stateless replicas behind a load balancer.

    Parameters
    ----------
    replicas : int
        API server replicas in the pool (>= 1).
    replica : Replica or Component
        What one replica needs to be up (its machine, its process, a local etcd member...).
    health_check : HealthCheck, optional
        The load balancer's check; None for an ideal one that removes a dead replica at
        once.
    component : str
        Label of the terms.
    failures : ApiServerFailures, optional
        The API server process's crashes and hangs, detected and restarted by the
        kubelet. When given, ``replica`` holds the other units only (machine, etcd
        member) and the process joins them as :meth:`ApiServerFailures.component`.

    Returns
    -------
    list of Term
        ``"all replicas down"`` (``P(M = 0)``) and ``"undetected failures"``
        (``lambda * P(M >= 2) * E[min(D, R)]``, see the module docstring) of the units of
        ``replica``; with ``failures`` also ``"crashes in the LB pool"`` and ``"hangs in
        the LB pool"``: ``lambda_k * P(M >= 2) * E[min(D_lb, H)]`` with the load balancer's
        detection of that failure and the time until the restarted server serves
        (:func:`~ha_toolkit.availability.probes.in_pool_window`).
    """
    n = _check_count(replicas, "replicas")
    rep = _replica(replica, "replica")
    if failures is not None:
        if not isinstance(failures, ApiServerFailures):
            raise ValueError(f"invalid failures {failures!r}: expected ApiServerFailures")
        if health_check is None:
            raise ValueError("failures need a health_check: the load balancer's check")
        process_terms = _process_terms(n, rep, health_check, failures, component)
        full = Replica((*rep.units, failures.component()), rep.name)
        pmf = up_count_pmf(n, full.unavailability)
        lam = full.failure_rate
        terms = [Term(component, "all replicas down", float(pmf[0]), _per_year(lam * pmf[1]))]
        return terms + _undetected_terms(n, rep, full, health_check, component) + process_terms
    lam = rep.failure_rate
    pmf = up_count_pmf(n, rep.unavailability)
    terms = [Term(component, "all replicas down", float(pmf[0]), _per_year(lam * pmf[1]))]
    if health_check is not None:
        loss = health_check.expected_undetected(rep)
        at_least_two = float(pmf[2:].sum())
        failures = lam * float(np.arange(n + 1)[2:] @ pmf[2:])
        terms.append(
            Term(component, "undetected failures", lam * at_least_two * loss, _per_year(failures))
        )
    return terms


def _undetected_terms(
    n: int, units: Replica, full: Replica, hc: HealthCheck, component: str
) -> list[Term]:
    """The machine's and etcd member's failures seen by the load balancer, with the
    up-count of the whole replica (process included)."""
    pmf = up_count_pmf(n, full.unavailability)
    lam = units.failure_rate
    loss = hc.expected_undetected(units)
    up_two = float(pmf[2:].sum())
    events = lam * float(np.arange(n + 1)[2:] @ pmf[2:])
    return [Term(component, "undetected failures", lam * up_two * loss, _per_year(events))]


def _process_terms(
    n: int, units: Replica, hc: HealthCheck, f: ApiServerFailures, component: str
) -> list[Term]:
    full = Replica((*units.units, f.component()), units.name)
    pmf = up_count_pmf(n, full.unavailability)
    up_two = float(pmf[2:].sum())
    replicas_up = float(np.arange(n + 1)[2:] @ pmf[2:])
    lb = f.lb_probe(hc)
    terms = []
    for kind, per_year in f.kinds:
        lam = per_year / SECONDS_PER_YEAR
        label = "crashes in the LB pool" if kind == "exit" else "hangs in the LB pool"
        cost = _window_mean(f, lb, kind) if lam > 0 else 0.0
        terms.append(Term(component, label, lam * up_two * cost, per_year * replicas_up))
    return terms


def etcd_terms(
    members: int,
    member: Replica | Component,
    election: float | str = 2.0,
    *,
    component: str = "etcd",
) -> list[Term]:
    """Unavailability of a Raft cluster: lost quorum and leader elections.

    Parameters
    ----------
    members : int
        Cluster size n (>= 1); the quorum is ``floor(n / 2) + 1``.
    member : Replica or Component
        What one member needs (its machine and its process).
    election : duration, default 2 s
        Mean time without a leader after the leader fails or after a quorum comes back.
    component : str
        Label of the terms.

    Returns
    -------
    list of Term
        ``"quorum lost"`` and ``"leader elections"``.
    """
    n = _check_count(members, "members")
    rep = _replica(member, "member")
    gap = _seconds(election, "election")
    q = quorum(n)
    lam = rep.failure_rate
    pmf = up_count_pmf(n, rep.unavailability)
    lost = float(pmf[:q].sum())
    loss_rate = q * lam * float(pmf[q])
    election_rate = lam * float(pmf[q + 1 :].sum()) + loss_rate
    return [
        Term(component, "quorum lost", lost, _per_year(loss_rate)),
        Term(component, "leader elections", election_rate * gap, _per_year(election_rate)),
    ]


# -------------------------------------------------------------- leader-elected parts
def rolling_update_handovers(replicas: int, order: str = "random") -> float:
    """Expected lease handovers when ``replicas`` replicas are restarted one after another.

    Each time the leader restarts, the lease goes to one of the others with equal
    probability (the first follower to poll wins), possibly to one still to be restarted,
    which then hands it over again.

    Parameters
    ----------
    replicas : int
        Replicas restarted (>= 1). One replica: 1 (it restarts and takes the lease back).
    order : {"random", "leader-last"}
        ``"random"``: the restart order does not depend on where the lease is (two
        replicas: 1.5 handovers, three: 19/12). ``"leader-last"``: the operator restarts
        the current leader last, so the lease moves exactly once.

    Returns
    -------
    float
    """
    n = _check_count(replicas, "replicas")
    if order not in _ORDERS:
        raise ValueError(f"invalid order {order!r}: expected one of {', '.join(_ORDERS)}")
    if n == 1 or order == "leader-last":
        return 1.0
    p = np.full(n, 1.0 / n)  # where the lease is before each restart
    total = 0.0
    for j in range(n):
        hit = p[j]
        total += hit
        p[j] = 0.0
        p += hit / (n - 1) * (np.arange(n) != j)
    return float(total)


@lru_cache(maxsize=256)
def _failover_mean(cfg: ElectionConfig, scenario: str) -> float:
    return failover(cfg, scenario).mean()


@lru_cache(maxsize=256)
def _fresh_mean(cfg: ElectionConfig, released: bool) -> float:
    lat = cfg.api_latency
    if released:
        return 2.0 * lat
    level = lat + cfg.record_lease_duration
    gap = follower_gap(cfg)
    return level + renewal_overshoot(gap, level).mean() + 2.0 * lat


def fresh_acquisition(cfg: ElectionConfig, released: bool = False) -> float:
    """Mean time a freshly started process needs to take the lease, no one else running.

    client-go's first attempt runs at once; it sees the lease for the first time, so it
    sets ``observedTime`` and, while the record names a holder, must wait until
    ``observedTime + LeaseDurationSeconds`` before taking it, polling every
    ``RP * (1 + J * U)`` (plus the call). An emptied record (``released``) is taken at the
    first attempt.

    Parameters
    ----------
    cfg : ElectionConfig
        Lease settings.
    released : bool, default False
        True when the previous holder released the lease (``ReleaseOnCancel``).

    Returns
    -------
    float
        Seconds from the process's start to holding the lease:
        ``l + LDrec + E[overshoot] + 2 l``, or ``2 l`` when released.
    """
    if not isinstance(cfg, ElectionConfig):
        raise ValueError(f"invalid cfg {cfg!r}: expected an ElectionConfig")
    return _fresh_mean(cfg, bool(released))


def _survival_window(cfg: ElectionConfig, mode: str) -> tuple[float, float]:
    from ha_toolkit.election.outage import outage_survival

    base = outage_survival(cfg, 0.0, mode)
    return base.min_tolerated_outage, base.max_tolerated_outage


def leadership_loss_probability(
    cfg: ElectionConfig,
    outage: float | str | Distribution,
    mode: str = "refuse",
    *,
    exponential: bool = False,
) -> float:
    """Probability that the leader loses its lease during one API outage.

    A convenience around :func:`ha_toolkit.election.outage.outage_survival`.

    Parameters
    ----------
    cfg : ElectionConfig
        Lease settings.
    outage : duration or Distribution
        The outage length, or its distribution. With ``exponential=True``, the mean of
        an exponentially distributed length.
    mode : {"refuse", "blackhole"}
        How API calls fail during the outage.
    exponential : bool, default False
        Read ``outage`` as the mean of an exponential length (a repair).

    Returns
    -------
    float
        ``1 - survival_probability``. For an exponential length with mean tau, with
        ``survival(T)`` falling linearly from 1 at ``T = A`` to 0 at ``A + P``, it is
        ``(tau / P) * (exp(-A / tau) - exp(-(A + P) / tau))``.
    """
    from ha_toolkit.election.outage import outage_survival

    if mode not in _MODES:
        raise ValueError(f"invalid mode {mode!r}: expected one of {', '.join(_MODES)}")
    if isinstance(outage, Distribution):
        return float(outage_survival(cfg, outage, mode).loss_probability)
    length = _seconds(outage, "outage")
    if not exponential:
        return float(outage_survival(cfg, length, mode).loss_probability)
    if length == 0.0:
        return 0.0
    a, b = _survival_window(cfg, mode)
    width = b - a
    return float(
        min(max(length / width * math.exp(-a / length) * -math.expm1(-width / length), 0.0), 1.0)
    )


#: The kubelet's first restart back-off: a lone leader that lost its lease exits and is
#: restarted this long after (``ha_toolkit.election.outage.crash_loop_backoff(1)``).
RESTART_BACKOFF = 10.0


def _long_outage(cfg: ElectionConfig, mode: str) -> float:
    """An outage length that every phase loses, after which every follower's view of the
    lease has expired (and a lone leader has been restarted and polls in its stationary
    rhythm): from there on the leaderless time after it is the same."""
    a, b = _survival_window(cfg, mode)
    period = b - a
    length = max(b, cfg.record_lease_duration + 1.5 * cfg.api_latency) + period
    if cfg.candidates == 1:
        longest_gap = (1 + cfg.jitter_factor) * cfg.retry_period + cfg.api_latency
        length = max(length, b + cfg.renew_deadline + RESTART_BACKOFF + 4 * longest_gap)
    return length


#: Phases of the leader's renew cycle integrated by leaderless_after_outage: 16 puts the
#: mean within about 0.1 % of the 48-phase default at a third of the cost.
_OUTAGE_PHASES = 16


def _after_return_mean(
    cfg: ElectionConfig, mode: str, takeover: float, length: float | None = None
) -> float:
    long = _long_outage(cfg, mode)
    length = long if length is None or length >= long else float(length)
    a, _ = _survival_window(cfg, mode)
    if length <= a:
        return 0.0
    # the new leader's start-up comes after everything else: add it outside the cache
    return _after_return_cached(cfg, mode, length) + takeover


@lru_cache(maxsize=1024)
def _after_return_cached(cfg: ElectionConfig, mode: str, length: float) -> float:
    from ha_toolkit.election.outage import leaderless_after_outage

    a, b = _survival_window(cfg, mode)
    period = b - a
    lat = cfg.api_latency
    total = leaderless_after_outage(
        cfg, length, mode, restart=RESTART_BACKOFF, phases=_OUTAGE_PHASES
    ).mean()
    # leaderless_after_outage counts from the leader's stop: RP + l - phi - l/2 + RD after
    # the outage start, with phi ~ U[max(0, P - (T - A)), P) given the loss. Keep the part
    # after the outage's end.
    phi = 0.5 * (max(0.0, period - (length - a)) + period)
    stop = period - phi - 0.5 * lat + cfg.renew_deadline
    return float(total - (length - stop))


def leaderless_after_api_return(
    cfg: ElectionConfig,
    mode: str = "refuse",
    takeover: float | str = 0.0,
    outage: float | str | None = None,
) -> float:
    """Mean leaderless time after the API comes back from an outage the leader lost.

    Computed from :func:`ha_toolkit.election.outage.leaderless_after_outage`, which counts
    from the leader's stop (its failing renew cycle's deadline), minus the part of that
    time inside the outage. Followers that read the leader's last renewal before the
    outage take the lease at their first poll after it; those that did not see it as a
    change afterwards and wait a whole lease.

    Parameters
    ----------
    cfg : ElectionConfig
        Lease settings; ``cfg.candidates`` counts the old leader and the followers. With
        one candidate the old leader exits, the kubelet restarts it after
        :data:`RESTART_BACKOFF` and the new process waits a whole lease.
    mode : {"refuse", "blackhole"}
        How API calls failed during the outage.
    takeover : duration
        Start-up of the new leader, added at the end.
    outage : duration, optional
        The outage's length. By default a long outage: every phase of the leader loses
        and every follower's view of the lease has expired by its end. Beyond that length
        the result no longer depends on it, and longer outages are computed at it.

    Returns
    -------
    float
        Seconds from the end of the outage until a new leader works; 0 for an outage the
        leader always survives.
    """
    if mode not in _MODES:
        raise ValueError(f"invalid mode {mode!r}: expected one of {', '.join(_MODES)}")
    length = None if outage is None else _seconds(outage, "outage")
    return _after_return_mean(cfg, mode, _seconds(takeover, "takeover"), length)


@dataclass(frozen=True)
class Outage:
    """A kind of API outage that leader-elected components live through.

    Parameters
    ----------
    name : str
        E.g. ``"etcd quorum lost"``.
    per_year : float
        Outages a year (>= 0).
    duration : duration or Distribution
        Length of one outage, its distribution, or (``exponential=True``) the mean of an
        exponential length.
    exponential : bool, default False
        See ``duration``.
    replicas_up : sequence of float, optional
        Distribution of the number of leader-elected replicas up when the outage ends
        (index m = 0..n), when it depends on the outage; by default independent replicas.
    """

    name: str
    per_year: float
    duration: float | Distribution
    exponential: bool = False
    replicas_up: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_year", _rate(self.per_year, "per_year"))
        if not isinstance(self.duration, Distribution):
            object.__setattr__(self, "duration", _seconds(self.duration, "duration"))
        if self.replicas_up is not None:
            probs = tuple(float(p) for p in self.replicas_up)
            if any(not (0.0 <= p <= 1.0) for p in probs) or abs(sum(probs) - 1.0) > 1e-9:
                raise ValueError(
                    "invalid replicas_up: expected probabilities in [0, 1] summing to 1"
                )
            object.__setattr__(self, "replicas_up", probs)

    def loss_probability(self, cfg: ElectionConfig, mode: str = "refuse") -> float:
        """:func:`leadership_loss_probability` for this outage."""
        return leadership_loss_probability(cfg, self.duration, mode, exponential=self.exponential)


def leader_elected_terms(
    cfg: ElectionConfig,
    replicas: int,
    replica: Replica | Component,
    *,
    rolling_updates_per_year: float = 0.0,
    outages: Sequence[Outage] = (),
    takeover: float | str = 0.0,
    planned_restart: float | str = 30.0,
    mode: str = "refuse",
    leadership_loss_per_outage: float | None = None,
    update_order: str = "random",
    component: str | None = None,
) -> list[Term]:
    """Unavailability of a leader-elected component (one active replica at a time).

    Parameters
    ----------
    cfg : ElectionConfig
        Lease settings; ``candidates`` is replaced by the number of replicas up.
    replicas : int
        Replicas running for the lease (>= 1).
    replica : Replica or Component
        What one replica needs to be able to lead (machine, process, its API server...).
    rolling_updates_per_year : float
        Planned rolling restarts of all replicas a year.
    outages : sequence of Outage
        API outages the leader may not survive.
    takeover : duration
        Time a new leader needs before it works (cache sync, starting its controllers).
    planned_restart : duration
        Time a single replica takes to restart (only matters for one replica).
    mode : {"refuse", "blackhole"}
        How API calls fail during outages.
    leadership_loss_per_outage : float, optional
        Probability of losing the lease in any one outage; by default computed per outage
        from :func:`ha_toolkit.election.outage.outage_survival`.
    update_order : {"random", "leader-last"}
        Restart order of a rolling update, see :func:`rolling_update_handovers`.
    component : str, optional
        Label; defaults to ``cfg.name`` or ``"leader-elected"``.

    Returns
    -------
    list of Term
        ``"all replicas down"``, ``"recovery after all down"``, ``"crash failover"``,
        ``"rolling updates"``, then ``"after <outage name>"`` per outage.

    Notes
    -----
    Cost of each event, with ``m`` replicas up when it happens (``P(M = m)`` binomial):

    * leader crash, ``m >= 2``: ``failover(cfg(m), "crash").mean() + takeover``;
    * all down, then one replica back: :func:`fresh_acquisition` ``+ takeover``;
    * rolling update: :func:`rolling_update_handovers` ``(m, update_order)`` handovers of
      ``failover(cfg(m), "release" if cfg.release_on_cancel else "crash").mean() +
      takeover``; one replica: ``planned_restart + fresh_acquisition + takeover``;
    * lost outage: :func:`leaderless_after_api_return` with ``m`` candidates (for the
      outage's length when it is fixed, else for a long outage); with one replica up, the
      kubelet restarts the old leader, which then waits a whole lease.

    How many replicas are up when an outage ends is ``Outage.replicas_up`` when given
    (outages of a tier on the same machines, see :func:`restoration_up_count`), else the
    binomial of independent replicas.
    """
    if not isinstance(cfg, ElectionConfig):
        raise ValueError(f"invalid cfg {cfg!r}: expected an ElectionConfig")
    n = _check_count(replicas, "replicas")
    rep = _replica(replica, "replica")
    updates = _rate(rolling_updates_per_year, "rolling_updates_per_year")
    take = _seconds(takeover, "takeover")
    restart = _seconds(planned_restart, "planned_restart")
    if mode not in _MODES:
        raise ValueError(f"invalid mode {mode!r}: expected one of {', '.join(_MODES)}")
    if leadership_loss_per_outage is not None:
        p_fixed = _rate(leadership_loss_per_outage, "leadership_loss_per_outage")
        if p_fixed > 1:
            raise ValueError(
                f"invalid leadership_loss_per_outage {leadership_loss_per_outage!r}: "
                "must lie in [0, 1]"
            )
    name = component if component is not None else (cfg.name or "leader-elected")
    lam = rep.failure_rate
    pmf = up_count_pmf(n, rep.unavailability)
    ms = range(2, n + 1)

    def with_candidates(m: int) -> ElectionConfig:
        return replace(cfg, candidates=m)

    fresh_crashed = fresh_acquisition(cfg, released=False) + take
    terms = [
        Term(name, "all replicas down", float(pmf[0]), _per_year(lam * pmf[1])),
        Term(
            name,
            "recovery after all down",
            lam * float(pmf[1]) * fresh_crashed,
            _per_year(lam * pmf[1]),
        ),
    ]
    crash_rate = lam * float(pmf[2:].sum())
    crash_loss = lam * sum(
        float(pmf[m]) * (_failover_mean(with_candidates(m), "crash") + take) for m in ms
    )
    terms.append(Term(name, "crash failover", crash_loss, _per_year(crash_rate)))

    scenario = "release" if cfg.release_on_cancel else "crash"
    per_update = float(pmf[1]) * (restart + fresh_acquisition(cfg, cfg.release_on_cancel) + take)
    handovers = float(pmf[1])
    for m in ms:
        h = rolling_update_handovers(m, update_order)
        handovers += float(pmf[m]) * h
        per_update += float(pmf[m]) * h * (_failover_mean(with_candidates(m), scenario) + take)
    per_second = updates / SECONDS_PER_YEAR
    terms.append(Term(name, "rolling updates", per_second * per_update, updates * handovers))

    for outage in outages:
        if not isinstance(outage, Outage):
            raise ValueError(f"invalid outage {outage!r}: expected an Outage")
        p_loss = (
            p_fixed
            if leadership_loss_per_outage is not None
            else outage.loss_probability(cfg, mode)
        )
        fixed = None
        if not (outage.exponential or isinstance(outage.duration, Distribution)):
            fixed = float(outage.duration)
        at_end = pmf if outage.replicas_up is None else np.asarray(outage.replicas_up, float)
        if at_end.shape != (n + 1,):
            raise ValueError(
                f"invalid replicas_up of outage {outage.name!r}: expected {n + 1} probabilities"
            )
        cost = float(at_end[1]) * _after_return_mean(with_candidates(1), mode, take, fixed)
        for m in ms:
            cost += float(at_end[m]) * _after_return_mean(with_candidates(m), mode, take, fixed)
        rate = outage.per_year / SECONDS_PER_YEAR
        terms.append(
            Term(
                name,
                f"after {outage.name}",
                rate * p_loss * cost,
                outage.per_year * p_loss * float(at_end[1:].sum()),
            )
        )
    return terms


# ------------------------------------------------------------------------ assumptions
_DURATION_FIELDS = (
    "lb_mtbf",
    "lb_mttr",
    "node_mtbf",
    "node_mttr",
    "etcd_mtbf",
    "etcd_mttr",
    "apiserver_mtbf",
    "apiserver_mttr",
    "scheduler_mtbf",
    "scheduler_mttr",
    "controller_manager_mtbf",
    "controller_manager_mttr",
    "health_check_interval",
    "health_check_timeout",
    "etcd_election",
    "planned_restart",
    "scheduler_takeover",
    "controller_manager_takeover",
    "api_disruption_duration",
)
_COUNT_FIELDS = ("health_check_threshold",)
_RATE_FIELDS = ("rolling_updates_per_year", "api_disruptions_per_year")


@dataclass(frozen=True)
class Assumptions:
    """Failure, repair and maintenance figures of a control plane.

    Build the defaults with :meth:`Assumptions.default`, which reads
    ``data/availability_assumptions.csv`` (each value with its source or reason), and
    change any of them with :func:`dataclasses.replace` or ``default(**overrides)``.
    Durations accept seconds or strings such as ``"30d"``, ``"720h"``, ``"5m"``.

    Attributes
    ----------
    lb_mtbf, lb_mttr : float
        The load balancer (a single instance, or a managed one with its SLA).
    node_mtbf, node_mttr : float
        A control-plane machine (also each machine of an external etcd cluster).
    etcd_mtbf, etcd_mttr, apiserver_mtbf, apiserver_mttr : float
        The processes, restarted by the kubelet.
    scheduler_mtbf, scheduler_mttr, controller_manager_mtbf, controller_manager_mttr : float
        The leader-elected processes.
    health_check_interval, health_check_threshold, health_check_timeout
        The load balancer's check of the API servers (:class:`HealthCheck`).
    etcd_election : float
        Mean etcd leader election, seconds; the file's ``model`` takes the mean failover
        of :func:`ha_toolkit.availability.etcd_cascade.etcd_election_gap`.
    rolling_updates_per_year : float
        Planned restarts of every control-plane process, one node after another.
    planned_restart : float
        Time one process takes to restart in a rolling update.
    scheduler_takeover, controller_manager_takeover : float
        Time a new leader needs before it works.
    api_disruptions_per_year, api_disruption_duration : float
        API outages not caused by the failures above (overload, network), their length.
    """

    lb_mtbf: float
    lb_mttr: float
    node_mtbf: float
    node_mttr: float
    etcd_mtbf: float
    etcd_mttr: float
    apiserver_mtbf: float
    apiserver_mttr: float
    scheduler_mtbf: float
    scheduler_mttr: float
    controller_manager_mtbf: float
    controller_manager_mttr: float
    health_check_interval: float
    health_check_threshold: int
    health_check_timeout: float
    etcd_election: float
    rolling_updates_per_year: float
    planned_restart: float
    scheduler_takeover: float
    controller_manager_takeover: float
    api_disruptions_per_year: float
    api_disruption_duration: float

    def __post_init__(self) -> None:
        for name in _DURATION_FIELDS:
            positive = name.endswith("_mtbf") or name == "health_check_interval"
            object.__setattr__(self, name, _seconds(getattr(self, name), name, positive=positive))
        for name in _COUNT_FIELDS:
            object.__setattr__(self, name, _check_count(getattr(self, name), name))
        for name in _RATE_FIELDS:
            object.__setattr__(self, name, _rate(getattr(self, name), name))

    @classmethod
    def default(cls, **overrides: Any) -> Assumptions:
        """The values of ``data/availability_assumptions.csv``, with ``overrides`` applied."""
        values = dict(_default_values())
        unknown = set(overrides) - set(values)
        if unknown:
            raise ValueError(f"unknown assumption(s): {', '.join(sorted(unknown))}")
        values.update(overrides)
        return cls(**values)

    def component(self, kind: str) -> Component:
        """``Component(<kind>_mtbf, <kind>_mttr, name=kind)``, kind e.g. ``"node"``."""
        try:
            return Component(getattr(self, f"{kind}_mtbf"), getattr(self, f"{kind}_mttr"), kind)
        except AttributeError:
            raise ValueError(f"unknown component kind {kind!r}") from None

    @property
    def health_check(self) -> HealthCheck:
        """The load balancer's :class:`HealthCheck`."""
        return HealthCheck(
            self.health_check_interval, self.health_check_threshold, self.health_check_timeout
        )


def _csv_rows() -> list[dict[str, str]]:
    path = data_path(ASSUMPTIONS_FILE)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != _ASSUMPTION_COLUMNS:
            raise ValueError(
                f"{ASSUMPTIONS_FILE}: expected columns {', '.join(_ASSUMPTION_COLUMNS)}, "
                f"got {reader.fieldnames}"
            )
        return list(reader)


@lru_cache(maxsize=1)
def _default_values() -> dict[str, Any]:
    known = {f.name for f in fields(Assumptions)}
    values: dict[str, Any] = {}
    for line, row in enumerate(_csv_rows(), start=2):
        name, unit = row["parameter"].strip(), row["unit"].strip()
        if name not in known:
            raise ValueError(f"{ASSUMPTIONS_FILE} line {line}: unknown parameter {name!r}")
        value = _csv_value(name, row["value"], unit)
        if unit in _UNIT_SECONDS:
            values[name] = value * _UNIT_SECONDS[unit]
        elif unit == "count":
            values[name] = int(value)
        elif unit == "1/year":
            values[name] = value
        else:
            raise ValueError(f"{ASSUMPTIONS_FILE} line {line}: unknown unit {unit!r}")
    missing = known - set(values)
    if missing:
        raise ValueError(f"{ASSUMPTIONS_FILE}: missing {', '.join(sorted(missing))}")
    return values


def _csv_value(name: str, text: str, unit: str) -> float:
    """A value of the assumptions file; ``model`` (etcd_election) asks the etcd model."""
    if text.strip() == "model" and name == "etcd_election":
        from ha_toolkit.availability.etcd_cascade import etcd_election_gap

        return etcd_election_gap() / _UNIT_SECONDS.get(unit, 1.0)
    return float(text)


def assumptions_frame() -> pd.DataFrame:
    """``data/availability_assumptions.csv`` as a DataFrame (parameter, value, unit, source)."""
    import pandas as pd

    frame = pd.DataFrame(_csv_rows(), columns=list(_ASSUMPTION_COLUMNS))
    frame["value"] = [
        _csv_value(p.strip(), v, u.strip())
        for p, v, u in zip(frame["parameter"], frame["value"], frame["unit"], strict=True)
    ]
    return frame


# --------------------------------------------------------------------------- topology
_ETCD_KINDS = ("stacked", "external")
_APISERVER_ETCD = ("local", "cluster")
_COMPONENTS_API = ("local", "lb")


def _preset(name: str, nodes: int) -> ElectionConfig:
    return ElectionConfig.preset(name, candidates=nodes)


@dataclass(frozen=True)
class Topology:
    """The shape of a control plane.

    Parameters
    ----------
    nodes : int, default 3
        Control-plane machines; each runs an API server, a scheduler and a
        controller manager (and an etcd member when stacked).
    etcd : {"stacked", "external"}
        etcd members on the control-plane machines, or on machines of their own.
    etcd_members : int, optional
        Size of an external etcd cluster (default 3); stacked: ``nodes``.
    apiserver_etcd : {"local", "cluster"}, optional
        ``"local"``: each API server talks only to the etcd member on its machine (what
        kubeadm does for stacked etcd, ``--etcd-servers=https://127.0.0.1:2379``), so it
        is down with that member; ``"cluster"``: to all members. Default: local when
        stacked, cluster when external.
    components_api : {"local", "lb"}, default "local"
        How scheduler and controller manager reach the API: through the API server on
        their machine (kubeadm's kubeconfigs since v1.20) or through the load balancer.
        Local: their replica is down with that API server; lb: outages of the load
        balancer and of all API servers are outages for them.
    scheduler, controller_manager : ElectionConfig, optional
        Lease settings; default the kube-scheduler and kube-controller-manager presets.
        ``candidates`` is set to ``nodes``.
    outage_mode : {"refuse", "blackhole"}, default "refuse"
        How API calls fail during an outage.
    update_order : {"random", "leader-last"}, default "random"
        Restart order of rolling updates (:func:`rolling_update_handovers`).
    name : str, optional
        A label.
    """

    nodes: int = 3
    etcd: str = "stacked"
    etcd_members: int | None = None
    apiserver_etcd: str | None = None
    components_api: str = "local"
    scheduler: ElectionConfig | None = None
    controller_manager: ElectionConfig | None = None
    outage_mode: str = "refuse"
    update_order: str = "random"
    name: str = field(default="")

    def __post_init__(self) -> None:
        nodes = _check_count(self.nodes, "nodes")
        object.__setattr__(self, "nodes", nodes)
        if self.etcd not in _ETCD_KINDS:
            raise ValueError(
                f"invalid etcd {self.etcd!r}: expected one of {', '.join(_ETCD_KINDS)}"
            )
        if self.etcd == "stacked":
            if self.etcd_members not in (None, nodes):
                raise ValueError(
                    f"invalid etcd_members {self.etcd_members!r}: stacked etcd has one member "
                    f"per node ({nodes})"
                )
            object.__setattr__(self, "etcd_members", nodes)
        else:
            members = 3 if self.etcd_members is None else self.etcd_members
            object.__setattr__(self, "etcd_members", _check_count(members, "etcd_members"))
        default_path = "local" if self.etcd == "stacked" else "cluster"
        path = default_path if self.apiserver_etcd is None else self.apiserver_etcd
        if path not in _APISERVER_ETCD:
            raise ValueError(
                f"invalid apiserver_etcd {path!r}: expected one of {', '.join(_APISERVER_ETCD)}"
            )
        if path == "local" and self.etcd == "external":
            raise ValueError(
                "invalid apiserver_etcd 'local': external etcd has no member on the API "
                "server's machine; use 'cluster'"
            )
        object.__setattr__(self, "apiserver_etcd", path)
        if self.components_api not in _COMPONENTS_API:
            raise ValueError(
                f"invalid components_api {self.components_api!r}: expected one of "
                f"{', '.join(_COMPONENTS_API)}"
            )
        if self.outage_mode not in _MODES:
            raise ValueError(
                f"invalid outage_mode {self.outage_mode!r}: expected one of {', '.join(_MODES)}"
            )
        if self.update_order not in _ORDERS:
            raise ValueError(
                f"invalid update_order {self.update_order!r}: expected one of {', '.join(_ORDERS)}"
            )
        for attr, preset in (
            ("scheduler", "kube-scheduler"),
            ("controller_manager", "kube-controller-manager"),
        ):
            cfg = getattr(self, attr)
            if cfg is None:
                cfg = _preset(preset, nodes)
            elif not isinstance(cfg, ElectionConfig):
                raise ValueError(f"invalid {attr} {cfg!r}: expected an ElectionConfig")
            else:
                cfg = replace(cfg, candidates=nodes)
            object.__setattr__(self, attr, cfg)

    @property
    def quorum(self) -> int:
        """etcd quorum, ``floor(etcd_members / 2) + 1``."""
        return quorum(int(self.etcd_members or 1))

    def label(self) -> str:
        """``name`` or a description such as ``"3 nodes, stacked etcd"``."""
        if self.name:
            return self.name
        etcd = "stacked etcd" if self.etcd == "stacked" else f"{self.etcd_members} external etcd"
        return f"{self.nodes} node{'s' if self.nodes > 1 else ''}, {etcd}"


@dataclass(frozen=True)
class _Parts:
    """The replicas of each tier, built from a topology and assumptions."""

    lb: Component
    member: Replica
    api: Replica
    scheduler: Replica
    controller_manager: Replica


def _parts(topology: Topology, a: Assumptions) -> _Parts:
    node = a.component("node")
    etcd = a.component("etcd")
    api = a.component("apiserver")
    member = Replica((node, etcd), "etcd member")
    api_units = (node, api) + ((etcd,) if topology.apiserver_etcd == "local" else ())
    api_rep = Replica(api_units, "API server")
    extra = api_units[1:] if topology.components_api == "local" else ()
    sched = Replica((node, a.component("scheduler"), *extra), "kube-scheduler")
    cm = Replica((node, a.component("controller_manager"), *extra), "kube-controller-manager")
    return _Parts(a.component("lb"), member, api_rep, sched, cm)


#: Row labels of :func:`control_plane`, in order.
COMPONENTS = (
    "load balancer",
    "etcd",
    "API servers",
    "other API disruptions",
    "kube-scheduler",
    "kube-controller-manager",
)


def restoration_up_count(
    tier: Replica, needed: int, nodes: int, leader_replica: Replica
) -> np.ndarray:
    """Leader-elected replicas up, a leader in place, when a tier on the same machines
    comes back.

    A tier of ``nodes`` replicas (one per machine) is down while fewer than ``needed`` are
    up; it comes back when one of its replicas is repaired, ``needed - 1`` others being up
    and ``nodes - needed`` down. On each machine the leader-elected replica shares units
    (the machine, maybe the API server or the etcd member) with the tier's replica, so its
    state depends on the tier replica's state on that machine:

    * where the tier replica is up (or just came back): up with probability
      ``prod(A)`` of its units that the tier replica does not have;
    * where it is down: ``P(leader replica up and tier replica down) / U_tier`` (0 when
      the leader replica needs every unit of the tier replica).

    The unit whose repair brings the tier replica back is unit ``x`` with probability
    ``(1 / MTBF_x) / sum(1 / MTBF)`` (flow balance). When ``x`` is shared, that same repair
    may bring back the first leader-elected replica: the component was down all along and
    its recovery is counted by "recovery after all down", not here. Those cases are moved
    to ``m = 0``, so that the result is the weight of each ``m`` for an outage's
    aftermath.

    Parameters
    ----------
    tier : Replica
        The tier's replica (an etcd member, an API server).
    needed : int
        Replicas the tier needs (its quorum; 1 for API servers).
    nodes : int
        Machines, one tier replica and one leader-elected replica on each.
    leader_replica : Replica
        The leader-elected replica.

    Returns
    -------
    numpy.ndarray
        ``P(M = m and a leader was in place)``, m = 1..nodes, and at index 0 the rest.
    """
    n = _check_count(nodes, "nodes")
    q = _check_count(needed, "needed")
    if q > n:
        raise ValueError(f"invalid needed {needed!r}: must be <= nodes ({n})")
    shared = [u for u in leader_replica.units if u in tier.units]
    own = [u for u in leader_replica.units if u not in tier.units]
    tier_only = [u for u in tier.units if u not in leader_replica.units]
    p_up = float(np.prod([u.availability for u in own]))
    if tier.unavailability > 0:
        both = float(np.prod([u.availability for u in (*shared, *own)]))
        tier_down = -math.expm1(math.fsum(math.log1p(-u.unavailability) for u in tier_only))
        p_down = both * tier_down / tier.unavailability
    else:
        p_down = 0.0
    others = np.array([1.0])
    for p, count in ((p_up, q - 1), (p_down, n - q)):
        for _ in range(count):
            others = np.convolve(others, [1.0 - p, p])
    pmf = np.convolve(others, [1.0 - p_up, p_up])
    restored_by_shared = sum(u.failure_rate for u in shared) / tier.failure_rate
    first_back = float(others[0]) * p_up * restored_by_shared
    pmf[1] -= first_back
    pmf[0] += first_back
    return pmf


def leader_outages(
    topology: Topology, assumptions: Assumptions, leader_replica: Replica | None = None
) -> list[Outage]:
    """The API outages the leader-elected components of ``topology`` live through.

    etcd losing its quorum (exponential length with the mean of a quorum outage) and
    electing a leader, the other disruptions, and, when the components reach the API
    through the load balancer, its outages and those of all API servers at once.

    Parameters
    ----------
    topology : Topology
    assumptions : Assumptions
    leader_replica : Replica, optional
        The leader-elected replica. When given, outages of a tier on the same machines
        (stacked etcd losing its quorum, all API servers down) carry the distribution of
        replicas up at their end (:func:`restoration_up_count`).
    """
    a = assumptions
    parts = _parts(topology, a)
    n_e = int(topology.etcd_members or 1)
    q = topology.quorum
    lam = parts.member.failure_rate
    pmf = up_count_pmf(n_e, parts.member.unavailability)
    loss_rate = q * lam * float(pmf[q])
    lost = float(pmf[:q].sum())
    outages = []
    if loss_rate > 0:
        at_end = None
        if leader_replica is not None and topology.etcd == "stacked":
            at_end = tuple(restoration_up_count(parts.member, q, n_e, leader_replica))
        outages.append(
            Outage(
                "etcd quorum lost",
                _per_year(loss_rate),
                lost / loss_rate,
                exponential=True,
                replicas_up=at_end,
            )
        )
    election_rate = lam * float(pmf[q + 1 :].sum()) + loss_rate
    if election_rate > 0:
        outages.append(Outage("etcd elections", _per_year(election_rate), a.etcd_election))
    if a.api_disruptions_per_year > 0:
        outages.append(
            Outage("other API disruptions", a.api_disruptions_per_year, a.api_disruption_duration)
        )
    if topology.components_api == "lb":
        lb = parts.lb
        if lb.mttr > 0:
            outages.append(
                Outage("load balancer down", lb.failures_per_year, lb.mttr, exponential=True)
            )
        lam_api = parts.api.failure_rate
        pmf_api = up_count_pmf(topology.nodes, parts.api.unavailability)
        rate = lam_api * float(pmf_api[1])
        if rate > 0:
            at_end = None
            if leader_replica is not None:
                at_end = tuple(restoration_up_count(parts.api, 1, topology.nodes, leader_replica))
            outages.append(
                Outage(
                    "all API servers down",
                    _per_year(rate),
                    float(pmf_api[0]) / rate,
                    exponential=True,
                    replicas_up=at_end,
                )
            )
    return outages


def control_plane_terms(
    topology: Topology | None = None,
    assumptions: Assumptions | None = None,
    *,
    apiserver_failures: ApiServerFailures | None = None,
) -> pd.DataFrame:
    """Every mechanism of every component of a control plane: a tidy DataFrame.

    Parameters
    ----------
    topology : Topology, optional
        Default ``Topology()``: 3 nodes, stacked etcd, one load balancer.
    assumptions : Assumptions, optional
        Default :meth:`Assumptions.default`.
    apiserver_failures : ApiServerFailures, optional
        The API server tier from the process's crash and hang rates and the kubelet's
        probes and restarts, instead of the assumed ``apiserver_mtbf`` and
        ``apiserver_mttr`` (which still apply to the leader-elected components that use
        the local API server).

    Returns
    -------
    pandas.DataFrame
        Columns ``component, mechanism, unavailability, downtime_per_year (s),
        events_per_year, seconds_per_event``.
    """
    topo = Topology() if topology is None else topology
    a = Assumptions.default() if assumptions is None else assumptions
    if not isinstance(topo, Topology):
        raise ValueError(f"invalid topology {topo!r}: expected a Topology")
    if not isinstance(a, Assumptions):
        raise ValueError(f"invalid assumptions {a!r}: expected an Assumptions")
    parts = _parts(topo, a)
    lb = parts.lb
    terms = [Term("load balancer", "down", lb.unavailability, lb.failures_per_year)]
    terms += etcd_terms(int(topo.etcd_members or 1), parts.member, a.etcd_election)
    terms += api_server_terms(topo.nodes, parts.api, a.health_check)
    if apiserver_failures is not None:
        # the process's crashes and hangs replace the assumed apiserver MTBF / MTTR
        units = Replica(tuple(u for u in parts.api.units if u.name != "apiserver"),
                        parts.api.name)
        terms = [t for t in terms if t.component != "API servers"]
        terms += api_server_terms(topo.nodes, units, a.health_check,
                                  failures=apiserver_failures)
    rate = a.api_disruptions_per_year / SECONDS_PER_YEAR
    terms.append(
        Term(
            "other API disruptions",
            "disruptions",
            -math.expm1(-rate * a.api_disruption_duration),
            a.api_disruptions_per_year,
        )
    )
    for label, cfg, rep, take in (
        ("kube-scheduler", topo.scheduler, parts.scheduler, a.scheduler_takeover),
        (
            "kube-controller-manager",
            topo.controller_manager,
            parts.controller_manager,
            a.controller_manager_takeover,
        ),
    ):
        terms += leader_elected_terms(
            cfg,
            topo.nodes,
            rep,
            rolling_updates_per_year=a.rolling_updates_per_year,
            outages=leader_outages(topo, a, rep),
            takeover=take,
            planned_restart=a.planned_restart,
            mode=topo.outage_mode,
            update_order=topo.update_order,
            component=label,
        )
    return terms_frame(terms)


def control_plane(
    topology: Topology | None = None,
    assumptions: Assumptions | None = None,
    *,
    apiserver_failures: ApiServerFailures | None = None,
) -> pd.DataFrame:
    """Availability of each part of a control plane and of the whole.

    Parameters
    ----------
    topology : Topology, optional
        Default ``Topology()``: 3 nodes, stacked etcd, one load balancer.
    assumptions : Assumptions, optional
        Default :meth:`Assumptions.default` (``data/availability_assumptions.csv``).
    apiserver_failures : ApiServerFailures, optional
        See :func:`control_plane_terms`.

    Returns
    -------
    pandas.DataFrame
        One row per component of :data:`COMPONENTS`, then ``"control plane"``: their
        series (independent rows). Columns ``component, availability, unavailability,
        nines, downtime_per_year, downtime_per_month`` (seconds) and ``share``: the
        component's part of the summed downtime of the rows (1 for the total).
    """
    import pandas as pd

    from ha_toolkit.availability.blocks import Availability, series

    terms = control_plane_terms(topology, assumptions, apiserver_failures=apiserver_failures)
    by_component = terms.groupby("component", sort=False)["unavailability"].sum()
    rows = []
    for name in COMPONENTS:
        u = float(min(by_component.get(name, 0.0), 1.0))
        rows.append((name, Availability(u, name)))
    total = series(*(block for _, block in rows), name="control plane")
    summed = sum(block.unavailability for _, block in rows)
    records = []
    for name, block in [*rows, ("control plane", total)]:
        share = (
            1.0
            if name == "control plane"
            else (block.unavailability / summed if summed > 0 else 0.0)
        )
        records.append({"component": name, **block.figures(), "share": share})
    columns = [
        "component",
        "availability",
        "unavailability",
        "nines",
        "downtime_per_year",
        "downtime_per_month",
        "share",
    ]
    return pd.DataFrame(records, columns=columns)
