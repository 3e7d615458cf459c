"""``serve``: the one-time download app for a state directory.

The generic part (signed single-use links, audit, the page) is :mod:`edgeward.onetime`;
this module says what a device gets: its Apple profiles (CMS-signed with the server
certificate), its WireGuard config and QR code, its .p12 and the CA for other systems,
and the .p12 password on the page (the page itself works once).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from starlette.types import ASGIApp

from edgeward.logs import get_logger
from edgeward.onetime import Bundle, Download, NonceStore, make_link, onetime_app
from middleware.signed import KeyRing
from vpn_provision.metrics import DOWNLOADS, register_state
from vpn_provision.render import snapshot
from vpn_provision.render.profiles import sign
from vpn_provision.render.tree import client_files
from vpn_provision.state import Device, State

log = get_logger("vpn_provision.web")

PREFIX: Final = "/d/"
TYPES: Final = {
    ".mobileconfig": "application/x-apple-aspen-config",
    ".conf": "application/octet-stream",
    ".p12": "application/x-pkcs12",
    ".pem": "application/x-pem-file",
}
LABELS: Final = {
    "-ikev2.mobileconfig": "Install the IKEv2 profile (iPhone, iPad, Mac)",
    "-wireguard.mobileconfig": "Install the WireGuard profile (needs the WireGuard app)",
    ".conf": "WireGuard config (Android, Windows, Linux apps)",
    ".p12": "Certificate .p12 (Android strongSwan, Windows)",
    "ca.pem": "CA certificate",
}


def store(state: State) -> NonceStore:
    return NonceStore(state.root / "state.db")


def keyring(state: State) -> KeyRing:
    return KeyRing.from_file(state.links_keys)


def link(state: State, device: Device, expires_in: int) -> str:
    return make_link(
        store(state),
        keyring(state),
        str(device.id),
        base_url=state.settings.public_url,
        prefix=PREFIX,
        expires_in=expires_in,
    )


def bundle(state: State, device_id: int) -> Bundle | None:
    device = state.device_by_id(device_id)
    if device is None:
        return None
    snap = snapshot(state, (device,))
    files = client_files(snap, device)
    if snap.cache is not None:
        snap.cache.save()  # a device added since the last render: its files, drawn once
    downloads = []
    for name, f in files.items():
        if name.endswith((".png", ".crt")):
            continue
        data = f.data
        if name.endswith(".mobileconfig"):
            data = sign(data, snap.server_cert_pem, snap.server_key_pem)
        suffix = next(s for s in LABELS if name.endswith(s))
        kind = next(t for s, t in TYPES.items() if name.endswith(s))
        downloads.append(Download(name, data, kind, LABELS[suffix]))
    order = list(LABELS)
    downloads.sort(key=lambda d: next(i for i, s in enumerate(order) if d.name.endswith(s)))
    notes = []
    if "ikev2" in device.protos:
        notes.append(
            f"Certificate password (asked when installing): {device.p12_password.reveal()}"
        )
    png = files.get(f"{device.name}.png")
    return Bundle(
        title=f"VPN for {device.name}",
        downloads=tuple(downloads),
        qr_png=png.data if png else None,
        qr_caption="Or scan this with the WireGuard app:" if png else "",
        notes=tuple(notes),
    )


def create_app(root: Path) -> ASGIApp:
    """The app for the state directory ``root`` (each request reads the current state)."""

    def resolve(subject: str) -> Bundle | None:
        with State(root) as state:
            return bundle(state, int(subject))

    with State(root) as state:
        nonces, ring = store(state), keyring(state)

    def devices() -> int:
        with State(root) as st:
            return len(st.devices())

    register_state(devices, nonces.count_issued)
    return onetime_app(nonces, ring, resolve, DOWNLOADS, prefix=PREFIX)
