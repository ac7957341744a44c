"""etcd, the control plane's shared store: Raft leader failover, write stalls, load.

Modules: ``config`` (:class:`RaftConfig`, validated like etcd), ``timing`` (the exact
failover and write-stall distributions), ``simulate`` (the event-level oracle),
``cluster`` (a real etcd on 127.0.0.1, driven to measure failovers) and ``load`` (the
API servers' watch cache and etcd as a queue).
"""

from ha_toolkit.etcd.config import RaftConfig
from ha_toolkit.etcd.timing import failover, step_down, write_stall

__all__ = ["RaftConfig", "failover", "step_down", "write_stall"]
