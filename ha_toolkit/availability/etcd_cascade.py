"""From an etcd leader failover to the leases of the leader-elected components.

An etcd leader's death stalls every write in the cluster, lease renewals included. The
stall as the API server sees it: a write it sends to a surviving member is lost while that
member still follows the dead leader (forwarded to it, etcd-io/raft ``stepFollower``), and
waits for the new leader once the member has none; an API server retrying at once
therefore sees writes fail from the death until the new leader, F
(:func:`ha_toolkit.etcd.timing.failover`). (A write sent to a member that already lost
the dead leader, in a failed first round, would wait for F and then succeed; counting it
as failed errs on the safe side.) For the lease holder this is an API outage of
length F during which its renewals hang (the API server waits on etcd until the call's
timeout): ``mode="blackhole"`` of :func:`ha_toolkit.election.outage.outage_survival`.

The same failover is the availability model's etcd "election gap"
(:func:`etcd_election_gap`): the mean time without a leader after the leader fails or a
quorum comes back, at etcd's defaults unless told otherwise.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import TYPE_CHECKING

from ha_toolkit.distribution import Distribution
from ha_toolkit.election.config import ElectionConfig, LeaseOverlapWarning, preset_names
from ha_toolkit.election.outage import OutageSurvival, outage_survival
from ha_toolkit.etcd.config import RaftConfig
from ha_toolkit.etcd.timing import failover

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "etcd_election_gap",
    "etcd_write_outage",
    "lease_loss_on_etcd_failover",
    "lease_loss_table",
]


def etcd_write_outage(raft: RaftConfig | None = None) -> Distribution:
    """Length of the write outage an API server sees when the etcd leader dies (seconds)."""
    return failover(RaftConfig() if raft is None else raft)


@lru_cache(maxsize=32)
def etcd_election_gap(
    members: int = 3,
    heartbeat_interval: float = 0.1,
    election_timeout: float = 1.0,
    pre_vote: bool = False,
) -> float:
    """Mean time without an etcd leader after the leader dies (seconds).

    Parameters
    ----------
    members : int
        Voting members; fewer than 3 cannot elect after losing one, and get the value of 3.
    heartbeat_interval, election_timeout : float
        etcd's settings in seconds (defaults 100 ms and 1000 ms).
    pre_vote : bool
        etcd's ``--pre-vote``.
    """
    cfg = RaftConfig(
        heartbeat_interval=heartbeat_interval,
        election_timeout=election_timeout,
        members=max(int(members), 3),
        pre_vote=pre_vote,
    )
    return failover(cfg).mean()


def lease_loss_on_etcd_failover(
    election: ElectionConfig, raft: RaftConfig | None = None, mode: str = "blackhole"
) -> OutageSurvival:
    """Does a lease holder keep its lease through an etcd leader failover?

    Parameters
    ----------
    election : ElectionConfig
        The component's lease settings.
    raft : RaftConfig, optional
        The etcd cluster (default: etcd's defaults, 3 members).
    mode : {"blackhole", "refuse"}
        How the lease calls fail during the stall: hang until the client's timeout (the
        API server waits on etcd), or fail at once.
    """
    return outage_survival(election, etcd_write_outage(raft), mode)


def lease_loss_table(
    raft: RaftConfig | None = None, mode: str = "blackhole", presets: list[str] | None = None
) -> pd.DataFrame:
    """Each leader-election preset's chance of losing its lease to one etcd failover.

    Columns ``preset, loss_probability, min_tolerated_outage, max_tolerated_outage`` and
    the etcd outage's ``outage_mean`` and ``outage_p99`` (seconds).
    """
    import pandas as pd

    outage = etcd_write_outage(raft)
    rows = []
    for name in preset_names() if presets is None else presets:
        with warnings.catch_warnings():
            # presets whose lease overlaps on a partition warn; irrelevant to a stall
            warnings.simplefilter("ignore", LeaseOverlapWarning)
            cfg = ElectionConfig.preset(name)
        result = outage_survival(cfg, outage, mode)
        rows.append(
            {
                "preset": name,
                # differences of survival integrals leave round-off of 1e-16
                "loss_probability": result.loss_probability
                if result.loss_probability > 1e-12
                else 0.0,
                "min_tolerated_outage": result.min_tolerated_outage,
                "max_tolerated_outage": result.max_tolerated_outage,
                "outage_mean": outage.mean(),
                "outage_p99": float(outage.ppf(0.99)),
            }
        )
    return pd.DataFrame(rows)
