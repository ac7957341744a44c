"""Exact crash failover against a brute force of the acquire loops, at any scale.

The brute force (``tests/bruteforce_failover.py``) shares no code with the exact model or the
Monte Carlo oracle: it runs every follower's ``JitterUntil`` loop attempt by attempt from a
stationary start. The acceptance asks the exact mean within 0.3 % and p50/p90/p99 within
1 % for a narrow jitter, a 1 h lease and RP = LD/3000; the table also gives each difference
in standard errors of the brute force (z), which is the sharper test.

Run: ``python benchmarks/validate_exact_engine.py [--trials N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bruteforce_failover import brute_force_failover  # noqa: E402

from ha_toolkit.election import ElectionConfig, failover  # noqa: E402

CASES = {
    "narrow jitter 101/1/0.5, J=0.001, 2 cand.": ElectionConfig(
        101, 1, 0.5, jitter_factor=0.001, candidates=2
    ),
    "jitter 1e-9 101/1/0.5, 2 cand.": ElectionConfig(101, 1, 0.5, jitter_factor=1e-9, candidates=2),
    "1 h lease 3600/10/2": ElectionConfig(3600, 10, 2),
    "RP = LD/3000: 3000/2/1": ElectionConfig(3000, 2, 1),
    "kube-scheduler 15/10/2": ElectionConfig.preset("kube-scheduler"),
    "clusters 40/10/0.3, J=0.05, 4 cand.": ElectionConfig(
        40, 10, 0.3, jitter_factor=0.05, candidates=4
    ),
}


def quantile_se(dist, q: float, n: int) -> float:
    """Asymptotic standard error of a sample quantile, from the exact density."""
    x = float(dist.ppf(q))
    h = 0.02 * dist.std()
    density = (dist.cdf(x + h) - dist.cdf(x - h)) / (2 * h)
    return math.sqrt(q * (1 - q) / n) / density if density > 0 else math.inf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    header = (
        f"{'configuration':42s} {'stat':5s} {'exact':>11s} {'brute':>11s} {'rel':>9s} {'z':>6s}"
    )
    print(f"brute force: {args.trials:,} trials per configuration\n")
    print(header)
    print("-" * len(header))
    worst = {"mean": 0.0, "quantile": 0.0}
    failed = False
    for i, (name, cfg) in enumerate(CASES.items()):
        start = time.perf_counter()
        sample = brute_force_failover(
            cfg.record_lease_duration,
            cfg.retry_period,
            cfg.jitter_factor,
            cfg.followers,
            cfg.api_latency,
            args.trials,
            np.random.default_rng([args.seed, i]),
        )
        brute_s = time.perf_counter() - start
        start = time.perf_counter()
        dist = failover(cfg)
        exact_ms = 1e3 * (time.perf_counter() - start)
        rows = [("mean", dist.mean(), sample.mean(), sample.std() / math.sqrt(sample.size))]
        for q in (0.5, 0.9, 0.99):
            rows.append(
                (
                    f"p{100 * q:g}",
                    float(dist.ppf(q)),
                    float(np.quantile(sample, q)),
                    quantile_se(dist, q, sample.size),
                )
            )
        for stat, exact, brute, se in rows:
            rel = exact / brute - 1
            key = "mean" if stat == "mean" else "quantile"
            worst[key] = max(worst[key], abs(rel))
            failed |= abs(rel) > (0.003 if key == "mean" else 0.01)
            z = (exact - brute) / se if se > 0 else 0.0
            print(f"{name:42s} {stat:5s} {exact:11.4f} {brute:11.4f} {100 * rel:+8.4f}% {z:+6.1f}")
        print(
            f"{'':42s} sup|F - Fn| = {dist.ks_distance(sample):.4f}; exact {exact_ms:.1f} ms, "
            f"brute force {brute_s:.1f} s"
        )
    print(
        f"\nworst: mean {100 * worst['mean']:.4f} % (target 0.3 %), quantiles "
        f"{100 * worst['quantile']:.4f} % (target 1 %): {'FAIL' if failed else 'pass'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
