"""Tables for notebook 10: the failover over settings, and the model beside a real etcd.

``data/etcd_failovers.csv`` holds failovers measured on a real etcd 3.4 by
``benchmarks/bench_etcd.py --save`` (see ``data/README.md`` for the provenance); the
notebook reads it instead of running etcd.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from ha_toolkit._data import data_path
from ha_toolkit.etcd.config import RaftConfig
from ha_toolkit.etcd.timing import failover, quorum_return, write_stall

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MEASUREMENTS_FILE",
    "QUORUM_RETURNS_FILE",
    "failover_grid",
    "measured_failovers",
    "model_for_setting",
    "model_vs_measured",
    "quorum_returns_vs_model",
]

MEASUREMENTS_FILE = "etcd_failovers.csv"
QUORUM_RETURNS_FILE = "etcd_quorum_returns.csv"
_QUANTILES = (0.5, 0.9, 0.99)
# the client timeout the harness wrote with
HARNESS_REQUEST_TIMEOUT = 0.1


def failover_grid(
    election_timeouts, heartbeat_intervals=(0.1,), members=(3,), pre_vote=(False,)
) -> pd.DataFrame:
    """Failover mean and quantiles over a grid of etcd settings (combinations etcd accepts).

    Returns
    -------
    pandas.DataFrame
        Columns ``heartbeat_interval, election_timeout, members, pre_vote, mean, p50,
        p90, p99`` (seconds).
    """
    import pandas as pd

    rows = []
    for hb in heartbeat_intervals:
        for et in election_timeouts:
            if et < 5 * hb - 1e-12:
                continue
            for m in members:
                for pv in pre_vote:
                    cfg = RaftConfig(
                        heartbeat_interval=hb, election_timeout=et, members=m, pre_vote=pv
                    )
                    s = failover(cfg).summary(_QUANTILES)
                    rows.append(
                        {
                            "heartbeat_interval": cfg.heartbeat_interval,
                            "election_timeout": cfg.election_timeout,
                            "members": m,
                            "pre_vote": pv,
                            **{k: s[k] for k in ("mean", "p50", "p90", "p99")},
                        }
                    )
    return pd.DataFrame(rows)


def measured_failovers() -> pd.DataFrame:
    """The measured failovers of ``data/etcd_failovers.csv``, one row each."""
    import pandas as pd

    return pd.read_csv(data_path(MEASUREMENTS_FILE))


def model_for_setting(row) -> RaftConfig:
    """The RaftConfig of a measured setting (a row of :func:`measured_failovers`)."""
    return RaftConfig(
        heartbeat_interval=float(row["heartbeat_interval"]),
        election_timeout=float(row["election_timeout"]),
        members=int(row["members"]),
        pre_vote=bool(row.get("pre_vote", False)) if _present(row, "pre_vote") else False,
        request_timeout=HARNESS_REQUEST_TIMEOUT,
    )


def _present(row, key: str) -> bool:
    value = row.get(key)
    return value is not None and not (isinstance(value, float) and np.isnan(value))


def model_vs_measured(measured: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per setting and quantity: model and measured mean, p50, p90, p99, KS distance.

    Returns
    -------
    pandas.DataFrame
        Columns ``setting, what ("failover" or "write_stall"), n, model_mean,
        measured_mean, mean_difference (relative), model_p50 ... measured_p99, ks,
        ks_critical_1pct`` (``scipy.stats.kstwo`` at 0.99).
    """
    import pandas as pd

    frame = measured_failovers() if measured is None else measured
    rows = []
    for setting, part in frame.groupby("setting", sort=False):
        cfg = model_for_setting(part.iloc[0])
        for what, dist in (("failover", failover(cfg)), ("write_stall", write_stall(cfg))):
            x = part[what].to_numpy(dtype=float)
            row = {"setting": setting, "what": what, "n": x.size}
            row["model_mean"], row["measured_mean"] = dist.mean(), float(x.mean())
            row["mean_difference"] = float(x.mean()) / dist.mean() - 1
            for q in _QUANTILES:
                key = f"p{100 * q:g}"
                row[f"model_{key}"] = float(dist.ppf(q))
                row[f"measured_{key}"] = float(np.quantile(x, q))
            row["ks"] = dist.ks_distance(x)
            row["ks_critical_1pct"] = float(stats.kstwo.ppf(0.99, x.size))
            rows.append(row)
    return pd.DataFrame(rows)


def quorum_returns_vs_model(measured: pd.DataFrame | None = None) -> pd.DataFrame:
    """Measured quorum returns (``data/etcd_quorum_returns.csv``) beside the model.

    Returns
    -------
    pandas.DataFrame
        One row per pre-vote setting: ``pre_vote, n, model_mean, measured_mean, model_p50,
        measured_p50, model_p90, measured_p90, ks, ks_critical_1pct``.
    """
    import pandas as pd

    frame = pd.read_csv(data_path(QUORUM_RETURNS_FILE)) if measured is None else measured
    rows = []
    for pre_vote, part in frame.groupby("pre_vote", sort=True):
        model = quorum_return(RaftConfig(pre_vote=bool(pre_vote)))
        x = part["election"].to_numpy(dtype=float)
        rows.append(
            {
                "pre_vote": bool(pre_vote),
                "n": x.size,
                "model_mean": model.mean(),
                "measured_mean": float(x.mean()),
                "model_p50": float(model.ppf(0.5)),
                "measured_p50": float(np.quantile(x, 0.5)),
                "model_p90": float(model.ppf(0.9)),
                "measured_p90": float(np.quantile(x, 0.9)),
                "ks": model.ks_distance(x),
                "ks_critical_1pct": float(stats.kstwo.ppf(0.99, x.size)),
            }
        )
    return pd.DataFrame(rows)
