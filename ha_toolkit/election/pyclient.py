"""Run the real Python client's leader election on a virtual clock.

This is the reference measurement for the ``client="python"`` flavour of the timing model.
It drives the unmodified leader election of the PyPI ``kubernetes`` package
(``kubernetes/leaderelection/leaderelection.py``, ``LeaderElection`` with
``electionconfig.Config``) and measures crash failovers, thousands of trials in seconds of
real time:

* **Virtual clock.** The module calls ``time.time()`` and ``time.sleep()`` through its
  module-level ``time``; for the duration of a run that name is bound to a
  :class:`VirtualClock`. Virtual time starts at a fixed epoch (``EPOCH``, about 2023) so
  that ``datetime.fromtimestamp`` and the client's ``int(time.time() * 1000)`` millisecond
  truncation behave as on a real clock.
* **Cooperative threads.** Every candidate runs ``LeaderElection.run()`` in its own thread
  (pooled across trials), but only one thread runs at a time: ``sleep(d)`` registers a
  wake-up at ``now + d``, advances the clock to the smallest registered wake-up, opens that
  thread's gate and blocks on its own (:class:`VirtualTimeScheduler`, a conservative
  discrete-event scheduler). Ties are broken by the order in which the wake-ups were
  registered, so a run is deterministic. The thread the client itself starts for
  ``onstarted_leading`` is a real one; its callback here does nothing.
* **In-memory lock** (:class:`InMemoryLock`, one per candidate, sharing a
  :class:`LeaseStore`): the resource-lock interface the module expects (``get``,
  ``create``, ``update``) with optimistic concurrency as the API server does it: an update
  succeeds only if the record's version is still the one this candidate last read (the
  ``resourceVersion`` that ``LeaseLock`` keeps in its ``lease_reference``). Each call takes
  ``api_latency`` of virtual time and acts on the store at its midpoint, as the timing
  model and the Monte Carlo oracle assume.
* **Crash.** Candidate 0 starts first and creates the lease; the others start at
  independent uniform moments over one follower period, so that their polling phases are
  uniform. After a warm-up the holder crashes at a uniform moment over one renew period
  (``retry_period + 2 api_latency``): its thread is parked for good, so a call in flight
  whose midpoint falls after the crash never reaches the store. With ``mode="partition"``
  the holder instead loses the API (its calls are refused from the crash on) and keeps
  running until its renew deadline passes and the client calls ``onstopped_leading``.
* **Measurement.** The failover time is from the crash to the moment a follower's
  acquiring ``update`` returns successfully (the client's ``acquire()`` returns True at
  that moment). The client keeps its observed time in whole milliseconds
  (``observed_time_milliseconds = int(time.time() * 1000)``) and compares it with
  ``int(now * 1000)``; the model compares exact times. The two differ only when a poll lands
  within a millisecond of the lease's end, which the virtual clock reproduces as the real
  one would.

Validation of the client's ``Config`` goes through ``sys.exit``; :func:`config_error`
returns its message so that it can be compared with :class:`ElectionConfig`'s.
"""

from __future__ import annotations

import copy
import heapq
import json
import math
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.progress import progress_bar

if TYPE_CHECKING:
    import pandas as pd

    from ha_toolkit.distribution import Distribution

__all__ = [
    "EPOCH",
    "MODES",
    "InMemoryLock",
    "LeaseStore",
    "PyClientTrials",
    "VirtualClock",
    "VirtualTimeScheduler",
    "compare_to_model",
    "config_error",
    "default_warmup",
    "ecdf_error",
    "ks_critical_value",
    "run_trial",
    "run_trials",
]

EPOCH = 1_700_000_000.0
"""Virtual ``time.time()`` at virtual time 0 (14 Nov 2023)."""

MODES = ("crash", "partition")
LOCK_NAME = "ha-toolkit"
LOCK_NAMESPACE = "default"

# Seconds of virtual time a trial may run past the crash before it is declared stuck.
_HORIZON_LEASES = 10.0


class _TrialOver(BaseException):
    """Raised inside a parked candidate thread to unwind it at the end of a trial.

    A ``BaseException`` so that no ``except Exception`` in the client swallows it.
    """


# --------------------------------------------------------------------------------------
# The virtual clock and its scheduler
# --------------------------------------------------------------------------------------


