"""Steady-state availability: components from MTBF and MTTR, series, parallel and k-of-n.

Every building block carries its **unavailability** ``U = 1 - A`` as the primary number:
near ``A = 1`` the unavailability is what matters (nines, downtime) and subtracting from one
would throw its digits away. Availability, nines and downtime are derived from it. Near
``A = 0`` (a block almost always down) the roles swap: each block also computes its
availability directly, in the complement space (``MTBF / (MTBF + MTTR)``, a product of
availabilities, the binomial lower tail), so that a tiny availability keeps its digits too.

Conventions
-----------
* MTBF is the mean *up* time between a repair and the next failure (what some texts call
  MTTF); MTTR the mean time to restore. A component alternates between the two, so its
  steady-state availability is ``MTBF / (MTBF + MTTR)`` whatever the distributions.
* Blocks composed with :func:`series`, :func:`parallel` and :func:`k_of_n` fail and are
  repaired independently, each on its own (one repair crew per component).
* A year is 365 days (8760 h), a month 30 days: ``99.9 %`` is 8.76 hours a year and
  43.2 minutes a month.
* Durations accept everything :func:`ha_toolkit.durations.parse_duration` accepts
  (``"720h"``, ``"30m"``, ``"1h30m"``, ``"30d"``, ``"2w"``, ``"1d12h"``, a number of
  seconds, a timedelta).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from scipy import special

from ha_toolkit.durations import DurationLike, parse_duration

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "SECONDS_PER_MONTH",
    "SECONDS_PER_YEAR",
    "Availability",
    "Component",
    "Replica",
    "as_unavailability",
    "downtime_per_month",
    "downtime_per_year",
    "k_of_n",
    "nines",
    "parallel",
    "parse_long_duration",
    "quorum",
    "series",
    "up_count_pmf",
]

SECONDS_PER_YEAR = 365 * 86400.0
"""Seconds in the 365-day year used for downtime per year."""

SECONDS_PER_MONTH = 30 * 86400.0
"""Seconds in the 30-day month used for downtime per month."""


def parse_long_duration(value: DurationLike, name: str = "duration") -> float:
    """Seconds from a duration, days and weeks included (``"30d"``, ``"2w"``, ``"1d12h"``).

    Kept for the callers that use it: the toolkit has one duration grammar, and
    :func:`ha_toolkit.durations.parse_duration` accepts ``d`` (24 h) and ``w`` (7 d) beside
    Go's units, so this is the same function.

    Parameters
    ----------
    value : str, float, int, timedelta or numpy.timedelta64
        The duration.
    name : str, optional
        The parameter's name, used in error messages.

    Returns
    -------
    float
        Seconds.

    Examples
    --------
    >>> parse_long_duration("30d")
    2592000.0
    >>> parse_long_duration("1d12h")
    129600.0
    """
    return parse_duration(value, name=name)


# ------------------------------------------------------------------------ figures mixin
def _nines(u: float, a: float | None = None) -> float:
    """``-log10(U)``, from ``A`` when it is the more accurate of the two (``A < 1/2``)."""
    if u <= 0.0:
        return math.inf
    value = -math.log1p(-a) / math.log(10.0) if a is not None and a < 0.5 else -math.log10(u)
    return value if value > 0.0 else 0.0  # never -0.0


def downtime_per_year(availability: float) -> float:
    """Seconds of downtime in a 365-day year at the given availability."""
    return (1.0 - _check_probability(availability, "availability")) * SECONDS_PER_YEAR


def downtime_per_month(availability: float) -> float:
    """Seconds of downtime in a 30-day month at the given availability."""
    return (1.0 - _check_probability(availability, "availability")) * SECONDS_PER_MONTH


def nines(availability: float) -> float:
    """Number of nines, ``-log10(1 - A)``: 3.0 for 99.9 %, inf for A = 1.

    Fractional values are kept: 99.95 % is 3.3 nines.
    """
    return _nines(1.0 - _check_probability(availability, "availability"))


class _Figures:
    """Availability, nines and downtime derived from ``self.unavailability``."""

    unavailability: float

    @property
    def availability(self) -> float:
        """Steady-state availability ``1 - U``."""
        return 1.0 - self.unavailability

    @property
    def nines(self) -> float:
        """``-log10(U)`` (inf when U = 0, 0 when U = 1)."""
        return _nines(self.unavailability, self.availability)

    @property
    def downtime_per_year(self) -> float:
        """Expected seconds down in a 365-day year."""
        return self.unavailability * SECONDS_PER_YEAR

    @property
    def downtime_per_month(self) -> float:
        """Expected seconds down in a 30-day month."""
        return self.unavailability * SECONDS_PER_MONTH

    def figures(self) -> dict[str, float]:
        """``availability``, ``unavailability``, ``nines``, ``downtime_per_year`` and
        ``downtime_per_month`` (seconds) as floats."""
        return {
            "availability": self.availability,
            "unavailability": self.unavailability,
            "nines": self.nines,
            "downtime_per_year": self.downtime_per_year,
            "downtime_per_month": self.downtime_per_month,
        }


@runtime_checkable
class HasUnavailability(Protocol):
    """Anything with an ``unavailability`` attribute in [0, 1]."""

    unavailability: float


def _check_probability(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"invalid {name} {value!r}: expected a number in [0, 1]")
    value = float(value)
    if not (0.0 <= value <= 1.0):
        raise ValueError(f"invalid {name} {value!r}: must lie in [0, 1]")
    return value


def as_unavailability(part: Any, name: str = "part") -> float:
    """The unavailability of a block, or of a plain availability number.

    Parameters
    ----------
    part : float or object with ``unavailability``
        A number is read as an **availability** in [0, 1]; a :class:`Component`,
        :class:`Replica` or :class:`Availability` gives its exact unavailability.
    name : str
        Used in error messages.
    """
    if isinstance(part, HasUnavailability) and not isinstance(part, numbers.Real):
        return _check_probability(part.unavailability, f"{name}.unavailability")
    return 1.0 - _check_probability(part, name)


def _as_availability(part: Any, name: str = "part") -> float:
    """The availability of a block computed in its own right (accurate when tiny)."""
    if isinstance(part, HasUnavailability) and not isinstance(part, numbers.Real):
        value = getattr(part, "availability", None)
        if value is None:
            return 1.0 - _check_probability(part.unavailability, f"{name}.unavailability")
        return _check_probability(value, f"{name}.availability")
    return _check_probability(part, name)


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Availability(_Figures):
    """A steady-state availability, kept as its unavailability.

    Parameters
    ----------
    unavailability : float
        Long-run fraction of time (or of requests) the block is down, in [0, 1].
    name : str, optional
        A label.

    Examples
    --------
    >>> a = Availability(1e-3)
    >>> round(a.availability, 6), round(a.nines, 6), round(a.downtime_per_year / 3600, 2)
    (0.999, 3.0, 8.76)
    """

    unavailability: float
    name: str = ""
    # the availability when computed in its own right (more digits than 1 - U near 0)
    _availability: float | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "unavailability", _check_probability(self.unavailability, "unavailability")
        )
        if self._availability is not None:
            a = _check_probability(self._availability, "availability")
            object.__setattr__(self, "_availability", a)

    @property
    def availability(self) -> float:  # type: ignore[override]
        """Steady-state availability: ``1 - U``, or the value computed in its own right."""
        if self._availability is None:
            return 1.0 - self.unavailability
        return self._availability

    @classmethod
    def from_availability(cls, availability: float, name: str = "") -> Availability:
        """Build from an availability in [0, 1]."""
        a = _check_probability(availability, "availability")
        return cls(1.0 - a, name, a)

    def to_dict(self) -> dict[str, Any]:
        """``name`` and :meth:`figures`."""
        return {"name": self.name, **self.figures()}

    def to_frame(self) -> pd.DataFrame:
        """A one-row DataFrame of :meth:`to_dict`."""
        import pandas as pd

        return pd.DataFrame([self.to_dict()])


@dataclass(frozen=True)
class Component(_Figures):
    """One repairable component: it fails after a mean up time and is restored.

    Parameters
    ----------
    mtbf : duration
        Mean up time between failures (> 0): seconds, ``"720h"``, ``"30d"``, ``"2w"``...
    mttr : duration
        Mean time to restore (>= 0). 0 means restored at once (never unavailable).
    name : str, optional
        A label, e.g. ``"etcd"``.

    Raises
    ------
    ValueError
        If a duration does not parse, ``mtbf <= 0`` or ``mttr < 0``.

    Notes
    -----
    Availability ``MTBF / (MTBF + MTTR)`` holds for any up and down time distributions.
    Where a model needs more (the rate of failures seen by others, the time a failure stays
    undetected), the up and down times are taken as exponential.

    Examples
    --------
    >>> c = Component("30d", "1h")
    >>> round(c.availability, 6), round(c.downtime_per_year / 3600, 2)
    (0.998613, 12.15)
    """

    mtbf: float
    mttr: float
    name: str = ""

    def __post_init__(self) -> None:
        mtbf = parse_long_duration(self.mtbf, name="mtbf")
        mttr = parse_long_duration(self.mttr, name="mttr")
        if not mtbf > 0:
            raise ValueError(f"invalid mtbf {self.mtbf!r}: must be > 0")
        if mttr < 0:
            raise ValueError(f"invalid mttr {self.mttr!r}: must be >= 0")
        if not isinstance(self.name, str):
            raise ValueError(f"invalid name {self.name!r}: expected a string")
        object.__setattr__(self, "mtbf", mtbf)
        object.__setattr__(self, "mttr", mttr)

    @property
    def unavailability(self) -> float:  # type: ignore[override]
        """``MTTR / (MTBF + MTTR)``, computed without overflow for huge inputs."""
        if self.mttr == 0.0:
            return 0.0
        return 1.0 / (1.0 + self.mtbf / self.mttr)

    @property
    def availability(self) -> float:  # type: ignore[override]
        """``MTBF / (MTBF + MTTR)``, computed directly: accurate also when tiny."""
        return 1.0 / (1.0 + self.mttr / self.mtbf)

    @property
    def failure_rate(self) -> float:
        """Failures per second of up time, ``1 / MTBF``."""
        return 1.0 / self.mtbf

    @property
    def failures_per_year(self) -> float:
        """Expected failures in a 365-day year, ``A * year / MTBF``."""
        return self.availability * SECONDS_PER_YEAR / self.mtbf

    @property
    def units(self) -> tuple[Component, ...]:
        """The component itself, so that it can stand wherever a :class:`Replica` can."""
        return (self,)

    def to_dict(self) -> dict[str, Any]:
        """``name``, ``mtbf``, ``mttr`` (seconds) and :meth:`figures`."""
        return {"name": self.name, "mtbf": self.mtbf, "mttr": self.mttr, **self.figures()}


@dataclass(frozen=True)
class Replica(_Figures):
    """A replica that works only while every one of its units works.

    A control-plane process is up only while its machine and the processes it depends
    on are up: ``Replica((node, apiserver))``. The units fail and are repaired
    independently; the replica is their series.

    Parameters
    ----------
    units : sequence of Component
        At least one.
    name : str, optional
        A label.
    """

    units: tuple[Component, ...]
    name: str = ""

    def __post_init__(self) -> None:
        units = tuple(self.units) if not isinstance(self.units, Component) else (self.units,)
        if not units or not all(isinstance(u, Component) for u in units):
            raise ValueError("invalid units: expected one or more Component objects")
        object.__setattr__(self, "units", units)

    @property
    def unavailability(self) -> float:  # type: ignore[override]
        """``1 - prod(A_i)``, computed as ``-expm1(sum(log1p(-U_i)))``."""
        return _series_u([u.unavailability for u in self.units])

    @property
    def availability(self) -> float:  # type: ignore[override]
        """``prod(A_i)`` from the units' own availabilities (accurate also when tiny)."""
        return _product([u.availability for u in self.units])

    @property
    def failure_rate(self) -> float:
        """Failures per second while up: the sum of the units' ``1 / MTBF``."""
        return float(sum(u.failure_rate for u in self.units))

    @property
    def failures_per_year(self) -> float:
        """Expected failures in a 365-day year, ``A * year * failure_rate``."""
        return self.availability * SECONDS_PER_YEAR * self.failure_rate


