"""The API server's admission control as queueing models.

Modules
-------
queues
    Erlang B, Erlang C, M/M/c and M/M/c/K, vectorised and computed in log space.
inflight
    The legacy max-in-flight filter (two loss pools), client retries after a 429 and
    client-side rate limits, built on :mod:`~ha_toolkit.apiserver.queues`.
apf
    API Priority and Fairness: priority levels, concurrency allocation and borrowing,
    seats of a request, and a queueing model of one level.
shuffle
    Shuffle sharding: the chance that a flow is squished by heavy ones; the API server's
    dealer and flow hash (which queues a flow gets).
des
    Discrete-event model of one priority level in upstream's fixed-point units
    (shuffle-sharded queues, fair queuing), fed by open and closed-loop flows.
ciw_check
    The M/M/c/K model against Ciw simulations, by batch means.
"""

from ha_toolkit.apiserver.queues import (
    QueueResult,
    erlang_b,
    erlang_b_max_load,
    erlang_c,
    mmc,
    mmck,
)

__all__ = ["QueueResult", "erlang_b", "erlang_b_max_load", "erlang_c", "mmc", "mmck"]
