"""Leader-election configuration with client-go's validation, and named presets.

``ElectionConfig`` holds the three timing parameters of client-go's
``tools/leaderelection`` package (LeaseDuration, RenewDeadline, RetryPeriod) plus what the
timing models need: the jitter factor of the followers' retry loop, the number of
candidates, the latency of one API call and whether the leader releases the lease on a
clean shutdown. Construction validates like client-go's ``NewLeaderElector``
(``tools/leaderelection/leaderelection.go``), in the same order and with the same messages.

Presets (``ElectionConfig.preset("kube-scheduler")``) come from
``data/leader_election_presets.csv``, whose README names the upstream source of each row.
"""

from __future__ import annotations

import csv
import math
import numbers
import warnings
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ha_toolkit._data import data_path
from ha_toolkit.durations import parse_duration

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CALL_TIMEOUT_RULES",
    "CLIENT_GO_JITTER_FACTOR",
    "ElectionConfig",
    "LeaseOverlapWarning",
    "LeaseTruncationWarning",
    "preset_names",
    "presets_frame",
    "require_client_go",
]


class LeaseOverlapWarning(UserWarning):
    """The followers' wait leaves no margin over RenewDeadline + RetryPeriod.

    The followers wait the Lease's whole-second LeaseDurationSeconds plus two API round
    trips; when that is not longer than RD + RP, two leaders can act at once after a
    partition (see :mod:`ha_toolkit.election.overlap`).
    """


class LeaseTruncationWarning(UserWarning):
    """The lease duration is not a whole number of seconds.

    client-go writes ``LeaseDurationSeconds = int(LeaseDuration / time.Second)`` into the
    Lease (``tryAcquireOrRenew``, ``tools/leaderelection/leaderelection.go``) and followers
    judge expiry by that value (since Kubernetes 1.27), so ``15.5s`` acts as 15 s.
    """


CALL_TIMEOUT_RULES = ("half-renew-deadline", "renew-deadline")
"""Per-call timeouts that follow the renew deadline.

``"half-renew-deadline"``: ``max(1 s, RenewDeadline / 2)``, set by client-go's
``resourcelock.NewFromKubeconfig`` (``tools/leaderelection/resourcelock/interface.go``) on the
lock client of kube-scheduler, kube-controller-manager, cloud-controller-manager and
controller-runtime managers. ``"renew-deadline"``: ``RenewDeadline``, set by
openshift/library-go ``pkg/controller/controllercmd/builder.go``
(``leaderConfig.Timeout = RenewDeadline``); it also describes a lock client with no timeout
at all, whose leader's calls are bounded only by the renew cycle's deadline context.
"""

CLIENT_GO_JITTER_FACTOR = 1.2
"""client-go's package constant ``JitterFactor``, used by ``NewLeaderElector``'s validation."""

PRESETS_FILE = "leader_election_presets.csv"
_PRESET_COLUMNS = (
    "name",
    "lease_duration",
    "renew_deadline",
    "retry_period",
    "release_on_cancel",
    "release_on_cancel_source",
    "call_timeout",
    "call_timeout_source",
    "source",
    "notes",
)
_NS_PER_S = 1_000_000_000
CLIENTS = ("client-go", "python")


def _nanoseconds(seconds: float) -> int:
    """Seconds -> integer nanoseconds, as a Go ``time.Duration`` holds them."""
    return round(seconds * _NS_PER_S)


