"""Must show: the seed's incident, reproduced at scale, and its control.

A million ``combined`` lines from 400 networks (Zipf traffic shares, browsing bursts), 76
of them corrupted with the seed's signature:

- all 76 from AS9506's prefixes → ``dpi-report`` flags AS9506 and no other network;
- the same 76 spread evenly over the log (whoever's request it was) → it flags none.

The report's per-network request counts must equal the generator's exactly: the fast
chunk scan must not lose or invent a single line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from middleware.report.synthetic import (
    SEED_ASN,
    Truth,
    generate_log,
    make_networks,
    write_iptoasn,
)

pytestmark = pytest.mark.slow

LINES = 1_000_000
DPI_REPORT = [sys.executable, "-m", "middleware", "dpi-report"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    d = tmp_path_factory.mktemp("seed")
    nets = make_networks(400, seed=7)
    return write_iptoasn(nets, d / "ip2asn-v4.tsv"), nets


def report(table: Path, log: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [*DPI_REPORT, "--asn-table", str(table), "--json", str(log)],
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert proc.returncode == 0, proc.stderr
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def check_denominators(doc: dict[str, Any], truth: Truth) -> None:
    assert doc["totals"]["requests"] == LINES
    assert doc["totals"]["corrupted"] == 76
    assert {r["asn"]: r["requests"] for r in doc["asns"]} == truth.requests
    assert {r["asn"]: r["corrupted"] for r in doc["asns"] if r["corrupted"]} == truth.corrupted


@pytest.mark.parametrize(
    ("spread", "flagged"),
    [("one_asn", [SEED_ASN]), ("even", [])],
)
def test_seed_incident(
    world: tuple[Path, list[Any]], tmp_path: Path, spread: str, flagged: list[int]
) -> None:
    table, nets = world
    log = tmp_path / "access.log"
    truth = generate_log(log, nets, lines=LINES, corrupted=76, spread=spread, seed=11)  # type: ignore[arg-type]
    try:
        doc = report(table, log)
    finally:
        log.unlink()  # 180 MB: do not keep it around for the rest of the session
    check_denominators(doc, truth)
    assert doc["totals"]["flagged"] == flagged
    assert [r["asn"] for r in doc["asns"] if r["flagged"]] == flagged
    assert doc["test"]["tested"] == 400
    if spread == "even":
        assert len(truth.corrupted) > 10  # really spread over many networks
    else:
        seed = doc["asns"][0]
        assert seed["asn"] == SEED_ASN and seed["kinds"] == {"dpi_signature": 76}
        assert seed["ci95"][0] > doc["totals"]["rate"]  # its interval lies above the mean
        assert seed["p_value"] < doc["test"]["threshold"]
