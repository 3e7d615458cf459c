"""``printer-sync status``: text rendering and usage errors."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest

from edgeward.pki import Issued, make_ca
from printer_sync.cli import main
from printer_sync.history import History
from tests.support.printers import (
    NOW,
    issue_leaf,
    local_files,
    status_config,
    tls_server,
)


@pytest.fixture(scope="module")
def ca() -> Issued:
    return make_ca("status command test CA")


def test_status_text_shows_both_certificates_and_the_last_push(
    tmp_path: Path, ca: Issued, capsys: pytest.CaptureFixture[str]
) -> None:
    ours = issue_leaf(ca, 45)
    with tls_server(tmp_path / "srv", ours) as port:
        files = local_files(tmp_path, "p", ours)
        cfg = status_config(
            tmp_path, [{"name": "office", "url": f"https://127.0.0.1:{port}", **files}]
        )
        with History(tmp_path / "state" / "printer-sync.db") as h:
            row = h.start("office", new_fingerprint=ours.fingerprint)
            h.finish(row, "verified")
        assert main(["status", "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert text.count(ours.fingerprint) == 2  # served and local (no pin yet)
    assert "office" in text and "ok" in text
    assert "verified at" in text
    assert "1 printer(s): 1 ok" in text
    assert "days left" in text and "45.0 (renew below 20)" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "--config", "{tmp}/missing.toml"], "file not found"),
        (["status", "--config", "{cfg}", "nosuch"], "no printer named 'nosuch'"),
    ],
)
def test_status_usage_errors_exit_2(
    tmp_path: Path, ca: Issued, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    files = local_files(tmp_path, "p", issue_leaf(ca, 60))
    cfg = status_config(tmp_path, [{"name": "office", "url": "https://127.0.0.1:1", **files}])
    args = [a.format(tmp=tmp_path, cfg=cfg) for a in argv]
    assert main(args) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("subject", "fp"),
    [
        ("CN=printer.test", "67:AB:10:" + "00:" * 28 + "CD"),  # ':AB:' is rich's 🆎 emoji code
        ("CN=[bold]x[/bold],O=a:ok:b", "11:" * 31 + "22"),  # markup and ':ok:' in a name
    ],
)
def test_text_output_prints_names_and_fingerprints_verbatim(subject: str, fp: str) -> None:
    from printer_sync.cmd_status import render, text_console
    from printer_sync.status import CertSummary, PrinterStatus

    cert = CertSummary(subject, subject, NOW + dt.timedelta(days=60), fp)
    status = PrinterStatus(
        "[red]office", "https://127.0.0.1:1", 20, NOW, cert, None, "TLSv1.3", cert, None, fp, None
    )
    buf = io.StringIO()
    render([status], text_console(buf))
    out = buf.getvalue()
    assert out.count(fp) == 3  # served, local, pinned
    assert out.count(subject) == 4  # subject and issuer, served and local
    assert "[red]office" in out
