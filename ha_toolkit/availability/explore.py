"""Sweeps and tables of control-plane availability, as the notebook and the CLI use them.

The loops and the bookkeeping a notebook would otherwise hold; the models live in
:mod:`ha_toolkit.availability.blocks` and :mod:`ha_toolkit.availability.controlplane`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import pandas as pd

from ha_toolkit.availability.blocks import Component, Replica, k_of_n, quorum
from ha_toolkit.availability.controlplane import (
    Assumptions,
    HealthCheck,
    Topology,
    api_server_terms,
    control_plane,
    control_plane_terms,
)
from ha_toolkit.election.config import ElectionConfig

__all__ = [
    "format_duration",
    "health_check_effect",
    "leader_settings_effect",
    "mechanism_table",
    "nines_vs_replicas",
    "tier_availability",
    "topology_comparison",
]

_TIERS = ("any one (stateless)", "majority (quorum)")


def format_duration(seconds: float) -> str:
    """A readable duration: ``"8.76 h"``, ``"52.6 min"``, ``"31.5 s"``, ``"12 ms"``."""
    s = float(seconds)
    if not math.isfinite(s):
        return str(s)
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if abs(s) >= size:
            return f"{s / size:.3g} {unit}"
    if s == 0:
        return "0 s"
    return f"{s * 1e3:.3g} ms"


def tier_availability(replicas: int, needed: int, mtbf: Any, mttr: Any) -> dict[str, float]:
    """Availability of ``needed``-of-``replicas`` identical components (the CLI's answer).

    Returns
    -------
    dict
        ``availability``, ``nines``, ``downtime_per_year`` and ``downtime_per_month``
        (seconds), plus ``replica_availability``.
    """
    unit = Component(mtbf, mttr)
    tier = k_of_n(needed, replicas, unit)
    return {
        "availability": tier.availability,
        "nines": tier.nines,
        "downtime_per_year": tier.downtime_per_year,
        "downtime_per_month": tier.downtime_per_month,
        "replica_availability": unit.availability,
    }


def nines_vs_replicas(
    replica: Component | Replica | float, replicas: Iterable[int] = range(1, 8)
) -> pd.DataFrame:
    """Nines of a tier against its size: stateless (any one) and quorum (majority).

    Parameters
    ----------
    replica : Component, Replica or float
        One replica (or its availability).
    replicas : iterable of int
        Tier sizes.

    Returns
    -------
    pandas.DataFrame
        ``replicas, tier, needed, availability, unavailability, nines,
        downtime_per_year`` (seconds), one row per size and tier.
    """
    rows = []
    for n in replicas:
        for tier, needed in zip(_TIERS, (1, quorum(n)), strict=True):
            block = k_of_n(needed, n, replica)
            rows.append(
                {
                    "replicas": int(n),
                    "tier": tier,
                    "needed": needed,
                    "availability": block.availability,
                    "unavailability": block.unavailability,
                    "nines": block.nines,
                    "downtime_per_year": block.downtime_per_year,
                }
            )
    return pd.DataFrame(rows)


def mechanism_table(
    topology: Topology | None = None, assumptions: Assumptions | None = None
) -> pd.DataFrame:
    """:func:`control_plane_terms` without the zero rows, sorted by downtime, with the
    share of the summed downtime and readable ``per_year`` and ``per_event`` columns."""
    terms = control_plane_terms(topology, assumptions)
    terms = terms[terms["downtime_per_year"] > 0].sort_values("downtime_per_year", ascending=False)
    total = terms["downtime_per_year"].sum()
    out = terms.assign(share=terms["downtime_per_year"] / total if total > 0 else 0.0)
    out["per_year"] = out["downtime_per_year"].map(format_duration)
    out["per_event"] = out["seconds_per_event"].map(format_duration)
    return out.reset_index(drop=True)


def health_check_effect(
    intervals: Iterable[Any],
    thresholds: Iterable[int],
    topology: Topology | None = None,
    assumptions: Assumptions | None = None,
    timeout: Any = 0.0,
) -> pd.DataFrame:
    """API server downtime against the load balancer's probe interval and threshold.

    Returns
    -------
    pandas.DataFrame
        ``interval, threshold, mean_detection, undetected, all_down, downtime_per_year``
        (seconds a year for the last three, API server tier only).
    """
    topo = Topology() if topology is None else topology
    a = Assumptions.default() if assumptions is None else assumptions
    from ha_toolkit.availability.controlplane import _parts

    api = _parts(topo, a).api
    rows = []
    for interval in intervals:
        for threshold in thresholds:
            hc = HealthCheck(interval, threshold, timeout)
            down, undetected = api_server_terms(topo.nodes, api, hc)
            rows.append(
                {
                    "interval": hc.interval,
                    "threshold": hc.threshold,
                    "mean_detection": hc.mean_detection,
                    "undetected": undetected.downtime_per_year,
                    "all_down": down.downtime_per_year,
                    "downtime_per_year": undetected.downtime_per_year + down.downtime_per_year,
                }
            )
    return pd.DataFrame(rows)


def leader_settings_effect(
    configs: Mapping[str, ElectionConfig],
    topology: Topology | None = None,
    assumptions: Assumptions | None = None,
    component: str = "kube-scheduler",
) -> pd.DataFrame:
    """Downtime of a leader-elected component by mechanism, for several lease settings.

    Parameters
    ----------
    configs : mapping of str to ElectionConfig
        Label -> settings, used for ``component`` (``candidates`` follows the topology).
    topology, assumptions : optional
        The rest of the control plane.
    component : {"kube-scheduler", "kube-controller-manager"}
        Which component gets the settings.

    Returns
    -------
    pandas.DataFrame
        ``setting, lease_duration, renew_deadline, retry_period, release_on_cancel,
        mechanism, downtime_per_year`` (seconds), the zero mechanisms left out.
    """
    fields = {"kube-scheduler": "scheduler", "kube-controller-manager": "controller_manager"}
    if component not in fields:
        raise ValueError(f"invalid component {component!r}: expected one of {', '.join(fields)}")
    topo = Topology() if topology is None else topology
    rows = []
    for label, cfg in configs.items():
        t = replace(topo, **{fields[component]: cfg})
        terms = control_plane_terms(t, assumptions)
        mine = terms[(terms["component"] == component) & (terms["downtime_per_year"] > 0)]
        for r in mine.itertuples():
            rows.append(
                {
                    "setting": label,
                    "lease_duration": cfg.lease_duration,
                    "renew_deadline": cfg.renew_deadline,
                    "retry_period": cfg.retry_period,
                    "release_on_cancel": cfg.release_on_cancel,
                    "mechanism": r.mechanism,
                    "downtime_per_year": r.downtime_per_year,
                }
            )
    return pd.DataFrame(rows)


def topology_comparison(
    topologies: Mapping[str, Topology], assumptions: Assumptions | None = None
) -> pd.DataFrame:
    """:func:`control_plane` for several topologies, one row per topology and component."""
    frames = []
    for label, topo in topologies.items():
        frames.append(control_plane(topo, assumptions).assign(topology=label))
    return pd.concat(frames, ignore_index=True)
