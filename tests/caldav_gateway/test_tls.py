"""TLS: one certificate with or without SNI; renewal without dropping connections."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import os
import re
import select
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from prometheus_client import REGISTRY

from caldav_gateway.tls import CertificateError, CertificateReloader, load_pair, validity_problem
from edgeward import pki
from edgeward.files import atomic_write
from tests.support.gateway import Gateway, running_gateway, write_htpasswd
from tests.support.tools import require_tool


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
        atomic_write(gw.cert, other.cert_pem())
        atomic_write(gw.key, renewed.key_pem(), mode=0o600)
        _wait_for(lambda: "new certificate refused" in gw.log_text(), "the refusal log line")
        assert _served(gw, None) == renewed.fingerprint
        r = httpx.request("PROPFIND", gw.url + "/", verify=gw.ssl_context())
        assert r.status_code == 401

        metrics = httpx.get(gw.metrics_url).text
        not_after = renewed.cert.not_valid_after_utc.timestamp()
        m = re.search(r"^edgeward_caldav_certificate_not_after_seconds (\S+)$", metrics, re.M)
        assert m is not None and float(m.group(1)) == pytest.approx(not_after)
        # once or twice: the poll may see the certificate written before the key
        refused = re.search(
            r'^edgeward_caldav_certificate_reloads_total\{result="refused"\} (\S+)$', metrics, re.M
        )
        assert refused is not None and float(refused.group(1)) in (1.0, 2.0), metrics
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


def _encrypted_key(issued: pki.Issued, path: Path) -> None:
    path.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret passphrase"),
        )
    )


def test_a_passphrase_protected_key_is_refused_without_prompting(tmp_path: Path) -> None:
    ca = pki.make_ca()
    cert, key = _pair(tmp_path, ca)
    issued = pki.issue(ca)
    pki.write_pair(issued, key, cert)
    _encrypted_key(issued, key)
    started = time.monotonic()
    with pytest.raises(CertificateError, match="protected by a passphrase") as err:
        load_pair(cert, key)
    assert time.monotonic() - started < 5
    assert str(key) in str(err.value) and "secret passphrase" not in str(err.value)


@pytest.mark.slow
def test_serve_with_a_terminal_attached_never_prompts_for_the_passphrase(tmp_path: Path) -> None:
    """Issue 11: OpenSSL prompted on the controlling terminal and the server hung."""
    ca = pki.make_ca()
    issued = pki.issue(ca)
    cert, key, users = tmp_path / "c.pem", tmp_path / "k.pem", tmp_path / "users"
    pki.write_pair(issued, key, cert)
    _encrypted_key(issued, key)
    write_htpasswd(users, {"alice": "pw"})
    primary, secondary = os.openpty()
    argv = [
        require_tool("setsid", "util-linux"),
        "--ctty",  # the pty becomes the child's controlling terminal (/dev/tty)
        *(sys.executable, "-m", "caldav_gateway", "serve", "--listen", "127.0.0.1:0"),
        *("--cert", str(cert), "--key", str(key), "--htpasswd", str(users)),
        *("--collections", str(tmp_path / "c"), "--metrics-listen", "off"),
    ]
    proc = subprocess.Popen(argv, stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    output = b""
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 0.2)
            if ready:
                with contextlib.suppress(OSError):
                    output += os.read(primary, 4096)
        with contextlib.suppress(OSError):
            while select.select([primary], [], [], 0.2)[0]:
                output += os.read(primary, 4096)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        os.close(primary)
    text = output.decode(errors="replace")
    assert "pass phrase" not in text.lower(), text
    assert proc.returncode == 2, text
    assert "protected by a passphrase" in text and "Traceback" not in text


def _reloads(result: str) -> float:
    value = REGISTRY.get_sample_value(
        "edgeward_caldav_certificate_reloads_total", {"result": result}
    )
    return value or 0.0


@pytest.mark.parametrize("swap", ["passphrase", "expired", "not-yet-valid"])
def test_a_reload_refuses_what_start_up_would_not_serve(
    tmp_path: Path, swap: str, caplog: pytest.LogCaptureFixture
) -> None:
    ca = pki.make_ca()
    cert, key = _pair(tmp_path, ca)
    reloader = CertificateReloader(cert, key)
    first = pki.fingerprint(reloader.leaf)
    now = dt.datetime.now(dt.UTC)
    if swap == "passphrase":
        issued = pki.issue(ca)
        pki.write_pair(issued, key, cert)
        _encrypted_key(issued, key)
        result, message = "refused", "protected by a passphrase"
    elif swap == "expired":  # a matching pair, e.g. an old backup restored over the files
        start = now - dt.timedelta(days=100)
        pki.write_pair(pki.issue(ca, not_before=start, days=90), key, cert)
        result, message = "expired", "expired on"
    else:
        start = now + dt.timedelta(days=2)
        pki.write_pair(pki.issue(ca, not_before=start, days=90), key, cert)
        result, message = "expired", "not valid before"
    before = _reloads(result)
    assert reloader.check() is False
    assert pki.fingerprint(reloader.leaf) == first  # the old pair stays in service
    assert _reloads(result) == before + 1
    assert "new certificate refused, still serving the old one" in caplog.text
    assert message in caplog.text
    assert str(key if swap == "passphrase" else cert) in caplog.text


def test_validity_problem() -> None:
    ca = pki.make_ca()
    leaf = pki.issue(ca, days=10).cert
    now = leaf.not_valid_before_utc
    assert validity_problem(leaf, now + dt.timedelta(days=1)) is None
    assert "expired on" in (validity_problem(leaf, now + dt.timedelta(days=11)) or "")
    assert "not valid before" in (validity_problem(leaf, now - dt.timedelta(days=1)) or "")
