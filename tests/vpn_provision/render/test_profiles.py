"""Apple profiles: plistlib parses them; a schema written from Apple's published payload
keys (apple/device-management: TopLevel, CommonPayloadKeys, com.apple.vpn.managed,
com.apple.security.pkcs12, com.apple.security.root) and WireGuard's MOBILECONFIG.md
accepts them: no unknown key, required keys present, allowed values only. The .p12 opens
with its password; a signed profile verifies with ``openssl cms -verify``."""

from __future__ import annotations

import plistlib
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.support.appleschema import BIT, COMMON, DATA, INT, ROOT, A, B, D, K, S
from tests.support.appleschema import check_profile as check_schema
from tests.support.tools import require_tool
from tests.support.vpn import make_state
from vpn_provision.render import render, snapshot
from vpn_provision.render.wireguard import client_conf
from vpn_provision.state import State

SA = {  # SecurityAssociationParameters
    "EncryptionAlgorithm": K(
        S,
        False,
        ("DES", "3DES", "AES-128", "AES-256", "AES-128-GCM", "AES-256-GCM", "ChaCha20Poly1305"),
    ),
    "IntegrityAlgorithm": K(S, False, ("SHA1-96", "SHA1-160", "SHA2-256", "SHA2-384", "SHA2-512")),
    "DiffieHellmanGroup": K(INT, False, (1, 2, 5, 14, 15, 16, 17, 18, 19, 20, 21, 31, 32)),
    "LifeTimeInMinutes": K(INT),
}
RULE = {
    "Action": K(S, True, ("Allow", "Connect", "Disconnect", "EvaluateConnection", "Ignore")),
    "ActionParameters": K(A),
    "DNSDomainMatch": K(A, items=K(S)),
    "DNSServerAddressMatch": K(A, items=K(S)),
    "InterfaceTypeMatch": K(S, False, ("Ethernet", "WiFi", "Cellular")),
    "SSIDMatch": K(A, items=K(S)),
    "URLStringProbe": K(S),
}
IKEV2 = {
    "RemoteAddress": K(S, True),
    "LocalIdentifier": K(S, True),
    "RemoteIdentifier": K(S, True),
    "AuthenticationMethod": K(S, True, ("None", "SharedSecret", "Certificate")),
    "CertificateType": K(S, False, ("RSA", "ECDSA256", "ECDSA384", "ECDSA521", "RSA-PSS")),
    "PayloadCertificateUUID": K(S),
    "ExtendedAuthEnabled": K(INT, False, BIT),
    "OnDemandEnabled": K(INT, False, BIT),
    "OnDemandUserOverrideDisabled": K(INT, False, BIT),
    "OnDemandRules": K(A, items=K(D, sub=RULE)),
    "DeadPeerDetectionRate": K(S, False, ("None", "Low", "Medium", "High")),
    "ServerCertificateIssuerCommonName": K(S),
    "ServerCertificateCommonName": K(S),
    "UseConfigurationAttributeInternalIPSubnet": K(INT, False, BIT),
    "DisableMOBIKE": K(INT, False, BIT),
    "DisableRedirect": K(INT, False, BIT),
    "EnablePFS": K(INT, False, BIT),
    "EnableCertificateRevocationCheck": K(INT, False, BIT),
    "EnableFallback": K(INT, False, BIT),
    "MTU": K(INT),
    "IncludeAllNetworks": K(INT, False, BIT),
    "ExcludeLocalNetworks": K(INT, False, BIT),
    "IKESecurityAssociationParameters": K(D, sub=SA),
    "ChildSecurityAssociationParameters": K(D, sub=SA),
}
VPN_DICT = {
    "AuthenticationMethod": K(S, False, ("Password", "Certificate", "Password+Certificate")),
    "PayloadCertificateUUID": K(S),
    "Password": K(S),
    "OnDemandEnabled": K(INT, False, BIT),
    "OnDemandRules": K(A, items=K(D, sub=RULE)),
    # Not in Apple's schema, required by WireGuard's MOBILECONFIG.md (the name shown in
    # Settings > VPN).
    "RemoteAddress": K(S, True),
}
PAYLOADS = {
    "com.apple.vpn.managed": {
        **COMMON,
        "VPNType": K(S, True, ("VPN", "L2TP", "IPSec", "IKEv2", "AlwaysOn", "TransparentProxy")),
        "VPNSubType": K(S),
        "UserDefinedName": K(S, True),
        "VendorConfig": K(D),
        "VPN": K(D, sub=VPN_DICT),
        "IKEv2": K(D, sub=IKEV2),
    },
    "com.apple.security.pkcs12": {
        **COMMON,
        "PayloadCertificateFileName": K(S),
        "PayloadContent": K(DATA, True),
        "Password": K(S),
        "AllowAllAppsAccess": K(B),
        "KeyIsExtractable": K(B),
    },
    "com.apple.security.root": ROOT,
}


