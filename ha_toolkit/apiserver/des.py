r"""Discrete-event model of one API Priority and Fairness priority level.

It follows the API server's queue set (apiserver ``pkg/util/flowcontrol/fairqueuing/
queueset/queueset.go``) request by request, with upstream's own units: the clock counts
whole nanoseconds (Go's ``time.Duration``) and virtual time and work are fixed-point
seat-seconds of 1e-8 (``SeatSeconds`` in ``pkg/util/flowcontrol/request/seat_seconds.go``),
rounded where upstream rounds, so near-ties are decided as the server decides them.

Clients
-------
* **Open-loop flows** (:class:`Flow`): a Poisson stream per flow.
* **Closed-loop flows** (:class:`ClosedFlow`): ``clients`` clients, each issuing a request,
  waiting for its answer, thinking, and calling again (a controller's workers, kubelets, a
  reconcile loop), for a number of calls or until the horizon. Upstream's test scenarios
  (``uniformScenario`` in ``queueset_test.go``) are of this kind. On a 429 a client stops
  (as upstream's scenario threads do) or retries after ``Retry-After`` at most
  ``max_retries`` times, as client-go does (rest ``with_retry.go``, ``checkWait``); the
  ``Retry-After`` is the one the level sends (:class:`DroppedRequestsTracker`, after
  ``dropped_requests_tracker.go``) unless the flow fixes it. Not modelled: client-go's
  rate limiter (QPS, burst), which each retry passes again.

The queue set
-------------
* **Dealing.** A flow's hand is ``Dealer.deal(hash value)`` (``shufflesharding.go``) when the
  flow has a hash value (:func:`~ha_toolkit.apiserver.shuffle.flow_hash` of FlowSchema name
  and distinguisher), else given, else random. Each request considers its hand starting at
  ``enqueues % handSize`` and joins the queue with the least waiting work
  (``shuffleShardLocked``); every arrival counts in ``enqueues``, rejected ones too.
* **Rejection** (``rejectOrEnqueueToBoundLocked``). 429 at once when the seats in use are at
  least ``CurrentCL`` *and* the chosen queue already holds ``queue_length_limit``
  requests. With ``queues=0`` (no queuing) a request that does not fit is rejected; an
  ``exempt`` level never holds a request back.
* **Virtual time** (``syncTimeLocked``, ``getVirtualTimeRatioLocked``). At every event the
  server acts on, ``R`` grows by ``SeatsTimesDuration(min(seats requested, CurrentCL) /
  active queues, elapsed)``, where seats requested are those in use (lingering ones too)
  plus the max seats of queued requests, and a queue is active while it has queued or
  executing requests.
* **Work.** A request's work is ``SeatsTimesDuration(initial seats, G) +
  SeatsTimesDuration(final seats, additional latency)``, ``G`` = 3 ms
  (``completeWorkEstimate``).
* **Dispatch** (``findDispatchQueueToBoundLocked``, ``dispatchLocked``). Queues are
  scanned round robin from the one after the last dispatched; the first with the least
  ``nextDispatchR + work(head)`` wins (so ties go round robin). The head runs if its max
  seats fit (a request wider than ``CurrentCL`` runs only alone); otherwise nothing is
  dispatched until the next event (head-of-line blocking). Final seats above ``CurrentCL``
  are reshaped to ``CurrentCL`` with the same final work. Dispatch adds the work to
  ``nextDispatchR``; completion after ``S`` subtracts ``SeatsTimesDuration(initial seats,
  G - S)``; a queue that becomes active starts at ``R``; after every change
  ``nextDispatchR`` is raised to its head's arrival ``R`` (the anti-windup bound,
  ``boundNextDispatchLocked``).
* **Seats.** A request holds ``max(initial, final)`` seats during execution and its
  additional latency (the pad); the client gets its answer when execution ends.
* **Wait limit.** A request still queued ``wait_limit`` seconds after arrival is removed
  and gets 429 (its context deadline: the filter's quarter of the request timeout, see
  ``getRequestWaitContext``); per flow, or the level's. Removal dispatches nothing.

Same-instant events are taken in this order: completions, releases of lingering seats,
timeouts, arrivals (upstream runs them as concurrent goroutines in no fixed order).
Python integers do not overflow, so the epoch advance of ``R`` (``advanceEpoch``), which
keeps every comparison unchanged, is not needed.

Exact reductions checked in the tests: with one flow of one-seat requests, exponential
service and no wait limit the number present is M/M/c/K's (``K = c + hand_size *
queue_length_limit``); a closed flow of ``N`` clients with exponential think and service
times on one queue is the machine-repairman model M/M/c//N; and upstream's scenario tests
(``TestSeparations``, ``TestBaseline``, ``TestNoRestraint``,
``TestDifferentFlowsExpectEqual``) pass with upstream's margins.

Not modelled: changes of CurrentCL during the run (borrowing), clients cancelling, and the
estimated work of LIST requests beyond their seats. All randomness comes from the
:class:`numpy.random.Generator` passed in.
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

from ha_toolkit.apiserver.shuffle import Dealer, deal_hands

__all__ = [
    "ESTIMATED_SERVICE_TIME",
    "ClosedFlow",
    "DesResult",
    "DroppedRequestsTracker",
    "duration_per_seat",
    "Flow",
    "LevelConfig",
    "go_duration_seconds",
    "seats_times_duration",
    "simulate_level",
]

#: ``estimatedServiceDuration`` of the queue set: the work charged at dispatch (seconds).
ESTIMATED_SERVICE_TIME = 0.003

#: Nanoseconds per second (Go's ``time.Duration`` unit).
NS = 1_000_000_000
# ``1e9 / ssScale``: nanoseconds per SeatSeconds unit of one seat (seat_seconds.go).
_NS_PER_SS = 10.0

# Outcome codes of a request.
_PENDING, _SERVED, _REJECTED, _TIMED_OUT = 0, 1, 2, 3
# A time after every event (ns), as an integer.
_NEVER = 1 << 62
# Refuse runs that would need more memory than this many requests.
_MAX_REQUESTS = 30_000_000


def _go_round(x: float) -> int:
    """Go's ``math.Round``: to the nearest integer, halves away from zero, exactly."""
    if x >= 0:
        f = math.floor(x)
        return f + 1 if x - f >= 0.5 else f  # x - floor(x) is exact in binary64
    f = math.floor(-x)
    return -(f + 1) if -x - f >= 0.5 else -f


