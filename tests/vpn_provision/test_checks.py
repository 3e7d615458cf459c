"""``render --check``'s validators: wg setconf, openssl verify with the CRL; each says ok for a
good file and failed for a broken one."""

from __future__ import annotations

from pathlib import Path

from tests.support.tools import require_tool
from tests.support.vpn import run_tool
from vpn_provision import checks
from vpn_provision.state import State


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
    p = run_tool(wg, "setconf", "nonexistent0", str(bad))
    assert "Configuration parsing error" in p.stderr


def test_openssl_verify_with_crl(state: State, out: Path, tmp_path: Path) -> None:
    openssl = require_tool("openssl")
    ca = out / "server/linux/swanctl/x509ca/ca.pem"
    crl = out / "server/linux/swanctl/x509crl/crl.pem"
    assert crl.read_bytes() == (out / "server/openbsd/iked/crls/ca.crl").read_bytes()
    alice = out / "clients/alice/alice.crt"
    ok = run_tool(
        openssl, "verify", "-CAfile", str(ca), "-CRLfile", str(crl), "-crl_check", str(alice)
    )
    assert ok.returncode == 0 and ok.stdout.strip().endswith(": OK")
    carol = next(d for d in state.devices(include_removed=True) if d.name == "carol")
    revoked = tmp_path / "carol.pem"
    revoked.write_bytes(carol.cert_pem)
    p = run_tool(
        openssl, "verify", "-CAfile", str(ca), "-CRLfile", str(crl), "-crl_check", str(revoked)
    )
    assert p.returncode != 0 and "certificate revoked" in (p.stdout + p.stderr)
    assert checks.openssl_verify(ca, crl, carol.cert_pem, "carol").status == "failed"
    # the server certificate chains to the CA too
    server = out / "server/linux/swanctl/x509/server.pem"
    assert run_tool(openssl, "verify", "-CAfile", str(ca), str(server)).returncode == 0


def test_name_constraint_is_enforced_by_openssl(state: State, tmp_path: Path) -> None:
    """A certificate the CA signs for somebody else's name does not verify."""
    from edgeward import pki

    openssl = require_tool("openssl")
    rogue = pki.issue(state.ca, ["bank.example.com"], key_type="ec384")
    f = tmp_path / "rogue.pem"
    f.write_bytes(rogue.cert_pem())
    ca = tmp_path / "ca.pem"
    ca.write_bytes(state.ca_pem)
    p = run_tool(openssl, "verify", "-CAfile", str(ca), str(f))
    assert p.returncode != 0 and "permitted subtree violation" in p.stderr
