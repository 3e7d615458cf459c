"""The rendered tree, checked by the real validators (wg, unbound-checkconf, iked, nft,
zbarimg, openssl) and against golden files for what nothing here can check (pf.conf,
hostname.wg0)."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.tools import require_tool
from tests.vpn_provision.conftest import CLI, make_state
from vpn_provision import checks
from vpn_provision.render import render, snapshot, write_tree
from vpn_provision.render.wireguard import strip_wg_quick
from vpn_provision.state import State

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def out(state: State, tmp_path: Path) -> Path:
    o = tmp_path / "out"
    write_tree(o, render(snapshot(state), ["linux", "openbsd"]))
    return o


def _run(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, input=stdin, timeout=60)


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


def test_clients_route_ipv6_too(out: Path) -> None:
    for conf in out.glob("clients/*/*.conf"):
        allowed = re.search(r"^AllowedIPs = (.*)$", conf.read_text(), re.M)
        assert allowed is not None
        assert {a.strip() for a in allowed.group(1).split(",")} == {"0.0.0.0/0", "::/0"}


def test_wg_setconf_parses_every_file(out: Path, tmp_path: Path) -> None:
    wg = require_tool("wg", "wireguard-tools")
    files = [out / "server/linux/wg0.conf", *out.glob("clients/*/*.conf")]
    assert len(files) == 3
    for f in files:
        result = checks.wg_setconf(f)
        assert result.status == "ok", (f, result.detail)
    # and the check can fail: a typo is a parsing error
    bad = tmp_path / "bad.conf"
    bad.write_text((out / "server/linux/wg0.conf").read_text().replace("ListenPort", "ListenPrt"))
    assert checks.wg_setconf(bad).status == "failed"
    p = _run(wg, "setconf", "nonexistent0", str(bad))
    assert "Configuration parsing error" in p.stderr


def test_wg_pubkey_of_each_client_is_a_server_peer(out: Path, state: State) -> None:
    wg = require_tool("wg", "wireguard-tools")
    server = (out / "server/linux/wg0.conf").read_text()
    hostname = (out / "server/openbsd/hostname.wg0").read_text()
    peers = re.findall(r"^PublicKey = (\S+)$", server, re.M)
    assert sorted(peers) == sorted(re.findall(r"wgpeer (\S+)", hostname))
    assert len(peers) == 2
    for conf in out.glob("clients/*/*.conf"):
        private = re.search(r"^PrivateKey = (\S+)$", conf.read_text(), re.M)
        assert private is not None
        pub = _run(wg, "pubkey", stdin=private.group(1) + "\n").stdout.strip()
        assert pub in peers
        # and the client points at the server's own public key
        server_private = re.search(r"^PrivateKey = (\S+)$", server, re.M)
        assert server_private is not None
        server_pub = _run(wg, "pubkey", stdin=server_private.group(1) + "\n").stdout.strip()
        assert f"PublicKey = {server_pub}" in conf.read_text()


def test_preshared_keys_pair_up(out: Path) -> None:
    server = strip_wg_quick((out / "server/linux/wg0.conf").read_text())
    for conf in out.glob("clients/*/*.conf"):
        psk = re.search(r"^PresharedKey = (\S+)$", conf.read_text(), re.M)
        assert psk is not None and f"PresharedKey = {psk.group(1)}" in server


@pytest.mark.parametrize("system", ["linux", "openbsd"])
def test_unbound_checkconf(out: Path, system: str) -> None:
    require_tool("unbound-checkconf", "unbound")
    conf = out / f"server/{system}/unbound.conf"
    assert checks.unbound_checkconf(conf).status == "ok"
    text = conf.read_text()
    assert "access-control: 0.0.0.0/0 refuse" in text and "interface: 10.77.0.1" in text
    broken = conf.with_name("broken.conf")
    broken.write_text(text.replace("hide-version: yes", "hide-version: maybe"))
    assert checks.unbound_checkconf(broken).status == "failed"


def test_iked_says_configuration_ok(out: Path) -> None:
    require_tool("iked", "openiked")
    result = checks.iked_n(out / "server/openbsd/iked.conf")
    assert result.status == "ok", result.detail
    broken = out / "server/openbsd/broken.conf"
    broken.write_text((out / "server/openbsd/iked.conf").read_text().replace("ecp384", "ecp999"))
    assert checks.iked_n(broken).status == "failed"


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


def test_every_qr_code_decodes_to_its_config(out: Path) -> None:
    zbarimg = require_tool("zbarimg", "zbar-tools")
    pngs = sorted(out.glob("clients/*/*.png"))
    assert len(pngs) == 2
    for png in pngs:
        p = _run(zbarimg, "--raw", "-q", str(png))
        assert p.returncode == 0, p.stderr
        assert p.stdout == png.with_suffix(".conf").read_text() + "\n"


def test_openssl_verify_with_crl(state: State, out: Path, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    ca = out / "server/linux/swanctl/x509ca/ca.pem"
    crl = out / "server/linux/swanctl/x509crl/crl.pem"
    assert crl.read_bytes() == (out / "server/openbsd/iked/crls/ca.crl").read_bytes()
    alice = out / "clients/alice/alice.crt"
    ok = _run(openssl, "verify", "-CAfile", str(ca), "-CRLfile", str(crl), "-crl_check", str(alice))
    assert ok.returncode == 0 and ok.stdout.strip().endswith(": OK")
    carol = next(d for d in state.devices(include_removed=True) if d.name == "carol")
    revoked = tmp_path / "carol.pem"
    revoked.write_bytes(carol.cert_pem)
    p = _run(
        openssl, "verify", "-CAfile", str(ca), "-CRLfile", str(crl), "-crl_check", str(revoked)
    )
    assert p.returncode != 0 and "certificate revoked" in (p.stdout + p.stderr)
    assert checks.openssl_verify(ca, crl, carol.cert_pem, "carol").status == "failed"
    # the server certificate chains to the CA too
    server = out / "server/linux/swanctl/x509/server.pem"
    assert _run(openssl, "verify", "-CAfile", str(ca), str(server)).returncode == 0


def test_name_constraint_is_enforced_by_openssl(state: State, tmp_path: Path) -> None:
    """A certificate the CA signs for somebody else's name does not verify."""
    from edgeward import pki

    openssl = require_tool("openssl")
    rogue = pki.issue(state.ca, ["bank.example.com"], key_type="ec384")
    f = tmp_path / "rogue.pem"
    f.write_bytes(rogue.cert_pem())
    ca = tmp_path / "ca.pem"
    ca.write_bytes(state.ca_pem)
    p = _run(openssl, "verify", "-CAfile", str(ca), str(f))
    assert p.returncode != 0 and "permitted subtree violation" in p.stderr


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


