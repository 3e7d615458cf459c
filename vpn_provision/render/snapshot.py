"""What a render reads from the state, read once."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from edgeward.secrets import Secret
from vpn_provision import keys
from vpn_provision.render.cache import ClientCache
from vpn_provision.settings import Settings
from vpn_provision.state import Device, State


@dataclass(frozen=True)
class Snapshot:
    settings: Settings
    ca_pem: bytes
    crl_pem: bytes
    server_cert_pem: bytes  # the leaf followed by its chain
    server_key_pem: Secret = field(repr=False)
    wg_private: Secret = field(repr=False)
    devices: tuple[Device, ...]
    cache: ClientCache | None = field(default=None, compare=False, repr=False)

    @functools.cached_property
    def cache_digest(self) -> bytes:
        return ClientCache.server_digest(self)

    @functools.cached_property
    def wg_public(self) -> str:
        return keys.wg_public_key(self.wg_private)

    def ca_der(self) -> bytes:
        return x509.load_pem_x509_certificate(self.ca_pem).public_bytes(Encoding.DER)

    def server_chain(self) -> tuple[bytes, bytes]:
        """(leaf PEM, intermediates PEM) of the IKEv2 server certificate."""
        certs = x509.load_pem_x509_certificates(self.server_cert_pem)
        leaf = certs[0].public_bytes(Encoding.PEM)
        rest = b"".join(c.public_bytes(Encoding.PEM) for c in certs[1:])
        return leaf, rest


def snapshot(state: State, devices: tuple[Device, ...] | None = None) -> Snapshot:
    """The state as a render reads it (``devices``: only these, e.g. one for a download)."""
    cert, key = state.server_cert_paths()
    return Snapshot(
        settings=state.settings,
        ca_pem=state.ca_pem,
        crl_pem=state.crl_pem,
        server_cert_pem=cert.read_bytes(),
        server_key_pem=Secret(key.read_text(encoding="ascii")),
        wg_private=state.wg_server_private,
        devices=tuple(state.devices()) if devices is None else devices,
        cache=ClientCache(state.root / "cache" / "clients"),
    )
