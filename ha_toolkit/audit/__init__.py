"""Audit a cluster from its own artifacts: Leases, static pod manifests and ``/metrics``."""

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
    "ArtifactError",
    "ArtifactWarning",
    "AuditReport",
    "audit",
    "parse_leases",
    "parse_manifest",
    "parse_metrics",
    "read_leases",
    "read_manifests",
    "read_metrics",
    "sample_artifacts",
]
