"""Fixtures for every caldav_gateway test module (the servers they start live in
``tests/support/gateway.py``).

``gateway`` (module-scoped): the real gateway over TLS on loopback, with users ``alice``
and ``bob`` (random passwords). ``password_file``: a password file for
``doctor --password-file``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import DOCTOR_PASSWORD, Gateway, running_gateway


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(tmp_path_factory.mktemp("gateway")) as gw:
        yield gw


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    """A password file for ``doctor --password-file`` (the users of ``plain_radicale``)."""
    p = tmp_path / "pw"
    p.write_text(DOCTOR_PASSWORD + "\n")
    return p