def seats_times_duration(seats: float, duration_ns: int) -> int:
    """``SeatsTimesDuration``: seats x duration in SeatSeconds units (1e-8 seat-seconds).

    The same binary64 operations as apiserver ``pkg/util/flowcontrol/request/
    seat_seconds.go``: ``round(seats * float64(ns) / 10)``, halves away from zero.

    Parameters
    ----------
    seats : float
        Seats (a ratio of seats per queue for the virtual clock).
    duration_ns : int
        Duration in nanoseconds (may be negative).

    Returns
    -------
    int
        The product in units of 1e-8 seat-seconds.
    """
    x = float(seats) * float(duration_ns) / _NS_PER_SS
    if x >= 0:
        f = math.floor(x)
        return f + 1 if x - f >= 0.5 else f
    return _go_round(x)


def _seats_times_durations(seats: np.ndarray, duration_ns: Any) -> np.ndarray:
    """:func:`seats_times_duration` elementwise, for durations >= 0 (same binary64 steps)."""
    x = seats.astype(np.float64) * np.asarray(duration_ns, dtype=np.float64) / _NS_PER_SS
    f = np.floor(x)
    return (f + (x - f >= 0.5)).astype(np.int64)


def duration_per_seat(seat_seconds: int, seats: float) -> int:
    """``SeatSeconds.DurationPerSeat``: nanoseconds per seat, truncated as Go converts.

    Parameters
    ----------
    seat_seconds : int
        Work in units of 1e-8 seat-seconds.
    seats : float
        Seats to spread it over (> 0).

    Returns
    -------
    int
        ``int(float64(ss) / seats * 10)`` nanoseconds.
    """
    return int(float(seat_seconds) / float(seats) * _NS_PER_SS)


def go_duration_seconds(duration_ns: int) -> float:
    """Go's ``time.Duration.Seconds``: whole seconds plus the nanoseconds over 1e9."""
    sec = abs(duration_ns) // NS
    nsec = abs(duration_ns) - sec * NS
    value = float(sec) + float(nsec) / 1e9
    return -value if duration_ns < 0 else value


def _to_ns(seconds: float) -> int:
    return int(round(seconds * NS))


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


def _check_seats(seats: Any) -> None:
    if isinstance(seats, Mapping):
        if not seats:
            raise ValueError("seats must not be an empty mapping")
        for k, p in seats.items():
            _whole(k, "seats", 1)
            _positive(p, "seat probability", allow_zero=True)
        if sum(float(p) for p in seats.values()) <= 0:
            raise ValueError("seat probabilities must not all be 0")
    else:
        _whole(seats, "seats", 1)


def _check_hash(value: Any) -> int | None:
    if value is None:
        return None
    h = _whole(value, "hash_value", 0)
    if h >= 1 << 64:
        raise ValueError(f"hash_value must be below 2**64, got {value!r}")
    return h


