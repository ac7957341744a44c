"""The etcd failover model against a real etcd (Debian's etcd-server 3.4) on this machine.

For each setting, a cluster of child processes on 127.0.0.1 (ha_toolkit.etcd.cluster)
loses its leader to SIGKILL ``--failovers`` times (default 100). The failover is read from
the new leader's log line, the write stall from a client writing to a random survivor with
a 100 ms timeout per write. Each is compared with the exact model: mean, p50, p90, p99, and
the one-sample Kolmogorov-Smirnov distance against its 1 % critical value
(``scipy.stats.kstwo``). The acceptance asks, for 3 members at the defaults, the measured
mean within 5 % of the model and the KS distance below the critical value, with n >= 100.

The machine's load average is printed before and after each setting: the members' tick
timers and log stamps run late when the cores are busy, which lengthens the measured
failovers a little. Without etcd on the PATH the script says so and exits 0.

Run: ``python benchmarks/bench_etcd.py [--failovers N] [--seed S] [--save CSV]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

import numpy as np
from scipy import stats

from ha_toolkit.etcd.cluster import EtcdCluster, etcd_version, failovers_frame
from ha_toolkit.etcd.config import RaftConfig
from ha_toolkit.etcd.timing import failover, write_stall

REQUEST_TIMEOUT = 0.1
SETTINGS = {
    "3 members 100/1000 ms": {"members": 3, "heartbeat_interval": 0.1, "election_timeout": 1.0},
    "3 members 50/500 ms": {"members": 3, "heartbeat_interval": 0.05, "election_timeout": 0.5},
    "3 members pre-vote": {
        "members": 3,
        "heartbeat_interval": 0.1,
        "election_timeout": 1.0,
        "pre_vote": True,
    },
    "5 members 100/1000 ms": {"members": 5, "heartbeat_interval": 0.1, "election_timeout": 1.0},
}
QUANTILES = (0.5, 0.9, 0.99)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def _compare(name: str, what: str, dist, x: np.ndarray) -> tuple[str, float, float, float]:
    n = x.size
    ks = dist.ks_distance(x)
    crit = float(stats.kstwo.ppf(0.99, n))
    rel = x.mean() / dist.mean() - 1
    cells = [f"{dist.mean():.3f}/{x.mean():.3f} ({rel:+.1%})"]
    cells += [f"{dist.ppf(q):.3f}/{np.quantile(x, q):.3f}" for q in QUANTILES]
    line = (
        f"{name:22s} {what:7s} {n:4d} "
        + " ".join(f"{c:>22s}" for c in cells[:1])
        + " "
        + " ".join(f"{c:>12s}" for c in cells[1:])
        + f" {ks:6.3f} {crit:6.3f} {'ok' if ks < crit else 'REJECT'}"
    )
    return line, rel, ks, crit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failovers", type=int, default=100)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--save", default=None, help="write the measurements to this CSV")
    parser.add_argument("--only", default=None, help="run the settings whose name contains this")
    args = parser.parse_args()
    if shutil.which("etcd") is None:
        print("etcd is not installed (apt-get install etcd-server etcd-client): skipped")
        return 0
    print(
        f"{etcd_version()}; {args.failovers} failovers per setting; client timeout "
        f"{REQUEST_TIMEOUT * 1000:g} ms per write"
    )
    print("cells: model/measured, seconds; KS distance and its 1 % critical value")
    header = (
        f"{'setting':22s} {'what':7s} {'n':>4s} {'mean':>22s} "
        + " ".join(f"{'p' + format(100 * q, 'g'):>12s}" for q in QUANTILES)
        + f" {'KS':>6s} {'1% crit':>6s}"
    )
    frames = []
    verdict = None
    lines = []
    for i, (name, kw) in enumerate(SETTINGS.items()):
        if args.only and args.only not in name:
            continue
        load_before = _load()
        start = time.perf_counter()
        rng = np.random.default_rng([args.seed, i])
        with EtcdCluster(rng=rng, **kw) as cluster:
            records = list(
                cluster.failovers(
                    args.failovers, request_timeout=REQUEST_TIMEOUT, time_limit=3600.0
                )
            )
        seconds = time.perf_counter() - start
        frame = failovers_frame(records)
        frame.insert(0, "setting", name)
        for key, value in kw.items():
            frame[key] = value
        frames.append(frame)
        cfg = RaftConfig(**kw, request_timeout=REQUEST_TIMEOUT)
        lines.append(f"{name}: {seconds:.0f} s; load before {load_before}, after {_load()}")
        for what, dist, x in (
            ("leader", failover(cfg), frame["failover"].to_numpy()),
            ("stall", write_stall(cfg), frame["write_stall"].to_numpy()),
        ):
            line, rel, ks, crit = _compare(name, what, dist, x)
            lines.append(line)
            if i == 0 and what == "leader":
                verdict = abs(rel) <= 0.05 and ks < crit and x.size >= 100
        print(f"{name}: done in {seconds:.0f} s", file=sys.stderr)
    print()
    print(header)
    print("-" * len(header))
    for line in lines:
        print(line)
    if args.save and frames:
        import pandas as pd

        pd.concat(frames, ignore_index=True).to_csv(args.save, index=False, float_format="%.4f")
    if verdict is not None:
        print()
        print(
            "acceptance (3 members at the defaults: mean within 5 %, KS below the 1 % "
            f"critical value, n >= 100): {'PASS' if verdict else 'FAIL'}"
        )
        return 0 if verdict else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
