"""Audit a cluster from its own artifacts: Leases, static pod manifests and ``/metrics``,
and its priority-and-fairness configuration (:mod:`ha_toolkit.audit.apf_config`)."""

from ha_toolkit.audit.apf_config import (
    ApfAudit,
    ApfConfig,
    apf_audit,
    read_apf_config,
    read_apf_metrics,
    sample_apf_config,
)
from ha_toolkit.audit.readers import (
    ArtifactError,
    ArtifactWarning,
    parse_leases,
    parse_manifest,
    parse_metrics,
    read_leases,
    read_manifests,
    read_metrics,
)
from ha_toolkit.audit.report import AuditReport, audit, sample_artifacts

__all__ = [
    "ApfAudit",
    "ApfConfig",
    "ArtifactError",
    "ArtifactWarning",
    "AuditReport",
    "apf_audit",
    "audit",
    "parse_leases",
    "parse_manifest",
    "parse_metrics",
    "read_apf_config",
    "read_apf_metrics",
    "read_leases",
    "read_manifests",
    "read_metrics",
    "sample_apf_config",
    "sample_artifacts",
]
