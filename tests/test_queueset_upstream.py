"""Upstream's queue-set scenario tests, ported.

Source: kubernetes/apiserver ``pkg/util/flowcontrol/fairqueuing/queueset/
queueset_test.go``. Each scenario is upstream's ``uniformScenario``: client ``i`` has
``nThreads`` threads; thread ``j`` makes its first call ``90 j + 20 i`` ns after the start,
and at the start of each execution schedules its next call ``execDuration + thinkDuration``
later (so here ``think_from="start"`` with ``think_time = exec + think``); a thread whose
request is rejected stops. The expectation is computed the upstream way: the demand of a
client is ``nThreads * initialSeats * exec / (think + exec)``, the expected average seats
are ``fairAlloc(demands, concurrencyLimit)`` (max-min fair, ported below from the test
file) unless the case overrides them, and the measured average is the client's seat
integrator over ``[0, evalDuration]`` (``DesResult.seat_average`` integrates as
``fairqueuing.Integrator`` does). A client is fair when ``|avg - expected| / expected <=
margin`` (``|avg| <= margin`` for an expectation of 0), with upstream's margins, and every
client must be fair exactly when upstream expects it. ``expectAllRequests`` is checked over
the whole run, as upstream's ``finalReview`` does.

Seat-seconds units: ``pkg/util/flowcontrol/request/seat_seconds_test.go``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from ha_toolkit.apiserver.des import (
    ClosedFlow,
    DesResult,
    LevelConfig,
    duration_per_seat,
    seats_times_duration,
    simulate_level,
)

INF = math.inf
SECOND = 1.0
RUN_UNTIL = 10_000.0  # every call of every scenario is made well before this


def fair_alloc(demands: list[float], capacity: float) -> list[float]:
    """``fairAlloc`` of queueset_test.go, step for step in binary64."""
    count = len(demands)
    indices = sorted(range(count), key=lambda i: demands[i])
    alloc = [0.0] * count
    prev_alloc = 0.0
    nxt = 0
    while nxt < count:
        idx = indices[nxt]
        demand = demands[idx]
        if demand <= 0:
            nxt += 1
            continue
        full_capacity_bite = float(count - nxt) * (demand - prev_alloc)
        if full_capacity_bite > capacity:
            break
        prev_alloc = demand
        alloc[idx] = demand
        capacity -= full_capacity_bite
        nxt += 1
    for j in range(nxt, count):
        alloc[indices[j]] = prev_alloc + capacity / float(count - nxt)
    return alloc


def test_fair_alloc():
    """``TestFairAlloc``."""
    assert fair_alloc([0, 0], 42) == [0, 0]
    assert fair_alloc([47, 0], 42) == [42, 0]
    assert fair_alloc([1, 47], 42) == [1, 41]
    assert fair_alloc([3, 7, 9, 1], 14) == [3, 5, 5, 1]
    assert fair_alloc([1, 9, 7, 3], 21) == [1, 9, 7, 3]


class Client:
    """``uniformClient``: hash, threads, calls, exec and think durations (ns-exact)."""

    def __init__(self, hash_value: int, threads: int, calls: int, exec_s: float,
                 think_s: float, *, initial_seats: int = 1, final_seats: int = 1,
                 pad_s: float = 0.0, split: bool = False) -> None:
        self.hash_value, self.threads, self.calls = hash_value, threads, calls
        self.exec_s, self.think_s = exec_s, think_s
        self.initial_seats, self.final_seats, self.pad_s = initial_seats, final_seats, pad_s
        self.split = split

    def flows(self, i: int, eval_s: float) -> list[ClosedFlow]:
        """One ClosedFlow per group of threads (two for a split client)."""
        def group(name: str, threads: range, calls: int, delay: float) -> ClosedFlow:
            return ClosedFlow(
                name, len(threads), self.exec_s, think_time=self.exec_s + self.think_s,
                think_from="start", calls=calls,
                start=tuple(delay + (90 * j + 20 * i) * 1e-9 for j in threads),
                seats=self.initial_seats, final_seats=self.final_seats,
                additional_latency=self.pad_s, hash_value=self.hash_value)

        if not self.split:
            return [group(f"client{i}", range(self.threads), self.calls, 0.0)]
        half = self.threads // 2
        return [group(f"client{i}", range(half), self.calls, 0.0),
                group(f"client{i}-late", range(half, self.threads), self.calls // 2,
                      eval_s / 2)]

    def demand(self, threads: int) -> float:
        """``demands[i]`` of ``evalTo``, in Go's operation order on durations in ns."""
        exec_ns, think_ns = round(self.exec_s * 1e9), round(self.think_s * 1e9)
        return (float(threads) * float(self.initial_seats) * float(exec_ns)
                / float(think_ns + exec_ns))


