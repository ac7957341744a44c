"""Speed and accuracy of the vectorised queueing models, and a long check against Ciw.

Part 1, speed: 10^4 grid points (servers 1..600, utilisation 0.05..0.99, service time
50 ms, answer time t = 20 ms). The vectorised M/M/c model (``capacity=None``) gives the
Erlang C probability of waiting and the service level ``P(W <= t)``; the baseline loops
over the points with pyworkforce's ``ErlangC`` (``waiting_probability`` and
``service_level``), the scalar textbook recursion. When pyworkforce is not installed a
scalar textbook implementation written here (the same recursion) stands in, and the table
says so. The vectorised M/M/c/K model with a finite waiting room (``capacity = servers +
room``, room 0..199) is timed on the same grid: blocking, wait probability, mean wait and
``P(W > t)``. The ratio is loop time over vectorised time; the differences are the largest
absolute and relative differences between the two over the grid.

Part 2, Ciw: long seeded simulations of M/M/c/K (Ciw 3, which seeds its own streams with
``ciw.seed``); blocking, mean wait, P(W > t) and P(R > t) against the model, with 99.9 %
batch-means confidence intervals (30 batches, Student t).

Run: ``python benchmarks/bench_queues.py [--points 10000] [--horizon 40000] [--seed 7]``.
Not a test: it prints tables and exits 0.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

from ha_toolkit.apiserver.ciw_check import compare_mmck_with_ciw
from ha_toolkit.apiserver.queues import mmc, mmck

SERVICE_TIME = 0.05
ANSWER_TIME = 0.02


class TextbookErlangC:
    """Scalar Erlang C, the textbook way (stand-in for pyworkforce.queuing.ErlangC)."""

    def __init__(self, transactions: float, aht: float, asa: float, interval: float) -> None:
        self.intensity = transactions / interval * aht
        self.aht, self.asa = aht, asa

    def waiting_probability(self, positions: int) -> float:
        inverse = 1.0
        for n in range(1, positions + 1):
            inverse = 1.0 + inverse * n / self.intensity
        b = 1.0 / inverse
        return positions * b / (positions - self.intensity * (1.0 - b))

    def service_level(self, positions: int) -> float:
        p = self.waiting_probability(positions)
        return max(0.0, 1.0 - p * math.exp(-(positions - self.intensity) * self.asa / self.aht))


def baseline() -> tuple[type, str]:
    try:
        from pyworkforce.queuing import ErlangC
    except ImportError:
        return TextbookErlangC, "scalar textbook Erlang C (pyworkforce not installed)"
    import importlib.metadata

    return ErlangC, f"pyworkforce {importlib.metadata.version('pyworkforce')} ErlangC"


def erlang_c_mpmath(c: int, load: float) -> float:
    """Erlang C by the Erlang B recursion in 50-digit arithmetic."""
    import mpmath as mp

    with mp.workdps(50):
        A = mp.mpf(load)
        b = mp.mpf(1)
        for n in range(1, c + 1):
            b = A * b / (n + A * b)
        return float(b / (1 - A / c * (1 - b)))


def best_time(func: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def speed(points: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = rng.integers(1, 601, points)
    rho = rng.uniform(0.05, 0.99, points)
    room = rng.integers(0, 200, points)
    mu = 1.0 / SERVICE_TIME
    lam = rho * c * mu
    erlang_c_cls, label = baseline()

    def loop() -> tuple[np.ndarray, np.ndarray]:
        pw = np.empty(points)
        sl = np.empty(points)
        for i in range(points):
            model = erlang_c_cls(
                transactions=float(lam[i]), aht=SERVICE_TIME, asa=ANSWER_TIME, interval=1
            )
            pw[i] = model.waiting_probability(int(c[i]))
            sl[i] = model.service_level(int(c[i]))
        return pw, sl

    def vectorised() -> tuple[np.ndarray, np.ndarray]:
        r = mmc(lam, mu, c)
        return r.wait_probability, 1.0 - r.wait_sf(ANSWER_TIME)

    def finite() -> None:
        r = mmck(lam, mu, c, c + room)
        _ = (r.blocking_probability, r.wait_probability, r.mean_wait, r.wait_sf(ANSWER_TIME))

    loop_s = best_time(loop, 1)
    vec_s = best_time(vectorised, 5)
    fin_s = best_time(finite, 3)
    pw_loop, sl_loop = loop()
    pw_vec, sl_vec = vectorised()
    print(f"## Speed: {points} grid points, baseline {label}")
    print()
    print("| quantity | largest abs. difference | largest rel. difference |")
    print("|---|---|---|")
    for name, a, b in (
        ("Erlang C (P wait)", pw_vec, pw_loop),
        ("service level P(W <= 20 ms)", sl_vec, sl_loop),
    ):
        diff = np.abs(a - b)
        rel = diff / np.maximum(np.abs(b), 1e-300)
        print(f"| {name} | {diff.max():.2e} | {rel[np.abs(b) > 1e-300].max():.2e} |")
    print()
    rel_pw = np.abs(pw_vec - pw_loop) / np.where(pw_loop > 1e-300, pw_loop, np.inf)
    worst = int(np.argmax(rel_pw))
    exact = erlang_c_mpmath(int(c[worst]), float(lam[worst] / mu))
    print(
        f"Largest relative Erlang C difference at c = {c[worst]}, load "
        f"{lam[worst] / mu:.6g}: against a 50-digit mpmath evaluation the vectorised value "
        f"is off by {abs(pw_vec[worst] / exact - 1):.1e} (relative), the loop's by "
        f"{abs(pw_loop[worst] / exact - 1):.1e}."
    )
    print()
    print("| evaluation | seconds | ratio (loop / this) |")
    print("|---|---|---|")
    print(f"| per-point loop, {label} | {loop_s:.3f} | 1 |")
    print(f"| vectorised M/M/c (Erlang C, service level) | {vec_s:.4f} | {loop_s / vec_s:.0f} |")
    print(
        f"| vectorised M/M/c/K, room 0..199 (blocking, P wait, mean wait, P(W > t)) "
        f"| {fin_s:.4f} | {loop_s / fin_s:.0f} |"
    )
    print()


# ------------------------------------------------------------------------------- Ciw
CIW_CASES = [
    (1, 5, 0.8),
    (3, 3, 2.5),
    (2, 6, 3.0),
    (4, 12, 3.9),
    (10, 20, 9.5),
    (20, 20, 20.0),
    (20, 60, 19.8),
    (50, 100, 60.0),
]


def ciw_table(horizon: float, seed: int) -> None:
    batches, level = 30, 0.999
    print(f"## Ciw: M/M/c/K, mu = 1, horizon {horizon:g} per case, {batches} batches, 99.9 % CI")
    print()
    print("| c | K | load | measure | model | Ciw | CI half-width | inside |")
    print("|---|---|---|---|---|---|---|---|")
    inside_all = total = 0
    for k, (c, K, load) in enumerate(CIW_CASES):
        table = compare_mmck_with_ciw(
            c, K, load, horizon=horizon, seed=seed + k, batches=batches, level=level
        )
        for row in table.itertuples():
            name = row.measure if math.isnan(row.at) else row.measure.replace("t", f"{row.at:.3g}")
            inside_all += bool(row.inside)
            total += 1
            print(
                f"| {c} | {K} | {load:g} | {name} | {row.model:.5f} | {row.ciw:.5f} | "
                f"{row.half_width:.5f} | {'yes' if row.inside else 'NO'} |"
            )
    print()
    print(f"{inside_all} of {total} comparisons inside the 99.9 % interval.")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--horizon", type=float, default=40_000.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    speed(args.points, args.seed)
    ciw_table(args.horizon, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
