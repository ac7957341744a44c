"""etcd load with and without the watch cache; the M/G/1 wait against a simulation."""

import math

import numpy as np
import pytest

from ha_toolkit.etcd.load import ClusterLoad, EtcdCosts, etcd_queue, renewal_latency


def _lindley_mean_wait(streams, n, rng):
    # Poisson arrivals of a mix of service times; W_{k+1} = max(W_k + S_k - A_{k+1}, 0)
    rates = np.array([r for r, _ in streams])
    times = np.array([s for _, s in streams])
    lam = rates.sum()
    service = times[rng.choice(times.size, size=n, p=rates / lam)]
    gaps = rng.exponential(1 / lam, size=n)
    w = np.empty(n)
    w[0] = 0.0
    for k in range(1, n):
        w[k] = max(w[k - 1] + service[k - 1] - gaps[k], 0.0)
    return w[n // 10 :].mean()


def test_pollaczek_khinchine_wait_matches_a_simulation():
    costs = EtcdCosts(request_time=1e-3, per_object_time=1e-4, event_time=0.0)
    load = ClusterLoad(
        objects=50, consistent_lists=40, cached_lists=0, gets=100, writes=100, watchers=0
    )
    q = etcd_queue(load, consistent_from_cache=False, costs=costs)
    # 40 ranges of 6 ms, 200 small requests of 1 ms: rho = 0.24 + 0.2
    assert q.utilization == pytest.approx(0.44)
    streams = [(40, 6e-3), (200, 1e-3)]
    sim = _lindley_mean_wait(streams, 200_000, np.random.default_rng(4))
    assert q.mean_wait == pytest.approx(sim, rel=0.05)


def test_what_reaches_etcd_with_and_without_the_cache():
    load = ClusterLoad(writes=10, watchers=200, api_servers=3, consistent_lists=2, cached_lists=5)
    cached = etcd_queue(load)
    legacy = etcd_queue(load, consistent_from_cache=False)
    bare = etcd_queue(load, watch_cache=False)
    # one etcd watch per API server with the cache, one per client watch without it
    assert cached.event_rate == 30 and bare.event_rate == 2000
    # every LIST reaches etcd without the cache; the cached-RV ones never do with it
    assert bare.request_rate == cached.request_rate + 5
    assert cached.utilization < legacy.utilization < bare.utilization
    assert cached.list_latency < legacy.list_latency


def test_list_storm_saturates_etcd_and_slows_renewals():
    frame = renewal_latency([0, 10, 100], ClusterLoad(objects=5000))
    bare = frame[frame["path"] == "no watch cache"].set_index("lists_per_second")
    cached = frame[frame["path"] == "cache, consistent reads from cache"]
    # 100 LISTs of 5000 objects at 5 us each is 2.5 s of work a second: saturated
    assert math.isinf(bare.loc[100.0, "write_latency"])
    assert bare.loc[10.0, "utilization"] < 0.5
    # at a quarter of capacity the 25 ms ranges already make a small write wait 10 x longer
    assert bare.loc[10.0, "write_latency"] > 10 * bare.loc[0.0, "write_latency"]
    assert cached["write_latency"].max() < 1e-3


def test_bad_load():
    with pytest.raises(ValueError, match="objects must be a finite number >= 0"):
        ClusterLoad(objects=-1)
    with pytest.raises(ValueError, match="api_servers must be an integer >= 1"):
        ClusterLoad(api_servers=0)
