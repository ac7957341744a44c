"""The lease-loss model against its Monte Carlo renew loop, at scale; the command's speed.

Slow calls: loss probability per renew cycle and losses per day of leadership, exact
lattice model beside ``TRIALS`` simulated cycles. Episodes: loss probability per episode and
losses per day for exponential lengths (24 a day, mean 5 s) in every mode, exact closed form
beside ``TRIALS`` simulated episodes. APF in the loop: the cascade beside the same loop fed by
sampled waits. The acceptance asks probabilities within 0.005 and rates within 2 %.
Speed: ``ha-toolkit lease-loss`` for the acceptance case, in process, against
``ha-toolkit failover`` (same process, same presets) as the baseline.

Run: ``python benchmarks/validate_lease_loss.py [TRIALS]`` (default 1,000,000; a smaller
number for a quick look).
"""

from __future__ import annotations

import contextlib
import io
import sys
import time

import numpy as np
from scipy import stats

from ha_toolkit.apiserver.apf import default_priority_levels, level_queue
from ha_toolkit.apiserver.queues import mmck
from ha_toolkit.availability.cascade import lease_loss_under_apf
from ha_toolkit.cli import main as cli
from ha_toolkit.election import ElectionConfig
from ha_toolkit.election.lease_loss import (
    CallLatency,
    episode_loss_probability,
    exponential_lengths,
    renew_cycle_loss,
)
from ha_toolkit.election.simulate_lease_loss import simulate_episodes, simulate_renew_cycles

SLOW_CALLS = [
    ("kube-scheduler, lognormal median 1.5 s", "kube-scheduler", stats.lognorm(1.2, 0, 1.5), 0.0),
    ("kube-scheduler, exponential mean 2 s", "kube-scheduler", stats.expon(scale=2.0), 0.0),
    ("kube-vip, lognormal 0.2 s, 30 % 429", "kube-vip", stats.lognorm(1.0, 0, 0.2), 0.3),
    ("openshift, lognormal median 20 s", "openshift", stats.lognorm(1.5, 0, 20.0), 0.0),
    ("ingress-nginx, lognormal 2 s, 20 % 429", "ingress-nginx", stats.lognorm(1.0, 0, 2.0), 0.2),
]
EPISODES = [
    ("kube-scheduler", 0.0),
    ("kube-scheduler", 0.2),
    ("kube-vip", 0.1),
    ("openshift", 0.05),
]


def slow_call_rows(trials: int, seed: int) -> tuple[float, float]:
    print(f"{'slow calls':42s} {'p exact':>9s} {'p MC':>9s} {'se':>7s} {'/day exact':>11s} "
          f"{'/day MC':>9s} {'rel':>7s}")
    worst_p = worst_r = 0.0
    for i, (label, preset, dist, rejection) in enumerate(SLOW_CALLS):
        cfg = ElectionConfig.preset(preset)
        exact = renew_cycle_loss(cfg, CallLatency.from_distribution(dist), rejection=rejection,
                                 rejection_delay=0.05)
        sim = simulate_renew_cycles(cfg, dist, trials, np.random.default_rng([seed, 1, i]),
                                    rejection=rejection, rejection_delay=0.05)
        p, se = sim.loss_probability()
        rate = sim.losses_per_day()
        rel = exact.losses_per_day / rate - 1.0
        worst_p = max(worst_p, abs(exact.loss_probability_per_cycle - p))
        worst_r = max(worst_r, abs(rel))
        print(f"{label:42s} {exact.loss_probability_per_cycle:9.5f} {p:9.5f} {se:7.5f} "
              f"{exact.losses_per_day:11.2f} {rate:9.2f} {rel:+7.2%}")
    return worst_p, worst_r


