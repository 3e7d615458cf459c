"""Which renewals concern the VPN's server certificate (names, wildcards, lineage paths)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeward.acme import Renewal
from vpn_provision.hooks import concerns
from vpn_provision.settings import Settings


@pytest.mark.parametrize(
    ("renewal", "expected"),
    [
        (Renewal("lego", ("vpn.example.org",), ()), "names vpn.example.org"),
        (Renewal("lego", ("*.example.org",), ()), "names vpn.example.org"),
        (Renewal("lego", ("example.org",), ()), None),
        (Renewal("acme.sh", (), (Path("/le/fullchain.pem"),)), "uses /le/fullchain.pem"),
        (Renewal("certbot", (), (), lineage=Path("/le")), "in /le"),
        (Renewal("certbot", (), (), lineage=Path("/other")), None),
    ],
)
def test_concerns(renewal: Renewal, expected: str | None) -> None:
    s = Settings(
        host="vpn.example.org",
        net4="10.0.0.0/24",
        net6="fd00::/64",
        le_cert=Path("/le/fullchain.pem"),
        le_key=Path("/le/privkey.pem"),
    )
    got = concerns(s, renewal)
    assert (got is None) if expected is None else (got is not None and expected in got)
    own = Settings(host="vpn.example.org", net4="10.0.0.0/24", net6="fd00::/64")
    assert concerns(own, renewal) is None  # our own CA's certificate: nothing to renew
