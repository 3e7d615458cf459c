"""The daemon: keep every printer serving the certificate on disk.

Two things wake a printer's check: a change in a folder holding its files (watchfiles;
certbot replaces the ``live/`` symlinks, acme.sh and lego rewrite files in place, editors
rename: folders are watched, not files) and the schedule (``check_interval``). A check is
:func:`printer_sync.status.check_printer`; it pushes when the printer serves another
certificate than the local one, or when CA certificates of the configuration were never
imported. The push is the whole state machine of :mod:`printer_sync.push` (validation,
upload, reboot, verification, history row).

Each printer has one worker, so checks and pushes of one printer never overlap, and a
burst of file events during a push becomes one more check after it. Workers of different
printers run concurrently. Stopping cancels a push in progress (its history row says
``interrupted``; the next start checks that printer again).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import watchfiles
from cryptography import x509

from edgeward.logs import get_logger
from edgeward.pki import fingerprint
from printer_sync import metrics
from printer_sync.config import Config, PrinterConfig
from printer_sync.history import History
from printer_sync.push import PushResult, Retry, push_printer
from printer_sync.status import PrinterStatus, State, check_printer

log = get_logger("printer_sync.watch")

# After a file event, wait this long for the rest of the renewal (key, then certificate)
# before checking; load_bundle waits out anything slower.
SETTLE: Final = 0.3
# An unreachable printer (switched off, rebooting, or not started yet under `make run`)
# is re-checked after 5 s, then 10, 20... up to check_interval, not only on the schedule.
UNREACHABLE_RETRY: Final = 5.0


def printer_files(printer: PrinterConfig) -> list[Path]:
    return [
        printer.key,
        printer.cert,
        *([printer.chain] if printer.chain else []),
        *printer.ca_certs,
    ]


def _norm(path: str | Path) -> str:
    return os.path.normpath(os.path.abspath(path))


def _names_of(path: Path) -> set[str]:
    """``path`` and, through symlinks, the file it points at now."""
    out = {_norm(path)}
    with contextlib.suppress(OSError):
        out.add(os.path.realpath(path))
    return out


def files_of(printers: Iterable[PrinterConfig]) -> dict[str, set[str]]:
    """``{file path: names of the printers using it}``, symlink targets included.

    Recomputed after every batch of changes: a certbot renewal points ``live/cert.pem``
    at a new ``archive/certN.pem``.
    """
    out: dict[str, set[str]] = {}
    for p in printers:
        for f in printer_files(p):
            for name in _names_of(f):
                out.setdefault(name, set()).add(p.name)
    return out


def folders_to_watch(printers: Iterable[PrinterConfig]) -> tuple[list[str], list[str]]:
    """(existing folders holding a printer's files or their targets, missing ones)."""
    folders = {os.path.dirname(f) for f in files_of(printers)}
    existing = sorted(d for d in folders if os.path.isdir(d))
    return existing, sorted(folders - set(existing))


def affected(by_file: dict[str, set[str]], changed: Iterable[str]) -> set[str]:
    """The printers using any changed path. Other files in the folders (a busy /tmp,
    editor backups, another lineage's files) wake nobody."""
    out: set[str] = set()
    for path in changed:
        out |= by_file.get(_norm(path), set())
    return out


def _missing_cas(printer: PrinterConfig, history: History) -> int:
    """How many configured CA certificates the history does not record as imported."""
    if not printer.ca_certs:
        return 0
    done = history.imported_cas(printer.name)
    missing = 0
    for path in printer.ca_certs:
        try:
            certs = x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError):
            continue  # the push's validation names the broken file
        missing += sum(1 for c in certs if fingerprint(c) not in done)
    return missing


