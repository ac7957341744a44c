"""Speed of the vectorised Monte Carlo oracle against an idiomatic SimPy model.

Both simulate the same client-go protocol (tools/leaderelection, see
``ha_toolkit.election.simulate``) with the same design of a trial:

* the leader renews with one Update every ``RP + l`` (committed at the call's midpoint),
  its first Update at a uniform offset; it crashes at ``c``, uniform over ten renew
  periods after the warm-up (the oracle's default warm-up);
* each follower starts at a uniform moment over its longest gap, then loops: capture
  ``now``, GET (read at ``+ l/2``, back at ``+ l``), reset ``observedTime`` when the record
  changed, and either sleep ``RP (1 + J U)`` (``wait.JitterUntil``, sliding) or, once
  ``observedTime + LeaseDurationSeconds <= now``, send its Update and hold the lease ``2 l``
  after ``now``;
* the trial's failover time is the first acquisition minus ``c``.

The SimPy model is written the way SimPy is meant to be used: an ``Environment`` per trial,
a generator process per candidate, the crash as a process interrupting the leader, and the
run stopped by an event that the first acquisition triggers. Written here, as the baseline
only. The table gives trials per second of each (best of ``--repeat`` runs) and their
ratio (target >= 500), and checks that both produce the same distribution (two-sample
Kolmogorov-Smirnov test at 1 %, means within 4 standard errors). A profile gives the
follower attempts per trial (counted in the SimPy model; the oracle makes the same ones),
the share of them before the crash, and each simulator's cost per attempt.

Run: ``python benchmarks/bench_oracle_vs_simpy.py [--simpy-trials N] [--oracle-trials N]``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import numpy as np
import simpy
from scipy import stats

from ha_toolkit.election import ElectionConfig
from ha_toolkit.election.simulate import default_warmup, simulate_failover

TARGET = 500.0


class Lease:
    """The Lease object on the API server: a version per write."""

    def __init__(self) -> None:
        self.version = 0


def leader(env: simpy.Environment, lease: Lease, first_send: float, period: float, lat: float):
    """client-go's renew loop: one Update per cycle, the next cycle RP after it returns."""
    try:
        yield env.timeout(first_send)
        while True:
            yield env.timeout(lat / 2)
            lease.version += 1  # committed at the midpoint of the call
            yield env.timeout(period - lat / 2)
    except simpy.Interrupt:
        return  # crashed: no further commit


def crasher(env: simpy.Environment, at: float, victim: simpy.Process):
    yield env.timeout(at)
    victim.interrupt()


def follower(
    env: simpy.Environment,
    lease: Lease,
    start: float,
    cfg: ElectionConfig,
    rng: np.random.Generator,
    acquired: simpy.Event,
    tally: list[float] | None = None,
):
    """client-go's acquire loop: JitterUntil(tryAcquireOrRenew, RP, J, sliding=true).

    ``tally``, when given, collects the start time of every attempt (for the profile only).
    """
    lat, rp, jitter = cfg.api_latency, cfg.retry_period, cfg.jitter_factor
    lease_seconds = cfg.record_lease_duration
    seen, observed = -1, -math.inf
    yield env.timeout(start)
    while True:
        now = env.now
        if tally is not None:
            tally.append(now)
        yield env.timeout(lat / 2)
        version = lease.version
        yield env.timeout(lat / 2)
        if version != seen:
            seen, observed = version, env.now
        if observed + lease_seconds <= now + 1e-9:
            yield env.timeout(lat)  # the Update, sent when the GET returned
            if not acquired.triggered:
                acquired.succeed(env.now)
            return
        yield env.timeout(rp * (1.0 + jitter * rng.random()))


def simpy_failover(
    cfg: ElectionConfig,
    n: int,
    rng: np.random.Generator,
    tally: list[tuple[float, list[float]]] | None = None,
) -> np.ndarray:
    """``n`` crash failovers, one SimPy environment per trial.

    ``tally``, when given, receives ``(crash time, attempt start times)`` per trial.
    """
    lat, rp = cfg.api_latency, cfg.retry_period
    period = rp + lat
    warmup = default_warmup(cfg)
    out = np.empty(n)
    for k in range(n):
        env = simpy.Environment()
        lease = Lease()
        crash_at = warmup + rng.uniform(0.0, 10.0 * period)
        boss = env.process(leader(env, lease, rng.uniform(0.0, period), period, lat))
        env.process(crasher(env, crash_at, boss))
        acquired = env.event()
        attempts: list[float] | None = None if tally is None else []
        for _ in range(cfg.followers):
            start = rng.uniform(0.0, (1.0 + cfg.jitter_factor) * rp + lat)
            env.process(follower(env, lease, start, cfg, rng, acquired, attempts))
        out[k] = env.run(until=acquired) - crash_at
        if tally is not None:
            tally.append((crash_at, attempts))
    return out


