"""The link server with a real state: link → page (QR, buttons) → signed profile, once;
a device removed after its link was made → 404; metrics. (`vpn-provision serve` as a real
process: ``test_cmd_serve.py``.)"""

from __future__ import annotations

import plistlib
import re

import httpx
import pytest
from cryptography.hazmat.primitives.serialization import pkcs7
from prometheus_client import REGISTRY

from tests.support.servers import uvicorn_server
from tests.support.vpn import CLI, issue_link
from vpn_provision.state import State
from vpn_provision.web import create_app, store


def _hrefs(page: str) -> dict[str, str]:
    return {
        m.group(2): m.group(1).replace("&amp;", "&")
        for m in re.finditer(r"href='(/d/[^/]+/([^?']+)\?[^']*)'", page)
    }


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_link_page_downloads_once(state: State, cli: CLI) -> None:
    target = issue_link(cli, state, "alice")
    app = create_app(state.root)
    ok_before = _value("edgeward_vpn_downloads_total", {"result": "ok"})
    with uvicorn_server(app) as base, httpx.Client(base_url=base) as c:
        page = c.get(target)
        assert page.status_code == 200
        assert "data:image/png;base64," in page.text  # the QR code
        assert "Install the IKEv2 profile" in page.text and "WireGuard config" in page.text
        alice = state.device("alice")
        assert alice.p12_password.reveal() in page.text  # shown once, on this page
        hrefs = _hrefs(page.text)
        assert set(hrefs) == {
            "alice-ikev2.mobileconfig",
            "alice-wireguard.mobileconfig",
            "alice.conf",
            "alice.p12",
            "ca.pem",
        }
        profile = c.get(hrefs["alice-ikev2.mobileconfig"])
        assert profile.status_code == 200
        assert profile.headers["content-type"] == "application/x-apple-aspen-config"
        signers = pkcs7.load_der_pkcs7_certificates(profile.content)
        assert signers[0].subject.rfc4514_string().startswith("CN=vpn.example.org,")
        inner = profile.content[profile.content.index(b"<?xml") :]
        inner = inner[: inner.index(b"</plist>") + len(b"</plist>")]
        assert plistlib.loads(inner)["PayloadContent"][-1]["VPNType"] == "IKEv2"
        conf = c.get(hrefs["alice.conf"])
        assert "AllowedIPs = 0.0.0.0/0, ::/0" in conf.text
        assert c.get(hrefs["alice.conf"]).status_code == 404
        assert c.get(target).status_code == 404
        assert c.get("/").status_code == 404 and "alice" not in c.get("/").text
    assert _value("edgeward_vpn_downloads_total", {"result": "ok"}) == ok_before + 3
    assert _value("edgeward_vpn_devices") == 2
    assert _value("edgeward_vpn_links_issued_total") == 1
    results = [r.result for r in store(state).audit_rows()]
    assert results == ["ok", "ok", "ok", "used", "used"]


@pytest.mark.parametrize(
    ("case", "status"), [("expired", 410), ("one_byte", 403), ("removed", 404)]
)
def test_refused_links(state: State, cli: CLI, case: str, status: int) -> None:
    target = issue_link(cli, state, "alice", "--expires-in", "1" if case == "expired" else "900")
    if case == "one_byte":
        i = target.index("sig=") + 6
        target = target[:i] + ("x" if target[i] != "x" else "y") + target[i + 1 :]
    if case == "removed":
        assert cli("remove", "alice", "--state", str(state.root)).code == 0
    app = create_app(state.root)
    with uvicorn_server(app) as base, httpx.Client(base_url=base) as c:
        if case == "expired":
            import time

            time.sleep(2.1)  # the link's own validity is the condition under test
        r = c.get(target)
        assert r.status_code == status
        assert "alice" not in r.text
