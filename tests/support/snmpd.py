"""The real net-snmp ``snmpd`` on a free loopback UDP port, answering as a printer would."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.servers import stop
from tests.support.tools import require_tool

# name → (sysDescr, sysObjectID, prtGeneralPrinterName or None)
AGENTS = {
    "epson": ("EPSON ET-16600 Series", ".1.3.6.1.4.1.1248.1.2.2.1.1.1", "EPSON ET-16600 Series"),
    # A print server that reports net-snmp's generic OID: only the text names Epson.
    "epson-generic-oid": ("EPSON WF-3720 Series", ".1.3.6.1.4.1.8072.3.2.10", None),
    "hp": ("HP ETHERNET MULTI-ENVIRONMENT", ".1.3.6.1.4.1.11.2.3.9.1", "HP LaserJet M404"),
}
COMMUNITY = "edgeward-ro"


@contextlib.contextmanager
def snmpd(tmp: Path, descr: str, oid: str, name: str | None) -> Iterator[int]:
    """The real snmpd on 127.0.0.1:<free UDP port>, own config and persistent dir."""
    binary = require_tool("snmpd")
    port = free_port(kind=socket.SOCK_DGRAM)
    tmp.mkdir(parents=True, exist_ok=True)
    conf = tmp / "snmpd.conf"
    lines = [
        f"[snmp] persistentDir {tmp / 'persist'}",
        f"agentAddress udp:127.0.0.1:{port}",
        f"rocommunity {COMMUNITY} 127.0.0.1",
        f"sysDescr {descr}",
        f"sysObjectID {oid}",
    ]
    if name is not None:
        # net-snmp has no Printer-MIB; `override` serves prtGeneralPrinterName.1 as a printer would.
        lines.append(f'override .1.3.6.1.2.1.43.5.1.1.16.1 octet_str "{name}"')
    conf.write_text("\n".join(lines) + "\n")
    log = tmp / "snmpd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [binary, "-f", "-Lo", "-C", "-c", str(conf), "-M", str(tmp)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60  # generous: a loaded machine is slow
        while b"NET-SNMP version" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"snmpd did not start: {log.read_text(errors='replace')[-1500:]}")
            time.sleep(0.05)
        yield port
    finally:
        stop(proc)
