"""ha-toolkit: timing and availability models of Kubernetes control-plane high availability.

The subpackages answer questions such as "how long does a leader-election failover take?"
with the exact distribution of the answer, computed from the semantics of client-go and
cross-checked against an event-level simulation.

Modules
-------
durations
    ``parse_duration``: "15s", "1m30s", "500ms", a timedelta or seconds -> float seconds.
election
    Leader election as client-go implements it: ``ElectionConfig``, presets, failover times.
"""

from ha_toolkit.durations import parse_duration

__version__ = "0.1.0"

__all__ = ["__version__", "parse_duration"]
