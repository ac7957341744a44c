"""The discrete-event model of a priority level: reductions to exact queues, fairness."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from ha_toolkit.apiserver import des
from ha_toolkit.apiserver.apf import PriorityLevel, level_queue
from ha_toolkit.apiserver.des import DesResult, Flow, LevelConfig, simulate_level
from ha_toolkit.apiserver.queues import erlang_b, mmck

INF = math.inf
CONF = 0.999  # two-sided level of every interval checked here


def mmck_exact(lam: float, mu: float, c: int, K: int) -> tuple[float, float]:
    """(blocking, mean wait of accepted) from the birth-death balance, exactly."""
    lam_f, mu_f = Fraction(lam), Fraction(mu)
    p = [Fraction(1)]
    for n in range(1, K + 1):
        p.append(p[-1] * lam_f / (mu_f * min(n, c)))
    total = sum(p)
    p = [x / total for x in p]
    lq = sum((n - c) * p[n] for n in range(c, K + 1))
    return float(p[K]), float(lq / (lam_f * (1 - p[K])))


def inside(result: DesResult, statistic: str, expected: float, batches: int = 20) -> None:
    mean, half = result.confidence_interval(statistic, CONF, batches)
    assert abs(mean - expected) <= half, (statistic, mean, half, expected)


# --------------------------------------------------------- one flow, one seat: M/M/c/K
def test_one_queue_is_mmck():
    lam, c, K = 3.6, 4, 10
    r = simulate_level(LevelConfig(c, 1, 1, K - c, INF), [Flow("a", lam, 1.0)], 20_000.0,
                       np.random.default_rng(1), warmup=200.0)
    block, wait = mmck_exact(lam, 1.0, c, K)
    inside(r, "rejection_probability", block)
    inside(r, "mean_wait", wait)
    q = mmck(lam, 1.0, c, K)
    inside(r, "wait_share", float(q.wait_probability))
    # FIFO: the whole wait distribution is that of M/M/c/K (batch means of P(W > t))
    t = float(q.wait_quantile(0.9))
    served = (r.outcome == 1) & (r.arrival >= 200.0)
    batch = np.minimum(((r.arrival[served] - 200.0) / (20_000.0 - 200.0) * 20).astype(int), 19)
    frac = np.array([np.mean(r.wait[served][batch == b] > t) for b in range(20)])
    half = stats.t.ppf(0.5 + CONF / 2, 19) * frac.std(ddof=1) / math.sqrt(20)
    assert abs(frac.mean() - float(q.wait_sf(t))) <= half
    # Little's law on seats: time-average busy seats = throughput x service time
    assert r.mean_seats_in_use == pytest.approx(lam * (1 - block), rel=0.03)


def test_one_flow_over_a_hand_is_mmck_with_the_hand_as_room():
    """Fair-queuing path: one flow, hand 3 of 8 queues of 2 places: M/M/3/(3 + 6)."""
    lam, c = 2.9, 3
    r = simulate_level(LevelConfig(c, 8, 3, 2, INF), [Flow("a", lam, 1.0)], 20_000.0,
                       np.random.default_rng(2), warmup=200.0)
    block, wait = mmck_exact(lam, 1.0, c, c + 6)
    inside(r, "rejection_probability", block)
    inside(r, "mean_wait", wait)  # order-free: work-conserving, identical requests


def test_equal_multi_seat_requests_reduce_to_fewer_servers():
    """Requests of 2 seats on 4 seats: two at a time, M/M/2/(2 + 5)."""
    r = simulate_level(LevelConfig(4, 1, 1, 5, INF), [Flow("a", 1.6, 1.0, seats=2)],
                       20_000.0, np.random.default_rng(3), warmup=200.0)
    block, wait = mmck_exact(1.6, 1.0, 2, 7)
    inside(r, "rejection_probability", block)
    inside(r, "mean_wait", wait)


def test_request_wider_than_the_limit_runs_alone():
    """5 seats on a limit of 3: allowed only with nothing executing, M/M/1/(1 + 4)."""
    r = simulate_level(LevelConfig(3, 1, 1, 4, INF), [Flow("a", 0.8, 1.0, seats=5)],
                       20_000.0, np.random.default_rng(4), warmup=200.0)
    block, wait = mmck_exact(0.8, 1.0, 1, 5)
    inside(r, "rejection_probability", block)
    inside(r, "mean_wait", wait)


def test_lingering_seats_loss_system_is_erlang_b_of_the_holding_time():
    """No waiting room: a loss system; seats are held for Exp(1) + 0.5 s, and Erlang B is
    insensitive to the holding-time distribution beyond its mean (1.5 s)."""
    lam, c = 2.0, 5
    flow = Flow("a", lam, 1.0, seats=1, final_seats=1, additional_latency=0.5)
    r = simulate_level(LevelConfig(c, 1, 1, 0, INF), [flow], 20_000.0,
                       np.random.default_rng(5), warmup=200.0)
    inside(r, "rejection_probability", float(erlang_b(c, lam * 1.5)))
    served = r.outcome == 1
    assert np.nanmax(r.wait[served]) == 0.0  # nobody ever waits in a loss system


def test_queue_set_with_one_queue_equals_the_fifo_path_exactly():
    """The fixed-point queue set with one queue decides exactly as the FIFO fast path."""
    level = LevelConfig(3, 1, 1, 4, 2.0)
    flows = (Flow("a", 2.0, 1.0), Flow("b", 1.0, 0.5, seats={1: 0.5, 2: 0.5}))
    reqs = des._generate(level, list(enumerate(flows)), 3000.0, np.array([2.0, 1.0]),
                         np.random.default_rng(6))
    hands = np.zeros((2, 1), dtype=np.int64)
    fifo, fifo_busy, _ = des._run_fifo(level, reqs, 0.0, 3000.0)
    fair, fair_busy, _ = des._QueueSet(level, flows, hands, reqs, np.random.default_rng(0),
                                       0.0, 3000.0).run()
    for key in ("outcome", "start_ns", "end_ns"):
        np.testing.assert_array_equal(fifo[key], fair[key])
    assert fifo_busy == fair_busy


# ------------------------------------------------------------------- the wait limit
def test_fifo_wait_limit_matches_mmc_with_deterministic_patience():
    """One queue, ample room, a 3 s limit: the M/M/c+D figures of level_queue."""
    lam, c, D = 19.5, 10, 3.0
    r = simulate_level(LevelConfig(c, 1, 1, 10_000, D), [Flow("a", lam, 0.5)], 6_000.0,
                       np.random.default_rng(7), warmup=100.0)
    model = level_queue(PriorityLevel("x", queues=1, hand_size=1, queue_length_limit=10_000),
                        c, lam, 0.5, wait_limit=D)
    assert model.regime == "wait limit"
    inside(r, "timeout_probability", float(model.timeout_probability))
    served = r.outcome == 1
    assert np.nanmax(r.wait[served]) <= D
    s = r.summary().iloc[0]
    assert s.arrivals == s.served + s.rejected + s.timed_out


def test_wait_limit_bounds_every_wait_and_counts_timeouts():
    r = simulate_level(LevelConfig(2, 4, 2, 100, 1.0), [Flow("a", 5.0, 1.0)], 500.0,
                       np.random.default_rng(8))
    s = r.summary().iloc[0]
    assert s.timed_out > 0 and s.rejected == 0
    assert s.max_wait <= 1.0
    assert s.arrivals == s.served + s.timed_out
    timed = r.outcome == 3
    np.testing.assert_array_equal(r.wait[timed], 1.0)


# ------------------------------------------------------------------ elephant and mice
def _elephant_and_mice(queues: int, hand: int, seed: int) -> DesResult:
    flows = [Flow("elephant", 30.0, 0.5)] + [Flow(f"mouse-{i}", 0.5, 0.5) for i in range(4)]
    return simulate_level(LevelConfig(10, queues, hand, 50, 15.0), flows, 600.0,
                          np.random.default_rng(seed), warmup=60.0)


def test_fair_queuing_isolates_the_mice_from_the_elephant():
    fair = _elephant_and_mice(16, 4, 9).summary().set_index("flow")
    mice = fair.drop(index=["elephant", "all"])
    # capacity 20/s against 31/s offered: the elephant alone is throttled
    assert fair.loc["elephant", "rejection_probability"] > 0.3
    assert (mice["rejection_probability"] == 0).all()
    # a mouse waits about for the next completion, 0.5 s / 10 seats
    assert (mice["mean_wait"] < 0.15).all()
    assert fair.loc["elephant", "mean_wait"] > 5.0


def test_one_fifo_queue_does_not_isolate():
    fifo = _elephant_and_mice(1, 1, 9).summary().set_index("flow")
    mice = fifo.drop(index=["elephant", "all"])
    assert (mice["rejection_probability"] > 0.2).all()
    assert (mice["mean_wait"] > 1.0).all()


def test_given_hands_are_used():
    flows = [Flow("a", 1.0, 0.1, hand=(0, 1)), Flow("b", 1.0, 0.1, hand=(2, 3))]
    r = simulate_level(LevelConfig(2, 4, 2, 5, INF), flows, 50.0, np.random.default_rng(1))
    np.testing.assert_array_equal(r.hands, [[0, 1], [2, 3]])


# -------------------------------------------------------------------- reproducibility
def test_seeded_runs_repeat_and_differ_by_seed():
    level = LevelConfig(4, 8, 2, 10, 5.0)
    flows = [Flow("a", 3.0, 1.0), Flow("b", 1.0, 1.0, seats={1: 0.7, 3: 0.3})]
    a = simulate_level(level, flows, 300.0, np.random.default_rng(42))
    b = simulate_level(level, flows, 300.0, np.random.default_rng(42))
    c = simulate_level(level, flows, 300.0, np.random.default_rng(43))
    np.testing.assert_array_equal(a.outcome, b.outcome)
    np.testing.assert_array_equal(a.wait, b.wait)
    assert a.requests != c.requests or not np.array_equal(a.arrival, c.arrival)


def test_frames_and_plot():
    r = simulate_level(LevelConfig(2, 4, 2, 3, 2.0),
                       [Flow("a", 2.0, 1.0), Flow("b", 0.5, 1.0)], 200.0,
                       np.random.default_rng(3), warmup=20.0)
    frame = r.to_frame()
    assert list(frame.columns) == ["flow", "arrival", "outcome", "seats", "wait", "response"]
    assert frame["arrival"].min() >= 20.0
    summary = r.summary()
    assert list(summary["flow"]) == ["a", "b", "all"]
    assert summary.set_index("flow").loc["all", "arrivals"] == len(frame)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = r.plot()
    assert ax.get_yscale() == "log"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="statistic must be one of"):
        r.batch_values("median")
    with pytest.raises(ValueError, match="no flow 'c'"):
        r.batch_values("mean_wait", flow="c")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LevelConfig(0), "concurrency_limit must be >= 1"),
        (lambda: LevelConfig(2, 4, 5), "hand_size must be <= queues"),
        (lambda: LevelConfig(2, wait_limit=0.0), "wait_limit must be > 0"),
        (lambda: Flow("a", -1.0, 1.0), "arrival_rate must be > 0"),
        (lambda: Flow("a", 1.0, 1.0, seats=0), "seats must be >= 1"),
        (lambda: Flow("a", 1.0, 1.0, service_distribution="pareto"), "service_distribution"),
        (lambda: Flow("a", 1.0, 1.0, hand=(1, 1)), "distinct queue indices"),
    ],
)
def test_bad_configuration(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_runs():
    level = LevelConfig(2, 4, 2)
    flow = Flow("a", 1.0, 1.0)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        simulate_level(level, [flow], 10.0, 0)
    with pytest.raises(ValueError, match="warmup must be below horizon"):
        simulate_level(level, [flow], 10.0, rng, warmup=10.0)
    with pytest.raises(ValueError, match="flows must hold at least one Flow"):
        simulate_level(level, [], 10.0, rng)
    with pytest.raises(ValueError, match="hand must have hand_size=2"):
        simulate_level(level, [Flow("a", 1.0, 1.0, hand=(0,))], 10.0, rng)
    with pytest.raises(ValueError, match="would generate about"):
        simulate_level(level, [Flow("a", 1e6, 1.0)], 1e3, rng)