def _seat_distribution(seats: int | Mapping[int, float]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(seats, Mapping):
        keys = np.array(sorted(seats), dtype=np.int64)
        p = np.array([float(seats[k]) for k in keys])
        return keys, p / p.sum()
    return np.array([int(seats)], dtype=np.int64), np.array([1.0])


def _check_hand(hand: Any) -> tuple[int, ...] | None:
    if hand is None:
        return None
    h = tuple(_whole(q, "hand queue index", 0) for q in hand)
    if len(set(h)) != len(h) or not h:
        raise ValueError(f"hand must hold distinct queue indices, got {hand!r}")
    return h


def _check_wait_limit(wait_limit: Any, request_timeout: Any) -> None:
    if wait_limit is not None:
        _positive(wait_limit, "wait_limit", allow_inf=True)
        if request_timeout is not None:
            raise ValueError("give wait_limit or request_timeout, not both")
    if request_timeout is not None:
        _positive(request_timeout, "request_timeout")


def _flow_wait_limit(flow: Any, level_limit: float) -> float:
    """The queue-wait limit of a flow's requests, in seconds."""
    if flow.request_timeout is not None:
        from ha_toolkit.apiserver.apf import queue_wait_limit

        return queue_wait_limit(flow.request_timeout)
    return level_limit if flow.wait_limit is None else flow.wait_limit


_DISTRIBUTIONS = ("exponential", "deterministic")


def _check_distribution(value: Any, name: str) -> None:
    if value not in _DISTRIBUTIONS:
        raise ValueError(f"{name} must be 'exponential' or 'deterministic', got {value!r}")


@dataclass(frozen=True)
class Flow:
    """One open-loop flow (FlowSchema + distinguisher) sending Poisson requests.

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
        Seconds the final seats stay held (the pad).
    service_distribution : {"exponential", "deterministic"}, default "exponential"
        Distribution of the execution time.
    hand : sequence of int, optional
        Queue indices of the flow's hand (``hand_size`` distinct ones).
    hash_value : int, optional
        The flow's 64-bit hash (:func:`~ha_toolkit.apiserver.shuffle.flow_hash`); the hand
        is then dealt from it as the server deals it. Without ``hand`` or ``hash_value``
        the hand is dealt at random.
    wait_limit : float, optional
        Seconds a request of this flow may stay queued; the level's ``wait_limit`` when
        omitted (and no ``request_timeout``).
    request_timeout : float, optional
        The requests' ``?timeout=`` (seconds): their wait limit is then the quarter of the
        deadline the server gives them (:func:`~ha_toolkit.apiserver.apf.queue_wait_limit`,
        ``--request-timeout`` 60 s); e.g. 1.25 s for the 5 s lease calls of kube-scheduler.
        Give ``wait_limit`` or ``request_timeout``, not both.
    """

    name: str
    arrival_rate: float
    service_time: float
    seats: int | Mapping[int, float] = 1
    final_seats: int = 0
    additional_latency: float = 0.0
    service_distribution: str = "exponential"
    hand: tuple[int, ...] | None = None
    hash_value: int | None = None
    wait_limit: float | None = None
    request_timeout: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        _positive(self.arrival_rate, "arrival_rate")
        _positive(self.service_time, "service_time")
        _check_seats(self.seats)
        _whole(self.final_seats, "final_seats", 0)
        _positive(self.additional_latency, "additional_latency", allow_zero=True)
        _check_distribution(self.service_distribution, "service_distribution")
        object.__setattr__(self, "hand", _check_hand(self.hand))
        object.__setattr__(self, "hash_value", _check_hash(self.hash_value))
        _check_wait_limit(self.wait_limit, self.request_timeout)

    def seat_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """(seat values, probabilities) of the initial seats."""
        return _seat_distribution(self.seats)


@dataclass(frozen=True)
class ClosedFlow:
    """A closed-loop flow: clients that each call, wait for the answer, think, call again.

    A client's request executes for ``service_time`` (mean) and then holds its final seats
    for ``additional_latency`` more (the pad; the client has its answer already). The next
    call comes ``think_time`` (mean) after the answer (``think_from="finish"``), or
    ``think_time`` after the execution *started* (``think_from="start"``): upstream's
    ``uniformScenario`` schedules the next call ``execDuration + thinkDuration`` after the
    start, i.e. ``think_from="start"`` with ``think_time = exec + think``, which lets a call
    overlap the previous one (upstream's ``TestWindup`` uses ``think = -1 ns``).

    Parameters
    ----------
    name : str
        Label in the results.
    clients : int
        Clients (threads, workers) of the flow (>= 1).
    service_time : float
        Mean execution time, seconds (> 0).
    think_time : float, default 0.0
        Mean think time, seconds (>= 0; > 0 with ``think_from="start"``).
    think_from : {"finish", "start"}, default "finish"
        Where the think time is counted from.
    calls : int, optional
        Calls per client (>= 1); unlimited (until the horizon) when omitted.
    start : float or sequence of float, default 0.0
        Time of each client's first call: one value for all, or one per client.
    seats, final_seats, additional_latency, hand, hash_value, wait_limit, request_timeout
        As in :class:`Flow`.
    service_distribution, think_distribution : {"exponential", "deterministic"}
        Distributions of the execution and think times (default deterministic, as in
        upstream's scenarios).
    on_reject : {"stop", "retry"}, default "stop"
        After a 429 (queue full or wait limit) the client stops, as upstream's scenario
        threads do, or retries after ``Retry-After`` as client-go does; after
        ``max_retries`` failed retries the call fails and the client thinks and goes on.
    retry_after : float, optional
        Seconds a client waits before a retry. By default the ``Retry-After`` the server
        sends: per level, 1 s, doubled (at most to 32 s) while 429s keep coming, lowered
        when they stop (:class:`DroppedRequestsTracker`).
    max_retries : int, default 10
        Retries per call (client-go's limit is 10).
    """

    name: str
    clients: int
    service_time: float
    think_time: float = 0.0
    think_from: str = "finish"
    calls: int | None = None
    start: float | Sequence[float] = 0.0
    seats: int | Mapping[int, float] = 1
    final_seats: int = 0
    additional_latency: float = 0.0
    service_distribution: str = "deterministic"
    think_distribution: str = "deterministic"
    hand: tuple[int, ...] | None = None
    hash_value: int | None = None
    wait_limit: float | None = None
    request_timeout: float | None = None
    on_reject: str = "stop"
    retry_after: float | None = None
    max_retries: int = 10

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        n = _whole(self.clients, "clients", 1)
        _positive(self.service_time, "service_time")
        if self.think_from not in ("finish", "start"):
            raise ValueError(f"think_from must be 'finish' or 'start', got {self.think_from!r}")
        _positive(self.think_time, "think_time", allow_zero=self.think_from == "finish")
        if self.calls is not None:
            _whole(self.calls, "calls", 1)
        if isinstance(self.start, Sequence) and not isinstance(self.start, str):
            starts = tuple(_positive(s, "start", allow_zero=True) for s in self.start)
            if len(starts) != n:
                raise ValueError(f"start must hold one time per client ({n}), got "
                                 f"{len(starts)}")
            object.__setattr__(self, "start", starts)
        else:
            _positive(self.start, "start", allow_zero=True)
        _check_seats(self.seats)
        _whole(self.final_seats, "final_seats", 0)
        _positive(self.additional_latency, "additional_latency", allow_zero=True)
        _check_distribution(self.service_distribution, "service_distribution")
        _check_distribution(self.think_distribution, "think_distribution")
        object.__setattr__(self, "hand", _check_hand(self.hand))
        object.__setattr__(self, "hash_value", _check_hash(self.hash_value))
        _check_wait_limit(self.wait_limit, self.request_timeout)
        if self.on_reject not in ("stop", "retry"):
            raise ValueError(f"on_reject must be 'stop' or 'retry', got {self.on_reject!r}")
        if self.retry_after is not None:
            _positive(self.retry_after, "retry_after", allow_zero=True)
        if _whole(self.max_retries, "max_retries", 0) >= 1 << 20:
            raise ValueError(f"max_retries must be below 2**20, got {self.max_retries!r}")

    def start_times(self) -> tuple[float, ...]:
        """Time of each client's first call, seconds."""
        if isinstance(self.start, tuple):
            return self.start
        return (float(self.start),) * self.clients

    def seat_distribution(self) -> tuple[np.ndarray, np.ndarray]:
        """(seat values, probabilities) of the initial seats."""
        return _seat_distribution(self.seats)


@dataclass(frozen=True)
class LevelConfig:
    """The priority level the flows share.

    Parameters
    ----------
    concurrency_limit : int
        Seats (CurrentCL, >= 1), held fixed during the run.
    queues : int, default 1
        Queues (>= 0; 0 means no queuing: a request that does not fit gets 429 at once,
        as a level with ``limitResponse: Reject``).
    hand_size : int, default 1
        Queues per hand, ``1 <= hand_size <= queues``.
    queue_length_limit : int, default 50
        Requests a queue holds before arrivals are rejected (>= 0; 0 makes a loss system).
    wait_limit : float, default 15.0
        Seconds a request may stay queued (> 0; ``inf`` for no limit); a flow's own
        ``wait_limit`` takes precedence.
    estimated_service_time : float, default 0.003
        ``G``, the work charged per seat at dispatch (seconds, > 0).
    exempt : bool, default False
        An exempt level: every request executes at once (upstream's no-restraint queue
        set).
    """

    concurrency_limit: int
    queues: int = 1
    hand_size: int = 1
    queue_length_limit: int = 50
    wait_limit: float = 15.0
    estimated_service_time: float = ESTIMATED_SERVICE_TIME
    exempt: bool = False

    def __post_init__(self) -> None:
        _whole(self.concurrency_limit, "concurrency_limit", 1)
        q = _whole(self.queues, "queues", 0)
        h = _whole(self.hand_size, "hand_size", 1)
        if q and h > q:
            raise ValueError(f"hand_size must be <= queues ({q}), got {h}")
        _whole(self.queue_length_limit, "queue_length_limit", 0)
        _positive(self.wait_limit, "wait_limit", allow_inf=True)
        _positive(self.estimated_service_time, "estimated_service_time")
        if not isinstance(self.exempt, bool):
            raise ValueError(f"exempt must be True or False, got {self.exempt!r}")


# --------------------------------------------------------------------------- the result
@dataclass(frozen=True, eq=False)
class DesResult:
    """Per-request records of one run of :func:`simulate_level`.

    Attributes
    ----------
    level : LevelConfig
    flows : tuple of Flow or ClosedFlow
    hands : numpy.ndarray
        ``(flows, hand_size)`` queue indices each flow used.
    horizon, warmup : float
        Arrivals (calls) were made on ``[0, horizon)``; statistics use those on
        ``[warmup, horizon)``.
    flow, arrival, outcome, wait, response, seats : numpy.ndarray
        Per request: flow index, arrival time, outcome (1 served, 2 rejected at arrival,
        3 timed out), time queued (NaN for rejected), wait + execution (NaN unless
        served), seats reserved.
    client, attempt, start, end, initial_seats : numpy.ndarray
        Per request: client index in its closed flow (-1 for open flows), attempt of the
        call (0 first, then retries), execution start and end (NaN unless served) and
        initial seats.
    start_ns, end_ns : numpy.ndarray
        Execution start and end (end of queuing for a timed-out request) in integer
        nanoseconds, -1 where none.
    retry_after : numpy.ndarray
        The ``Retry-After`` (seconds) the server sent with each 429 (NaN otherwise).
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
    client: np.ndarray = field(repr=False)
    attempt: np.ndarray = field(repr=False)
    start: np.ndarray = field(repr=False)
    end: np.ndarray = field(repr=False)
    initial_seats: np.ndarray = field(repr=False)
    start_ns: np.ndarray = field(repr=False)
    end_ns: np.ndarray = field(repr=False)
    retry_after: np.ndarray = field(repr=False)
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
                     "timeout_probability", "mean_wait", "mean_response", "wait_share",
                     "throughput"}
            ``wait_share`` is the share of served requests that waited at all;
            ``throughput`` the served requests (by arrival) per second of the batch.
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
        elif statistic == "throughput":
            per_batch = (self.horizon - self.warmup) / b
            return np.bincount(which[served], minlength=b) / per_batch
        else:
            raise ValueError(f"statistic must be one of rejection_probability, "
                             f"queue_full_probability, timeout_probability, mean_wait, "
                             f"mean_response, wait_share, throughput; got {statistic!r}")
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

    def seat_average(self, flow: str | None = None, start: float | None = None,
                     end: float | None = None) -> float:
        """Time-average initial seats executing, as upstream's seat integrators measure it.

        The integral is accumulated as ``fairqueuing.Integrator`` does (``integrator.go``):
        at every start and end of an execution ``dt = Duration.Seconds()`` of the time since
        the previous one and ``x * dt`` are added in binary64, so the result is the one the
        upstream scenario tests compare against their expectations.

        Parameters
        ----------
        flow : str, optional
            One flow; all flows when omitted.
        start, end : float, optional
            The interval, seconds (default ``[warmup, horizon]``).

        Returns
        -------
        float
            The average (NaN for an empty interval).
        """
        t0 = _to_ns(self.warmup if start is None else start)
        t1 = _to_ns(self.horizon if end is None else end)
        if t1 <= t0:
            return math.nan
        sel = self.outcome == _SERVED
        if flow is not None:
            sel &= self.flow == self._flow_index(flow)
        seats = self.initial_seats[sel].astype(float)
        times = np.concatenate([self.start_ns[sel], self.end_ns[sel]])
        deltas = np.concatenate([seats, -seats])
        order = np.argsort(times, kind="stable")
        times, deltas = times[order].tolist(), deltas[order].tolist()
        x = 0.0
        elapsed = integral = 0.0
        last = t0
        for t, d in zip(times, deltas, strict=True):
            if t > t1:
                break
            if t > t0:
                dt = go_duration_seconds(t - last)
                elapsed += dt
                integral += x * dt
                last = t
            x += d
        dt = go_duration_seconds(t1 - last)
        elapsed += dt
        integral += x * dt
        return integral / elapsed

    def summary(self, confidence: float = 0.95, batches: int = 20) -> pd.DataFrame:
        """Per-flow and overall measures of the window ``[warmup, horizon)``.

        Returns
        -------
        pandas.DataFrame
            One row per flow and a row ``"all"``: ``arrivals``, ``arrival_rate``,
            ``served``, ``rejected`` (queue full), ``timed_out``, ``rejection_probability``
            (all 429s per request) with ``rejection_ci`` (half-width), ``throughput`` (per
            second), ``mean_wait`` with ``mean_wait_ci``, ``p50_wait``, ``p99_wait`` and
            ``max_wait`` of served requests, ``mean_response``, ``retries`` (attempts
            after a 429) and ``mean_seats_in_service`` (time-average initial seats
            executing, :meth:`seat_average`).
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
                    "retries": int((self.attempt[m] > 0).sum()),
                    "mean_seats_in_service": self.seat_average(key),
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
    flows: Sequence[Flow | ClosedFlow],
    horizon: float,
    rng: np.random.Generator,
    *,
    warmup: float = 0.0,
) -> DesResult:
    """Simulate one priority level with the given open- and closed-loop flows.

    Parameters
    ----------
    level : LevelConfig
        Seats, queues, hand size, queue-length limit and wait limit.
    flows : sequence of Flow or ClosedFlow
        At least one flow. A flow without ``hand`` or ``hash_value`` gets a uniformly
        random hand.
    horizon : float
        Open flows arrive on ``[0, horizon)``; closed-flow clients call while the time is
        below it (and calls remain). The run continues until every request has left.
    rng : numpy.random.Generator
        The only source of randomness (hands, arrivals, seats, service and think times).
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
        if not isinstance(f, Flow | ClosedFlow):
            raise ValueError(f"flows must be Flow or ClosedFlow objects, got "
                             f"{type(f).__name__}")
    names = [f.name for f in fl]
    if len(set(names)) != len(names):
        raise ValueError(f"flow names must be distinct, got {names}")
    T = _positive(horizon, "horizon")
    W = _positive(warmup, "warmup", allow_zero=True)
    if W >= T:
        raise ValueError(f"warmup must be below horizon ({T:g}), got {warmup!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    hands = _hands(level, fl, rng)
    open_flows = [(i, f) for i, f in enumerate(fl) if isinstance(f, Flow)]
    rates = np.array([f.arrival_rate for _, f in open_flows])
    expected = float(rates.sum()) * T + sum(_closed_calls_bound(f, T) for f in fl
                                              if isinstance(f, ClosedFlow))
    if expected > _MAX_REQUESTS:
        raise ValueError(f"the run would generate about {expected:.3g} requests; keep "
                         f"arrival rate x horizon (and closed-loop calls) below "
                         f"{_MAX_REQUESTS:g}")
    reqs = _generate(level, open_flows, T, rates, rng)
    fifo = (level.queues == 1 and not level.exempt and len(open_flows) == len(fl)
            and all(f.wait_limit is None and f.request_timeout is None for f in fl))
    begin = time.perf_counter()
    if fifo:
        rec, busy, events = _run_fifo(level, reqs, W, T)
    else:
        engine = _QueueSet(level, fl, hands, reqs, rng, W, T)
        rec, busy, events = engine.run()
    elapsed = time.perf_counter() - begin
    return _result(level, fl, hands, T, W, rec, busy, events, elapsed)


def _closed_calls_bound(f: ClosedFlow, T: float) -> float:
    """About how many first attempts a closed flow makes before the horizon."""
    cycle = f.think_time if f.think_from == "start" else f.service_time + f.think_time
    per_client = T / cycle + 1
    return f.clients * (per_client if f.calls is None else min(per_client, f.calls))


def _result(level: LevelConfig, flows: tuple[Flow | ClosedFlow, ...], hands: np.ndarray,
            T: float, W: float, rec: dict[str, np.ndarray], busy: float, events: int,
            elapsed: float) -> DesResult:
    outcome = rec["outcome"]
    served = outcome == _SERVED
    arrival_ns, start_ns, end_ns = rec["arrival_ns"], rec["start_ns"], rec["end_ns"]
    arrival = arrival_ns / NS
    start = np.where(served, start_ns / NS, np.nan)
    end = np.where(served, end_ns / NS, np.nan)
    wait = np.where(served, (start_ns - arrival_ns) / NS,
                    np.where(outcome == _TIMED_OUT, (end_ns - arrival_ns) / NS, np.nan))
    response = np.where(served, (end_ns - arrival_ns) / NS, np.nan)
    return DesResult(
        level=level, flows=flows, hands=hands, horizon=T, warmup=W,
        flow=rec["flow"], arrival=arrival, outcome=outcome, wait=wait, response=response,
        seats=rec["max_seats"], client=rec["client"], attempt=rec["attempt"], start=start,
        end=end, initial_seats=rec["initial"], start_ns=start_ns, end_ns=end_ns,
        retry_after=rec["retry_after"],
        mean_seats_in_use=busy / (T - W), events=events, elapsed=elapsed,
    )


def _hands(level: LevelConfig, flows: tuple[Flow | ClosedFlow, ...],
           rng: np.random.Generator) -> np.ndarray:
    nq = max(level.queues, 1)
    h = min(level.hand_size, nq)
    dealt = deal_hands(nq, h, len(flows), rng)
    dealer = Dealer(nq, h) if any(f.hash_value is not None for f in flows) else None
    for i, f in enumerate(flows):
        if f.hand is not None:
            if len(f.hand) != h:
                raise ValueError(f"flow {f.name!r}: hand must have hand_size="
                                 f"{h} queues, got {len(f.hand)}")
            if max(f.hand) >= nq:
                raise ValueError(f"flow {f.name!r}: hand queue indices must be below "
                                 f"queues={nq}, got {max(f.hand)}")
            dealt[i] = f.hand
        elif f.hash_value is not None and dealer is not None:
            dealt[i] = dealer.deal(f.hash_value)
    return dealt


def _generate(level: LevelConfig, open_flows: list[tuple[int, Flow]], T: float,
              rates: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Merged Poisson arrivals on [0, T) and every per-request draw, vectorised (ns)."""
    total = float(rates.sum())
    n = int(rng.poisson(total * T)) if open_flows else 0
    # given their number, Poisson arrival times are sorted uniforms on [0, T)
    arrival = np.sort(rng.uniform(0.0, T, n))
    which = rng.choice(len(open_flows), size=n, p=rates / total) if len(open_flows) > 1 \
        else np.zeros(n, dtype=np.int64)
    which = which.astype(np.int64)
    unit = rng.standard_exponential(n)
    service = np.empty(n)
    initial = np.empty(n, dtype=np.int64)
    final = np.empty(n, dtype=np.int64)
    extra = np.empty(n)
    flow = np.empty(n, dtype=np.int64)
    for j, (i, f) in enumerate(open_flows):
        m = which == j
        k = int(m.sum())
        flow[m] = i
        if f.service_distribution == "exponential":
            service[m] = unit[m] * f.service_time
        else:
            service[m] = f.service_time
        values, p = f.seat_distribution()
        initial[m] = values[0] if values.size == 1 else rng.choice(values, size=k, p=p)
        final[m] = f.final_seats
        extra[m] = f.additional_latency
    arrival_ns = np.round(arrival * NS).astype(np.int64)
    service_ns = np.maximum(np.round(service * NS).astype(np.int64), 0)
    extra_ns = np.round(extra * NS).astype(np.int64)
    return {
        "arrival_ns": arrival_ns, "flow": flow, "service_ns": service_ns,
        "initial": initial, "final": final, "extra_ns": extra_ns,
    }


