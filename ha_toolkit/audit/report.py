"""What a cluster's own settings imply, component by component and level by level.

:func:`audit` reads the artifacts (any of them may be missing), applies the defaults of
absent flags and runs the toolkit's models on the result:

* each leader-electing component (kube-scheduler, kube-controller-manager): exact p50 and
  p99 of the crash failover and of the failover after a clean shutdown
  (:func:`~ha_toolkit.election.timing.failover`), the range of API outages always / never
  survived (:func:`~ha_toolkit.election.outage.outage_survival`), the overlap margin
  ``LD - (RD + RP)`` and the largest safe clock-rate ratio
  (:func:`~ha_toolkit.election.overlap.overlap_summary`), and pass / fail against
  :class:`~ha_toolkit.election.tuning.Targets` (:func:`~ha_toolkit.election.tuning.evaluate`);
  the component's Lease, when given, adds its holder and transitions and is cross-checked;
* when ``/metrics`` holds the lease requests' latency histogram
  (``apiserver_request_duration_seconds_bucket{resource="leases",verb="PUT"}``), each
  component's expected losses of leadership per day to slow renewals with its own settings
  (:func:`~ha_toolkit.election.lease_loss.renew_cycle_loss`; the server-side latency stands
  for the round trip, and every call draws from it independently);
* each API Priority and Fairness level: arrival rate, mean execution time and seat demand
  from one ``/metrics`` scrape, and the utilisation and predicted 429 rate of
  :func:`~ha_toolkit.apiserver.apf.level_queue` at today's load and at higher loads.

Rates from one scrape. Counters count from the start of the API server process; one scrape
gives totals, not rates. With ``window`` (the time the counters have been counting, e.g. the
process uptime ``now - process_start_time_seconds``) the rate of a level is its total over
the window: ``arrival_rate = (dispatched + rejected) / window``. That is the average over
the whole window, not today's peak: for a current rate, scrape twice and pass the difference
of the two scrapes with ``window`` the time between them. Without ``window`` no rate, seat
demand nor prediction is given. Seat demand is ``dispatched / window * mean execution
time`` (Little's law), in seats of one-seat requests: the scrape has no per-request widths.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ha_toolkit.audit.apf_config import apf_audit, read_apf_config, read_apf_metrics
from ha_toolkit.audit.readers import (
    COMPONENT_DEFAULTS,
    ArtifactWarning,
    parse_latency_buckets,
    read_leases,
    read_manifests,
    read_metrics,
)
from ha_toolkit.durations import parse_duration

__all__ = ["LOAD_FACTORS", "AuditReport", "audit", "sample_artifacts"]

#: Loads at which the priority levels are predicted: today's, +50 %, +100 %.
LOAD_FACTORS = (1.0, 1.5, 2.0)
_ELECTING = ("kube-scheduler", "kube-controller-manager")
_DEFAULT_SERVER_CL = (
    COMPONENT_DEFAULTS["kube-apiserver"]["max_requests_inflight"]
    + COMPONENT_DEFAULTS["kube-apiserver"]["max_mutating_requests_inflight"]
)

COMPONENT_COLUMNS = [
    "component",
    "source",
    "lease_duration",
    "renew_deadline",
    "retry_period",
    "release_on_cancel",
    "defaulted",
    "holder",
    "lease_transitions",
    "p50_crash",
    "p99_crash",
    "p50_release",
    "p99_release",
    "min_tolerated_outage",
    "max_tolerated_outage",
    "overlap_margin",
    "max_safe_clock_rate_ratio",
    "server_cl",
    "passed",
    "failed",
    "note",
    "lease_put_p99",
    "slow_call_losses_per_day",
]
LEVEL_COLUMNS = [
    "priority_level",
    "nominal_limit_seats",
    "current_limit_seats",
    "default_nominal_seats",
    "arrival_rate",
    "rejected_share",
    "service_time",
    "seat_demand",
    "utilization",
    "inqueue",
    "note",
]
LOAD_COLUMNS = [
    "priority_level",
    "load_factor",
    "arrival_rate",
    "service_time",
    "current_limit_seats",
    "utilization",
    "rejection_probability",
    "rejection_rate",
    "p99_wait",
    "regime",
]


@dataclass(frozen=True, eq=False)
class AuditReport:
    """The result of :func:`audit`.

    Attributes
    ----------
    components : pandas.DataFrame
        One row per control-plane component (columns :data:`COMPONENT_COLUMNS`; seconds).
        ``p50_release``/``p99_release`` are after a clean shutdown: a release when the
        component releases its lease, else the lease runs out as after a crash.
        ``overlap_margin`` is ``LD - (RD + RP)`` less the API latencies: how long the lease
        outlasts a cut-off leader's last act (negative: two leaders possible).
        ``lease_put_p99`` and ``slow_call_losses_per_day`` (NaN without the histogram): the
        p99 of the lease PUTs' latency in ``/metrics`` and the losses of leadership per day
        it implies for the component's settings.
    levels : pandas.DataFrame
        One row per priority level, what the scrape shows (:data:`LEVEL_COLUMNS`).
    load : pandas.DataFrame
        One row per priority level and load factor: the queueing model's utilisation,
        429 probability and rate (per second) and p99 queue wait (:data:`LOAD_COLUMNS`).
    leases : pandas.DataFrame
        Every Lease read.
    notes : tuple of str
        Defaults assumed, records skipped, inconsistencies found.
    window : float or None
        Seconds the metrics' counters cover.
    configs : dict of str to ElectionConfig
        The election settings of each component, for further use with the models.
    probes : pandas.DataFrame or None
        One row per static pod: detection and recovery times of its kubelet probes and, in
        ``warnings``, the settings that defeat their purpose
        (:func:`ha_toolkit.audit.pod_probes.probe_rows`); None without manifests.
    apf : ApfAudit or None
        The cluster's own priority-and-fairness configuration joined with its metrics
        (:func:`~ha_toolkit.audit.apf_config.apf_audit`), when a configuration was given.
    """

    components: pd.DataFrame
    levels: pd.DataFrame
    load: pd.DataFrame
    leases: pd.DataFrame
    notes: tuple[str, ...] = ()
    window: float | None = None
    configs: dict[str, Any] = field(default_factory=dict)
    probes: pd.DataFrame | None = None
    apf: Any = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``components``, ``levels`` and ``load`` as lists of records (NaN ->
        None), ``leases`` with times as RFC 3339 strings, ``notes`` and ``window``."""
        def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
            out = []
            for row in frame.to_dict("records"):
                out.append({k: _plain(v) for k, v in row.items()})
            return out

        out = {
            "window": self.window,
            "components": records(self.components),
            "levels": records(self.levels),
            "load": records(self.load),
            "leases": records(self.leases),
            "probes": [] if self.probes is None else records(self.probes),
            "notes": list(self.notes),
        }
        if self.apf is not None:
            out["apf"] = {"levels": records(self.apf.levels),
                          "sharing": records(self.apf.sharing),
                          "notes": list(self.apf.notes)}
        return out

    def plot(self, ax: Any = None) -> Any:
        """Utilisation of each limited level at each load factor (bars), 429s annotated.

        Parameters
        ----------
        ax : matplotlib Axes, optional

        Returns
        -------
        matplotlib Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        frame = self.load.dropna(subset=["utilization"])
        if frame.empty:
            ax.text(0.5, 0.5, "no rates: give metrics and a window", ha="center",
                    va="center", transform=ax.transAxes)
            return ax
        names = list(dict.fromkeys(frame["priority_level"]))
        factors = sorted(set(frame["load_factor"]))
        width = 0.8 / len(factors)
        x = np.arange(len(names))
        for k, f in enumerate(factors):
            sub = frame[frame["load_factor"] == f].set_index("priority_level").reindex(names)
            bars = ax.bar(x + (k - (len(factors) - 1) / 2) * width, sub["utilization"], width,
                          label=f"load x{f:g}")
            for bar, rate in zip(bars, sub["rejection_rate"], strict=True):
                if rate >= 0.01:
                    ax.annotate(f"{rate:.4g}/s", (bar.get_x() + bar.get_width() / 2,
                                                  bar.get_height()),
                                ha="center", va="bottom", fontsize=7, rotation=90)
        ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
        ax.set_xticks(x, names, rotation=30, ha="right")
        ax.set_ylabel("utilisation of CurrentCL seats")
        ax.set_ylim(0, 1.35)
        ax.set_title("APF levels: utilisation and 429 rate (annotated)")
        ax.legend(loc="upper left", fontsize=8)
        return ax


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, str):
        return value
    return None if pd.isna(value) else value


# ------------------------------------------------------------------------------ components
def _lease_info(leases: pd.DataFrame | None, namespace: str, name: str) -> dict[str, Any] | None:
    if leases is None or leases.empty:
        return None
    hit = leases[(leases["namespace"] == namespace) & (leases["name"] == name)]
    return None if hit.empty else hit.iloc[0].to_dict()


def _election_row(
    component: str,
    source: str,
    settings: dict[str, Any],
    lease: dict[str, Any] | None,
    *,
    candidates: int,
    api_latency: float,
    targets: Any,
    notes: list[str],
    configs: dict[str, Any],
) -> dict[str, Any]:
    from ha_toolkit.election.config import ElectionConfig, LeaseOverlapWarning
    from ha_toolkit.election.outage import outage_survival
    from ha_toolkit.election.overlap import overlap_summary
    from ha_toolkit.election.timing import failover
    from ha_toolkit.election.tuning import evaluate

    release = bool(ElectionConfig.preset(component).release_on_cancel)
    row: dict[str, Any] = {c: math.nan for c in COMPONENT_COLUMNS}
    row.update(component=component, source=source, release_on_cancel=release,
               defaulted=settings.get("defaulted", ""), holder="", failed="", note="",
               passed=None)
    for key in ("lease_duration", "renew_deadline", "retry_period"):
        row[key] = settings[key]
    if lease is not None:
        row["holder"] = lease["holder"]
        row["lease_transitions"] = lease["lease_transitions"]
        recorded = lease["lease_duration_seconds"]
        if not math.isnan(recorded) and abs(recorded - settings["lease_duration"]) > 1e-9:
            notes.append(f"{component}: the Lease records leaseDurationSeconds {recorded:g}, "
                         f"the settings say {settings['lease_duration']:g} s (another node's "
                         "flags, or a restart pending?)")
    if not settings.get("leader_elect", True):
        row["note"] = "leader election disabled (--leader-elect=false)"
        return row
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LeaseOverlapWarning)
            cfg = ElectionConfig(settings["lease_duration"], settings["renew_deadline"],
                                 settings["retry_period"], candidates=candidates,
                                 api_latency=api_latency, release_on_cancel=release,
                                 name=component)
    except ValueError as exc:
        row["note"] = f"invalid settings, the component would not start: {exc}"
        row["passed"] = False
        return row
    if any(issubclass(w.category, LeaseOverlapWarning) for w in caught):
        row["note"] = "LD <= RD + RP: two leaders can act at once"
    configs[component] = cfg
    try:
        crash = failover(cfg, "crash")
        shutdown = failover(cfg, "release") if release else crash
        survival = outage_survival(cfg, 0.0, targets.outage_mode)
        overlap = overlap_summary(cfg, 1.0)
        result = evaluate(cfg, targets)
    except ValueError as exc:  # settings outside a model's range: this component only
        row["note"] = f"no timing figures, the settings are outside the models' range: {exc}"
        return row
    row.update(
        p50_crash=float(crash.ppf(0.5)),
        p99_crash=float(crash.ppf(0.99)),
        p50_release=float(shutdown.ppf(0.5)),
        p99_release=float(shutdown.ppf(0.99)),
        min_tolerated_outage=survival.min_tolerated_outage,
        max_tolerated_outage=survival.max_tolerated_outage,
        overlap_margin=-overlap.max_overlap,
        max_safe_clock_rate_ratio=overlap.max_safe_clock_rate_ratio,
        passed=result.passed,
        failed=",".join(result.failed),
    )
    return row


def _components(
    manifests: pd.DataFrame | None,
    leases: pd.DataFrame | None,
    *,
    candidates: int,
    api_latency: float,
    targets: Any,
    notes: list[str],
    configs: dict[str, Any],
) -> tuple[pd.DataFrame, int]:
    rows = []
    server_cl = _DEFAULT_SERVER_CL
    kw = dict(candidates=candidates, api_latency=api_latency, targets=targets, notes=notes,
              configs=configs)
    if manifests is not None:
        for m in manifests.to_dict("records"):
            if m["component"] == "kube-apiserver":
                server_cl = int(m["max_requests_inflight"] + m["max_mutating_requests_inflight"])
                row = {c: math.nan for c in COMPONENT_COLUMNS}
                row.update(component="kube-apiserver", source=m["file"],
                           release_on_cancel=None, defaulted=m["defaulted"], holder="",
                           server_cl=server_cl, passed=None, failed="",
                           note="ServerCL = max-requests-inflight + "
                                "max-mutating-requests-inflight")
                if server_cl < 1:
                    row["note"] = "both inflight limits are 0: no priority-level model"
                    server_cl = 0
                rows.append(row)
                continue
            lease = _lease_info(leases, m["lease_namespace"], m["lease_name"])
            rows.append(_election_row(m["component"], m["file"], m, lease, **kw))
    else:
        for component in _ELECTING:
            d = COMPONENT_DEFAULTS[component]
            lease = _lease_info(leases, d["lease_namespace"], d["lease_name"])
            if lease is None or math.isnan(lease["lease_duration_seconds"]):
                continue
            settings = dict(d, lease_duration=lease["lease_duration_seconds"],
                            defaulted="renew_deadline,retry_period")
            notes.append(f"{component}: no manifest; LD from its Lease, RD "
                         f"{d['renew_deadline']:g} s and RP {d['retry_period']:g} s assumed "
                         "(the defaults)")
            rows.append(_election_row(component, "Lease", settings, lease, **kw))
    return pd.DataFrame(rows, columns=COMPONENT_COLUMNS), server_cl


def _slow_call_losses(components: pd.DataFrame, configs: dict[str, Any],
                      metrics: str | os.PathLike[str]) -> None:
    """Fill ``lease_put_p99`` and ``slow_call_losses_per_day`` from the lease histograms.

    The renewals' Updates draw from the PUT histogram; the slow path's GETs from the GET
    histogram when the scrape has one, else from the PUT histogram too.
    """
    from ha_toolkit.audit.readers import _read_text
    from ha_toolkit.election.lease_loss import CallLatency, renew_cycle_loss

    text, source = _read_text(metrics)
    buckets = parse_latency_buckets(text, source)
    if not buckets:
        return
    latency = CallLatency.from_buckets(buckets)
    gets = parse_latency_buckets(text, source, verb="GET")
    get_latency = CallLatency.from_buckets(gets) if gets else None
    p99 = latency.quantile(0.99)
    for i, name in enumerate(components["component"]):
        cfg = configs.get(name)
        if cfg is None:
            continue
        components.loc[i, "lease_put_p99"] = p99
        components.loc[i, "slow_call_losses_per_day"] = renew_cycle_loss(
            cfg, latency, get_latency=get_latency).losses_per_day


# ------------------------------------------------------------------------------ APF levels
def _levels(
    metrics: pd.DataFrame,
    window: float | None,
    server_cl: int,
    load_factors: Sequence[float],
    notes: list[str],
    request_timeouts: dict[str, list[float]] | None = None,
    cluster_levels: Sequence[Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    from ha_toolkit.apiserver.apf import allocate, default_priority_levels, level_queue

    # the cluster's own levels when its configuration was read, else the defaults
    known = tuple(cluster_levels) if cluster_levels else default_priority_levels()
    defaults = {lv.name: lv for lv in known}
    nominal_default: dict[str, int] = {}
    if server_cl >= 1:
        alloc = allocate(known, server_cl=server_cl)
        nominal_default = {n: int(v) for n, v in zip(alloc.names, alloc.nominal_cl,
                                                      strict=True)}
    if window is None:
        notes.append("metrics: no window given, so no rates: one scrape holds counter totals "
                     "since the API server started (give the uptime or the time between two "
                     "scrapes)")
    levels, load = [], []
    for m in metrics.to_dict("records"):
        name = m["priority_level"]
        dispatched = 0.0 if math.isnan(m["dispatched"]) else m["dispatched"]
        rejected = 0.0 if math.isnan(m["rejected"]) else m["rejected"]
        count = m["execution_seconds_count"]
        service = m["execution_seconds_sum"] / count if count > 0 else math.nan
        current = m["current_limit_seats"]
        if math.isnan(current) or current < 1:
            current = m["nominal_limit_seats"]
        total = dispatched + rejected
        rate = total / window if window else math.nan
        demand = dispatched / window * service if window else math.nan
        note = ""
        expected = nominal_default.get(name)
        nominal = m["nominal_limit_seats"]
        if expected is not None and not math.isnan(nominal) and nominal != expected:
            note = (f"nominal seats {nominal:g}, the defaults give {expected} at ServerCL "
                    f"{server_cl}: custom levels or another server")
        level = defaults.get(name)
        if level is None:
            note = note or "not a default level: its queue settings are unknown, no prediction"
        elif level.exempt:
            note = note or "exempt: never queued nor rejected"
        levels.append({
            "priority_level": name,
            "nominal_limit_seats": nominal,
            "current_limit_seats": m["current_limit_seats"],
            "default_nominal_seats": math.nan if expected is None else float(expected),
            "arrival_rate": rate,
            "rejected_share": rejected / total if total > 0 else math.nan,
            "service_time": service,
            "seat_demand": demand,
            "utilization": demand / current if current and current >= 1 else math.nan,
            "inqueue": m["inqueue"],
            "note": note,
        })
        usable = (level is not None and not level.exempt and window is not None
                  and math.isfinite(service) and service > 0 and math.isfinite(current)
                  and current >= 1)
        if not usable:
            continue
        factors = np.asarray(load_factors, dtype=float)
        # a queued request waits at most a quarter of its ?timeout= (getRequestWaitContext):
        # the lease calls of the audited components carry their lock client's timeout
        timeouts = (request_timeouts or {}).get(name)
        try:
            if timeouts:
                q = level_queue(level, int(current), rate * factors, service,
                                request_timeout=list(timeouts),
                                request_shares=[1.0] * len(timeouts))
            else:
                q = level_queue(level, int(current), rate * factors, service)
        except ValueError as exc:  # outside the queueing model's range: this level only
            levels[-1]["note"] = f"no prediction: {exc}"
            notes.append(f"metrics: priority level {name!r}: no prediction, the scrape's "
                         f"values are outside the model's range ({exc})")
            continue
        for k, f in enumerate(factors):
            load.append({
                "priority_level": name,
                "load_factor": float(f),
                "arrival_rate": float(rate * f),
                "service_time": service,
                "current_limit_seats": float(current),
                "utilization": float(np.atleast_1d(q.utilization)[k]),
                "rejection_probability": float(np.atleast_1d(q.rejection_probability)[k]),
                "rejection_rate": float(np.atleast_1d(q.rejection_rate)[k]),
                "p99_wait": float(np.atleast_1d(q.p99_wait)[k]),
                "regime": str(np.atleast_1d(q.regime)[k]),
            })
    return (pd.DataFrame(levels, columns=LEVEL_COLUMNS),
            pd.DataFrame(load, columns=LOAD_COLUMNS))


# ------------------------------------------------------------------------------ audit
def sample_artifacts() -> dict[str, Path]:
    """Paths of the sample artifacts shipped in ``data/samples`` (see its README).

    Returns
    -------
    dict
        ``leases`` (a file), ``manifests`` (a directory) and ``metrics`` (a file), ready
        for ``audit(**sample_artifacts(), window="24h")``.
    """
    from ha_toolkit._data import data_path

    root = data_path("apf_priority_levels.csv").parent / "samples"
    return {"leases": root / "leases.json", "manifests": root / "manifests",
            "metrics": root / "metrics.txt"}


def audit(
    leases: str | os.PathLike[str] | None = None,
    manifests: str | os.PathLike[str] | None = None,
    metrics: str | os.PathLike[str] | None = None,
    *,
    window: float | str | None = None,
    targets: Any = None,
    candidates: int = 3,
    api_latency: float | str = 0.0,
    load_factors: Sequence[float] = LOAD_FACTORS,
    apf_config: str | os.PathLike[str] | None = None,
) -> AuditReport:
    """Read a cluster's artifacts and report what its settings imply.

    Parameters
    ----------
    leases : path, optional
        ``kubectl get leases -A -o json`` (or ``-o yaml``) output.
    manifests : path, optional
        A copy of a control-plane node's ``/etc/kubernetes/manifests`` directory.
    metrics : path, optional
        ``kubectl get --raw /metrics`` of one API server.
    window : float or str, optional
        Seconds the metrics' counters cover (``"24h"``, ``86400``): see the module notes.
    targets : Targets, optional
        Targets to check each component against; by default only "no term overlap at equal
        clock rates".
    candidates : int, default 3
        Control-plane replicas contending for each lease (the manifests are one node's).
    api_latency : float or str, default 0
        Round trip of one API call.
    load_factors : sequence of float, default (1, 1.5, 2)
        Multiples of today's arrival rates at which the levels are predicted (each > 0).
    apf_config : path, optional
        ``kubectl get flowschemas,prioritylevelconfigurations -o yaml``: the levels are then
        predicted with the cluster's own settings, and the report gains ``apf``
        (:func:`~ha_toolkit.audit.apf_config.apf_audit`: limits configured against limits
        reported, saturation, borrowing, and the flows sharing queues in the
        leader-election and system levels, nodes taken from the Leases).

    Returns
    -------
    AuditReport

    Raises
    ------
    ArtifactError
        An unusable artifact (see :mod:`ha_toolkit.audit.readers`).
    ValueError
        No artifact given, a window that is not a duration > 0, bad ``candidates`` or
        ``load_factors``.
    """
    from ha_toolkit.election.tuning import Targets

    if leases is None and manifests is None and metrics is None and apf_config is None:
        raise ValueError("give at least one artifact: leases, manifests, metrics or "
                         "apf_config")
    win = None
    if window is not None:
        win = parse_duration(window, name="window")
        if not (math.isfinite(win) and win > 0):
            raise ValueError(f"window must be a finite duration > 0, got {window!r}")
    if isinstance(candidates, bool) or not isinstance(candidates, int | np.integer) \
            or candidates < 2:
        raise ValueError(f"candidates must be an integer >= 2, got {candidates!r}")
    latency = parse_duration(api_latency, name="api_latency")
    factors = [float(f) for f in load_factors]
    if not factors or not all(math.isfinite(f) and f > 0 for f in factors):
        raise ValueError(f"load_factors must be finite numbers > 0, got {load_factors!r}")
    targets = Targets() if targets is None else targets
    if not isinstance(targets, Targets):
        raise ValueError(f"targets must be a Targets, got {type(targets).__name__}")

    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ArtifactWarning)
        lease_frame = read_leases(leases) if leases is not None else None
        manifest_frame = read_manifests(manifests) if manifests is not None else None
        metric_frame = read_metrics(metrics) if metrics is not None else None
        apf_cfg = read_apf_config(apf_config) if apf_config is not None else None
        apf_state = read_apf_metrics(metrics) if (metrics is not None and apf_cfg is not None) \
            else None
    notes.extend(str(w.message) for w in caught if issubclass(w.category, ArtifactWarning))
    for w in caught:
        if not issubclass(w.category, ArtifactWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)

    configs: dict[str, Any] = {}
    components, server_cl = _components(
        manifest_frame, lease_frame, candidates=int(candidates), api_latency=latency,
        targets=targets, notes=notes, configs=configs,
    )
    cluster_levels = apf_cfg.levels() if apf_cfg is not None else None
    if metric_frame is not None:
        _slow_call_losses(components, configs, metrics)
        # lease calls of kube-scheduler and kube-controller-manager go to leader-election
        # (FlowSchema system-leader-election), with ?timeout= their lock client's timeout
        lease_timeouts = [cfg.effective_call_timeout for cfg in configs.values()]
        levels, load = _levels(metric_frame, win, server_cl, factors, notes,
                               {"leader-election": lease_timeouts} if lease_timeouts else None,
                               cluster_levels)
    else:
        levels = pd.DataFrame(columns=LEVEL_COLUMNS)
        load = pd.DataFrame(columns=LOAD_COLUMNS)
    if lease_frame is None:
        from ha_toolkit.audit.readers import LEASE_COLUMNS

        lease_frame = pd.DataFrame(columns=LEASE_COLUMNS)
    probes = _probe_frame(manifests) if manifests is not None else None
    apf = None
    if apf_cfg is not None:
        nodes = tuple(lease_frame.loc[lease_frame["namespace"] == "kube-node-lease", "name"])
        apf = apf_audit(apf_cfg, apf_state, server_cl=max(server_cl, 1), nodes=nodes)
    return AuditReport(components=components, levels=levels, load=load, leases=lease_frame,
                       notes=tuple(notes), window=win, configs=configs, probes=probes, apf=apf)


def _probe_frame(manifests: str | os.PathLike[str]) -> pd.DataFrame:
    """Kubelet probe timings of the static pods, with their warnings."""
    from ha_toolkit.audit.pod_probes import PROBE_COLUMNS, probe_rows, read_manifest_probes

    return pd.DataFrame(probe_rows(read_manifest_probes(manifests)), columns=PROBE_COLUMNS)
