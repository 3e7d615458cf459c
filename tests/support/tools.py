"""External tools the tests need (nginx, snmpd, promtool...).

Locally a missing tool skips the test with the command that installs it; with
``CI=true`` a missing tool is a failure, because CI must have installed it (``.ci/run``).
"""

from __future__ import annotations

import os

import pytest

from edgeward.which import find_tool


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_tool(name: str, package: str | None = None) -> str:
    path = find_tool(name)
    if path:
        return path
    hint = f"apt-get install -y {package or name}"
    if in_ci():
        pytest.fail(f"{name} is required in CI but missing ({hint}; see .ci/run)")
    pytest.skip(f"{name} not installed ({hint})")