def episode_rows(trials: int, seed: int) -> tuple[float, float]:
    print(f"\n{'episodes (24/day, exponential mean 5 s)':42s} {'p exact':>9s} {'p MC':>9s} "
          f"{'se':>7s} {'/day exact':>11s} {'/day MC':>9s} {'rel':>7s}")
    worst_p = worst_r = 0.0
    for i, (preset, latency) in enumerate(EPISODES):
        cfg = ElectionConfig.preset(preset, api_latency=latency)
        mean = 5.0 if preset != "openshift" else 60.0
        for j, mode in enumerate(("refuse", "blackhole", "throttled")):
            exact = episode_loss_probability(cfg, exponential_lengths(mean), mode)
            sim = simulate_episodes(cfg, lambda rng, n, m=mean: rng.exponential(m, n), mode,
                                    trials, np.random.default_rng([seed, 2, i, j]))
            p, se = sim.loss_probability()
            rel = exact / p - 1.0 if p > 0 else 0.0
            worst_p = max(worst_p, abs(exact - p))
            if p > 0.01:  # a relative difference of a rare loss is all noise
                worst_r = max(worst_r, abs(rel))
            label = f"{preset}, l {latency:g} s, mean {mean:g} s, {mode}"
            print(f"{label:42s} {exact:9.5f} {p:9.5f} {se:7.5f} {24 * exact:11.3f} "
                  f"{24 * p:9.3f} {rel:+7.2%}")
    return worst_p, worst_r


def cascade_rows(trials: int, seed: int) -> tuple[float, float]:
    level = {lv.name: lv for lv in default_priority_levels()}["leader-election"]
    cfg = ElectionConfig.preset("kube-scheduler")
    print(f"\n{'APF leader-election level, 180 seats':42s} {'p exact':>9s} {'p MC':>9s} "
          f"{'se':>7s} {'/day exact':>11s} {'/day MC':>9s} {'rel':>7s}")
    worst_p = worst_r = 0.0
    for i, (rate, service) in enumerate(((150.0, 2.0), (120.0, 1.5), (90.0, 2.5))):
        exact = lease_loss_under_apf(cfg, rate, service, current_cl=180)
        q = level_queue(level, 180, rate, service, wait_limit=exact.wait_limit)
        queue = mmck(rate, 1.0 / service, float(q.servers), float(q.capacity))
        grid = np.linspace(0.0, exact.wait_limit, 20001)
        cdf = np.asarray(queue.wait_cdf(grid), dtype=float)
        cdf /= cdf[-1]
        full = float(q.queue_full_probability) / max(float(q.rejection_probability), 1e-300)

        def served(rng, n, cdf=cdf, grid=grid, service=service):
            return np.interp(rng.random(n), cdf, grid, left=0.0) + rng.exponential(service, n)

        def delay(rng, n, full=full, limit=exact.wait_limit):
            return np.where(rng.random(n) < full, 0.0, limit)

        sim = simulate_renew_cycles(cfg, served, trials, np.random.default_rng([seed, 3, i]),
                                    rejection=float(q.rejection_probability),
                                    rejection_delay=delay)
        p, se = sim.loss_probability()
        r = sim.losses_per_day()
        rel = exact.losses_per_day / r - 1.0
        worst_p = max(worst_p, abs(exact.loss_probability_per_cycle - p))
        worst_r = max(worst_r, abs(rel))
        label = f"{rate:g} req/s, execution {service:g} s"
        print(f"{label:42s} {exact.loss_probability_per_cycle:9.5f} {p:9.5f} {se:7.5f} "
              f"{exact.losses_per_day:11.2f} {r:9.2f} {rel:+7.2%}")
    return worst_p, worst_r


def speed_rows() -> None:
    argv = ["lease-loss", "--preset", "kube-scheduler", "--episodes-per-day", "24",
            "--episode-duration", "5s", "--episode-mode", "refuse", "--json"]
    base = ["failover", "--preset", "kube-scheduler", "--json"]

    def timed(args: list[str]) -> float:
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                cli(args)
            best = min(best, time.perf_counter() - start)
        return best

    lease, failover = timed(argv), timed(base)
    print(f"\nspeed (best of 5, in process): lease-loss acceptance case {lease:.3f} s, "
          f"failover {failover:.3f} s, ratio {lease / failover:.2f}")


def main() -> int:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    seed = 20261201
    results = [slow_call_rows(trials, seed), episode_rows(trials, seed),
               cascade_rows(trials, seed)]
    speed_rows()
    worst_p = max(p for p, _ in results)
    worst_r = max(r for _, r in results)
    print(f"\nworst probability difference {worst_p:.4f}; worst rate difference {worst_r:.2%}")
    return 0 if worst_p < 0.005 and worst_r < 0.02 else 1


if __name__ == "__main__":
    raise SystemExit(main())
