r"""Discrete-event model of one API Priority and Fairness priority level.

It follows the API server's queue set (apiserver ``pkg/util/flowcontrol/fairqueuing/
queueset/queueset.go``) request by request:

* **Arrival.** Each flow sends a Poisson stream. A request is shuffle-sharded: it considers
  the queues of its flow's hand, starting at a rotating offset (``enqueues % handSize``),
  and takes the one with the least waiting work (seat-seconds of its queued requests).
* **Rejection.** The request gets 429 at once when the level's seats are all in use *and*
  its queue already holds ``queue_length_limit`` requests; otherwise it is queued.
* **Fair queuing by seat-seconds.** A virtual clock ``R`` advances at
  ``min(seats in use + seats queued, CurrentCL) / active queues`` per second. A queue's
  next dispatch is at virtual time ``nextDispatchR``; the next request to run is the head
  of the queue with the smallest ``nextDispatchR + work(head)``, where a request's work
  is ``initial seats * G + final seats * additional latency`` with ``G`` the estimated
  service time (3 ms). Dispatch adds that work to the queue's ``nextDispatchR``; when the
  request finishes after ``S`` seconds it is corrected by ``initial seats * (G - S)``; a
  queue that becomes active starts at the current ``R``; ``nextDispatchR`` never lags its
  head's arrival ``R`` (the anti-windup bound). Ties go to the lowest queue index (the
  server breaks them round-robin).
* **Seats.** The head request runs when its seats fit in ``CurrentCL`` (a request wider
  than ``CurrentCL`` runs alone); otherwise dispatching stops until seats free up (head of
  line blocking, as in the server). A request holds ``max(initial, final)`` seats for its
  execution plus its additional latency.
* **Queue-wait limit.** A request still queued ``wait_limit`` seconds after its arrival is
  removed and gets 429 (the context deadline of the server's filter).

With one queue the level is FIFO and the event loop skips the virtual clock. With one flow
of one-seat requests, exponential service and no wait limit, the number of requests present
is exactly that of the M/M/c/K queue with ``c = CurrentCL`` and ``K = c + hand_size *
queue_length_limit`` (the least-waiting-work choice fills the hand's queues evenly), so the
429 probability and the mean wait are M/M/c/K's; with one queue the whole wait distribution
is too. With several queues fair queuing serves the flow's queues in an order of its own
(it charges only ``G`` per seat at dispatch and corrects at completion), which widens the
spread of the waits and, with a wait limit, times out more requests than FIFO would.

A consequence of the rejection rule worth knowing: a queue's length limit only applies
while *every* seat is in use. Requests wider than one seat that cannot fill CurrentCL
exactly (10-seat LISTs on 368 seats) leave seats idle for good, and then the queues grow
past their limit and only the wait limit rejects.

Not modelled: changes of CurrentCL during the run (borrowing), requests cancelled by
their clients, the epoch handling of ``R`` (irrelevant in floating point), and the
estimated work of LIST requests beyond their seats.

All randomness comes from the :class:`numpy.random.Generator` passed in.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ha_toolkit.apiserver.shuffle import deal_hands

__all__ = [
    "ESTIMATED_SERVICE_TIME",
    "DesResult",
    "Flow",
    "LevelConfig",
    "simulate_level",
]

#: ``estimatedServiceDuration`` of the queue set: the work charged at dispatch (seconds).
ESTIMATED_SERVICE_TIME = 0.003

# Outcome codes of a request.
_PENDING, _SERVED, _REJECTED, _TIMED_OUT = 0, 1, 2, 3
# Refuse runs that would need more memory than this many requests.
_MAX_REQUESTS = 30_000_000


def _positive(value: Any, name: str, *, allow_zero: bool = False, allow_inf: bool = False
              ) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or math.isnan(v) or (math.isinf(v) and not allow_inf):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def _whole(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if int(value) < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Flow:
    """One flow (FlowSchema + distinguisher) sending requests to the level.

    Parameters
    ----------
    name : str
        Label in the results.
    arrival_rate : float
        Poisson requests per second (> 0).
    service_time : float
        Mean execution time, seconds (> 0).
    seats : int or mapping of int to float, default 1
        Initial seats of each request, or a distribution ``{seats: probability}``.
    final_seats : int, default 0
        Seats held after execution for ``additional_latency`` (watch notifications).
    additional_latency : float, default 0.0
        Seconds the final seats stay held.
    service_distribution : {"exponential", "deterministic"}, default "exponential"
        Distribution of the execution time.
    hand : sequence of int, optional
        Queue indices of the flow's hand (``hand_size`` distinct ones); dealt at random
        when omitted.
    """

    name: str
    arrival_rate: float
    service_time: float
    seats: int | Mapping[int, float] = 1
    final_seats: int = 0
    additional_latency: float = 0.0
    service_distribution: str = "exponential"
    hand: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        _positive(self.arrival_rate, "arrival_rate")
        _positive(self.service_time, "service_time")
        if isinstance(self.seats, Mapping):
            if not self.seats:
                raise ValueError("seats must not be an empty mapping")
            for k, p in self.seats.items():
                _whole(k, "seats", 1)
                _positive(p, "seat probability", allow_zero=True)
            if sum(float(p) for p in self.seats.values()) <= 0:
                raise ValueError("seat probabilities must not all be 0")
        else:
            _whole(self.seats, "seats", 1)
        _whole(self.final_seats, "final_seats", 0)
        _positive(self.additional_latency, "additional_latency", allow_zero=True)
        if self.service_distribution not in ("exponential", "deterministic"):
            raise ValueError("service_distribution must be 'exponential' or 'deterministic', "
                             f"got {self.service_distribution!r}")
        if self.hand is not None:
            hand = tuple(_whole(q, "hand queue index", 0) for q in self.hand)
            if len(set(hand)) != len(hand) or not hand:
                raise ValueError(f"hand must hold distinct queue indices, got {self.hand!r}")
            object.__setattr__(self, "hand", hand)

    def seat_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """(seat values, probabilities) of the initial seats."""
        if isinstance(self.seats, Mapping):
            keys = np.array(sorted(self.seats), dtype=np.int64)
            p = np.array([float(self.seats[k]) for k in keys])
            return keys, p / p.sum()
        return np.array([int(self.seats)], dtype=np.int64), np.array([1.0])


@dataclass(frozen=True)
class LevelConfig:
    """The priority level the flows share.

    Parameters
    ----------
    concurrency_limit : int
        Seats (CurrentCL, >= 1), held fixed during the run.
    queues : int, default 1
        Queues (>= 1).
    hand_size : int, default 1
        Queues per hand, ``1 <= hand_size <= queues``.
    queue_length_limit : int, default 50
        Requests a queue holds before arrivals are rejected (>= 0; 0 makes a loss system).
    wait_limit : float, default 15.0
        Seconds a request may stay queued (> 0; ``inf`` for no limit).
    estimated_service_time : float, default 0.003
        ``G``, the work charged per seat at dispatch (seconds, > 0).
    """

    concurrency_limit: int
    queues: int = 1
    hand_size: int = 1
    queue_length_limit: int = 50
    wait_limit: float = 15.0
    estimated_service_time: float = ESTIMATED_SERVICE_TIME

    def __post_init__(self) -> None:
        _whole(self.concurrency_limit, "concurrency_limit", 1)
        q = _whole(self.queues, "queues", 1)
        h = _whole(self.hand_size, "hand_size", 1)
        if h > q:
            raise ValueError(f"hand_size must be <= queues ({q}), got {h}")
        _whole(self.queue_length_limit, "queue_length_limit", 0)
        _positive(self.wait_limit, "wait_limit", allow_inf=True)
        _positive(self.estimated_service_time, "estimated_service_time")


# --------------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class DesResult:
    """Per-request records of one run of :func:`simulate_level`.

    Attributes
    ----------
    level : LevelConfig
    flows : tuple of Flow
    hands : numpy.ndarray
        ``(flows, hand_size)`` queue indices each flow used.
    horizon, warmup : float
        Arrivals were generated on ``[0, horizon)``; statistics use those on
        ``[warmup, horizon)``.
    flow, arrival, outcome, wait, response, seats : numpy.ndarray
        Per request: flow index, arrival time, outcome (1 served, 2 rejected at arrival,
        3 timed out), time queued (NaN for rejected), wait + execution (NaN unless
        served), seats reserved.
    mean_seats_in_use : float
        Time-average seats in use over ``[warmup, horizon)``.
    events : int
        Events processed (arrivals, completions, releases, timeouts).
    elapsed : float
        Wall-clock seconds of the event loop (not part of any table).
    """

    level: LevelConfig
    flows: tuple[Flow, ...]
    hands: np.ndarray = field(repr=False)
    horizon: float
    warmup: float
    flow: np.ndarray = field(repr=False)
    arrival: np.ndarray = field(repr=False)
    outcome: np.ndarray = field(repr=False)
    wait: np.ndarray = field(repr=False)
    response: np.ndarray = field(repr=False)
    seats: np.ndarray = field(repr=False)
    mean_seats_in_use: float
    events: int
    elapsed: float = field(repr=False, compare=False)

    @property
    def requests(self) -> int:
        """Requests generated."""
        return int(self.arrival.size)

    def _window(self) -> np.ndarray:
        return (self.arrival >= self.warmup) & (self.arrival < self.horizon)

    def to_frame(self) -> pd.DataFrame:
        """One row per request of the measured window: flow name, times and outcome."""
        m = self._window()
        names = np.array([f.name for f in self.flows], dtype=object)
        labels = np.array(["pending", "served", "rejected", "timed_out"], dtype=object)
        return pd.DataFrame(
            {
                "flow": names[self.flow[m]],
                "arrival": self.arrival[m],
                "outcome": labels[self.outcome[m]],
                "seats": self.seats[m],
                "wait": self.wait[m],
                "response": self.response[m],
            }
        )

    def batch_values(self, statistic: str, batches: int = 20, flow: str | None = None
                     ) -> np.ndarray:
        """A statistic computed on each of ``batches`` consecutive arrival-time batches.

        Parameters
        ----------
        statistic : {"rejection_probability", "queue_full_probability",
                     "timeout_probability", "mean_wait", "mean_response", "wait_share"}
            ``wait_share`` is the share of served requests that waited at all.
        batches : int, default 20
            Batches of equal length over ``[warmup, horizon)``.
        flow : str, optional
            Restrict to one flow.

        Returns
        -------
        numpy.ndarray
            One value per batch (NaN where the batch has no request to measure).
        """
        b = _whole(batches, "batches", 2)
        m = self._window()
        if flow is not None:
            m &= self.flow == self._flow_index(flow)
        arr = self.arrival[m]
        which = np.minimum(((arr - self.warmup) / (self.horizon - self.warmup) * b)
                           .astype(np.int64), b - 1)
        out = self.outcome[m]
        served = out == _SERVED
        accepted = out != _REJECTED
        if statistic == "rejection_probability":
            v, sel = (out != _SERVED).astype(float), np.ones(arr.size, bool)
        elif statistic == "queue_full_probability":
            v, sel = (out == _REJECTED).astype(float), np.ones(arr.size, bool)
        elif statistic == "timeout_probability":
            v, sel = (out == _TIMED_OUT).astype(float), accepted
        elif statistic == "mean_wait":
            v, sel = self.wait[m], served
        elif statistic == "mean_response":
            v, sel = self.response[m], served
        elif statistic == "wait_share":
            v, sel = (self.wait[m] > 0).astype(float), served
        else:
            raise ValueError(f"statistic must be one of rejection_probability, "
                             f"queue_full_probability, timeout_probability, mean_wait, "
                             f"mean_response, wait_share; got {statistic!r}")
        sums = np.bincount(which[sel], weights=v[sel], minlength=b)
        counts = np.bincount(which[sel], minlength=b)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def confidence_interval(self, statistic: str, confidence: float = 0.95,
                            batches: int = 20, flow: str | None = None
                            ) -> tuple[float, float]:
        """Batch-means estimate and half-width of a Student-t confidence interval.

        Parameters
        ----------
        statistic, batches, flow
            As in :meth:`batch_values`.
        confidence : float, default 0.95
            Two-sided level in (0, 1).

        Returns
        -------
        (float, float)
            Mean of the batch values and the half-width of the interval.
        """
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
        v = self.batch_values(statistic, batches, flow)
        v = v[np.isfinite(v)]
        if v.size < 2:
            return float("nan"), float("nan")
        t = stats.t.ppf(0.5 + confidence / 2, v.size - 1)
        return float(v.mean()), float(t * v.std(ddof=1) / math.sqrt(v.size))

    def _flow_index(self, name: str) -> int:
        names = [f.name for f in self.flows]
        if name not in names:
            raise ValueError(f"no flow {name!r}; flows: {names}")
        return names.index(name)

    def summary(self, confidence: float = 0.95, batches: int = 20) -> pd.DataFrame:
        """Per-flow and overall measures of the window ``[warmup, horizon)``.

        Returns
        -------
        pandas.DataFrame
            One row per flow and a row ``"all"``: ``arrivals``, ``arrival_rate``,
            ``served``, ``rejected`` (queue full), ``timed_out``, ``rejection_probability``
            (all 429s per request) with ``rejection_ci`` (half-width), ``throughput`` (per
            second), ``mean_wait`` with ``mean_wait_ci``, ``p50_wait``, ``p99_wait`` and
            ``max_wait`` of served requests, ``mean_response``.
        """
        rows = []
        span = self.horizon - self.warmup
        m_all = self._window()
        for name in [*(f.name for f in self.flows), "all"]:
            m = m_all if name == "all" else m_all & (self.flow == self._flow_index(name))
            key = None if name == "all" else name
            out = self.outcome[m]
            served = out == _SERVED
            w = self.wait[m][served]
            _, rej_ci = self.confidence_interval("rejection_probability", confidence,
                                                 batches, key)
            _, mw_ci = self.confidence_interval("mean_wait", confidence, batches, key)
            rows.append(
                {
                    "flow": name,
                    "arrivals": int(m.sum()),
                    "arrival_rate": m.sum() / span,
                    "served": int(served.sum()),
                    "rejected": int((out == _REJECTED).sum()),
                    "timed_out": int((out == _TIMED_OUT).sum()),
                    "rejection_probability": float((~served).mean()) if out.size else np.nan,
                    "rejection_ci": rej_ci,
                    "throughput": served.sum() / span,
                    "mean_wait": float(w.mean()) if w.size else np.nan,
                    "mean_wait_ci": mw_ci,
                    "p50_wait": float(np.quantile(w, 0.5)) if w.size else np.nan,
                    "p99_wait": float(np.quantile(w, 0.99)) if w.size else np.nan,
                    "max_wait": float(w.max()) if w.size else np.nan,
                    "mean_response": float(self.response[m][served].mean()) if w.size
                    else np.nan,
                }
            )
        return pd.DataFrame(rows)

    def plot(self, ax: Any = None, *, title: str | None = None) -> Any:
        """Empirical survival function of the wait of served requests, one line per flow.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ha_toolkit.plotting import _drawing_style, _new_axes

        with _drawing_style(ax):
            ax = _new_axes(ax)
            m = self._window() & (self.outcome == _SERVED)
            for i, f in enumerate(self.flows):
                w = np.sort(self.wait[m & (self.flow == i)])
                if w.size == 0:
                    continue
                sf = 1.0 - np.arange(1, w.size + 1) / w.size
                ax.step(w, sf, where="post", label=f.name)
            ax.set_yscale("log")
            ax.set_xlabel("wait of served requests (s)")
            ax.set_ylabel("P(wait > t)")
            if title is not None:
                ax.set_title(title)
            ax.legend()
        return ax


