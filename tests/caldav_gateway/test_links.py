"""One-time profile links served by the real gateway under /.profile/: valid → 200 once then
404, expired → 410, one changed byte → 403, each answer audited; requests without a
signature (Apple's probes included) still get the policy's 404."""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest

from caldav_gateway import links
from caldav_gateway.cli import main
from edgeward.appleprofile import CONTENT_TYPE, unwrap
from edgeward.onetime import NonceStore, make_link
from middleware.signed import KeyRing
from tests.support.gateway import Gateway

pytestmark = pytest.mark.slow


def _link(gw: Gateway, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    argv = ["profile", "alice", "--host", gw.host, "--port", str(gw.port)]
    argv += ["--cert", str(gw.cert), "--key", str(gw.key), "--ca", str(gw.ca)]
    argv += ["--collections", str(gw.collections), "--link", *extra]
    assert main(argv) == 0
    out = capsys.readouterr().out
    url, qr = out.split("\n", 1)
    assert "█" in qr or "▀" in qr  # the QR code drawn in the terminal
    return url


def _get(gw: Gateway, url: str) -> httpx.Response:
    return httpx.get(url, verify=gw.ssl_context(), timeout=20)


def test_valid_link_works_once(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    url = _link(gateway, capsys, "--sign", "--expires-in", "900")
    assert url.startswith(f"https://{gateway.host}:{gateway.port}{links.PREFIX}")
    page = _get(gateway, url)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    button = re.search(r"href='([^']+)'", page.text)
    assert button is not None
    file_url = gateway.url + button.group(1).replace("&amp;", "&")
    profile = _get(gateway, file_url)
    assert profile.status_code == 200
    assert profile.headers["content-type"].startswith(CONTENT_TYPE)
    assert b"com.apple.caldav.account" in unwrap(profile.content)
    assert _get(gateway, url).status_code == 404  # the page again
    assert _get(gateway, file_url).status_code == 404  # the file again


def test_expired_and_changed_links(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    url = _link(gateway, capsys)  # creates the state
    folder = links.state_dir(gateway.collections)
    store = NonceStore(folder / "links.db")
    subject = next((folder / "profiles").glob("*.mobileconfig")).stem
    expired = make_link(
        store,
        KeyRing.from_file(folder / "links.keys"),
        subject,
        base_url=gateway.url,
        prefix=links.PREFIX,
        expires_in=10,
        now=time.time() - 3600,
    )
    assert _get(gateway, expired).status_code == 410
    # one changed byte, in the nonce and in the signature
    nonce_at = url.index(links.PREFIX) + len(links.PREFIX)
    for at in (nonce_at, len(url) - 1):
        flipped = url[:at] + ("A" if url[at] != "A" else "B") + url[at + 1 :]
        assert _get(gateway, flipped).status_code == 403, flipped
    assert _get(gateway, url).status_code == 200  # the genuine one still works, once
    results = [(r.result, r.status) for r in store.audit_rows()]
    for expected in [("expired", 410), ("forged", 403), ("ok", 200)]:
        assert expected in results
    metrics = httpx.get(gateway.metrics_url, timeout=20).text
    assert 'edgeward_caldav_profile_links_total{result="expired"} 1.0' in metrics


@pytest.mark.parametrize(
    "path",
    [
        links.PREFIX,
        links.PREFIX + "abc",
        links.PREFIX + "abc?exp=1&kid=k1",
        "/.profile",
        "/.profile-links/links.keys",
        "/profile-links/links.keys",
    ],
)
def test_unsigned_requests_keep_the_gateways_404(gateway: Gateway, path: str) -> None:
    assert _get(gateway, gateway.url + path).status_code == 404


def test_state_is_private(gateway: Gateway, capsys: pytest.CaptureFixture[str]) -> None:
    _link(gateway, capsys)
    keys: Path = links.state_dir(gateway.collections) / "links.keys"
    assert keys.stat().st_mode & 0o077 == 0
