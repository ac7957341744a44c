"""Speed of the exact failover model against the Monte Carlo oracle at equal p99 accuracy.

For each configuration the exact crash-failover distribution is timed (best of several runs).
The Monte Carlo oracle's p99 has standard error ``sqrt(p (1 - p) / n) / f(q)`` (asymptotic
standard error of a sample quantile; ``f`` is the density at the quantile ``q``), so the
number of trials that brings it to a relative error ``eps`` of the p99 is

    n = p (1 - p) / (f(q) * eps * q) ** 2.

Two accuracy targets are compared:

* ``eps = 0.1 %`` (the accuracy the design asks of the exact model's grid): the oracle is
  run at that ``n`` and timed;
* the exact model's measured grid error at p99 (default step against a step four times
  finer): the trials needed are computed and the oracle's time is extrapolated linearly
  from the measured run (its cost is linear in the number of trials).

Run: ``python benchmarks/bench_failover.py [--target 1e-3] [--repeat 5] [--seed 1]``.
Not a test: it prints a table and exits 0.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np

from ha_toolkit.election import ElectionConfig, failover
from ha_toolkit.election.simulate import simulate_failover
from ha_toolkit.election.timing import lattice_step

P = 0.99


def best_time(func: Callable[[], object], repeat: int) -> float:
    """Smallest wall-clock time of ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def density_at(dist, x: float) -> float:
    """Density at ``x`` by a central difference of the CDF over +-1 % of the std."""
    h = 0.01 * dist.std()
    return float((dist.cdf(x + h) - dist.cdf(x - h)) / (2.0 * h))


def trials_for(rel_error: float, q: float, f: float) -> int:
    """Monte Carlo trials whose p99 standard error is ``rel_error * q``."""
    return math.ceil(P * (1.0 - P) / (f * rel_error * q) ** 2)


def bench(name: str, cfg: ElectionConfig, target: float, repeat: int, seed: int) -> list[str]:
    exact_s = best_time(lambda: failover(cfg, "crash"), repeat)
    dist = failover(cfg, "crash")
    q = float(dist.ppf(P))
    f = density_at(dist, q)
    step = lattice_step(cfg)
    fine_q = float(failover(cfg, "crash", step=step / 4).ppf(P))
    grid_error = abs(q - fine_q) / q

    n = trials_for(target, q, f)
    rng = np.random.default_rng(seed)
    mc_s = best_time(lambda: simulate_failover(cfg, "crash", n, rng), max(1, repeat // 2))
    samples = simulate_failover(cfg, "crash", n, np.random.default_rng(seed + 1))
    mc_q = float(np.quantile(samples, P))
    se = math.sqrt(P * (1 - P) / n) / f
    z = (mc_q - q) / se

    n_grid = trials_for(grid_error, q, f) if grid_error > 0 else math.inf
    mc_grid_s = mc_s * n_grid / n
    return [
        name,
        f"{q:.3f}",
        f"{1e3 * exact_s:.2f}",
        f"{grid_error:.1e}",
        f"{n:,}",
        f"{mc_s:.3f}",
        f"{mc_s / exact_s:,.0f}",
        f"{mc_q:.3f} (z={z:+.1f})",
        f"{n_grid:.1e}",
        f"{mc_grid_s:,.0f}",
        f"{mc_grid_s / exact_s:.1e}",
    ]


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=float, default=1e-3, help="relative p99 error")
    parser.add_argument("--repeat", type=int, default=5, help="timing repetitions")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    configs = {
        "kube-scheduler 15/10/2": ElectionConfig.preset("kube-scheduler"),
        "openshift 137/107/26": ElectionConfig.preset("openshift"),
    }
    header = [
        "crash failover, 3 candidates",
        "p99 (s)",
        "exact (ms)",
        "grid err",
        f"MC n @{100 * args.target:g}%",
        "MC (s)",
        "MC/exact",
        "MC p99",
        "MC n @grid err",
        "MC (s, extrap.)",
        "MC/exact",
    ]
    rows = [bench(name, cfg, args.target, args.repeat, args.seed) for name, cfg in configs.items()]
    print_table(header, rows)
    print(
        f"\nMC n: trials for a p99 standard error of {100 * args.target:g} % "
        "(sqrt(p(1-p)/n)/f(p99)); z: MC p99 minus exact p99 in standard errors.\n"
        "grid err: |p99(default step) - p99(step/4)| / p99 of the exact model; the last two "
        "columns extrapolate the oracle's cost to that accuracy."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
