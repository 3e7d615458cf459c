"""The doctor's TLS checks: which names a certificate covers."""

from __future__ import annotations

import pytest

from caldav_gateway.doctor.tls_checks import covers
from edgeward import pki


@pytest.mark.parametrize(
    ("names", "host", "expected"),
    [
        (("cal.example.org",), "cal.example.org", True),
        (("cal.example.org",), "CAL.Example.org.", True),
        (("cal.example.org",), "example.org", False),
        (("*.example.org",), "cal.example.org", True),
        (("*.example.org",), "a.cal.example.org", False),
        (("*.example.org",), "example.org", False),
        (("127.0.0.1",), "127.0.0.1", True),
        (("127.0.0.1",), "127.0.0.2", False),
        (("::1",), "::1", True),
        (("localhost",), "127.0.0.1", False),
    ],
)
def test_name_matching_uses_subject_alt_names(
    names: tuple[str, ...], host: str, expected: bool
) -> None:
    cert = pki.issue(_CA, names).cert
    assert covers(cert, host) is expected


_CA = pki.make_ca()