# ---------------------------------------------------------------------- the simulation
def simulate_level(
    level: LevelConfig,
    flows: Sequence[Flow],
    horizon: float,
    rng: np.random.Generator,
    *,
    warmup: float = 0.0,
) -> DesResult:
    """Simulate one priority level with the given flows.

    Parameters
    ----------
    level : LevelConfig
        Seats, queues, hand size, queue-length limit and wait limit.
    flows : sequence of Flow
        At least one flow. A flow without ``hand`` gets a uniformly random one.
    horizon : float
        Arrivals are generated on ``[0, horizon)`` seconds; the run continues until every
        request has left.
    rng : numpy.random.Generator
        The only source of randomness (hands, arrivals, flows, seats, service times).
    warmup : float, default 0.0
        Requests arriving before this time are simulated but left out of the statistics.

    Returns
    -------
    DesResult

    Raises
    ------
    ValueError
        Bad configuration (naming the parameter), or a run that would generate more than
        30 million requests.
    """
    if not isinstance(level, LevelConfig):
        raise ValueError(f"level must be a LevelConfig, got {type(level).__name__}")
    fl = tuple(flows)
    if not fl:
        raise ValueError("flows must hold at least one Flow")
    for f in fl:
        if not isinstance(f, Flow):
            raise ValueError(f"flows must be Flow objects, got {type(f).__name__}")
    T = _positive(horizon, "horizon")
    W = _positive(warmup, "warmup", allow_zero=True)
    if W >= T:
        raise ValueError(f"warmup must be below horizon ({T:g}), got {warmup!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    hands = _hands(level, fl, rng)
    rates = np.array([f.arrival_rate for f in fl])
    total = float(rates.sum())
    expected = total * T
    if expected > _MAX_REQUESTS:
        raise ValueError(f"the run would generate about {expected:.3g} requests; keep "
                         f"arrival rate x horizon below {_MAX_REQUESTS:g}")
    reqs = _generate(level, fl, T, total, rates, rng)
    start = time.perf_counter()
    if level.queues == 1:
        sim = _run_fifo(level, reqs, W, T)
    else:
        sim = _run_fair(level, reqs, hands, W, T)
    elapsed = time.perf_counter() - start
    outcome, start_t, busy, events = sim
    arrival = reqs["arrival"]
    wait = np.where(outcome == _REJECTED, np.nan,
                    np.where(outcome == _SERVED, start_t - arrival,
                             np.where(outcome == _TIMED_OUT, level.wait_limit, np.nan)))
    response = np.where(outcome == _SERVED, start_t - arrival + reqs["service"], np.nan)
    return DesResult(
        level=level,
        flows=fl,
        hands=hands,
        horizon=T,
        warmup=W,
        flow=reqs["flow"],
        arrival=arrival,
        outcome=outcome,
        wait=wait,
        response=response,
        seats=reqs["max_seats"],
        mean_seats_in_use=busy / (T - W),
        events=events,
        elapsed=elapsed,
    )


def _hands(level: LevelConfig, flows: tuple[Flow, ...], rng: np.random.Generator
           ) -> np.ndarray:
    dealt = deal_hands(level.queues, level.hand_size, len(flows), rng)
    for i, f in enumerate(flows):
        if f.hand is not None:
            if len(f.hand) != level.hand_size:
                raise ValueError(f"flow {f.name!r}: hand must have hand_size="
                                 f"{level.hand_size} queues, got {len(f.hand)}")
            if max(f.hand) >= level.queues:
                raise ValueError(f"flow {f.name!r}: hand queue indices must be below "
                                 f"queues={level.queues}, got {max(f.hand)}")
            dealt[i] = f.hand
    return dealt


def _generate(level: LevelConfig, flows: tuple[Flow, ...], T: float, total: float,
              rates: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Merged Poisson arrivals on [0, T) and every per-request draw, vectorised."""
    n = int(rng.poisson(total * T))
    # given their number, Poisson arrival times are sorted uniforms on [0, T)
    arrival = np.sort(rng.uniform(0.0, T, n))
    flow = rng.choice(len(flows), size=n, p=rates / total) if len(flows) > 1 \
        else np.zeros(n, dtype=np.int64)
    flow = flow.astype(np.int64)
    unit = rng.standard_exponential(n)
    service = np.empty(n)
    initial = np.empty(n, dtype=np.int64)
    final = np.empty(n, dtype=np.int64)
    extra = np.empty(n)
    CL = level.concurrency_limit
    for i, f in enumerate(flows):
        m = flow == i
        k = int(m.sum())
        if f.service_distribution == "exponential":
            service[m] = unit[m] * f.service_time
        else:
            service[m] = f.service_time
        values, p = f.seat_distribution()
        initial[m] = values[0] if values.size == 1 else rng.choice(values, size=k, p=p)
        fs, al = f.final_seats, f.additional_latency
        if fs > CL:  # the queue set reshapes final seats to the limit, same final work
            al, fs = al * fs / CL, CL
        final[m] = fs
        extra[m] = al
    max_seats = np.maximum(initial, final)
    work = initial * level.estimated_service_time + final * extra
    return {
        "arrival": arrival, "flow": flow, "service": service, "initial": initial,
        "final": final, "extra": extra, "max_seats": max_seats, "work": work,
    }


def _run_fifo(level: LevelConfig, reqs: dict[str, np.ndarray], W: float, T: float
              ) -> tuple[np.ndarray, np.ndarray, float, int]:
    """One queue: dispatch in arrival order (fair queuing is trivial)."""
    arrival = reqs["arrival"].tolist()
    service = reqs["service"].tolist()
    seats = reqs["max_seats"].tolist()
    extra = reqs["extra"].tolist()
    n = len(arrival)
    outcome = [_PENDING] * n
    start_t = [math.nan] * n
    CL = level.concurrency_limit
    qll = level.queue_length_limit
    limit = level.wait_limit
    timed = math.isfinite(limit)
    queue: deque[int] = deque()
    heap: list[tuple[float, int, int]] = []  # (time, kind 0 finish / 1 release, request)
    push, pop = heapq.heappush, heapq.heappop
    in_use = 0
    executing = 0
    busy = 0.0
    last = 0.0
    events = 0
    inf = math.inf
    i = 0
    next_arrival = arrival[0] if n else inf
    while True:
        t_done = heap[0][0] if heap else inf
        t_out = arrival[queue[0]] + limit if (timed and queue) else inf
        now = next_arrival
        if t_done < now:
            now = t_done
        if t_out < now:
            now = t_out
        if now == inf:
            break
        events += 1
        if last >= W:  # time-average of the seats in use over [W, T)
            if now <= T:
                busy += in_use * (now - last)
            elif last < T:
                busy += in_use * (T - last)
        elif now > W:
            busy += in_use * ((now if now < T else T) - W)
        last = now
        if now == t_done:
            _, kind, r = pop(heap)
            if kind == 0:
                executing -= 1
                e = extra[r]
                if e > 0:  # the seats linger; the server still tries to dispatch
                    push(heap, (now + e, 1, r))
                else:
                    in_use -= seats[r]
            else:
                in_use -= seats[r]
        elif now == t_out:
            r = queue.popleft()
            outcome[r] = _TIMED_OUT
            continue  # removing a waiting request frees no seat
        else:
            r = i
            i += 1
            next_arrival = arrival[i] if i < n else inf
            if in_use >= CL and len(queue) >= qll:
                outcome[r] = _REJECTED
                continue
            queue.append(r)
        # dispatch as much as possible
        while queue and in_use < CL:
            r = queue[0]
            s = seats[r]
            if s > CL:
                if executing:
                    break
            elif in_use + s > CL:
                break
            queue.popleft()
            in_use += s
            executing += 1
            outcome[r] = _SERVED
            start_t[r] = now
            push(heap, (now + service[r], 0, r))
    return (np.array(outcome, dtype=np.int8), np.array(start_t), busy, events)


def _run_fair(level: LevelConfig, reqs: dict[str, np.ndarray], hands: np.ndarray,
              W: float, T: float) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Several queues: shuffle sharding and fair queuing by seat-seconds."""
    arrival = reqs["arrival"].tolist()
    service = reqs["service"].tolist()
    seats = reqs["max_seats"].tolist()
    initial = reqs["initial"].tolist()
    extra = reqs["extra"].tolist()
    work = reqs["work"].tolist()
    flow = reqs["flow"].tolist()
    hand_list = [list(map(int, h)) for h in hands]
    n = len(arrival)
    nq = level.queues
    H = level.hand_size
    CL = level.concurrency_limit
    qll = level.queue_length_limit
    limit = level.wait_limit
    G = level.estimated_service_time
    timed = math.isfinite(limit)
    outcome = [_PENDING] * n
    start_t = [math.nan] * n
    arrival_R = [0.0] * n
    queue_of = [0] * n
    queues: list[deque[int]] = [deque() for _ in range(nq)]
    wait_work = [0.0] * nq       # seat-seconds of the requests queued in each queue
    executing_q = [0] * nq       # requests executing from each queue
    next_R = [0.0] * nq          # nextDispatchR
    version = [0] * nq           # invalidates stale entries of the dispatch heap
    pick: list[tuple[float, int, int]] = []  # (nextDispatchR + head work, queue, version)
    heap: list[tuple[float, int, int]] = []  # (time, kind 0 finish / 1 release, request)
    waiting_order: deque[int] = deque()      # queued requests in arrival order (timeouts)
    push, pop = heapq.heappush, heapq.heappop
    R = 0.0
    last = 0.0
    in_use = 0          # seats in use (executing or lingering)
    seats_waiting = 0   # seats of queued requests
    n_waiting = 0
    executing = 0
    active = 0          # queues with queued or executing requests
    enqueues = 0
    busy = 0.0
    events = 0
    inf = math.inf
    i = 0
    next_arrival = arrival[0] if n else inf

    def refresh(q: int) -> None:
        """Re-key queue q in the dispatch heap after its head or nextDispatchR changed."""
        version[q] += 1
        dq = queues[q]
        if dq:
            head = dq[0]
            if next_R[q] < arrival_R[head]:  # anti-windup: dispatch never precedes arrival
                next_R[q] = arrival_R[head]
            push(pick, (next_R[q] + work[head], q, version[q]))

    while True:
        t_done = heap[0][0] if heap else inf
        t_out = inf
        if timed:
            while waiting_order and outcome[waiting_order[0]] != _PENDING:
                waiting_order.popleft()
            if waiting_order:
                t_out = arrival[waiting_order[0]] + limit
        now = next_arrival
        if t_done < now:
            now = t_done
        if t_out < now:
            now = t_out
        if now == inf:
            break
        events += 1
        if active:  # the virtual clock: seat-seconds per active queue
            demand = in_use + seats_waiting
            R += (demand if demand < CL else CL) / active * (now - last)
        if last >= W:  # time-average of the seats in use over [W, T)
            if now <= T:
                busy += in_use * (now - last)
            elif last < T:
                busy += in_use * (T - last)
        elif now > W:
            busy += in_use * ((now if now < T else T) - W)
        last = now
        if now == t_done:
            _, kind, r = pop(heap)
            if kind == 0:
                executing -= 1
                q = queue_of[r]
                executing_q[q] -= 1
                next_R[q] -= initial[r] * (G - service[r])
                if not queues[q] and executing_q[q] == 0:
                    active -= 1
                refresh(q)
                e = extra[r]
                if e > 0:  # the seats linger; the server still tries to dispatch
                    push(heap, (now + e, 1, r))
                else:
                    in_use -= seats[r]
            else:
                in_use -= seats[r]
        elif now == t_out:
            r = waiting_order.popleft()
            q = queue_of[r]
            queues[q].popleft()  # the oldest queued request is at the head of its queue
            outcome[r] = _TIMED_OUT
            n_waiting -= 1
            seats_waiting -= seats[r]
            wait_work[q] -= work[r]
            if not queues[q] and executing_q[q] == 0:
                active -= 1
            refresh(q)
            continue
        else:
            r = i
            i += 1
            next_arrival = arrival[i] if i < n else inf
            hand = hand_list[flow[r]]
            off = enqueues % H
            enqueues += 1
            best = hand[off]
            best_work = wait_work[best]
            for k in range(1, H):
                q = hand[(off + k) % H]
                if wait_work[q] < best_work:
                    best, best_work = q, wait_work[q]
            q = best
            dq = queues[q]
            if in_use >= CL and len(dq) >= qll:
                outcome[r] = _REJECTED
                continue
            if not dq and executing_q[q] == 0:
                next_R[q] = R
                active += 1
            queue_of[r] = q
            arrival_R[r] = R
            dq.append(r)
            n_waiting += 1
            seats_waiting += seats[r]
            wait_work[q] += work[r]
            if timed:
                waiting_order.append(r)
            if len(dq) == 1:
                refresh(q)
        # dispatch as much as possible
        while n_waiting and in_use < CL:
            while True:
                key, q, ver = pick[0]
                if ver == version[q]:
                    break
                pop(pick)
            dq = queues[q]
            r = dq[0]
            s = seats[r]
            if s > CL:
                if executing:
                    break
            elif in_use + s > CL:
                break
            pop(pick)
            dq.popleft()
            n_waiting -= 1
            seats_waiting -= s
            wait_work[q] -= work[r]
            in_use += s
            executing += 1
            executing_q[q] += 1
            next_R[q] += work[r]
            outcome[r] = _SERVED
            start_t[r] = now
            refresh(q)
            push(heap, (now + service[r], 0, r))
    return (np.array(outcome, dtype=np.int8), np.array(start_t), busy, events)
