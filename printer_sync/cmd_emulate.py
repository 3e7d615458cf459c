"""``printer-sync emulate``: an Epson Web Config emulator to try printer-sync against."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from pathlib import Path

from edgeward import cli
from edgeward.netaddr import parse_hostport
from edgeward.secrets import Secret, read_secret_file
from printer_sync.emulator import FAULTS, Emulator

HELP = "run an emulated Epson printer web UI (for tests, demos and trying things out)"
DESCRIPTION = (
    "Serves what printer-sync's Epson driver talks to, over HTTPS by IP (no SNI needed):\n"
    "the login form and EPSON_COOKIE_SESSION cookie, single-use INPUTT_SETUPTOKEN per form,\n"
    "the certificate chain import with the device's checks (fields, RSA key, key matches the\n"
    "certificate), 'Shutting down' then real downtime (the socket closes) for\n"
    "--reboot-seconds, the self-signed → CA-signed switch, the CA certificate store, the\n"
    "wrong-password answer and a lockout after repeated failures ('Try again later.').\n\n"
    "It starts with a self-signed certificate generated into --state-dir and keeps its\n"
    "state there across restarts. The CA import pages are a model: Epson does not document\n"
    "them publicly."
)
EPILOG = """examples:
  printer-sync emulate --listen 127.0.0.1:9443 --state-dir /tmp/epson --password-file pw.txt
  printer-sync emulate --state-dir /tmp/epson --firmware setup-complete --reboot-seconds 5
  printer-sync emulate --state-dir /tmp/epson --fault reset-upload      # break uploads

faults: """ + "; ".join(f"{k}: {v}" for k, v in FAULTS.items())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--listen", default="127.0.0.1:9443", metavar="HOST:PORT", help="where to serve HTTPS"
    )
    p.add_argument(
        "--state-dir", required=True, type=Path, metavar="DIR", help="certificates and settings"
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--password",
        metavar="PASSWORD",
        help="administrator password (visible in the process list: prefer --password-file)",
    )
    g.add_argument(
        "--password-file", type=Path, metavar="FILE", help="file whose first line is the password"
    )
    p.add_argument("--username", default="", metavar="NAME", help="administrator user name")
    p.add_argument(
        "--reboot-seconds",
        type=cli.seconds(zero=True, most=3600),
        default=2.0,
        metavar="SECONDS",
        help="downtime after a change",
    )
    p.add_argument(
        "--firmware",
        choices=["classic", "setup-complete"],
        default="classic",
        help="'classic' answers 'Shutting down' and reboots; 'setup-complete' applies at once",
    )
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=sorted(FAULTS),
        metavar="FAULT",
        help="misbehave on purpose (repeatable; the faults are listed below)",
    )


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await emulator.start()  # logs "emulated Epson printer on URL" (once)
    await stop.wait()
    await emulator.stop()


def run(args: argparse.Namespace) -> int:
    try:
        host, port = parse_hostport(args.listen)
    except ValueError as exc:
        raise cli.UsageError(f"--listen: {exc}") from None
    try:
        args.state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cli.UsageError(f"--state-dir {args.state_dir}: {exc.strerror or exc}") from None
    password = Secret(args.password or "")
    if args.password_file is not None:
        try:
            password = read_secret_file(args.password_file)
        except ValueError as exc:
            raise cli.UsageError(f"--password-file: {exc}") from None
    emulator = Emulator(
        args.state_dir,
        host=host,
        port=port,
        username=args.username,
        password=password,
        reboot_seconds=args.reboot_seconds,
        firmware=args.firmware,
    )
    emulator.faults.update(args.fault)
    try:
        asyncio.run(_serve(emulator))
    except OSError as exc:
        print(f"error: cannot listen on {args.listen}: {exc.strerror or exc}", file=sys.stderr)
        return cli.EXIT_FAILED
    return cli.EXIT_OK
