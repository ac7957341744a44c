r"""API Priority and Fairness: priority levels, concurrency allocation, seats, level models.

What the API server does (apiserver ``pkg/util/flowcontrol``, Kubernetes 1.26 and later):

* **Levels.** Every request is matched by a FlowSchema to a priority level. The bootstrap
  configuration (``pkg/apis/flowcontrol/bootstrap/default.go``) per Kubernetes minor
  version (:data:`KUBERNETES_VERSIONS`, default the newest) is in
  ``data/apf_priority_levels.csv`` and ``data/apf_flow_schemas.csv``, read by
  :func:`default_priority_levels`, :func:`bootstrap_flow_schemas` and
  :func:`match_flow_schema`; any :class:`PriorityLevel` can be made by hand. Since 1.34 the
  FlowSchemas ``workload-leader-election`` and ``endpoint-controller`` are gone.
* **Allocation** (``apf_controller.go``, ``finishQueueSetReconfigsLocked``). The server's
  concurrency limit ``ServerCL`` (``--max-requests-inflight`` + ``--max-mutating-requests-
  inflight``, 400 + 200) is split by the nominal concurrency shares (NCS):
  ``NominalCL = ceil(ServerCL * NCS / sum NCS)``, ``LendableCL = round(NominalCL *
  lendablePercent / 100)``, ``BorrowingCL = round(NominalCL * borrowingLimitPercent / 100)``
  or ``ServerCL`` when unset, ``minCL = NominalCL - LendableCL``, ``maxCL = NominalCL +
  BorrowingCL`` (:func:`allocate`; Go's ``math.Round`` rounds halves away from zero).
* **Borrowing** (``updateBorrowingLocked`` and ``computeConcurrencyAllocation`` in
  ``conc_alloc.go``). Every 10 s each level's CurrentCL is recomputed from its seat demand
  (seats in use plus seats of queued requests) over the last period: the lower bound is
  ``max(minCL, min(NominalCL, high watermark))``, the target ``max(lower bound, smoothed
  demand)``, the upper bound ``maxCL``; the sum of the NominalCLs is shared out as
  ``clip(fairProp * target, lower, upper)`` with one ``fairProp`` for all levels, and each
  result is rounded (:func:`concurrency_allocation`, :func:`borrow`). The smoothed demand
  is ``max(envelope, 0.977 * previous + 0.023 * envelope)`` with ``envelope = mean +
  standard deviation`` of the demand (:func:`smoothed_seat_demand`).
* **Seats** (``pkg/util/flowcontrol/request``). Most requests take one seat; a WATCH that
  sends initial events is priced as a LIST when WatchList is on (1.32, 1.34+;
  :func:`watch_work_estimate`). A LIST takes
  ``ceil(objects processed / 100)`` seats (count-based estimator) or ``ceil(bytes held /
  100 kB)`` (size-based estimator, feature SizeBasedListCostEstimate, on by default since
  1.34), between 1 and the level's cap ``max(1, min(ceil(0.15 NominalCL), NominalCL /
  handSize))``, itself capped at 10 (count-based) or 100 (size-based). A mutating request
  with ``W >= 10`` interested watches holds ``ceil(W / 10)`` seats (capped like a LIST at
  10) for an extra ``ceil(W/10) * 5 ms / seats`` after it returns
  (:func:`list_work_estimate`, :func:`mutating_work_estimate`).
* **Queuing** (``fairqueuing/queueset/queueset.go``). A flow is shuffle-sharded onto
  ``handSize`` of the level's queues and joins the one with the least waiting work; a
  request is rejected (429) only when the level's seats are all in use *and* that queue
  already holds ``queueLengthLimit`` requests; a queued request is rejected after waiting a
  quarter of its deadline, at most a minute (:func:`queue_wait_limit`: 15 s for the default
  60 s request timeout, 1.25 s for a lease call of kube-scheduler carrying ``?timeout=5s``).
  The per-level analytic model is :func:`level_queue`; the event-level model is
  :mod:`ha_toolkit.apiserver.des`.

Not modelled: borrowing by the exempt level (1.28+; with the default exempt NCS of 0 and
no exempt traffic it changes nothing), the seat demand's own dynamics (the caller gives the
high watermark and smoothed demand of a period), and Retry-After back-off.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from ha_toolkit._data import data_path
from ha_toolkit.apiserver.queues import _as_float, _check_rate, erlang_b, mmck
from ha_toolkit.apiserver.shuffle import (
    MAX_HASH_BITS,
    expected_queues_used,
    required_entropy_bits,
)

__all__ = [
    "BORROWING_ADJUSTMENT_PERIOD",
    "DEFAULT_KUBERNETES_VERSION",
    "DEFAULT_SERVER_CL",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_WAIT_LIMIT",
    "KUBERNETES_VERSIONS",
    "MAX_WAIT_LIMIT",
    "SEAT_DEMAND_SMOOTHING",
    "Allocation",
    "LevelQueueResult",
    "PriorityLevel",
    "WorkEstimate",
    "allocate",
    "bootstrap_flow_schemas",
    "borrow",
    "concurrency_allocation",
    "default_priority_levels",
    "estimate_list_seats",
    "level_max_seats",
    "level_queue",
    "list_work_estimate",
    "load_priority_levels",
    "match_flow_schema",
    "mix_summary",
    "mutating_work_estimate",
    "watch_list_enabled",
    "watch_work_estimate",
    "priority_levels_frame",
    "queue_wait_limit",
    "smoothed_seat_demand",
]

#: 400 + 200: ``--max-requests-inflight`` plus ``--max-mutating-requests-inflight``.
DEFAULT_SERVER_CL = 600
#: ``--request-timeout``: the API server's default (and longest) request deadline, seconds.
DEFAULT_REQUEST_TIMEOUT = 60.0
#: Seconds a request may wait in its queue: a quarter of the default 60 s request timeout.
DEFAULT_WAIT_LIMIT = 15.0
#: The hard cap on any request's queue-wait limit (``getRequestWaitContext``), seconds.
MAX_WAIT_LIMIT = 60.0
#: CurrentCL is recomputed this often (seconds), ``borrowingAdjustmentPeriod``.
BORROWING_ADJUSTMENT_PERIOD = 10.0
#: ``seatDemandSmoothingCoefficient``: a half-life of about 5 minutes at 10 s steps.
SEAT_DEMAND_SMOOTHING = 0.977

_DATA_FILE = "apf_priority_levels.csv"
_FLOW_SCHEMA_FILE = "apf_flow_schemas.csv"
#: Kubernetes minor versions whose bootstrap APF configuration the data files hold (read in
#: kubernetes/apiserver at the tags kubernetes-1.29.0 ... kubernetes-1.36.0).
KUBERNETES_VERSIONS = ("1.29", "1.30", "1.31", "1.32", "1.33", "1.34", "1.35", "1.36")
#: The newest of them, the default.
DEFAULT_KUBERNETES_VERSION = KUBERNETES_VERSIONS[-1]
# computeConcurrencyAllocation: targets below MinTarget count as MinTarget; epsilon slack.
_MIN_TARGET = 0.001
_EPSILON = 1e-7
# work estimator constants (request/config.go, list_work_estimator.go)
_OBJECTS_PER_SEAT = 100.0
_BYTES_PER_SEAT = 100_000
_CACHE_MAX_MEMORY = 1_000_000
_MAX_OBJECT_SIZE = 1_500_000
_MAX_LIST_SEATS_COUNT = 10
_MAX_LIST_SEATS_SIZE = 100
_MAX_MUTATING_SEATS = 10
_WATCHES_PER_SEAT = 10.0
_EVENT_DURATION = 0.005
_LEVEL_MAX_SEATS_FRACTION = 0.15
# Gauss-Legendre nodes for the mean queue time
_GL_NODES = 64
# level_queue: rejection probabilities this close (relative) count as equal
_TIE = 1e-6


def _round_half_away(numerator: int, denominator: int) -> int:
    """Go's math.Round(numerator / denominator) for non-negative integers, exactly."""
    return (2 * numerator + denominator) // (2 * denominator)


