"""``render --check``: the real validators, run on a rendered tree.

Each check runs a tool found on PATH (or in sbin) and reports ``ok``, ``failed`` with the
tool's own words, or ``skipped`` when the tool is missing. The tools:

- ``wg setconf`` on every WireGuard file (wg-quick keys stripped, the Endpoint's name
  replaced by loopback so no resolver is asked) against an interface that does not
  exist: it exits 1 either way, so stderr decides ("Configuration parsing error");
- ``wg pubkey`` of each client's private key against the server file's peer keys;
- ``unbound-checkconf`` (with a scratch directory and trust anchor: it wants both to exist);
- ``iked -n`` (Debian's openiked) on ``iked.conf``, which it wants at mode 0600;
- ``nft -c -f`` in a fresh network namespace (``unshare -rn``) on ``nftables.conf``;
- ``openssl verify -crl_check`` of every client certificate against the CA and CRL.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from vpn_provision.render.wireguard import strip_wg_quick

Status = Literal["ok", "failed", "skipped"]
_SBIN: Final = ("/usr/sbin", "/sbin", "/usr/local/sbin")
TIMEOUT: Final = 60.0
# The root zone's KSK-2017 DS record (IANA): a well-formed trust anchor for the check.
ROOT_DS: Final = (
    ". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D"
)


@dataclass(frozen=True)
class Check:
    name: str
    target: str
    status: Status
    detail: str = ""


def tool(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(_SBIN))


def _run(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        argv, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kw
    )


def _words(p: subprocess.CompletedProcess[str]) -> str:
    return " ".join((p.stdout + p.stderr).split())[:300]


def wg_setconf(conf: Path) -> Check:
    wg = tool("wg")
    if wg is None:
        return Check("wg setconf", str(conf), "skipped", "wg not installed (wireguard-tools)")
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
        # wg resolves an Endpoint's name while parsing; a check must not ask any resolver,
        # so the host part becomes loopback (the port is still parsed).
        text = re.sub(
            r"^(Endpoint\s*=\s*).*:(\d+)\s*$",
            r"\g<1>127.0.0.1:\2",
            strip_wg_quick(conf.read_text(encoding="utf-8")),
            flags=re.M,
        )
        f.write(text)
    try:
        # An interface that cannot exist: the file is parsed, nothing is configured.
        p = _run([wg, "setconf", f"vpnchk{os.getpid() % 100000}", f.name])
    finally:
        os.unlink(f.name)
    if "Configuration parsing error" in p.stderr or "Line unrecognized" in p.stderr:
        return Check("wg setconf", str(conf), "failed", _words(p))
    return Check("wg setconf", str(conf), "ok")


def _peer_keys(server_conf: str) -> set[str]:
    return set(re.findall(r"^PublicKey\s*=\s*(\S+)\s*$", server_conf, re.M))


def wg_pubkeys(server_conf: Path, client_confs: list[Path]) -> Iterator[Check]:
    wg = tool("wg")
    if wg is None:
        yield Check("wg pubkey", str(server_conf), "skipped", "wg not installed")
        return
    peers = _peer_keys(server_conf.read_text(encoding="utf-8"))
    for conf in client_confs:
        m = re.search(r"^PrivateKey\s*=\s*(\S+)\s*$", conf.read_text(encoding="utf-8"), re.M)
        if m is None:
            yield Check("wg pubkey", str(conf), "failed", "no PrivateKey")
            continue
        p = _run([wg, "pubkey"], input=m.group(1) + "\n")
        pub = p.stdout.strip()
        if p.returncode != 0 or pub not in peers:
            yield Check(
                "wg pubkey", str(conf), "failed", "its public key is not a peer of the server"
            )
        else:
            yield Check("wg pubkey", str(conf), "ok")


def unbound_checkconf(conf: Path) -> Check:
    exe = tool("unbound-checkconf")
    if exe is None:
        return Check("unbound-checkconf", str(conf), "skipped", "not installed (unbound)")
    with tempfile.TemporaryDirectory(prefix="vpn-unbound-") as scratch:
        anchor = Path(scratch) / "root.key"
        anchor.write_text(ROOT_DS + "\n")
        text = conf.read_text(encoding="utf-8")
        text = re.sub(r'directory: ".*"', f'directory: "{scratch}"', text)
        text = re.sub(r'auto-trust-anchor-file: ".*"', f'auto-trust-anchor-file: "{anchor}"', text)
        text = re.sub(r'username: ".*"', 'username: ""', text)
        text = text.replace("server:\n", 'server:\n    chroot: ""\n', 1)
        copy = Path(scratch) / "unbound.conf"
        copy.write_text(text, encoding="utf-8")
        p = _run([exe, str(copy)])
    ok = p.returncode == 0 and "no errors" in p.stdout
    return Check("unbound-checkconf", str(conf), "ok" if ok else "failed", "" if ok else _words(p))


def iked_n(conf: Path) -> Check:
    exe = tool("iked")
    if exe is None:
        return Check("iked -n", str(conf), "skipped", "not installed (openiked)")
    with tempfile.TemporaryDirectory(prefix="vpn-iked-") as scratch:
        copy = Path(scratch) / "iked.conf"
        copy.write_bytes(conf.read_bytes())
        copy.chmod(0o600)
        p = _run([exe, "-n", "-f", str(copy)])
    ok = p.returncode == 0 and "configuration OK" in (p.stdout + p.stderr)
    return Check("iked -n", str(conf), "ok" if ok else "failed", "" if ok else _words(p))


def nft_check(conf: Path) -> Check:
    nft, unshare = tool("nft"), tool("unshare")
    if nft is None or unshare is None:
        return Check("nft -c", str(conf), "skipped", "not installed (nftables)")
    # A fresh network namespace: the check talks to a kernel, never the host's ruleset.
    p = _run([unshare, "-rn", nft, "-c", "-f", str(conf)])
    if p.returncode != 0 and ("unshare" in p.stderr and "Operation not permitted" in p.stderr):
        return Check("nft -c", str(conf), "skipped", "network namespaces not permitted here")
    ok = p.returncode == 0
    return Check("nft -c", str(conf), "ok" if ok else "failed", "" if ok else _words(p))


def openssl_verify(ca: Path, crl: Path, cert_pem: bytes, target: str) -> Check:
    exe = tool("openssl")
    if exe is None:
        return Check("openssl verify", target, "skipped", "not installed (openssl)")
    with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as f:
        f.write(cert_pem)
    try:
        p = _run([exe, "verify", "-CAfile", str(ca), "-CRLfile", str(crl), "-crl_check", f.name])
    finally:
        os.unlink(f.name)
    ok = p.returncode == 0 and p.stdout.rstrip().endswith(": OK")
    return Check("openssl verify", target, "ok" if ok else "failed", "" if ok else _words(p))


def check_tree(out: Path) -> list[Check]:
    """Every check that applies to the files found under ``out``."""
    results: list[Check] = []
    clients = sorted(out.glob("clients/*/*.conf"))
    linux = out / "server" / "linux"
    openbsd = out / "server" / "openbsd"
    if (linux / "wg0.conf").exists():
        results.append(wg_setconf(linux / "wg0.conf"))
        results.extend(wg_pubkeys(linux / "wg0.conf", clients))
    if (openbsd / "hostname.wg0").exists() and not (linux / "wg0.conf").exists():
        # hostname.wg0 lists the same peers: compare the clients against it.
        text = (openbsd / "hostname.wg0").read_text(encoding="utf-8")
        with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as f:
            f.write("\n".join(f"PublicKey = {k}" for k in re.findall(r"wgpeer (\S+)", text)))
        try:
            results.extend(wg_pubkeys(Path(f.name), clients))
        finally:
            os.unlink(f.name)
    results.extend(wg_setconf(c) for c in clients)
    for base in (linux, openbsd):
        if (base / "unbound.conf").exists():
            results.append(unbound_checkconf(base / "unbound.conf"))
    if (openbsd / "iked.conf").exists():
        results.append(iked_n(openbsd / "iked.conf"))
    if (linux / "nftables.conf").exists():
        results.append(nft_check(linux / "nftables.conf"))
    ca = next(
        (p for p in (linux / "swanctl/x509ca/ca.pem", openbsd / "iked/ca/ca.crt") if p.exists()),
        None,
    )
    crl = next(
        (
            p
            for p in (linux / "swanctl/x509crl/crl.pem", openbsd / "iked/crls/ca.crl")
            if p.exists()
        ),
        None,
    )
    if ca is not None and crl is not None:
        for crt in sorted(out.glob("clients/*/*.crt")):
            results.append(openssl_verify(ca, crl, crt.read_bytes(), str(crt)))
    return results
