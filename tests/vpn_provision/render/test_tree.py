"""The rendered tree: its layout and file modes, a pure function of the state, removed
devices gone from the next render, and ``write_tree``. What each file holds is tested beside
its module (``test_wireguard.py``, ``test_unbound.py``, ``test_firewall.py``...)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vpn_provision.render import render, snapshot, write_tree
from vpn_provision.state import State


def test_layout_and_modes(out: Path) -> None:
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    for expected in (
        "server/linux/wg0.conf",
        "server/linux/swanctl/swanctl.conf",
        "server/linux/swanctl/x509ca/ca.pem",
        "server/linux/swanctl/x509/server.pem",
        "server/linux/swanctl/private/server.pem",
        "server/linux/swanctl/x509crl/crl.pem",
        "server/linux/nftables.conf",
        "server/linux/unbound.conf",
        "server/openbsd/iked.conf",
        "server/openbsd/iked/ca/ca.crt",
        "server/openbsd/iked/certs/vpn.example.org.crt",
        "server/openbsd/iked/crls/ca.crl",
        "server/openbsd/iked/private/local.key",
        "server/openbsd/hostname.wg0",
        "server/openbsd/pf.conf",
        "server/openbsd/unbound.conf",
        "clients/alice/alice.conf",
        "clients/alice/alice.png",
        "clients/alice/alice.p12",
        "clients/bob/bob.conf",
    ):
        assert expected in names
    assert not any(n.startswith("clients/carol") for n in names)  # removed
    assert not any(n.startswith("clients/bob/bob.p12") for n in names)  # WireGuard only
    for private in (
        "server/linux/wg0.conf",
        "server/openbsd/iked/private/local.key",
        "clients/alice/alice.conf",
        "clients/alice/alice.p12",
    ):
        assert stat.S_IMODE((out / private).stat().st_mode) == 0o600, private


def test_render_is_pure(state: State) -> None:
    assert render(snapshot(state), ["linux", "openbsd"]) == render(
        snapshot(state), ["linux", "openbsd"]
    )


def test_a_removed_device_leaves_the_next_render(state: State, out: Path) -> None:
    alice = state.device("alice")
    assert alice.wg_public in (out / "server/linux/wg0.conf").read_text()
    state.remove("alice")
    removed = write_tree(out, render(snapshot(state), ["linux", "openbsd"]))
    assert out / "clients/alice/alice.conf" in removed
    assert not (out / "clients/alice").exists()
    for f in (
        "server/linux/wg0.conf",
        "server/openbsd/hostname.wg0",
        "server/linux/swanctl/swanctl.conf",
        "server/openbsd/iked.conf",
    ):
        text = (out / f).read_text()
        assert alice.wg_public not in text and "alice@" not in text, f


@pytest.mark.parametrize("barrier", ["syncfs", "fsync-each"])
def test_write_tree_writes_every_file_with_its_mode(
    state: State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, barrier: str
) -> None:
    from edgeward import files as edgeward_files

    if barrier == "fsync-each":  # systems without a reliable syncfs
        monkeypatch.setattr(edgeward_files, "_syncfs", lambda: None)
    files = render(snapshot(state), ["linux", "openbsd"])
    out = tmp_path / "out"
    write_tree(out, files)
    written = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    assert set(written) == set(files)  # no temporary file left behind
    for rel, f in files.items():
        assert written[rel].read_bytes() == f.data, rel
        assert stat.S_IMODE(written[rel].stat().st_mode) == f.mode, rel
