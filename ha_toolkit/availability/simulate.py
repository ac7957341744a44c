"""Monte Carlo of a control plane over simulated years: the cross-check of the composition.

Nothing here uses a formula of :mod:`ha_toolkit.availability.controlplane`. The simulation
draws every unit's life (machines, processes, the load balancer) as alternating
exponential up and down times, derives who is up at every moment, and plays the events:

* **API servers**: the load balancer probes each replica every ``interval`` at a phase of
  its own and removes it after ``threshold`` failed probes (plus ``timeout``); until then
  the dead replica keeps its share of requests. The fraction of failed requests at each
  moment is ``dead in pool / in pool`` (1 with an empty pool), integrated over time.
* **etcd**: a quorum count, and a leader tracked by identity: when the leader fails (a
  quorum remaining) or a lost quorum comes back, writes stop for ``etcd_election``.
* **Leader-elected components**: the leader is tracked by identity. A crash of the leader
  leaves the lease to the followers for a crash failover drawn from
  :func:`ha_toolkit.election.simulate.simulate_failover` (client-go's loops run attempt by
  attempt) with as many candidates as replicas are up; with none up the component waits
  for the first repair and a fresh process waits out the lease, simulated poll by poll.
  Rolling updates (Poisson in time) restart the replicas that are up one by one, in a
  random order (or the leader last), each restart of the leader handing the lease to a
  follower picked at random (the
  ``release`` failover when the component releases its lease, else ``crash``). At the end
  of every API outage (etcd quorum lost, etcd elections, other disruptions, and, through
  the load balancer, its outages and those of all API servers) the leader's fate and the
  new leader's time come from :func:`ha_toolkit.election.simulate.simulate_outage` with
  the outage's actual length; a lone leader that lost its lease is restarted by the
  kubelet and polls its way back, attempt by attempt. Every new leader then needs its
  takeover time.

The horizon is cut into ``batches`` equal windows; each window's unavailability is one
observation, and the confidence interval of the mean is Student's t over the windows
(batch means: windows of years are much longer than any repair, so they are nearly
independent). The single simplification beyond the model's: an outage longer than a few
leases is handed to ``simulate_outage`` shortened to a few leases (keeping its phase
modulo the renew period), as by then the leader is lost and the followers' polling has
forgotten the outage's start.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from ha_toolkit.availability.blocks import SECONDS_PER_YEAR, Component, _check_count
from ha_toolkit.availability.controlplane import (
    COMPONENTS,
    RESTART_BACKOFF,
    Assumptions,
    Topology,
    control_plane,
    control_plane_terms,
)
from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.simulate import simulate_failover, simulate_outage

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SimulationResult", "simulate_control_plane"]


# ------------------------------------------------------------------------ signals
@dataclass(frozen=True)
class _Signal:
    """A two-state path on [0, H): the state at 0 and the sorted times it flips."""

    up0: bool
    toggles: np.ndarray

    def deltas(self) -> np.ndarray:
        """+1 where a flip takes the path down, -1 where it brings it up."""
        k = np.arange(self.toggles.size)
        was_up = (k % 2 == 0) == self.up0
        return np.where(was_up, 1, -1)

    def down_intervals(self, horizon: float) -> tuple[np.ndarray, np.ndarray]:
        """Starts and ends of the down periods (the last one may end at the horizon)."""
        t = self.toggles
        if self.up0:
            starts, ends = t[0::2], t[1::2]
        else:
            starts, ends = np.concatenate(([0.0], t[1::2])), t[0::2]
        if ends.size < starts.size:
            ends = np.append(ends, horizon)
        return starts, ends


def _unit(component: Component, horizon: float, rng: np.random.Generator) -> _Signal:
    """An alternating renewal path with exponential up and down times, stationary at 0."""
    if component.mttr == 0.0:
        return _Signal(True, np.empty(0))
    up0 = bool(rng.random() < component.availability)
    cycle = component.mtbf + component.mttr
    chunk = int(1.1 * horizon / cycle) + 16
    pieces, t = [], 0.0
    while t < horizon:
        ups = rng.exponential(component.mtbf, chunk)
        downs = rng.exponential(component.mttr, chunk)
        seq = np.empty(2 * chunk)
        seq[0::2], seq[1::2] = (ups, downs) if up0 else (downs, ups)
        times = t + np.cumsum(seq)
        pieces.append(times)
        t = float(times[-1])
    toggles = np.concatenate(pieces)
    return _Signal(up0, toggles[toggles < horizon])


def _all_up(signals: list[_Signal]) -> _Signal:
    """The path that is up while every one of ``signals`` is up."""
    if len(signals) == 1:
        return signals[0]
    times = np.concatenate([s.toggles for s in signals])
    deltas = np.concatenate([s.deltas() for s in signals])
    order = np.argsort(times, kind="stable")
    times, deltas = times[order], deltas[order]
    down0 = sum(not s.up0 for s in signals)
    up_after = (down0 + np.cumsum(deltas)) == 0
    before = np.concatenate(([down0 == 0], up_after[:-1]))
    return _Signal(down0 == 0, times[up_after != before])


@dataclass(frozen=True)
class _Step:
    """A piecewise-constant function on [0, H): ``v0``, then ``values[k]`` from ``times[k]``."""

    v0: float
    times: np.ndarray
    values: np.ndarray

    def at(self, t: np.ndarray) -> np.ndarray:
        """Values just after the instants ``t``."""
        if not self.times.size:
            return np.full(np.shape(t), self.v0)
        idx = np.searchsorted(self.times, t, side="right") - 1
        return np.where(idx >= 0, self.values[np.maximum(idx, 0)], self.v0)

    def integrals(self, edges: np.ndarray) -> np.ndarray:
        """Integral over each window ``[edges[i], edges[i + 1])``."""
        t = np.concatenate(([0.0], self.times))
        v = np.concatenate(([self.v0], self.values)).astype(float)
        seg = np.diff(np.concatenate((t, [edges[-1]])))
        cum = np.concatenate(([0.0], np.cumsum(v * seg)))
        idx = np.searchsorted(t, edges, side="right") - 1
        return np.diff(cum[idx] + v[idx] * (edges - t[idx]))


def _indicator(starts: np.ndarray, ends: np.ndarray) -> _Step:
    """1 on the union of ``[starts, ends)``, else 0."""
    s, e = _union(starts, ends)
    times = np.empty(2 * s.size)
    times[0::2], times[1::2] = s, e
    values = np.zeros(times.size)
    values[0::2] = 1.0
    if s.size and s[0] == 0.0:
        return _Step(1.0, times[1:], values[1:])
    return _Step(0.0, times, values)


def _union(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint sorted intervals covering the union of ``[starts, ends)``."""
    starts, ends = np.asarray(starts, float), np.asarray(ends, float)
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return starts, ends
    order = np.argsort(starts, kind="stable")
    s, e = starts[order], ends[order]
    reach = np.maximum.accumulate(e)
    new = np.concatenate(([True], s[1:] > reach[:-1]))
    first = np.flatnonzero(new)
    last = np.concatenate((first[1:] - 1, [s.size - 1]))
    return s[first], reach[last]


