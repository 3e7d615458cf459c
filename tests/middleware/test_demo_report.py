"""``make run``'s dpi-report inputs: the report flags the demo incident on the first try."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from middleware.cli import dpi_report
from middleware.demo import prepare as prepare_demo
from middleware.demo_report import CORRUPTED, LINES, LOG, TABLE
from middleware.report.synthetic import SEED_ASN


def test_the_demo_files_flag_the_incident_and_recover_its_urls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("middleware.demo.demo_nginx.prepare", lambda var: [])
    notes = prepare_demo(tmp_path)
    keys = tmp_path / "middleware" / "keys.txt"
    table, log = tmp_path / TABLE, tmp_path / LOG
    assert f"$ dpi-report --asn-table {table} --keys {keys} {log}" in notes
    argv = ["--asn-table", str(table), "--keys", str(keys), "--json", "--no-progress", str(log)]
    assert dpi_report.main(argv) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["requests"] == LINES
    assert report["totals"]["corrupted"] == CORRUPTED
    assert report["totals"]["flagged"] == [SEED_ASN]
    assert report["recovery"]["recovered"] == CORRUPTED  # signed with the demo key


def test_a_table_the_user_put_there_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("middleware.demo.demo_nginx.prepare", lambda var: [])
    table = tmp_path / TABLE
    table.parent.mkdir(parents=True)
    table.write_text("1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n")
    prepare_demo(tmp_path)
    assert table.read_text().startswith("1.0.0.0\t")
    assert (tmp_path / LOG).exists()
