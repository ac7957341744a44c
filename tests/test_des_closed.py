"""Closed-loop flows and the upstream mechanics of the queue set, against closed forms and
hand-derived schedules."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from ha_toolkit.apiserver.des import ClosedFlow, Flow, LevelConfig, simulate_level

INF = math.inf
CONF = 0.999


def machine_repairman(N: int, c: int, lam: float, mu: float) -> tuple[float, float]:
    """M/M/c//N (finite source): throughput and mean wait in queue, from the balance
    equations p_n = p_0 N!/(N-n)! (lam/mu)^n / (n! if n <= c else c! c^(n-c))."""
    a = Fraction(lam) / Fraction(mu)
    p = []
    for n in range(N + 1):
        falling = math.perm(N, n)
        servers = math.factorial(n) if n <= c else math.factorial(c) * c ** (n - c)
        p.append(Fraction(falling, servers) * a ** n)
    total = sum(p)
    p = [x / total for x in p]
    throughput = sum(min(n, c) * p[n] for n in range(N + 1)) * Fraction(mu)
    lq = sum((n - c) * p[n] for n in range(c + 1, N + 1))
    return float(throughput), float(lq / throughput)


@pytest.mark.parametrize(("N", "c", "think", "service"), [(10, 3, 5.0, 1.0), (6, 2, 1.0, 0.5)])
def test_closed_flow_on_one_queue_is_machine_repairman(N, c, think, service):
    """N clients, exponential think (from the answer) and service, c seats, one queue that
    never rejects: throughput and mean wait inside the simulation's 99.9 % interval."""
    flow = ClosedFlow("workers", N, service, think_time=think,
                      service_distribution="exponential", think_distribution="exponential")
    level = LevelConfig(c, queues=1, hand_size=1, queue_length_limit=N, wait_limit=INF)
    r = simulate_level(level, [flow], 6000.0, np.random.default_rng(11), warmup=100.0)
    x, wq = machine_repairman(N, c, 1 / think, 1 / service)
    for statistic, exact in [("throughput", x), ("mean_wait", wq)]:
        mean, half = r.confidence_interval(statistic, CONF, batches=20)
        assert abs(mean - exact) <= half, (statistic, mean, half, exact)
    assert (r.outcome == 1).all()
    # Little's law on the seats: time-average busy seats = throughput x service time
    assert r.mean_seats_in_use == pytest.approx(x * service, rel=0.05)


def test_closed_flow_over_several_queues_is_still_machine_repairman():
    """Hands of 2 of 8 queues: order differs, counts do not (work-conserving, identical
    requests), so throughput and mean wait are still M/M/c//N's."""
    flow = ClosedFlow("workers", 8, 1.0, think_time=3.0, service_distribution="exponential",
                      think_distribution="exponential", hash_value=12345)
    level = LevelConfig(2, queues=8, hand_size=2, queue_length_limit=8, wait_limit=INF)
    r = simulate_level(level, [flow], 6000.0, np.random.default_rng(12), warmup=100.0)
    x, wq = machine_repairman(8, 2, 1 / 3.0, 1.0)
    for statistic, exact in [("throughput", x), ("mean_wait", wq)]:
        mean, half = r.confidence_interval(statistic, CONF, batches=20)
        assert abs(mean - exact) <= half, (statistic, mean, half, exact)


# ------------------------------------------------------------ schedules worked by hand
def test_think_from_finish_and_from_start():
    """One client, 1 s calls: think 2 s after the answer gives a call every 3 s; a
    period of 2 s counted from the start gives a call every 2 s."""
    level = LevelConfig(1, queues=1, wait_limit=INF)
    a = simulate_level(level, [ClosedFlow("a", 1, 1.0, think_time=2.0)], 10.0,
                       np.random.default_rng(0))
    np.testing.assert_allclose(a.arrival, [0, 3, 6, 9])
    b = simulate_level(level, [ClosedFlow("b", 1, 1.0, think_time=2.0, think_from="start")],
                       10.0, np.random.default_rng(0))
    np.testing.assert_allclose(b.arrival, [0, 2, 4, 6, 8])
    c = simulate_level(level, [ClosedFlow("c", 1, 1.0, think_time=0.5, calls=3,
                                          start=1.5)], 100.0, np.random.default_rng(0))
    np.testing.assert_allclose(c.arrival, [1.5, 3.0, 4.5])