class _Worker:
    """A pooled thread that runs one task at a time; ``gate`` opens when it may run."""

    __slots__ = ("done", "gate", "name", "parked", "scheduler", "target", "thread")

    def __init__(self) -> None:
        self.gate = threading.Lock()
        self.gate.acquire()  # closed until a scheduler opens it
        self.scheduler: VirtualTimeScheduler | None = None
        self.target: Callable[[], Any] | None = None
        self.name = ""
        self.parked = False
        self.done = True
        self.thread = threading.Thread(target=self._loop, name="virtual-time-worker", daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while True:
            self.gate.acquire()
            scheduler, target = self.scheduler, self.target
            if scheduler is None or target is None:  # released without a job
                continue
            try:
                if not scheduler._stopping:
                    target()
            except _TrialOver:
                pass
            except BaseException as exc:  # noqa: BLE001 - re-raised by run()
                scheduler._error = exc
            self.done = True
            self.target = None
            scheduler._finished(self)


_pool: list[_Worker] = []
_pool_lock = threading.Lock()


def _take_worker() -> _Worker:
    with _pool_lock:
        return _pool.pop() if _pool else _Worker()


def _return_worker(worker: _Worker) -> None:
    worker.scheduler = None
    with _pool_lock:
        _pool.append(worker)


class VirtualTimeScheduler:
    """Cooperative threads on virtual time: one runs at a time, in wake-up order.

    Tasks run in pooled threads and call :meth:`sleep`; the thread that calls :meth:`run`
    waits until the run is over. A task that sleeps picks the next wake-up itself and
    opens that task's gate (or carries on if the next wake-up is its own), so each step
    costs at most one thread switch. Wake-ups at equal times run in the order they were
    registered.

    Attributes
    ----------
    now : float
        Virtual time in seconds since the start of the run.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Any]] = []
        self._seq = 0
        self._tasks: list[_Worker] = []
        self._current: _Worker | None = None
        self._main = threading.Lock()
        self._main.acquire()
        self._stopping = False
        self._error: BaseException | None = None
        self._until: Callable[[], bool] = lambda: True
        self._horizon = math.inf

    def _push(self, at: float, item: Any) -> None:
        heapq.heappush(self._heap, (at, self._seq, item))
        self._seq += 1

    def spawn(self, target: Callable[[], Any], at: float, name: str) -> _Worker:
        """Run ``target`` as a new task from virtual time ``at`` on."""
        task = _take_worker()
        task.scheduler = self
        task.target = target
        task.name = name
        task.parked = False
        task.done = False
        self._tasks.append(task)
        self._push(at, task)
        return task

    def call_at(self, at: float, func: Callable[[], Any]) -> None:
        """Run ``func()`` at virtual time ``at``, between tasks."""
        self._push(at, func)

    def park(self, task: _Worker) -> None:
        """Never wake ``task`` again (a crashed process)."""
        task.parked = True

    def _next(self) -> _Worker | None:
        """Advance the clock to the next task to run; None when the run is over."""
        heap = self._heap
        while True:
            if self._error is not None or self._until():
                return None
            if not heap:
                self._error = RuntimeError("nothing is left to run and the run is not over")
                return None
            at, _, item = heapq.heappop(heap)
            if at > self._horizon:
                self._error = RuntimeError(f"still running at virtual time {at:.3f} s")
                return None
            self.now = at
            if isinstance(item, _Worker):
                if not (item.parked or item.done):
                    return item
                continue
            try:
                item()
            except BaseException as exc:  # noqa: BLE001 - re-raised by run()
                self._error = exc

    def _hand_over(self, nxt: _Worker | None) -> None:
        self._current = nxt
        if nxt is None:
            self._main.release()
        else:
            nxt.gate.release()

    def _finished(self, task: _Worker) -> None:
        """A task's target returned (or unwound): let the next one run."""
        if self._stopping:
            self._main.release()
        else:
            self._hand_over(self._next())

    def sleep(self, seconds: float) -> None:
        """Block the calling task for ``seconds`` of virtual time."""
        task = self._current
        if task is None or task.thread is not threading.current_thread():
            raise RuntimeError("VirtualTimeScheduler.sleep called outside a scheduled task")
        if self._stopping:
            raise _TrialOver
        self._push(self.now + max(float(seconds), 0.0), task)
        nxt = self._next()
        if nxt is task:
            return
        self._hand_over(nxt)
        task.gate.acquire()
        if self._stopping:
            raise _TrialOver

    def run(self, until: Callable[[], bool], horizon: float = math.inf) -> None:
        """Run tasks in virtual-time order until ``until()`` is true.

        Raises
        ------
        RuntimeError
            If virtual time would pass ``horizon`` or nothing is left to run first.
        BaseException
            An exception raised by a task or a callback is re-raised here.
        """
        self._until = until
        self._horizon = float(horizon)
        self._hand_over(self._next())
        self._main.acquire()
        self._current = None
        if self._error is not None:
            raise self._error

    def shutdown(self) -> None:
        """Unwind every task that has not finished and return the threads to the pool."""
        self._stopping = True
        for task in self._tasks:
            if not task.done:
                task.gate.release()
                self._main.acquire()
        for task in self._tasks:
            _return_worker(task)
        self._tasks = []


class VirtualClock:
    """Stands in for the ``time`` module: ``time()`` and ``sleep()`` on virtual time.

    Parameters
    ----------
    scheduler : VirtualTimeScheduler
        Its ``now`` is the clock; ``sleep`` suspends the calling task.
    epoch : float
        What ``time()`` returns at virtual time 0.
    """

    def __init__(self, scheduler: VirtualTimeScheduler, epoch: float = EPOCH) -> None:
        self._scheduler = scheduler
        self._epoch = float(epoch)

    def time(self) -> float:
        """Seconds since the Unix epoch, on the virtual clock."""
        return self._epoch + self._scheduler.now

    def sleep(self, seconds: float) -> None:
        """Suspend the calling candidate for ``seconds`` of virtual time."""
        self._scheduler.sleep(seconds)


# --------------------------------------------------------------------------------------
# The in-memory lock
# --------------------------------------------------------------------------------------


class _ApiError(Exception):
    """What the client receives from a failed GET: ``body`` JSON with the status code."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"({status}) {reason}")
        self.status = status
        self.reason = reason
        self.body = json.dumps({"code": status})


@dataclass
class LeaseStore:
    """The API server's copy of one lock object, with a version for optimistic concurrency.

    Attributes
    ----------
    record : object or None
        The stored election record (a private copy), None before it is created.
    version : int
        Incremented at every successful create or update (the ``resourceVersion``).
    writes : list of tuple
        ``(virtual time, identity, version)`` of every successful write, in order.
    """

    record: Any = None
    version: int = 0
    writes: list[tuple[float, str, int]] | None = None

    def __post_init__(self) -> None:
        if self.writes is None:
            self.writes = []

    @property
    def holder(self) -> str | None:
        """``holder_identity`` of the stored record."""
        return None if self.record is None else self.record.holder_identity


class InMemoryLock:
    """A candidate's resource lock on a shared :class:`LeaseStore`.

    Implements what ``kubernetes.leaderelection`` calls on a lock: ``name``,
    ``namespace``, ``identity``, ``get``, ``create`` and ``update``. Every call lasts
    ``latency`` seconds of virtual time and acts on the store at its midpoint. ``update``
    succeeds only if the store's version is still the one this lock last read or wrote.

    Parameters
    ----------
    store : LeaseStore
        The shared object.
    identity : str
        The candidate's identity.
    scheduler : VirtualTimeScheduler
        Supplies virtual time; calls sleep on it.
    latency : float
        Round trip of one call, seconds.
    on_write_returned : callable, optional
        ``f(identity, time)`` called when a successful write returns to the caller.
    """

    def __init__(
        self,
        store: LeaseStore,
        identity: str,
        scheduler: VirtualTimeScheduler,
        latency: float = 0.0,
        on_write_returned: Callable[[str, float], None] | None = None,
        *,
        name: str = LOCK_NAME,
        namespace: str = LOCK_NAMESPACE,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.identity = str(identity)
        self._store = store
        self._scheduler = scheduler
        self._half = float(latency) / 2.0
        self._seen_version: int | None = None
        self._on_write_returned = on_write_returned
        self.cut_off_at = math.inf
        """Virtual time from which this candidate's calls fail (a partition)."""

    def _to_server(self) -> bool:
        """Travel to the server; return whether the call gets through."""
        if self._half > 0:
            self._scheduler.sleep(self._half)
        return self._scheduler.now < self.cut_off_at

    def _back(self) -> None:
        if self._half > 0:
            self._scheduler.sleep(self._half)

    def _wrote(self, ok: bool) -> bool:
        self._back()
        if ok and self._on_write_returned is not None:
            self._on_write_returned(self.identity, self._scheduler.now)
        return ok

    def get(self, name: str, namespace: str) -> tuple[bool, Any]:
        """``(True, record)`` or ``(False, error)``; error.body ``{"code": 404}`` if absent."""
        store = self._store
        if not self._to_server():
            result: tuple[bool, Any] = (False, _ApiError(503, "Service Unavailable"))
        elif store.record is None:
            result = (False, _ApiError(404, "Not Found"))
        else:
            self._seen_version = store.version
            result = (True, copy.copy(store.record))
        self._back()
        return result

    def create(self, name: str, namespace: str, election_record: Any) -> bool:
        """Create the object; False if it exists (or the call fails)."""
        store = self._store
        ok = self._to_server() and store.record is None
        if ok:
            self._commit(election_record)
        return self._wrote(ok)

    def update(self, name: str, namespace: str, updated_record: Any) -> bool:
        """Replace the record if nobody wrote it since this lock last read it."""
        store = self._store
        ok = (
            self._to_server()
            and store.record is not None
            and self._seen_version is not None
            and store.version == self._seen_version
        )
        if ok:
            self._commit(updated_record)
        return self._wrote(ok)

    def _commit(self, record: Any) -> None:
        store = self._store
        store.record = copy.copy(record)
        store.version += 1
        self._seen_version = store.version
        store.writes.append((self._scheduler.now, self.identity, store.version))


# --------------------------------------------------------------------------------------
# Trials
# --------------------------------------------------------------------------------------

_patch_lock = threading.Lock()


@contextmanager
def _virtual_time(clock: VirtualClock):
    """Bind the client module's ``time`` to ``clock`` (one run at a time per process)."""
    from kubernetes.leaderelection import leaderelection

    if not _patch_lock.acquire(blocking=False):
        raise RuntimeError("another virtual-time run of the Python client is in progress")
    saved = leaderelection.time
    leaderelection.time = clock
    try:
        yield
    finally:
        leaderelection.time = saved
        _patch_lock.release()


def _check_cfg(cfg: ElectionConfig) -> None:
    if not isinstance(cfg, ElectionConfig):
        raise TypeError(f"cfg must be an ElectionConfig, got {type(cfg).__name__}")
    if cfg.client != "python":
        raise ValueError(
            f"cfg.client must be 'python' for the Python client's harness, got {cfg.client!r}"
        )
    if cfg.candidates < 2:
        raise ValueError(f"invalid candidates {cfg.candidates}: a failover needs candidates >= 2")


def default_warmup(cfg: ElectionConfig) -> float:
    """Virtual time before the crash window: every follower has started and polled.

    The latest follower start (``retry_period + 3 api_latency``) plus two renew periods and
    one round trip.
    """
    return 2.0 * cfg.renew_period + 4.0 * cfg.api_latency + cfg.retry_period


def run_trial(
    cfg: ElectionConfig,
    follower_starts: np.ndarray,
    crash_at: float,
    *,
    mode: str = "crash",
) -> dict[str, Any]:
    """Run one election with the Python client and crash (or cut off) its leader.

    Parameters
    ----------
    cfg : ElectionConfig
        ``client="python"``; uses lease_duration, renew_deadline, retry_period,
        candidates and api_latency.
    follower_starts : array of float
        Virtual start time of each of the ``cfg.followers`` other candidates (seconds,
        > 0). Candidate 0 starts at 0 and creates the lease.
    crash_at : float
        Virtual time at which the current holder crashes (or is cut off from the API).
    mode : {"crash", "partition"}
        ``"crash"``: the holder's thread is parked. ``"partition"``: its API calls fail
        from ``crash_at`` on, and it runs until the client gives up leading.

    Returns
    -------
    dict
        ``failover`` (seconds from the crash until a follower's acquiring update
        returns), ``winner`` (candidate index), ``leader`` (index of the crashed holder),
        ``stopped_leading`` (seconds from the crash until the cut-off holder's
        ``onstopped_leading`` ran; NaN for a crash), ``last_renewal`` (seconds from the
        leader's last successful write to the crash) and ``leader_writes`` (virtual times
        at which the leader's writes reached the store before the crash).
    """
    from kubernetes.leaderelection import electionconfig, leaderelection

    _check_cfg(cfg)
    if mode not in MODES:
        raise ValueError(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}")
    starts = np.asarray(follower_starts, dtype=float).ravel()
    if starts.size != cfg.followers or not np.all(np.isfinite(starts)) or np.any(starts <= 0):
        raise ValueError(
            f"follower_starts must hold {cfg.followers} finite times > 0, got {starts!r}"
        )
    if not (math.isfinite(crash_at) and crash_at > starts.max()):
        raise ValueError(
            f"invalid crash_at {crash_at!r}: must be finite and after every follower start"
        )

    scheduler = VirtualTimeScheduler()
    clock = VirtualClock(scheduler)
    store = LeaseStore()
    state: dict[str, Any] = {"acquired": None, "stopped": None, "leader": None}
    identities = [f"candidate-{i}" for i in range(cfg.candidates)]

    def write_returned(identity: str, t: float) -> None:
        leader = state["leader"]
        if leader is not None and identity != leader and state["acquired"] is None:
            state["acquired"] = (identity, t)

    def stopped(identity: str) -> Callable[[], None]:
        def callback() -> None:
            if identity == state["leader"] and state["stopped"] is None:
                state["stopped"] = scheduler.now

        return callback

    locks = []
    tasks = []
    for i, identity in enumerate(identities):
        lock = InMemoryLock(store, identity, scheduler, cfg.api_latency, write_returned)
        config = electionconfig.Config(
            lock=lock,
            lease_duration=cfg.lease_duration,
            renew_deadline=cfg.renew_deadline,
            retry_period=cfg.retry_period,
            onstarted_leading=_noop,
            onstopped_leading=stopped(identity),
        )
        elector = leaderelection.LeaderElection(config)
        at = 0.0 if i == 0 else float(starts[i - 1])
        locks.append(lock)
        tasks.append((elector, at, identity))

    def crash() -> None:
        holder = store.holder
        if holder is None:
            raise RuntimeError("nobody holds the lease at the crash")
        state["leader"] = holder
        k = identities.index(holder)
        if mode == "crash":
            scheduler.park(spawned[k])
        else:
            locks[k].cut_off_at = crash_at

    def over() -> bool:
        if state["acquired"] is None:
            return False
        return mode == "crash" or state["stopped"] is not None

    horizon = crash_at + _HORIZON_LEASES * (cfg.lease_duration + cfg.renew_deadline)
    with _virtual_time(clock):
        spawned = [scheduler.spawn(e.run, at, name) for e, at, name in tasks]
        scheduler.call_at(crash_at, crash)
        try:
            scheduler.run(over, horizon)
        finally:
            scheduler.shutdown()

    leader = state["leader"]
    winner, acquired = state["acquired"]
    early = [w for w in store.writes if w[0] < crash_at and w[1] != leader and w[2] > 1]
    if early:
        raise RuntimeError(f"a follower took the lease from a healthy leader: {early[0]}")
    leader_writes = np.array([t for t, who, _ in store.writes if who == leader and t < crash_at])
    stopped_at = state["stopped"]
    return {
        "failover": acquired - crash_at,
        "winner": identities.index(winner),
        "leader": identities.index(leader),
        "stopped_leading": np.nan if stopped_at is None else stopped_at - crash_at,
        "last_renewal": crash_at - leader_writes[-1],
        "leader_writes": leader_writes,
    }


def _noop() -> None:
    """``onstarted_leading``: the work a leader would do (nothing here)."""


@dataclass(frozen=True, eq=False)
class PyClientTrials:
    """Failover times measured on the Python client.

    Attributes
    ----------
    cfg : ElectionConfig
        The configuration the client ran with.
    mode : str
        ``"crash"`` or ``"partition"``.
    failover : numpy.ndarray
        Seconds from the crash until a follower held the lease, one per trial.
    stopped_leading : numpy.ndarray
        Seconds from the cut-off until the old leader's ``onstopped_leading`` (NaN for
        crashes).
    last_renewal : numpy.ndarray
        Seconds from the leader's last successful write to the crash.
    crash_at : numpy.ndarray
        Virtual crash time of each trial.
    winner : numpy.ndarray
        Index of the candidate that took over.
    """

    cfg: ElectionConfig
    mode: str
    failover: np.ndarray
    stopped_leading: np.ndarray
    last_renewal: np.ndarray
    crash_at: np.ndarray
    winner: np.ndarray

    @property
    def n(self) -> int:
        """Number of trials."""
        return int(self.failover.size)

    def to_frame(self) -> pd.DataFrame:
        """One row per trial."""
        import pandas as pd

        return pd.DataFrame(
            {
                "failover": self.failover,
                "stopped_leading": self.stopped_leading,
                "last_renewal": self.last_renewal,
                "crash_at": self.crash_at,
                "winner": self.winner,
            }
        )

    def compare(self, model: Distribution | None = None, alpha: float = 0.01) -> dict[str, float]:
        """Compare the measured failovers with the exact model (see :func:`compare_to_model`).

        ``model`` defaults to ``failover(cfg, "crash")``.
        """
        if model is None:
            from ha_toolkit.election.timing import failover

            model = failover(self.cfg, "crash")
        return compare_to_model(self.failover, model, alpha=alpha)


def run_trials(
    cfg: ElectionConfig,
    n_trials: int,
    rng: np.random.Generator,
    *,
    mode: str = "crash",
    warmup: float | None = None,
    progress: bool = False,
) -> PyClientTrials:
    """Measure ``n_trials`` crash failovers of the Python client.

    Candidate 0 starts at 0 and creates the lease; follower i starts at
    ``2 l + U_i (retry_period + l)`` (uniform over one follower period, after the lease
    exists); the crash comes at ``warmup + V (retry_period + 2 l)`` (uniform over one renew
    period), with ``U_i``, ``V`` ~ Uniform[0, 1) from ``rng``.

    Parameters
    ----------
    cfg : ElectionConfig
        ``client="python"`` with ``candidates >= 2``.
    n_trials : int
        Number of trials (>= 1).
    rng : numpy.random.Generator
        The random stream of start and crash moments.
    mode : {"crash", "partition"}
        See :func:`run_trial`.
    warmup : float, optional
        Start of the crash window; default :func:`default_warmup`. Must leave every
        follower started.
    progress : bool, default False
        Show a :mod:`tqdm.auto` progress bar over the trials (a trial runs the real
        client's loops, about a millisecond of CPU each).

    Returns
    -------
    PyClientTrials
    """
    _check_cfg(cfg)
    if mode not in MODES:
        raise ValueError(f"invalid mode {mode!r}: expected one of {', '.join(MODES)}")
    if isinstance(n_trials, bool) or not isinstance(n_trials, (int, np.integer)) or n_trials < 1:
        raise ValueError(f"invalid n_trials {n_trials!r}: expected an integer >= 1")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    latency = cfg.api_latency
    follower_period = cfg.retry_period + latency
    first_start = 2.0 * latency
    latest_start = first_start + follower_period
    if warmup is None:
        warmup = default_warmup(cfg)
    if not (math.isfinite(warmup) and warmup >= latest_start):
        raise ValueError(
            f"invalid warmup {warmup!r}: must be finite and >= {latest_start:g} s "
            "(every follower started)"
        )
    n = int(n_trials)
    starts = first_start + follower_period * rng.random((n, cfg.followers))
    # strictly after 0, so that candidate 0 is first even with no latency
    starts = np.maximum(starts, np.nextafter(0.0, 1.0))
    crash_at = warmup + cfg.renew_period * rng.random(n)
    rows = []
    with progress_bar(n, progress, desc="Python client trials") as bar:
        for k in range(n):
            rows.append(run_trial(cfg, starts[k], float(crash_at[k]), mode=mode))
            bar.update(1)
    return PyClientTrials(
        cfg=cfg,
        mode=mode,
        failover=np.array([r["failover"] for r in rows]),
        stopped_leading=np.array([r["stopped_leading"] for r in rows]),
        last_renewal=np.array([r["last_renewal"] for r in rows]),
        crash_at=crash_at,
        winner=np.array([r["winner"] for r in rows], dtype=int),
    )


# --------------------------------------------------------------------------------------
# Comparison with a model, and the client's own validation
# --------------------------------------------------------------------------------------


def ks_critical_value(n: int, alpha: float = 0.01) -> float:
    """Critical value of the one-sample Kolmogorov-Smirnov distance at level ``alpha``.

    The exact finite-sample distribution (``scipy.stats.kstwo``) of ``sup |F_n - F|``.
    """
    from scipy.stats import kstwo

    if int(n) != n or n < 1:
        raise ValueError(f"invalid n {n!r}: expected an integer >= 1")
    if not 0 < alpha < 1:
        raise ValueError(f"invalid alpha {alpha!r}: must be in (0, 1)")
    return float(kstwo.isf(alpha, int(n)))


def compare_to_model(
    sample: np.ndarray, model: Distribution, alpha: float = 0.01
) -> dict[str, float]:
    """Mean, p99 and Kolmogorov-Smirnov distance of a sample against a model.

    Parameters
    ----------
    sample : array of float
        Measured values.
    model : Distribution
        The predicted distribution (its ``cdf``, ``mean`` and ``ppf`` are used).
    alpha : float
        Level of the KS critical value.

    Returns
    -------
    dict
        ``n``, ``mean_measured``, ``mean_model``, ``mean_rel`` (model / measured - 1),
        ``p99_measured``, ``p99_model``, ``p99_rel``, ``ks`` (``sup |F_n - F|``),
        ``ks_critical`` and ``ks_pvalue``.
    """
    from scipy.stats import kstwo

    ks = model.ks_distance(sample)
    x = np.asarray(sample, dtype=float).ravel()
    n = x.size
    p99_measured = float(np.quantile(x, 0.99))
    p99_model = float(model.ppf(0.99))
    mean_measured = float(x.mean())
    return {
        "n": float(n),
        "mean_measured": mean_measured,
        "mean_model": float(model.mean()),
        "mean_rel": float(model.mean()) / mean_measured - 1.0,
        "p99_measured": p99_measured,
        "p99_model": p99_model,
        "p99_rel": p99_model / p99_measured - 1.0,
        "ks": ks,
        "ks_critical": ks_critical_value(n, alpha),
        "ks_pvalue": float(kstwo.sf(ks, n)),
    }


def ecdf_error(sample: np.ndarray, model: Distribution) -> pd.DataFrame:
    """Empirical CDF of a sample against a model's CDF, at every sample point.

    Parameters
    ----------
    sample : array of float
        Measured values.
    model : Distribution
        The predicted distribution.

    Returns
    -------
    pandas.DataFrame
        Sorted ``x``, the empirical CDF ``ecdf`` (``i / n`` at the i-th smallest value),
        the model's ``cdf`` and ``error = ecdf - cdf``. The largest ``|error|``, together
        with the same difference just below each point, is the Kolmogorov-Smirnov distance
        of :func:`compare_to_model`.
    """
    import pandas as pd

    x = np.sort(np.asarray(sample, dtype=float).ravel())
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise ValueError("sample must be non-empty and finite")
    ecdf = np.arange(1, x.size + 1) / x.size
    cdf = np.asarray(model.cdf(x), dtype=float)
    return pd.DataFrame({"x": x, "ecdf": ecdf, "cdf": cdf, "error": ecdf - cdf})


def config_error(lease_duration: float, renew_deadline: float, retry_period: float) -> str | None:
    """The Python client's verdict on lease settings: its ``sys.exit`` message, or None.

    Builds ``kubernetes.leaderelection.electionconfig.Config`` with an in-memory lock and
    returns the message of the ``SystemExit`` it raises, or None if it accepts them.
    """
    from kubernetes.leaderelection import electionconfig

    lock = InMemoryLock(LeaseStore(), "candidate-0", VirtualTimeScheduler())
    try:
        electionconfig.Config(
            lock=lock,
            lease_duration=lease_duration,
            renew_deadline=renew_deadline,
            retry_period=retry_period,
            onstarted_leading=_noop,
            onstopped_leading=None,
        )
    except SystemExit as exc:
        return str(exc.code)
    return None