def _check_count(value: Any, name: str, low: int = 0, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be a whole number, got {value!r}")
    v = int(value)
    if v < low or (high is not None and v > high):
        rule = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return v


# ----------------------------------------------------------------------- priority levels
@dataclass(frozen=True)
class PriorityLevel:
    """One priority level (a PriorityLevelConfiguration).

    Parameters
    ----------
    name : str
        Level name.
    type : {"limited", "exempt"}
        Exempt requests are never queued nor rejected.
    nominal_concurrency_shares : int
        NCS, the level's weight in the split of ServerCL (>= 0).
    lendable_percent : int, default 0
        Share of NominalCL other levels may borrow, 0..100.
    borrowing_limit_percent : int or None, default None
        Limit on seats borrowed, in percent of NominalCL; None is unlimited (ServerCL).
    queues : int, default 0
        Queues of a queuing level; 0 means the limit response is Reject (no queues).
    hand_size : int, default 0
        Queues dealt to each flow (1..queues for a queuing level, else 0).
    queue_length_limit : int, default 0
        Requests a queue may hold before a new one is rejected (>= 1 when queuing).

    Raises
    ------
    ValueError
        Naming the field and the rule it breaks (the API server's validation rules: an
        exempt level has no queues; ``hand_size <= queues``; ``ceil(log2(queues) *
        hand_size) <= 60`` bits of hash, ``shufflesharding.RequiredEntropyBits`` as
        ``ValidatePriorityLevelQueuingConfiguration`` checks it, with its message).
    """

    name: str
    type: str = "limited"
    nominal_concurrency_shares: int = 30
    lendable_percent: int = 0
    borrowing_limit_percent: int | None = None
    queues: int = 0
    hand_size: int = 0
    queue_length_limit: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if self.type not in ("limited", "exempt"):
            raise ValueError(f"type must be 'limited' or 'exempt', got {self.type!r}")
        set_ = object.__setattr__
        set_(self, "nominal_concurrency_shares", _check_count(
            self.nominal_concurrency_shares, "nominal_concurrency_shares"))
        set_(self, "lendable_percent", _check_count(self.lendable_percent, "lendable_percent",
                                                    0, 100))
        if self.borrowing_limit_percent is not None:
            set_(self, "borrowing_limit_percent", _check_count(
                self.borrowing_limit_percent, "borrowing_limit_percent"))
        q = _check_count(self.queues, "queues")
        h = _check_count(self.hand_size, "hand_size")
        qll = _check_count(self.queue_length_limit, "queue_length_limit")
        set_(self, "queues", q)
        set_(self, "hand_size", h)
        set_(self, "queue_length_limit", qll)
        if self.type == "exempt":
            if q or h or qll:
                raise ValueError(f"an exempt level has no queues: {self.name!r} has queues={q}, "
                                 f"hand_size={h}, queue_length_limit={qll}")
            if self.borrowing_limit_percent is not None:
                raise ValueError("borrowing_limit_percent must be None for an exempt level")
            return
        if q == 0:
            if h or qll:
                raise ValueError(f"hand_size and queue_length_limit must be 0 without queues, "
                                 f"got {h} and {qll} for {self.name!r}")
            return
        if not 1 <= h <= q:
            raise ValueError(f"hand_size must lie in [1, queues={q}], got {h} for {self.name!r}")
        if qll < 1:
            raise ValueError(f"queue_length_limit must be >= 1 for a queuing level, got {qll}")
        if required_entropy_bits(q, h) > MAX_HASH_BITS:
            raise ValueError(f"hand_size: required entropy bits of deckSize {q} and handSize {h} "
                             f"should not be greater than {MAX_HASH_BITS} ({self.name!r})")

    @property
    def exempt(self) -> bool:
        """True for an exempt level."""
        return self.type == "exempt"

    @property
    def queuing(self) -> bool:
        """True for a limited level whose limit response is Queue."""
        return self.type == "limited" and self.queues > 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PriorityLevel:
        """Build a level from a mapping with the CSV's columns (extra keys ignored)."""
        blp = row.get("borrowing_limit_percent")
        if blp is None or (isinstance(blp, float) and math.isnan(blp)) or blp == "":
            blp = None
        kwargs: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in row and f.name != "borrowing_limit_percent":
                kwargs[f.name] = row[f.name]
        return cls(**kwargs, borrowing_limit_percent=blp)


# "1.30" must stay a string (as a float it would read 1.3)
_VERSION_DTYPES = {"first_version": str, "last_version": str}


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _check_version(version: str | None) -> str:
    """A known minor version such as "1.34" (None: the newest); "v1.34.2" is accepted."""
    if version is None:
        return DEFAULT_KUBERNETES_VERSION
    text = str(version).strip().lstrip("v")
    minor = ".".join(text.split(".")[:2])
    if minor not in KUBERNETES_VERSIONS:
        known = ", ".join(KUBERNETES_VERSIONS)
        raise ValueError(f"unknown Kubernetes version {version!r}: known versions are {known}")
    return minor


def _in_version(frame: pd.DataFrame, version: str) -> pd.Series:
    """Rows whose [first_version, last_version] holds ``version`` (empty last: still current)."""
    minor = _minor(version)
    first = frame["first_version"].astype(str).map(_minor)
    last = frame["last_version"].map(
        lambda v: _minor(str(v)) if isinstance(v, str) and v else 10**6
    )
    return (first <= minor) & (minor <= last)


def load_priority_levels(
    path: str | Path | None = None, version: str | None = None
) -> tuple[PriorityLevel, ...]:
    """Read priority levels from a CSV with the columns of ``data/apf_priority_levels.csv``.

    Parameters
    ----------
    path : str or Path, optional
        CSV file; the shipped defaults when omitted.
    version : str, optional
        Kubernetes minor version, e.g. ``"1.33"``: keep the rows whose ``first_version`` /
        ``last_version`` columns hold it (a file without them is taken as is). Default: the
        newest of :data:`KUBERNETES_VERSIONS`.

    Returns
    -------
    tuple of PriorityLevel
        In file order.
    """
    frame = pd.read_csv(path if path is not None else data_path(_DATA_FILE), dtype=_VERSION_DTYPES)
    if "first_version" in frame.columns:
        frame = frame[_in_version(frame, _check_version(version))]
    missing = {"name", "type", "nominal_concurrency_shares"} - set(frame.columns)
    if missing:
        raise ValueError(f"priority-level CSV lacks columns {sorted(missing)}")
    levels = tuple(PriorityLevel.from_row(r) for r in frame.to_dict("records"))
    names = [lv.name for lv in levels]
    if len(set(names)) != len(names):
        raise ValueError(f"priority-level names must be unique, got {names}")
    return levels


def default_priority_levels(version: str | None = None) -> tuple[PriorityLevel, ...]:
    """The API server's default priority levels (bootstrap configuration) of ``version``.

    Parameters
    ----------
    version : str, optional
        Kubernetes minor version of :data:`KUBERNETES_VERSIONS`; the newest by default. The
        priority levels are the same from 1.29 to 1.36 (kubernetes/apiserver
        ``pkg/apis/flowcontrol/bootstrap/default.go``).
    """
    return load_priority_levels(version=version)


def priority_levels_frame(version: str | None = None) -> pd.DataFrame:
    """The shipped CSV of default priority levels of ``version``, with source and notes."""
    frame = pd.read_csv(data_path(_DATA_FILE), dtype=_VERSION_DTYPES)
    return frame[_in_version(frame, _check_version(version))].reset_index(drop=True)


def bootstrap_flow_schemas(version: str | None = None) -> pd.DataFrame:
    """The bootstrap FlowSchemas of a Kubernetes version, in matching order.

    One row per policy rule (a FlowSchema with two resource rules has two rows), sorted as
    the API server matches them: by ``matching_precedence``, then by name
    (``apf_controller.go``). Lists are space-separated, ``*`` is "all", ``core`` the core
    API group ``""``, and a service account is ``namespace/name``.

    Parameters
    ----------
    version : str, optional
        Kubernetes minor version of :data:`KUBERNETES_VERSIONS`; the newest by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``priority_level``, ``matching_precedence``, ``distinguisher``,
        ``users``, ``groups``, ``service_accounts``, ``verbs``, ``api_groups``,
        ``resources``, ``non_resource_urls``, ``first_version``, ``last_version`` and
        ``source`` (file and Go variable).

    Examples
    --------
    >>> names = set(bootstrap_flow_schemas("1.33")["name"])
    >>> "workload-leader-election" in names, "workload-leader-election" in set(
    ...     bootstrap_flow_schemas("1.34")["name"])
    (True, False)
    """
    frame = pd.read_csv(data_path(_FLOW_SCHEMA_FILE), dtype=str, keep_default_na=False)
    frame["matching_precedence"] = frame["matching_precedence"].astype(int)
    frame = frame[_in_version(frame, _check_version(version))]
    return frame.sort_values(["matching_precedence", "name"], kind="stable").reset_index(
        drop=True
    )


def _listed(cell: str, value: str) -> bool:
    items = cell.split()
    return "*" in items or value in items


def _subject_matches(row: Mapping[str, str], user: str, groups: set[str]) -> bool:
    if user in row["users"].split() or groups & set(row["groups"].split()):
        return True
    prefix = "system:serviceaccount:"
    if user.startswith(prefix) and user.count(":") == 3:
        namespace, name = user[len(prefix):].split(":")
        for account in row["service_accounts"].split():
            ns, _, who = account.partition("/")
            if ns == namespace and who in ("*", name):
                return True
    return False


def match_flow_schema(
    user: str,
    verb: str,
    resource: str,
    api_group: str = "",
    *,
    groups: Iterable[str] = (),
    version: str | None = None,
) -> dict[str, Any]:
    """The bootstrap FlowSchema (and priority level) a resource request is classified into.

    The first FlowSchema in matching order (:func:`bootstrap_flow_schemas`) with a rule whose
    subjects include the user (by name, by group or as a service account) and whose verbs,
    API groups and resources include the request's. A service account
    ``system:serviceaccount:NS:NAME`` belongs to ``system:serviceaccounts`` and
    ``system:serviceaccounts:NS``; every user here to ``system:authenticated``.

    Parameters
    ----------
    user : str
        The requesting user, e.g. ``"system:kube-scheduler"``.
    verb, resource : str
        E.g. ``"update"``, ``"leases"``.
    api_group : str, default ""
        The resource's API group (``""``: core), e.g. ``"coordination.k8s.io"``.
    groups : iterable of str
        The user's groups (``system:masters``, ``system:nodes``, ...).
    version : str, optional
        Kubernetes minor version; the newest by default.

    Returns
    -------
    dict
        ``flow_schema``, ``priority_level``, ``matching_precedence``, ``distinguisher``.

    Examples
    --------
    >>> sa = "system:serviceaccount:kube-system:my-operator"
    >>> match_flow_schema(sa, "update", "configmaps", version="1.33")["priority_level"]
    'leader-election'
    >>> match_flow_schema(sa, "update", "configmaps", version="1.34")["priority_level"]
    'workload-high'
    """
    every = set(groups) | {"system:authenticated"}
    if user.startswith("system:serviceaccount:") and user.count(":") == 3:
        every |= {"system:serviceaccounts", f"system:serviceaccounts:{user.split(':')[2]}"}
    group = api_group or "core"
    for row in bootstrap_flow_schemas(version).to_dict("records"):
        if not row["resources"] or not _subject_matches(row, user, every):
            continue
        if (_listed(row["verbs"], verb) and _listed(row["api_groups"], group)
                and _listed(row["resources"], resource)):
            return {
                "flow_schema": row["name"],
                "priority_level": row["priority_level"],
                "matching_precedence": int(row["matching_precedence"]),
                "distinguisher": row["distinguisher"],
            }
    raise ValueError(f"no bootstrap FlowSchema matches {user!r} {verb} {resource}")


# ------------------------------------------------------------------------ queue-wait limit
def _nanoseconds(value: Any, name: str) -> int:
    """Seconds -> integer nanoseconds (Go's time.Duration), refusing what is not >= 0."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}") from None
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return round(seconds * 1_000_000_000)


def queue_wait_limit(
    request_timeout: float | None = None,
    *,
    server_request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
) -> float:
    """How long APF lets a request wait in its queue before rejecting it (429).

    Two filters combine (kubernetes/apiserver):

    * ``pkg/endpoints/filters/request_deadline.go`` ``withRequestDeadline`` gives every
      request that is not long-running a deadline: the client's ``?timeout=`` when it is
      above 0 and below ``--request-timeout``, else ``--request-timeout`` (60 s by default).
      client-go sends ``?timeout=`` whenever its ``rest.Config.Timeout`` is set
      (``rest/request.go``), e.g. the lock client's per-call timeout.
    * ``pkg/server/filters/priority-and-fairness.go`` ``getRequestWaitContext``: the wait
      limit is a quarter of that deadline (Go's integer ``Duration / 4``), or, for a request
      without a deadline (a watch being initialised), the server's default
      ``--request-timeout / 4`` (``pkg/server/config.go``); in every case at most 1 min.

    Parameters
    ----------
    request_timeout : float or None, default None
        The request's ``?timeout=`` in seconds; None (or 0) when it carries none.
    server_request_timeout : float, default 60.0
        The API server's ``--request-timeout``, seconds (> 0).

    Returns
    -------
    float
        The queue-wait limit in seconds.

    Examples
    --------
    >>> queue_wait_limit(), queue_wait_limit(5.0), queue_wait_limit(107.0)
    (15.0, 1.25, 15.0)
    >>> queue_wait_limit(server_request_timeout=600.0)
    60.0
    """
    server = _nanoseconds(server_request_timeout, "server_request_timeout")
    if server <= 0:
        raise ValueError(
            f"server_request_timeout must be > 0 seconds, got {server_request_timeout!r}"
        )
    deadline = server
    if request_timeout is not None:
        asked = _nanoseconds(request_timeout, "request_timeout")
        if 0 < asked < server:
            deadline = asked
    cap = round(MAX_WAIT_LIMIT * 1_000_000_000)
    return min(deadline // 4, cap) / 1_000_000_000


# ---------------------------------------------------------------------------- allocation
def level_max_seats(nominal_cl: int, hand_size: int) -> int:
    """The work estimator's per-level cap on seats of one request.

    ``max(1, min(ceil(0.15 * NominalCL), NominalCL // handSize))``, computed as
    ``apf_controller.go`` does (the float product, integer division).

    Parameters
    ----------
    nominal_cl : int
        The level's NominalCL (>= 0).
    hand_size : int
        Its hand size (>= 1).

    Returns
    -------
    int
        The cap (>= 1); LIST and mutating estimates are further capped at 10 (100 for a
        size-based LIST estimate).
    """
    n = _check_count(nominal_cl, "nominal_cl")
    h = _check_count(hand_size, "hand_size", 1)
    return max(1, min(math.ceil(n * _LEVEL_MAX_SEATS_FRACTION), n // h))


@dataclass(frozen=True, eq=False)
class Allocation:
    """Concurrency limits of a set of priority levels for one ServerCL.

    Attributes
    ----------
    levels : tuple of PriorityLevel
        The levels, in input order.
    server_cl : int
        The server's concurrency limit.
    share_sum : int
        Sum of the nominal concurrency shares.
    nominal_cl, lendable_cl, borrowing_cl, min_cl, max_cl : numpy.ndarray
        Per level, as ``finishQueueSetReconfigsLocked`` computes them.
    max_current_cl : numpy.ndarray
        The most CurrentCL can ever reach: ``maxCL``, and for a limited level no more than
        its NominalCL plus everything the other limited levels can lend (the sum of the
        allocation and the others' lower bounds imply it).
    max_seats : numpy.ndarray
        Per-level cap of the work estimator (0 for a level without queues: only the global
        caps apply there).
    """

    levels: tuple[PriorityLevel, ...]
    server_cl: int
    share_sum: int
    nominal_cl: np.ndarray = field(repr=False)
    lendable_cl: np.ndarray = field(repr=False)
    borrowing_cl: np.ndarray = field(repr=False)
    min_cl: np.ndarray = field(repr=False)
    max_cl: np.ndarray = field(repr=False)
    max_current_cl: np.ndarray = field(repr=False)
    max_seats: np.ndarray = field(repr=False)

    @property
    def names(self) -> list[str]:
        """Level names in order."""
        return [lv.name for lv in self.levels]

    @property
    def nominal_cl_sum(self) -> int:
        """Sum of the NominalCLs: what borrowing shares out (a little above ServerCL)."""
        return int(self.nominal_cl.sum())

    def index(self, name: str) -> int:
        """Position of the level called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"no priority level {name!r}; levels: {self.names}") from None

    def level(self, name: str) -> dict[str, Any]:
        """One row of :meth:`to_frame` as a dict."""
        return self.to_frame().iloc[self.index(name)].to_dict()

    def to_frame(self) -> pd.DataFrame:
        """One row per level: its configuration and its limits.

        Returns
        -------
        pandas.DataFrame
            ``name``, ``type``, ``nominal_concurrency_shares``, ``lendable_percent``,
            ``borrowing_limit_percent`` (NaN when unset), ``queues``, ``hand_size``,
            ``queue_length_limit``, ``nominal_cl``, ``lendable_cl``, ``borrowing_cl``,
            ``min_cl``, ``max_cl``, ``max_current_cl``, ``max_seats``, ``share`` (of
            ServerCL, nominal) and ``waiting_room`` (queues x queueLengthLimit).
        """
        lv = self.levels
        frame = pd.DataFrame(
            {
                "name": [x.name for x in lv],
                "type": [x.type for x in lv],
                "nominal_concurrency_shares": [x.nominal_concurrency_shares for x in lv],
                "lendable_percent": [x.lendable_percent for x in lv],
                "borrowing_limit_percent": [
                    np.nan if x.borrowing_limit_percent is None else x.borrowing_limit_percent
                    for x in lv
                ],
                "queues": [x.queues for x in lv],
                "hand_size": [x.hand_size for x in lv],
                "queue_length_limit": [x.queue_length_limit for x in lv],
                "nominal_cl": self.nominal_cl,
                "lendable_cl": self.lendable_cl,
                "borrowing_cl": self.borrowing_cl,
                "min_cl": self.min_cl,
                "max_cl": self.max_cl,
                "max_current_cl": self.max_current_cl,
                "max_seats": self.max_seats,
            }
        )
        frame["share"] = frame["nominal_cl"] / self.server_cl
        frame["waiting_room"] = frame["queues"] * frame["queue_length_limit"]
        return frame

    def plot(self, ax: Any = None, *, title: str | None = None) -> Any:
        """Horizontal bars: the seats each level keeps (minCL) and lends (LendableCL).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure in the project style when omitted.
        title : str, optional
            Axes title (default: the ServerCL).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ha_toolkit.plotting import _drawing_style, _new_axes

        with _drawing_style(ax):
            ax = _new_axes(ax)
            y = np.arange(len(self.levels))[::-1]
            ax.barh(y, self.min_cl, color="C0", label="kept (minCL)")
            ax.barh(y, self.lendable_cl, left=self.min_cl, color="C5",
                    label="lendable (LendableCL)")
            for yi, n in zip(y, self.nominal_cl, strict=True):
                ax.text(n, yi, f" {int(n)}", va="center", fontsize=8)
            ax.set_yticks(y, self.names)
            ax.set_xlabel("seats (NominalCL)")
            ax.set_xlim(0, max(1, int(self.nominal_cl.max())) * 1.15)
            ax.set_title(title if title is not None else f"ServerCL {self.server_cl}")
            ax.legend(loc="lower right")
        return ax


def allocate(
    levels: Iterable[PriorityLevel] | None = None, server_cl: int = DEFAULT_SERVER_CL
) -> Allocation:
    """NominalCL, LendableCL, BorrowingCL, minCL and maxCL of each priority level.

    Parameters
    ----------
    levels : iterable of PriorityLevel, optional
        The levels; the API server's defaults when omitted.
    server_cl : int, default 600
        The server's concurrency limit (>= 1).

    Returns
    -------
    Allocation
        Per-level limits; :meth:`Allocation.to_frame` gives the table.

    Raises
    ------
    ValueError
        No levels, duplicate names, ``server_cl < 1`` or all shares zero.

    Examples
    --------
    >>> a = allocate(server_cl=600)
    >>> int(a.level("workload-low")["nominal_cl"])  # ceil(600 * 100 / 245)
    245
    """
    lv = tuple(default_priority_levels() if levels is None else levels)
    if not lv:
        raise ValueError("levels must not be empty")
    for x in lv:
        if not isinstance(x, PriorityLevel):
            raise ValueError(f"levels must be PriorityLevel objects, got {type(x).__name__}")
    names = [x.name for x in lv]
    if len(set(names)) != len(names):
        raise ValueError(f"priority-level names must be unique, got {names}")
    scl = _check_count(server_cl, "server_cl", 1)
    share_sum = sum(x.nominal_concurrency_shares for x in lv)
    if share_sum == 0:
        raise ValueError("the nominal concurrency shares must not all be 0")
    nominal, lendable, borrowing, max_seats = [], [], [], []
    for x in lv:
        n = -(-scl * x.nominal_concurrency_shares // share_sum)  # ceil, exactly
        nominal.append(n)
        lendable.append(_round_half_away(n * x.lendable_percent, 100))
        if x.borrowing_limit_percent is None:
            borrowing.append(scl)
        else:
            borrowing.append(_round_half_away(n * x.borrowing_limit_percent, 100))
        max_seats.append(level_max_seats(n, x.hand_size) if x.queuing else 0)
    nom = np.array(nominal, dtype=np.int64)
    lend = np.array(lendable, dtype=np.int64)
    bor = np.array(borrowing, dtype=np.int64)
    limited = np.array([not x.exempt for x in lv])
    total_lendable = int(lend[limited].sum())
    max_cl = nom + bor
    max_current = np.where(limited, np.minimum(max_cl, nom + total_lendable - lend), max_cl)
    return Allocation(
        levels=lv,
        server_cl=scl,
        share_sum=share_sum,
        nominal_cl=nom,
        lendable_cl=lend,
        borrowing_cl=bor,
        min_cl=nom - lend,
        max_cl=max_cl,
        max_current_cl=max_current,
        max_seats=np.array(max_seats, dtype=np.int64),
    )


# ----------------------------------------------------------------------------- borrowing
def concurrency_allocation(
    required_sum: float, target: ArrayLike, lower: ArrayLike, upper: ArrayLike
) -> tuple[np.ndarray, float]:
    """Share ``required_sum`` as ``clip(fair_prop * target, lower, upper)``.

    The problem ``computeConcurrencyAllocation`` (``conc_alloc.go``) solves: find one
    proportion ``fair_prop`` with ``sum(clip(fair_prop * target_i, lower_i, upper_i)) =
    required_sum``. The left side is continuous, piecewise linear and non-decreasing in
    ``fair_prop``; this solves it exactly between the two breakpoints that bracket it.

    Parameters
    ----------
    required_sum : float
        The total to share (>= 0).
    target, lower, upper : array_like
        Per class; ``0 <= lower <= target`` and ``upper >= lower``. Targets below 0.001
        count as 0.001 (as upstream, to avoid dividing by zero).

    Returns
    -------
    allocations : numpy.ndarray
        Floats summing to ``required_sum``.
    fair_prop : float
        The common proportion (when several values work, the smallest; when the lower
        bounds already use everything, the smallest ``lower/target``; when the upper bounds
        are needed in full, the largest ``upper/target``).

    Raises
    ------
    ValueError
        Bounds out of order, or ``required_sum`` outside ``[sum(lower), sum(upper)]``
        (beyond a 1e-7 slack), with the message naming the violated rule.
    """
    R = float(required_sum)
    if not (math.isfinite(R) and R >= 0):
        raise ValueError(f"required_sum must be finite and >= 0, got {required_sum!r}")
    t, lo, hi = (np.atleast_1d(_as_float(a, n)).astype(float)
                 for a, n in ((target, "target"), (lower, "lower"), (upper, "upper")))
    t, lo, hi = np.broadcast_arrays(t, lo, hi)
    if t.ndim != 1:
        raise ValueError("target, lower and upper must be one-dimensional")
    if not (np.isfinite(t).all() and np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise ValueError("target, lower and upper must be finite")
    if (lo < 0).any():
        raise ValueError(f"lower must be >= 0, got {lo[lo < 0][0]!r}")
    if (t < lo).any():
        i = int(np.argmax(t < lo))
        raise ValueError(f"target must be >= lower, got target {t[i]!r} < lower {lo[i]!r}")
    if (hi < lo).any():
        i = int(np.argmax(hi < lo))
        raise ValueError(f"upper must be >= lower, got upper {hi[i]!r} < lower {lo[i]!r}")
    t = np.maximum(t, _MIN_TARGET)
    low_sum, high_sum = float(lo.sum()), float(hi.sum())
    if low_sum - R > _EPSILON:
        raise ValueError(f"the lower bounds sum to {low_sum:g}, above required_sum {R:g}")
    if R - high_sum > _EPSILON:
        raise ValueError(f"the upper bounds sum to {high_sum:g}, below required_sum {R:g}")
    if R == 0:
        return np.zeros(t.size), 0.0
    if low_sum - R > -_EPSILON:
        return lo.copy(), float((lo / t).min())
    if R - high_sum > -_EPSILON:
        return hi.copy(), float((hi / t).max())
    breaks = np.unique(np.concatenate([lo / t, hi / t]))
    sums = np.clip(breaks[:, None] * t[None, :], lo[None, :], hi[None, :]).sum(axis=1)
    k = int(np.searchsorted(sums, R, side="left"))  # sums[k-1] < R <= sums[k]
    if k == 0:
        p = float(breaks[0])
    else:
        a, b, fa, fb = breaks[k - 1], breaks[k], sums[k - 1], sums[k]
        p = float(a + (R - fa) * (b - a) / (fb - fa))
    return np.clip(p * t, lo, hi), p


def smoothed_seat_demand(
    previous: ArrayLike,
    average: ArrayLike,
    stddev: ArrayLike,
    coefficient: float = SEAT_DEMAND_SMOOTHING,
) -> Any:
    """One step of the seat-demand smoothing (``seatDemandStats.update``).

    ``envelope = average + stddev``; the new value is ``max(envelope, coefficient *
    previous + (1 - coefficient) * envelope)``: it follows a rise at once and decays
    slowly (half-life about 5 minutes with the default 0.977 at 10 s steps).

    Parameters
    ----------
    previous, average, stddev : float or array_like
        Last smoothed value and the period's time-weighted mean and standard deviation of
        the seat demand (a NaN standard deviation counts as 0).
    coefficient : float, default 0.977
        Weight of the previous value, in [0, 1].

    Returns
    -------
    numpy.float64 or numpy.ndarray
    """
    c = float(coefficient)
    if not 0 <= c <= 1:
        raise ValueError(f"coefficient must lie in [0, 1], got {coefficient!r}")
    prev = _as_float(previous, "previous")
    avg = _as_float(average, "average")
    sd = np.nan_to_num(_as_float(stddev, "stddev"), nan=0.0)
    env = avg + sd
    out = np.maximum(env, c * prev + (1 - c) * env)
    return out[()] if out.ndim == 0 else out


def _per_level(values: Mapping[str, float] | ArrayLike | None, names: list[str],
               what: str) -> np.ndarray:
    if values is None:
        return np.zeros(len(names))
    if isinstance(values, Mapping):
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"{what} names unknown levels {sorted(unknown)}; levels: {names}")
        arr = np.array([float(values.get(n, 0.0)) for n in names])
    else:
        arr = np.asarray(_as_float(values, what), dtype=float).reshape(-1)
        if arr.size != len(names):
            raise ValueError(f"{what} must have one value per limited level ({len(names)}), "
                             f"got {arr.size}")
    if not (np.isfinite(arr).all() and (arr >= 0).all()):
        raise ValueError(f"{what} must be finite and >= 0")
    return arr


def borrow(
    allocation: Allocation,
    high_watermark: Mapping[str, float] | ArrayLike | None = None,
    smoothed_demand: Mapping[str, float] | ArrayLike | None = None,
) -> pd.DataFrame:
    """CurrentCL of each limited level after one borrowing adjustment.

    For each limited level: ``lower = max(minCL, min(NominalCL, high_watermark))``,
    ``target = max(lower, smoothed_demand)``, ``upper = maxCL``; the NominalCLs' sum is
    shared by :func:`concurrency_allocation` and each share rounded half away from zero
    (``updateBorrowingLocked``).

    Parameters
    ----------
    allocation : Allocation
        From :func:`allocate`.
    high_watermark, smoothed_demand : mapping or array_like, optional
        Per limited level (by name, missing levels 0; or an array in the order of the
        limited levels): the highest seat demand of the period and the smoothed demand
        (see :func:`smoothed_seat_demand`). Seat demand = seats in use + seats queued.

    Returns
    -------
    pandas.DataFrame
        One row per limited level: ``name``, ``nominal_cl``, ``min_cl``, ``max_cl``,
        ``high_watermark``, ``smoothed_demand``, ``lower``, ``target``, ``allocation``
        (float), ``current_cl`` (rounded) and ``borrowed`` (current - nominal; negative:
        lent). ``frame.attrs["fair_prop"]`` holds the common proportion.
    """
    if not isinstance(allocation, Allocation):
        raise ValueError(f"allocation must be an Allocation, got {type(allocation).__name__}")
    keep = [i for i, x in enumerate(allocation.levels) if not x.exempt]
    names = [allocation.levels[i].name for i in keep]
    hw = _per_level(high_watermark, names, "high_watermark")
    smooth = _per_level(smoothed_demand, names, "smoothed_demand")
    nominal = allocation.nominal_cl[keep].astype(float)
    min_cl = allocation.min_cl[keep].astype(float)
    max_cl = allocation.max_cl[keep].astype(float)
    lower = np.maximum(min_cl, np.minimum(nominal, hw))
    target = np.maximum(lower, smooth)
    alloc, fair_prop = concurrency_allocation(nominal.sum(), target, lower, max_cl)
    current = np.floor(alloc + 0.5).astype(np.int64)
    frame = pd.DataFrame(
        {
            "name": names,
            "nominal_cl": nominal.astype(np.int64),
            "min_cl": min_cl.astype(np.int64),
            "max_cl": max_cl.astype(np.int64),
            "high_watermark": hw,
            "smoothed_demand": smooth,
            "lower": lower,
            "target": target,
            "allocation": alloc,
            "current_cl": current,
            "borrowed": current - nominal.astype(np.int64),
        }
    )
    frame.attrs["fair_prop"] = fair_prop
    return frame


# --------------------------------------------------------------------------------- seats
@dataclass(frozen=True)
class WorkEstimate:
    """Seats a request holds (``request.WorkEstimate``).

    Parameters
    ----------
    initial_seats : int, default 1
        Seats while the request executes (>= 1).
    final_seats : int, default 0
        Seats held after it returns, for ``additional_latency`` (watch notifications).
    additional_latency : float, default 0.0
        Seconds the final seats stay held.
    """

    initial_seats: int = 1
    final_seats: int = 0
    additional_latency: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "initial_seats", _check_count(self.initial_seats,
                                                               "initial_seats", 1))
        object.__setattr__(self, "final_seats", _check_count(self.final_seats, "final_seats"))
        al = float(self.additional_latency)
        if not (math.isfinite(al) and al >= 0):
            raise ValueError(f"additional_latency must be finite and >= 0, got "
                             f"{self.additional_latency!r}")
        object.__setattr__(self, "additional_latency", al)

    @property
    def max_seats(self) -> int:
        """Seats reserved for the whole request: ``max(initial, final)``."""
        return max(self.initial_seats, self.final_seats)

    def seat_seconds(self, service_time: float) -> float:
        """Seat-seconds held: ``max_seats * (service_time + additional_latency)``."""
        return self.max_seats * (float(service_time) + self.additional_latency)


def _level_cap(max_seats: int, global_cap: int) -> int:
    m = _check_count(max_seats, "max_seats")
    return global_cap if m == 0 or m > global_cap else m


def estimate_list_seats(
    objects: int,
    *,
    limit: int = 0,
    selector: bool = False,
    from_cache: bool = False,
    single: bool = False,
    avg_object_bytes: float | None = None,
) -> int:
    """Raw seat estimate of a LIST, before the minimum of 1 and the caps.

    Count-based (``seatsBasedOnObjectCount``) when ``avg_object_bytes`` is None:
    ``ceil(processed / 100)`` with ``processed`` = 1 for a single-object list, all stored
    objects when served from the watch cache, ``stored + limit`` with a label or field
    selector from etcd, else ``2 * limit`` (limit = ``min(limit, stored)``, or stored).

    Size-based (``seatsBasedOnObjectSize``) otherwise: ``ceil(bytes / 100 kB)`` with bytes
    = objects loaded at once times the average size (1.5 MB when unknown): 1 object for a
    single-object list, ``limit`` objects from the cache (and at most 1 MB), ``max(limit,
    stored / 2)`` with a selector from etcd, else ``limit``.

    Parameters
    ----------
    objects : int
        Objects of the resource stored (the object-count tracker's figure).
    limit : int, default 0
        The request's ``limit`` (0: none).
    selector : bool, default False
        A label or field selector is set.
    from_cache : bool, default False
        Served from the watch cache.
    single : bool, default False
        The list names one object (``metadata.name`` field selector).
    avg_object_bytes : float, optional
        Average object size; selects the size-based estimator.

    Returns
    -------
    int
        Seats (may be 0 or exceed the caps; see :func:`list_work_estimate`).
    """
    n = _check_count(objects, "objects")
    lim = _check_count(limit, "limit")
    limited = lim if 0 < lim < n else n
    if avg_object_bytes is None:
        if single:
            processed = 1
        elif from_cache:
            processed = n
        elif selector:
            processed = n + limited
        else:
            processed = 2 * limited
        return math.ceil(processed / _OBJECTS_PER_SEAT)
    size = float(avg_object_bytes)
    if not math.isfinite(size) or size < 0:
        raise ValueError(f"avg_object_bytes must be finite and >= 0, got {avg_object_bytes!r}")
    size_i = int(size)
    if size_i <= 0 and n != 0:
        size_i = _MAX_OBJECT_SIZE
    if single:
        loaded = 1
    elif from_cache:
        loaded = limited
    elif selector:
        loaded = max(limited, n // 2)
    else:
        loaded = limited
    memory = loaded * size_i
    if from_cache:
        memory = min(memory, _CACHE_MAX_MEMORY)
    return -(-memory // _BYTES_PER_SEAT)


def list_work_estimate(
    objects: int,
    *,
    limit: int = 0,
    selector: bool = False,
    from_cache: bool = False,
    single: bool = False,
    avg_object_bytes: float | None = None,
    max_seats: int = 0,
) -> WorkEstimate:
    """Seats of a LIST request: :func:`estimate_list_seats` clamped to ``[1, cap]``.

    The cap is the level's ``max_seats`` (:func:`level_max_seats`, 0: unset), and at most
    10 for the count-based estimator, 100 for the size-based one.

    Parameters
    ----------
    objects, limit, selector, from_cache, single, avg_object_bytes
        As in :func:`estimate_list_seats`.
    max_seats : int, default 0
        The level's cap (``Allocation.max_seats``); 0 applies the global cap only.

    Returns
    -------
    WorkEstimate
        ``initial_seats`` set, no final seats.
    """
    raw = estimate_list_seats(objects, limit=limit, selector=selector, from_cache=from_cache,
                              single=single, avg_object_bytes=avg_object_bytes)
    cap = _level_cap(max_seats, _MAX_LIST_SEATS_COUNT if avg_object_bytes is None
                     else _MAX_LIST_SEATS_SIZE)
    return WorkEstimate(initial_seats=min(max(raw, 1), cap))


# Default of the WatchList feature gate (kubernetes/apiserver pkg/features/kube_features.go):
# alpha off from 1.27, beta on in 1.32, back off in 1.33, on again from 1.34.
_WATCH_LIST_ON = {"1.32", "1.34", "1.35", "1.36"}


def watch_list_enabled(version: str | None = None) -> bool:
    """Whether the WatchList feature gate is on by default in a Kubernetes version.

    kubernetes/apiserver ``pkg/features/kube_features.go``: alpha (off) from 1.27, beta on
    in 1.32, switched off again in 1.33, on from 1.34.
    """
    return _check_version(version) in _WATCH_LIST_ON


def watch_work_estimate(
    objects: int,
    *,
    resource_version: str = "",
    send_initial_events: bool = False,
    single: bool = False,
    avg_object_bytes: float | None = None,
    max_seats: int = 0,
    watch_list: bool | None = None,
    version: str | None = None,
) -> WorkEstimate:
    """Seats of a WATCH request while it starts (its only APF cost).

    apiserver ``pkg/util/flowcontrol/request/width.go`` (``workEstimator.estimate``): with the
    WatchList feature on, a watch is priced by the LIST estimator
    (``list_work_estimator.go``), which gives it the minimum of 1 seat unless it sends
    initial events: ``sendInitialEvents=true``, or a legacy watch with ``resourceVersion``
    ``""`` or ``"0"`` (it starts with the state of the watch cache). Those are priced as a
    LIST served from the watch cache (:func:`list_work_estimate` with ``from_cache=True``).
    With WatchList off, every watch takes 1 seat.

    Parameters
    ----------
    objects : int
        Objects of the resource stored.
    resource_version : str, default ""
        The watch's ``resourceVersion``.
    send_initial_events : bool, default False
        The watch's ``sendInitialEvents``.
    single : bool, default False
        The watch names one object (``metadata.name`` field selector).
    avg_object_bytes : float, optional
        Average object size: selects the size-based estimator (on by default since 1.34).
    max_seats : int, default 0
        The level's cap (:func:`level_max_seats`); 0: the global cap only.
    watch_list : bool, optional
        The WatchList feature gate; by default its default in ``version``
        (:func:`watch_list_enabled`).
    version : str, optional
        Kubernetes minor version; the newest by default.

    Returns
    -------
    WorkEstimate

    Examples
    --------
    >>> watch_work_estimate(5000).initial_seats  # rv "": the cache's 5000 objects, capped
    10
    >>> watch_work_estimate(5000, resource_version="123").initial_seats
    1
    >>> watch_work_estimate(5000, version="1.33").initial_seats  # WatchList off in 1.33
    1
    """
    enabled = watch_list_enabled(version) if watch_list is None else bool(watch_list)
    initial_events = bool(send_initial_events) or str(resource_version) in ("", "0")
    if not enabled or not initial_events:
        _check_count(objects, "objects")
        return WorkEstimate(initial_seats=1)
    return list_work_estimate(objects, from_cache=True, single=single,
                              avg_object_bytes=avg_object_bytes, max_seats=max_seats)


def mutating_work_estimate(watchers: int, *, max_seats: int = 0) -> WorkEstimate:
    """Seats of a create, update, patch or delete with ``watchers`` interested watches.

    With ``W >= 10`` watchers the request also holds ``F = min(ceil(W / 10), cap)`` seats
    for ``ceil(W / 10) * 5 ms / F`` after it returns (the notification work, reshaped to
    at most ``cap`` seats, ``cap`` = the level's cap and at most 10).

    Parameters
    ----------
    watchers : int
        Watches interested in the change (>= 0).
    max_seats : int, default 0
        The level's cap; 0 applies the global cap (10) only.

    Returns
    -------
    WorkEstimate
    """
    w = _check_count(watchers, "watchers")
    cap = _level_cap(max_seats, _MAX_MUTATING_SEATS)
    if w < _WATCHES_PER_SEAT:
        return WorkEstimate(initial_seats=1)
    seats = math.ceil(w / _WATCHES_PER_SEAT)
    work = seats * _EVENT_DURATION
    final = min(seats, cap)
    return WorkEstimate(initial_seats=1, final_seats=final, additional_latency=work / final)


def mix_summary(
    shares: Sequence[float], estimates: Sequence[WorkEstimate], service_times: Sequence[float]
) -> dict[str, float]:
    """Mean seats and seat-seconds of a request mix.

    Parameters
    ----------
    shares : sequence of float
        Fraction of requests of each class (normalised to sum 1).
    estimates : sequence of WorkEstimate
        Seats of each class.
    service_times : sequence of float
        Mean execution time of each class (seconds, > 0).

    Returns
    -------
    dict
        ``mean_seats`` (seats reserved per request, ``max_seats``), ``mean_initial_seats``,
        ``mean_holding_time`` (execution plus additional latency), ``seat_seconds`` (per
        request) and ``width`` = seat_seconds / mean_holding_time, the seats of an
        "average" request for :func:`level_queue`.
    """
    p = np.asarray(_as_float(shares, "shares"), dtype=float).reshape(-1)
    s = np.asarray(_check_rate(service_times, "service_times", positive=True),
                   dtype=float).reshape(-1)
    est = list(estimates)
    if not (p.size == s.size == len(est)) or p.size == 0:
        raise ValueError("shares, estimates and service_times must have the same, "
                         "non-zero length")
    if (p < 0).any() or not np.isfinite(p).all() or p.sum() <= 0:
        raise ValueError("shares must be finite, >= 0 and not all 0")
    for e in est:
        if not isinstance(e, WorkEstimate):
            raise ValueError(f"estimates must be WorkEstimate objects, got {type(e).__name__}")
    p = p / p.sum()
    seats = np.array([e.max_seats for e in est], dtype=float)
    initial = np.array([e.initial_seats for e in est], dtype=float)
    hold = s + np.array([e.additional_latency for e in est])
    seat_seconds = float((p * seats * hold).sum())
    mean_hold = float((p * hold).sum())
    return {
        "mean_seats": float((p * seats).sum()),
        "mean_initial_seats": float((p * initial).sum()),
        "mean_holding_time": mean_hold,
        "seat_seconds": seat_seconds,
        "width": seat_seconds / mean_hold,
    }


# ------------------------------------------------------------------ per-level queue model
@dataclass(frozen=True, eq=False)
class LevelQueueResult:
    """The per-level analytic model of :func:`level_queue`, broadcast over its inputs.

    Attributes
    ----------
    arrival_rate, service_time, current_cl : numpy.ndarray
        The inputs, broadcast.
    width : float
        Seats of an average request.
    servers : numpy.ndarray
        ``max(1, floor(current_cl / width))``: requests served at once.
    waiting_room : int
        Requests the usable queues hold.
    capacity : numpy.ndarray
        ``servers + waiting_room``.
    wait_limit : float
        Queue-wait limit in seconds (inf: none); with several classes of request timeout,
        their share-weighted mean.
    regime : numpy.ndarray of str
        Which constraint the figures come from: ``"waiting room"`` (M/M/c/K),
        ``"wait limit"`` (M/M/c+D) or ``"no queues"`` (M/M/c/c).
    queue_full_probability : numpy.ndarray
        An arrival finds all seats busy and no room: 429 at once.
    timeout_probability : numpy.ndarray
        An arrival is queued but waits past the wait limit: 429 after waiting (0 in the
        waiting-room regime).
    rejection_probability, rejection_rate : numpy.ndarray
        All 429s per request and per second.
    throughput : numpy.ndarray
        Requests served per second.
    utilization : numpy.ndarray
        Mean fraction of the servers busy.
    mean_wait : numpy.ndarray
        Mean time an arrival that is not rejected at once spends queued, ``E[min(W,
        wait_limit)]`` (served or timed out), seconds.
    p50_wait, p99_wait : numpy.ndarray
        Quantiles of the wait of *served* requests, seconds.
    wait_limits, class_shares : tuple of float
        Each class's queue-wait limit and share of the arrivals (one class unless
        ``request_timeout`` was a sequence).
    timeout_by_class : tuple of numpy.ndarray
        Per class, the probability that a request of it times out in its queue.
    """

    arrival_rate: Any
    service_time: Any
    current_cl: Any
    width: float
    servers: Any
    waiting_room: int
    capacity: Any
    wait_limit: float
    regime: Any
    queue_full_probability: Any
    timeout_probability: Any
    rejection_probability: Any
    rejection_rate: Any
    throughput: Any
    utilization: Any
    mean_wait: Any
    p50_wait: Any
    p99_wait: Any
    wait_limits: tuple[float, ...] = ()
    class_shares: tuple[float, ...] = ()
    timeout_by_class: tuple[Any, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """One row per point of the broadcast inputs (C order), every attribute a column.

        The per-class attributes (``wait_limits``, ``class_shares``, ``timeout_by_class``)
        are left out; ``wait_limit`` is the share-weighted mean of the classes' limits.
        """
        per_class = {"wait_limits", "class_shares", "timeout_by_class"}
        names = [f.name for f in fields(self) if f.name not in per_class]
        shape = np.shape(self.servers)
        cols = {n: np.broadcast_to(np.asarray(getattr(self, n)), shape).reshape(-1)
                for n in names}
        for n in ("servers", "capacity", "current_cl"):
            cols[n] = cols[n].astype(np.int64)
        return pd.DataFrame(cols)


def level_queue(
    level: PriorityLevel,
    current_cl: ArrayLike,
    arrival_rate: ArrayLike,
    service_time: ArrayLike,
    *,
    width: float = 1.0,
    flows: float = 1,
    wait_limit: float | None = None,
    request_timeout: float | Sequence[float | None] | None = None,
    server_request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    request_shares: Sequence[float] | None = None,
) -> LevelQueueResult:
    """A priority level as a multi-server queue with a waiting room and a wait limit.

    The level serves ``c = max(1, floor(CurrentCL / width))`` requests at once, queues up
    to ``queue_length_limit`` requests in each queue its traffic can use (the waiting room
    ``w``), and rejects a queued request after ``wait_limit`` seconds. Each constraint is
    solved exactly on its own:

    * waiting room only: M/M/c/K with ``K = c + w``
      (:func:`~ha_toolkit.apiserver.queues.mmck`); arrivals finding ``K`` present get 429;
    * wait limit only: M/M/c+D, Erlang's delay system with a deterministic patience
      ``D = wait_limit`` and unlimited room. Its virtual wait ``V`` has an atom at 0, the
      density ``lambda p_{c-1} exp((lambda - c mu) x)`` on ``(0, D)`` and
      ``lambda p_{c-1} exp((lambda - c mu) D) exp(-c mu (x - D))`` beyond, where
      ``p_{c-1}`` (all but one server busy) follows from normalisation with Erlang B
      (:func:`~ha_toolkit.apiserver.queues.erlang_b`); an arrival times out with
      probability ``P(V >= D)``.

    Each is a relaxation of the real level (one constraint dropped), which therefore serves
    no more than either. At each point the model reports the relaxation that rejects more
    (the binding constraint), and when both reject the same share (overload: everything
    above capacity), the one with the shorter mean queue (``regime``); every figure comes
    from that one. The server rejects
    a request for a full queue only while *all* seats are in use; when ``c * width`` falls
    short of CurrentCL (say 10-seat LISTs on 368 seats: 360 in use, 8 idle) that never
    happens, the queues grow past their limit and only the wait limit rejects, so the
    M/M/c+D figures are used. A level without queues is the loss system M/M/c/c.

    Approximations, plainly:

    1. Poisson arrivals and exponential holding times; 429s are not retried.
    2. Multi-seat requests: the level is ``floor(CurrentCL / width)`` servers of one
       average request (``width`` = seat-seconds / holding time, :func:`mix_summary`).
       Exact when every request has the same width dividing CurrentCL; otherwise it ignores
       the seats left idle while a wide request waits at the head of the line.
    3. Waiting room: one flow can use its hand, ``hand_size * queue_length_limit``
       places; ``flows`` flows the expected union of their hands
       (:func:`~ha_toolkit.apiserver.shuffle.expected_queues_used`, rounded) times
       ``queue_length_limit``, tending to ``queues * queue_length_limit``. The queues in
       use are taken to fill evenly (the least-waiting-work choice keeps them close).
    4. Both constraints at once: only the binding one is solved; where the room and the
       wait limit bind about equally the 429s are underestimated. In the waiting-room
       regime the waits of served requests are the M/M/c/K waits below the limit. For a
       mix of widths (non-integer ``width``) the queue-length limit is taken never to bind
       (see above); without a wait limit the waiting room is always used.
    5. Order of service: waits are those of first-come-first-served. Fair queuing serves a
       flow's queues in an order that differs from arrival order (and charges only 3 ms of
       work at dispatch): the mean wait and the queue-full 429s are unchanged, but the
       spread of the waits and the timeouts are larger (see
       :mod:`ha_toolkit.apiserver.des`).
    6. Fairness between flows is not modelled: these are the level's totals. CurrentCL is
       held fixed (borrowing moves it every 10 s).

    Parameters
    ----------
    level : PriorityLevel
        A limited level (queuing, or without queues: a loss system).
    current_cl : int or array_like
        Seats of the level (CurrentCL, >= 1).
    arrival_rate : float or array_like
        Requests per second (>= 0).
    service_time : float or array_like
        Mean holding time of a request, seconds (> 0).
    width : float, default 1.0
        Seats of an average request (>= 1).
    flows : float, default 1
        Flows sharing the level's queues (>= 1).
    wait_limit : float, optional
        Queue-wait limit, seconds (> 0; inf for none). By default the limit the API server
        derives from the requests' timeout, :func:`queue_wait_limit` of
        ``request_timeout``: 15 s for requests without ``?timeout=``, 1.25 s for the lease
        calls of a lock client with a 5 s timeout. Give either this or ``request_timeout``.
    request_timeout : float or sequence, optional
        The ``?timeout=`` the level's requests carry, seconds (None: none). A sequence gives
        one per class of flows, with ``request_shares``: each class then has its own wait
        limit, and the wait-limit regime is the exact M/M/c+G model with that mixture of
        deterministic patiences (see below).
    server_request_timeout : float, default 60.0
        The API server's ``--request-timeout``.
    request_shares : sequence of float, optional
        Shares of the level's requests in each class of ``request_timeout`` (normalised).

    Notes
    -----
    Flows with different request timeouts (lease calls with ``?timeout=5s`` beside requests
    without one) wait at most different times. With patience ``D_i`` for a share ``w_i`` of
    the arrivals, the virtual wait ``V`` of M/M/c+G has the density
    ``lambda p_{c-1} exp(lambda * integral_0^x P(D > u) du - c mu x)`` for ``x > 0``
    (Baccelli and Hebuterne; Zeltyn and Mandelbaum), piecewise exponential between the
    limits; class ``i`` times out with probability ``P(V >= D_i)``
    (:attr:`LevelQueueResult.timeout_by_class`). In the waiting-room regime each class's
    served waits are the M/M/c/K waits below its own limit.

    Returns
    -------
    LevelQueueResult
    """
    if not isinstance(level, PriorityLevel):
        raise ValueError(f"level must be a PriorityLevel, got {type(level).__name__}")
    if level.exempt:
        raise ValueError(f"level {level.name!r} is exempt: it never queues nor rejects")
    w = float(width)
    if not (math.isfinite(w) and w >= 1):
        raise ValueError(f"width must be a finite number >= 1, got {width!r}")
    if wait_limit is not None and request_timeout is not None:
        raise ValueError("give wait_limit or request_timeout, not both")
    limits, shares = _wait_limit_classes(wait_limit, request_timeout, request_shares,
                                         server_request_timeout)
    for value in limits:
        if math.isnan(value) or value <= 0:
            raise ValueError(f"wait_limit must be > 0 seconds (inf for none), got {value!r}")
    limit = float(np.dot(shares, limits)) if len(limits) > 1 else limits[0]
    cl = _as_float(current_cl, "current_cl")
    if (~np.isfinite(cl) | (cl < 1) | (cl != np.floor(cl))).any():
        raise ValueError("current_cl must be whole numbers >= 1")
    lam = _check_rate(arrival_rate, "arrival_rate", positive=False)
    s = _check_rate(service_time, "service_time", positive=True)
    if level.queuing:
        used = expected_queues_used(level.queues, level.hand_size, flows)
        room = level.queue_length_limit * int(round(used))
    else:
        room = 0
    lam, s, cl = (np.array(a, dtype=float) for a in np.broadcast_arrays(lam, s, cl))
    c = np.maximum(1.0, np.floor(cl / w + 1e-9))
    K = c + room
    mu = 1.0 / s
    q = mmck(lam, mu, c, K)
    full = np.asarray(q.blocking_probability, dtype=float).reshape(-1)
    util = np.asarray(q.utilization, dtype=float).reshape(-1)
    shape = lam.shape
    lam_f, s_f, c_f, K_f, cl_f = (a.reshape(-1) for a in (lam, s, c, K, cl))
    n = lam_f.size
    timed = room > 0 and any(math.isfinite(x) for x in limits)
    use = np.zeros(n, dtype=bool)  # True: the wait-limit regime (M/M/c+D)
    by_class = np.zeros((len(limits), n))
    if timed:
        if len(limits) == 1:
            d = _deadline_delay(lam_f, 1.0 / s_f, c_f, limit)
            d["timeout_by_class"] = d["timeout_probability"][None, :]
        else:
            d = _patience_mix_delay(lam_f, 1.0 / s_f, c_f, limits, shares)
        d_timeout = d["timeout_probability"]
        # the queue-length limit rejects only while every seat is in use: impossible when
        # whole requests of this width cannot fill CurrentCL exactly
        fills = np.abs(c_f * w - cl_f) < 1e-9
        tie = np.abs(d_timeout - full) <= _TIE * np.maximum(d_timeout, full)
        shorter = d["mean_queue_length"] < np.asarray(q.mean_queue_length, dtype=float
                                                      ).reshape(-1)
        use = ~fills | (d_timeout > full) & ~tie | tie & shorter
    timeout = np.zeros(n)
    mean_wait, p50, p99 = np.zeros(n), np.zeros(n), np.zeros(n)
    rooms = np.flatnonzero(~use)
    if rooms.size:  # the waiting-room (or loss) regime: M/M/c/K waits
        sub = mmck(lam_f[rooms], 1.0 / s_f[rooms], c_f[rooms], K_f[rooms])
        if timed and len(limits) == 1:  # served waits: W given W <= limit
            keep = np.clip(1.0 - np.asarray(sub.wait_sf(limit), dtype=float), 0.0, 1.0)
            p50[rooms] = np.minimum(sub.wait_quantile(0.5 * keep), limit)
            p99[rooms] = np.minimum(sub.wait_quantile(0.99 * keep), limit)
            mean_wait[rooms] = _mean_capped_wait(
                lam_f[rooms], s_f[rooms], c_f[rooms], K_f[rooms], limit,
                np.asarray(sub.wait_probability, dtype=float), 1.0 - keep,
                np.asarray(sub.mean_wait, dtype=float))
        elif timed:  # each class's served waits lie below its own limit
            p50[rooms], p99[rooms], mean_wait[rooms] = _room_waits_of_classes(
                sub, lam_f[rooms], s_f[rooms], c_f[rooms], K_f[rooms], limits, shares)
        else:
            p50[rooms] = sub.wait_quantile(0.5)
            p99[rooms] = sub.wait_quantile(0.99)
            mean_wait[rooms] = sub.mean_wait
    if use.any():
        full = np.where(use, 0.0, full)
        timeout = np.where(use, d_timeout, 0.0)
        by_class = np.where(use[None, :], d["timeout_by_class"], 0.0)
        util = np.where(use, lam_f * (1.0 - d_timeout) * s_f / c_f, util)
        mean_wait = np.where(use, d["mean_wait"], mean_wait)
        p50 = np.where(use, d["quantile"](0.5), p50)
        p99 = np.where(use, d["quantile"](0.99), p99)
    regime = np.where(use, "wait limit", "waiting room" if room > 0 else "no queues")
    full, timeout, util, mean_wait, p50, p99, regime = (
        a.reshape(shape) for a in (full, timeout, util, mean_wait, p50, p99, regime))
    by_class = by_class.reshape((len(limits), *shape))
    served_share = (1.0 - full) * (1.0 - timeout)
    reject = 1.0 - served_share

    def out(a: Any) -> Any:
        a = np.asarray(a)
        return a[()] if a.ndim == 0 else a

    return LevelQueueResult(
        arrival_rate=out(lam),
        service_time=out(s),
        current_cl=out(cl),
        width=w,
        servers=out(c),
        waiting_room=room,
        capacity=out(K),
        wait_limit=limit,
        regime=out(regime),
        queue_full_probability=out(full),
        timeout_probability=out(timeout),
        rejection_probability=out(reject),
        rejection_rate=out(lam * reject),
        throughput=out(lam * served_share),
        utilization=out(util),
        mean_wait=out(mean_wait),
        p50_wait=out(p50),
        p99_wait=out(p99),
        wait_limits=tuple(float(x) for x in limits),
        class_shares=tuple(float(x) for x in shares),
        timeout_by_class=tuple(out(row) for row in by_class),
    )


def _wait_limit_classes(
    wait_limit: Any, request_timeout: Any, request_shares: Any, server_request_timeout: float
) -> tuple[list[float], np.ndarray]:
    """The wait limit of each class of requests and the classes' shares of the arrivals."""
    if wait_limit is not None:
        return [float(wait_limit)], np.ones(1)
    many = isinstance(request_timeout, Sequence) and not isinstance(request_timeout, str)
    timeouts = list(request_timeout) if many else [request_timeout]
    if not timeouts:
        raise ValueError("request_timeout must not be an empty sequence")
    if request_shares is None:
        if len(timeouts) > 1:
            raise ValueError("request_shares is needed with several request timeouts")
        shares = np.ones(1)
    else:
        shares = np.asarray(request_shares, dtype=float)
        if shares.shape != (len(timeouts),):
            raise ValueError(f"request_shares must have one share per request timeout "
                             f"({len(timeouts)}), got {request_shares!r}")
        if (~np.isfinite(shares) | (shares < 0)).any() or shares.sum() <= 0:
            raise ValueError(f"request_shares must be >= 0 and not all 0, got "
                             f"{request_shares!r}")
        shares = shares / shares.sum()
    limits = [queue_wait_limit(t, server_request_timeout=server_request_timeout)
              for t in timeouts]
    return limits, shares


def _room_waits_of_classes(
    sub: Any, lam: np.ndarray, s: np.ndarray, c: np.ndarray, K: np.ndarray,
    limits: list[float], shares: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p50, p99 and mean of the served waits when class i's waits stop at its limit D_i.

    With F the M/M/c/K wait CDF and F_i = F(D_i), the served share of class i is F_i and
    P(served wait <= x) = sum_i w_i min(F(x), F_i) / sum_i w_i F_i: a piecewise linear
    function of u = F(x), inverted exactly for u, then x = F^-1(u).
    """
    cdf_at = np.array([np.clip(1.0 - np.asarray(sub.wait_sf(x), dtype=float), 0.0, 1.0)
                       for x in limits])  # (classes, points)
    keep = shares @ cdf_at
    quantiles = []
    for level in (0.5, 0.99):
        target = level * keep
        # sum_i w_i min(u, F_i) is increasing in u; find u by bisection on [0, max F_i]
        lo, hi = np.zeros_like(keep), cdf_at.max(axis=0)
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            below = shares @ np.minimum(mid[None, :], cdf_at) < target
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        quantiles.append(np.minimum(np.asarray(sub.wait_quantile(hi), dtype=float),
                                    max(limits)))
    p_wait = np.asarray(sub.wait_probability, dtype=float)
    mean = sum(
        w * _mean_capped_wait(lam, s, c, K, x, p_wait, 1.0 - f,
                              np.asarray(sub.mean_wait, dtype=float))
        for w, x, f in zip(shares, limits, cdf_at, strict=True)
    )
    return quantiles[0], quantiles[1], np.asarray(mean, dtype=float)


def _log_int_x_exp(d: np.ndarray, D: float) -> np.ndarray:
    """log of the integral of x exp(d x) over (0, D), D > 0, without overflow."""
    x = d * D
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        small = np.abs(x) < 1e-4
        xs = np.where(small, 1.0, x)
        log_d2 = 2 * np.log(np.abs(np.where(small, 1.0, d)))
        # (e^{x}(x - 1) + 1) / d^2; for x > 0 factor e^{x}: e^{x} ((x - 1) + e^{-x}) / d^2
        pos_val = np.log(np.maximum((xs - 1.0) + np.exp(-np.abs(xs)), 1e-300)) + xs - log_d2
        neg_val = np.log(np.maximum(np.exp(np.minimum(xs, 0.0)) * (xs - 1.0) + 1.0, 1e-300)
                         ) - log_d2
        out = np.where(x > 0, pos_val, neg_val)
        series = np.log(D * D / 2.0 + d * D ** 3 / 3.0 + d * d * D ** 4 / 8.0)
        return np.where(small, series, out)


_BISECTIONS = 60


def _patience_mix_delay(lam: np.ndarray, mu: np.ndarray, c: np.ndarray, limits: list[float],
                        shares: np.ndarray) -> dict[str, Any]:
    """M/M/c+G, unlimited room, a share w_i of the arrivals leaving after waiting D_i.

    The virtual wait V has P(V = 0) = sum_{n<c} p_n and, for x > 0, the density
    lambda p_{c-1} exp(phi(x)) with phi(x) = lambda sum_i w_i min(x, D_i) - c mu x:
    piecewise linear between the sorted limits, slope lambda W_k - c mu on the k-th piece
    (W_k the share still patient there), -c mu beyond the last finite limit. Class i times
    out when V >= D_i. Everything is carried in logs relative to p_{c-1}.
    """
    limits_arr = np.asarray(limits, dtype=float)  # finite: from request timeouts
    cuts = np.unique(limits_arr)  # the breakpoints, sorted
    A = lam / mu
    cmu = c * mu
    with np.errstate(divide="ignore"):
        prev = np.where(c > 1, c - 1.0, 1.0)
        b = np.asarray(erlang_b(prev, A), dtype=float)
        log_idle = np.where(c > 1, -np.log(b), 0.0)
        log_lam = np.log(lam)
    log_idle = np.minimum(log_idle, 1e300)
    # pieces: [start, end) with their slopes; log of exp(phi) at each start
    starts = np.r_[0.0, cuts]
    phi = np.zeros_like(lam)
    log_mass, log_xmass, phis = [], [], []
    for k, start in enumerate(starts):
        phis.append(phi)
        if k == len(cuts):  # beyond the last limit: nobody patient, slope -c mu
            log_mass.append(phi - np.log(cmu))
            log_xmass.append(None)
            break
        length = cuts[k] - start
        patient = shares[limits_arr > start].sum()
        slope = lam * patient - cmu
        log_int = _log_int_exp(slope, length)
        log_mass.append(phi + log_int)
        with np.errstate(divide="ignore"):
            log_x = _log_int_x_exp(slope, length)
            if start > 0:
                log_x = np.logaddexp(np.log(start) + log_int, log_x)
        log_xmass.append(phi + log_x)
        phi = phi + slope * length
    pieces = np.array(log_mass) + log_lam  # log of lambda * integral over each piece
    log_norm = np.logaddexp(log_idle, np.logaddexp.reduce(pieces, axis=0))
    mass = np.exp(pieces - log_norm)  # P(V in piece k), (pieces, points)
    p_idle = np.exp(log_idle - log_norm)
    tail = np.cumsum(mass[::-1], axis=0)[::-1]  # P(V >= start of piece k)
    by_class = np.empty((len(limits), lam.size))
    mean_wait = np.zeros_like(lam)
    for i, (limit, w) in enumerate(zip(limits_arr, shares, strict=True)):
        k = int(np.searchsorted(cuts, limit)) + 1  # pieces 0..k-1 lie below the limit
        by_class[i] = tail[k]
        below = sum(np.exp(log_xmass[j] + log_lam - log_norm) for j in range(k))
        mean_wait = mean_wait + w * (below + limit * tail[k])
    timeout = shares @ by_class
    served = shares @ (1.0 - by_class)

    def cdf(x: np.ndarray) -> np.ndarray:
        """P(V <= x) for x >= 0, elementwise."""
        out = p_idle.copy()
        for k, start in enumerate(starts):
            end = cuts[k] if k < len(cuts) else np.inf
            inside = (x > start)
            if not inside.any():
                break
            span = np.minimum(x, end) - start
            if k == len(cuts):
                part = np.exp(phis[k] + log_lam - log_norm - np.log(cmu)) * -np.expm1(
                    -cmu * np.maximum(span, 0.0))
            else:
                patient = shares[limits_arr > start].sum()
                slope = lam * patient - cmu
                with np.errstate(divide="ignore"):
                    part = np.exp(phis[k] + log_lam - log_norm
                                  + _log_int_exp(slope, np.maximum(span, 1e-300)))
            out = out + np.where(inside, part, 0.0)
        return np.clip(out, 0.0, 1.0)

    caps = [cdf(np.full_like(lam, x)) for x in limits_arr]  # P(V <= D_i)

    def quantile(level: float) -> np.ndarray:
        """Quantile of the wait of served requests (class i served when V < D_i)."""
        target = level * served
        lo, hi = np.zeros_like(lam), np.full_like(lam, float(cuts[-1]))
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            f = cdf(mid)
            got = sum(w * np.minimum(f, cap) for w, cap in zip(shares, caps, strict=True))
            below = got < target
            lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        # the atom at 0 (a free seat on arrival) covers the level: the quantile is 0
        at_zero = sum(w * np.minimum(p_idle, cap) for w, cap in zip(shares, caps, strict=True))
        return np.where(at_zero >= target, 0.0, hi)

    return {
        "timeout_probability": np.where(lam > 0, timeout, 0.0),
        "timeout_by_class": np.where(lam[None, :] > 0, by_class, 0.0),
        "mean_wait": np.where(lam > 0, mean_wait, 0.0),
        "mean_queue_length": lam * np.where(lam > 0, mean_wait, 0.0),
        "quantile": quantile,
    }


def _mean_capped_wait(
    lam: np.ndarray, s: np.ndarray, c: np.ndarray, K: np.ndarray, limit: float,
    p_wait: np.ndarray, p_timeout: np.ndarray, mean_wait: np.ndarray,
) -> np.ndarray:
    """E[min(W, limit)] for the M/M/c/K wait W of accepted requests.

    ``limit * P(W > limit)`` plus the integral of W's quantile function over
    ``(1 - P(W > 0), 1 - P(W > limit))`` (where it stays below the limit), by
    Gauss-Legendre quadrature in the probability.
    """
    if not math.isfinite(limit):
        return mean_wait
    x, wts = np.polynomial.legendre.leggauss(_GL_NODES)
    a = 1.0 - p_wait
    b = 1.0 - p_timeout
    half = 0.5 * (b - a)
    u = np.clip((0.5 * (a + b))[..., None] + half[..., None] * x, 0.0, 1.0)
    q = mmck(lam[..., None], 1.0 / s[..., None], c[..., None], K[..., None])
    quant = np.minimum(np.asarray(q.wait_quantile(u), dtype=float), limit)
    integral = (quant * wts).sum(axis=-1) * half
    return np.where(p_wait > 0, integral + limit * p_timeout, 0.0)


def _log_int_exp(d: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """log of the integral of exp(d x) over (0, t), t > 0, without overflow."""
    x = d * t
    out = np.log(t) + np.zeros_like(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pos = x > 1e-12
        out = np.where(pos, x + np.log(-np.expm1(-np.where(pos, x, 1.0)))
                       - np.log(np.where(pos, x, 1.0)) + np.log(t), out)
        neg = x < -1e-12
        out = np.where(neg, np.log(-np.expm1(np.where(neg, x, -1.0)))
                       - np.log(-np.where(neg, x, -1.0)) + np.log(t), out)
    return out


def _deadline_delay(lam: np.ndarray, mu: np.ndarray, c: np.ndarray, D: float
                    ) -> dict[str, Any]:
    """M/M/c+D: c servers, unlimited room, every request leaves after waiting D.

    The virtual wait V (what an arrival would wait; PASTA) has P(V = 0) = sum of p_n,
    n < c, and density lambda p_{c-1} exp(delta x) on (0, D), delta = lambda - c mu,
    continued by exp(-c mu (x - D)) beyond D (arrivals that would wait past D add no
    work). Normalising with sum_{n<c} p_n = p_{c-1} / B(c-1, A) gives everything.
    """
    A = lam / mu
    d = lam - c * mu
    cmu = c * mu
    with np.errstate(divide="ignore"):
        prev = np.where(c > 1, c - 1.0, 1.0)
        b = np.asarray(erlang_b(prev, A), dtype=float)
        log_idle = np.where(c > 1, -np.log(b), 0.0)  # log(sum_{n<c} p_n / p_{c-1})
        log_lam = np.log(lam)
    log_idle = np.minimum(log_idle, 1e300)  # B underflowed: the servers are never all busy
    log_i = _log_int_exp(d, D)                       # log int_0^D exp(d x) dx
    log_wait_below = log_lam + log_i                 # / p_{c-1}
    log_beyond = log_lam + d * D - np.log(cmu)       # / p_{c-1}
    log_norm = np.logaddexp(log_idle, np.logaddexp(log_wait_below, log_beyond))
    p_timeout = np.exp(log_beyond - log_norm)
    p_idle = np.exp(log_idle - log_norm)             # P(V = 0)
    log_lp = log_lam - log_norm                      # log(lambda p_{c-1})
    # E[V 1{V < D}] = lambda p int_0^D x e^{dx} dx; int = (e^{dD}(dD - 1) + 1) / d^2
    x = d * D
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        small = np.abs(x) < 1e-4
        xs = np.where(small, 1.0, x)
        # for x > 0 factor e^{x}: e^{x} ((x - 1) + e^{-x}) / d^2
        pos_val = np.log(np.maximum((xs - 1.0) + np.exp(-np.abs(xs)), 1e-300)) + xs \
            - 2 * np.log(np.abs(np.where(small, 1.0, d)))
        neg_val = np.log(np.maximum(np.exp(np.minimum(xs, 0.0)) * (xs - 1.0) + 1.0, 1e-300)) \
            - 2 * np.log(np.abs(np.where(small, 1.0, d)))
        log_xint = np.where(x > 0, pos_val, neg_val)
        series = np.log(D * D / 2.0 + d * D ** 3 / 3.0 + d * d * D ** 4 / 8.0)
        log_xint = np.where(small, series, log_xint)
        mean_below = np.exp(log_lp + log_xint)
    mean_wait = np.where(lam > 0, mean_below + D * p_timeout, 0.0)
    served = 1.0 - p_timeout

    def quantile(level: float) -> np.ndarray:
        """Quantile of the wait of served requests (V given V < D)."""
        target = level * served - p_idle  # probability mass needed from the density
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            y = target / np.exp(log_lp)   # int_0^t e^{dx} dx = y
            t = np.where(np.abs(d) > 0, np.log1p(d * y) / np.where(d == 0, 1.0, d), y)
        t = np.where(target > 0, t, 0.0)
        return np.clip(np.nan_to_num(t, nan=0.0, posinf=D), 0.0, D)

    return {
        "timeout_probability": np.where(lam > 0, p_timeout, 0.0),
        "mean_wait": mean_wait,
        "mean_queue_length": lam * mean_wait,
        "quantile": quantile,
    }