def test_pad_holds_seats_but_not_the_client():
    """The pad keeps the seat but the client has its answer: with one seat and 1 s pads two
    clients take turns every 2 s, and each waits 1 s after its first call."""
    flows = [ClosedFlow("a", 1, 1.0, final_seats=1, additional_latency=1.0, calls=3),
             ClosedFlow("b", 1, 1.0, final_seats=1, additional_latency=1.0, calls=3,
                        start=1e-9)]
    r = simulate_level(LevelConfig(1, queues=9, hand_size=3, queue_length_limit=8,
                                   wait_limit=INF), flows, 100.0, np.random.default_rng(0))
    f = r.to_frame()
    starts_a = r.start[r.flow == 0]
    starts_b = r.start[r.flow == 1]
    np.testing.assert_allclose(starts_a, [0, 4, 8])
    np.testing.assert_allclose(starts_b, [2, 6, 10])
    assert (f["outcome"] == "served").all()


def test_stop_on_reject_and_retry_after():
    """A level of one seat and no waiting room: of two clients calling at once the second
    gets 429. With on_reject='stop' it never calls again; with 'retry' it comes back after
    Retry-After (0.5 s, 1.0 s ...) until the seat is free, as client-go does."""
    level = LevelConfig(1, queues=1, queue_length_limit=0, wait_limit=INF)
    busy = ClosedFlow("busy", 1, 2.0, calls=1)
    stop = ClosedFlow("other", 1, 1.0, calls=3, start=1e-9)
    r = simulate_level(level, [busy, stop], 100.0, np.random.default_rng(0))
    s = r.summary().set_index("flow")
    assert s.loc["other", "arrivals"] == 1 and s.loc["other", "rejected"] == 1
    retry = ClosedFlow("other", 1, 1.0, calls=2, start=1e-9, on_reject="retry",
                       retry_after=0.5, max_retries=10)
    r = simulate_level(level, [busy, retry], 100.0, np.random.default_rng(0))
    other = r.flow == 1
    # 429 at 0, 0.5, 1.0, 1.5; served at 2.0 (the seat frees at 2.0); next call at 3.0
    np.testing.assert_allclose(r.arrival[other], [1e-9, 0.5 + 1e-9, 1 + 1e-9, 1.5 + 1e-9,
                                                  2 + 1e-9, 3 + 1e-9], atol=1e-12)
    np.testing.assert_array_equal(r.attempt[other], [0, 1, 2, 3, 4, 0])
    assert r.summary().set_index("flow").loc["other", "retries"] == 4
    capped = ClosedFlow("other", 1, 1.0, calls=2, start=1e-9, on_reject="retry",
                        retry_after=0.5, max_retries=1, think_time=5.0)
    r = simulate_level(level, [busy, capped], 100.0, np.random.default_rng(0))
    # two attempts fail (0 and 0.5 s); the call fails; next call 5 s later, served
    np.testing.assert_allclose(r.arrival[r.flow == 1], [1e-9, 0.5 + 1e-9, 5.5 + 1e-9],
                               atol=1e-12)
    np.testing.assert_array_equal(r.outcome[r.flow == 1], [2, 2, 1])