def _reshaped(initial: int, final: int, extra_ns: int, CL: int) -> tuple[int, int, int]:
    """Final seats above CurrentCL reshaped to CurrentCL with the same final work
    (``findDispatchQueueToBoundLocked``; ``DurationPerSeat`` truncates to whole ns)."""
    if final <= CL:
        return final, extra_ns, max(initial, final)
    extra = duration_per_seat(seats_times_duration(final, extra_ns), CL)
    return CL, extra, max(initial, CL)


def _run_fifo(level: LevelConfig, reqs: dict[str, np.ndarray], W: float, T: float
              ) -> tuple[dict[str, np.ndarray], float, int]:
    """One queue, open flows, the level's wait limit: dispatch in arrival order.

    With one queue fair queuing is FIFO whatever the virtual clock says, so this fast path
    gives the queue set's decisions without it.
    """
    arrival = reqs["arrival_ns"].tolist()
    service = reqs["service_ns"].tolist()
    initial = reqs["initial"].tolist()
    final = reqs["final"].tolist()
    extra_in = reqs["extra_ns"].tolist()
    n = len(arrival)
    outcome = [_PENDING] * n
    start_t = [-1] * n
    end_t = [-1] * n
    retry_after = [math.nan] * n
    tracker = DroppedRequestsTracker()
    seats = np.maximum(reqs["initial"], reqs["final"]).tolist()
    held = list(seats)
    extra = list(extra_in)
    CL = level.concurrency_limit
    qll = level.queue_length_limit
    limit = _to_ns(level.wait_limit) if math.isfinite(level.wait_limit) else None
    Wn, Tn = _to_ns(W), _to_ns(T)
    queue: deque[int] = deque()
    heap: list[tuple[int, int, int]] = []  # (time, kind 0 finish / 1 release, request)
    push, pop = heapq.heappush, heapq.heappop
    in_use = 0
    executing = 0
    busy = 0
    last = 0
    events = 0
    inf = _NEVER  # an integer: comparisons of ints with a float are slower
    i = 0
    next_arrival = arrival[0] if n else inf
    while True:
        t_done = heap[0][0] if heap else inf
        t_out = arrival[queue[0]] + limit if (limit is not None and queue) else inf
        now = next_arrival
        if t_done < now:
            now = t_done
        if t_out < now:
            now = t_out
        if now == inf:
            break
        events += 1
        if now > Wn and last < Tn:  # seat-seconds in use over [W, T)
            busy += in_use * ((now if now < Tn else Tn) - (last if last > Wn else Wn))
        last = now
        if now == t_done:
            _, kind, r = pop(heap)
            if kind == 0:
                executing -= 1
                end_t[r] = now
                if extra[r] > 0:  # the seats linger; the server still tries to dispatch
                    push(heap, (now + extra[r], 1, r))
                else:
                    in_use -= held[r]
            else:
                in_use -= held[r]
        elif now == t_out:
            r = queue.popleft()
            outcome[r] = _TIMED_OUT
            end_t[r] = now
            retry_after[r] = float(tracker.record(now))
            continue  # removing a waiting request frees no seat and dispatches nothing
        else:
            r = i
            i += 1
            next_arrival = arrival[i] if i < n else inf
            if in_use >= CL and len(queue) >= qll:
                outcome[r] = _REJECTED
                end_t[r] = now
                retry_after[r] = float(tracker.record(now))
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
            if final[r] > CL:
                final[r], extra[r], held[r] = _reshaped(initial[r], final[r], extra[r], CL)
            in_use += held[r]
            executing += 1
            outcome[r] = _SERVED
            start_t[r] = now
            push(heap, (now + service[r], 0, r))
    rec = {
        "flow": reqs["flow"], "arrival_ns": reqs["arrival_ns"],
        "outcome": np.array(outcome, dtype=np.int8),
        "start_ns": np.array(start_t, dtype=np.int64), "end_ns": np.array(end_t, dtype=np.int64),
        "max_seats": np.array(seats, dtype=np.int64), "initial": reqs["initial"],
        "client": np.full(n, -1, dtype=np.int64), "attempt": np.zeros(n, dtype=np.int64),
        "retry_after": np.array(retry_after, dtype=np.float64),
    }
    return rec, busy / NS, events


