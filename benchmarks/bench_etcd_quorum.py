"""Time to elect when a lost quorum comes back: the model against a real etcd 3.4.

A 3-member cluster on 127.0.0.1 (ha_toolkit.etcd.cluster) loses its leader and one follower
to SIGKILL; the remaining member campaigns alone for six to eight election timeouts; the
killed follower is restarted. The election is measured from the survivor's log line
``peer became active`` for the returning member to the new leader's ``became leader``
line, ``--rounds`` times (default 30) without and with pre-vote, and compared with
``ha_toolkit.etcd.timing.quorum_return``: mean, p50, p90, the KS distance and its 1 %
critical value. Without etcd on the PATH the script says so and exits 0.

Run: ``python benchmarks/bench_etcd_quorum.py [--rounds N] [--seed S] [--save CSV]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time

import numpy as np
from scipy import stats

from ha_toolkit.etcd.cluster import EtcdCluster, etcd_version
from ha_toolkit.etcd.config import RaftConfig
from ha_toolkit.etcd.timing import quorum_return


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--save", default=None, help="write the measurements to this CSV")
    args = parser.parse_args()
    if shutil.which("etcd") is None:
        print("etcd is not installed (apt-get install etcd-server etcd-client): skipped")
        return 0
    print(f"{etcd_version()}; {args.rounds} quorum returns per setting, 3 members, 100/1000 ms")
    print("cells: model/measured, seconds")
    rows = []
    status = 0
    for i, pre_vote in enumerate((False, True)):
        before = _load()
        start = time.perf_counter()
        with EtcdCluster(
            3, 0.1, 1.0, pre_vote=pre_vote, rng=np.random.default_rng([args.seed, i])
        ) as c:
            records = list(c.quorum_returns(args.rounds, time_limit=3600.0))
        x = np.array([r.election for r in records])
        rows += [
            {"pre_vote": pre_vote, "election": r.election, "waited": r.waited, "term": r.term_after}
            for r in records
        ]
        model = quorum_return(RaftConfig(pre_vote=pre_vote))
        ks = model.ks_distance(x)
        crit = float(stats.kstwo.ppf(0.99, x.size))
        print(
            f"pre-vote {'on ' if pre_vote else 'off'}: n {x.size}, mean "
            f"{model.mean():.3f}/{x.mean():.3f}, "
            f"p50 {model.ppf(0.5):.3f}/{np.quantile(x, 0.5):.3f}, "
            f"p90 {model.ppf(0.9):.3f}/{np.quantile(x, 0.9):.3f}, KS {ks:.3f} (1 % critical "
            f"{crit:.3f}: {'ok' if ks < crit else 'REJECT'}); {time.perf_counter() - start:.0f} s, "
            f"load before {before}, after {_load()}"
        )
        status = status or int(ks >= crit)
    if args.save:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.save, index=False, float_format="%.4f")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
