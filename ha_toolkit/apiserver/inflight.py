"""In-flight limits of the API server and what clients do when they hit them.

Three models built on :mod:`ha_toolkit.apiserver.queues`:

* :func:`legacy_filter`: the max-in-flight filter that the API server uses when API
  Priority and Fairness is off (apiserver ``pkg/server/filters/maxinflight.go``,
  ``WithMaxInFlightLimit``). Non-mutating requests (``nonMutatingRequestVerbs``: get, list,
  watch) and mutating requests (every other verb) have separate pools of
  ``--max-requests-inflight`` (400) and ``--max-mutating-requests-inflight`` (200) slots;
  a request that finds its pool full gets ``429 Too Many Requests`` with ``Retry-After: 1``
  at once, with no queue. Long-running requests bypass the filter before any of this
  (``BasicLongRunningRequestCheck``: the verbs watch and proxy, the subresources attach,
  exec, proxy, log and portforward): a watch is non-mutating but never holds a slot
  (:func:`legacy_pool`). A request of the group ``system:masters`` (a super-admin or the
  API server's own loopback client) that finds its pool full is served anyway, without a
  slot; in a pool with room it takes a slot like any other. Each pool's slots are an
  M/G/c/c loss system for all its requests: the probability that the pool is full is
  Erlang B of the pool's offered load, whatever the service-time distribution (Erlang B is
  insensitive to it beyond the mean); only the requests outside ``system:masters`` get the
  429. A limit of 0 disables a pool's limit, as in the API server.
* :func:`retry_amplification`: client-go retries a request that got a 429 with a
  Retry-After after waiting that long, at most 10 times (``rest/request.go``,
  ``rest/with_retry.go``). The retries add to the offered load, which raises the
  rejection probability, which makes more retries: the offered load is the least fixed
  point of ``offered = fresh * (1 + p + ... + p**max_retries)`` with ``p`` the blocking
  probability at ``offered``.
* :func:`rate_limited_sweep`: a client-go client sends at most ``QPS`` requests per second
  in the long run (token bucket, defaults QPS 5, Burst 10, ``rest/config.go``); retries
  pass the limiter again. The sweep caps each client's attempts at its QPS.

The retry model treats the attempts (first tries and retries) as one Poisson stream that
sees the pool in its stationary state: the usual fixed-point approximation of a retrial
queue. It is apt here because Retry-After (1 s) is long against API request service
times (milliseconds to a few hundred ms), so a retry meets a pool that has forgotten the
state that rejected it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ha_toolkit.apiserver.queues import _as_float, _check_rate, _check_servers, mmck

__all__ = [
    "CLIENT_GO_BURST",
    "CLIENT_GO_MAX_RETRIES",
    "CLIENT_GO_QPS",
    "DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT",
    "DEFAULT_MAX_REQUESTS_INFLIGHT",
    "RETRY_AFTER",
    "legacy_filter",
    "legacy_pool",
    "rate_limited_rate",
    "rate_limited_sweep",
    "retry_amplification",
]

#: kube-apiserver ``--max-requests-inflight`` default (read-only pool).
DEFAULT_MAX_REQUESTS_INFLIGHT = 400
#: kube-apiserver ``--max-mutating-requests-inflight`` default (mutating pool).
DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT = 200
#: client-go ``rest.DefaultQPS``.
CLIENT_GO_QPS = 5.0
#: client-go ``rest.DefaultBurst``.
CLIENT_GO_BURST = 10
#: client-go's maximum number of retries of a request answered with Retry-After.
CLIENT_GO_MAX_RETRIES = 10
#: The Retry-After the legacy filter sends with its 429 (seconds).
RETRY_AFTER = 1.0

# Points of the grid that brackets the least fixed point, and bisection steps after it.
_GRID = 129
_BISECT = 60


def _check_limit(value: ArrayLike, name: str) -> np.ndarray:
    arr = _as_float(value, name)
    bad = ~np.isfinite(arr) | (arr != np.floor(arr)) | (arr < 0)
    if bad.any():
        raise ValueError(
            f"{name} must be a whole number >= 0 (0 disables the limit), got "
            f"{float(arr[bad].flat[0])!r}"
        )
    return arr


def _check_int(value: int, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}], got {value!r}")
    return int(value)


def _check_positive_float(value: float, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(out) or out <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return out


# --------------------------------------------------------------------- legacy filter
_NON_MUTATING_VERBS = frozenset({"get", "list", "watch"})
_LONG_RUNNING_VERBS = frozenset({"watch", "proxy"})
_LONG_RUNNING_SUBRESOURCES = frozenset({"attach", "exec", "proxy", "log", "portforward"})


def legacy_pool(verb: str, subresource: str = "") -> str | None:
    """Which pool of the legacy max-in-flight filter a resource request uses.

    apiserver ``pkg/server/filters/maxinflight.go``: long-running requests skip the filter
    (``BasicLongRunningRequestCheck`` with kube-apiserver's verbs ``watch``, ``proxy`` and
    subresources ``attach``, ``exec``, ``proxy``, ``log``, ``portforward``); of the rest,
    ``nonMutatingRequestVerbs`` (get, list, watch) use the read-only pool and every other
    verb the mutating pool.

    Parameters
    ----------
    verb : str
        The request verb (``get``, ``list``, ``watch``, ``create``, ``update``, ``patch``,
        ``delete``, ``deletecollection``, ...).
    subresource : str, default ""
        The subresource, e.g. ``"exec"`` or ``"status"``.

    Returns
    -------
    str or None
        ``"readonly"``, ``"mutating"``, or None for a long-running request (no slot).

    Examples
    --------
    >>> legacy_pool("list"), legacy_pool("watch"), legacy_pool("patch", "status")
    ('readonly', None, 'mutating')
    """
    if not isinstance(verb, str) or not verb:
        raise ValueError(f"verb must be a non-empty string, got {verb!r}")
    if verb in _LONG_RUNNING_VERBS or subresource in _LONG_RUNNING_SUBRESOURCES:
        return None
    return "readonly" if verb in _NON_MUTATING_VERBS else "mutating"


def legacy_filter(
    read_rate: ArrayLike,
    mutating_rate: ArrayLike,
    read_service_time: ArrayLike,
    mutating_service_time: ArrayLike,
    max_requests_inflight: ArrayLike = DEFAULT_MAX_REQUESTS_INFLIGHT,
    max_mutating_requests_inflight: ArrayLike = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT,
    *,
    privileged_share: ArrayLike = 0.0,
) -> pd.DataFrame:
    """429 rates of the legacy max-in-flight filter: two independent loss pools.

    Parameters
    ----------
    read_rate, mutating_rate : float or array_like
        Requests per second that are not long-running, read-only (get, list) and mutating
        (:func:`legacy_pool`), >= 0. Watches are long-running: leave them out.
    read_service_time, mutating_service_time : float or array_like
        Mean time a request of the class holds its slot, in seconds (> 0).
    max_requests_inflight, max_mutating_requests_inflight : int or array_like, default 400, 200
        Pool sizes; 0 disables the pool's limit.
    privileged_share : float or array_like, default 0
        Share of each pool's requests from the group ``system:masters``, in [0, 1]: served
        even when the pool is full (without a slot), never 429.

    Returns
    -------
    pandas.DataFrame
        Two rows (``pool`` = ``"readonly"``, ``"mutating"``) per point of the broadcast
        inputs, with ``point`` (its flat index), ``max_inflight``, ``request_rate``,
        ``service_time``, ``offered_load`` (Erlangs), ``pool_full_probability`` (Erlang B:
        an arrival finds every slot taken), ``rejection_probability`` (429s per request:
        the pool-full probability times the share outside ``system:masters``),
        ``rejection_rate`` (429s per second), ``throughput``, ``over_limit_rate``
        (``system:masters`` requests per second served beyond the limit) and
        ``utilization`` (mean fraction of the slots in use; NaN without a limit).
    """
    read = _check_rate(read_rate, "read_rate", positive=False)
    mutating = _check_rate(mutating_rate, "mutating_rate", positive=False)
    read_s = _check_rate(read_service_time, "read_service_time", positive=True)
    mut_s = _check_rate(mutating_service_time, "mutating_service_time", positive=True)
    read_lim = _check_limit(max_requests_inflight, "max_requests_inflight")
    mut_lim = _check_limit(max_mutating_requests_inflight, "max_mutating_requests_inflight")
    share = _as_float(privileged_share, "privileged_share")
    if (~np.isfinite(share) | (share < 0) | (share > 1)).any():
        raise ValueError(f"privileged_share must lie in [0, 1], got {privileged_share!r}")
    arrays = np.broadcast_arrays(read, mutating, read_s, mut_s, read_lim, mut_lim, share)
    read, mutating, read_s, mut_s, read_lim, mut_lim, share = (a.reshape(-1) for a in arrays)
    frames = []
    for pool, rate, s, limit in (
        ("readonly", read, read_s, read_lim),
        ("mutating", mutating, mut_s, mut_lim),
    ):
        frames.append(_loss_pool(pool, rate, s, limit, share))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["point", "pool"], ascending=[True, False], kind="stable").reset_index(
        drop=True
    )


def _loss_pool(
    pool: str, rate: np.ndarray, s: np.ndarray, limit: np.ndarray, share: np.ndarray
) -> pd.DataFrame:
    load = rate * s
    full = np.zeros(rate.size)
    util = np.full(rate.size, np.nan)
    limited = limit > 0
    if limited.any():
        # every request takes a free slot, so the slots are M/G/c/c for the whole stream
        res = mmck(rate[limited], 1.0 / s[limited], limit[limited], limit[limited])
        full[limited] = res.blocking_probability
        util[limited] = res.utilization
    p = full * (1.0 - share)
    return pd.DataFrame(
        {
            "point": np.arange(rate.size),
            "pool": pool,
            "max_inflight": limit.astype(np.int64),
            "request_rate": rate,
            "service_time": s,
            "offered_load": load,
            "pool_full_probability": full,
            "rejection_probability": p,
            "rejection_rate": rate * p,
            "throughput": rate * (1.0 - p),
            "over_limit_rate": rate * share * full,
            "utilization": util,
        }
    )


# -------------------------------------------------------------------- retry fixed point
def _attempts_per_request(p: np.ndarray, max_retries: int) -> np.ndarray:
    """1 + p + ... + p**max_retries, stable for p close to 1."""
    with np.errstate(divide="ignore"):
        lp = np.log(p)
    ratio = np.expm1((max_retries + 1) * lp) / np.expm1(lp)
    return np.where(p == 1.0, max_retries + 1.0, np.where(p == 0.0, 1.0, ratio))


def _least_fixed_point(
    fresh: np.ndarray,
    mu: np.ndarray,
    c: np.ndarray,
    K: np.ndarray,
    max_retries: int,
    cap: np.ndarray,
) -> np.ndarray:
    """Least x with x = min(fresh * g(p(x)), cap), g the attempts per request.

    x - min(fresh g(p(x)), cap) is <= 0 at x = min(fresh, cap) and >= 0 at
    min(fresh (max_retries + 1), cap); a grid finds the first sign change, bisection
    narrows it.
    """
    lo = np.minimum(fresh, cap)
    hi = np.minimum(fresh * (max_retries + 1.0), cap)

    def h(x: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
        p = np.asarray(mmck(x, mu[idx, None], c[idx, None], K[idx, None]).blocking_probability)
        demand = fresh[idx, None] * _attempts_per_request(p, max_retries)
        return x - np.minimum(demand, cap[idx, None])

    s = np.linspace(0.0, 1.0, _GRID)
    grid = lo[:, None] + (hi - lo)[:, None] * s[None, :]
    values = h(grid, slice(None))
    first = np.argmax(values >= 0, axis=1)  # h(hi) >= 0, so a True exists
    rows = np.arange(fresh.size)
    a = np.where(first > 0, grid[rows, np.maximum(first - 1, 0)], lo)
    b = grid[rows, first]
    for _ in range(_BISECT):
        m = 0.5 * (a + b)
        hm = h(m[:, None], slice(None))[:, 0]
        right = hm < 0
        a = np.where(right, m, a)
        b = np.where(right, b, m)
    return np.where(first == 0, lo, b)


def _retry_table(
    fresh: np.ndarray,
    service_time: np.ndarray,
    c: np.ndarray,
    K: np.ndarray,
    max_retries: int,
    retry_after: float,
    cap: np.ndarray,
) -> dict[str, np.ndarray]:
    mu = 1.0 / service_time
    offered = _least_fixed_point(fresh, mu, c, K, max_retries, cap)
    res = mmck(offered, mu, c, K)
    p = np.asarray(res.blocking_probability, dtype=float).reshape(-1)
    g = _attempts_per_request(p, max_retries)
    k = np.arange(max_retries + 1.0)
    weights = p[:, None] ** k[None, :]  # P(success at attempt k+1) ~ p^k (1 - p)
    mean_retries_success = (weights * k).sum(axis=1) / weights.sum(axis=1)
    return {
        "offered_rate": offered,
        "sent_rate": offered / g,
        "attempt_rejection_probability": p,
        "request_failure_probability": p ** (max_retries + 1),
        "goodput": offered * (1.0 - p),
        "rejection_rate": offered * p,
        "mean_retries": g - 1.0,
        "mean_retry_delay": retry_after * mean_retries_success,
        "utilization": np.asarray(res.utilization, dtype=float).reshape(-1),
    }


def _queue_inputs(
    service_time: ArrayLike,
    servers: ArrayLike,
    capacity: ArrayLike | None,
    *rates: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Validate the pool, broadcast it with the (validated) rates, flatten everything."""
    s = _check_rate(service_time, "service_time", positive=True)
    c = _check_servers(servers)
    K = c if capacity is None else _as_float(capacity, "capacity")
    if np.isinf(K).any():
        raise ValueError("capacity must be finite here: an infinite queue never sends a 429")
    arrays = np.broadcast_arrays(s, c, K, *rates)
    s, c, K, *rest = (np.array(a, dtype=float).reshape(-1) for a in arrays)
    # checks capacity (whole, >= servers) with a zero-rate probe
    mmck(np.zeros_like(s), 1.0 / s, c, K)
    return (s, c, K, *rest)