def best_time(func: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simpy-trials", type=int, default=3_000)
    parser.add_argument("--oracle-trials", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    cases = {
        "kube-scheduler 15/10/2": ElectionConfig.preset("kube-scheduler"),
        "15/10/2, 50 ms, 5 candidates": ElectionConfig(15, 10, 2, api_latency=0.05, candidates=5),
    }
    print(f"SimPy {simpy.__version__}; crash failover, trials per second (best of {args.repeat})")
    header = (
        f"{'configuration':30s} {'SimPy/s':>9s} {'oracle/s':>11s} {'ratio':>7s} "
        f"{'mean SimPy':>10s} {'mean oracle':>11s} {'KS p':>6s}"
    )
    print(header)
    print("-" * len(header))
    worst = math.inf
    agree = True
    profile: list[str] = []
    for i, (name, cfg) in enumerate(cases.items()):
        simpy_s, sp = best_time(
            lambda cfg=cfg, i=i: simpy_failover(
                cfg, args.simpy_trials, np.random.default_rng([args.seed, i])
            ),
            args.repeat,
        )
        oracle_s, mc = best_time(
            lambda cfg=cfg, i=i: simulate_failover(
                cfg, "crash", args.oracle_trials, np.random.default_rng([args.seed, i, 1])
            ),
            args.repeat,
        )
        simpy_rate = args.simpy_trials / simpy_s
        oracle_rate = args.oracle_trials / oracle_s
        ratio = oracle_rate / simpy_rate
        worst = min(worst, ratio)
        ks = stats.ks_2samp(sp, mc)
        se = math.sqrt(sp.var() / sp.size + mc.var() / mc.size)
        agree &= ks.pvalue > 0.01 and abs(sp.mean() - mc.mean()) < 4 * se
        print(
            f"{name:30s} {simpy_rate:9.0f} {oracle_rate:11.0f} {ratio:6.0f}x "
            f"{sp.mean():10.4f} {mc.mean():11.4f} {ks.pvalue:6.3f}"
        )
        # Profile: both run the same follower attempts (same protocol and trial design), so
        # the SimPy model's attempt count per trial is the oracle's too.
        tally: list[tuple[float, list[float]]] = []
        simpy_failover(cfg, 300, np.random.default_rng([args.seed, i, 2]), tally)
        attempts = np.mean([len(a) for _, a in tally])
        before = np.mean([np.mean(np.asarray(a) < c) for c, a in tally])
        profile.append(
            f"{name:30s} {attempts:8.1f} {before:9.0%} "
            f"{1e6 / (simpy_rate * attempts):12.2f} {1e9 / (oracle_rate * attempts):12.1f}"
        )
    print()
    print("Profile: follower attempts per trial, share before the crash, cost per attempt")
    print(
        f"{'configuration':30s} {'attempts':>8s} {'pre-crash':>9s} {'SimPy us/att':>12s} "
        f"{'oracle ns/att':>12s}"
    )
    print("\n".join(profile))
    print(
        f"\nworst ratio {worst:.0f}x (target >= {TARGET:.0f}x); SimPy and the oracle "
        f"{'agree' if agree else 'DISAGREE'} (two-sample KS at 1 %, means within 4 SE)"
    )
    if worst < TARGET:
        print(
            "What limits the oracle: most attempts are the warm-up before the crash, where a "
            "follower cannot acquire (each poll sees a fresh renewal); the oracle skips them in "
            "blocks of 16 jittered sleeps (a random draw, a running sum and a comparison per "
            "attempt, about 7 array passes), and the attempts near the expiry cost about 20 "
            "passes each. The random draws alone are a few ns per attempt, so the ratio is set "
            "by SimPy's few us per process step on this machine, itself shared and noisy."
        )
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
