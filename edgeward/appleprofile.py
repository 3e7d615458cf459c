"""Apple configuration profiles (``.mobileconfig``): the parts every tool's profile shares.

Key names follow Apple's published schemas (``apple/device-management``: ``TopLevel``,
``CommonPayloadKeys``, ``com.apple.security.root``). Used by ``vpn_provision`` (VPN
profiles) and ``caldav_gateway`` (CalDAV/CardDAV account profiles).

- :func:`envelope` writes the top-level ``Configuration`` dictionary as an XML plist.
- :func:`root_payload` trusts a private CA (``com.apple.security.root``).
- :func:`sign` wraps a profile in CMS SignedData so the device shows who made it;
  :func:`unwrap` gives back the plist inside a signed profile (or the plain one as is).
"""

from __future__ import annotations

import plistlib
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from edgeward.secrets import Secret

CONTENT_TYPE = "application/x-apple-aspen-config"


def new_uuid() -> str:
    """A random (version 4) identifier: a ``uuid1`` would leak the host's MAC and time."""
    return str(uuid.uuid4()).upper()


def reverse_dns(host: str) -> str:
    """``cal.example.org`` → ``org.example.cal``, the usual PayloadIdentifier prefix."""
    return ".".join(reversed(host.split(".")))


def common_name(cert: x509.Certificate, *, issuer: bool = False) -> str:
    name = cert.issuer if issuer else cert.subject
    values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(values[0].value) if values else ""


def envelope(
    *,
    identifier: str,
    uuid: str,
    display_name: str,
    description: str,
    organization: str,
    content: list[dict[str, Any]],
    scope: str | None = None,
) -> bytes:
    """The top-level profile (``PayloadType`` ``Configuration``) as an XML plist."""
    profile: dict[str, Any] = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": identifier,
        "PayloadUUID": uuid,
        "PayloadDisplayName": display_name,
        "PayloadDescription": description,
        "PayloadOrganization": organization,
        "PayloadContent": content,
    }
    if scope is not None:
        profile["PayloadScope"] = scope
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


def root_payload(ca: x509.Certificate, *, identifier: str, uuid: str) -> dict[str, Any]:
    """A ``com.apple.security.root`` payload trusting ``ca`` (DER inside)."""
    return {
        "PayloadType": "com.apple.security.root",
        "PayloadVersion": 1,
        "PayloadIdentifier": identifier,
        "PayloadUUID": uuid,
        "PayloadDisplayName": common_name(ca) or "CA certificate",
        "PayloadCertificateFileName": "ca.cer",
        "PayloadContent": ca.public_bytes(serialization.Encoding.DER),
    }


def sign(profile: bytes, cert_pem: bytes, key_pem: Secret) -> bytes:
    """CMS SignedData (DER, content attached) over ``profile``, by the first certificate of
    ``cert_pem`` (the rest of the chain included)."""
    certs = x509.load_pem_x509_certificates(cert_pem)
    key = serialization.load_pem_private_key(key_pem.reveal().encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("the key must be ECDSA or RSA to sign profiles")
    builder = (
        pkcs7.PKCS7SignatureBuilder().set_data(profile).add_signer(certs[0], key, hashes.SHA256())
    )
    for extra in certs[1:]:
        builder = builder.add_certificate(extra)
    # Binary: sign the bytes as they are (without it, lines are turned into CRLF first,
    # S/MIME style, and the content inside no longer equals the rendered profile).
    return builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])


def _tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("unsupported length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        element = _tlv(data, start)
        out.append(element)
        start = element[2]
    return out


def unwrap(data: bytes) -> bytes:
    """The plist of a profile: a signed one (CMS SignedData, DER) is opened (its signature
    is NOT checked here: ``openssl cms -verify`` or the device does that); a plain one is
    returned as is. ``ValueError`` when it is neither."""
    if data.lstrip().startswith((b"<?xml", b"<plist", b"bplist")):
        return data
    try:
        # ContentInfo { contentType, [0] SignedData { version, digestAlgorithms,
        #   encapContentInfo { eContentType, [0] OCTET STRING } ... } }
        _, s, e = _tlv(data, 0)
        info = _children(data, s, e)
        _, s, e = info[1]
        _, s, e = _children(data, s, e)[0]
        encap = _children(data, s, e)[2]
        explicit = _children(data, encap[1], encap[2])[1]
        tag, s, e = _children(data, explicit[1], explicit[2])[0]
        if tag != 0x04:
            raise ValueError("no attached content")
        return data[s:e]
    except (IndexError, ValueError):
        raise ValueError("neither a plist nor a signed (CMS) profile") from None
