"""Priority levels, concurrency allocation, borrowing, seats and the per-level model."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ha_toolkit.apiserver.apf import (
    Allocation,
    PriorityLevel,
    WorkEstimate,
    allocate,
    borrow,
    concurrency_allocation,
    default_priority_levels,
    estimate_list_seats,
    level_max_seats,
    level_queue,
    list_work_estimate,
    load_priority_levels,
    mix_summary,
    mutating_work_estimate,
    priority_levels_frame,
    smoothed_seat_demand,
)

# REFERENCE table: NominalCL of the default levels for ServerCL 600 (sum of NCS 245)
NOMINAL_600 = {
    "exempt": 0,
    "catch-all": 13,
    "system": 74,
    "node-high": 98,
    "leader-election": 25,
    "workload-high": 98,
    "workload-low": 245,
    "global-default": 49,
}


def mmck_fraction(lam: Fraction, mu: Fraction, c: int, K: int) -> tuple[Fraction, Fraction]:
    """(blocking, mean wait) of M/M/c/K from the birth-death balance, in exact arithmetic."""
    p = [Fraction(1)]
    for n in range(1, K + 1):
        p.append(p[-1] * lam / (mu * min(n, c)))
    total = sum(p)
    p = [x / total for x in p]
    lq = sum((n - c) * p[n] for n in range(c, K + 1))
    return p[K], lq / (lam * (1 - p[K]))


# -------------------------------------------------------------------------- the levels
def test_default_levels_match_the_reference_table():
    levels = default_priority_levels()
    assert [lv.name for lv in levels] == list(NOMINAL_600)
    assert sum(lv.nominal_concurrency_shares for lv in levels) == 245
    by = {lv.name: lv for lv in levels}
    assert by["exempt"].exempt and not by["exempt"].queuing
    assert not by["catch-all"].queuing and by["catch-all"].type == "limited"
    le = by["leader-election"]
    assert (le.queues, le.hand_size, le.queue_length_limit, le.lendable_percent) == (16, 4, 50, 0)
    wl = by["workload-low"]
    assert (wl.nominal_concurrency_shares, wl.lendable_percent, wl.queues, wl.hand_size) == (
        100, 90, 128, 6)
    frame = priority_levels_frame()
    assert frame["source"].str.contains("bootstrap/default.go").all()


def test_user_defined_levels_from_a_csv(tmp_path):
    path = tmp_path / "levels.csv"
    path.write_text(
        "name,type,nominal_concurrency_shares,lendable_percent,borrowing_limit_percent,"
        "queues,hand_size,queue_length_limit\n"
        "a,limited,1,0,,8,2,10\n"
        "b,limited,3,50,20,0,0,0\n"
    )
    levels = load_priority_levels(path)
    assert levels[1].borrowing_limit_percent == 20
    a = allocate(levels, server_cl=100)
    # exact division: 100 * 1/4 and 100 * 3/4, no ceiling bump
    assert list(a.nominal_cl) == [25, 75]
    assert list(a.lendable_cl) == [0, 38]  # 37.5 rounds away from zero, as Go does
    assert list(a.borrowing_cl) == [100, 15]  # unset: ServerCL; 75 * 20 % = 15
    assert list(a.min_cl) == [25, 37]
    assert list(a.max_cl) == [125, 90]


# -------------------------------------------------------------------------- allocation
def test_nominal_cl_for_server_cl_600_is_the_reference_column():
    a = allocate(server_cl=600)
    assert dict(zip(a.names, a.nominal_cl.tolist(), strict=True)) == NOMINAL_600
    assert a.nominal_cl_sum == 602  # the ceilings add 2 seats


def test_lendable_min_max_hand_worked_for_600():
    a = allocate(server_cl=600)
    f = a.to_frame().set_index("name")
    # system: 74 * 33 % = 24.42 -> 24; node-high 98 * 25 % = 24.5 -> 25 (half away from 0)
    # workload-low 245 * 90 % = 220.5 -> 221; global-default 49 * 50 % = 24.5 -> 25
    assert f.loc["system", "lendable_cl"] == 24 and f.loc["system", "min_cl"] == 50
    assert f.loc["node-high", "lendable_cl"] == 25 and f.loc["node-high", "min_cl"] == 73
    assert f.loc["workload-low", "lendable_cl"] == 221 and f.loc["workload-low", "min_cl"] == 24
    assert f.loc["global-default", "lendable_cl"] == 25
    assert f.loc["leader-election", "min_cl"] == 25  # lends nothing
    # no borrowing limit: BorrowingCL = ServerCL, maxCL = NominalCL + 600
    assert f.loc["workload-low", "max_cl"] == 845 and f.loc["exempt", "max_cl"] == 600
    # the most workload-low can reach: 245 + what the others lend (24+25+0+49+25+0)
    assert f.loc["workload-low", "max_current_cl"] == 245 + 24 + 25 + 49 + 25
    # work estimator caps: max(1, min(ceil(0.15 N), N // hand))
    assert f.loc["workload-low", "max_seats"] == 37  # min(ceil(36.75), 40)
    assert f.loc["leader-election", "max_seats"] == 4  # min(ceil(3.75), 6)
    assert f.loc["global-default", "max_seats"] == 8  # min(ceil(7.35), 8)
    assert f.loc["catch-all", "max_seats"] == 0  # no queues: global caps only
    assert f.loc["workload-low", "waiting_room"] == 128 * 50


def test_nominal_cl_for_server_cl_3000_hand_worked():
    a = allocate(server_cl=3000)
    # 3000 * NCS / 245: 61.2, 367.3, 489.8, 122.4, 489.8, 1224.5, 244.9, rounded up
    expected = {"exempt": 0, "catch-all": 62, "system": 368, "node-high": 490,
                "leader-election": 123, "workload-high": 490, "workload-low": 1225,
                "global-default": 245}
    assert dict(zip(a.names, a.nominal_cl.tolist(), strict=True)) == expected


def test_level_max_seats_hand_worked():
    assert level_max_seats(600, 6) == 90  # min(ceil(90.0), 100)
    assert level_max_seats(10, 4) == 2  # min(ceil(1.5), 2)
    assert level_max_seats(3, 8) == 1  # min(1, 0) -> at least 1
    with pytest.raises(ValueError, match="hand_size must be >= 1"):
        level_max_seats(10, 0)


# -------------------------------------------------------------------- fair allocation
def test_concurrency_allocation_no_bound_binds():
    alloc, p = concurrency_allocation(12, [1, 2, 3], [0, 0, 0], [100, 100, 100])
    np.testing.assert_allclose(alloc, [2, 4, 6])
    assert p == pytest.approx(2.0)


def test_concurrency_allocation_upper_bound_binds():
    # 20 seats, equal targets 10; the first is capped at 3, the second takes the rest
    alloc, p = concurrency_allocation(20, [10, 10], [0, 0], [3, 100])
    np.testing.assert_allclose(alloc, [3, 17])
    assert p == pytest.approx(1.7)


def test_concurrency_allocation_lower_bound_binds():
    # 10 seats, targets 1 and 9: fairProp 5/9 gives 0.56 < 5 to the first, so it gets 5
    alloc, p = concurrency_allocation(10, [5, 9], [5, 0], [100, 100])
    np.testing.assert_allclose(alloc, [5, 5])
    assert p == pytest.approx(5 / 9)


def test_concurrency_allocation_edges():
    alloc, p = concurrency_allocation(7, [4, 5], [3, 4], [10, 10])
    np.testing.assert_allclose(alloc, [3, 4])  # exactly the lower bounds
    assert p == pytest.approx(0.75)
    alloc, p = concurrency_allocation(20, [4, 5], [0, 0], [10, 10])
    np.testing.assert_allclose(alloc, [10, 10])  # exactly the upper bounds
    assert p == pytest.approx(2.5)
    alloc, _ = concurrency_allocation(0, [1, 1], [0, 0], [1, 1])
    np.testing.assert_array_equal(alloc, [0, 0])
    alloc, _ = concurrency_allocation(2, [0, 0], [0, 0], [5, 5])  # tiny targets count 0.001
    np.testing.assert_allclose(alloc, [1, 1])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, [1], [2], [3]), "target must be >= lower"),
        ((5, [3], [2], [1]), "upper must be >= lower"),
        ((5, [3], [-1], [4]), "lower must be >= 0"),
        ((1, [3, 3], [1, 1], [4, 4]), "lower bounds sum to 2"),
        ((9, [3, 3], [1, 1], [4, 4]), "upper bounds sum to 8"),
        ((-1, [3], [1], [4]), "required_sum must be finite and >= 0"),
    ],
)
def test_concurrency_allocation_errors(args, message):
    with pytest.raises(ValueError, match=message):
        concurrency_allocation(*args)


@given(
    st.lists(
        st.tuples(st.floats(0, 50), st.floats(0, 50), st.floats(0, 50)), min_size=1, max_size=8
    ),
    st.floats(0, 1),
)
def test_concurrency_allocation_properties(items, share):
    lower = np.array([min(a, b, c) for a, b, c in items])
    target = np.array([sorted((a, b, c))[1] for a, b, c in items])
    upper = np.array([max(a, b, c) for a, b, c in items])
    required = lower.sum() + share * (upper.sum() - lower.sum())
    alloc, p = concurrency_allocation(required, target, lower, upper)
    # within upstream's slack of 1e-7 when the bounds nearly meet the required sum
    assert alloc.sum() == pytest.approx(required, rel=1e-9, abs=2e-7)
    assert np.all(alloc >= lower - 1e-9) and np.all(alloc <= upper + 1e-9)
    inner = (alloc > lower + 1e-7) & (alloc < upper - 1e-7)
    np.testing.assert_allclose(alloc[inner], p * np.maximum(target[inner], 0.001), rtol=1e-7)


# --------------------------------------------------------------------------- borrowing
def test_borrow_list_storm_in_workload_low():
    """Only workload-low has demand: the others drop to minCL, it takes the rest."""
    a = allocate(server_cl=600)
    out = borrow(a, {"workload-low": 1000}, {"workload-low": 1000}).set_index("name")
    # others at minCL: 13 + 50 + 73 + 25 + 49 + 24 = 234; 602 - 234 = 368 for workload-low
    assert out.loc["workload-low", "current_cl"] == 368
    assert out.attrs["fair_prop"] == pytest.approx(0.368)
    for name, min_cl in [("catch-all", 13), ("system", 50), ("node-high", 73),
                         ("leader-election", 25), ("workload-high", 49),
                         ("global-default", 24)]:
        assert out.loc[name, "current_cl"] == min_cl
    assert out["current_cl"].sum() == 602
    assert "exempt" not in out.index


def test_borrow_leader_election_keeps_its_seats_under_the_storm():
    a = allocate(server_cl=600)
    out = borrow(a, {"workload-low": 1000, "leader-election": 30},
                 {"workload-low": 1000, "leader-election": 30}).set_index("name")
    # leader-election: lower = max(25, min(25, 30)) = 25, target 30; fairProp 0.368 gives
    # 11 < 25, so it stays at 25 (it lends nothing and cannot be squeezed below minCL)
    assert out.loc["leader-election", "lower"] == 25
    assert out.loc["leader-election", "current_cl"] == 25
    assert out.loc["workload-low", "current_cl"] == 368


def test_borrow_idle_server_scales_the_lower_bounds():
    a = allocate(server_cl=600)
    out = borrow(a).set_index("name")
    # no demand: targets = lower = minCL, summing to 258; all scaled by 602 / 258
    scale = 602 / 258
    assert out.attrs["fair_prop"] == pytest.approx(scale)
    assert out.loc["leader-election", "current_cl"] == round(25 * scale)  # 58.3 -> 58
    assert out.loc["workload-low", "current_cl"] == math.floor(24 * scale + 0.5)  # 56
    assert out.loc["node-high", "current_cl"] == math.floor(73 * scale + 0.5)  # 170.3 -> 170


def test_borrow_accepts_arrays_and_rejects_unknown_levels():
    a = allocate(server_cl=600)
    hw = np.zeros(7)
    hw[5] = 1000.0  # workload-low is the sixth limited level
    out = borrow(a, hw, hw)
    assert out.set_index("name").loc["workload-low", "current_cl"] == 368
    with pytest.raises(ValueError, match="unknown levels"):
        borrow(a, {"nope": 1.0})
    with pytest.raises(ValueError, match="one value per limited level"):
        borrow(a, [1.0, 2.0])


def test_smoothed_seat_demand_hand_worked():
    assert smoothed_seat_demand(10.0, 4.0, 1.0) == pytest.approx(0.977 * 10 + 0.023 * 5)
    assert smoothed_seat_demand(2.0, 4.0, 1.0) == 5.0  # follows a rise at once
    assert smoothed_seat_demand(2.0, 4.0, float("nan")) == 4.0
    np.testing.assert_allclose(smoothed_seat_demand([0, 100], 10, 0, 0.5), [10, 55])
    # half-life of about 5 minutes: 30 steps of 10 s
    assert 0.977**30 == pytest.approx(0.5, abs=0.01)


# ------------------------------------------------------------------------------- seats
# apiserver request/list_work_estimator_test.go, TestListWorkEstimator: every row
# (total size, objects, limit, selector, from cache, count-based seats, size-based seats)
UPSTREAM_LIST_TABLE = [
    (100_000 - 1, 99, 0, False, False, 2, 1),
    (100_000 - 1, 10, 0, False, False, 1, 1),
    (100_000 - 1, 99, 0, False, True, 1, 1),
    (100_000 - 1, 10, 0, False, True, 1, 1),
    (1_000_000 - 1, 1000, 0, False, False, 20, 10),
    (1_000_000 - 1, 1000, 100, False, False, 2, 1),
    (1_000_000 - 1, 1000, 100, True, False, 11, 5),
    (1_000_000 - 1, 1000, 0, False, True, 10, 10),
    (1_000_000 - 1, 1000, 100, False, True, 10, 1),
    (1_000_000 - 1, 1000, 100, True, True, 10, 1),
    (1_000_000 - 1, 99, 0, False, False, 2, 10),
    (1_000_000 - 1, 99, 10, False, False, 1, 2),
    (1_000_000 - 1, 99, 10, True, False, 2, 5),
    (1_000_000 - 1, 99, 0, False, True, 1, 10),
    (10_000_000 - 1, 1000, 0, False, False, 20, 100),
    (10_000_000 - 1, 1000, 100, False, False, 2, 10),
    (10_000_000 - 1, 1000, 100, True, False, 11, 50),
    (10_000_000 - 1, 1000, 0, False, True, 10, 10),
    (10_000_000 - 1, 1000, 100, False, True, 10, 10),
    (10_000_000 - 1, 1000, 100, True, True, 10, 10),
    (10_000_000 - 1, 99, 0, False, False, 2, 100),
    (10_000_000 - 1, 99, 10, False, False, 1, 11),
    (10_000_000 - 1, 99, 10, True, False, 2, 50),
    (10_000_000 - 1, 99, 0, False, True, 1, 10),
    (10_000_000 - 1, 99, 10, False, True, 1, 10),
    (10_000_000 - 1, 99, 10, True, True, 1, 10),
]


@pytest.mark.parametrize(("size", "n", "limit", "sel", "cache", "count", "by_size"),
                         UPSTREAM_LIST_TABLE)
def test_list_seats_match_the_upstream_estimator_table(size, n, limit, sel, cache, count,
                                                       by_size):
    assert estimate_list_seats(n, limit=limit, selector=sel, from_cache=cache) == count
    assert estimate_list_seats(n, limit=limit, selector=sel, from_cache=cache,
                               avg_object_bytes=size // n) == by_size


def test_list_work_estimate_clamps():
    # 1000 objects from etcd: 20 raw seats, capped at 10 (count-based)
    assert list_work_estimate(1000).initial_seats == 10
    # ... and at the level's cap when smaller (leader-election: 4)
    assert list_work_estimate(1000, max_seats=4).initial_seats == 4
    # size-based: 10 MB -> 100 raw seats, global cap 100, workload-low's cap 37
    assert list_work_estimate(1000, avg_object_bytes=9999).initial_seats == 100
    assert list_work_estimate(1000, avg_object_bytes=9999, max_seats=37).initial_seats == 37
    # never below one seat; a named object is one seat
    assert list_work_estimate(0).initial_seats == 1
    assert list_work_estimate(10**6, single=True).initial_seats == 1
    assert estimate_list_seats(10, avg_object_bytes=0) == 150  # unknown size: 1.5 MB each


def test_mutating_work_estimate_hand_worked():
    assert mutating_work_estimate(9) == WorkEstimate(1, 0, 0.0)
    e = mutating_work_estimate(10)
    assert (e.initial_seats, e.final_seats) == (1, 1)
    assert e.additional_latency == pytest.approx(0.005)
    e = mutating_work_estimate(25)  # ceil(2.5) = 3 seats for 3 * 5 ms / 3
    assert (e.final_seats, e.max_seats) == (3, 3)
    assert e.additional_latency == pytest.approx(0.005)
    e = mutating_work_estimate(1000)  # 100 seats of work, reshaped to 10 seats x 50 ms
    assert e.final_seats == 10 and e.additional_latency == pytest.approx(0.05)
    e = mutating_work_estimate(1000, max_seats=4)  # 4 seats x 125 ms
    assert e.final_seats == 4 and e.additional_latency == pytest.approx(0.125)
    assert e.seat_seconds(0.02) == pytest.approx(4 * 0.145)


def test_mix_summary_hand_worked():
    out = mix_summary([9, 1], [WorkEstimate(1), WorkEstimate(10)], [0.01, 0.5])
    assert out["mean_seats"] == pytest.approx(1.9)
    assert out["seat_seconds"] == pytest.approx(0.9 * 0.01 + 0.1 * 10 * 0.5)
    assert out["mean_holding_time"] == pytest.approx(0.9 * 0.01 + 0.1 * 0.5)
    assert out["width"] == pytest.approx(0.509 / 0.059)
    with pytest.raises(ValueError, match="same, non-zero length"):
        mix_summary([1], [WorkEstimate(1), WorkEstimate(2)], [1.0])


# ------------------------------------------------------------------ the per-level model
SMALL = PriorityLevel("small", nominal_concurrency_shares=1, queues=8, hand_size=2,
                      queue_length_limit=3)


def test_level_queue_without_wait_limit_is_mmck_with_the_hand_as_room():
    lam, S, c = 3.5, 1.0, 4
    r = level_queue(SMALL, c, lam, S, wait_limit=math.inf)
    assert r.waiting_room == 2 * 3 and int(r.capacity) == 10
    block, wait = mmck_fraction(Fraction(7, 2), Fraction(1), 4, 10)
    assert float(r.rejection_probability) == pytest.approx(float(block), rel=1e-10)
    assert float(r.mean_wait) == pytest.approx(float(wait), rel=1e-10)
    assert float(r.throughput) == pytest.approx(lam * (1 - float(block)), rel=1e-10)
    assert r.regime == "waiting room"


def test_level_queue_waiting_room_grows_with_flows():
    one = level_queue(SMALL, 4, 3.0, 1.0, flows=1)
    many = level_queue(SMALL, 4, 3.0, 1.0, flows=10**6)
    three = level_queue(SMALL, 4, 3.0, 1.0, flows=3)
    assert one.waiting_room == 6 and many.waiting_room == 8 * 3
    # 8 (1 - (6/8)^3) = 4.625 queues -> 5 -> 15 places
    assert three.waiting_room == 15


def test_level_queue_without_queues_is_erlang_b():
    level = PriorityLevel("catch", nominal_concurrency_shares=5)
    r = level_queue(level, 13, 10.0, 1.0)
    b = Fraction(1)
    for n in range(1, 14):
        b = 10 * b / (n + 10 * b)
    assert float(r.rejection_probability) == pytest.approx(float(b), rel=1e-10)
    assert r.waiting_room == 0 and r.regime == "no queues" and float(r.mean_wait) == 0.0


def test_level_queue_wait_limit_is_barrer_mm1_with_deadline():
    """One server, a deterministic wait limit D, ample room: Barrer's M/M/1+D formula
    P(timeout) = rho (1 - rho) z / (1 - rho^2 z), z = exp(-(mu - lambda) D)."""
    level = PriorityLevel("one", queues=1, hand_size=1, queue_length_limit=1000)
    for lam, D in [(0.9, 2.0), (1.5, 1.0), (0.5, 0.3)]:
        r = level_queue(level, 1, lam, 1.0, wait_limit=D)
        rho, z = lam, math.exp(-(1.0 - lam) * D)
        expected = rho * (1 - rho) * z / (1 - rho**2 * z)
        assert r.regime == "wait limit"
        assert float(r.timeout_probability) == pytest.approx(expected, rel=1e-9)
        assert float(r.queue_full_probability) == 0.0
        assert float(r.p99_wait) <= D


def test_level_queue_overload_with_a_short_wait_limit_rejects_the_excess():
    level = PriorityLevel("x", queues=16, hand_size=4, queue_length_limit=50)
    r = level_queue(level, 10, 25.0, 0.5, wait_limit=5.0)  # capacity 20/s
    assert r.regime == "wait limit"
    assert float(r.rejection_probability) == pytest.approx(0.2, rel=1e-6)
    assert float(r.throughput) == pytest.approx(20.0, rel=1e-6)
    long = level_queue(level, 10, 25.0, 0.5, wait_limit=15.0)  # the room binds first
    assert long.regime == "waiting room"
    assert float(long.queue_full_probability) == pytest.approx(0.2, rel=1e-6)


def test_level_queue_width_and_vectorisation():
    r = level_queue(SMALL, 8, np.array([1.0, 2.0, 3.0]), 1.0, width=2.0)
    np.testing.assert_array_equal(r.servers, [4, 4, 4])
    frame = r.to_frame()
    assert len(frame) == 3 and frame["servers"].dtype == np.int64
    assert np.all(np.diff(frame["rejection_probability"]) > 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": "other"}, "type must be 'limited' or 'exempt'"),
        ({"lendable_percent": 101}, r"lendable_percent must be in \[0, 100\]"),
        ({"queues": 4, "hand_size": 5, "queue_length_limit": 1}, "hand_size must lie in"),
        ({"queues": 4, "hand_size": 2, "queue_length_limit": 0}, "queue_length_limit must be"),
        ({"queues": 1024, "hand_size": 7, "queue_length_limit": 1}, "required entropy bits"),
        ({"type": "exempt", "queues": 4}, "an exempt level has no queues"),
        ({"hand_size": 2}, "must be 0 without queues"),
        ({"nominal_concurrency_shares": -1}, "nominal_concurrency_shares must be >= 0"),
    ],
)
def test_priority_level_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        PriorityLevel("bad", **kwargs)


def test_allocate_and_level_queue_errors():
    with pytest.raises(ValueError, match="levels must not be empty"):
        allocate([])
    with pytest.raises(ValueError, match="names must be unique"):
        allocate([PriorityLevel("a"), PriorityLevel("a")])
    with pytest.raises(ValueError, match="server_cl must be >= 1"):
        allocate(server_cl=0)
    with pytest.raises(ValueError, match="must not all be 0"):
        allocate([PriorityLevel("a", nominal_concurrency_shares=0)])
    with pytest.raises(ValueError, match="is exempt"):
        level_queue(PriorityLevel("e", type="exempt", nominal_concurrency_shares=0), 1, 1, 1)
    with pytest.raises(ValueError, match="width must be"):
        level_queue(SMALL, 4, 1.0, 1.0, width=0.5)
    with pytest.raises(ValueError, match="current_cl must be whole numbers"):
        level_queue(SMALL, 2.5, 1.0, 1.0)
    with pytest.raises(ValueError, match="no priority level 'nope'"):
        allocate().level("nope")


def test_allocation_frame_and_plot():
    a = allocate()
    assert isinstance(a, Allocation)
    frame = a.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 8
    assert frame["share"].iloc[6] == pytest.approx(245 / 600)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = a.plot()
    assert ax.get_xlabel() == "seats (NominalCL)"
    plt.close(ax.figure)
