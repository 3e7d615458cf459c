"""``printer-sync identify HOST``: ask a printer over SNMP which driver fits it."""

from __future__ import annotations

import argparse
import asyncio
import json

from edgeward import cli
from printer_sync.identify import IdentifyError, identify

HELP = 'ask a printer over SNMP v2c what it is and which driver fits (driver = "auto")'
DESCRIPTION = (
    "Read sysDescr, sysObjectID and the Printer-MIB name (prtGeneralPrinterName, or\n"
    "hrDeviceDescr on older firmware) over SNMP v2c and name the driver that\n"
    'driver = "auto" would pick. Epson is recognised by its enterprise OID\n'
    "1.3.6.1.4.1.1248, or by 'EPSON' in its description.\n\n"
    "Exit codes: 0 a driver fits, 1 no answer or no driver fits, 2 usage error."
)
EPILOG = """examples:
  printer-sync identify 192.168.1.20
  printer-sync identify 192.168.1.20 --community s3cret --port 161 --json
  printer-sync identify 127.0.0.1 --port 16161     # an snmpd on loopback

A wrong community gets no answer at all on SNMP v2c, so it shows as a timeout.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("host", help="the printer's IP address or host name")
    p.add_argument(
        "--community",
        default="public",
        metavar="COMMUNITY",
        help="SNMP v2c community (read-only); never logged",
    )
    p.add_argument(
        "--port", type=cli.whole(1, 65535), default=161, metavar="PORT", help="SNMP UDP port"
    )
    p.add_argument(
        "--timeout", type=cli.seconds(most=600), default=2.0, metavar="SECONDS", help="per try"
    )
    p.add_argument(
        "--retries", type=cli.whole(0, 10), default=1, metavar="N", help="tries after the first"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    try:
        who = asyncio.run(
            identify(
                args.host,
                args.community,
                args.port,
                try_seconds=args.timeout,
                retries=args.retries,
            )
        )
    except IdentifyError as exc:
        print(f"error: {exc}")
        return cli.EXIT_FAILED
    if args.json:
        print(json.dumps(who.as_dict(), sort_keys=True))
    else:
        print(f"host:          {who.host}:{who.port}")
        print(f"sysDescr:      {who.sys_descr or '-'}")
        print(f"sysObjectID:   {who.sys_object_id or '-'}")
        print(f"printer name:  {who.printer_name or '-'}")
        print(f"driver:        {who.driver or 'none'}  ({who.reason})")
    return cli.EXIT_OK if who.driver else cli.EXIT_FAILED
