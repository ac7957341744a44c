"""The legacy max-in-flight filter, retry amplification and client-side rate limits."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from ha_toolkit.apiserver.inflight import (
    CLIENT_GO_BURST,
    CLIENT_GO_QPS,
    legacy_filter,
    rate_limited_rate,
    rate_limited_sweep,
    retry_amplification,
)


def erlang_b_recursion(c: int, A: float) -> float:
    """Erlang B by the textbook recursion B(n) = A B(n-1) / (n + A B(n-1)), exactly."""
    a = Fraction(A)
    b = Fraction(1)
    for n in range(1, c + 1):
        b = a * b / (n + a * b)
    return float(b)


def attempts(p: float, retries: int) -> float:
    return sum(p**k for k in range(retries + 1))


# --------------------------------------------------------------------------- legacy filter
def test_legacy_filter_pools_are_independent_erlang_b_systems():
    frame = legacy_filter([2000.0, 8000.0], [1000.0, 4000.0], 0.05, 0.1)
    assert list(frame["pool"]) == ["readonly", "mutating"] * 2
    assert list(frame["max_inflight"]) == [400, 200, 400, 200]
    for row in frame.itertuples():
        load = row.request_rate * row.service_time
        expected = erlang_b_recursion(int(row.max_inflight), load)
        assert row.rejection_probability == pytest.approx(expected, rel=1e-10, abs=1e-300)
        assert row.rejection_rate == pytest.approx(row.request_rate * expected, rel=1e-10)
        assert row.throughput + row.rejection_rate == pytest.approx(row.request_rate)
        assert row.utilization == pytest.approx(load * (1 - expected) / row.max_inflight)


def test_legacy_filter_limit_zero_disables_a_pool():
    frame = legacy_filter(1e4, 1e4, 0.1, 0.1, max_requests_inflight=0)
    read = frame[frame["pool"] == "readonly"].iloc[0]
    assert read["rejection_probability"] == 0 and np.isnan(read["utilization"])
    mut = frame[frame["pool"] == "mutating"].iloc[0]
    assert mut["rejection_probability"] == pytest.approx(erlang_b_recursion(200, 1000.0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"read_rate": -1.0}, "read_rate"),
        ({"mutating_service_time": 0.0}, "mutating_service_time"),
        ({"max_requests_inflight": 2.5}, "max_requests_inflight"),
        ({"max_mutating_requests_inflight": -1}, "max_mutating_requests_inflight"),
    ],
)
def test_legacy_filter_bad_inputs(kwargs, match):
    args = {
        "read_rate": 10.0,
        "mutating_rate": 5.0,
        "read_service_time": 0.05,
        "mutating_service_time": 0.1,
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        legacy_filter(**args)


# ----------------------------------------------------------------------------- retries
def least_fixed_point_by_iteration(fresh, c, s, retries, steps=20000):
    """Monotone iteration x <- fresh g(B(c, x s)) from x = fresh: the least fixed point."""
    x = fresh
    for _ in range(steps):
        new = fresh * attempts(erlang_b_recursion(c, x * s), retries)
        if abs(new - x) <= 1e-12 * new:
            return new
        x = new
    return x


@pytest.mark.parametrize("fresh", [5.0, 18.0, 20.0, 26.0, 60.0])
def test_retry_fixed_point(fresh):
    c, s, retries = 20, 1.0, 10
    row = retry_amplification(fresh, s, c).iloc[0]
    expected = least_fixed_point_by_iteration(fresh, c, s, retries)
    assert row["offered_rate"] == pytest.approx(expected, rel=1e-8)
    p = erlang_b_recursion(c, row["offered_rate"] * s)
    assert row["attempt_rejection_probability"] == pytest.approx(p, rel=1e-8)
    assert row["request_failure_probability"] == pytest.approx(p**11, rel=1e-7)
    assert row["goodput"] == pytest.approx(fresh * (1 - p**11), rel=1e-8)
    assert row["rejection_rate"] == pytest.approx(row["offered_rate"] * p, rel=1e-8)
    # without retries the pool sees only the fresh load
    assert row["attempt_rejection_probability_without_retries"] == pytest.approx(
        erlang_b_recursion(c, fresh * s), rel=1e-10
    )


def test_retry_storm_amplifies_load_and_rejections_but_not_goodput_loss():
    frame = retry_amplification(np.array([10.0, 19.0, 20.0, 25.0, 40.0]), 1.0, 20)
    assert np.all(np.diff(frame["amplification"]) > 0)
    assert np.all(frame["amplification"] <= 11.0)
    # retries cannot lower goodput in a loss system ...
    assert np.all(frame["goodput"] >= frame["goodput_without_retries"] - 1e-9)
    # ... but every request sharing the pool sees more 429s, most of all near capacity
    ratio = frame["rejection_amplification"].to_numpy()
    assert np.all(ratio > 1.0)
    assert np.argmax(ratio) == 2  # 20 requests/s on 20 slots of 1 s


def test_no_retries_means_no_amplification():
    frame = retry_amplification([1.0, 30.0], 0.5, 10, max_retries=0)
    assert list(frame["amplification"]) == pytest.approx([1.0, 1.0])
    assert list(frame["mean_retries"]) == [0.0, 0.0]


def test_retry_bad_inputs():
    with pytest.raises(ValueError, match="max_retries"):
        retry_amplification(1.0, 1.0, 4, max_retries=-1)
    with pytest.raises(ValueError, match="retry_after"):
        retry_amplification(1.0, 1.0, 4, retry_after=0.0)
    with pytest.raises(ValueError, match="capacity"):
        retry_amplification(1.0, 1.0, 4, capacity=2)
    with pytest.raises(ValueError, match="capacity"):
        retry_amplification(1.0, 1.0, 4, capacity=np.inf)
    with pytest.raises(ValueError, match="request_rate"):
        retry_amplification(-1.0, 1.0, 4)


# ----------------------------------------------------------------------- rate limits
def test_rate_limited_rate():
    assert CLIENT_GO_QPS == 5.0 and CLIENT_GO_BURST == 10
    assert list(rate_limited_rate([1.0, 5.0, 100.0])) == [1.0, 5.0, 5.0]
    # a full bucket of 10 plus 5 per second over 2 s: 20 requests, 10 per second
    assert rate_limited_rate(100.0, window=2.0) == 10.0
    with pytest.raises(ValueError, match="qps"):
        rate_limited_rate(1.0, qps=0.0)
    with pytest.raises(ValueError, match="burst"):
        rate_limited_rate(1.0, burst=0)


def test_rate_limited_sweep_caps_each_client_at_its_qps():
    frame = rate_limited_sweep(np.array([10, 50, 100, 500]), 10.0, 0.5, 200)
    assert np.all(frame["offered_rate"] <= frame["clients"] * CLIENT_GO_QPS * (1 + 1e-12))
    # few clients: the limiter binds, the pool is idle enough that nothing is rejected
    first = frame.iloc[0]
    assert first["capped"] and first["offered_rate"] == pytest.approx(50.0)
    assert first["backlog_rate"] == pytest.approx(50.0, rel=1e-9)
    # many clients: fixed point of x = min(N d g(B(x s)), N qps)
    last = frame.iloc[-1]
    p = erlang_b_recursion(200, last["offered_rate"] * 0.5)
    demand = min(500 * 10.0 * attempts(p, 10), 500 * 5.0)
    assert last["offered_rate"] == pytest.approx(demand, rel=1e-8)
    assert last["goodput"] == pytest.approx(last["offered_rate"] * (1 - p), rel=1e-8)


def test_rate_limited_sweep_without_cap_binding_offers_the_demand():
    frame = rate_limited_sweep(4, 1.0, 0.1, 100, max_retries=0)
    row = frame.iloc[0]
    assert not row["capped"]
    assert row["offered_rate"] == pytest.approx(4.0)
    assert row["backlog_rate"] == pytest.approx(0.0, abs=1e-9)
