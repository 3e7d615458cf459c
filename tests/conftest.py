"""Session-wide test set-up: the loopback guard and shared fixtures."""

from __future__ import annotations

import os

from tests.support import guard

guard.install()

# Hypothesis: deterministic enough for CI, and no example database in the checkout.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", "/tmp/edgeward-hypothesis")

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile("ci" if os.environ.get("CI", "").lower() == "true" else "dev")