def check_profile(profile: dict[str, Any]) -> list[str]:
    return check_schema(profile, PAYLOADS)


@pytest.fixture
def files(state: State) -> dict[str, bytes]:
    state.add("mac", "macos", trusted_ssids=[])
    return {k: v.data for k, v in render(snapshot(state)).items()}


def _load(files: dict[str, bytes], name: str) -> dict[str, Any]:
    return plistlib.loads(files[name])  # type: ignore[no-any-return]


def test_which_devices_get_which_profiles(files: dict[str, bytes]) -> None:
    profiles = sorted(k for k in files if k.endswith(".mobileconfig"))
    assert profiles == [
        "clients/alice/alice-ikev2.mobileconfig",
        "clients/alice/alice-wireguard.mobileconfig",
        "clients/mac/mac-ikev2.mobileconfig",
        "clients/mac/mac-wireguard.mobileconfig",
    ]  # bob is a Linux box: his config is the wg-quick file


@pytest.mark.parametrize(
    "name",
    ["alice/alice-wireguard", "alice/alice-ikev2", "mac/mac-wireguard", "mac/mac-ikev2"],
)
def test_profiles_pass_the_schema(files: dict[str, bytes], name: str) -> None:
    profile = _load(files, f"clients/{name}.mobileconfig")
    assert check_profile(profile) == []
    uuids = [profile["PayloadUUID"]] + [p["PayloadUUID"] for p in profile["PayloadContent"]]
    for u in uuids:
        assert uuid.UUID(u).version == 4
    assert len(set(uuids)) == len(uuids)
    ids = [profile["PayloadIdentifier"]] + [
        p["PayloadIdentifier"] for p in profile["PayloadContent"]
    ]
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p["PayloadContent"][-1].update(VPNType="WireGuard"), "not one of"),
        (lambda p: p["PayloadContent"][-1]["IKEv2"].pop("RemoteIdentifier"), "required"),
        (lambda p: p["PayloadContent"][-1]["IKEv2"].update(SharedSecretX="x"), "unknown key"),
        (lambda p: p["PayloadContent"][-1]["IKEv2"].update(EnablePFS=True), "expected"),
        (
            lambda p: p["PayloadContent"][-1]["IKEv2"]["IKESecurityAssociationParameters"].update(
                DiffieHellmanGroup=22
            ),
            "not one of",
        ),
    ],
)
def test_the_schema_test_can_fail(files: dict[str, bytes], mutate: Any, message: str) -> None:
    profile = _load(files, "clients/alice/alice-ikev2.mobileconfig")
    mutate(profile)
    errors = check_profile(profile)
    assert errors and message in errors[0]


def test_wireguard_profile(files: dict[str, bytes], state: State) -> None:
    p = _load(files, "clients/alice/alice-wireguard.mobileconfig")
    (vpn,) = p["PayloadContent"]
    assert vpn["VPNType"] == "VPN" and vpn["VPNSubType"] == "com.wireguard.ios"
    assert vpn["VPN"]["AuthenticationMethod"] == "Password"
    conf = vpn["VendorConfig"]["WgQuickConfig"]
    assert conf == client_conf(snapshot(state), state.device("alice"))
    assert "::/0" in conf
    for unsupported in ("FwMark", "Table", "PreUp", "PostUp", "PreDown", "PostDown", "SaveConfig"):
        assert unsupported not in conf  # MOBILECONFIG.md: not supported by the apps
    mac = _load(files, "clients/mac/mac-wireguard.mobileconfig")
    assert mac["PayloadContent"][0]["VPNSubType"] == "com.wireguard.macos"


def test_ikev2_profile(files: dict[str, bytes], state: State) -> None:
    p = _load(files, "clients/alice/alice-ikev2.mobileconfig")
    types = [x["PayloadType"] for x in p["PayloadContent"]]
    assert sorted(types) == [
        "com.apple.security.pkcs12",
        "com.apple.security.root",
        "com.apple.vpn.managed",
    ]
    by_type = {x["PayloadType"]: x for x in p["PayloadContent"]}
    ike = by_type["com.apple.vpn.managed"]["IKEv2"]
    assert ike["AuthenticationMethod"] == "Certificate"
    assert ike["PayloadCertificateUUID"] == by_type["com.apple.security.pkcs12"]["PayloadUUID"]
    assert ike["LocalIdentifier"] == "alice@vpn.example.org"
    assert ike["RemoteIdentifier"] == ike["RemoteAddress"] == "vpn.example.org"
    assert ike["IKESecurityAssociationParameters"]["EncryptionAlgorithm"] == "AES-256-GCM"
    assert ike["IKESecurityAssociationParameters"]["DiffieHellmanGroup"] >= 19
    assert ike["EnablePFS"] == 1
    # no secret in the profile: the .p12 is encrypted and its password is not included
    assert "Password" not in by_type["com.apple.security.pkcs12"]
    assert "SharedSecret" not in ike
    assert by_type["com.apple.security.root"]["PayloadContent"] == snapshot(state).ca_der()


