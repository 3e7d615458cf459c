from __future__ import annotations

import datetime as dt
import ssl
import threading
from pathlib import Path

import pytest

from edgeward.pki import fingerprint, issue, make_ca, served_certificate, write_pair
from tests.support.net import free_port


def test_chain_verifies_and_names_are_in_san() -> None:
    root = make_ca("root")
    inter = make_ca("inter", issuer=root)
    leaf = issue(inter, ["printer.test", "127.0.0.1"], key_type="ec256")
    leaf.cert.verify_directly_issued_by(inter.cert)
    inter.cert.verify_directly_issued_by(root.cert)
    san = leaf.cert.extensions.get_extension_for_class(
        __import__("cryptography").x509.SubjectAlternativeName
    ).value
    assert "printer.test" in san.get_values_for_type(__import__("cryptography").x509.DNSName)


def test_validity_window_is_what_was_asked() -> None:
    start = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    leaf = issue(make_ca(), ["x.test"], not_before=start, days=10)
    assert leaf.cert.not_valid_after_utc - leaf.cert.not_valid_before_utc == dt.timedelta(days=10)


def test_write_pair_modes_and_fingerprint(tmp_path: Path) -> None:
    ca = make_ca()
    leaf = issue(ca)
    write_pair(leaf, tmp_path / "key.pem", tmp_path / "cert.pem", chain=[ca])
    assert (tmp_path / "key.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cert.pem").read_bytes().count(b"BEGIN CERTIFICATE") == 2
    fp = fingerprint(leaf.cert)
    assert len(fp) == 95 and fp == leaf.fingerprint and fp.isupper()
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


@pytest.mark.parametrize("server_name", [None, "localhost"])
def test_served_certificate_with_and_without_sni(tmp_path: Path, server_name: str | None) -> None:
    leaf = issue(make_ca())
    write_pair(leaf, tmp_path / "k.pem", tmp_path / "c.pem")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    seen: list[str | None] = []
    ctx.sni_callback = lambda sock, name, c: seen.append(name)  # type: ignore[assignment,misc,func-returns-value]
    import socket

    port = free_port()
    srv = socket.create_server(("127.0.0.1", port))

    def serve() -> None:
        conn, _ = srv.accept()
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    cert, version = served_certificate("127.0.0.1", port, server_name=server_name)
    t.join(5)
    srv.close()
    assert fingerprint(cert) == leaf.fingerprint
    assert version in ("TLSv1.2", "TLSv1.3")
    assert seen == [server_name]


def test_fingerprint_der_equals_fingerprint_of_the_parsed_certificate() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding

    from edgeward.pki import fingerprint_der

    leaf = issue(make_ca())
    assert fingerprint_der(leaf.cert.public_bytes(Encoding.DER)) == leaf.fingerprint
