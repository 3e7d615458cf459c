"""`dpi-report demo-log`: a test log of any size, with its table, that dpi-report flags."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from middleware.report.synthetic import SEED_ASN

DPI_REPORT = [sys.executable, "-m", "middleware", "dpi-report"]


def run(*args: str | Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*DPI_REPORT, *map(str, args)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


@pytest.mark.parametrize(("lines", "seed"), [(60, 1), (2_000, 2), (300_000, 3)])
def test_the_demo_log_has_the_seeds_incident_and_the_report_flags_it(
    tmp_path: Path, lines: int, seed: int
) -> None:
    out = tmp_path / "access.log"
    proc = run("demo-log", out, "--lines", str(lines), "--seed", str(seed))
    table = tmp_path / "access.log.asn.tsv"
    assert f"dpi-report --asn-table {table} {out}" in proc.stdout
    assert len(out.read_bytes().splitlines()) == lines
    doc = json.loads(run("--asn-table", table, "--json", out).stdout)
    assert doc["totals"]["requests"] == lines
    assert doc["totals"]["flagged"] == [SEED_ASN]
    assert doc["asns"][0]["name"].startswith("SINGTEL")


def test_the_same_seed_gives_the_same_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        table = tmp_path / f"{name}.tsv"
        run("demo-log", tmp_path / f"{name}.log", "--lines", "5000", "--seed", "9",
            "--table", table, "--corrupted", "7", "--networks", "50")  # fmt: skip
    assert (tmp_path / "a.log").read_bytes() == (tmp_path / "b.log").read_bytes()
    assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes()
    assert (tmp_path / "a.log").read_bytes().count(b"\\x80") == 7


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--lines", "0"], "--lines"),
        (["--lines", "1e400"], "--lines"),
        (["--lines", "99999999999999999999999"], "--lines"),
        (["--lines", "10", "--corrupted", "11"], "--corrupted"),
        (["--hours", "nan"], "--hours"),
        (["--networks", "-1"], "--networks"),
        (["--seed", "-1"], "--seed"),
        (["--table", "/nonexistent-dir/t.tsv"], "--table"),
    ],
)
def test_bad_options_are_one_clear_line(tmp_path: Path, args: list[str], says: str) -> None:
    proc = run("demo-log", tmp_path / "x.log", *args, code=2)
    assert says in proc.stderr
    assert not (tmp_path / "x.log").exists()
