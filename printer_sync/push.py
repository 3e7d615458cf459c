"""One push per printer: a small state machine that never reports a false success.

    validate local files → fetch the served certificate (TLS, no SNI) → check the pin
    → equal to ours? skip → log in → import missing CA certificates → upload key + chain
    → wait for the reboot → switch to the CA-signed certificate if the printer was on its
    self-signed one → wait → verify the served fingerprint is ours → record

The steps are the methods of :class:`Push`; :func:`push_printer` runs them under the
printer's ``push_timeout``. The only way to ``verified`` is a fresh TLS handshake that
shows the new fingerprint after any announced reboot was seen. Every push writes a
``running`` history row before it sends anything, with the fingerprints it is about to
send (crash-safe: an interrupted push still names its certificate, which therefore never
counts as a pin change), and ends with the outcome, the error kind and a sentence for the
operator.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from edgeward.logs import get_logger
from edgeward.pki import fingerprint, fingerprint_der
from printer_sync import metrics
from printer_sync.config import Config, PrinterConfig
from printer_sync.drivers.base import Driver, DriverStatus
from printer_sync.drivers.registry import resolve_driver
from printer_sync.errors import ErrorKind, PushError
from printer_sync.history import INTERRUPTED, History
from printer_sync.reboot import start_witness, stop_witness, wait_for_certificate
from printer_sync.trust import Served, check_pin, fetch_served
from printer_sync.validate import Bundle, load_bundle

log = get_logger("printer_sync.push")

Outcome = Literal["verified", "skipped_unchanged", "dry_run", "failed"]
Progress = Callable[[str, str], None]  # (printer name, what happens now)
T = TypeVar("T")

MAX_CONCURRENT: Final = 32


@dataclass(frozen=True)
class Retry:
    attempts: int = 3
    backoff: float = 2.0  # seconds before the first retry, doubled each time


@dataclass(frozen=True)
class PushResult:
    printer: str
    outcome: Outcome
    error: ErrorKind | None
    message: str
    old_fingerprint: str | None
    new_fingerprint: str | None
    duration: float

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    @property
    def result_label(self) -> str:
        """The ``result`` label of the push counter: the outcome, or the error kind."""
        return str(self.error) if self.error is not None else self.outcome

    def as_dict(self) -> dict[str, object]:
        return {
            "printer": self.printer,
            "outcome": self.outcome,
            "result": self.result_label,
            "error": None if self.error is None else str(self.error),
            "message": self.message,
            "old_fingerprint": self.old_fingerprint,
            "new_fingerprint": self.new_fingerprint,
            "duration": round(self.duration, 3),
        }


def normalise_fingerprint(text: str) -> str:
    hexdigits = "".join(c for c in text if c.isalnum()).upper()
    if len(hexdigits) != 64 or any(c not in "0123456789ABCDEF" for c in hexdigits):
        raise ValueError(f"{text!r} is not a SHA-256 fingerprint (64 hex digits)")
    return ":".join(hexdigits[i : i + 2] for i in range(0, 64, 2))


# OpenSSL's X509_V_FLAG_NO_CHECK_TIME (not exported by the ssl module): a pinned
# certificate is trusted by identity, and an expired printer certificate is exactly what
# a push replaces.
_NO_CHECK_TIME: Final = 0x200000


def pinned_context(certs: Sequence[x509.Certificate]) -> ssl.SSLContext:
    """A TLS client context that completes a handshake only with one of ``certs``.

    The pinned certificates are the only trust anchors (partial chains allowed), so a
    server without one of their private keys fails the handshake, before any request
    (and the password in it) is sent.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # printers are reached by IP; the pin is the identity
    ctx.verify_mode = ssl.CERT_REQUIRED
    pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)
    ctx.load_verify_locations(cadata=pem)
    ctx.verify_flags = ctx.verify_flags | ssl.VERIFY_X509_PARTIAL_CHAIN | _NO_CHECK_TIME
    return ctx


