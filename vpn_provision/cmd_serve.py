"""``vpn-provision serve``: the one-time download pages, behind nginx."""

from __future__ import annotations

import argparse
import asyncio
import sys

from edgeward import cli
from edgeward.config import metrics_address
from edgeward.logs import get_logger
from edgeward.netaddr import parse_hostport
from vpn_provision.common import add_state_argument, open_state, tidy_help

log = get_logger("vpn_provision.serve")

HELP = "serve the one-time download links (Starlette under uvicorn, port 8600)"
DESCRIPTION = (
    "Answer the links made by `vpn-provision link`: a valid link shows its page once\n"
    "(then 404), an expired one 410, a changed one 403; nothing outside /d/ exists, so\n"
    "nothing lists devices. Every answer is counted (edgeward_vpn_downloads_total) and\n"
    "written to the audit table. Meant to sit behind nginx (deploy/nginx)."
)
EPILOG = """examples:
  vpn-provision serve
  vpn-provision serve --listen 127.0.0.1:8600 --metrics-listen 127.0.0.1:9468
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_state_argument(p)
    p.add_argument("--listen", metavar="HOST:PORT", help="default: `listen` in settings.toml")
    p.add_argument(
        "--metrics-listen",
        default="127.0.0.1:9468",
        metavar="HOST:PORT",
        help="/metrics on its own address ('off' for none)",
    )
    tidy_help(p)


async def _serve(app: object, listen: str, metrics_listen: str) -> None:
    # The web stack is imported here, not at start-up: every other command is faster.
    import uvicorn

    from edgeward.lifecycle import daemon
    from edgeward.serving import EmbeddedServer, bind_tcp
    from vpn_provision.web import PREFIX

    sock = bind_tcp(listen)
    config = uvicorn.Config(
        app,  # type: ignore[arg-type]
        log_level="warning",
        access_log=False,
        lifespan="off",
        proxy_headers=True,  # nginx in front: the audit keeps the phone's address
    )
    async with daemon(metrics_listen) as life:
        server = EmbeddedServer(config)
        task = await life.start_server(server, f"one-time links on {listen}", sock)
        log.info("serving one-time links on http://%s%s", listen, PREFIX)
        print(f"listening on http://{listen}{PREFIX}", flush=True)
        await life.wait(task)


def run(args: argparse.Namespace) -> int:
    with open_state(args) as state:
        listen = args.listen or state.settings.listen
        root = state.root
    try:
        parse_hostport(listen)
        metrics_address(args.metrics_listen)
    except ValueError as exc:
        raise cli.UsageError(str(exc)) from None
    from vpn_provision.web import create_app

    app = create_app(root)
    try:
        asyncio.run(_serve(app, listen, args.metrics_listen))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return cli.EXIT_FAILED
    return cli.EXIT_OK
