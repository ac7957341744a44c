"""Control-plane availability: components, k-of-n tiers, leaders, composed.

* :mod:`~ha_toolkit.availability.blocks`: :class:`Component` (MTBF, MTTR),
  :class:`Replica`, :func:`series`, :func:`parallel`, :func:`k_of_n`, nines and downtime.
* :mod:`~ha_toolkit.availability.controlplane`: the API server tier behind a load balancer
  with its health check, the etcd quorum, leader-elected components, and
  :func:`control_plane`, which composes them for a :class:`Topology` under
  :class:`Assumptions` (``data/availability_assumptions.csv``).
* :mod:`~ha_toolkit.availability.simulate`: the Monte Carlo cross-check.
* :mod:`~ha_toolkit.availability.probes`: the kubelet's probes (detection of an exit, a
  refusing and a hung process), restarts with CrashLoopBackOff, the load balancer's window
  and graceful shutdown; :mod:`~ha_toolkit.availability.simulate_probes` its oracle.
* :mod:`~ha_toolkit.availability.explore`: sweeps for the notebook and the CLI.
* :mod:`~ha_toolkit.availability.cascade`: API Priority and Fairness in the leader's renew
  loop (lease losses when the lease calls queue in a loaded priority level).
* :mod:`~ha_toolkit.availability.etcd_cascade`: an etcd leader failover as an API outage
  for the leases, and the etcd election gap of :mod:`.controlplane`.
"""

from ha_toolkit.availability.blocks import (
    SECONDS_PER_MONTH,
    SECONDS_PER_YEAR,
    Availability,
    Component,
    Replica,
    downtime_per_month,
    downtime_per_year,
    k_of_n,
    nines,
    parallel,
    parse_long_duration,
    quorum,
    series,
    up_count_pmf,
)
from ha_toolkit.availability.controlplane import (
    COMPONENTS,
    ApiServerFailures,
    Assumptions,
    HealthCheck,
    Outage,
    Term,
    Topology,
    api_server_phases,
    api_server_terms,
    assumptions_frame,
    control_plane,
    control_plane_terms,
    etcd_terms,
    fresh_acquisition,
    leader_elected_terms,
    leader_outages,
    leaderless_after_api_return,
    leadership_loss_probability,
    restoration_up_count,
    rolling_update_handovers,
    terms_frame,
)

__all__ = [
    "COMPONENTS",
    "ApiServerFailures",
    "SECONDS_PER_MONTH",
    "SECONDS_PER_YEAR",
    "Assumptions",
    "Availability",
    "Component",
    "HealthCheck",
    "Outage",
    "Replica",
    "Term",
    "Topology",
    "api_server_phases",
    "api_server_terms",
    "assumptions_frame",
    "control_plane",
    "control_plane_terms",
    "downtime_per_month",
    "downtime_per_year",
    "etcd_terms",
    "fresh_acquisition",
    "k_of_n",
    "leader_elected_terms",
    "leader_outages",
    "leaderless_after_api_return",
    "leadership_loss_probability",
    "nines",
    "parallel",
    "parse_long_duration",
    "quorum",
    "restoration_up_count",
    "rolling_update_handovers",
    "series",
    "terms_frame",
    "up_count_pmf",
]
