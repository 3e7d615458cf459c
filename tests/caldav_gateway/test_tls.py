"""TLS: one certificate with or without SNI; renewal without dropping connections."""

from __future__ import annotations

import http.client
import re
import ssl
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from caldav_gateway.tls import CertificateError, CertificateReloader, load_pair
from edgeward import pki
from tests.caldav_gateway.conftest import Gateway, running_gateway


def _file_fingerprint(path: Path) -> str:
    return pki.fingerprint(x509.load_pem_x509_certificate(path.read_bytes()))


def _served(gw: Gateway, server_name: str | None) -> str:
    cert, _ = pki.served_certificate(gw.host, gw.port, server_name=server_name)
    return pki.fingerprint(cert)


def _wait_for(predicate: object, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("server_name", [None, "localhost", "calendar.example.org", "127.0.0.1"])
def test_every_client_gets_the_one_certificate(gateway: Gateway, server_name: str | None) -> None:
    cert, version = pki.served_certificate(gateway.host, gateway.port, server_name=server_name)
    assert pki.fingerprint(cert) == _file_fingerprint(gateway.cert)
    assert version in ("TLSv1.2", "TLSv1.3")


def test_tls_below_the_minimum_is_refused(tmp_path: Path) -> None:
    with running_gateway(tmp_path, ["--tls-min-version", "1.3"]) as gw:
        old = gw.ssl_context()
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(httpx.ConnectError, match="SSL"):
            httpx.get(gw.url + "/", verify=old, timeout=5)
        assert httpx.get(gw.url + "/principals/", verify=gw.ssl_context()).status_code == 404


@pytest.mark.slow
def test_renewal_reaches_new_handshakes_and_spares_open_connections(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text("reload_interval = 0.2\n")
    with running_gateway(tmp_path / "gw", ["--config", str(config)]) as gw:
        assert gw.ca_issued is not None
        old_fp = _file_fingerprint(gw.cert)
        # A client holding a keep-alive connection across the renewal.
        held = http.client.HTTPSConnection(gw.host, gw.port, context=gw.ssl_context(), timeout=10)
        held.request("PROPFIND", "/principals/")
        assert held.getresponse().read() == b"Not Found\n"
        held_sock = held.sock

        renewed = pki.issue(gw.ca_issued, ["localhost", "127.0.0.1", "::1"], days=30)
        pki.write_pair(renewed, gw.key, gw.cert)
        _wait_for(lambda: _served(gw, None) == renewed.fingerprint, "the renewed certificate")
        assert _served(gw, "localhost") == renewed.fingerprint

        # The established connection was not dropped and still speaks with the old cert.
        held.request("PROPFIND", "/principals/")
        assert held.getresponse().status == 404
        assert held.sock is held_sock
        der = held.sock.getpeercert(binary_form=True)  # type: ignore[union-attr]
        assert der is not None
        assert pki.fingerprint(x509.load_der_x509_certificate(der)) == old_fp
        held.close()

        # A broken pair (key of another certificate) is refused; the renewed one stays.
        other = pki.issue(gw.ca_issued, ["localhost"])
        pki.atomic_write(gw.cert, other.cert_pem())
        pki.atomic_write(gw.key, renewed.key_pem(), mode=0o600)
        _wait_for(lambda: "new certificate refused" in gw.log_text(), "the refusal log line")
        assert _served(gw, None) == renewed.fingerprint
        r = httpx.request("PROPFIND", gw.url + "/", verify=gw.ssl_context())
        assert r.status_code == 401

        metrics = httpx.get(gw.metrics_url).text
        not_after = renewed.cert.not_valid_after_utc.timestamp()
        m = re.search(r"^edgeward_caldav_certificate_not_after_seconds (\S+)$", metrics, re.M)
        assert m is not None and float(m.group(1)) == pytest.approx(not_after)
        assert 'edgeward_caldav_certificate_reloads_total{result="refused"} 1.0' in metrics
        assert 'edgeward_caldav_certificate_reloads_total{result="loaded"} 1.0' in metrics


def _pair(tmp: Path, ca: pki.Issued) -> tuple[Path, Path]:
    cert, key = tmp / "c.pem", tmp / "k.pem"
    pki.write_pair(pki.issue(ca), key, cert)
    return cert, key


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing-cert", "file not found"),
        ("garbage-cert", "not a usable certificate and key"),
        ("garbage-key", "not a usable certificate and key"),
        ("wrong-key", "not a usable certificate and key"),
    ],
)
def test_unusable_pairs_are_named(tmp_path: Path, damage: str, message: str) -> None:
    ca = pki.make_ca()
    cert, key = _pair(tmp_path, ca)
    if damage == "missing-cert":
        cert.unlink()
    elif damage == "garbage-cert":
        cert.write_text("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    elif damage == "garbage-key":
        key.write_text("not a key")
    else:
        key.write_bytes(pki.issue(ca).key_pem())
    with pytest.raises(CertificateError, match=message) as err:
        load_pair(cert, key)
    assert str(cert.name) in str(err.value)
    assert "PRIVATE KEY" not in str(err.value)


def test_reloader_swaps_only_after_a_good_pair(tmp_path: Path) -> None:
    ca = pki.make_ca()
    cert, key = _pair(tmp_path, ca)
    reloader = CertificateReloader(cert, key)
    first = pki.fingerprint(reloader.leaf)
    assert reloader.check() is False  # nothing changed
    cert.write_text("garbage")
    assert reloader.check() is False
    assert pki.fingerprint(reloader.leaf) == first
    renewed = pki.issue(ca)
    pki.write_pair(renewed, key, cert)
    assert reloader.check() is True
    assert pki.fingerprint(reloader.leaf) == renewed.fingerprint