def _up_count(signals: list[_Signal]) -> _Step:
    """How many of ``signals`` are up, as a step function."""
    times = np.concatenate([s.toggles for s in signals])
    deltas = -np.concatenate([s.deltas() for s in signals])
    order = np.argsort(times, kind="stable")
    up0 = float(sum(s.up0 for s in signals))
    return _Step(up0, times[order], up0 + np.cumsum(deltas[order]))


def _indicator_of(step: _Step, predicate) -> _Step:
    return _Step(float(predicate(step.v0)), step.times, predicate(step.values).astype(float))


def _runs(step: _Step, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the periods where a 0/1 step function is 1."""
    values = np.concatenate(([step.v0], step.values)) > 0.5
    times = np.concatenate(([0.0], step.times, [horizon]))
    change = np.flatnonzero(np.diff(values.astype(np.int8)))
    starts = list(times[change + 1][values[change + 1]])
    ends = list(times[change + 1][~values[change + 1]])
    if values[0]:
        starts.insert(0, 0.0)
    if len(ends) < len(starts):
        ends.append(horizon)
    return np.asarray(starts, float), np.asarray(ends, float)


# ------------------------------------------------------------------------ the tiers
def _api_tier(
    replicas: list[_Signal], a: Assumptions, horizon: float, rng: np.random.Generator
) -> tuple[_Step, _Step]:
    """Fraction of failed requests and the indicator of "no replica up"."""
    hc = a.health_check
    times, d_up, d_dead = [], [], []
    for sig in replicas:
        starts, ends = sig.down_intervals(horizon)
        if not sig.up0:  # down at 0: already out of the pool, back at its first flip
            first = ends[:1][ends[:1] < horizon]
            times.append(first)
            d_up.append(np.ones(first.size))
            d_dead.append(np.zeros(first.size))
            starts, ends = starts[1:], ends[1:]
        phase = rng.uniform(0.0, hc.interval)
        first_probe = phase + hc.interval * np.ceil((starts - phase) / hc.interval)
        removed = first_probe + (hc.threshold - 1) * hc.interval + hc.timeout
        dead_until = np.minimum(removed, ends)
        back = ends[ends < horizon]
        times += [starts, dead_until, back]
        d_up += [-np.ones(starts.size), np.zeros(dead_until.size), np.ones(back.size)]
        d_dead += [np.ones(starts.size), -np.ones(dead_until.size), np.zeros(back.size)]
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    t = t[order]
    up = sum(s.up0 for s in replicas) + np.cumsum(np.concatenate(d_up)[order])
    dead = np.cumsum(np.concatenate(d_dead)[order])
    pool = up + dead
    frac = np.where(pool > 0, dead / np.maximum(pool, 1), 1.0)
    up0 = sum(s.up0 for s in replicas)
    fraction = _Step(0.0 if up0 else 1.0, t, frac)
    none_up = _Step(0.0 if up0 else 1.0, t, (up == 0).astype(float))
    return fraction, none_up


def _etcd_elections(
    members: list[_Signal], q: int, gap: float, horizon: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends of the leader elections, the etcd leader tracked by identity."""
    times = np.concatenate([s.toggles for s in members])
    ids = np.concatenate([np.full(s.toggles.size, j) for j, s in enumerate(members)])
    order = np.argsort(times, kind="stable")
    times, ids = times[order].tolist(), ids[order].tolist()
    draws = rng.random(len(times) + 1).tolist()
    up = [s.up0 for s in members]
    count = sum(up)

    def pick(k: int) -> int:
        live = [i for i, x in enumerate(up) if x]
        return live[int(draws[k] * len(live))]

    leader = pick(len(times)) if count >= q else -1
    starts = []
    for k, (t, j) in enumerate(zip(times, ids, strict=True)):
        if up[j]:
            up[j] = False
            count -= 1
            if count == q - 1:
                leader = -1
            elif j == leader:
                starts.append(t)
                leader = pick(k)
        else:
            up[j] = True
            count += 1
            if count == q:
                starts.append(t)
                leader = pick(k)
    s = np.asarray(starts, float)
    return s, np.minimum(s + gap, horizon)


def _poll_until(cfg: ElectionConfig, level: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Start of the first poll at or after ``level`` of polls at 0, gap ``l + RP(1 + J U)``."""
    lat, rp, jit = cfg.api_latency, cfg.retry_period, cfg.jitter_factor
    level = np.asarray(level, float)
    k = int(math.ceil(float(level.max(initial=0.0)) / (lat + rp))) + 2
    gaps = lat + rp * (1.0 + jit * rng.random((level.size, k)))
    starts = np.concatenate((np.zeros((level.size, 1)), np.cumsum(gaps, axis=1)), axis=1)
    first = np.argmax(starts >= level[:, None], axis=1)
    return starts[np.arange(level.size), first]


def _fresh_samples(
    cfg: ElectionConfig, released: bool, size: int, rng: np.random.Generator
) -> np.ndarray:
    """A fresh process's time to the lease, its polls run one by one (no other candidate).

    The first attempt runs at once and reads the record (``observedTime`` = ``l``); a
    record naming a holder is taken at the first attempt starting ``LDrec`` after that,
    the GET and Update adding ``2 l``. An empty record is taken at the first attempt.
    """
    lat = cfg.api_latency
    if released:
        return np.full(size, 2.0 * lat)
    level = np.full(size, lat + cfg.record_lease_duration)
    return _poll_until(cfg, level, rng) + 2.0 * lat


def _lone_after_return(
    cfg: ElectionConfig,
    lengths: np.ndarray,
    lost_at: np.ndarray,
    restart: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """A lone leader lost in an outage: from the outage's end until its successor leads.

    It exits at ``lost_at`` (from the outage start); the kubelet starts it again
    ``restart`` later; the new process polls (failing while the API is down), its first
    GET acting after the outage reads the old record as new, and it takes the lease at its
    first poll ``l + LDrec`` after that read, the Update returning ``2 l`` later.
    """
    lat = cfg.api_latency
    start = np.nan_to_num(lost_at, nan=0.0) + restart
    wait = np.maximum(lengths - lat / 2 - start, 0.0)
    first_read = start + _poll_until(cfg, wait, rng)
    acquire = first_read + _poll_until(
        cfg, np.full(lengths.size, lat + cfg.record_lease_duration), rng
    )
    return acquire + 2.0 * lat - lengths


def _capped(lengths: np.ndarray, cfg: ElectionConfig) -> np.ndarray:
    period = cfg.retry_period + cfg.api_latency
    cap = 4.0 * (cfg.record_lease_duration + cfg.renew_deadline + cfg.retry_period) + 60.0
    long = lengths > cap
    out = lengths.copy()
    out[long] = cap + np.mod(lengths[long] - cap, period)
    return out


@dataclass(frozen=True)
class _Outages:
    ends: np.ndarray
    lengths: np.ndarray
    source: np.ndarray
    names: tuple[str, ...]


def _leader_component(
    cfg: ElectionConfig,
    replicas: list[_Signal],
    outages: _Outages,
    *,
    updates_per_year: float,
    update_order: str,
    takeover: float,
    planned_restart: float,
    mode: str,
    horizon: float,
    pool: int,
    rng: np.random.Generator,
) -> tuple[list[tuple[float, float, int]], list[str]]:
    """Leaderless periods of one leader-elected component, with their cause."""
    n = len(replicas)
    causes = [
        "all replicas down",
        "recovery after all down",
        "crash failover",
        "rolling updates",
        *(f"after {name}" for name in outages.names),
    ]
    alldown, recovery, crash, rolling = 0, 1, 2, 3
    scenario = "release" if cfg.release_on_cancel else "crash"
    crash_pool = {
        m: simulate_failover(replace(cfg, candidates=m), "crash", pool, rng)
        for m in range(2, n + 1)
    }
    planned_pool = {
        m: simulate_failover(replace(cfg, candidates=m), scenario, pool, rng)
        for m in range(2, n + 1)
    }
    fresh = _fresh_samples(cfg, False, pool, rng)
    fresh_planned = _fresh_samples(cfg, cfg.release_on_cancel, pool, rng)
    lost_by_m: dict[int, np.ndarray] = {}
    after_by_m: dict[int, np.ndarray] = {}
    if outages.ends.size:
        lengths = _capped(outages.lengths, cfg)
        for m in range(1, n + 1):
            res = simulate_outage(
                replace(cfg, candidates=m), lengths, mode, lengths.size, rng, followers=m >= 2
            )
            lost_by_m[m] = ~res.survived
            if m >= 2:
                after_by_m[m] = np.nan_to_num(res.new_leader_at - lengths, nan=0.0)
            else:
                after_by_m[m] = _lone_after_return(cfg, lengths, res.lost_at, RESTART_BACKOFF, rng)

    # merge the events: 0 = a replica flips, 1 = a rolling update, 2 = an outage ends
    flip_t = np.concatenate([s.toggles for s in replicas])
    flip_id = np.concatenate([np.full(s.toggles.size, j) for j, s in enumerate(replicas)])
    n_updates = rng.poisson(updates_per_year * horizon / SECONDS_PER_YEAR)
    update_t = np.sort(rng.uniform(0.0, horizon, n_updates))
    times = np.concatenate((flip_t, update_t, outages.ends))
    kinds = np.concatenate(
        (np.zeros(flip_t.size, int), np.ones(update_t.size, int), np.full(outages.ends.size, 2))
    )
    payload = np.concatenate((flip_id, np.zeros(update_t.size, int), np.arange(outages.ends.size)))
    order = np.argsort(times, kind="stable")
    times_l, kinds_l, payload_l = (
        times[order].tolist(),
        kinds[order].tolist(),
        payload[order].tolist(),
    )
    # one stream of uniforms for every random choice of the loop
    uniforms = rng.random((len(times_l) + 1) * (2 * n + 2)).tolist()
    picks_order = rng.random(n * (int(update_t.size) + 1)).tolist()
    cursor = [0]

    def uniform() -> float:
        k = cursor[0]
        cursor[0] = k + 1
        return uniforms[k]

    def pick(live: list[int]) -> int:
        return live[int(uniform() * len(live))]

    def draw(m: int) -> int:
        return int(uniform() * pool)

    up = [s.up0 for s in replicas]
    count = sum(up)
    leading, gap, down = 0, 1, 2
    status = leading if count else down
    leader = pick([i for i in range(n) if up[i]]) if count else -1
    seg_start, seg_cause = 0.0, alldown
    pending, designate = math.inf, -1
    segments: list[tuple[float, float, int]] = []
    for t, kind, what in zip(times_l, kinds_l, payload_l, strict=True):
        if status == gap and pending <= t:
            segments.append((seg_start, pending, seg_cause))
            live = [i for i in range(n) if up[i]]
            leader = designate if designate >= 0 and up[designate] else pick(live)
            status = leading
        if kind == 0:
            j = what
            if up[j]:
                up[j] = False
                count -= 1
                if status == leading and j == leader:
                    leader = -1
                    if count == 0:
                        status, seg_start, seg_cause = down, t, alldown
                    else:
                        status, seg_start, seg_cause = gap, t, crash
                        pending = t + float(crash_pool[count + 1][draw(count + 1)]) + takeover
                        designate = -1
                elif status == gap and count == 0:
                    segments.append((seg_start, t, seg_cause))
                    status, seg_start, seg_cause = down, t, alldown
            else:
                up[j] = True
                count += 1
                if status == down:
                    segments.append((seg_start, t, alldown))
                    status, seg_start, seg_cause = gap, t, recovery
                    pending = t + float(fresh[draw(1)]) + takeover
                    designate = j
        elif kind == 1:
            if status != leading:
                continue
            live = [i for i in range(n) if up[i]]
            m, cur, total = len(live), leader, 0.0
            if update_order == "leader-last":
                sequence = [i for i in live if i != cur] + [cur]
            else:
                sequence = sorted(live, key=lambda _: picks_order.pop())
            for j in sequence:
                if j != cur:
                    continue
                if m >= 2:
                    total += float(planned_pool[m][draw(m)]) + takeover
                    cur = pick([i for i in live if i != j])
                else:
                    total += planned_restart + float(fresh_planned[draw(1)]) + takeover
            status, seg_start, seg_cause = gap, t, rolling
            pending, designate, leader = t + total, cur, -1
        else:
            if status != leading or not lost_by_m[count][what]:
                continue
            wait = max(float(after_by_m[count][what]), 0.0) + takeover
            designate = -1 if count >= 2 else leader
            status, seg_start = gap, t
            seg_cause = 4 + int(outages.source[what])
            pending, leader = t + wait, -1
    if status == gap:
        segments.append((seg_start, min(pending, horizon), seg_cause))
    elif status == down:
        segments.append((seg_start, horizon, alldown))
    return segments, causes


# ------------------------------------------------------------------------ the result
@dataclass(frozen=True)
class SimulationResult:
    """Per-window unavailabilities measured by :func:`simulate_control_plane`.

    Attributes
    ----------
    topology : Topology
    assumptions : Assumptions
    years : float
        Simulated years in total.
    per_batch : pandas.DataFrame
        Long table ``batch, component, mechanism, unavailability``. Mechanism ``"total"``
        is a component's whole unavailability; component ``"control plane"`` has
        ``"series"`` (rows composed as independent) and ``"union"`` (the time-average of
        the worst impairment at each moment, the request fraction for the API servers).
    """

    topology: Topology
    assumptions: Assumptions
    years: float
    per_batch: pd.DataFrame

    @property
    def batches(self) -> int:
        """Number of windows."""
        return int(self.per_batch["batch"].nunique())

    def summary(self, confidence: float = 0.99) -> pd.DataFrame:
        """Mean over windows with a Student-t confidence interval.

        Returns
        -------
        pandas.DataFrame
            ``component, mechanism, estimate, std_error, half_width, lower, upper``,
            unavailabilities.
        """
        from scipy import stats

        if not 0.0 < confidence < 1.0:
            raise ValueError(f"invalid confidence {confidence!r}: must lie in (0, 1)")
        b = self.batches
        grouped = self.per_batch.groupby(["component", "mechanism"], sort=False)["unavailability"]
        out = grouped.agg(["mean", "std"]).reset_index()
        out = out.rename(columns={"mean": "estimate"})
        out["std_error"] = out.pop("std").fillna(0.0) / math.sqrt(b)
        t = stats.t.ppf(0.5 + 0.5 * confidence, b - 1) if b > 1 else math.inf
        out["half_width"] = t * out["std_error"]
        out["lower"] = out["estimate"] - out["half_width"]
        out["upper"] = out["estimate"] + out["half_width"]
        return out

    def compare(self, confidence: float = 0.99) -> pd.DataFrame:
        """The analytic terms beside the simulated ones.

        Returns
        -------
        pandas.DataFrame
            The rows of :meth:`summary` joined with ``analytic`` (from
            :func:`~ha_toolkit.availability.controlplane.control_plane_terms`, component
            totals from :func:`~ha_toolkit.availability.controlplane.control_plane`) and
            ``within`` (analytic inside the interval). ``"union"`` has no analytic value.
        """
        import pandas as pd

        terms = control_plane_terms(self.topology, self.assumptions)
        totals = control_plane(self.topology, self.assumptions)
        rows = [
            {"component": r.component, "mechanism": r.mechanism, "analytic": r.unavailability}
            for r in terms.itertuples()
        ]
        for r in totals.itertuples():
            mech = "series" if r.component == "control plane" else "total"
            rows.append({"component": r.component, "mechanism": mech, "analytic": r.unavailability})
        merged = self.summary(confidence).merge(
            pd.DataFrame(rows), on=["component", "mechanism"], how="left"
        )
        merged["within"] = (merged["analytic"] >= merged["lower"]) & (
            merged["analytic"] <= merged["upper"]
        )
        return merged


def simulate_control_plane(
    topology: Topology | None = None,
    assumptions: Assumptions | None = None,
    *,
    years: float = 200.0,
    batches: int = 20,
    rng: np.random.Generator | None = None,
    pool: int = 20_000,
) -> SimulationResult:
    """Simulate a control plane's failures, repairs, detections and failovers.

    Parameters
    ----------
    topology : Topology, optional
        Default ``Topology()``.
    assumptions : Assumptions, optional
        Default :meth:`Assumptions.default`. Shorter MTBFs give more events per simulated
        year and tighter intervals.
    years : float, default 200
        Simulated time in 365-day years, split into ``batches`` windows.
    batches : int, default 20
        Windows (>= 2) for the confidence intervals.
    rng : numpy.random.Generator, optional
        The random stream (pass one: the tests do).
    pool : int, default 20 000
        Failover times drawn per candidate count, reused at random.

    Returns
    -------
    SimulationResult
    """
    import pandas as pd

    topo = Topology() if topology is None else topology
    a = Assumptions.default() if assumptions is None else assumptions
    if not (isinstance(years, int | float) and math.isfinite(years) and years > 0):
        raise ValueError(f"invalid years {years!r}: must be a finite number > 0")
    b = _check_count(batches, "batches", low=2)
    _check_count(pool, "pool")
    rng = np.random.default_rng() if rng is None else rng
    horizon = float(years) * SECONDS_PER_YEAR
    edges = np.linspace(0.0, horizon, b + 1)
    width = horizon / b

    def unit(kind: str) -> _Signal:
        return _unit(a.component(kind), horizon, rng)

    nodes = [unit("node") for _ in range(topo.nodes)]
    procs = {
        k: [unit(k) for _ in range(topo.nodes)]
        for k in ("apiserver", "scheduler", "controller_manager")
    }
    if topo.etcd == "stacked":
        etcd_units = [unit("etcd") for _ in range(topo.nodes)]
        members = [_all_up([nodes[i], etcd_units[i]]) for i in range(topo.nodes)]
    else:
        etcd_units = []
        members = [_all_up([unit("node"), unit("etcd")]) for _ in range(int(topo.etcd_members))]
    lb = unit("lb")

    def api_units(i: int) -> list[_Signal]:
        units = [nodes[i], procs["apiserver"][i]]
        return units + ([etcd_units[i]] if topo.apiserver_etcd == "local" else [])

    api_reps = [_all_up(api_units(i)) for i in range(topo.nodes)]

    def le_reps(kind: str) -> list[_Signal]:
        out = []
        for i in range(topo.nodes):
            extra = api_units(i)[1:] if topo.components_api == "local" else []
            out.append(_all_up([nodes[i], procs[kind][i], *extra]))
        return out

    records: list[tuple[str, str, np.ndarray]] = []
    rows: dict[str, _Step] = {}

    def add(component: str, mechanism: str, step: _Step) -> np.ndarray:
        values = step.integrals(edges) / width
        records.append((component, mechanism, values))
        return values

    # load balancer
    lb_s, lb_e = lb.down_intervals(horizon)
    rows["load balancer"] = _indicator(lb_s, lb_e)
    add("load balancer", "down", rows["load balancer"])

    # etcd
    q = topo.quorum
    count = _up_count(members)
    lost = _indicator_of(count, lambda v: np.asarray(v) < q)
    lost_s, lost_e = _runs(lost, horizon)
    el_s, el_e = _etcd_elections(members, q, a.etcd_election, horizon, rng)
    etcd_row = _indicator(np.concatenate((lost_s, el_s)), np.concatenate((lost_e, el_e)))
    rows["etcd"] = etcd_row
    v_lost = add("etcd", "quorum lost", lost)
    v_total = etcd_row.integrals(edges) / width
    records.append(("etcd", "leader elections", v_total - v_lost))

    # API servers
    fraction, none_up = _api_tier(api_reps, a, horizon, rng)
    rows["API servers"] = fraction
    v_all = add("API servers", "all replicas down", none_up)
    v_frac = fraction.integrals(edges) / width
    records.append(("API servers", "undetected failures", v_frac - v_all))

    # other disruptions
    n_dis = rng.poisson(a.api_disruptions_per_year * years)
    dis_s = np.sort(rng.uniform(0.0, horizon, n_dis))
    dis_e = np.minimum(dis_s + a.api_disruption_duration, horizon)
    rows["other API disruptions"] = _indicator(dis_s, dis_e)
    add("other API disruptions", "disruptions", rows["other API disruptions"])

    # the outages the leaders live through
    sources: list[tuple[str, np.ndarray, np.ndarray]] = []
    if lost_s.size:
        sources.append(("etcd quorum lost", lost_s, lost_e))
    if el_s.size:
        sources.append(("etcd elections", el_s, el_s + a.etcd_election))
    if a.api_disruptions_per_year > 0:
        sources.append(("other API disruptions", dis_s, dis_s + a.api_disruption_duration))
    if topo.components_api == "lb":
        if lb.toggles.size:
            sources.append(("load balancer down", lb_s, lb_e))
        api_s, api_e = _runs(none_up, horizon)
        if api_s.size:
            sources.append(("all API servers down", api_s, api_e))
    ends = [e for _, _, e in sources]
    outages = _Outages(
        ends=np.concatenate(ends) if ends else np.empty(0),
        lengths=np.concatenate([e - s for _, s, e in sources]) if ends else np.empty(0),
        source=np.concatenate([np.full(s.size, k) for k, (_, s, _) in enumerate(sources)])
        if ends
        else np.empty(0, int),
        names=tuple(name for name, _, _ in sources),
    )
    keep = outages.ends < horizon
    outages = _Outages(
        outages.ends[keep], outages.lengths[keep], outages.source[keep], outages.names
    )

    for label, kind, cfg, take in (
        ("kube-scheduler", "scheduler", topo.scheduler, a.scheduler_takeover),
        (
            "kube-controller-manager",
            "controller_manager",
            topo.controller_manager,
            a.controller_manager_takeover,
        ),
    ):
        segments, causes = _leader_component(
            cfg,
            le_reps(kind),
            outages,
            updates_per_year=a.rolling_updates_per_year,
            update_order=topo.update_order,
            takeover=take,
            planned_restart=a.planned_restart,
            mode=topo.outage_mode,
            horizon=horizon,
            pool=pool,
            rng=rng,
        )
        seg = np.asarray(segments, float).reshape(-1, 3)
        seg[:, 1] = np.minimum(seg[:, 1], horizon)
        for code, cause in enumerate(causes):
            mine = seg[seg[:, 2] == code]
            add(label, cause, _indicator(mine[:, 0], mine[:, 1]))
        rows[label] = _indicator(seg[:, 0], seg[:, 1])

    # per component totals, their series and their union
    totals = {}
    for name in COMPONENTS:
        totals[name] = rows[name].integrals(edges) / width
        records.append((name, "total", totals[name]))
    series = 1.0 - np.prod([1.0 - totals[name] for name in COMPONENTS], axis=0)
    records.append(("control plane", "series", series))
    breaks = np.unique(np.concatenate([rows[name].times for name in COMPONENTS]))
    worst = np.max([rows[name].at(breaks) for name in COMPONENTS], axis=0)
    worst0 = max(rows[name].v0 for name in COMPONENTS)
    records.append(
        ("control plane", "union", _Step(worst0, breaks, worst).integrals(edges) / width)
    )

    frame = pd.DataFrame(
        [
            {"batch": k, "component": c, "mechanism": m, "unavailability": float(v[k])}
            for c, m, v in records
            for k in range(b)
        ]
    )
    return SimulationResult(topo, a, float(years), frame)