# ----------------------------------------------------------------------- composition
def _series_u(us: list[float]) -> float:
    if any(u >= 1.0 for u in us):
        return 1.0
    return float(min(max(-math.expm1(math.fsum(math.log1p(-u) for u in us)), 0.0), 1.0))


def _product(values: list[float]) -> float:
    """A product of probabilities, in log space (no underflow of the partial products)."""
    if any(v <= 0.0 for v in values):
        return 0.0
    return float(min(math.exp(math.fsum(math.log(v) for v in values)), 1.0))


def series(*parts: Any, name: str = "") -> Availability:
    """Availability of blocks that must all be up (independent).

    Parameters
    ----------
    *parts : float or block
        Availabilities in [0, 1] or objects with ``unavailability`` (a
        :class:`Component`, :class:`Replica`, :class:`Availability`).
    name : str, optional
        Label of the result.

    Returns
    -------
    Availability
        ``prod(A_i)``; its unavailability is computed as ``-expm1(sum(log1p(-U_i)))`` so
        that tiny unavailabilities keep their digits.
    """
    if not parts:
        raise ValueError("series needs at least one part")
    us = [as_unavailability(p, f"parts[{i}]") for i, p in enumerate(parts)]
    availabilities = [_as_availability(p, f"parts[{i}]") for i, p in enumerate(parts)]
    return Availability(_series_u(us), name, _product(availabilities))


