"""`vpn-provision qr`: the WireGuard config as a terminal QR code or a PNG only its owner reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.vpn import CLI
from vpn_provision.state import State


def test_qr_command(state: State, cli: CLI, tmp_path: Path) -> None:
    from tests.support.tools import require_tool

    r = cli("qr", "bob", "--state", str(state.root))
    assert r.code == 0 and "█" in r.out
    png = tmp_path / "bob.png"
    assert cli("qr", "bob", "--state", str(state.root), "--png", str(png)).code == 0
    zbarimg = require_tool("zbarimg", "zbar-tools")
    decoded = subprocess.run([zbarimg, "--raw", "-q", str(png)], capture_output=True, text=True)
    assert decoded.stdout.startswith("[Interface]\nPrivateKey = ")
    assert png.stat().st_mode & 0o777 == 0o600
