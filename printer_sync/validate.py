"""Local checks before anything is sent to a printer.

A printer that receives a broken bundle may lose its working certificate until someone
walks over with a laptop, so everything that can be checked here is: the key matches the
leaf, the leaf is valid now, the chain is in order and each link verifies, the chain
fits the driver's slots, and the key is a type and size the driver accepts.

Certificates renew while we read them: an ACME client writes key and certificate one
after the other, and a writer may be caught mid-file. :func:`load_bundle` therefore
re-reads after a short pause until the files are parseable *and* unchanged between two
reads, and gives up after ``settle`` seconds with ``file_incomplete`` (or ``key_mismatch``
when the key and the certificate still disagree): a half-written file is waited out,
never pushed. A key and certificate that disagree while neither changed for ``settle``
seconds are no renewal in progress: ``key_mismatch`` at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from edgeward.pki import fingerprint
from printer_sync.config import PrinterConfig
from printer_sync.errors import ErrorKind, PushError

_BEGIN = b"-----BEGIN "
_END = b"-----END "


@dataclass(frozen=True)
class Limits:
    """What a driver's printers accept."""

    slots: int = 3  # leaf + intermediates
    rsa_bits: tuple[int, int] = (2048, 4096)
    ecdsa: bool = False
    hint: str = ""  # how to get an acceptable key, shown with a refusal


@dataclass(frozen=True)
class Bundle:
    """A validated key + leaf + chain, ready to upload."""

    key_pem: bytes = field(repr=False)
    leaf: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    ca_certs: tuple[x509.Certificate, ...]

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.leaf)

    @property
    def not_after(self) -> dt.datetime:
        return self.leaf.not_valid_after_utc

    def leaf_pem(self) -> bytes:
        return self.leaf.public_bytes(serialization.Encoding.PEM)

    def chain_pems(self) -> list[bytes]:
        return [c.public_bytes(serialization.Encoding.PEM) for c in self.chain]


class _Incomplete(Exception):
    """A file that is not (yet) a whole PEM document."""


def _pem_blocks_complete(data: bytes) -> bool:
    return data.count(_BEGIN) > 0 and data.count(_BEGIN) == data.count(_END)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise PushError(ErrorKind.FILE_MISSING, f"{path}: file not found") from None
    except OSError as exc:
        raise PushError(ErrorKind.FILE_MISSING, f"{path}: cannot read ({exc.strerror})") from None


def _certs(path: Path, data: bytes) -> list[x509.Certificate]:
    if not _pem_blocks_complete(data):
        raise _Incomplete(f"{path}: not a complete PEM file (still being written?)")
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        raise _Incomplete(f"{path}: PEM data does not parse as certificates") from None


def _key(path: Path, data: bytes) -> PrivateKeyTypes:
    if not _pem_blocks_complete(data):
        raise _Incomplete(f"{path}: not a complete PEM file (still being written?)")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise PushError(
            ErrorKind.KEY_UNSUPPORTED, f"{path}: the key is encrypted; printers need a plain key"
        ) from None
    except (ValueError, Exception) as exc:  # cryptography raises several kinds here
        raise _Incomplete(
            f"{path}: does not parse as a private key ({type(exc).__name__})"
        ) from None


def _check_key(path: Path, key: PrivateKeyTypes, limits: Limits) -> None:
    if isinstance(key, rsa.RSAPrivateKey):
        low, high = limits.rsa_bits
        if not low <= key.key_size <= high:
            raise PushError(
                ErrorKind.KEY_UNSUPPORTED,
                f"{path}: RSA {key.key_size}-bit key; this printer takes RSA {low}-{high} bits"
                + (f" ({limits.hint})" if limits.hint else ""),
            )
        return
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if limits.ecdsa:
            return
        raise PushError(
            ErrorKind.KEY_UNSUPPORTED,
            f"{path}: ECDSA key ({key.curve.name}); this printer takes RSA "
            f"{limits.rsa_bits[0]}-{limits.rsa_bits[1]} bits only"
            + (f": {limits.hint}" if limits.hint else ""),
        )
    raise PushError(
        ErrorKind.KEY_UNSUPPORTED, f"{path}: {type(key).__name__} keys are not supported"
    )


def _same_key(key: PrivateKeyTypes, cert: x509.Certificate) -> bool:
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki))


def _check_validity(path: Path, cert: x509.Certificate, now: dt.datetime) -> None:
    if now < cert.not_valid_before_utc:
        raise PushError(
            ErrorKind.NOT_YET_VALID,
            f"{path}: certificate is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
        )
    if now >= cert.not_valid_after_utc:
        raise PushError(
            ErrorKind.EXPIRED,
            f"{path}: certificate expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
        )


