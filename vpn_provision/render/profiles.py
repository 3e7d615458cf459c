"""Apple configuration profiles (``.mobileconfig``): WireGuard and IKEv2.

Key names and allowed values follow Apple's published payload schemas
(``apple/device-management``: ``com.apple.vpn.managed``, ``com.apple.security.pkcs12``,
``com.apple.security.root``, the top-level keys) and WireGuard's ``MOBILECONFIG.md``
(``VPNSubType`` = the app's bundle id, ``VendorConfig.WgQuickConfig``).

- Identifiers are ``uuid4`` values fixed when the device was added, so installing a
  re-rendered profile replaces the old one instead of adding a second VPN.
- The IKEv2 profile authenticates with the device's own certificate (a ``pkcs12``
  payload) and trusts our CA (a ``root`` payload); it carries **no password**: the phone
  asks for the .p12 password at install time (the link page shows it, once).
- On-demand rules: ``Disconnect`` on the trusted Wi-Fi networks **before** ``Connect`` on
  any other Wi-Fi and cellular (rules are evaluated in order; the first match wins).
- :func:`sign` wraps a profile in CMS SignedData with the server's certificate, so the
  phone shows who made it.
"""

from __future__ import annotations

from typing import Any, Final

from cryptography import x509

from edgeward.appleprofile import common_name, envelope, reverse_dns, root_payload
from edgeward.appleprofile import sign as sign  # re-exported: web.py and tree.py sign with it
from vpn_provision.render import suites
from vpn_provision.render.snapshot import Snapshot
from vpn_provision.render.wireguard import client_conf
from vpn_provision.state import Device

APPLE: Final = ("ios", "macos")
WG_SUBTYPE: Final = {"ios": "com.wireguard.ios", "macos": "com.wireguard.macos"}


def _top(snap: Snapshot, d: Device, kind: str, uuid: str, content: list[dict[str, Any]]) -> bytes:
    return envelope(
        identifier=f"{reverse_dns(snap.settings.host)}.vpn.{d.name}.{kind}",
        uuid=uuid,
        display_name=f"{snap.settings.host} VPN ({kind}) for {d.name}",
        description=f"VPN access to {snap.settings.host} for the device {d.name}.",
        organization=snap.settings.host,
        scope="System" if d.platform == "macos" else "User",
        content=content,
    )


def wireguard(snap: Snapshot, d: Device) -> bytes:
    host = snap.settings.host
    payload = {
        "PayloadType": "com.apple.vpn.managed",
        "PayloadVersion": 1,
        "PayloadIdentifier": f"{reverse_dns(host)}.vpn.{d.name}.wireguard.tunnel",
        "PayloadUUID": d.uuids["wg_payload"],
        "PayloadDisplayName": "VPN",
        "UserDefinedName": f"{host} (WireGuard)",
        "VPNType": "VPN",
        "VPNSubType": WG_SUBTYPE[d.platform],
        "VendorConfig": {"WgQuickConfig": client_conf(snap, d)},
        "VPN": {
            "RemoteAddress": f"{host}:{snap.settings.wg_port}",
            "AuthenticationMethod": "Password",
        },
    }
    return _top(snap, d, "wireguard", d.uuids["wg_profile"], [payload])


def on_demand_rules(trusted_ssids: tuple[str, ...]) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if trusted_ssids:
        rules.append(
            {"Action": "Disconnect", "InterfaceTypeMatch": "WiFi", "SSIDMatch": list(trusted_ssids)}
        )
    rules += [
        {"Action": "Connect", "InterfaceTypeMatch": "WiFi"},
        {"Action": "Connect", "InterfaceTypeMatch": "Cellular"},
        {"Action": "Connect"},
    ]
    return rules


def ikev2(snap: Snapshot, d: Device) -> bytes:
    host = snap.settings.host
    leaf = x509.load_pem_x509_certificates(snap.server_cert_pem)[0]
    ca = x509.load_pem_x509_certificate(snap.ca_pem)
    prefix = f"{reverse_dns(host)}.vpn.{d.name}.ikev2"
    ike: dict[str, Any] = {
        "RemoteAddress": host,
        "RemoteIdentifier": host,
        "LocalIdentifier": d.identity,
        "AuthenticationMethod": "Certificate",
        "CertificateType": "ECDSA384",
        "PayloadCertificateUUID": d.uuids["ike_pkcs12"],
        "ServerCertificateIssuerCommonName": common_name(leaf, issuer=True),
        "ServerCertificateCommonName": common_name(leaf),
        "ExtendedAuthEnabled": 0,
        "EnablePFS": 1,
        "DisableMOBIKE": 0,
        "DisableRedirect": 0,
        "DeadPeerDetectionRate": "Medium",
        "UseConfigurationAttributeInternalIPSubnet": 0,
        "IKESecurityAssociationParameters": dict(suites.APPLE_IKE),
        "ChildSecurityAssociationParameters": dict(suites.APPLE_CHILD),
        "OnDemandEnabled": 1,
        "OnDemandRules": on_demand_rules(d.trusted_ssids),
    }
    content: list[dict[str, Any]] = [
        root_payload(ca, identifier=f"{prefix}.ca", uuid=d.uuids["ike_root"]),
        {
            "PayloadType": "com.apple.security.pkcs12",
            "PayloadVersion": 1,
            "PayloadIdentifier": f"{prefix}.identity",
            "PayloadUUID": d.uuids["ike_pkcs12"],
            "PayloadDisplayName": d.identity,
            "PayloadCertificateFileName": f"{d.name}.p12",
            "PayloadContent": d.p12,
        },
        {
            "PayloadType": "com.apple.vpn.managed",
            "PayloadVersion": 1,
            "PayloadIdentifier": f"{prefix}.tunnel",
            "PayloadUUID": d.uuids["ike_payload"],
            "PayloadDisplayName": "VPN",
            "UserDefinedName": f"{host} (IKEv2)",
            "VPNType": "IKEv2",
            "IKEv2": ike,
        },
    ]
    return _top(snap, d, "ikev2", d.uuids["ike_profile"], content)


def client_files(snap: Snapshot, d: Device) -> dict[str, bytes]:
    """``<device>-wireguard.mobileconfig`` / ``<device>-ikev2.mobileconfig`` for Apple
    devices, by file name."""
    if d.platform not in APPLE:
        return {}
    out = {}
    if "wireguard" in d.protos:
        out[f"{d.name}-wireguard.mobileconfig"] = wireguard(snap, d)
    if "ikev2" in d.protos:
        out[f"{d.name}-ikev2.mobileconfig"] = ikev2(snap, d)
    return out