class DroppedRequestsTracker:
    """The ``Retry-After`` a priority level sends with its 429s.

    apiserver ``pkg/util/flowcontrol/dropped_requests_tracker.go``: per level, drops are
    counted per whole second of the server's clock (``Unix()``); when the second changes,
    the drops of the last ``retryAfter`` seconds before it decide: at least
    ``3 * retryAfter`` of them, and ``retryAfter`` seconds since the last raise, double it
    (at most 32); fewer than ``retryAfter`` lower it by one (not below 1). The filter
    records the drop, then sends the current value (``priority-and-fairness.go``).

    Parameters
    ----------
    epoch : int, default 1_700_000_000
        Unix second of simulated time 0 (a real clock is never at second 0, where the
        tracker's zero-valued state would be mistaken for a current second).
    """

    MAX_RETRY_AFTER = 32

    def __init__(self, epoch: int = 1_700_000_000) -> None:
        self.epoch = int(epoch)
        self.history: list[tuple[int, int]] = []
        self.current_unix = 0
        self.current_count = 0
        self.retry_after = 1
        self.update_unix = 0

    def record(self, now_ns: int) -> int:
        """Record a drop at ``now_ns`` and return the ``Retry-After`` sent with it."""
        unix = self.epoch + now_ns // NS
        if unix == self.current_unix:
            self.current_count += 1
            return self.retry_after
        self._update_history(self.current_unix, self.current_count)
        self.current_unix, self.current_count = unix, 1
        self._update_retry_after(unix)
        return self.retry_after

    def _update_history(self, unix: int, count: int) -> None:
        self.history.append((unix, count))
        keep = min(2 * self.retry_after, self.MAX_RETRY_AFTER)
        start = 0
        while start < len(self.history) and unix - self.history[start][0] > keep:
            start += 1
        del self.history[:start]

    def _update_retry_after(self, unix: int) -> None:
        ra = self.retry_after
        dropped = 0
        for t, count in reversed(self.history):
            if unix - t > ra:
                break
            if t < unix:
                dropped += count
        if unix - self.update_unix >= ra and dropped >= 3 * ra:
            self.retry_after = min(2 * ra, self.MAX_RETRY_AFTER)
            self.update_unix = unix
        elif dropped < ra and ra > 1:
            self.retry_after = ra - 1


