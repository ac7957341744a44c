"""Shared test settings."""

import os

from hypothesis import HealthCheck, settings

# Headless plotting in tests.
os.environ.setdefault("MPLBACKEND", "Agg")

# Timing-based deadlines make property tests flaky on loaded CI machines.
settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "project"))