def parallel(*parts: Any, name: str = "") -> Availability:
    """Availability of blocks of which at least one must be up (independent).

    Parameters
    ----------
    *parts : float or block
        As for :func:`series`.
    name : str, optional
        Label of the result.

    Returns
    -------
    Availability
        Unavailability ``prod(U_i)``.
    """
    if not parts:
        raise ValueError("parallel needs at least one part")
    us = [as_unavailability(p, f"parts[{i}]") for i, p in enumerate(parts)]
    availabilities = [_as_availability(p, f"parts[{i}]") for i, p in enumerate(parts)]
    # 1 - prod(1 - A_i) in log space: accurate when every part is almost always down
    a = -math.expm1(math.fsum(math.log1p(-a) for a in availabilities)) \
        if all(a < 1.0 for a in availabilities) else 1.0
    return Availability(float(_product(us)), name, float(min(max(a, 0.0), 1.0)))


def _check_count(value: Any, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"invalid {name} {value!r}: expected an integer >= {low}")
    if value < low:
        raise ValueError(f"invalid {name} {value!r}: must be >= {low}")
    return int(value)


def quorum(members: int) -> int:
    """Majority of ``members``: ``floor(members / 2) + 1`` (etcd, Raft)."""
    return _check_count(members, "members") // 2 + 1


