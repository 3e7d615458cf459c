"""``identify`` against the real net-snmp ``snmpd`` on loopback, plus the driver table."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printer_sync.cli import main
from printer_sync.identify import IdentifyError, identify, pick_driver
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


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """One snmpd per printer kind, started once for the module."""
    with contextlib.ExitStack() as stack:
        ports = {
            kind: stack.enter_context(snmpd(tmp_path_factory.mktemp(kind), *spec))
            for kind, spec in AGENTS.items()
        }
        yield ports


@pytest.mark.parametrize(
    ("kind", "driver", "printer_name", "reason_has"),
    [
        ("epson", "epson", "EPSON ET-16600 Series", "1.3.6.1.4.1.1248"),
        ("epson-generic-oid", "epson", None, "EPSON WF-3720"),
        ("hp", None, "HP LaserJet M404", "no driver"),
    ],
)
def test_identify_reads_the_real_agent(
    agents: dict[str, int], kind: str, driver: str | None, printer_name: str | None, reason_has: str
) -> None:
    descr, oid, _ = AGENTS[kind]
    who = asyncio.run(identify("127.0.0.1", COMMUNITY, agents[kind], try_seconds=2, retries=1))
    assert who.sys_descr == descr
    assert who.sys_object_id == oid.lstrip(".")
    assert who.printer_name == printer_name
    assert who.driver == driver
    assert reason_has in who.reason


@pytest.mark.parametrize(("kind", "code"), [("epson", 0), ("hp", 1)])
def test_identify_command_exit_code_and_json(
    agents: dict[str, int], kind: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["identify", "127.0.0.1", "--port", str(agents[kind]), "--community", COMMUNITY]
    assert main([*argv, "--json"]) == code
    out = json.loads(capsys.readouterr().out)
    assert out["sys_descr"] == AGENTS[kind][0]
    assert out["driver"] == ("epson" if kind == "epson" else None)


def test_wrong_community_is_a_clear_timeout_that_hides_the_community(
    agents: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "not-the-community-x7"
    with pytest.raises(IdentifyError) as err:
        asyncio.run(identify("127.0.0.1", secret, agents["epson"], try_seconds=0.3, retries=0))
    assert "community" in str(err.value) and secret not in str(err.value)
    argv = ["identify", "127.0.0.1", "--port", str(agents["epson"]), "--community", secret]
    assert main([*argv, "--timeout", "0.3", "--retries", "0"]) == 1
    captured = capsys.readouterr()
    assert "no SNMP answer" in captured.out
    assert secret not in captured.out + captured.err


@pytest.mark.parametrize(
    ("oid", "texts", "driver"),
    [
        ("1.3.6.1.4.1.1248.1.2.2.1.1.1", (None,), "epson"),
        (".1.3.6.1.4.1.1248", (None,), "epson"),
        ("1.3.6.1.4.1.12480.1", (None,), None),  # a different enterprise sharing digits
        ("1.3.6.1.4.1.11.2.3.9.1", ("HP LaserJet",), None),
        ("1.3.6.1.4.1.8072.3.2.10", ("Epson ET-2850",), "epson"),  # case does not matter
        (None, (None, "EPSON WF-3720 Series"), "epson"),  # hrDeviceDescr only
        (None, (None, None), None),
    ],
)
def test_pick_driver_table(
    oid: str | None, texts: tuple[str | None, ...], driver: str | None
) -> None:
    assert pick_driver(oid, texts)[0] == driver


arcs = st.lists(st.integers(min_value=0, max_value=2**31), min_size=0, max_size=8)


@settings(max_examples=60)
@given(arcs)
def test_every_oid_under_epsons_enterprise_is_epson(suffix: list[int]) -> None:
    oid = ".".join(["1.3.6.1.4.1.1248", *map(str, suffix)])
    assert pick_driver(oid, ())[0] == "epson"


@settings(max_examples=60)
@given(st.integers(min_value=0, max_value=10**6).filter(lambda n: n != 1248), arcs)
def test_other_enterprises_without_epson_text_get_no_driver(
    enterprise: int, suffix: list[int]
) -> None:
    oid = ".".join(["1.3.6.1.4.1", str(enterprise), *map(str, suffix)])
    assert pick_driver(oid, ("Generic network printer",))[0] is None
