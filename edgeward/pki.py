"""Certificates for tests and the demo, and the certificate a server actually presents.

Needs ``cryptography`` (pulled by the ``caldav`` and ``printer`` extras).

- :func:`make_ca` / :func:`issue` build a local CA and leaf certificates (RSA or ECDSA,
  any validity window) so that tests exercise real TLS with real chains.
- :func:`write_pair` writes key and certificate files atomically (rename), because a
  watcher must never see half a file.
- :func:`served_certificate` performs a TLS handshake with or without SNI and returns
  the leaf certificate the server sent, without trusting it: the caller decides.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edgeward.files import atomic_write

KeyType = Literal["rsa2048", "rsa3072", "rsa4096", "ec256", "ec384"]
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Issued:
    key: PrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)


def new_key(kind: KeyType = "rsa2048") -> PrivateKey:
    if kind.startswith("rsa"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind[3:]))
    return ec.generate_private_key(ec.SECP256R1() if kind == "ec256" else ec.SECP384R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "edgeward local"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _hash_for(key_type: KeyType) -> hashes.SHA256 | hashes.SHA384:
    # A P-384 key signs with SHA-384: CNSA-style suites (and Apple's ECDSA384) expect the pair.
    return hashes.SHA384() if key_type == "ec384" else hashes.SHA256()


def make_ca(
    common_name: str = "edgeward local CA",
    *,
    key_type: KeyType = "rsa2048",
    days: int = 3650,
    issuer: Issued | None = None,
    path_length: int | None = None,
    permitted: Sequence[str] = (),
) -> Issued:
    """A CA certificate: self-signed root, or an intermediate when ``issuer`` is given.

    ``path_length=0`` lets it sign leaves only; ``permitted`` (DNS names, and ``@domain``
    for mail-style identities) adds a critical name constraint, so a stolen CA key cannot
    mint certificates for anybody else's names.
    """
    key = new_key(key_type)
    now = _now()
    signer_key: CertificateIssuerPrivateKeyTypes = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject if issuer else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if permitted:
        subtrees: list[x509.GeneralName] = [
            x509.RFC822Name(n[1:]) if n.startswith("@") else x509.DNSName(n) for n in permitted
        ]
        builder = builder.add_extension(
            x509.NameConstraints(permitted_subtrees=subtrees, excluded_subtrees=None),
            critical=True,
        )
    return Issued(key, builder.sign(signer_key, _hash_for(key_type)))


def issue(
    ca: Issued,
    names: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
    *,
    key_type: KeyType = "rsa2048",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    days: int = 90,
    usages: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.SERVER_AUTH,),
) -> Issued:
    """A certificate for ``names`` (DNS names, IP addresses, ``user@domain`` mail-style
    identities) signed by ``ca``; a TLS server certificate unless ``usages`` says otherwise.
    """
    key = new_key(key_type)
    start = not_before or _now() - dt.timedelta(minutes=5)
    end = not_after or start + dt.timedelta(days=days)
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.RFC822Name(n) if "@" in n else x509.DNSName(n))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(names[0]))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    return Issued(key, builder.sign(ca.key, _hash_for("ec384" if _is_p384(ca.key) else "rsa2048")))


def self_signed(common_name: str, names: Sequence[str] = (), *, days: int = 3650) -> Issued:
    """A self-signed leaf, as devices (printers) ship out of the box."""
    ca = make_ca(common_name, days=days)
    return issue(ca, [common_name, *names], days=days) if names else ca


def write_pair(
    issued: Issued, key_path: Path, cert_path: Path, chain: Sequence[Issued] = ()
) -> None:
    """Write the key (mode 0600) and the certificate followed by ``chain`` (PEM)."""
    atomic_write(key_path, issued.key_pem(), mode=0o600)
    atomic_write(cert_path, issued.cert_pem() + b"".join(c.cert_pem() for c in chain))


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 fingerprint as upper-case hex pairs joined by ``:`` (as browsers show it)."""
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def fingerprint_der(der: bytes) -> str:
    """:func:`fingerprint` of a DER certificate, without parsing it (a TLS peer's bytes)."""
    return hashlib.sha256(der).digest().hex(":").upper()


def served_certificate(
    host: str, port: int, *, server_name: str | None = None, timeout: float = 5.0
) -> tuple[x509.Certificate, str]:
    """The leaf certificate a TLS server presents, and the protocol version negotiated.

    ``server_name=None`` sends **no SNI**, as some Apple daemons and printers' clients do.
    Verification is off on purpose: this reports what is served; the caller validates.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        ctx.wrap_socket(raw, server_hostname=server_name) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
        version = tls.version() or "unknown"
    if der is None:
        raise ssl.SSLError(f"{host}:{port} sent no certificate")
    return x509.load_der_x509_certificate(der), version


def revocation_list(
    ca: Issued, revoked: Sequence[tuple[int, dt.datetime]], *, days: int = 365
) -> x509.CertificateRevocationList:
    """A CRL from ``ca`` listing ``(serial, revoked_at)`` pairs, valid for ``days``."""
    now = _now()
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=days))
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.cert.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca.key, _hash_for("ec384" if _is_p384(ca.key) else "rsa2048"))


def _is_p384(key: PrivateKey) -> bool:
    return isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384


def load_issued(key_pem: bytes, cert_pem: bytes) -> Issued:
    """An :class:`Issued` from PEM bytes (the key unencrypted)."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("expected an RSA or ECDSA private key")
    return Issued(key, x509.load_pem_x509_certificate(cert_pem))
