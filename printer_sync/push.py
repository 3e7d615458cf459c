"""One push per printer: a small state machine that never reports a false success.

    validate local files → fetch the served certificate (TLS, no SNI) → check the pin
    → equal to ours? skip → log in → import missing CA certificates → upload key + chain
    → wait for the reboot → switch to the CA-signed certificate if the printer was on its
    self-signed one → wait → verify the served fingerprint is ours → record

The only way to ``verified`` is a TLS handshake that shows the new fingerprint. Every
push writes a ``running`` history row before it sends anything (crash-safe), and ends
with the outcome, the error kind and a sentence for the operator.
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
from printer_sync.drivers.base import Driver
from printer_sync.drivers.registry import resolve_driver
from printer_sync.errors import ErrorKind, PushError
from printer_sync.history import INTERRUPTED, History
from printer_sync.reboot import start_witness, stop_witness, wait_for_certificate
from printer_sync.trust import check_pin, fetch_served
from printer_sync.validate import load_bundle

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
        headers={"User-Agent": "printer-sync (edgeward)"},
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
    started = time.monotonic()
    name = printer.name

    def say(message: str) -> None:
        # A CLI shows progress itself; a daemon has only its log.
        level = log.debug if progress is not None else log.info
        level("%s: %s", name, message, extra={"printer": name})
        if progress is not None:
            progress(name, message)

    row = None if dry_run else history.start(name)
    old_fp: str | None = None
    new_fp: str | None = None
    sent = False

    def done(outcome: Outcome, message: str, error: ErrorKind | None = None) -> PushResult:
        duration = time.monotonic() - started
        result = PushResult(name, outcome, error, message, old_fp, new_fp, duration)
        if row is not None:
            history.finish(
                row,
                outcome,
                old_fingerprint=old_fp,
                new_fingerprint=new_fp,
                error=str(error) if error else None,
                message=message,
            )
        metrics.PUSH_TOTAL.labels(name, result.result_label).inc()
        if sent:
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

    try:
        driver_cls = await resolve_driver(printer)
        say("validating local files")
        bundle = await load_bundle(printer, driver_cls.limits, settle=settle)
        new_fp = bundle.fingerprint
        say("fetching the served certificate")
        served = await _retrying(lambda: fetch_served(printer), retry, say)
        old_fp = served.fingerprint
        if printer.tls == "insecure":
            log.warning("%s: tls = insecure: the printer's identity is not checked", name)
        if repin is not None:
            try:
                wanted = normalise_fingerprint(repin)
            except ValueError as exc:
                raise PushError(ErrorKind.PIN_CHANGED, f"--repin: {exc}") from None
            if wanted != old_fp:
                raise PushError(
                    ErrorKind.PIN_CHANGED,
                    f"--repin {wanted} does not match what {name} serves ({old_fp}); nothing sent",
                )
            if not dry_run:
                history.set_pin(name, old_fp, "operator")
        check_pin(
            printer, history, old_fp, ours=new_fp, config_path=config_path, record=not dry_run
        )
        missing_cas = [
            c for c in bundle.ca_certs if fingerprint(c) not in history.imported_cas(name)
        ]
        if old_fp == new_fp and not missing_cas and not force:
            return done("skipped_unchanged", f"already serves {new_fp}")
        if dry_run:
            extra = f"; would import {len(missing_cas)} CA certificate(s)" if missing_cas else ""
            return done("dry_run", f"would upload {new_fp} in place of {old_fp}{extra}")

        pinned = [served.cert, bundle.leaf]
        reboot_timeout = printer.reboot_timeout
        # Only CA certificates are missing: import them, leave the served certificate be.
        upload = old_fp != new_fp or force

        async def prepare(driver: Driver) -> bool:
            nonlocal sent
            st = await driver.status()
            for ca in missing_cas:
                if fingerprint(ca) in st.ca_fingerprints:
                    history.record_ca(name, fingerprint(ca))
                    continue
                say(f"importing CA certificate {ca.subject.rfc4514_string()}")
                sent = True
                if await driver.import_ca(ca):
                    await wait_for_certificate(
                        printer, expect=None, within=reboot_timeout, said_reboot=True, say=say
                    )
                    await driver.login()
                history.record_ca(name, fingerprint(ca))
            if not upload:
                return True
            say(f"uploading key and {1 + len(bundle.chain)} certificate(s)")
            sent = True
            witness = await start_witness(printer)  # opened before the request that reboots
            try:
                reboots = await driver.upload_chain(bundle)
                say("the printer restarts" if reboots else "the printer applied the certificate")
                if st.uses_ca_signed or reboots:
                    await wait_for_certificate(
                        printer,
                        expect=new_fp if st.uses_ca_signed else None,
                        within=reboot_timeout,
                        said_reboot=reboots,
                        say=say,
                        witness=witness,
                    )
            finally:
                await stop_witness(witness)
            return st.uses_ca_signed

        was_ca_signed = await _retrying(
            lambda: _session(printer, driver_cls, pinned, prepare), retry, say
        )
        if not was_ca_signed:
            say("switching from the self-signed to the CA-signed certificate")

            async def switch(driver: Driver) -> None:
                witness = await start_witness(printer)
                try:
                    reboots = await driver.use_ca_signed()
                    await wait_for_certificate(
                        printer,
                        expect=new_fp,
                        within=reboot_timeout,
                        said_reboot=reboots,
                        say=say,
                        witness=witness,
                    )
                finally:
                    await stop_witness(witness)

            await _retrying(lambda: _session(printer, driver_cls, pinned, switch), retry, say)
        # The verification, never skipped: one more handshake must show our fingerprint.
        final = await fetch_served(printer)
        if final.fingerprint != new_fp:
            raise PushError(
                ErrorKind.OLD_CERTIFICATE,
                f"the printer serves {final.fingerprint}, not the pushed {new_fp}",
            )
        if printer.tls == "pin":
            history.set_pin(name, new_fp, "pushed")
        what = "" if upload else f"imported {len(missing_cas)} CA certificate(s); "
        return done("verified", f"{what}serves {new_fp} (valid until {bundle.not_after:%Y-%m-%d})")
    except PushError as exc:
        return done("failed", exc.message, exc.kind)
    except asyncio.CancelledError:
        if row is not None:
            history.finish(row, INTERRUPTED, message="the push was cancelled before it finished")
        raise
    except Exception as exc:
        log.exception("%s: unexpected error", name)
        return done("failed", f"unexpected error: {type(exc).__name__}", ErrorKind.INTERNAL)


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
    db = history or History(config.db_path)
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
