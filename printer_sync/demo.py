"""``make run``: what the printer sidecar and the emulator need under ``var/printer/``.

Idempotent: a demo CA with an intermediate (kept), the emulator's administrator password
(generated once into ``emulator.pass``), a leaf certificate for the emulated printer
(re-issued only when missing or within 30 days of expiry), and ``printers.toml`` pointing
at the emulator on ``https://127.0.0.1:9443``. The emulator starts self-signed, so the
first ``watch`` run pushes the demo certificate; ``python -m printer_sync.demo --renew``
issues a new one, which ``watch`` picks up within seconds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import sys
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from edgeward import pki
from edgeward.files import atomic_write

PRINTERS_TOML = """\
# Written by printer_sync/demo.py for `make run`; paths are relative to this file.
state_dir = "state"
check_interval = 60.0

[[printer]]
name = "demo-epson"
url = "https://127.0.0.1:9443"
driver = "epson"
password_file = "emulator.pass"
key = "certs/privkey.pem"
cert = "certs/cert.pem"
chain = "certs/chain.pem"
ca_certs = ["ca/root.pem"]
reboot_timeout = 30.0
domains = ["printer.demo.test"]
"""


def _load(cert_path: Path, key_path: Path) -> pki.Issued | None:
    if not (cert_path.exists() and key_path.exists()):
        return None
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    if not isinstance(key, pki.PrivateKey):
        return None
    return pki.Issued(key, cert)


def _ca(folder: Path) -> tuple[pki.Issued, pki.Issued]:
    root = _load(folder / "root.pem", folder / "root-key.pem")
    if root is None:
        root = pki.make_ca("edgeward printer demo root (make run)")
        pki.write_pair(root, folder / "root-key.pem", folder / "root.pem")
    inter = _load(folder / "intermediate.pem", folder / "intermediate-key.pem")
    if inter is None:
        inter = pki.make_ca("edgeward printer demo intermediate", issuer=root, days=1825)
        pki.write_pair(inter, folder / "intermediate-key.pem", folder / "intermediate.pem")
    return root, inter


def renew(var: Path) -> str:
    """Issue a new leaf for the emulated printer (what certbot does monthly)."""
    base = var / "printer"
    _, inter = _ca(base / "ca")
    leaf = pki.issue(inter, ["printer.demo.test", "127.0.0.1"], days=90)
    certs = base / "certs"
    atomic_write(certs / "chain.pem", inter.cert_pem())
    atomic_write(certs / "privkey.pem", leaf.key_pem(), mode=0o600)
    atomic_write(certs / "cert.pem", leaf.cert_pem())
    return leaf.fingerprint


def prepare(var: Path) -> list[str]:
    base = var / "printer"
    (base / "emulator").mkdir(parents=True, exist_ok=True)
    _ca(base / "ca")
    password = base / "emulator.pass"
    if not password.exists():
        atomic_write(password, (secrets.token_urlsafe(12) + "\n").encode(), mode=0o600)
    leaf = _load(base / "certs" / "cert.pem", base / "certs" / "privkey.pem")
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    if leaf is None or leaf.cert.not_valid_after_utc < soon:
        renew(var)
    config = base / "printers.toml"
    if not config.exists() or config.read_text(encoding="utf-8") != PRINTERS_TOML:
        atomic_write(config, PRINTERS_TOML.encode())
    return [
        f"printer: emulated Epson at https://127.0.0.1:9443, admin password in {password}",
        f"$ printer-sync status --config {config}   # push, history alike",
        f"$ python -m printer_sync.demo --var {var} --renew   # a new certificate; watch pushes it",
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m printer_sync.demo",
        description="Prepare var/printer/ for `make run`; --renew issues a new demo certificate.",
    )
    p.add_argument("--var", type=Path, default=Path(os.environ.get("EDGEWARD_VAR", "var")))
    p.add_argument("--renew", action="store_true", help="issue a new leaf certificate now")
    args = p.parse_args(argv)
    for line in prepare(args.var):
        print(line)
    if args.renew:
        print(f"printer: new demo certificate {renew(args.var)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
