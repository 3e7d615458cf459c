"""``make run``'s printer part: prepare() is idempotent and its files work together."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cryptography import x509

from edgeward.pki import fingerprint, served_certificate
from edgeward.run import read_procfile
from printer_sync.cli import main
from printer_sync.config import load_config
from printer_sync.demo import prepare, renew
from tests.support.net import free_port
from tests.support.servers import process

ROOT = Path(__file__).parents[2]


def test_prepare_is_idempotent(tmp_path: Path) -> None:
    lines = prepare(tmp_path)
    base = tmp_path / "printer"
    snapshot = {p: p.read_bytes() for p in base.rglob("*") if p.is_file()}
    assert prepare(tmp_path) == lines
    assert {p: p.read_bytes() for p in base.rglob("*") if p.is_file()} == snapshot
    config = load_config(base / "printers.toml")
    (printer,) = config.printers
    assert printer.password is not None
    assert printer.password.reveal() not in "\n".join(lines)  # the path is shown, not the value
    assert (base / "certs" / "privkey.pem").stat().st_mode & 0o777 == 0o600
    old = fingerprint(_leaf(base))
    new = renew(tmp_path)
    assert new != old and fingerprint(_leaf(base)) == new


def _leaf(base: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate((base / "certs" / "cert.pem").read_bytes())


@pytest.mark.slow
def test_procfile_emulator_line_and_demo_config_push(tmp_path: Path) -> None:
    prepare(tmp_path)
    (service,) = [s for s in read_procfile() if s.name == "printer-emulator"]
    port = free_port()
    command = service.command.replace("127.0.0.1:9443", f"127.0.0.1:{port}")
    command = command.replace("printer-sync ", f"{sys.executable} -m printer_sync ", 1)
    config_path = tmp_path / "printer" / "printers.toml"
    text = config_path.read_text().replace("127.0.0.1:9443", f"127.0.0.1:{port}")
    config_path.write_text(text)
    env = {"EDGEWARD_VAR": str(tmp_path)}
    with process(["sh", "-c", f"exec {command}"], port=port, env=env, cwd=ROOT):
        assert main(["push", "--all", "--config", str(config_path)]) == 0
        cert, _ = served_certificate("127.0.0.1", port)
    config = load_config(config_path)
    assert fingerprint(cert) == fingerprint(_leaf(tmp_path / "printer"))
    assert config.printers[0].name == "demo-epson"