@dataclass(frozen=True)
class ElectionConfig:
    """Timing configuration of one leader election (client-go semantics).

    Durations may be given as seconds or as strings such as ``"15s"``, ``"1m30s"``,
    ``"500ms"`` or as :class:`datetime.timedelta`; they are stored as float seconds.

    Parameters
    ----------
    lease_duration : float or str or timedelta
        LeaseDuration: how long followers wait, after last seeing the lease record change,
        before they may take the lease.
    renew_deadline : float or str or timedelta
        RenewDeadline: how long the leader keeps retrying a renewal before it stops leading.
    retry_period : float or str or timedelta
        RetryPeriod: the pause between attempts of the leader's renew loop and the base
        pause of the followers' acquire loop.
    jitter_factor : float, optional
        Followers wait ``retry_period * (1 + jitter_factor * U)``, U ~ Uniform[0, 1),
        between attempts. 0 means no jitter. Defaults to client-go's constant 1.2, or to 0
        for the Python client, which does not jitter.
    candidates : int, default 3
        Number of processes contending (the leader plus ``candidates - 1`` followers).
    api_latency : float or str or timedelta, default 0
        Round-trip time of one API call to the lease.
    release_on_cancel : bool, default False
        Whether the leader empties the lease on a clean shutdown (``ReleaseOnCancel``).
    name : str or None, default None
        A label, e.g. the preset name.
    client : {"client-go", "python"}, default "client-go"
        Which implementation's loops the timing models follow. ``"python"`` is the PyPI
        ``kubernetes`` package's ``leaderelection``: followers sleep ``retry_period`` after
        each attempt without jitter and judge expiry by their own ``lease_duration``; the
        leader renews with a GET and an Update (no fast path); it never releases. Its
        validation has its own messages, e.g. ``lease_duration must be greater than
        renew_deadline``.
    call_timeout : float or str or timedelta, default "half-renew-deadline"
        The lock client's per-call HTTP timeout (``rest.Config.Timeout``, also sent as the
        ``?timeout=`` query parameter): a duration, or a rule of :data:`CALL_TIMEOUT_RULES`,
        ``"half-renew-deadline"`` (``max(1 s, RD / 2)``, client-go's
        ``resourcelock.NewFromKubeconfig``) or ``"renew-deadline"`` (``RD``, openshift/library-go
        ``controllercmd``). A call to a blackholed API hangs this long (or until the renew
        cycle's deadline); see :attr:`effective_call_timeout`.

    Warns
    -----
    LeaseTruncationWarning
        For client-go, when ``lease_duration`` is not a whole number of seconds: the Lease
        stores it truncated and the followers wait the truncated value.
    LeaseOverlapWarning
        When the followers' wait leaves no margin over ``renew_deadline + retry_period``.

    Raises
    ------
    ValueError
        A duration that does not parse or is not finite (the message names the field);
        then, in client-go's order and with its messages:
        ``leaseDuration must be greater than renewDeadline``,
        ``renewDeadline must be greater than retryPeriod*JitterFactor`` (checked with
        client-go's constant 1.2, whatever ``jitter_factor`` is),
        ``leaseDuration must be greater than zero``, ``renewDeadline must be greater than
        zero``, ``retryPeriod must be greater than zero``; then a negative or non-finite
        ``jitter_factor``, ``candidates`` that is not an integer >= 1, a negative
        ``api_latency``, a non-bool ``release_on_cancel``, a non-string ``name`` or a
        ``call_timeout`` that is neither a rule nor a duration > 0.

    Notes
    -----
    client-go compares ``time.Duration`` values, integer nanoseconds; the comparisons here
    use the durations rounded to whole nanoseconds the same way, including the truncation
    of ``time.Duration(JitterFactor * float64(RetryPeriod))``.

    Examples
    --------
    >>> cfg = ElectionConfig("15s", "10s", "2s")
    >>> cfg.lease_duration, cfg.followers
    (15.0, 2)
    >>> ElectionConfig.preset("openshift").retry_period
    26.0
    >>> cfg.effective_call_timeout, ElectionConfig.preset("openshift").effective_call_timeout
    (5.0, 107.0)
    """

    lease_duration: float
    renew_deadline: float
    retry_period: float
    jitter_factor: float | None = None
    candidates: int = 3
    api_latency: float = 0.0
    release_on_cancel: bool = False
    name: str | None = None
    client: str = "client-go"
    call_timeout: float | str = "half-renew-deadline"

    def __post_init__(self) -> None:
        for field_name in ("lease_duration", "renew_deadline", "retry_period", "api_latency"):
            seconds = parse_duration(getattr(self, field_name), name=field_name)
            object.__setattr__(self, field_name, seconds)

        if self.client not in CLIENTS:
            known = ", ".join(CLIENTS)
            raise ValueError(f"invalid client {self.client!r}: expected one of {known}")
        if self.client == "python":
            self._validate_like_the_python_client()
        else:
            self._validate_like_client_go()
        if self.jitter_factor is None:
            default = CLIENT_GO_JITTER_FACTOR if self.client == "client-go" else 0.0
            object.__setattr__(self, "jitter_factor", default)

        jitter = self.jitter_factor
        if isinstance(jitter, bool) or not isinstance(jitter, numbers.Real):
            raise ValueError(f"invalid jitter_factor {jitter!r}: expected a number >= 0")
        jitter = float(jitter)
        if not math.isfinite(jitter) or jitter < 0:
            raise ValueError(f"invalid jitter_factor {jitter!r}: must be finite and >= 0")
        object.__setattr__(self, "jitter_factor", jitter)

        candidates = self.candidates
        if isinstance(candidates, bool) or not isinstance(candidates, numbers.Integral):
            raise ValueError(f"invalid candidates {candidates!r}: expected an integer >= 1")
        if candidates < 1:
            raise ValueError(f"invalid candidates {candidates!r}: must be >= 1")
        object.__setattr__(self, "candidates", int(candidates))

        if self.api_latency < 0:
            raise ValueError(f"invalid api_latency {self.api_latency!r}: must be >= 0")

        release = self.release_on_cancel
        if not isinstance(release, bool | np.bool_):
            raise ValueError(f"invalid release_on_cancel {release!r}: expected True or False")
        object.__setattr__(self, "release_on_cancel", bool(release))

        if self.name is not None and not isinstance(self.name, str):
            raise ValueError(f"invalid name {self.name!r}: expected a string or None")

        object.__setattr__(self, "call_timeout", _parse_call_timeout(self.call_timeout))

        if self.client == "client-go" and self.record_lease_duration != self.lease_duration:
            warnings.warn(
                f"leaseDuration {self.lease_duration:g}s is not a whole number of seconds: the "
                f"Lease stores LeaseDurationSeconds = {self.record_lease_duration:g} "
                "(int(LeaseDuration / time.Second)) and the followers wait that long",
                LeaseTruncationWarning,
                stacklevel=3,
            )

        followers_wait = self.record_lease_duration + 2 * self.api_latency
        if followers_wait <= self.renew_deadline + self.retry_period:
            # client-go accepts this, but a cut-off leader may still act after a follower
            # has taken over: its renew deadline ends up to RP + RD after its last renewal,
            # while a follower acts at the earliest LDrec + 2 l after it (the overlap model).
            lease = f"{self.record_lease_duration:g}s"
            if self.record_lease_duration != self.lease_duration:
                lease += " as the Lease stores it"
            if self.api_latency:
                lease += f", plus 2 x {self.api_latency:g}s API latency"
            warnings.warn(
                f"leaseDuration ({lease}) <= renewDeadline + retryPeriod "
                f"({self.renew_deadline + self.retry_period:g}s): a partitioned leader can "
                "still act after a follower takes the lease",
                LeaseOverlapWarning,
                stacklevel=3,
            )

    def _validate_like_client_go(self) -> None:
        """client-go ``NewLeaderElector``: its checks, order and messages."""
        # on integer nanoseconds, as Go's time.Duration
        ld = _nanoseconds(self.lease_duration)
        rd = _nanoseconds(self.renew_deadline)
        rp = _nanoseconds(self.retry_period)
        if ld <= rd:
            raise ValueError("leaseDuration must be greater than renewDeadline")
        if rd <= int(CLIENT_GO_JITTER_FACTOR * float(rp)):
            raise ValueError("renewDeadline must be greater than retryPeriod*JitterFactor")
        if ld < 1:
            raise ValueError("leaseDuration must be greater than zero")
        if rd < 1:
            raise ValueError("renewDeadline must be greater than zero")
        if rp < 1:
            raise ValueError("retryPeriod must be greater than zero")

    def _validate_like_the_python_client(self) -> None:
        """The Python client's ``Config``: its checks (in seconds), order and messages."""
        ld, rd, rp = self.lease_duration, self.renew_deadline, self.retry_period
        if ld <= rd:
            raise ValueError("lease_duration must be greater than renew_deadline")
        if rd <= CLIENT_GO_JITTER_FACTOR * rp:
            raise ValueError("renewDeadline must be greater than retry_period*jitter_factor")
        if ld < 1:
            raise ValueError("lease_duration must be greater than one")
        if rd < 1:
            raise ValueError("renew_deadline must be greater than one")
        if rp < 1:
            raise ValueError("retry_period must be greater than one")
        if self.jitter_factor not in (None, 0, 0.0):
            raise ValueError(
                "the Python client does not jitter its retry period: jitter_factor must be 0, "
                f"got {self.jitter_factor!r}"
            )
        if self.release_on_cancel:
            raise ValueError("release_on_cancel must be False: the Python client never releases")

    @property
    def followers(self) -> int:
        """Number of followers, ``candidates - 1``."""
        return self.candidates - 1

    @property
    def record_lease_duration(self) -> float:
        """The lease duration the followers judge expiry by.

        For client-go, as the Lease record stores it: whole seconds, truncated. client-go
        writes ``LeaseDurationSeconds = int(LeaseDuration / time.Second)``, and since
        Kubernetes 1.27 followers judge expiry by the record's value, not their own.
        The Python client's followers use their own ``lease_duration``.
        """
        if self.client == "python":
            # the Python client's followers use their own lease_duration
            return self.lease_duration
        return float(_nanoseconds(self.lease_duration) // _NS_PER_S)

    @property
    def effective_call_timeout(self) -> float:
        """The lock client's per-call timeout in seconds, with the rule applied.

        ``max(1 s, RD / 2)`` for ``"half-renew-deadline"`` (client-go
        ``resourcelock.NewFromKubeconfig``: ``renewDeadline / 2``, raised to one second),
        ``RD`` for ``"renew-deadline"``, else the duration given.
        """
        rule = self.call_timeout
        if rule == "half-renew-deadline":
            return max(1.0, self.renew_deadline / 2.0)
        if rule == "renew-deadline":
            return self.renew_deadline
        return float(rule)

    @property
    def renew_period(self) -> float:
        """Time between the starts of two successful renewals.

        ``retry_period`` plus the renewal's calls: one optimistic Update for client-go (the
        fast path since 1.30), a GET and an Update for the Python client.
        """
        calls = 2 if self.client == "python" else 1
        return self.retry_period + calls * self.api_latency

    @classmethod
    def preset(cls, name: str, /, **overrides: Any) -> ElectionConfig:
        """Build the configuration of a named component.

        Parameters
        ----------
        name : str
            A preset name (case-insensitive), see :func:`preset_names`.
        **overrides
            Fields to change, e.g. ``candidates=5`` or ``api_latency="20ms"``.

        Returns
        -------
        ElectionConfig
            With ``name`` set to the preset name unless overridden.

        Raises
        ------
        ValueError
            If ``name`` is not a known preset; the message lists the known names.
        """
        rows = _preset_rows()
        key = name.strip().lower() if isinstance(name, str) else name
        if key not in rows:
            known = ", ".join(rows)
            raise ValueError(f"unknown preset {name!r}; known presets: {known}")
        row = rows[key]
        values: dict[str, Any] = {
            "lease_duration": row["lease_duration"],
            "renew_deadline": row["renew_deadline"],
            "retry_period": row["retry_period"],
            "release_on_cancel": row["release_on_cancel"],
            "call_timeout": row["call_timeout"],
            "name": row["name"],
        }
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown ElectionConfig field(s): {', '.join(sorted(unknown))}")
        values.update(overrides)
        return cls(**values)

    @classmethod
    def presets(cls) -> pd.DataFrame:
        """The preset table as a DataFrame, see :func:`presets_frame`."""
        return presets_frame()


def _parse_call_timeout(value: Any) -> float | str:
    """A rule name of :data:`CALL_TIMEOUT_RULES` as is, else a duration > 0 in seconds."""
    if isinstance(value, str) and value.strip().lower() in CALL_TIMEOUT_RULES:
        return value.strip().lower()
    rules = " or ".join(repr(rule) for rule in CALL_TIMEOUT_RULES)
    try:
        seconds = parse_duration(value, name="call_timeout")
    except (TypeError, ValueError):
        raise ValueError(
            f"invalid call_timeout {value!r}: expected a duration > 0 or {rules}"
        ) from None
    if not seconds > 0:
        raise ValueError(f"invalid call_timeout {value!r}: must be > 0 (or {rules})")
    return seconds


def require_client_go(cfg: ElectionConfig, what: str) -> None:
    """Refuse a model that follows client-go's loops for a configuration of another client."""
    if cfg.client != "client-go":
        raise ValueError(
            f"{what} follows client-go's renew loop; it is not modelled for client={cfg.client!r}"
        )


@lru_cache(maxsize=1)
def _preset_rows() -> dict[str, dict[str, Any]]:
    path = data_path(PRESETS_FILE)
    rows: dict[str, dict[str, Any]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != _PRESET_COLUMNS:
            raise ValueError(
                f"{PRESETS_FILE}: expected columns {', '.join(_PRESET_COLUMNS)}, "
                f"got {reader.fieldnames}"
            )
        for line, raw in enumerate(reader, start=2):
            flag = raw["release_on_cancel"].strip().lower()
            if flag not in ("true", "false"):
                raise ValueError(
                    f"{PRESETS_FILE} line {line}: release_on_cancel must be true or false, "
                    f"got {raw['release_on_cancel']!r}"
                )
            row: dict[str, Any] = {
                "name": raw["name"].strip(),
                "lease_duration": parse_duration(raw["lease_duration"], "lease_duration"),
                "renew_deadline": parse_duration(raw["renew_deadline"], "renew_deadline"),
                "retry_period": parse_duration(raw["retry_period"], "retry_period"),
                "release_on_cancel": flag == "true",
                "release_on_cancel_source": raw["release_on_cancel_source"].strip(),
                "call_timeout": _parse_call_timeout(raw["call_timeout"]),
                "call_timeout_source": raw["call_timeout_source"].strip(),
                "source": raw["source"].strip(),
                "notes": raw["notes"].strip(),
            }
            rows[row["name"].lower()] = row
    return rows


def preset_names() -> list[str]:
    """Names of the presets, in the order of the data file."""
    return [row["name"] for row in _preset_rows().values()]


def presets_frame() -> pd.DataFrame:
    """The preset table.

    Returns
    -------
    pandas.DataFrame
        One row per preset with columns ``name``, ``lease_duration``, ``renew_deadline``,
        ``retry_period`` (float seconds), ``release_on_cancel`` (bool, what a SIGTERM
        actually does), ``release_on_cancel_source``, ``call_timeout`` (a rule of
        :data:`CALL_TIMEOUT_RULES` or seconds), ``call_timeout_source``, ``source`` (of the
        three durations) and ``notes``.
    """
    import pandas as pd

    frame = pd.DataFrame(list(_preset_rows().values()), columns=list(_PRESET_COLUMNS))
    return frame.astype(
        {
            "lease_duration": float,
            "renew_deadline": float,
            "retry_period": float,
            "release_on_cancel": bool,
        }
    )
