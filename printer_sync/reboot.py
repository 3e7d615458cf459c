"""Waiting out a printer's reboot, and proving which certificate it serves afterwards.

A printer that answered "Shutting down" is not done until it went down and came back;
polls alone can miss a short reboot, so an idle TLS connection held open meanwhile
serves as a second witness (a reboot drops it). Back up with another certificate than
the expected one, it gets :data:`BACK_UP_GRACE` seconds, then ``old_certificate``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from typing import Final

from printer_sync.config import PrinterConfig
from printer_sync.errors import ErrorKind, PushError
from printer_sync.trust import Served, fetch_served

# After a reboot, a printer may need a moment before it serves its final certificate.
BACK_UP_GRACE: Final = 2.0
POLL_INTERVAL: Final = 0.1
PROGRESS_EVERY: Final = 15.0  # seconds between "still waiting" lines
CANARY_WINDOW: Final = 10.0  # a reboot follows "Shutting down" within seconds


async def wait_for_certificate(
    printer: PrinterConfig,
    *,
    expect: str | None,
    within: float,
    said_reboot: bool,
    say: Callable[[str], None] | None = None,
    witness: asyncio.Task[None] | None = None,
) -> Served:
    """Poll the served certificate until ``expect`` shows (or, if None, until back up).

    A printer that announced a reboot must first be seen going down (a failed handshake,
    or the ``witness`` connection dropped), whatever it serves meanwhile; one that comes back
    with another certificate gets :data:`BACK_UP_GRACE` seconds, then ``old_certificate``.
    Never seen back within ``within``: ``reboot_timeout``.
    """
    started = time.monotonic()
    deadline = started + within
    # A short reboot can fall between two polls; the connection it drops cannot.
    canary = witness if said_reboot else None
    if canary is None and said_reboot:
        canary = await start_witness(printer)
    try:
        return await _poll(printer, expect, within, said_reboot, say, started, deadline, canary)
    finally:
        for task in (canary, witness):
            await stop_witness(task)


async def stop_witness(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def start_witness(printer: PrinterConfig) -> asyncio.Task[None]:
    """Open an idle TLS connection to the printer now (before the request that reboots it);
    the returned task ends when the printer refuses or drops it."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # only the connection's life matters here
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None
    try:
        connection = await asyncio.wait_for(
            asyncio.open_connection(printer.host, printer.port, ssl=ctx, server_hostname=""),
            printer.timeout,
        )
    except (OSError, ssl.SSLError, TimeoutError):
        connection = None  # refused already: the task ends at once
    return asyncio.create_task(_hold(connection))


async def _hold(connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if connection is None:
        return
    reader, writer = connection
    try:
        await reader.read()  # b"" at EOF; an exception on a reset
    except (OSError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def _poll(
    printer: PrinterConfig,
    expect: str | None,
    within: float,
    said_reboot: bool,
    say: Callable[[str], None] | None,
    started: float,
    deadline: float,
    canary: asyncio.Task[None] | None,
) -> Served:
    saw_down = False
    back_since: float | None = None
    last: Served | None = None
    next_note = started + PROGRESS_EVERY
    while True:
        now = time.monotonic()
        remaining = deadline - now
        if remaining <= 0:
            break
        if say is not None and now >= next_note:
            state = "down" if last is None else "up, old certificate"
            say(f"waiting for the printer: {state} after {now - started:.0f} s of {within:g}")
            next_note = now + PROGRESS_EVERY
        # (Only early drops count: an idle connection may also time out, much later.)
        if canary is not None and canary.done() and not saw_down and now - started < CANARY_WINDOW:
            if say is not None:
                say("the printer dropped its connections (restarting)")
            saw_down, back_since, last = True, None, None
        try:
            served = await fetch_served(printer, timeout=max(0.2, min(2.0, remaining)))
        except PushError:
            if not saw_down and say is not None:
                say("the printer is down (restarting)")
            saw_down, back_since, last = True, None, None
        else:
            if saw_down and last is None and say is not None:
                say(f"the printer is back after {time.monotonic() - started:.1f} s")
            last = served
            # An announced reboot proves nothing until the printer was seen down: before
            # it, the old certificate answers (the same one, under --force).
            if saw_down or not said_reboot:
                if expect is None or served.fingerprint == expect:
                    return served
                back_since = back_since or time.monotonic()
                if time.monotonic() - back_since >= BACK_UP_GRACE:
                    break
        # Quick polls for quick reboots, then at most one per second (a real one takes ~1 min).
        await asyncio.sleep(min(1.0, POLL_INTERVAL + (time.monotonic() - started) / 20))
    if last is None:
        raise PushError(
            ErrorKind.REBOOT_TIMEOUT,
            f"the printer did not come back within {within:g} s (reboot_timeout)",
        )
    if said_reboot and not saw_down:
        raise PushError(
            ErrorKind.REBOOT_TIMEOUT,
            f"the printer announced a restart but did not restart within {within:g} s",
        )
    raise PushError(
        ErrorKind.OLD_CERTIFICATE,
        f"the printer is up but serves {last.fingerprint} ({last.subject}), not the pushed "
        f"{expect}: it did not take the new certificate",
    )