def test_render_check_command(state: State, tmp_path: Path, cli: CLI) -> None:
    for tool in ("wg", "unbound-checkconf", "iked", "nft", "openssl"):
        require_tool(tool)
    o = tmp_path / "o"
    r = cli(
        "render", "--state", str(state.root), "--out", str(o), "--os", "all", "--check", "--json"
    )
    assert r.code == 0, r.out
    import json

    result = json.loads(r.out)
    statuses = {(c["name"], c["status"]) for c in result["checks"]}
    assert ("iked -n", "ok") in statuses and ("nft -c", "ok") in statuses
    assert all(c["status"] == "ok" for c in result["checks"])
    assert len(result["checks"]) >= 9


def test_the_client_cache_returns_exactly_a_fresh_render(state: State) -> None:
    import dataclasses

    fresh = render(dataclasses.replace(snapshot(state), cache=None), ["linux", "openbsd"])
    cold = render(snapshot(state), ["linux", "openbsd"])
    cache_dir = state.root / "cache" / "clients"
    entries = sorted(p.name for p in cache_dir.iterdir())
    assert len(entries) == 2  # alice and bob
    warm = render(snapshot(state), ["linux", "openbsd"])
    assert fresh == cold == warm
    # a change of anything a device's files are made of is a miss, not a stale hit
    state.add("erin", "ios")
    state.remove("erin")
    import sqlite3

    db = sqlite3.connect(state.root / "state.db")
    db.execute("UPDATE devices SET trusted_ssids = '[\"Office\"]' WHERE name = 'alice'")
    db.commit()
    db.close()
    after = render(snapshot(state), ["linux", "openbsd"])
    assert (
        after["clients/alice/alice-ikev2.mobileconfig"]
        != warm["clients/alice/alice-ikev2.mobileconfig"]
    )
    assert b"Office" in after["clients/alice/alice-ikev2.mobileconfig"].data
    assert len(list(cache_dir.iterdir())) == 3


def test_qr_codes_drawn_in_worker_processes_are_a_fresh_render(
    state: State, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses
    import os

    from vpn_provision.render import tree

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: the render never starts worker processes")
    serial = render(dataclasses.replace(snapshot(state), cache=None), ["linux", "openbsd"])
    monkeypatch.setattr(tree, "POOL_MIN", 1)  # alice and bob are enough to use the pool
    monkeypatch.setattr(tree, "WRITERS_MIN", 1)  # and the threads that write the cache
    drawn = tree._draw_missing(snapshot(state))
    assert sorted(drawn.values()) == sorted(
        serial[f"clients/{n}/{n}.png"].data for n in ("alice", "bob")
    )
    assert render(snapshot(state), ["linux", "openbsd"]) == serial
    assert tree._draw_missing(snapshot(state)) == {}  # every device cached: nothing to draw


@pytest.mark.parametrize("writers_min", [1, 10**6], ids=["threads", "one-thread"])
def test_write_tree_writes_every_file_with_its_mode(
    state: State, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writers_min: int
) -> None:
    from vpn_provision.render import tree

    monkeypatch.setattr(tree, "WRITERS_MIN", writers_min)
    files = render(snapshot(state), ["linux", "openbsd"])
    out = tmp_path / "out"
    write_tree(out, files)
    written = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
    assert set(written) == set(files)  # no temporary file left behind
    for rel, f in files.items():
        assert written[rel].read_bytes() == f.data, rel
        assert stat.S_IMODE(written[rel].stat().st_mode) == f.mode, rel
