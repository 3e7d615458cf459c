"""What each printer serves compared with what is on disk, without changing anything.

One check per printer, all printers at once: a TLS handshake by IP without SNI (what the
printer's own clients do) for the served certificate, the first certificate of the local
``cert`` file, the pin and the last push from the history file. ``status`` prints the
result; ``watch`` uses the same check to decide whether to push and to feed its gauges.

A check never writes: it does not pin on first use (``push`` does) and it does not create
the history file when there is none yet.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from edgeward.pki import fingerprint
from printer_sync.config import Config, PrinterConfig
from printer_sync.errors import PushError
from printer_sync.history import History, HistoryRow
from printer_sync.trust import fetch_served


class State(enum.StrEnum):
    """The verdict for one printer; the first four make ``status`` exit 1."""

    UNREACHABLE = "unreachable"  # no TLS answer
    LOCAL_ERROR = "local_error"  # the local certificate cannot be read
    PIN_CHANGED = "pin_changed"  # serves neither the pinned nor our certificate
    MISMATCH = "mismatch"  # serves another certificate than the local one
    EXPIRED = "expired"  # serves our certificate, and it has expired
    # Serves our certificate, but the pin names another one (a push interrupted during
    # the reboot): the next push re-pins it; not "ok" while served and pinned differ.
    PIN_OUTDATED = "pin_outdated"
    RENEW_DUE = "renew_due"  # in sync, fewer than renew_before_days left: the ACME client's turn
    OK = "ok"


FAILING = frozenset(
    {State.UNREACHABLE, State.LOCAL_ERROR, State.PIN_CHANGED, State.MISMATCH, State.EXPIRED}
)


@dataclass(frozen=True)
class CertSummary:
    subject: str
    issuer: str
    not_after: dt.datetime
    fingerprint: str

    @classmethod
    def of(cls, cert: x509.Certificate) -> CertSummary:
        return cls(
            cert.subject.rfc4514_string(),
            cert.issuer.rfc4514_string(),
            cert.not_valid_after_utc,
            fingerprint(cert),
        )

    def days_left(self, now: dt.datetime) -> float:
        return (self.not_after - now).total_seconds() / 86400

    def as_dict(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "not_after": self.not_after.isoformat(),
            "days_left": round(self.days_left(now), 2),
            "fingerprint": self.fingerprint,
        }


@dataclass(frozen=True)
class PrinterStatus:
    name: str
    url: str
    renew_before_days: int
    checked_at: dt.datetime
    served: CertSummary | None
    served_error: str | None
    tls_version: str | None
    local: CertSummary | None
    local_error: str | None
    pin: str | None
    last_push: HistoryRow | None
    served_pushed: bool = False  # one of our pushes carried the served certificate

    @property
    def served_ours(self) -> bool:
        """The served certificate is the local one or one we pushed: never a pin change."""
        return bool(self.match) or self.served_pushed

    @property
    def reachable(self) -> bool:
        return self.served is not None

    @property
    def match(self) -> bool | None:
        """Whether the printer serves the local certificate (None: one side unknown)."""
        if self.served is None or self.local is None:
            return None
        return self.served.fingerprint == self.local.fingerprint

    @property
    def days_left(self) -> float | None:
        """Days left on what clients see: the served certificate, else the local one."""
        cert = self.served or self.local
        return cert.days_left(self.checked_at) if cert else None

    @property
    def state(self) -> State:
        if self.served is None:
            return State.UNREACHABLE
        if self.local is None:
            return State.LOCAL_ERROR
        ours = self.served.fingerprint == self.local.fingerprint
        pinned = self.pin is None or self.served.fingerprint == self.pin
        if not pinned and not self.served_ours:
            return State.PIN_CHANGED
        if not ours:
            return State.MISMATCH
        days = self.served.days_left(self.checked_at)
        if days < 0:
            return State.EXPIRED
        if days < self.renew_before_days:
            return State.RENEW_DUE
        if not pinned:
            return State.PIN_OUTDATED
        return State.OK

    def as_dict(self) -> dict[str, Any]:
        now = self.checked_at
        push = self.last_push
        return {
            "name": self.name,
            "url": self.url,
            "state": str(self.state),
            "checked_at": now.isoformat(),
            "reachable": self.reachable,
            "match": self.match,
            "days_left": None if self.days_left is None else round(self.days_left, 2),
            "renew_before_days": self.renew_before_days,
            "served": self.served.as_dict(now) if self.served else None,
            "served_error": self.served_error,
            "tls_version": self.tls_version,
            "local": self.local.as_dict(now) if self.local else None,
            "local_error": self.local_error,
            "pin": self.pin,
            "last_push": None
            if push is None
            else {
                "result": push.result,
                "started": dt.datetime.fromtimestamp(push.started, dt.UTC).isoformat(),
                "duration": push.duration,
                "error": push.error,
                "message": push.message,
                "fingerprint": push.new_fingerprint,
            },
        }


def read_local(path: Path) -> CertSummary:
    """The first certificate of a PEM file (the leaf of a cert or fullchain file)."""
    data = path.read_bytes()
    certs = x509.load_pem_x509_certificates(data)
    return CertSummary.of(certs[0])


def _local(printer: PrinterConfig) -> tuple[CertSummary | None, str | None]:
    try:
        return read_local(printer.cert), None
    except FileNotFoundError:
        return None, f"{printer.cert}: no such file"
    except (OSError, ValueError) as exc:
        return None, f"{printer.cert}: not a PEM certificate ({exc})"


async def check_printer(
    printer: PrinterConfig,
    history: History | None,
    *,
    handshake_timeout: float | None = None,
    now: dt.datetime | None = None,
) -> PrinterStatus:
    """One printer's status: a handshake, a file read and two history lookups."""
    served: CertSummary | None = None
    served_error: str | None = None
    version: str | None = None
    try:
        got = await fetch_served(printer, timeout=handshake_timeout)
    except PushError as exc:
        served_error = exc.message
    else:
        served, version = CertSummary.of(got.cert), got.tls_version
    local, local_error = _local(printer)
    pin = history.pin(printer.name) if history is not None and printer.tls == "pin" else None
    last = history.last(printer.name) if history is not None else None
    pushed = (
        served is not None
        and history is not None
        and history.pushed(printer.name, served.fingerprint)
    )
    return PrinterStatus(
        name=printer.name,
        url=printer.url,
        renew_before_days=printer.renew_before_days,
        checked_at=now or dt.datetime.now(dt.UTC),
        served=served,
        served_error=served_error,
        tls_version=version,
        local=local,
        local_error=local_error,
        pin=pin.fingerprint if pin else None,
        last_push=last,
        served_pushed=pushed,
    )


