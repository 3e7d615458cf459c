"""``printer-sync watch``: the daemon that keeps printers serving the renewed certificate."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses

from edgeward import cli
from edgeward.config import metrics_address
from edgeward.lifecycle import daemon, metrics_enabled
from edgeward.logs import get_logger
from printer_sync.config import Config, load_config
from printer_sync.history import History
from printer_sync.status import quiet_libraries, widen_executor
from printer_sync.watch import Watcher

log = get_logger("printer_sync.watch")

HELP = "run as a daemon: watch the certificate files, check printers, push, serve /metrics"
DESCRIPTION = (
    "Watch the folders of every printer's key/cert/chain files (a renewal is picked up\n"
    "within seconds), check every printer at start and every `check_interval` seconds,\n"
    "and push when a printer serves another certificate than the local one (or a\n"
    "configured CA certificate was never imported). Each push is verified by a TLS\n"
    "handshake and recorded in the history.\n\n"
    "/metrics (Prometheus) on `metrics_listen` (default 127.0.0.1:9466; 'off' for none):\n"
    "  edgeward_printer_served_not_after_timestamp_seconds, edgeward_printer_reachable,\n"
    "  edgeward_printer_in_sync, edgeward_printer_last_check_timestamp_seconds,\n"
    "  edgeward_printer_push_total{result},\n"
    "  edgeward_printer_push_last_success_timestamp_seconds\n\n"
    "SIGINT/SIGTERM stop it cleanly (a push in progress is recorded as interrupted).\n"
    "Exit codes: 0 stopped by a signal, 2 configuration error or metrics address in use."
)
EPILOG = """examples:
  printer-sync watch --config /etc/printer-sync/printers.toml
  printer-sync watch --config printers.toml --metrics-listen 127.0.0.1:9466 --log-format json

alerts worth having (PromQL):
  edgeward_printer_served_not_after_timestamp_seconds - time() < 7 * 86400
  edgeward_printer_reachable == 0
  increase(edgeward_printer_push_total{result!~"verified|skipped_unchanged"}[1d]) > 0
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", required=True, metavar="FILE", help="the printers file (TOML)")
    p.add_argument(
        "--metrics-listen",
        default=None,
        metavar="HOST:PORT",
        help="where to serve /metrics, 'off' for nowhere "
        "(default: metrics_listen from the config, 127.0.0.1:9466)",
    )
    p.add_argument(
        "--check-interval",
        type=cli.seconds(most=30 * 86400),
        metavar="SECONDS",
        default=None,
        help="seconds between scheduled checks (default: check_interval from the config)",
    )


def _settings(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    changes: dict[str, object] = {}
    if args.metrics_listen is not None:
        try:
            metrics_address(args.metrics_listen)
        except ValueError as exc:
            raise cli.UsageError(f"--metrics-listen: {exc}") from None
        changes["metrics_listen"] = args.metrics_listen
    if args.check_interval is not None:
        changes["check_interval"] = args.check_interval
    if not config.printers:
        raise cli.UsageError(f"{args.config}: no [[printer]] table: nothing to watch")
    if not changes:
        return config
    return dataclasses.replace(config, **changes)  # type: ignore[arg-type]


async def _main(config: Config) -> int:
    loop = asyncio.get_running_loop()
    executor = widen_executor(loop, len(config.printers))
    async with contextlib.AsyncExitStack() as stack:
        try:
            life = await stack.enter_async_context(daemon(config.metrics_listen))
        except OSError as exc:
            raise cli.UsageError(f"metrics_listen {config.metrics_listen}: {exc}") from None
        metrics = config.metrics_listen if metrics_enabled(config.metrics_listen) else None
        log.info(
            "watching %d printer(s); metrics %s; checks every %g s",
            len(config.printers),
            f"on http://{metrics}/metrics" if metrics else "off",
            config.check_interval,
        )
        with History(config.db_path) as history:
            try:
                await Watcher(config, history).run(life.stop)
            finally:
                executor.shutdown(wait=False, cancel_futures=True)
    log.info("stopped")
    return cli.EXIT_OK


def run(args: argparse.Namespace) -> int:
    quiet_libraries()
    return asyncio.run(_main(_settings(args)))