def _client_cap(qps: float, burst: int, window: float) -> float:
    q = _check_positive_float(qps, "qps")
    b = _check_int(burst, "burst", 1, 10**9)
    try:
        win = float(window)
    except (TypeError, ValueError):
        raise ValueError(f"window must be a number, got {window!r}") from None
    if not win > 0:
        raise ValueError(f"window must be > 0 seconds, got {window!r}")
    return q + b / win


def retry_amplification(
    request_rate: ArrayLike,
    service_time: ArrayLike,
    servers: ArrayLike,
    capacity: ArrayLike | None = None,
    *,
    max_retries: int = CLIENT_GO_MAX_RETRIES,
    retry_after: float = RETRY_AFTER,
) -> pd.DataFrame:
    """Offered load, goodput and 429 rate when rejected requests come back.

    Each request is tried once and, after every 429, retried after ``retry_after`` up to
    ``max_retries`` times (client-go: 10 retries, Retry-After 1 s from the legacy filter).

    Parameters
    ----------
    request_rate : float or array_like
        Fresh requests per second (>= 0).
    service_time : float or array_like
        Mean time a request holds a slot, in seconds (> 0).
    servers : int or array_like
        In-flight slots ``c``.
    capacity : int or array_like, optional
        Slots plus waiting room ``K`` (finite); defaults to ``servers`` (a loss system,
        like the legacy filter).
    max_retries : int, default 10
        Retries after the first attempt (0 means no retries).
    retry_after : float, default 1.0
        Seconds a client waits before a retry (only enters ``mean_retry_delay``).

    Returns
    -------
    pandas.DataFrame
        One row per point: the inputs, then ``offered_rate`` (attempts per second,
        retries included), ``amplification`` (offered / fresh), ``attempt_rejection_
        probability`` (429s per attempt), ``request_failure_probability`` (a request's
        every attempt rejected), ``goodput`` (requests served per second),
        ``rejection_rate`` (429s per second), ``mean_retries`` (per request),
        ``mean_retry_delay`` (seconds a successful request spent waiting to retry),
        ``utilization``, the same measures without retries, suffixed
        ``_without_retries``, and ``rejection_amplification``: the 429 probability per
        attempt with retries over that without (NaN where the latter is 0).

    Notes
    -----
    In a loss pool more offered load always means more throughput, so retries never
    lower the retrying clients' goodput in this model; what the storm costs is the 429
    volume, the Retry-After delays and, above all, the rejection probability that every
    other request sharing the pool sees (``rejection_amplification``). With client-side
    rate limits the retries also eat the client's tokens (:func:`rate_limited_sweep`).
    """
    retries = _check_int(max_retries, "max_retries", 0, 1000)
    delay = _check_positive_float(retry_after, "retry_after")
    fresh = _check_rate(request_rate, "request_rate", positive=False)
    s, c, K, rate = _queue_inputs(service_time, servers, capacity, fresh)
    no_cap = np.full(rate.size, np.inf)
    with_r = _retry_table(rate, s, c, K, retries, delay, no_cap)
    without = _retry_table(rate, s, c, K, 0, delay, no_cap)
    with np.errstate(invalid="ignore", divide="ignore"):
        amplification = np.where(rate > 0, with_r["offered_rate"] / rate, 1.0)
    frame: dict[str, Any] = {
        "request_rate": rate,
        "service_time": s,
        "servers": c.astype(np.int64),
        "capacity": K,
        "offered_rate": with_r["offered_rate"],
        "amplification": amplification,
    }
    keys = (
        "attempt_rejection_probability",
        "request_failure_probability",
        "goodput",
        "rejection_rate",
        "mean_retries",
        "mean_retry_delay",
        "utilization",
    )
    for key in keys:
        frame[key] = with_r[key]
    for key in ("attempt_rejection_probability", "goodput", "rejection_rate", "utilization"):
        frame[f"{key}_without_retries"] = without[key]
    frame["request_failure_probability_without_retries"] = without["request_failure_probability"]
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["rejection_amplification"] = np.where(
            without["attempt_rejection_probability"] > 0,
            with_r["attempt_rejection_probability"] / without["attempt_rejection_probability"],
            np.nan,
        )
    return pd.DataFrame(frame)


