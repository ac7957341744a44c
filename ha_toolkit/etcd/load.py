"""etcd load from the API servers, with and without their watch cache, and etcd as a queue.

Which reads reach etcd (kubernetes ``staging/src/k8s.io/apiserver/pkg/storage/cacher``,
``delegator.go``, ``shouldDelegateList``; the cache is on unless ``--watch-cache=false``):

* a LIST with ``resourceVersion="0"`` is served from the watch cache;
* a consistent LIST (``resourceVersion=""``, what ``kubectl get`` and a fresh informer
  send) goes to etcd as a quorum range read over every object of the resource, unless the
  gate ``ConsistentListFromCache`` is on (beta and on by default since 1.31) and etcd
  supports watch progress requests; then the cache serves it after asking etcd for its
  current revision (one small request);
* a LIST with a ``continue`` token or an exact ``resourceVersion`` with a limit goes to
  etcd;
* without the watch cache every read goes to etcd, and every client watch is an etcd
  watch; with it, each API server keeps one etcd watch per resource and fans events out
  to its clients itself.

etcd as a queue. The requests that reach etcd are served one at a time by its apply and
read path (an M/G/1 queue: Poisson arrivals, any service-time law; a simplification, as
etcd runs reads concurrently): a small request (a GET, a write, the revision request)
takes ``request_time``, a range over N objects ``request_time + N * per_object_time``,
and each watch event sent to an etcd watcher ``event_time``. The mean wait is the
Pollaczek-Khinchine formula ``W = lambda E[S^2] / (2 (1 - rho))``, exact for M/G/1.
Defaults (assumptions, replace with measurements of your etcd): ``request_time`` 0.1 ms,
from the etcd performance guide (op-guide/performance: "a three member etcd cluster
finishes a request in less than one millisecond under light load, and can complete more
than 30,000 requests per second under heavy load"; a storage step "usually takes tens of
microseconds"); ``per_object_time`` 5 us per object of ``object_size`` 2 kB (reading and
encoding about 0.4 GB/s); ``event_time`` 10 us.

The chain :func:`renewal_latency` follows: a LIST storm that bypasses the cache raises
etcd's utilisation, the wait grows as ``1 / (1 - rho)``, and every write waits behind it,
lease renewals included.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ClusterLoad", "EtcdCosts", "EtcdQueue", "etcd_queue", "renewal_latency"]


def _non_negative(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return value


@dataclass(frozen=True)
class EtcdCosts:
    """Service times of etcd requests, seconds (see the module docstring for sources)."""

    request_time: float = 1e-4
    per_object_time: float = 5e-6
    event_time: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("request_time", "per_object_time", "event_time"):
            object.__setattr__(self, name, _non_negative(getattr(self, name), name))


@dataclass(frozen=True)
class ClusterLoad:
    """What the clients ask of the API servers, per second.

    Parameters
    ----------
    objects : float
        Objects of the resource that is listed (e.g. pods).
    consistent_lists : float
        LISTs with ``resourceVersion=""`` per second.
    cached_lists : float
        LISTs with ``resourceVersion="0"`` per second.
    gets, writes : float
        Single-object GETs (consistent: to etcd) and writes per second.
    watchers : float
        Client watches on the resource (each gets every write's event).
    api_servers : int
        API servers, each with its own etcd watch when the cache is on.
    """

    objects: float = 5000
    consistent_lists: float = 1.0
    cached_lists: float = 1.0
    gets: float = 50.0
    writes: float = 100.0
    watchers: float = 100.0
    api_servers: int = 3

    def __post_init__(self) -> None:
        for name in ("objects", "consistent_lists", "cached_lists", "gets", "writes", "watchers"):
            object.__setattr__(self, name, _non_negative(getattr(self, name), name))
        if (
            isinstance(self.api_servers, bool)
            or not isinstance(self.api_servers, int)
            or self.api_servers < 1
        ):
            raise ValueError(f"api_servers must be an integer >= 1, got {self.api_servers!r}")


@dataclass(frozen=True)
class EtcdQueue:
    """etcd's load and response times under one :class:`ClusterLoad`.

    Attributes
    ----------
    request_rate : float
        Requests (ranges, GETs, writes, revision requests) reaching etcd per second.
    event_rate : float
        Watch events etcd sends per second.
    utilization : float
        rho; the queue is unstable at 1 or more (waits are then infinite).
    mean_wait : float
        Mean time a request queues, seconds (Pollaczek-Khinchine).
    write_latency : float
        Mean response time of a small write (a lease renewal), seconds.
    list_latency : float
        Mean response time of a LIST that reaches etcd, seconds.
    """

    request_rate: float
    event_rate: float
    utilization: float
    mean_wait: float
    write_latency: float
    list_latency: float

    def to_dict(self) -> dict:
        """The fields as a plain dict."""
        return asdict(self)


def _streams(load: ClusterLoad, costs: EtcdCosts, watch_cache: bool, consistent_from_cache: bool):
    """(rate, service time) of each stream of work etcd receives."""
    small = costs.request_time
    big = costs.request_time + load.objects * costs.per_object_time
    if not watch_cache:
        lists = [(load.consistent_lists + load.cached_lists, big)]
        events = load.writes * load.watchers
    elif consistent_from_cache:
        # the cache serves it after one request for etcd's current revision
        lists = [(load.consistent_lists, small)]
        events = load.writes * load.api_servers
    else:
        lists = [(load.consistent_lists, big)]
        events = load.writes * load.api_servers
    return [*lists, (load.gets + load.writes, small), (events, costs.event_time)], events


def etcd_queue(
    load: ClusterLoad,
    *,
    watch_cache: bool = True,
    consistent_from_cache: bool = True,
    costs: EtcdCosts | None = None,
) -> EtcdQueue:
    """etcd's request rate, utilisation and mean latencies (M/G/1).

    Parameters
    ----------
    load : ClusterLoad
    watch_cache : bool
        The API servers' watch cache (``--watch-cache``, on by default).
    consistent_from_cache : bool
        ``ConsistentListFromCache`` (on by default since Kubernetes 1.31) with an etcd that
        supports watch progress requests.
    costs : EtcdCosts, optional
    """
    costs = EtcdCosts() if costs is None else costs
    streams, events = _streams(load, costs, watch_cache, consistent_from_cache)
    rate = sum(r for r, _ in streams)
    rho = sum(r * s for r, s in streams)
    second = sum(r * s * s for r, s in streams)  # lambda E[S^2]
    wait = second / (2.0 * (1.0 - rho)) if rho < 1.0 else math.inf
    big = costs.request_time + load.objects * costs.per_object_time
    return EtcdQueue(
        request_rate=float(rate - events),
        event_rate=float(events),
        utilization=float(rho),
        mean_wait=float(wait),
        write_latency=float(wait + costs.request_time),
        list_latency=float(wait + big),
    )


def renewal_latency(
    list_rates,
    load: ClusterLoad | None = None,
    *,
    costs: EtcdCosts | None = None,
) -> pd.DataFrame:
    """The chain: consistent-LIST rate -> etcd utilisation -> mean lease-renewal latency.

    For each rate of consistent LISTs, with the watch cache and ConsistentListFromCache,
    with the cache but without the gate (before 1.31), and without the cache.

    Returns
    -------
    pandas.DataFrame
        Columns ``lists_per_second, path, utilization, write_latency`` (seconds; inf when
        etcd is saturated).
    """
    import pandas as pd

    base = ClusterLoad() if load is None else load
    rows = []
    for rate in np.atleast_1d(np.asarray(list_rates, dtype=float)):
        cur = ClusterLoad(**{**asdict(base), "consistent_lists": float(rate)})
        for path, kwargs in (
            ("cache, consistent reads from cache", {}),
            ("cache, consistent reads from etcd", {"consistent_from_cache": False}),
            ("no watch cache", {"watch_cache": False}),
        ):
            q = etcd_queue(cur, costs=costs, **kwargs)
            rows.append(
                {
                    "lists_per_second": float(rate),
                    "path": path,
                    "utilization": q.utilization,
                    "write_latency": q.write_latency,
                }
            )
    return pd.DataFrame(rows)
