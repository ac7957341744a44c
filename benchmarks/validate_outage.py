"""Exact outage survival, term overlap and leaderless time against the oracle, at scale.

Survival: for each configuration and mode, outage lengths across the transition between
"always survived" and "never survived", 200,000 oracle trials per length (binomial standard
error <= 0.0011). Overlap and leaderless time: mean and p99 of the exact model beside
10^6 oracle draws (overlaps, which straddle 0, relative to their standard deviation). The
acceptance asks probabilities within 0.005 and durations within 0.5 %.

Run: ``python benchmarks/validate_outage.py``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ha_toolkit.election import ElectionConfig
from ha_toolkit.election.outage import leaderless_after_outage, outage_survival
from ha_toolkit.election.overlap import term_overlap
from ha_toolkit.election.simulate import simulate_outage, simulate_partition

DEFAULTS = ElectionConfig.preset("kube-scheduler")
CASES = {
    "kube-scheduler 15/10/2": DEFAULTS,
    "openshift 137/107/26": ElectionConfig.preset("openshift"),
    "latency 200 ms": replace(DEFAULTS, api_latency=0.2),
    "no jitter": replace(DEFAULTS, jitter_factor=0.0),
    "4 followers": replace(DEFAULTS, candidates=5),
    "15.7/9/2.3, 50 ms": ElectionConfig(15.7, 9, 2.3, api_latency=0.05, candidates=2),
}
PER_LENGTH = 200_000
TRIALS = 1_000_000


def survival_rows(seed: int) -> float:
    print(
        f"{'configuration':26s} {'mode':9s} {'T (s)':>8s} {'exact':>8s} {'oracle':>8s} "
        f"{'diff':>8s}"
    )
    worst = 0.0
    for i, (name, cfg) in enumerate(CASES.items()):
        for j, mode in enumerate(("refuse", "blackhole")):
            probe = outage_survival(cfg, 0.0, mode)
            lo, hi = probe.min_tolerated_outage, probe.max_tolerated_outage
            lengths = lo + (hi - lo) * np.array([0.0, 0.25, 0.5, 0.9, 1.0])
            drawn = np.repeat(lengths, PER_LENGTH)
            sim = simulate_outage(cfg, drawn, mode, drawn.size, np.random.default_rng([seed, i, j]))
            for length in lengths:
                observed = float(sim.survived[drawn == length].mean())
                exact = outage_survival(cfg, float(length), mode).survival_probability
                worst = max(worst, abs(observed - exact))
                print(
                    f"{name:26s} {mode:9s} {length:8.2f} {exact:8.4f} {observed:8.4f} "
                    f"{observed - exact:+8.4f}"
                )
    return worst


def duration_rows(seed: int) -> float:
    print(
        f"\n{'quantity':52s} {'mean exact':>10s} {'mean MC':>10s} {'rel':>7s} "
        f"{'p99 exact':>10s} {'p99 MC':>10s} {'rel':>7s}"
    )
    worst = 0.0
    rows = []
    for i, (name, ratio) in enumerate(
        [("kube-scheduler 15/10/2", 1.5), ("latency 200 ms", 1.3), ("openshift 137/107/26", 1.2)]
    ):
        cfg = CASES[name]
        sample = simulate_partition(cfg, ratio, TRIALS, np.random.default_rng([seed, 10, i]))
        rows.append((f"overlap, {name}, rho {ratio}", term_overlap(cfg, ratio), sample))
    for i, (name, mode, length) in enumerate(
        [
            ("kube-scheduler 15/10/2", "refuse", 20.0),
            ("kube-scheduler 15/10/2", "blackhole", 20.0),
            ("latency 200 ms", "refuse", 12.0),
            ("latency 200 ms", "blackhole", 25.0),
            ("openshift 137/107/26", "refuse", 140.0),
            ("openshift 137/107/26", "blackhole", 160.0),
        ]
    ):
        cfg = CASES[name]
        sim = simulate_outage(cfg, length, mode, TRIALS // 2, np.random.default_rng([seed, 20, i]))
        sample = (sim.new_leader_at - sim.lost_at)[~sim.survived]
        exact = leaderless_after_outage(cfg, length, mode)
        rows.append((f"leaderless, {name}, {mode} {length:g} s", exact, sample))
    for label, exact, sample in rows:
        p99 = float(np.quantile(sample, 0.99))
        # overlaps can sit near 0, where a relative difference means nothing: they are
        # compared relative to their spread instead
        near_zero = label.startswith("overlap")
        mean_scale = sample.std() if near_zero else abs(sample.mean())
        p99_scale = sample.std() if near_zero else abs(p99)
        mean_rel = (exact.mean() - sample.mean()) / mean_scale
        p99_rel = (exact.ppf(0.99) - p99) / p99_scale
        worst = max(worst, abs(mean_rel), abs(p99_rel))
        print(
            f"{label:52s} {exact.mean():10.3f} {sample.mean():10.3f} {mean_rel:+7.2%} "
            f"{exact.ppf(0.99):10.3f} {p99:10.3f} {p99_rel:+7.2%}"
        )
    return worst


def main() -> int:
    seed = 20261126
    worst_p = survival_rows(seed)
    worst_d = duration_rows(seed)
    print(f"\nworst survival difference {worst_p:.4f}; worst duration difference {worst_d:.3%}")
    return 0 if worst_p < 0.005 and worst_d < 0.005 else 1


if __name__ == "__main__":
    raise SystemExit(main())
