"""``printer-sync hook``: the certbot deploy script and acme.sh arguments push only what was
renewed; usage errors and failed pushes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeward.pki import fingerprint
from printer_sync.cli import main
from printer_sync.emulator import Emulator
from printer_sync.history import History
from tests.support.printers import PASSWORD, PrinterEnv, write_leaf

ROOT = Path(__file__).resolve().parents[2]


CERTBOT_HOOK = ROOT / "deploy" / "certbot" / "printer-sync.sh"


def _two_printer_config(env: PrinterEnv, start_emulator: Callable[..., Emulator]) -> Emulator:
    """office uses the certbot-like folder; lab has its own files and names lab.example.org."""
    lab = start_emulator()
    lab_files = write_leaf(env.tmp / "lab-certs", env.chain)
    env.config(
        [
            env.printer(domains=["office.example.org"]),
            env.printer(
                name="lab",
                url=lab.url,
                key=lab_files.key,
                cert=lab_files.cert,
                chain=lab_files.chain,
                domains=["lab.example.org"],
            ),
        ]
    )
    return lab


@pytest.mark.slow
def test_certbot_deploy_hook_script_pushes_only_the_printer_of_that_lineage(
    printer_env: PrinterEnv, start_emulator: Callable[..., Emulator]
) -> None:
    lab = _two_printer_config(printer_env, start_emulator)
    run = subprocess.run(
        ["sh", str(CERTBOT_HOOK)],
        env={
            **os.environ,
            "RENEWED_LINEAGE": str(printer_env.files.key.parent),
            "RENEWED_DOMAINS": "office.example.org",
            "PRINTER_SYNC": str(Path(sys.executable).parent / "printer-sync"),
            "PRINTER_SYNC_CONFIG": str(printer_env.tmp / "printers.toml"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert "office: verified: serves " + printer_env.files.fingerprint in run.stdout
    assert fingerprint(printer_env.emulator.served_certificate()) == printer_env.files.fingerprint
    assert lab.uploads == 0 and lab.logins == 0
    # --log-format json: every log line parses, and none holds the password
    lines = [line for line in run.stderr.splitlines() if line.startswith("{")]
    assert lines and all(json.loads(line)["logger"].startswith("edgeward.") for line in lines)
    assert PASSWORD not in run.stdout + run.stderr
    with History(printer_env.tmp / "state" / "printer-sync.db") as h:
        rows = h.rows()
    assert [(r.printer, r.result) for r in rows] == [("office", "verified")]


@pytest.mark.slow
def test_acme_sh_arguments_push_by_domain_and_a_foreign_renewal_pushes_nothing(
    printer_env: PrinterEnv,
    start_emulator: Callable[..., Emulator],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lab = _two_printer_config(printer_env, start_emulator)
    cfg = str(printer_env.tmp / "printers.toml")
    for var in ("RENEWED_LINEAGE", "LEGO_CERT_PATH", "LEGO_CERT_DOMAIN", "Le_Domain"):
        monkeypatch.delenv(var, raising=False)
    # acme.sh passes DOMAIN KEY CERT CA FULLCHAIN; lab's files live elsewhere: by domain.
    args = ["LAB.example.org", "/acme/lab.key", "/acme/lab.cer", "/acme/ca.cer", "/acme/full.cer"]
    assert main(["hook", "--config", cfg, "--dry-run", *args]) == 0
    assert "lab: dry_run: would upload" in capsys.readouterr().out
    assert lab.uploads == 0 and lab.logins == 0
    assert main(["hook", "--config", cfg, *args]) == 0
    out = capsys.readouterr().out
    assert "lab: verified" in out and "office" not in out
    assert lab.uploads == 1 and printer_env.emulator.uploads == 0
    # lego renewing some other name: nothing concerned, exit 0 (hooks run for every cert)
    monkeypatch.setenv("LEGO_CERT_DOMAIN", "www.example.org")
    monkeypatch.setenv("LEGO_CERT_PATH", "/lego/certificates/www.example.org.crt")
    assert main(["hook", "--config", cfg]) == 0
    assert "no printer concerned" in capsys.readouterr().out
    assert lab.uploads == 1 and printer_env.emulator.uploads == 0


def test_hook_without_a_renewal_is_a_usage_error(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("RENEWED_LINEAGE", "LEGO_CERT_PATH", "LEGO_CERT_DOMAIN", "Le_Domain", "_cdomain"):
        monkeypatch.delenv(var, raising=False)
    assert main(["hook", "--config", str(printer_env.config())]) == 2
    assert "no renewed certificate to act on" in capsys.readouterr().err
    assert printer_env.emulator.logins == 0


def test_hook_that_fails_to_push_exits_1_and_names_the_error(
    printer_env: PrinterEnv, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = printer_env.tmp / "wrong.pass"
    wrong.write_text("not-the-password\n")
    cfg = printer_env.config([printer_env.printer(password_file=wrong)])
    monkeypatch.setenv("RENEWED_LINEAGE", str(printer_env.files.key.parent))
    assert main(["hook", "--config", str(cfg)]) == 1
    out = capsys.readouterr().out
    assert "office: wrong_password" in out
    assert "not-the-password" not in out
