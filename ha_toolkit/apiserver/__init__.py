"""The API server's admission control as queueing models.

Modules
-------
queues
    Erlang B, Erlang C, M/M/c and M/M/c/K, vectorised and computed in log space.
inflight
    The legacy max-in-flight filter (two loss pools), client retries after a 429 and
    client-side rate limits, built on :mod:`~ha_toolkit.apiserver.queues`.
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