def test_per_flow_wait_limit():
    """A flow's own wait limit (its deadline's share) overrides the level's: queued behind
    a 10 s request, a 1 s limit times out at 1 s and a 20 s limit waits and runs."""
    level = LevelConfig(1, queues=4, hand_size=1, queue_length_limit=5, wait_limit=15.0)
    flows = [ClosedFlow("long", 1, 10.0, calls=1, hand=(0,)),
             ClosedFlow("impatient", 1, 1.0, calls=1, start=1.0, wait_limit=1.0, hand=(1,)),
             ClosedFlow("patient", 1, 1.0, calls=1, start=1.0, wait_limit=20.0, hand=(2,))]
    r = simulate_level(level, flows, 100.0, np.random.default_rng(0))
    s = r.summary().set_index("flow")
    assert s.loc["impatient", "timed_out"] == 1
    assert r.wait[r.flow == 1][0] == pytest.approx(1.0)
    assert s.loc["patient", "served"] == 1
    assert r.start[r.flow == 2][0] == pytest.approx(10.0)


def test_ties_go_round_robin_from_the_last_dispatched_queue():
    """Three one-call clients arrive at t = 0 on queues 1, 0, 2 of one seat. Queue 1's
    request runs at once (robinIndex = 1); queues 0 and 2 then tie (same R, same work), and
    the scan starts after queue 1, so queue 2 runs before queue 0
    (``findDispatchQueueToBoundLocked``). Lowest-index tie-breaking would pick queue 0."""
    flows = [ClosedFlow("first", 1, 1.0, calls=1, hand=(1,)),
             ClosedFlow("on-queue-0", 1, 1.0, calls=1, hand=(0,)),
             ClosedFlow("on-queue-2", 1, 1.0, calls=1, hand=(2,))]
    r = simulate_level(LevelConfig(1, queues=3, hand_size=1, queue_length_limit=5,
                                   wait_limit=INF), flows, 10.0, np.random.default_rng(0))
    np.testing.assert_allclose(r.start, [0.0, 2.0, 1.0])


def test_mixed_open_and_closed_flows_and_the_tidy_frame():
    level = LevelConfig(4, queues=16, hand_size=4, queue_length_limit=10, wait_limit=5.0)
    flows = [Flow("storm", 6.0, 1.0, seats=2),
             ClosedFlow("controller", 10, 0.05, think_time=0.1,
                        service_distribution="exponential", on_reject="retry")]
    r = simulate_level(level, flows, 200.0, np.random.default_rng(5), warmup=20.0)
    s = r.summary().set_index("flow")
    assert list(s.index) == ["storm", "controller", "all"]
    for column in ["mean_seats_in_service", "throughput", "mean_wait", "rejected",
                   "timed_out", "retries"]:
        assert column in s.columns
    # Little's law on each flow's seats in service: throughput x seats x mean service
    assert s.loc["controller", "mean_seats_in_service"] == pytest.approx(
        s.loc["controller", "throughput"] * 0.05, rel=0.1)
    assert s.loc["all", "mean_seats_in_service"] <= 4.0


