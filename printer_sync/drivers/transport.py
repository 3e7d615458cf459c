"""One HTTP request to a printer, bounded in time and size (a printer may be hostile).

A printer pinned on first contact is trusted by identity, not by behaviour: whatever it
answers is read as a stream and cut at :data:`MAX_ANSWER_BYTES`, and the whole request
(connect, send, headers and every byte of the body) has one deadline, the printer's
``timeout``, instead of httpx's per-read timeout that a one-byte-a-second answer never
trips. Transport failures become named :class:`~printer_sync.errors.PushError` kinds.
"""

from __future__ import annotations

import asyncio
import codecs
from typing import Final

import httpx

from printer_sync.config import PrinterConfig
from printer_sync.errors import ErrorKind, PushError

# Web Config pages weigh a few kilobytes; a megabyte is far beyond any real answer.
MAX_ANSWER_BYTES: Final = 1 << 20


async def read_capped(response: httpx.Response, during: str, limit: int = MAX_ANSWER_BYTES) -> str:
    """The body of a streamed ``response`` as text; more than ``limit`` bytes is an error.

    The body is read chunk by chunk (never as a whole), so a huge answer costs at most
    ``limit`` bytes of memory before it is refused.
    """
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise _too_large(during, limit)
    body = bytearray()
    async for chunk in response.aiter_raw():  # raw: Accept-Encoding is identity anyway
        body += chunk
        if len(body) > limit:
            raise _too_large(during, limit)
    encoding = response.charset_encoding or "utf-8"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "utf-8"
    return bytes(body).decode(encoding, "replace")


def _too_large(during: str, limit: int) -> PushError:
    return PushError(
        ErrorKind.ANSWER_TOO_LARGE,
        f"{during}: the printer's answer exceeds {limit // 1024} KiB; stopped reading "
        "(not a Web Config page)",
    )


async def request(
    client: httpx.AsyncClient,
    printer: PrinterConfig,
    method: str,
    path: str,
    *,
    during: str,
    **kwargs: object,
) -> tuple[int, str]:
    """(status code, body text) of one request, within ``printer.timeout`` in all."""
    try:
        async with asyncio.timeout(printer.timeout):
            async with client.stream(method, path, **kwargs) as response:  # type: ignore[arg-type]
                return response.status_code, await read_capped(response, during)
    except TimeoutError:
        raise PushError(
            ErrorKind.UNREACHABLE,
            f"{during}: no complete answer within {printer.timeout:g} s from {printer.url}",
        ) from None
    except httpx.ConnectError as exc:
        raise _connect_error(printer, during, exc) from None
    except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
        raise PushError(
            ErrorKind.UNREACHABLE, f"{during}: cannot connect to {printer.url} ({exc})"
        ) from None
    except httpx.TimeoutException:
        raise PushError(
            ErrorKind.UNREACHABLE,
            f"{during}: no answer within {printer.timeout:g} s from {printer.url}",
        ) from None
    except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
        raise PushError(
            ErrorKind.CONNECTION_RESET,
            f"{during}: the printer closed the connection ({type(exc).__name__}); "
            "nothing is assumed to have changed",
        ) from None


def _connect_error(printer: PrinterConfig, during: str, exc: httpx.ConnectError) -> PushError:
    if "CERTIFICATE_VERIFY_FAILED" in str(exc) and printer.tls == "system":
        return PushError(
            ErrorKind.TLS_UNTRUSTED,
            f"{during}: the printer's certificate does not verify against the system "
            "CA store for its name; nothing was sent (a self-signed printer needs "
            "tls = 'pin')",
        )
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return PushError(
            ErrorKind.PIN_CHANGED,
            f"{during}: the printer's TLS certificate is not the pinned one; nothing was sent",
        )
    return PushError(ErrorKind.UNREACHABLE, f"{during}: cannot connect to {printer.url} ({exc})")