def _check_chain(path: Path, certs: list[x509.Certificate], cas: list[x509.Certificate]) -> None:
    for child, parent in itertools.pairwise(certs):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise PushError(
                ErrorKind.CHAIN_INVALID,
                f"{path}: {child.subject.rfc4514_string()!r} is not issued by the next "
                f"certificate {parent.subject.rfc4514_string()!r}: the chain must go leaf → "
                "intermediate(s), in order",
            ) from None
    last = certs[-1]
    issuers = [c for c in cas if c.subject == last.issuer and c != last]
    for ca in issuers:
        try:
            last.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            raise PushError(
                ErrorKind.CHAIN_INVALID,
                f"{path}: {last.subject.rfc4514_string()!r} does not verify against the CA "
                f"{ca.subject.rfc4514_string()!r} from ca_certs",
            ) from None


def _unique(certs: list[x509.Certificate]) -> list[x509.Certificate]:
    out: list[x509.Certificate] = []
    for c in certs:
        if c not in out:
            out.append(c)
    return out


def _files(printer: PrinterConfig) -> list[Path]:
    return [
        printer.key,
        printer.cert,
        *([printer.chain] if printer.chain else []),
        *printer.ca_certs,
    ]


def check_bundle(
    printer: PrinterConfig, limits: Limits, contents: dict[Path, bytes], now: dt.datetime
) -> Bundle:
    """Validate one consistent read of the files (raises PushError or _Incomplete)."""
    key = _key(printer.key, contents[printer.key])
    certs = _certs(printer.cert, contents[printer.cert])
    if printer.chain is not None:
        certs += _certs(printer.chain, contents[printer.chain])
    certs = _unique(certs)  # a fullchain cert file plus chain.pem repeats the intermediates
    cas: list[x509.Certificate] = []
    for p in printer.ca_certs:
        cas += _certs(p, contents[p])
    leaf = certs[0]
    _check_key(printer.key, key, limits)
    if not _same_key(key, leaf):
        raise PushError(
            ErrorKind.KEY_MISMATCH,
            f"{printer.key} does not belong to the certificate in {printer.cert} "
            f"({leaf.subject.rfc4514_string()}): the printer would refuse it or break TLS",
        )
    _check_validity(printer.cert, leaf, now)
    for c in certs[1:]:
        _check_validity(printer.chain or printer.cert, c, now)
    _check_chain(printer.chain or printer.cert, certs, cas)
    if len(certs) > limits.slots:
        raise PushError(
            ErrorKind.CHAIN_TOO_LONG,
            f"{len(certs)} certificates (leaf + {len(certs) - 1} chain) but the printer has "
            f"{limits.slots} slots (leaf + {limits.slots - 1}): use the chain without the root "
            "or the cross-signed certificate",
        )
    return Bundle(
        key_pem=contents[printer.key], leaf=leaf, chain=tuple(certs[1:]), ca_certs=tuple(cas)
    )


def _quiet_for(printer: PrinterConfig) -> float:
    """Seconds since the key or the certificate file last changed."""
    try:
        newest = max(p.stat().st_mtime for p in (printer.key, printer.cert))
    except OSError:
        return 0.0
    return time.time() - newest


async def load_bundle(
    printer: PrinterConfig,
    limits: Limits,
    *,
    settle: float = 5.0,
    pause: float = 0.2,
    now: dt.datetime | None = None,
) -> Bundle:
    """Read and validate the printer's files, waiting out a renewal in progress."""
    deadline = time.monotonic() + settle
    previous: dict[Path, bytes] | None = None
    while True:
        contents = {p: _read(p) for p in _files(printer)}
        try:
            bundle = check_bundle(printer, limits, contents, now or dt.datetime.now(dt.UTC))
        except _Incomplete as exc:
            if time.monotonic() >= deadline:
                raise PushError(ErrorKind.FILE_INCOMPLETE, str(exc)) from None
        except PushError as exc:
            # A mismatch may be a renewal caught between the key and the certificate: give
            # the writer until the deadline, but only while a writer may be at work (files
            # changed within ``settle`` seconds); an old mismatch is reported at once.
            if exc.kind is not ErrorKind.KEY_MISMATCH or time.monotonic() >= deadline:
                raise
            if _quiet_for(printer) >= settle:
                raise
        else:
            if previous == contents:
                return bundle
        previous = contents
        await asyncio.sleep(pause)
