"""Speed and accuracy of the priority-level DES against Ciw on the same M/M/c/K queue.

One flow of one-seat requests, exponential service (mu = 1), no queue-wait limit: the
DES of ``ha_toolkit.apiserver.des`` is then exactly M/M/c/K with ``c`` = the concurrency
limit and ``K = c + hand_size * queue_length_limit``. Two DES paths are timed: one queue
(first come, first served, no virtual clock) and 8 queues with a hand of 2 (shuffle
sharding and fair queuing by seat-seconds, the path every real level takes). Ciw 3
simulates the same M/M/c/K (``queue_capacities = K - c``).

Speed is customers (arrivals, rejected ones included) per second of wall-clock time of
the simulation call (for the DES: drawing, event loop and result arrays), best of
``--repeat`` interleaved runs; the ratio is DES over Ciw. Accuracy: blocking probability
and mean wait of accepted customers against the exact M/M/c/K values
(``ha_toolkit.apiserver.queues.mmck``), with 99.9 % batch-means intervals (20 batches,
Student t).

A closed-loop section then times ``N`` clients with exponential think and service times on
one level (one queue, and 8 queues with hands of 2) and checks throughput and mean wait
against the machine-repairman model M/M/c//N (finite-source balance equations, exact).

Run: ``python benchmarks/bench_des.py [--horizon 100000] [--ciw-horizon 20000] [--seed 7]``.
Not a test: it prints tables and exits 0.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats

from ha_toolkit.apiserver.des import ClosedFlow, Flow, LevelConfig, simulate_level
from ha_toolkit.apiserver.queues import mmck

C, K, LOAD = 10, 30, 9.5  # servers, capacity, offered load (mu = 1)
BATCHES = 20
CONF = 0.999


def batch_ci(which: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    means = np.array([values[which == b].mean() for b in range(BATCHES)])
    half = stats.t.ppf(0.5 + CONF / 2, BATCHES - 1) * means.std(ddof=1) / math.sqrt(BATCHES)
    return float(means.mean()), float(half)


def run_des(horizon: float, seed: int, queues: int, hand: int) -> dict:
    level = LevelConfig(C, queues, hand, (K - C) // hand, math.inf)
    start = time.perf_counter()
    result = simulate_level(level, [Flow("one", LOAD, 1.0)], horizon,
                            np.random.default_rng(seed), warmup=0.05 * horizon)
    seconds = time.perf_counter() - start  # the whole call: draws, event loop, records
    return {
        "customers": result.requests,
        "seconds": seconds,
        "blocking": result.confidence_interval("rejection_probability", CONF, BATCHES),
        "mean wait": result.confidence_interval("mean_wait", CONF, BATCHES),
    }


def run_ciw(horizon: float, seed: int) -> dict:
    import ciw

    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=LOAD)],
        service_distributions=[ciw.dists.Exponential(rate=1.0)],
        number_of_servers=[C],
        queue_capacities=[K - C],
    )
    # Ciw draws from its own global streams; ciw.seed is its API for reproducible runs.
    ciw.seed(seed)
    sim = ciw.Simulation(network)
    start = time.perf_counter()
    sim.simulate_until_max_time(horizon)
    seconds = time.perf_counter() - start
    warmup = 0.05 * horizon
    recs = [r for r in sim.get_all_records() if r.arrival_date > warmup]
    arrival = np.array([r.arrival_date for r in recs])
    rejected = np.array([r.record_type == "rejection" for r in recs], dtype=float)
    served = rejected == 0
    wait = np.array([r.waiting_time if r.record_type == "service" else np.nan for r in recs])
    which = np.minimum(((arrival - warmup) / (horizon - warmup) * BATCHES).astype(int),
                       BATCHES - 1)
    return {
        "customers": len(sim.get_all_records()),
        "seconds": seconds,
        "blocking": batch_ci(which, rejected),
        "mean wait": batch_ci(which[served], wait[served]),
    }


N_CLIENTS, THINK = 30, 2.0  # closed loop: clients, mean think time (service mean 1)


def machine_repairman(n: int, c: int, lam: float, mu: float) -> tuple[float, float]:
    """M/M/c//n throughput and mean wait, from p_k ~ n!/(n-k)! (lam/mu)^k / servers(k)."""
    a = lam / mu
    logs = []
    for k in range(n + 1):
        servers = math.lgamma(k + 1) if k <= c else math.lgamma(c + 1) + (k - c) * math.log(c)
        logs.append(math.lgamma(n + 1) - math.lgamma(n - k + 1) + k * math.log(a) - servers)
    top = max(logs)
    p = np.exp(np.array(logs) - top)
    p /= p.sum()
    k = np.arange(n + 1)
    throughput = float((np.minimum(k, c) * p).sum() * mu)
    return throughput, float((np.maximum(k - c, 0) * p).sum() / throughput)


