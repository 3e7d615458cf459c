"""`vpn-provision hook`: a renewed Let's Encrypt certificate lands in the server files and the
IKE daemon is reloaded; renewals of other certificates are left alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from edgeward import pki
from tests.support.vpn import CLI, make_state


def _le_pair(folder: Path, ca: pki.Issued) -> pki.Issued:
    leaf = pki.issue(ca, ["vpn.example.org"], key_type="ec384")
    folder.mkdir(parents=True, exist_ok=True)
    pki.write_pair(leaf, folder / "privkey.pem", folder / "fullchain.pem", chain=[ca])
    return leaf


@pytest.fixture
def le(tmp_path: Path) -> tuple[Path, pki.Issued]:
    ca = pki.make_ca("R11", key_type="ec384")
    live = tmp_path / "letsencrypt" / "live" / "vpn.example.org"
    _le_pair(live, ca)
    st = make_state(tmp_path / "state", le_cert=live / "fullchain.pem", le_key=live / "privkey.pem")
    st.add("ph", "ios")
    st.close()
    return live, ca


def test_certbot_renewal_renders_and_reloads(
    le: tuple[Path, pki.Issued], tmp_path: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    live, ca = le
    out = tmp_path / "out"
    marker = tmp_path / "reloaded"
    base = ["hook", "--state", str(tmp_path / "state"), "--out", str(out)]
    renewed = _le_pair(live, ca)  # certbot renewed the files in place
    monkeypatch.setenv("RENEWED_LINEAGE", str(live))
    monkeypatch.setenv("RENEWED_DOMAINS", "vpn.example.org")
    r = cli(*base, "--reload-command", f"touch {marker}")
    assert r.code == 0, r.err
    assert (out / "server/linux/swanctl/x509/server.pem").read_bytes() == renewed.cert_pem()
    assert (out / "server/linux/swanctl/private/server.pem").read_bytes() == renewed.key_pem()
    assert marker.exists()
    # a failing reload is exit code 1, named
    r = cli(*base, "--reload-command", "false")
    assert r.code == 1 and "reload failed: false" in r.err


def test_other_certificates_are_left_alone(
    le: tuple[Path, pki.Issued], tmp_path: Path, cli: CLI
) -> None:
    out = tmp_path / "out"
    r = cli(
        "hook",
        "--state",
        str(tmp_path / "state"),
        "--out",
        str(out),
        "printer.example.org",
        "/etc/x/key.pem",
        "/etc/x/cert.pem",
    )
    assert r.code == 0 and "not this VPN server's certificate" in r.out
    assert not out.exists()


def test_nothing_to_act_on_is_a_usage_error(
    le: tuple[Path, pki.Issued], tmp_path: Path, cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    for k in list(os.environ):
        if k.startswith(("RENEWED_", "LEGO_", "_c", "CERT_", "Le_")):
            monkeypatch.delenv(k)
    r = cli("hook", "--state", str(tmp_path / "state"), "--out", str(tmp_path / "o"))
    assert r.code == 2 and "no renewed certificate" in r.err
