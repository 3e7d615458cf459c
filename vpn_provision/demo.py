"""``make run``: a demo VPN state under ``var/vpn/``, one demo device, and a fresh link.

Idempotent: the state (CA, keys, the device ``demo-phone``) is made once and kept; every
run renders the files into ``var/vpn/out`` and makes a new 15-minute link, printed with
its QR code so a phone on the same machine's screen can open it. `serve` (the Procfile's
``vpn`` line) answers it on http://127.0.0.1:8600.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Final

from vpn_provision.render import render, snapshot, write_tree
from vpn_provision.render.qr import terminal
from vpn_provision.settings import Settings
from vpn_provision.state import State, init
from vpn_provision.web import link

DEVICE: Final = "demo-phone"
SETTINGS: Final = Settings(
    host="vpn.demo.test",
    net4="10.77.0.0/24",
    net6="fd77::/64",
    os="linux",
    public_url="http://127.0.0.1:8600",
    listen="127.0.0.1:8600",
)


def prepare(var: Path) -> list[str]:
    base = var / "vpn"
    root = base / "state"
    logging.getLogger("edgeward.vpn_provision").setLevel(logging.WARNING)
    state = State(root) if (root / "settings.toml").exists() else init(root, SETTINGS)
    with state:
        if not any(d.name == DEVICE for d in state.devices()):
            state.add(DEVICE, "ios", trusted_ssids=["Home"])
        write_tree(base / "out", render(snapshot(state)))
        url = link(state, state.device(DEVICE), 900)
    return [
        f"vpn: state {root}, rendered files {base / 'out'}",
        f"vpn: one-time link for {DEVICE} (15 min, works once): {url}",
        *terminal(url).splitlines(),
    ]