# Event priorities at one instant: completions, releases, timeouts, then arrivals.
_EV_FINISH, _EV_RELEASE, _EV_TIMEOUT, _EV_ARRIVE, _EV_CALL = 0, 1, 2, 3, 4
# A call event's payload is client * _ATTEMPTS + attempt.
_ATTEMPTS = 1 << 20


class _QueueSet:
    """The queue set of ``queueset.go`` on an integer-nanosecond event clock.

    Method names follow upstream's (``_shuffle_shard``, ``_dispatch_locked``, ...); the
    per-queue sums are kept incrementally instead of rescanned, which gives the same
    numbers.
    """

    def __init__(self, level: LevelConfig, flows: tuple[Flow | ClosedFlow, ...],
                 hands: np.ndarray, reqs: dict[str, np.ndarray], rng: np.random.Generator,
                 W: float, T: float) -> None:
        self.level = level
        self.flows = flows
        self.rng = rng
        self.CL = level.concurrency_limit
        self.nq = level.queues
        self.exempt = level.exempt
        self.qll = level.queue_length_limit
        self.G_ns = _to_ns(level.estimated_service_time)
        self.Wn, self.Tn = _to_ns(W), _to_ns(T)
        self.hands = [list(map(int, h)) for h in hands]
        limits = []
        for f in flows:
            lim = _flow_wait_limit(f, level.wait_limit)
            limits.append(_to_ns(lim) if math.isfinite(lim) else None)
        self.limit_ns = limits
        # per-request records (open-loop requests first, in arrival order)
        n = int(reqs["arrival_ns"].size)
        self.r_flow = reqs["flow"].tolist()
        self.r_client = [-1] * n
        self.r_attempt = [0] * n
        self.r_arrival = reqs["arrival_ns"].tolist()
        self.r_service = reqs["service_ns"].tolist()
        self.r_initial = reqs["initial"].tolist()
        self.r_final = reqs["final"].tolist()
        self.r_extra = reqs["extra_ns"].tolist()
        self.r_max = [max(a, b) for a, b in zip(self.r_initial, self.r_final, strict=True)]
        self.r_held = list(self.r_max)
        self.r_work = (_seats_times_durations(reqs["initial"], self.G_ns)
                       + _seats_times_durations(reqs["final"], reqs["extra_ns"])).tolist()
        self.r_outcome = [_PENDING] * n
        self.r_start = [-1] * n
        self.r_end = [-1] * n
        self.r_queue = [-1] * n
        self.r_arrival_R = [0] * n
        self.r_retry_after = [math.nan] * n
        self.tracker = DroppedRequestsTracker()
        # queues
        nq = max(self.nq, 1)
        self.waiting: list[deque[int]] = [deque() for _ in range(nq)]
        self.wait_work = [0] * nq
        self.executing_q = [0] * nq
        self.seats_q = [0] * nq
        self.next_R = [0] * nq
        self.nonempty: set[int] = set()
        # the queue set
        self.R = 0
        self.last_sync = 0
        self.robin = 0
        self.enqueues = 0
        self.active = 0
        self.seats_requested = 0    # seats in use from queues + max seats queued
        self.seats_in_use = 0       # totSeatsInUse
        self.total_waiting = 0
        self.total_executing = 0
        # clients of closed flows: (flow index, client index in the flow)
        self.c_flow: list[int] = []
        self.c_index: list[int] = []
        self.c_calls_left: list[float] = []
        self.events: list[tuple[int, int, int, int]] = []
        self.seq = 0
        for fi, f in enumerate(flows):
            if isinstance(f, ClosedFlow):
                for j, t0 in enumerate(f.start_times()):
                    c = len(self.c_flow)
                    self.c_flow.append(fi)
                    self.c_index.append(j)
                    self.c_calls_left.append(math.inf if f.calls is None else f.calls)
                    self._push(_to_ns(t0), _EV_CALL, c * _ATTEMPTS)  # attempt 0 of a new call

    # ------------------------------------------------------------------ bookkeeping
    def _push(self, t: int, kind: int, payload: int) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, kind, self.seq, payload))

    def _work(self, initial: int, final: int, extra_ns: int) -> int:
        """``completeWorkEstimate``: initial work at G plus the final (pad) work."""
        return (seats_times_duration(initial, self.G_ns)
                + seats_times_duration(final, extra_ns))

    def _bound(self, q: int) -> None:
        """``boundNextDispatchLocked``: dispatch in the virtual world never precedes
        arrival (the anti-windup bound)."""
        dq = self.waiting[q]
        if dq:
            bound = self.r_arrival_R[dq[0]]
            if self.next_R[q] < bound:
                self.next_R[q] = bound

    def _can_accommodate(self, seats: int) -> bool:
        """``canAccommodateSeatsLocked``."""
        if self.exempt:
            return True
        if seats > self.CL:
            return self.total_executing == 0
        return self.seats_in_use + seats <= self.CL

    # ------------------------------------------------------------------ requests
    def _new_call(self, c: int, attempt: int, now: int) -> int:
        fi = self.c_flow[c]
        f = self.flows[fi]
        assert isinstance(f, ClosedFlow)
        rng = self.rng
        if f.service_distribution == "exponential":
            service = _to_ns(rng.standard_exponential() * f.service_time)
        else:
            service = _to_ns(f.service_time)
        values, p = f.seat_distribution()
        initial = int(values[0] if values.size == 1 else rng.choice(values, p=p))
        final, extra = f.final_seats, _to_ns(f.additional_latency)
        r = len(self.r_flow)
        if r >= _MAX_REQUESTS:
            raise ValueError(f"the run generated {_MAX_REQUESTS:g} requests; shorten the "
                             "horizon or give the clients fewer calls")
        self.r_flow.append(fi)
        self.r_client.append(self.c_index[c])
        self.r_attempt.append(attempt)
        self.r_arrival.append(now)
        self.r_service.append(max(service, 0))
        self.r_initial.append(initial)
        self.r_final.append(final)
        self.r_extra.append(extra)
        self.r_max.append(max(initial, final))
        self.r_held.append(max(initial, final))
        self.r_work.append(self._work(initial, final, extra))
        self.r_outcome.append(_PENDING)
        self.r_start.append(-1)
        self.r_end.append(-1)
        self.r_queue.append(-1)
        self.r_arrival_R.append(0)
        self.r_retry_after.append(math.nan)
        self._client_of_request.append(c)
        return r

    def _think(self, f: ClosedFlow) -> int:
        if f.think_distribution == "exponential":
            return _to_ns(self.rng.standard_exponential() * f.think_time)
        return _to_ns(f.think_time)

    def _schedule_next_call(self, c: int, t: int) -> None:
        if t < self.Tn and self.c_calls_left[c] > 0:
            self._push(t, _EV_CALL, c * _ATTEMPTS)

    def _answered_429(self, r: int, now: int) -> None:
        """A client's reaction to a 429: stop, or retry after Retry-After."""
        c = self._client_of_request[r] if r >= self.n_open else -1
        if c < 0:
            return
        f = self.flows[self.c_flow[c]]
        assert isinstance(f, ClosedFlow)
        if f.on_reject == "stop":
            return
        attempt = self.r_attempt[r]
        if attempt < f.max_retries:
            wait = self.r_retry_after[r] if f.retry_after is None else f.retry_after
            t = now + _to_ns(wait)
            if t < self.Tn:
                self._push(t, _EV_CALL, c * _ATTEMPTS + attempt + 1)
            return
        self._schedule_next_call(c, now + self._think(f))  # the call failed; go on

    def _start_request(self, r: int, now: int) -> None:
        """``StartRequest``: dispatch without a queue, or shuffle-shard and enqueue."""
        if self.exempt or self.nq == 0:
            if not self._can_accommodate(self.r_max[r]):
                self._reject(r, now)
                return
            self._execute(r, -1, now)
            return
        q = self._shuffle_shard(r)
        dq = self.waiting[q]
        if self.seats_in_use >= self.CL and len(dq) >= self.qll:
            self._reject(r, now)
            return
        if not dq and self.executing_q[q] == 0:
            self.next_R[q] = self.R
            self.active += 1
        self.r_queue[r] = q
        self.r_arrival_R[r] = self.R
        dq.append(r)
        self.nonempty.add(q)
        self.wait_work[q] += self.r_work[r]
        self.seats_requested += self.r_max[r]
        self.total_waiting += 1
        self._bound(q)
        limit = self.limit_ns[self.r_flow[r]]
        if limit is not None:
            self._push(now + limit, _EV_TIMEOUT, r)
        self._dispatch_as_much_as_possible(now)

    def _shuffle_shard(self, r: int) -> int:
        """``shuffleShardLocked``: the least waiting work of the hand, from a rotating
        offset; ties go to the first visited."""
        hand = self.hands[self.r_flow[r]]
        H = len(hand)
        off = self.enqueues % H
        self.enqueues += 1
        best = hand[off]
        best_work = self.wait_work[best]
        for k in range(1, H):
            q = hand[(off + k) % H]
            if self.wait_work[q] < best_work:
                best, best_work = q, self.wait_work[q]
        return best

    def _reject(self, r: int, now: int) -> None:
        self.r_outcome[r] = _REJECTED
        self.r_end[r] = now
        self.r_retry_after[r] = float(self.tracker.record(now))
        self._answered_429(r, now)

    def _dispatch_as_much_as_possible(self, now: int) -> None:
        while self.total_waiting and self.seats_in_use < self.CL and self._dispatch(now):
            pass

    def _dispatch(self, now: int) -> bool:
        """``findDispatchQueueToBoundLocked`` + ``dispatchLocked``."""
        nq, robin = self.nq, self.robin
        next_R, work, waiting = self.next_R, self.r_work, self.waiting
        q = -1
        best = order = 0
        for k in self.nonempty:  # the least virtual finish; ties: first after robin
            finish = next_R[k] + work[waiting[k][0]]
            if q < 0 or finish < best or (finish == best and (k - robin - 1) % nq < order):
                q, best, order = k, finish, (k - robin - 1) % nq
        dq = self.waiting[q]
        r = dq[0]
        if not self._can_accommodate(self.r_max[r]):
            return False
        dq.popleft()
        if not dq:
            self.nonempty.discard(q)
        self.wait_work[q] -= self.r_work[r]
        self.seats_requested -= self.r_max[r]
        self.total_waiting -= 1
        self.robin = q
        self._execute(r, q, now)
        self.next_R[q] += self.r_work[r]
        self._bound(q)
        return True

    def _execute(self, r: int, q: int, now: int) -> None:
        if self.r_final[r] > self.CL:
            self.r_final[r], self.r_extra[r], self.r_held[r] = _reshaped(
                self.r_initial[r], self.r_final[r], self.r_extra[r], self.CL)
        held = self.r_held[r]
        self.r_outcome[r] = _SERVED
        self.r_start[r] = now
        self.seats_in_use += held
        self.total_executing += 1
        if q >= 0:
            self.executing_q[q] += 1
            self.seats_q[q] += held
            self.seats_requested += held
        self.seq += 1
        heapq.heappush(self.events, (now + self.r_service[r], _EV_FINISH, self.seq, r))
        if r >= self.n_open:
            c = self._client_of_request[r]
            f = self.flows[self.c_flow[c]]
            assert isinstance(f, ClosedFlow)
            if f.think_from == "start":
                self._schedule_next_call(c, now + self._think(f))

    def _finish(self, r: int, now: int) -> None:
        """``finishRequestLocked``: correct the queue's nextDispatchR by the actual
        service time, release the seats now or after the pad."""
        self.total_executing -= 1
        self.r_end[r] = now
        q = self.r_queue[r]
        if q >= 0:
            self.executing_q[q] -= 1
            # G - S can be negative: SeatSeconds arithmetic wraps modulo 2**64 upstream,
            # which is this subtraction of a signed amount
            x = float(self.r_initial[r]) * float(self.G_ns - (now - self.r_start[r])) \
                / _NS_PER_SS
            self.next_R[q] -= _go_round(x)
            self._bound(q)
            if not self.waiting[q] and self.executing_q[q] == 0:
                self.active -= 1
        if self.r_extra[r] > 0:
            self._push(now + self.r_extra[r], _EV_RELEASE, r)
        else:
            self._release(r)
        if r >= self.n_open:
            c = self._client_of_request[r]
            f = self.flows[self.c_flow[c]]
            assert isinstance(f, ClosedFlow)
            if f.think_from == "finish":
                self._schedule_next_call(c, now + self._think(f))
        self._dispatch_as_much_as_possible(now)

    def _release(self, r: int) -> None:
        held = self.r_held[r]
        self.seats_in_use -= held
        q = self.r_queue[r]
        if q >= 0:
            self.seats_q[q] -= held
            self.seats_requested -= held

    def _time_out(self, r: int, now: int) -> None:
        """The request's context expired while queued: remove it, 429 (``wait``)."""
        q = self.r_queue[r]
        dq = self.waiting[q]
        if dq[0] == r:
            dq.popleft()
        else:
            dq.remove(r)
        if not dq:
            self.nonempty.discard(q)
        self.wait_work[q] -= self.r_work[r]
        self.seats_requested -= self.r_max[r]
        self.total_waiting -= 1
        if not dq and self.executing_q[q] == 0:
            self.active -= 1
        self._bound(q)
        self.r_outcome[r] = _TIMED_OUT
        self.r_end[r] = now
        self.r_retry_after[r] = float(self.tracker.record(now))
        self._answered_429(r, now)

    # ------------------------------------------------------------------ the loop
    def run(self) -> tuple[dict[str, np.ndarray], float, int]:
        self.n_open = n_open = len(self.r_flow)
        self._client_of_request: list[int] = [-1] * n_open
        events = 0
        busy = 0
        last = 0
        Wn, Tn = self.Wn, self.Tn
        heap = self.events
        pop = heapq.heappop
        arrival = self.r_arrival  # the open-loop arrivals come first, in time order
        outcome = self.r_outcome
        CL = float(self.CL)
        floor = math.floor
        i = 0
        while True:
            # the next open arrival goes before heap events of later times and before
            # closed-loop calls at its own time (the event order documented above)
            if i < n_open and (not heap or arrival[i] < heap[0][0]
                               or (arrival[i] == heap[0][0] and heap[0][1] > _EV_ARRIVE)):
                now, kind, payload = arrival[i], _EV_ARRIVE, i
                i += 1
            elif heap:
                now, kind, _, payload = pop(heap)
            else:
                break
            events += 1
            if now > Wn and last < Tn:  # seat-seconds in use over [W, T)
                busy += self.seats_in_use * ((now if now < Tn else Tn) - (last if last > Wn
                                                                          else Wn))
            last = now
            if kind == _EV_TIMEOUT and outcome[payload] != _PENDING:
                continue  # dispatched before its deadline: nothing happens
            if kind == _EV_CALL:
                c, attempt = divmod(payload, _ATTEMPTS)
                if attempt == 0:
                    if self.c_calls_left[c] <= 0 or now >= Tn:
                        continue  # the client is done: the server sees nothing
                    self.c_calls_left[c] -= 1
                payload = self._new_call(c, attempt, now)
            # syncTimeLocked, at every event the server acts on
            dt = now - self.last_sync
            self.last_sync = now
            if dt and self.active:
                sr = float(self.seats_requested)
                x = (sr if sr < CL else CL) / float(self.active) * float(dt) / _NS_PER_SS
                f = floor(x)
                self.R += f + 1 if x - f >= 0.5 else f
            if kind == _EV_FINISH:
                self._finish(payload, now)
            elif kind == _EV_RELEASE:
                self._release(payload)
                self._dispatch_as_much_as_possible(now)
            elif kind == _EV_TIMEOUT:
                self._time_out(payload, now)
            else:
                self._start_request(payload, now)
        rec = {
            "flow": np.array(self.r_flow, dtype=np.int64),
            "arrival_ns": np.array(self.r_arrival, dtype=np.int64),
            "outcome": np.array(self.r_outcome, dtype=np.int8),
            "start_ns": np.array(self.r_start, dtype=np.int64),
            "end_ns": np.array(self.r_end, dtype=np.int64),
            "max_seats": np.array(self.r_max, dtype=np.int64),
            "initial": np.array(self.r_initial, dtype=np.int64),
            "client": np.array(self.r_client, dtype=np.int64),
            "attempt": np.array(self.r_attempt, dtype=np.int64),
            "retry_after": np.array(self.r_retry_after, dtype=np.float64),
        }
        return rec, busy / NS, events