def client_average(result: DesResult, i: int, split: bool, t0: float, t1: float) -> float:
    names = [f"client{i}"] + ([f"client{i}-late"] if split else [])
    return sum(result.seat_average(name, t0, t1) for name in names)


def check(result: DesResult, clients: list[Client], concurrency: int, t0: float, t1: float,
          last: bool, expect_fair: bool, margin: float,
          expected: list[float] | None = None) -> None:
    """``evalTo``: every client fair within the margin exactly when expected."""
    demands = [c.demand(c.threads if (last or not c.split) else c.threads // 2)
               for c in clients]
    fair = expected if expected is not None else fair_alloc(demands, float(concurrency))
    for i, c in enumerate(clients):
        average = client_average(result, i, c.split, t0, t1)
        if fair[i] > 0:
            got_fair = abs((average - fair[i]) / fair[i]) <= margin
        else:
            got_fair = abs(average) <= margin
        assert got_fair == expect_fair, (i, average, fair[i], margin)


def exercise(level: LevelConfig, clients: list[Client], concurrency: int, eval_s: float,
             margin: float, *, expect_fair: bool = True, expect_all: bool = True,
             expected: list[float] | None = None) -> DesResult:
    flows = [f for i, c in enumerate(clients) for f in c.flows(i, eval_s)]
    result = simulate_level(level, flows, RUN_UNTIL, np.random.default_rng(0))
    check(result, clients, concurrency, 0.0, eval_s, True, expect_fair, margin, expected)
    failed = int((result.outcome != 1).sum())
    assert (failed == 0) == expect_all, failed  # finalReview
    assert result.outcome.size == sum(c.threads * c.calls if not c.split
                                      else c.threads // 2 * (c.calls + c.calls // 2)
                                      for c in clients) or not expect_all
    return result


# ------------------------------------------------------------------------ the tests
@pytest.mark.parametrize(("concurrency", "margin", "fair"),
                         [(10, 0.001, True), (2, 0.25, False)],
                         ids=["no-competition", "with-competition"])
def test_no_restraint(concurrency, margin, fair):
    """``TestNoRestraint``: an unrestrained queue set gives every client its demand, fair
    without competition and unfair with it."""
    clients = [Client(1001001001, 5, 15, SECOND, SECOND),
               Client(2002002002, 2, 15, SECOND, SECOND / 2)]
    level = LevelConfig(concurrency, queues=9, hand_size=3, queue_length_limit=8,
                        wait_limit=INF, exempt=True)
    exercise(level, clients, concurrency, 18.0, margin, expect_fair=fair)


def test_baseline():
    """``TestBaseline``: 9 queues, hands of 3, one seat, one thread calling back to back."""
    level = LevelConfig(1, queues=9, hand_size=3, queue_length_limit=8, wait_limit=INF)
    exercise(level, [Client(1001001001, 1, 21, SECOND, 0.0)], 1, 20.0, 0.0)


_FLTS = None
SEPARATIONS = [  # think, pad, finalSeats, conc, nClients, expected override
    (1.0, 0.0, 1, 1, 1, _FLTS), (1.0, 0.0, 1, 2, 1, _FLTS), (1.0, 0.0, 2, 2, 1, _FLTS),
    (1.0, 0.0, 1, 1, 2, _FLTS), (1.0, 0.0, 1, 2, 2, _FLTS), (1.0, 0.0, 2, 2, 2, _FLTS),
    (0.0, 1.0, 1, 1, 1, [0.5]), (0.0, 1.0, 1, 2, 1, _FLTS), (0.0, 1.0, 2, 2, 1, [0.5]),
    (0.0, 1.0, 1, 1, 2, [0.25, 0.25]), (0.0, 1.0, 1, 2, 2, [0.5, 0.5]),
    (0.0, 1.0, 2, 2, 2, [0.25, 0.25]),
    (1.0, 0.5, 1, 1, 1, _FLTS), (1.0, 0.5, 1, 2, 1, _FLTS), (1.0, 0.5, 2, 2, 1, _FLTS),
    (1.0, 0.5, 1, 1, 2, [1.0 / 3, 1.0 / 3]), (1.0, 0.5, 1, 2, 2, _FLTS),
    (1.0, 0.5, 2, 2, 2, [1.0 / 3, 1.0 / 3]),
    (0.5, 1.0, 1, 1, 1, [0.5]), (0.5, 1.0, 1, 2, 1, _FLTS), (0.5, 1.0, 2, 2, 1, [0.5]),
    (0.5, 1.0, 1, 1, 2, [0.25, 0.25]), (0.5, 1.0, 1, 2, 2, [0.5, 0.5]),
    (0.5, 1.0, 2, 2, 2, [0.25, 0.25]),
]


@pytest.mark.parametrize(
    ("think", "pad", "final_seats", "conc", "n_clients", "expected"), SEPARATIONS,
    ids=[f"think={t},finalSeats={f},pad={p},nClients={n},conc={c}"
         for t, p, f, c, n, _ in SEPARATIONS])
def test_separations(think, pad, final_seats, conc, n_clients, expected):
    """``TestSeparations``, every case: margin 0, i.e. the averages equal the expectation
    exactly in binary64 (24 s is a multiple of every period involved)."""
    clients = [Client(1001001001, 1, 25, SECOND, think, final_seats=final_seats, pad_s=pad),
               Client(2002002002, 1, 25, SECOND, think, final_seats=final_seats, pad_s=pad)]
    level = LevelConfig(conc, queues=9, hand_size=3, queue_length_limit=8, wait_limit=INF)
    exercise(level, clients[:n_clients], conc, 24.0, 0.0, expected=expected)


def test_different_flows_expect_equal():
    """``TestDifferentFlowsExpectEqual``: hands of 1 of 9 queues, 4 seats, demands 4 and
    4.67 get 2 seats each within 1 %."""
    level = LevelConfig(4, queues=9, hand_size=1, queue_length_limit=8, wait_limit=INF)
    exercise(level, [Client(1001001001, 8, 20, SECOND, SECOND),
                     Client(2002002002, 7, 30, SECOND, SECOND / 2)], 4, 40.0, 0.01)


# ---------------------------------------------------- more of upstream's scenarios
ONE_NS = 1e-9


def test_uniform_flows_hand_size_1():
    """``TestUniformFlowsHandSize1``."""
    level = LevelConfig(4, queues=9, hand_size=1, queue_length_limit=8, wait_limit=INF)
    exercise(level, [Client(1001001001, 8, 20, SECOND, SECOND - ONE_NS),
                     Client(2002002002, 8, 20, SECOND, SECOND - ONE_NS)], 4, 50.0, 0.01)


def test_uniform_flows_hand_size_3():
    """``TestUniformFlowsHandSize3``."""
    level = LevelConfig(4, queues=8, hand_size=3, queue_length_limit=16, wait_limit=INF)
    exercise(level, [Client(400900100100, 8, 30, SECOND, SECOND - ONE_NS),
                     Client(300900200200, 8, 30, SECOND, SECOND - ONE_NS)], 4, 60.0, 0.03)


def test_different_flows_expect_unequal():
    """``TestDifferentFlowsExpectUnequal``."""
    level = LevelConfig(3, queues=9, hand_size=1, queue_length_limit=6, wait_limit=INF)
    exercise(level, [Client(1001001001, 4, 20, SECOND, SECOND - ONE_NS),
                     Client(2002002002, 2, 20, SECOND, SECOND - ONE_NS)], 3, 20.0, 0.01)


def test_different_widths():
    """``TestDifferentWidths``: one- and two-seat requests on 6 seats, margin 15.5 %."""
    level = LevelConfig(6, queues=64, hand_size=7, queue_length_limit=13, wait_limit=INF)
    exercise(level, [Client(10010010010010, 13, 10, SECOND, SECOND - ONE_NS),
                     Client(20020020020020, 7, 10, SECOND, SECOND - ONE_NS,
                            initial_seats=2)], 6, 20.0, 0.155)


def test_too_wide():
    """``TestTooWide``: a seven-seat client on a level of six seats, margin 35 %."""
    clients = [Client(h, 15, 21, SECOND, SECOND - ONE_NS, initial_seats=2)
               for h in (40040040040040, 50050050050050, 60060060060060, 70070070070070)]
    clients.append(Client(90090090090090, 15, 21, SECOND, SECOND - ONE_NS, initial_seats=7))
    level = LevelConfig(6, queues=64, hand_size=7, queue_length_limit=35, wait_limit=INF)
    exercise(level, clients, 6, 400.0, 0.35)


@pytest.mark.parametrize(("margin2", "fair2"), [(0.26, True), (0.1, False)],
                         ids=["upper-bound", "lower-bound"])
def test_windup(margin2, fair2):
    """``TestWindup``: fair in the first half; in the second half unfair by more than
    10 % and less than 26 % (the anti-windup bound removes only part of the windup)."""
    clients = [Client(1001001001, 2, 40, SECOND, -ONE_NS),
               Client(2002002002, 2, 40, SECOND, -ONE_NS, split=True)]
    level = LevelConfig(3, queues=9, hand_size=1, queue_length_limit=6, wait_limit=INF)
    flows = [f for i, c in enumerate(clients) for f in c.flows(i, 40.0)]
    result = simulate_level(level, flows, RUN_UNTIL, np.random.default_rng(0))
    check(result, clients, 3, 0.0, 20.0, False, True, 0.01)
    check(result, clients, 3, 20.0, 40.0, True, fair2, margin2)
    assert (result.outcome == 1).all()


def test_different_flows_without_queuing():
    """``TestDifferentFlowsWithoutQueuing``: no queues, so requests that do not fit are
    rejected (their threads stop) and the clients do not get fair shares (margin 20 %)."""
    level = LevelConfig(4, queues=0, wait_limit=INF)
    exercise(level, [Client(1001001001, 6, 10, SECOND, 0.057),
                     Client(2002002002, 4, 15, SECOND, 0.750)], 4, 13.0, 0.20,
             expect_fair=False, expect_all=False)


# ----------------------------------------------------------- seat-seconds units
@pytest.mark.parametrize(("seats", "ns", "units"), [
    (1, 1_000_000_000, 100_000_000), (123, 100_000_000, 1_230_000_000),
    (1203, 10_000_000, 1_203_000_000)])
def test_seats_times_duration(seats, ns, units):
    """``TestSeatSecondsString``: 1 s -> 1.00000000ss, 123 x 100 ms -> 12.3ss,
    1203 x 10 ms -> 12.03ss (units of 1e-8)."""
    assert seats_times_duration(seats, ns) == units


@pytest.mark.parametrize(("seats", "ns", "per", "expect"), [
    (10, 1_000_000_000, 1, 10_000_000_000), (1, 1_000_000_000, 10, 100_000_000),
    (13, 5_000_000, 5, 13_000_000), (12, 0, 10, 0)])
def test_duration_per_seat(seats, ns, per, expect):
    """``TestSeatSecondsPerSeat``."""
    assert duration_per_seat(seats_times_duration(seats, ns), per) == expect


def test_rounding_is_half_away_from_zero():
    """Go's math.Round: 0.5 units round up, -0.5 down; 0.49999 to 0."""
    assert seats_times_duration(1, 5) == 1        # 0.5 -> 1
    assert seats_times_duration(1, -5) == -1      # -0.5 -> -1
    assert seats_times_duration(1, 15) == 2       # 1.5 -> 2 (not to even)
    assert seats_times_duration(0.4999, 10) == 0


@pytest.mark.parametrize("concurrency", [1, 2])
def test_exempt(concurrency):
    """``TestExampt`` (sic): an exempt queue set runs every request at once, so five threads
    of three-seat requests busy half the time hold 7.5 seats on average (margin 1e-8),
    whatever the concurrency limit."""
    level = LevelConfig(concurrency, queues=9, hand_size=3, queue_length_limit=2,
                        wait_limit=INF, exempt=True)
    exercise(level, [Client(1001001001, 5, 20, SECOND, SECOND, initial_seats=3)], 1, 40.0,
             0.00000001, expected=[7.5])


def test_seat_seconds_rollover():
    """``TestSeatSecondsRollover``: quarters of a year per call, 500-seat requests on 2000
    seats: R passes where upstream advances its epoch (8 times); Python integers do not
    overflow, and the shares stay fair within 1 %."""
    quarter = 91 * 24 * 3600.0
    level = LevelConfig(2000, queues=9, hand_size=1, queue_length_limit=8, wait_limit=INF)
    clients = [Client(1001001001, 8, 20, quarter, quarter, initial_seats=500),
               Client(2002002002, 7, 30, quarter, quarter / 2, initial_seats=500)]
    flows = [f for i, c in enumerate(clients) for f in c.flows(i, 40 * quarter)]
    result = simulate_level(level, flows, 1000 * quarter, np.random.default_rng(0))
    check(result, clients, 2000, 0.0, 40 * quarter, True, True, 0.01)
    assert (result.outcome == 1).all()


def test_vectorised_work_equals_the_scalar_rule():
    from ha_toolkit.apiserver.des import _seats_times_durations

    rng = np.random.default_rng(3)
    seats = rng.integers(1, 1000, 2000)
    ns = rng.integers(0, 10**12, 2000)
    ns[:20] = 5  # exact halves
    expected = [seats_times_duration(int(a), int(b)) for a, b in zip(seats, ns, strict=True)]
    np.testing.assert_array_equal(_seats_times_durations(seats, ns), expected)
