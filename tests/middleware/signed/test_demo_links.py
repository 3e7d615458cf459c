"""The demo app of ``make run``: its key file, and the page whose three links show the
three outcomes in a browser."""

from __future__ import annotations

import html
import re
import stat
from pathlib import Path

import httpx
import pytest

from middleware import demo
from middleware.signed.keyring import KeyRing
from tests.support.servers import uvicorn_server


def test_prepare_writes_a_private_key_file_once(tmp_path: Path) -> None:
    notes = demo.prepare(tmp_path)
    path = tmp_path / "middleware" / "keys.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    assert KeyRing.from_file(path).kids == ("demo-1",)
    assert demo.prepare(tmp_path) == notes  # idempotent: the key survives restarts
    assert path.read_text() == first
    assert any("/signed-links" in n for n in notes)
    assert all(first.split()[-1] not in n for n in notes)  # the secret is not printed


@pytest.mark.parametrize("prepared", [True, False])
def test_signed_links_page_shows_three_outcomes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prepared: bool
) -> None:
    monkeypatch.setenv("EDGEWARD_VAR", str(tmp_path))
    if prepared:
        demo.prepare(tmp_path)
    with uvicorn_server(demo.build_app()) as base:
        home = httpx.get(base + "/", timeout=10)
        assert 'href="/signed-links"' in home.text
        page = httpx.get(base + "/signed-links", timeout=10)
        links = dict(re.findall(r'<a href="([^"]+)">(valid|expired|tampered)</a>', page.text))
        by_name = {name: html.unescape(href) for href, name in links.items()}
        assert set(by_name) == {"valid", "expired", "tampered"}
        valid = httpx.get(base + by_name["valid"], timeout=10)
        assert valid.status_code == 200
        assert ("Key id: demo-1" in valid.text) is prepared
        assert "'size=small'" in valid.text  # the app sees its own query, not the signature
        assert httpx.get(base + by_name["expired"], timeout=10).status_code == 410
        assert httpx.get(base + by_name["tampered"], timeout=10).status_code == 403
        metrics = httpx.get(base + "/metrics", timeout=10).text
        assert 'edgeward_signed_url_checks_total{result="expired"}' in metrics
