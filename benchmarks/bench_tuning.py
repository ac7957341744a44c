"""Search time of ``ha-toolkit tune`` on its default grid.

``recommend`` (what ``tune`` runs) searches LeaseDuration 1..300 s in whole seconds,
RenewDeadline on 100 values up to 300 s and RetryPeriod on 18 values from 0.5 s to 60 s:
about 285 000 configurations client-go accepts. For each target set the table gives the
time of a cold search (the cache of failover percentiles emptied first, the usual case of
one CLI call; one run) and of a warm one (every percentile cached; best of ``--repeat``),
the failover distributions the cold search computed, and what it found. The last row has a
loose failover target, so the Pareto set is large and most of its distributions must be
computed.

Run: ``python benchmarks/bench_tuning.py [--repeat 3]``. Not a test: it prints a table.
"""

from __future__ import annotations

import argparse
import time

from ha_toolkit.election import tuning
from ha_toolkit.election.tuning import Targets, clear_cache, recommend

CASES = {
    "p99 <= 10 s": Targets(max_p99_failover=10),
    "p99 <= 20 s, survive 8 s, ratio 1.1, <= 1.5 req/s": Targets(
        max_p99_failover=20, survive_outage=8, max_clock_rate_ratio=1.1, max_requests_per_second=1.5
    ),
    "p99 <= 10 s, survive 30 s (infeasible)": Targets(max_p99_failover=10, survive_outage=30),
    "p99 <= 60 s, release <= 5 s, survive 20 s blackhole": Targets(
        max_p99_failover=60, max_p99_release=5, survive_outage=20, outage_mode="blackhole"
    ),
    "p99 <= 180 s, survive 60 s blackhole, <= 0.2 req/s": Targets(
        max_p99_failover=180,
        survive_outage=60,
        outage_mode="blackhole",
        max_requests_per_second=0.2,
    ),
    "p99 <= 120 s (wide front)": Targets(max_p99_failover=120),
}


def timed(targets: Targets, cold: bool) -> tuple[float, int, object]:
    if cold:
        clear_cache()
    start = time.perf_counter()
    found = recommend(targets)
    return time.perf_counter() - start, len(tuning._P99_CACHE), found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm repetitions (best of)")
    args = parser.parse_args()

    header = [
        "targets (3 candidates, no latency)",
        "cold (s)",
        "warm (s)",
        "distributions",
        "grid configs",
        "feasible",
        "Pareto",
        "best LD/RD/RP",
    ]
    rows = []
    for label, targets in CASES.items():
        cold, computed, found = timed(targets, True)
        warm = min(timed(targets, False)[0] for _ in range(args.repeat))
        best = found.best
        settings = (
            f"{best['lease_duration']:g}/{best['renew_deadline']:g}/{best['retry_period']:g}"
            if best
            else "binding: " + ", ".join(found.binding)
        )
        rows.append(
            [
                label,
                f"{cold:.2f}",
                f"{warm:.2f}",
                str(computed),
                f"{found.grid_size:,}",
                f"{found.feasible_count:,}",
                str(len(found.pareto)),
                settings,
            ]
        )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        cells = [
            c.ljust(w) if i in (0, 7) else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    print(
        "\ncold: the cache of failover percentiles emptied before each run (one CLI call); "
        "warm: all cached. distributions: failover distributions the cold search computed."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
