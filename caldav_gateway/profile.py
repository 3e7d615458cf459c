"""CalDAV (and CardDAV) account profiles for Apple devices: the account in one tap.

The manual setup asks every family member to pick "Advanced", type the port and keep TLS
on; a ``.mobileconfig`` with a ``com.apple.caldav.account`` payload carries host, port,
TLS and the principal URL instead. Keys follow Apple's published schemas
(``apple/device-management``: ``com.apple.caldav.account``, ``com.apple.carddav.account``,
``com.apple.security.root``); the shared parts (envelope, root payload, CMS signing) are
:mod:`edgeward.appleprofile`.

- The password is left for the device to ask unless the caller passes one explicitly.
- Identifiers are fresh ``uuid4`` values: a profile is made for one person, once.
- A root payload is added when the served certificate is not publicly trusted (a private
  CA): :func:`root_to_include` decides.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import ssl
import urllib.parse
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.x509 import verification

from edgeward.appleprofile import envelope, new_uuid, reverse_dns, root_payload
from edgeward.secrets import Secret

CALDAV: Final = "com.apple.caldav.account"
CARDDAV: Final = "com.apple.carddav.account"
ROOT: Final = "com.apple.security.root"
# The two account payloads share their keys but for the prefix: (type, prefix, what).
_DAV: Final = ((CALDAV, "CalDAV", "Calendars"), (CARDDAV, "CardDAV", "Contacts"))


class ProfileError(ValueError):
    """A profile cannot be made from these inputs (the message says what to change)."""


@dataclass(frozen=True)
class Account:
    user: str
    host: str
    port: int

    def principal_url(self) -> str:
        """Radicale's principal of ``user``: ``/<user>/`` on the dedicated port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}/{urllib.parse.quote(self.user, safe='')}/"


def _id_part(text: str) -> str:
    # PayloadIdentifier is reverse-DNS style: keep it to letters, digits, '-' and '.'.
    return re.sub(r"[^A-Za-z0-9.-]", "-", text) or "-"


def build(
    account: Account,
    *,
    root: x509.Certificate | None = None,
    carddav: bool = False,
    password: Secret | None = None,
    ids: Callable[[], str] = new_uuid,
) -> bytes:
    """The profile (an XML plist) for ``account``."""
    base = f"{reverse_dns(_id_part(account.host))}.caldav.{_id_part(account.user)}"
    principal = account.principal_url()
    content: list[dict[str, Any]] = []
    if root is not None:
        content.append(root_payload(root, identifier=f"{base}.ca", uuid=ids()))
    for kind, prefix, what in _DAV:
        if kind == CARDDAV and not carddav:
            continue
        dav: dict[str, Any] = {
            "PayloadType": kind,
            "PayloadVersion": 1,
            "PayloadIdentifier": f"{base}.{what.lower()}",
            "PayloadUUID": ids(),
            "PayloadDisplayName": f"{what} of {account.user}",
            f"{prefix}AccountDescription": f"{account.host} ({account.user})",
            f"{prefix}HostName": account.host,
            f"{prefix}Port": account.port,
            f"{prefix}PrincipalURL": principal,
            f"{prefix}UseSSL": True,
            f"{prefix}Username": account.user,
        }
        if password is not None:
            dav[f"{prefix}Password"] = password.reveal()
        content.append(dav)
    return envelope(
        identifier=base,
        uuid=ids(),
        display_name=f"Calendar for {account.user} ({account.host})",
        description=(
            f"Adds the calendar account of {account.user} on {account.host}, port "
            f"{account.port}, over TLS."
        ),
        organization=account.host,
        content=content,
    )


def has_address_books(collections: Path, user: str) -> bool:
    """Whether Radicale keeps an address book for ``user`` (a collection whose
    ``.Radicale.props`` says ``"tag": "VADDRESSBOOK"``)."""
    home = collections / "collection-root" / user
    if not home.is_dir():
        return False
    for props in home.glob("*/.Radicale.props"):
        try:
            data = json.loads(props.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("tag") == "VADDRESSBOOK":
            return True
    return False


@functools.cache
def _system_store() -> verification.Store | None:
    paths = ssl.get_default_verify_paths()
    for name in (paths.cafile, paths.openssl_cafile):
        if name and Path(name).is_file():
            with warnings.catch_warnings():
                # Some distributions' bundles hold an old root with a non-positive serial.
                warnings.simplefilter("ignore")
                certs = x509.load_pem_x509_certificates(Path(name).read_bytes())
            return verification.Store(certs)
    return None


def publicly_trusted(chain: list[x509.Certificate], host: str) -> bool:
    """Whether the system's trust store accepts ``chain`` for ``host``."""
    store = _system_store()
    if store is None or not chain:
        return False
    try:
        subject: x509.DNSName | x509.IPAddress = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        subject = x509.DNSName(host)
    verifier = verification.PolicyBuilder().store(store).build_server_verifier(subject)
    try:
        verifier.verify(chain[0], chain[1:])
    except (verification.VerificationError, ValueError):
        return False
    return True


def root_to_include(
    chain_pem: bytes | None, host: str, ca_pem: bytes | None
) -> x509.Certificate | None:
    """The CA certificate the profile must carry, or None when the device already trusts
    the served chain. ``ca_pem`` (``--ca``) wins; otherwise a chain the system store does
    not accept must end in a self-signed root, which is then included."""
    if ca_pem is not None:
        try:
            return x509.load_pem_x509_certificates(ca_pem)[-1]
        except ValueError:
            raise ProfileError("--ca: not a PEM certificate") from None
    if chain_pem is None:
        return None
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError:
        raise ProfileError("the gateway's certificate file is not PEM") from None
    if publicly_trusted(chain, host):
        return None
    last = chain[-1]
    if last.issuer == last.subject:
        return last
    raise ProfileError(
        "the gateway's certificate is not publicly trusted and its file does not hold the "
        "root: give the CA with --ca FILE"
    )
