"""dpi-watch --whois: a client the table lacks is resolved through ipwhois' real DNS path,
against a local server answering like Team Cymru (never the system resolver)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from tests.support.cymru_dns import cymru_dns
from tests.support.net import free_port
from tests.support.servers import process

SINGTEL = "SINGTEL-FIBRE Singtel Fibre Broadband, SG"
LINE = (
    b'116.14.2.3 - - [27/Nov/2026:03:35:15 +0000] "GET /ca\\x80\\x01.jpg HTTP/1.1" 400 157'
    b' "-" "-"\n'
)


@pytest.mark.slow
def test_whois_names_the_network_the_table_lacks(tmp_path: Path) -> None:
    log, events = tmp_path / "access.log", tmp_path / "events.jsonl"
    with cymru_dns({"116.14.0.0/15": (9506, "SG", "apnic", SINGTEL)}) as dns:
        mport = free_port()
        argv = [sys.executable, "-m", "middleware", "dpi-watch", "tail", str(log), "--from-start"]
        argv += ["--whois", "--whois-dns", f"127.0.0.1:{dns.port}", "--events", str(events)]
        argv += ["--metrics-listen", f"127.0.0.1:{mport}"]
        with process(argv, port=mport, log=tmp_path / "watch.out"):
            log.write_bytes(LINE)
            deadline = time.monotonic() + 60  # generous: a loaded machine is slow
            while not (events.exists() and events.read_text().strip()):
                assert time.monotonic() < deadline, (tmp_path / "watch.out").read_text()
                time.sleep(0.1)
        assert any("origin.asn.cymru.com" in q for q in dns.queries)
    event = json.loads(events.read_text())
    assert (event["client"], event["asn"], event["prefix"]) == ("116.14.2.3", 9506, "116.14.0.0/15")
