"""Session-wide test set-up: the loopback guard and shared fixtures."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

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


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    """A command run in-process (``edgeward.cli.run``) points the root logger at its own
    stderr: take its handler off after the test and restore the level, so later tests log
    where pytest captures. pytest's own capture handlers are its business."""
    root = logging.getLogger()
    before, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in before and not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
    for handler in before:
        if handler not in root.handlers and not type(handler).__module__.startswith("_pytest"):
            root.addHandler(handler)
    root.setLevel(level)