# ----------------------------------------------------------------- client rate limits
def rate_limited_rate(
    demand_rate: ArrayLike,
    qps: float = CLIENT_GO_QPS,
    burst: int = CLIENT_GO_BURST,
    window: float = math.inf,
) -> Any:
    """Largest mean request rate a token-bucket-limited client sends.

    client-go's limiter (``flowcontrol.NewTokenBucketRateLimiter(qps, burst)``) starts with
    ``burst`` tokens and refills ``qps`` per second, so over any window of ``window``
    seconds a client sends at most ``burst + qps * window`` requests; in the long run at
    most ``qps`` per second.

    Parameters
    ----------
    demand_rate : float or array_like
        Requests per second the client would like to send (>= 0).
    qps : float, default 5.0
        Token refill rate (> 0).
    burst : int, default 10
        Bucket size (>= 1).
    window : float, default inf
        Averaging window in seconds; ``inf`` gives the long-run cap ``min(demand, qps)``.

    Returns
    -------
    numpy.float64 or numpy.ndarray
        ``min(demand_rate, qps + burst / window)``.
    """
    demand = _check_rate(demand_rate, "demand_rate", positive=False)
    out = np.minimum(demand, _client_cap(qps, burst, window))
    return out[()] if out.ndim == 0 else out


def rate_limited_sweep(
    clients: ArrayLike,
    demand_rate: ArrayLike,
    service_time: ArrayLike,
    servers: ArrayLike,
    capacity: ArrayLike | None = None,
    *,
    qps: float = CLIENT_GO_QPS,
    burst: int = CLIENT_GO_BURST,
    window: float = math.inf,
    max_retries: int = CLIENT_GO_MAX_RETRIES,
    retry_after: float = RETRY_AFTER,
) -> pd.DataFrame:
    """Load offered by rate-limited clients to a pool, with client-go's retries.

    ``clients`` identical clients each want to send ``demand_rate`` fresh requests per
    second; each one's attempts (first tries and retries) are capped at
    :func:`rate_limited_rate` of ``qps``/``burst``. The attempts offered to the pool are the
    least fixed point of ``x = min(clients * demand * g(p(x)), clients * cap)``, with
    ``g(p) = 1 + p + ... + p**max_retries`` and ``p`` the pool's blocking probability.

    Parameters
    ----------
    clients : int or array_like
        Number of clients (>= 0).
    demand_rate : float or array_like
        Fresh requests per second per client (>= 0).
    service_time, servers, capacity
        The pool, as in :func:`retry_amplification`.
    qps, burst, window
        Each client's limiter, as in :func:`rate_limited_rate`.
    max_retries, retry_after
        As in :func:`retry_amplification`.

    Returns
    -------
    pandas.DataFrame
        One row per point: ``clients``, ``demand_rate``, ``total_demand``,
        ``client_cap`` (per client), ``offered_rate`` (attempts per second reaching the
        pool), ``capped`` (the limiters bind), ``sent_rate`` (fresh requests sent per
        second), ``backlog_rate`` (fresh requests per second the clients cannot send: their
        queues grow), ``attempt_rejection_probability``, ``request_failure_probability``,
        ``goodput``, ``rejection_rate``, ``utilization``.
    """
    n = _as_float(clients, "clients")
    bad = ~np.isfinite(n) | (n != np.floor(n)) | (n < 0)
    if bad.any():
        raise ValueError(f"clients must be whole numbers >= 0, got {float(n[bad].flat[0])!r}")
    retries = _check_int(max_retries, "max_retries", 0, 1000)
    delay = _check_positive_float(retry_after, "retry_after")
    demand = _check_rate(demand_rate, "demand_rate", positive=False)
    per_client_cap = _client_cap(qps, burst, window)
    s, c, K, n_flat, per_client = _queue_inputs(service_time, servers, capacity, n, demand)
    rate = n_flat * per_client
    cap = n_flat * per_client_cap
    table = _retry_table(rate, s, c, K, retries, delay, cap)
    return pd.DataFrame(
        {
            "clients": n_flat.astype(np.int64),
            "demand_rate": per_client,
            "total_demand": rate,
            "client_cap": per_client_cap,
            "offered_rate": table["offered_rate"],
            "capped": table["offered_rate"] >= cap * (1 - 1e-12),
            "sent_rate": table["sent_rate"],
            "backlog_rate": np.maximum(rate - table["sent_rate"], 0.0),
            "attempt_rejection_probability": table["attempt_rejection_probability"],
            "request_failure_probability": table["request_failure_probability"],
            "goodput": table["goodput"],
            "rejection_rate": table["rejection_rate"],
            "utilization": table["utilization"],
        }
    )
