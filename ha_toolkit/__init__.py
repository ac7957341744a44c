"""ha-toolkit: timing and availability models of Kubernetes control-plane high availability.

The subpackages answer questions such as "how long does a leader-election failover take?"
with the exact distribution of the answer, computed from the semantics of client-go and
cross-checked against an event-level simulation.

Modules
-------
durations
    ``parse_duration``: "15s", "1m30s", "500ms", "1d", a timedelta or seconds -> seconds;
    ``parse_rate``: "3000/s", "50/min" or a number -> per second.
distribution
    Random durations on a lattice and their algebra (the result type of the timing models).
election
    Leader election as client-go implements it: ``ElectionConfig``, presets, failover,
    outage survival, term overlap, tuning, and the Monte Carlo and real-client checks.
apiserver
    Admission control: in-flight limits and API Priority and Fairness as queueing models.
availability
    Steady-state availability of a control plane, composed component by component.
audit
    What a real cluster's leases, manifests and metrics imply.
sweep, widgets, plotting, tables, progress, figures, cli
    Parameter sweeps on any executor, notebook explorers, figures, tables for people
    (readable headers, units, significant digits), progress bars, the figures pipeline,
    the CLI.
"""

from ha_toolkit.durations import parse_duration

__version__ = "0.1.0"

__all__ = ["__version__", "parse_duration"]