def k_of_n(k: int, n: int, part: Any, name: str = "") -> Availability:
    """Availability of ``n`` identical independent blocks of which ``k`` must be up.

    Parameters
    ----------
    k : int
        Blocks needed, ``1 <= k <= n`` (1: parallel; n: series; ``quorum(n)``: a Raft
        cluster).
    n : int
        Blocks present, >= 1.
    part : float or block
        The availability of one block, or an object with ``unavailability``.
    name : str, optional
        Label of the result.

    Returns
    -------
    Availability
        Unavailability ``P(Binomial(n, U) >= n - k + 1)``, from the regularised incomplete
        beta function on ``U`` (not on ``1 - A``), accurate to the last digits even when it
        is 1e-30.

    Examples
    --------
    >>> round(k_of_n(2, 3, 0.99).availability, 8)
    0.999702
    """
    n = _check_count(n, "n")
    k = _check_count(k, "k")
    if k > n:
        raise ValueError(f"invalid k {k!r}: must be <= n ({n})")
    u = as_unavailability(part, "part")
    a = _as_availability(part, "part")
    tolerated = n - k  # failures the block survives
    if u == 0.0 or a == 1.0:
        return Availability(0.0, name, 1.0)
    if a == 0.0:
        return Availability(1.0, name, 0.0)
    value = float(special.bdtrc(tolerated, n, u))
    # P(at least k up) from A in its own right: the complement of ``value`` keeps the
    # digits of a tiny availability that 1 - value would lose
    up = float(special.bdtrc(k - 1, n, a))
    return Availability(float(np.clip(value, 0.0, 1.0)), name, float(np.clip(up, 0.0, 1.0)))


def up_count_pmf(n: int, unavailability: float) -> np.ndarray:
    """``P(M = m)``, m = 0..n: how many of ``n`` independent blocks are up.

    ``M ~ Binomial(n, 1 - U)``, computed in log space from ``U`` so that the states with
    many blocks down keep their digits.
    """
    n = _check_count(n, "n")
    u = _check_probability(unavailability, "unavailability")
    m = np.arange(n + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log = (
            special.gammaln(n + 1)
            - special.gammaln(m + 1)
            - special.gammaln(n - m + 1)
            + special.xlog1py(m, -u)
            + special.xlogy(n - m, u)
        )
    return np.nan_to_num(np.exp(log), nan=0.0)