def _client(printer: PrinterConfig, pinned: Sequence[x509.Certificate]) -> httpx.AsyncClient:
    """An HTTP client for ``printer``; in pin mode it talks only to a pinned certificate.

    The handshake refuses any other certificate (nothing is sent), and every response is
    checked once more for the exact fingerprint.
    """
    allowed = {fingerprint(c) for c in pinned}
    if printer.tls == "system":
        ctx = ssl.create_default_context()
    elif printer.tls == "pin":
        ctx = pinned_context(pinned)
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE

    async def check_peer(response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        tls = stream.get_extra_info("ssl_object") if stream is not None else None
        der = tls.getpeercert(binary_form=True) if tls is not None else None
        if der is None:
            raise PushError(ErrorKind.TLS_UNTRUSTED, "the printer answered without TLS")
        served_fp = fingerprint_der(der)
        if served_fp not in allowed:
            raise PushError(
                ErrorKind.PIN_CHANGED,
                f"the printer's TLS certificate changed during the push ({served_fp}); stopped",
            )

    hooks = {"response": [check_peer]} if printer.tls == "pin" else {}
    base = printer.url if printer.url.endswith("/") else printer.url + "/"
    return httpx.AsyncClient(
        base_url=base,
        verify=ctx,
        timeout=printer.timeout,
        follow_redirects=False,
        event_hooks=hooks,
        # identity: a compressed answer could inflate past the size cap within one chunk.
        headers={"User-Agent": "printer-sync (edgeward)", "Accept-Encoding": "identity"},
    )


async def _retrying(
    what: Callable[[], Awaitable[T]], retry: Retry, say: Callable[[str], None]
) -> T:
    delay = retry.backoff
    for attempt in range(1, retry.attempts + 1):
        try:
            return await what()
        except PushError as exc:
            if not exc.retryable or attempt == retry.attempts:
                raise
            say(f"{exc.kind}; retrying in {delay:g} s ({attempt}/{retry.attempts})")
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


async def _session(
    printer: PrinterConfig,
    driver_cls: type[Driver],
    pinned: Sequence[x509.Certificate],
    step: Callable[[Driver], Awaitable[T]],
) -> T:
    """Log in on a fresh client (sessions do not survive reboots) and run ``step``."""
    async with _client(printer, pinned) as client:
        driver = driver_cls(printer, client)
        await driver.login()
        return await step(driver)


@dataclass(frozen=True)
class PushOptions:
    dry_run: bool = False
    force: bool = False
    retry: Retry = Retry()
    settle: float = 5.0
    repin: str | None = None
    config_path: str = "FILE"


class Finished(Exception):
    """A step decided the outcome early (skipped_unchanged, dry_run)."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


class Push:
    """One push to one printer, as named steps that share what earlier steps found.

    ``run`` chains them: :meth:`validate` → :meth:`fetch` → :meth:`trust` → :meth:`plan`
    → :meth:`upload` (log in, CA imports, key + chain, await the reboot) → :meth:`switch`
    (log in, self-signed → CA-signed, await the reboot) → :meth:`verify`. :meth:`record`
    is the one place an outcome becomes a history row, a metric and a log line.
    """

    def __init__(
        self,
        printer: PrinterConfig,
        history: History,
        options: PushOptions,
        progress: Progress | None = None,
    ) -> None:
        self.printer = printer
        self.history = history
        self.options = options
        self.progress = progress
        self.started = time.monotonic()
        self.row = None if options.dry_run else history.start(printer.name)
        self.old_fp: str | None = None
        self.new_fp: str | None = None
        self.sent = False  # something reached the printer (the duration metric counts)
        self.driver_cls: type[Driver] | None = None
        self.bundle: Bundle | None = None
        self.served: Served | None = None
        self.missing_cas: list[x509.Certificate] = []

    def say(self, message: str) -> None:
        # A CLI shows progress itself; a daemon has only its log.
        name = self.printer.name
        level = log.debug if self.progress is not None else log.info
        level("%s: %s", name, message, extra={"printer": name})
        if self.progress is not None:
            self.progress(name, message)

    async def run(self) -> tuple[Outcome, str]:
        try:
            await self.validate()
            await self.fetch()
            self.trust()
            self.plan()
        except Finished as early:
            return early.outcome, early.message
        was_ca_signed = await self.upload()
        if not was_ca_signed:
            await self.switch()
        return "verified", await self.verify()

    async def validate(self) -> None:
        """The driver, then the local key, certificate and chain (nothing is sent)."""
        self.driver_cls = await resolve_driver(self.printer)
        self.say("validating local files")
        self.bundle = await load_bundle(
            self.printer, self.driver_cls.limits, settle=self.options.settle
        )
        self.new_fp = self.bundle.fingerprint

    async def fetch(self) -> None:
        """What the printer serves now (a TLS handshake, no SNI)."""
        self.say("fetching the served certificate")
        printer = self.printer
        self.served = await _retrying(lambda: fetch_served(printer), self.options.retry, self.say)
        self.old_fp = self.served.fingerprint
        if printer.tls == "insecure":
            log.warning("%s: tls = insecure: the printer's identity is not checked", printer.name)

    def trust(self) -> None:
        """``--repin``, then the pin (a certificate of ours is never a pin change)."""
        assert self.old_fp is not None
        name, old_fp, record = self.printer.name, self.old_fp, not self.options.dry_run
        if self.options.repin is not None:
            try:
                wanted = normalise_fingerprint(self.options.repin)
            except ValueError as exc:
                raise PushError(ErrorKind.PIN_CHANGED, f"--repin: {exc}") from None
            if wanted != old_fp:
                raise PushError(
                    ErrorKind.PIN_CHANGED,
                    f"--repin {wanted} does not match what {name} serves ({old_fp}); nothing sent",
                )
            if record:
                self.history.set_pin(name, old_fp, "operator")
        check_pin(
            self.printer,
            self.history,
            old_fp,
            ours=self.new_fp,
            config_path=self.options.config_path,
            record=record,
        )

    def plan(self) -> None:
        """What must be sent: nothing (skip), a dry run's report, or CAs and/or the chain."""
        assert self.bundle is not None
        done = self.history.imported_cas(self.printer.name)
        self.missing_cas = [c for c in self.bundle.ca_certs if fingerprint(c) not in done]
        if self.old_fp == self.new_fp and not self.missing_cas and not self.options.force:
            raise Finished("skipped_unchanged", f"already serves {self.new_fp}")
        if self.options.dry_run:
            n = len(self.missing_cas)
            extra = f"; would import {n} CA certificate(s)" if n else ""
            raise Finished(
                "dry_run", f"would upload {self.new_fp} in place of {self.old_fp}{extra}"
            )
        if self.row is not None and self.new_fp is not None:  # before anything is sent
            self.history.note(self.row, old_fingerprint=self.old_fp, new_fingerprint=self.new_fp)

    @property
    def uploads_chain(self) -> bool:
        # Only CA certificates missing: import them, leave the served certificate be.
        return self.old_fp != self.new_fp or self.options.force

    async def _in_session(self, step: Callable[[Driver], Awaitable[T]]) -> T:
        assert self.driver_cls is not None and self.served is not None and self.bundle
        pinned = [self.served.cert, self.bundle.leaf]
        return await _retrying(
            lambda: _session(self.printer, self.driver_cls, pinned, step),  # type: ignore[arg-type]
            self.options.retry,
            self.say,
        )

    async def upload(self) -> bool:
        """Log in, import missing CAs, upload key + chain, await the reboot.

        Returns whether the printer was already on its CA-signed certificate."""
        return await self._in_session(self._upload_step)

    async def _upload_step(self, driver: Driver) -> bool:
        st = await driver.status()
        for ca in self.missing_cas:
            await self._import_ca(driver, ca, st)
        if not self.uploads_chain:
            return True
        assert self.bundle is not None
        self.say(f"uploading key and {1 + len(self.bundle.chain)} certificate(s)")
        self.sent = True
        expect = self.new_fp if st.uses_ca_signed else None
        await self._await_reboot(lambda: driver.upload_chain(self.bundle), expect)  # type: ignore[arg-type]
        return st.uses_ca_signed

    async def _import_ca(self, driver: Driver, ca: x509.Certificate, st: DriverStatus) -> None:
        name = self.printer.name
        if fingerprint(ca) in st.ca_fingerprints:
            self.history.record_ca(name, fingerprint(ca))
            return
        self.say(f"importing CA certificate {ca.subject.rfc4514_string()}")
        self.sent = True
        if await self._await_reboot(lambda: driver.import_ca(ca), None):
            await driver.login()  # the session did not survive the reboot
        self.history.record_ca(name, fingerprint(ca))

    async def _await_reboot(
        self, change: Callable[[], Awaitable[bool]], expect: str | None
    ) -> bool:
        """Send ``change`` with a witness connection open, then wait out what it caused;
        whether the printer rebooted."""
        witness = await start_witness(self.printer)  # opened before the request that reboots
        try:
            reboots = await change()
            self.say("the printer restarts" if reboots else "the printer applied the change")
            if expect is not None or reboots:
                await wait_for_certificate(
                    self.printer,
                    expect=expect,
                    within=self.printer.reboot_timeout,
                    said_reboot=reboots,
                    say=self.say,
                    witness=witness,
                )
            return reboots
        finally:
            await stop_witness(witness)

    async def switch(self) -> None:
        """Log in again and move from the self-signed to the CA-signed certificate."""
        self.say("switching from the self-signed to the CA-signed certificate")

        async def step(driver: Driver) -> None:
            await self._await_reboot(driver.use_ca_signed, self.new_fp)

        await self._in_session(step)

    async def verify(self) -> str:
        """The verification, never skipped: a fresh handshake must show our fingerprint."""
        assert self.bundle is not None
        final = await fetch_served(self.printer)
        if final.fingerprint != self.new_fp:
            raise PushError(
                ErrorKind.OLD_CERTIFICATE,
                f"the printer serves {final.fingerprint}, not the pushed {self.new_fp}",
            )
        if self.printer.tls == "pin":
            self.history.set_pin(self.printer.name, final.fingerprint, "pushed")
        n = len(self.missing_cas)
        what = "" if self.uploads_chain else f"imported {n} CA certificate(s); "
        return f"{what}serves {self.new_fp} (valid until {self.bundle.not_after:%Y-%m-%d})"

    def record(self, outcome: Outcome, message: str, error: ErrorKind | None = None) -> PushResult:
        """The one place an outcome is written: history row, metrics, log line."""
        name = self.printer.name
        duration = time.monotonic() - self.started
        result = PushResult(name, outcome, error, message, self.old_fp, self.new_fp, duration)
        if self.row is not None:
            self.history.finish(
                self.row,
                outcome,
                old_fingerprint=self.old_fp,
                new_fingerprint=self.new_fp,
                error=str(error) if error else None,
                message=message,
            )
        metrics.PUSH_TOTAL.labels(name, result.result_label).inc()
        if self.sent:
            metrics.PUSH_DURATION.labels(name).observe(duration)
        if outcome in ("verified", "skipped_unchanged"):
            metrics.PUSH_LAST_SUCCESS.labels(name).set_to_current_time()
        level = log.warning if outcome == "failed" else log.info
        level(
            "%s: %s: %s",
            name,
            result.result_label,
            message,
            extra={"printer": name, "result": result.result_label, "duration": duration},
        )
        return result

    def interrupted(self) -> None:
        if self.row is not None:
            self.history.finish(
                self.row, INTERRUPTED, message="the push was cancelled before it finished"
            )


async def push_printer(
    printer: PrinterConfig,
    *,
    history: History,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    retry: Retry = Retry(),
    settle: float = 5.0,
    repin: str | None = None,
    config_path: str = "FILE",
) -> PushResult:
    """Run one :class:`Push` within ``printer.push_timeout``; never raises but on cancel."""
    options = PushOptions(dry_run, force, retry, settle, repin, config_path)
    push = Push(printer, history, options, progress)
    deadline = metrics.PUSH_DEADLINE.labels(printer.name)
    deadline.set(time.time() + printer.push_timeout)
    within = asyncio.timeout(printer.push_timeout)
    try:
        async with within:
            outcome, message = await push.run()
        return push.record(outcome, message)
    except PushError as exc:
        return push.record("failed", exc.message, exc.kind)
    except asyncio.CancelledError:
        push.interrupted()
        raise
    except Exception as exc:
        if isinstance(exc, TimeoutError) and within.expired():
            message = f"not finished within push_timeout = {printer.push_timeout:g} s; stopped"
            return push.record("failed", message, ErrorKind.PUSH_TIMEOUT)
        log.exception("%s: unexpected error", printer.name)
        return push.record("failed", f"unexpected error: {type(exc).__name__}", ErrorKind.INTERNAL)
    finally:
        deadline.set(0)


async def push_all(
    config: Config,
    names: Sequence[str] | None = None,
    *,
    dry_run: bool = False,
    force: bool = False,
    progress: Progress | None = None,
    repin: str | None = None,
    history: History | None = None,
) -> list[PushResult]:
    """Push every named printer (all when ``names`` is None) concurrently, in config order."""
    printers = [config.printer(n) for n in names] if names else list(config.printers)
    retry = Retry(config.retry_attempts, config.retry_backoff)
    limit = asyncio.Semaphore(MAX_CONCURRENT)
    own = history is None
    # A dry run writes nothing: no state folder, no database if there is none yet.
    fresh = dry_run and not config.db_path.exists()
    db = history or History(":memory:" if fresh else config.db_path)
    source = str(config.source) if config.source else "FILE"

    async def one(p: PrinterConfig) -> PushResult:
        async with limit:
            return await push_printer(
                p,
                history=db,
                dry_run=dry_run,
                force=force,
                progress=progress,
                retry=retry,
                settle=config.file_settle,
                repin=repin,
                config_path=source,
            )

    try:
        return list(await asyncio.gather(*(one(p) for p in printers)))
    finally:
        if own:
            db.close()