def test_on_demand_disconnects_on_trusted_wifi_before_connecting(files: dict[str, bytes]) -> None:
    ike = _load(files, "clients/alice/alice-ikev2.mobileconfig")["PayloadContent"][-1]["IKEv2"]
    rules = ike["OnDemandRules"]
    assert ike["OnDemandEnabled"] == 1
    assert rules[0] == {
        "Action": "Disconnect",
        "InterfaceTypeMatch": "WiFi",
        "SSIDMatch": ["Home", "Home 5G"],
    }
    actions = [r["Action"] for r in rules]
    assert actions.index("Disconnect") < actions.index("Connect")
    assert rules[-1] == {"Action": "Connect"}  # anything else: connect
    mac = _load(files, "clients/mac/mac-ikev2.mobileconfig")["PayloadContent"][-1]["IKEv2"]
    assert all(r["Action"] == "Connect" for r in mac["OnDemandRules"])  # no trusted SSIDs


def test_p12_opens_with_its_password(state: State, files: dict[str, bytes], tmp_path: Path) -> None:
    alice = state.device("alice")
    p12 = files["clients/alice/alice.p12"]
    key, cert, _cas = pkcs12.load_key_and_certificates(p12, alice.p12_password.reveal().encode())
    assert key is not None and cert is not None and cert.serial_number == alice.serial
    with pytest.raises(ValueError, match="Invalid password"):
        pkcs12.load_key_and_certificates(p12, b"wrong password")
    openssl = require_tool("openssl")
    f = tmp_path / "a.p12"
    f.write_bytes(p12)
    ok = subprocess.run(
        [
            openssl,
            "pkcs12",
            "-in",
            str(f),
            "-nokeys",
            "-passin",
            f"pass:{alice.p12_password.reveal()}",
        ],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0 and "BEGIN CERTIFICATE" in ok.stdout
    bad = subprocess.run(
        [openssl, "pkcs12", "-in", str(f), "-nokeys", "-passin", "pass:nope"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0


def test_signed_profile_verifies_with_openssl_cms(state: State, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    signed = render(snapshot(state), signed=True)["clients/alice/alice-ikev2.mobileconfig"].data
    plain = render(snapshot(state))["clients/alice/alice-ikev2.mobileconfig"].data
    f = tmp_path / "signed.mobileconfig"
    f.write_bytes(signed)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(state.ca_pem)
    out = tmp_path / "content"
    verify = [openssl, "cms", "-verify", "-inform", "DER", "-in", str(f), "-CAfile", str(ca)]
    verify += ["-out", str(out), "-purpose", "any"]
    p = subprocess.run(verify, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "Verification successful" in p.stderr
    assert out.read_bytes() == plain
    # a changed byte in the content breaks the signature
    i = signed.index(b"vpn.example.org")
    f.write_bytes(signed[:i] + b"X" + signed[i + 1 :])
    p = subprocess.run(verify, capture_output=True, text=True)
    assert p.returncode != 0


def test_lets_encrypt_server_certificate_names(tmp_path: Path) -> None:
    """With a Let's Encrypt pair the profile names that certificate's issuer."""
    from edgeward import pki

    le_ca = pki.make_ca("R11", key_type="ec384")
    leaf = pki.issue(le_ca, ["vpn.example.org"], key_type="ec384")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    pki.write_pair(leaf, key, cert, chain=[le_ca])
    st = make_state(tmp_path / "s", le_cert=cert, le_key=key)
    st.add("ph", "ios")
    files = render(snapshot(st))
    ike = plistlib.loads(files["clients/ph/ph-ikev2.mobileconfig"].data)["PayloadContent"][-1]
    assert ike["IKEv2"]["ServerCertificateIssuerCommonName"] == "R11"
    assert files["server/linux/swanctl/x509/server.pem"].data == leaf.cert_pem()
    assert files["server/linux/swanctl/x509ca/chain.pem"].data == le_ca.cert_pem()
    assert not (st.root / "server" / "ikev2.pem").exists()