def run_closed(horizon: float, seed: int, queues: int, hand: int) -> dict:
    level = LevelConfig(C, queues, hand, N_CLIENTS, math.inf)
    flow = ClosedFlow("clients", N_CLIENTS, 1.0, think_time=THINK,
                      service_distribution="exponential", think_distribution="exponential")
    start = time.perf_counter()
    result = simulate_level(level, [flow], horizon, np.random.default_rng(seed),
                            warmup=0.05 * horizon)
    seconds = time.perf_counter() - start
    return {
        "customers": result.requests,
        "seconds": seconds,
        "throughput": result.confidence_interval("throughput", CONF, BATCHES),
        "mean wait": result.confidence_interval("mean_wait", CONF, BATCHES),
    }


def best(runs: list[dict]) -> dict:
    return max(runs, key=lambda r: r["customers"] / r["seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--horizon", type=float, default=100_000.0)
    parser.add_argument("--ciw-horizon", type=float, default=20_000.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    exact = mmck(LOAD, 1.0, C, K)
    model = {"blocking": float(exact.blocking_probability), "mean wait": float(exact.mean_wait)}
    simulators = {
        "DES, one queue (FIFO path)": lambda k: run_des(args.horizon, args.seed + k, 1, 1),
        "DES, 8 queues, hand 2 (fair-queuing path)":
            lambda k: run_des(args.horizon, args.seed + k, 8, 2),
        "Ciw 3": lambda k: run_ciw(args.ciw_horizon, args.seed + k),
    }
    # interleaved repeats, so that every simulator sees the same machine load
    trials: dict[str, list[dict]] = {name: [] for name in simulators}
    for k in range(args.repeat):
        for name, run in simulators.items():
            trials[name].append(run(k))
    runs = {name: best(t) for name, t in trials.items()}
    ciw_rate = runs["Ciw 3"]["customers"] / runs["Ciw 3"]["seconds"]
    print(f"## M/M/{C}/{K}, offered load {LOAD:g} Erlangs, mu = 1")
    print()
    print("| simulator | customers | seconds | customers per second | ratio to Ciw |")
    print("|---|---|---|---|---|")
    for name, r in runs.items():
        rate = r["customers"] / r["seconds"]
        print(f"| {name} | {r['customers']} | {r['seconds']:.3f} | {rate:,.0f} | "
              f"{rate / ciw_rate:.1f} |")
    print()
    print(f"Accuracy against the exact M/M/c/K values ({100 * CONF:g} % batch-means "
          f"intervals, {BATCHES} batches):")
    print()
    print("| simulator | measure | exact | simulated | CI half-width | inside |")
    print("|---|---|---|---|---|---|")
    for name, r in runs.items():
        for measure in ("blocking", "mean wait"):
            mean, half = r[measure]
            ok = abs(mean - model[measure]) <= half
            print(f"| {name} | {measure} | {model[measure]:.5f} | {mean:.5f} | {half:.5f} | "
                  f"{'yes' if ok else 'NO'} |")
    print()
    closed = {
        "DES, closed loop, one queue": lambda k: run_closed(args.horizon / 5, args.seed + k,
                                                            1, 1),
        "DES, closed loop, 8 queues, hand 2": lambda k: run_closed(args.horizon / 5,
                                                                   args.seed + k, 8, 2),
    }
    x, wq = machine_repairman(N_CLIENTS, C, 1 / THINK, 1.0)
    print(f"## Closed loop: {N_CLIENTS} clients, think {THINK:g} s, service 1 s, {C} seats "
          f"(M/M/{C}//{N_CLIENTS}: throughput {x:.5f}/s, mean wait {wq:.5f} s)")
    print()
    print("| simulator | customers per second | measure | exact | simulated | CI half-width "
          "| inside |")
    print("|---|---|---|---|---|---|---|")
    for name, run in closed.items():
        r = best([run(k) for k in range(args.repeat)])
        rate = r["customers"] / r["seconds"]
        for measure, exact in (("throughput", x), ("mean wait", wq)):
            mean, half = r[measure]
            ok = abs(mean - exact) <= half
            print(f"| {name} | {rate:,.0f} | {measure} | {exact:.5f} | {mean:.5f} | "
                  f"{half:.5f} | {'yes' if ok else 'NO'} |")
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
