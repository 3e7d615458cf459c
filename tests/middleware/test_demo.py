"""The demo app of ``make run``: what ``prepare`` writes and prints, where the app finds
its key file and ASN table, and the app built on first access. (Its three signed links
and the damaged link counted at /metrics: ``signed/test_demo_links.py`` and
``corruption/test_demo_sensor.py``.)"""

from __future__ import annotations

import logging
import stat
import time
from pathlib import Path

import httpx
import pytest

from middleware import demo
from middleware.signed.keyring import KeyRing
from tests.support.servers import uvicorn_server


def test_prepare_writes_every_input_once_and_prints_no_secret(tmp_path: Path) -> None:
    notes = demo.prepare(tmp_path)
    keys = tmp_path / "middleware" / "keys.txt"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert KeyRing.from_file(keys).kids == ("demo-1",)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert "middleware/ip2asn.tsv" in written  # dpi-report's table (demo_report)
    assert any(p.startswith("nginx/") for p in written)  # nginx in front (demo_nginx)
    secret = keys.read_text().split()[-1]
    assert all(secret not in note for note in notes)
    assert any(str(keys) in note for note in notes)
    assert demo.prepare(tmp_path) == notes
    assert keys.read_text().split()[-1] == secret  # a restart keeps the key


@pytest.mark.parametrize(
    ("var", "expected"),
    [(None, Path("var/middleware/keys.txt")), ("/srv/x", Path("/srv/x/middleware/keys.txt"))],
)
def test_keys_path_follows_edgeward_var(
    monkeypatch: pytest.MonkeyPatch, var: str | None, expected: Path
) -> None:
    if var is None:
        monkeypatch.delenv("EDGEWARD_VAR", raising=False)
    else:
        monkeypatch.setenv("EDGEWARD_VAR", var)
    assert demo.keys_path() == expected


def test_without_a_key_file_the_app_signs_with_a_temporary_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("EDGEWARD_VAR", str(tmp_path))
    with caplog.at_level(logging.WARNING):
        ring = demo.demo_keyring()
    assert ring.kids == ("ephemeral",)
    assert "temporary key" in caplog.text
    demo.prepare(tmp_path)
    assert demo.demo_keyring().kids == ("demo-1",)


def test_the_app_is_built_on_first_access(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``make run`` imports the module for ``prepare()`` before the key file exists: the app
    is built when ``app`` is first read (another test may have read it: set that one aside)."""
    monkeypatch.setenv("EDGEWARD_VAR", str(tmp_path))
    built_before = vars(demo).pop("app", None)
    try:
        assert "app" not in vars(demo)
        app = demo.app
        assert demo.app is app and vars(demo)["app"] is app
        with pytest.raises(AttributeError, match="no attribute 'nope'"):
            demo.nope  # noqa: B018
    finally:
        vars(demo).pop("app", None)
        if built_before is not None:
            vars(demo)["app"] = built_before


def test_the_app_counts_requests_under_the_tables_as(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table at $EDGEWARD_VAR/middleware/ip2asn.tsv is used: loopback mapped to an AS
    shows under that AS at /metrics; /metrics answers itself, without a redirect."""
    monkeypatch.setenv("EDGEWARD_VAR", str(tmp_path))
    (tmp_path / "middleware").mkdir()
    (tmp_path / "middleware" / "ip2asn.tsv").write_text(
        "127.0.0.0\t127.255.255.255\t64512\tZZ\tDEMO-LOOPBACK\n"
    )
    with uvicorn_server(demo.build_app()) as url, httpx.Client(timeout=30) as client:
        assert client.get(url + "/").status_code == 200
        deadline = time.monotonic() + 30
        while True:
            reply = client.get(url + "/metrics", follow_redirects=False)
            if 'edgeward_requests_by_asn_total{asn="64512"}' in reply.text:
                break
            assert time.monotonic() < deadline, reply.text[-2000:]
            time.sleep(0.05)
        assert reply.status_code == 200
        unsigned = client.get(url + "/media/cat.txt")
        assert unsigned.status_code == 403  # /media/ needs a signed URL
