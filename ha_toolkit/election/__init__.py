"""Leader election as client-go implements it: configuration and exact timing."""

from ha_toolkit.election.config import ElectionConfig
from ha_toolkit.election.timing import failover

__all__ = ["ElectionConfig", "failover"]