class Watcher:
    def __init__(
        self,
        config: Config,
        history: History,
        *,
        settle: float = SETTLE,
    ) -> None:
        if not config.printers:
            raise ValueError("no [[printer]] in the configuration: nothing to watch")
        self.config = config
        self.history = history
        self.settle = settle
        self._wake = {p.name: asyncio.Event() for p in config.printers}
        self._why: dict[str, str] = {}
        self.states: dict[str, State] = {}
        self._retry_in: dict[str, float] = {}
        self._retry_timer: dict[str, asyncio.TimerHandle] = {}

    def wake(self, names: Iterable[str], why: str) -> None:
        for n in names:
            # A file change wins over a pending scheduled wake: it needs the settle pause.
            if why == "files changed" or n not in self._why:
                self._why[n] = why
            self._wake[n].set()

    async def run(self, stop: asyncio.Event) -> None:
        tasks = [
            asyncio.create_task(self._worker(p), name=f"watch {p.name}")
            for p in self.config.printers
        ]
        tasks.append(asyncio.create_task(self._schedule(), name="schedule"))
        tasks.append(asyncio.create_task(self._watch_files(stop), name="files"))
        stopping = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopping:
                    t.result()  # a task that ended on its own has failed: raise it
        finally:
            for t in [stopping, *tasks]:
                t.cancel()
            await asyncio.gather(*tasks, stopping, return_exceptions=True)

    async def _schedule(self) -> None:
        names = [p.name for p in self.config.printers]
        while True:
            self.wake(names, "scheduled check")
            await asyncio.sleep(self.config.check_interval)

    async def _watch_files(self, stop: asyncio.Event) -> None:
        existing, missing = folders_to_watch(self.config.printers)
        for d in missing:
            log.warning("folder %s does not exist: not watched (scheduled checks cover it)", d)
        if not existing:
            await stop.wait()
            return
        log.info("watching %d folder(s) for renewals: %s", len(existing), " ".join(existing))
        by_file = files_of(self.config.printers)
        try:
            # watchfiles' own debounce groups a burst of writes into one batch.
            async for changes in watchfiles.awatch(
                *existing, stop_event=stop, debounce=400, step=50
            ):
                touched = affected(by_file, (changed for _, changed in changes))
                if touched:
                    log.info("files changed for %s", ", ".join(sorted(touched)))
                    self.wake(touched, "files changed")
                    by_file = files_of(self.config.printers)
        except Exception:
            # e.g. the inotify watch limit: degrade to the schedule rather than stop.
            log.exception("watching files failed; renewals are found by scheduled checks only")
        await stop.wait()

    async def _worker(self, printer: PrinterConfig) -> None:
        event = self._wake[printer.name]
        while True:
            await event.wait()
            why = self._why.get(printer.name, "check")
            if why == "files changed":
                await asyncio.sleep(self.settle)
            event.clear()
            self._why.pop(printer.name, None)
            try:
                await self.check(printer, why)
            except Exception:
                # One printer's unexpected failure must not stop the daemon.
                log.exception("%s: check failed", printer.name, extra={"printer": printer.name})
            self._plan_retry(printer.name)

    def _plan_retry(self, name: str) -> None:
        """After a check that found the printer unreachable, check again soon (backoff)."""
        timer = self._retry_timer.pop(name, None)
        if timer is not None:
            timer.cancel()
        if self.states.get(name) is not State.UNREACHABLE:
            self._retry_in.pop(name, None)
            return
        delay = self._retry_in.get(name, UNREACHABLE_RETRY)
        self._retry_in[name] = min(delay * 2, self.config.check_interval)
        if delay < self.config.check_interval:
            loop = asyncio.get_running_loop()
            self._retry_timer[name] = loop.call_later(
                delay, self.wake, [name], f"retry after {delay:g} s unreachable"
            )

    async def check(self, printer: PrinterConfig, why: str = "check") -> PushResult | None:
        """Check one printer, update its gauges, push if it serves something else."""
        status = await check_printer(printer, self.history)
        self._record(status)
        state = status.state
        name = printer.name
        extra = {"printer": name, "state": str(state)}
        missing_cas = _missing_cas(printer, self.history) if status.reachable else 0
        if state in (State.MISMATCH, State.PIN_CHANGED) or (
            missing_cas and state not in (State.UNREACHABLE, State.LOCAL_ERROR)
        ):
            # A changed pin is refused by the push itself, with the re-pin instructions,
            # a history row and a metric: the daemon leaves that decision to it.
            what = str(state) + (
                f", {missing_cas} CA certificate(s) to import" if missing_cas else ""
            )
            log.info("%s: %s (%s): pushing", name, why, what, extra=extra)
            result = await push_printer(
                printer,
                history=self.history,
                retry=Retry(self.config.retry_attempts, self.config.retry_backoff),
                settle=self.config.file_settle,
                config_path=str(self.config.source or "FILE"),
            )
            self._record(await check_printer(printer, self.history))
            return result
        if state is State.PIN_OUTDATED and status.served is not None:
            # Our own certificate (an interrupted push's): the pin follows it.
            self.history.set_pin(name, status.served.fingerprint, "ours")
            log.info("%s: %s: serves our certificate; pin updated", name, why, extra=extra)
        elif state is State.UNREACHABLE:
            log.warning("%s: %s: unreachable: %s", name, why, status.served_error, extra=extra)
        elif state is State.LOCAL_ERROR:
            log.error("%s: %s: %s", name, why, status.local_error, extra=extra)
        elif state in (State.RENEW_DUE, State.EXPIRED):
            log.warning(
                "%s: %s: %s, %.1f days left and no newer certificate on disk: "
                "check the ACME client",
                name,
                why,
                state,
                status.days_left or 0.0,
                extra=extra,
            )
        else:
            log.info(
                "%s: %s: up to date (%.1f days left)", name, why, status.days_left, extra=extra
            )
        return None

    def _record(self, status: PrinterStatus) -> None:
        name = status.name
        self.states[name] = status.state
        metrics.LAST_CHECK.labels(name).set(time.time())
        metrics.REACHABLE.labels(name).set(1 if status.reachable else 0)
        metrics.IN_SYNC.labels(name).set(1 if status.match else 0)
        if status.served is not None:
            metrics.SERVED_NOT_AFTER.labels(name).set(status.served.not_after.timestamp())
