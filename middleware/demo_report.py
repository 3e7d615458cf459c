"""``make run``'s inputs for ``dpi-report``: an ASN table and a short log with an incident.

Both come from ``middleware/report/synthetic.py`` with fixed seeds, so every run shows
the same story: 20 000 requests from 50 networks over a day, 12 of them corrupted with
the seed's ``0x80 0x01``/``0x80 0x04`` signature, all from AS9506, which ``dpi-report``
flags. The corrupted URLs were signed with the demo app's key, so ``--keys`` recovers
them. The table is also the one the demo app and ``dpi-watch`` attribute requests with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from middleware.report import synthetic
from middleware.signed import KeyRing, sign_url

TABLE: Final = Path("middleware") / "ip2asn.tsv"
LOG: Final = Path("report") / "demo-access.log"
HTML: Final = Path("report") / "report.html"
LINES: Final = 20_000
CORRUPTED: Final = 12
_SEED: Final = 7


def write_inputs(table: Path | None, log: Path, keyring: KeyRing) -> synthetic.Truth:
    """Write the demo log and (unless None) its ASN table; return what the log holds."""
    networks = synthetic.make_networks(50, seed=_SEED, incident_rank=6)
    if table is not None:
        table.parent.mkdir(parents=True, exist_ok=True)
        synthetic.write_iptoasn(networks, table)
    log.parent.mkdir(parents=True, exist_ok=True)
    return synthetic.generate_log(
        log,
        networks,
        lines=LINES,
        corrupted=CORRUPTED,
        seed=_SEED,
        duration=24 * 3600,
        clients=3000,
        sign=lambda target: sign_url(target, keyring),
    )


def prepare(var: Path, keys: Path) -> list[str]:
    """Write the log under ``var`` unless it exists, and the table unless one is there
    (a real table a user put there stays); the banner lines."""
    table, log = var / TABLE, var / LOG
    if not log.exists():
        write_inputs(None if table.exists() else table, log, KeyRing.from_file(keys))
    return [
        f"dpi-report: a day of demo traffic with an incident (AS{synthetic.SEED_ASN}) in {log}",
        f"$ dpi-report --asn-table {table} --keys {keys} {log}",
        f"$ dpi-report --asn-table {table} --html {var / HTML} {log}"
        "   # then open the file in a browser",
    ]