@pytest.mark.parametrize(("make", "message"), [
    (lambda: ClosedFlow("a", 0, 1.0), "clients must be >= 1"),
    (lambda: ClosedFlow("a", 1, 1.0, think_from="end"), "think_from must be"),
    (lambda: ClosedFlow("a", 1, 1.0, think_time=0.0, think_from="start"),
     "think_time must be > 0"),
    (lambda: ClosedFlow("a", 2, 1.0, start=(0.0,)), "start must hold one time per client"),
    (lambda: ClosedFlow("a", 1, 1.0, on_reject="ignore"), "on_reject must be"),
    (lambda: ClosedFlow("a", 1, 1.0, calls=0), "calls must be >= 1"),
    (lambda: ClosedFlow("a", 1, 1.0, hash_value=1 << 64), "hash_value must be below"),
    (lambda: Flow("a", 1.0, 1.0, wait_limit=0.0), "wait_limit must be > 0"),
])
def test_bad_closed_flows(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_duplicate_flow_names_are_refused():
    with pytest.raises(ValueError, match="flow names must be distinct"):
        simulate_level(LevelConfig(1), [ClosedFlow("a", 1, 1.0), Flow("a", 1.0, 1.0)], 10.0,
                       np.random.default_rng(0))


def test_runs_too_large_are_refused_before_they_start():
    flow = ClosedFlow("busy", 1000, 1e-3, think_time=0.0)
    with pytest.raises(ValueError, match="would generate about"):
        simulate_level(LevelConfig(10), [flow], 1e5, np.random.default_rng(0))


def test_wait_limit_from_the_request_deadline():
    """A lease call with ?timeout=5s may wait a quarter of its deadline, 1.25 s
    (getRequestWaitContext); without a timeout the server's 60 s deadline gives 15 s."""
    level = LevelConfig(1, queues=4, hand_size=1, queue_length_limit=5, wait_limit=INF)
    flows = [ClosedFlow("long", 1, 30.0, calls=1, hand=(0,)),
             ClosedFlow("lease", 1, 0.01, calls=1, start=1.0, request_timeout=5.0, hand=(1,)),
             ClosedFlow("default", 1, 0.01, calls=1, start=1.0, request_timeout=60.0,
                        hand=(2,))]
    r = simulate_level(level, flows, 100.0, np.random.default_rng(0))
    np.testing.assert_allclose(r.wait[r.flow == 1], [5.0 / 4])
    np.testing.assert_allclose(r.wait[r.flow == 2], [60.0 / 4])
    assert (r.outcome[1:] == 3).all()
    with pytest.raises(ValueError, match="not both"):
        Flow("a", 1.0, 1.0, wait_limit=1.0, request_timeout=5.0)


# ------------------------------------------------------------------ Retry-After
def test_retry_after_doubles_under_sustained_drops_and_is_capped():
    """dropped_requests_tracker.go: 10 drops a second. At each new second the drops of the
    last retryAfter seconds (10 x retryAfter >= 3 x retryAfter) double it once retryAfter
    seconds have passed since the last raise: raises at seconds 1, 3, 7, 15, 31; 32 is the
    cap."""
    from ha_toolkit.apiserver.des import NS, DroppedRequestsTracker

    tracker = DroppedRequestsTracker()
    first_of_second = {}
    for k in range(60):
        for j in range(10):
            value = tracker.record(k * NS + j * NS // 10)
            first_of_second.setdefault(k, value)
    raises = [1, 3, 7, 15, 31]
    expected = {k: min(2 ** sum(k >= r for r in raises), 32) for k in range(60)}
    assert first_of_second == expected


def test_retry_after_steps_down_when_drops_stop():
    """3 drops in second 0, one in second 1: 3 >= 3 x 1, so 2. Quiet until second 10: no
    drops in the last 2 seconds (< 2), so down by one to 1."""
    from ha_toolkit.apiserver.des import NS, DroppedRequestsTracker

    tracker = DroppedRequestsTracker()
    got = [tracker.record(t) for t in (0, NS // 3, 2 * NS // 3, NS + 1, 10 * NS)]
    assert got == [1, 1, 1, 2, 1]


def test_clients_retry_after_the_servers_retry_after():
    """With retry_after unset a client waits the Retry-After its 429 carried."""
    level = LevelConfig(2, queues=1, queue_length_limit=0, wait_limit=INF)
    flows = [ClosedFlow("busy", 2, 30.0, calls=1),
             ClosedFlow("retrying", 20, 0.1, calls=1, start=0.5, on_reject="retry")]
    r = simulate_level(level, flows, 200.0, np.random.default_rng(0))
    retried = np.flatnonzero((r.flow == 1) & (r.attempt > 0))
    assert retried.size > 50
    for k in retried:  # the previous attempt of the same client
        prev = np.flatnonzero((r.flow == 1) & (r.client == r.client[k])
                              & (r.attempt == r.attempt[k] - 1))[0]
        assert r.arrival[k] - r.arrival[prev] == pytest.approx(r.retry_after[prev])
    assert np.nanmax(r.retry_after) > 1  # 20 clients failing at once raise it
