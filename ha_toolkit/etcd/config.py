"""etcd's Raft timing settings, validated like etcd, shared by the exact model and the oracle.

etcd takes ``--heartbeat-interval`` and ``--election-timeout`` in whole milliseconds and
checks them in ``embed.Config.Validate`` (etcd ``server/embed/config.go``): both > 0, the
election timeout at least 5 heartbeat intervals and below 50 s. Raft counts in ticks of
one heartbeat interval: ``ElectionTicks = election-timeout / heartbeat-interval`` (integer
division, ``Config.ElectionTicks``), and etcd runs Raft with ``HeartbeatTick: 1``,
``CheckQuorum: true`` and ``PreVote`` from ``--pre-vote`` (etcd 3.4 ``etcdserver/raft.go``,
``startNode`` and ``restartNode``; 3.5 and later ``server/etcdserver/bootstrap.go``). The
members' logs in the harness show the CheckQuorum lease at work: "ignored MsgVote ...
lease is not expired".
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from ha_toolkit.durations import parse_duration

__all__ = ["MAX_ELECTION_MS", "TRAFFIC", "RaftConfig"]

MAX_ELECTION_MS = 50_000
"""etcd's ``maxElectionMs``: the election timeout must stay below it."""

TRAFFIC = ("busy", "idle")


def _ms(value: Any, flag: str) -> int:
    ms = parse_duration(value, flag) * 1000.0
    if not math.isfinite(ms) or ms <= 0:
        raise ValueError(f"{flag} must be >0 (set to {value!r})")
    if abs(ms - round(ms)) > 1e-6 * max(1.0, ms):
        raise ValueError(f"{flag} must be a whole number of milliseconds, got {value!r}")
    return int(round(ms))


@dataclass(frozen=True)
class RaftConfig:
    """Timing settings of an etcd cluster and of the client that writes to it.

    Parameters
    ----------
    heartbeat_interval : duration, default 100 ms
        etcd's ``--heartbeat-interval``: one Raft tick.
    election_timeout : duration, default 1000 ms
        etcd's ``--election-timeout``.
    members : int, default 3
        Voting members (>= 3, so that a quorum survives the leader).
    pre_vote : bool, default False
        etcd's ``--pre-vote`` (off by default in 3.4, on in 3.5 and later).
    check_quorum : bool, default True
        Raft's CheckQuorum, always on in etcd; off only to study Raft without leases.
    traffic : {"busy", "idle"}
        ``"busy"``: the leader replicates writes continuously, so the followers' last
        message from it arrives right at its death (a Kubernetes cluster, the harness);
        ``"idle"``: the last message is the heartbeat of the leader's last tick.
    message_delay : duration, default 0
        One-way delay of a Raft message including the write to disk before it is sent.
    request_timeout : duration, optional
        The writing client's timeout per write; default etcd's own request timeout,
        ``5 s + 2 * election-timeout`` (``ServerConfig.ReqTimeout``), what an API server
        whose request deadline is longer waits.
    commit_latency : duration, default 0
        Time to commit a write once a leader is known.
    """

    heartbeat_interval: float = 0.1
    election_timeout: float = 1.0
    members: int = 3
    pre_vote: bool = False
    check_quorum: bool = True
    traffic: str = "busy"
    message_delay: float = 0.0
    request_timeout: float | None = None
    commit_latency: float = 0.0

    def __post_init__(self) -> None:
        hb = _ms(self.heartbeat_interval, "--heartbeat-interval")
        el = _ms(self.election_timeout, "--election-timeout")
        if 5 * hb > el:
            raise ValueError(
                f"--election-timeout[{el}ms] should be at least as 5 times as "
                f"--heartbeat-interval[{hb}ms]"
            )
        if el > MAX_ELECTION_MS:
            raise ValueError(
                f"--election-timeout[{el}ms] is too long, and should be set less than "
                f"{MAX_ELECTION_MS}ms"
            )
        object.__setattr__(self, "heartbeat_interval", hb / 1000.0)
        object.__setattr__(self, "election_timeout", el / 1000.0)
        m = self.members
        if isinstance(m, bool) or not isinstance(m, numbers.Integral) or m < 3:
            raise ValueError(
                f"members must be an integer >= 3 (a quorum must survive the leader), got {m!r}"
            )
        object.__setattr__(self, "members", int(m))
        for name in ("pre_vote", "check_quorum"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.traffic not in TRAFFIC:
            raise ValueError(f"traffic must be one of {', '.join(TRAFFIC)}; got {self.traffic!r}")
        for name in ("message_delay", "commit_latency"):
            object.__setattr__(self, name, _non_negative(getattr(self, name), name))
        if self.request_timeout is None:
            timeout = 5.0 + 2.0 * self.election_ticks * self.heartbeat_interval
        else:
            timeout = _non_negative(self.request_timeout, "request_timeout")
            if timeout <= 0:
                raise ValueError(f"request_timeout must be > 0, got {self.request_timeout!r}")
        object.__setattr__(self, "request_timeout", timeout)

    @property
    def election_ticks(self) -> int:
        """``ElectionTicks``: election-timeout // heartbeat-interval, in whole ms."""
        return round(self.election_timeout * 1000) // round(self.heartbeat_interval * 1000)

    @property
    def quorum(self) -> int:
        """``floor(members / 2) + 1``."""
        return self.members // 2 + 1

    @property
    def survivors(self) -> int:
        """Members left after the leader dies."""
        return self.members - 1


def _non_negative(value: Any, name: str) -> float:
    seconds = parse_duration(value, name)
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{name} must be a duration >= 0, got {value!r}")
    return seconds
