"""Firewall files: nftables.conf checked by ``nft -c`` in a namespace; pf.conf and hostname.wg0
against golden files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tools import require_tool
from tests.support.vpn import make_state
from vpn_provision import checks
from vpn_provision.render import render, snapshot
from vpn_provision.state import State

GOLDEN = Path(__file__).parent / "golden"


def test_nft_checks_nftables_conf_in_a_namespace(out: Path) -> None:
    require_tool("nft", "nftables")
    result = checks.nft_check(out / "server/linux/nftables.conf")
    if result.status == "skipped":
        from tests.support.tools import in_ci

        if in_ci():
            pytest.fail(result.detail)
        pytest.skip(result.detail)
    assert result.status == "ok", result.detail
    broken = out / "server/linux/broken.conf"
    broken.write_text(
        (out / "server/linux/nftables.conf").read_text().replace("masquerade", "masq")
    )
    assert checks.nft_check(broken).status == "failed"


def _placeholders(text: str, state: State) -> str:
    snap = snapshot(state)
    text = text.replace(snap.wg_private.reveal(), "<server-private-key>")
    for d in snap.devices:
        text = text.replace(d.wg_public, f"<{d.name}-public-key>")
        text = text.replace(d.wg_psk.reveal(), f"<{d.name}-psk>")
    return text


@pytest.mark.parametrize("name", ["pf.conf", "hostname.wg0"])
def test_openbsd_golden_files(tmp_path: Path, name: str) -> None:
    st = make_state(tmp_path / "s", "openbsd")
    st.add("alice", "ios")
    st.add("bob", "linux", ["wireguard"])
    st.add("carol", "macos")
    st.remove("carol")
    st.add("dave", "android", ["ikev2"])
    files = render(snapshot(st))
    got = _placeholders(files[f"server/openbsd/{name}"].data.decode(), st)
    assert got == (GOLDEN / name).read_text()