def open_history(config: Config) -> History | None:
    """The history file if it exists: a status check must not create state."""
    return History(config.db_path) if config.db_path.exists() else None


async def check_all(
    config: Config,
    names: list[str] | None = None,
    *,
    handshake_timeout: float | None = None,
    history: History | None = None,
) -> list[PrinterStatus]:
    """Every (or the named) printer's status, concurrently, in configuration order."""
    printers = [config.printer(n) for n in names] if names else list(config.printers)
    owned = history is None
    hist = open_history(config) if owned else history
    try:
        return list(
            await asyncio.gather(
                *(check_printer(p, hist, handshake_timeout=handshake_timeout) for p in printers)
            )
        )
    finally:
        if owned and hist is not None:
            hist.close()


def widen_executor(loop: asyncio.AbstractEventLoop, printers: int) -> ThreadPoolExecutor:
    """Give the loop one handshake thread per printer (up to 64).

    Handshakes run in threads (``edgeward.pki`` is blocking); the default pool has
    ``cpu + 4`` threads, so on 2 cores six silent printers would delay every other check
    by a full timeout. Call once at the start of a command's event loop.
    """
    executor = ThreadPoolExecutor(max_workers=max(8, min(64, printers)), thread_name_prefix="tls")
    loop.set_default_executor(executor)
    return executor


def quiet_libraries() -> None:
    """Keep library chatter out of a daemon's or a hook's log unless debugging.

    httpx logs every request and watchfiles every batch of changes at INFO; the push and
    watch log lines already say what happened, per printer, in greppable form.
    """
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in ("httpx", "watchfiles"):
            logging.getLogger(name).setLevel(logging.WARNING)
