"""``dpi-watch syslog``: receive nginx's ``access_log syslog:`` datagrams."""

from __future__ import annotations

import argparse

from middleware.cli.dpi_watch import add_common_arguments, run_daemon

HELP = "receive nginx's access_log syslog: datagrams (UDP)"
EPILOG = (
    "nginx side:\n"
    "  access_log syslog:server=127.0.0.1:5140,tag=nginx edgeward_json;\n"
    "example:\n  dpi-watch syslog --listen 127.0.0.1:5140 --nginx-format json"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", default="127.0.0.1:5140", metavar="HOST:PORT", help="UDP address")
    p.add_argument(
        "--allow-from",
        action="append",
        default=None,
        metavar="CIDR",
        help="accept datagrams only from this address or network (repeat; default: "
        "loopback, 127.0.0.0/8 and ::1). UDP senders are not authenticated: anyone allowed "
        "here can inject log lines, and so events blamed on any address",
    )
    add_common_arguments(p)


run = run_daemon
