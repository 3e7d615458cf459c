"""``dpi-report fetch-table URL OUT``: download an IP→ASN table and check it before use.

A table fetched by cron and used blindly fails quietly: an HTML error page, a truncated
gzip or a half-empty file would attribute every client to "unknown". So the download goes
to a temporary file beside ``OUT``, is loaded with the same :class:`PrefixTable` code that
``dpi-report``/``dpi-watch`` use, and replaces ``OUT`` (atomically) only when it parses,
holds prefixes, and is not much smaller than the table it replaces.

Formats as :meth:`PrefixTable.load` reads them, picked by ``OUT``'s name: iptoasn TSV
(``.tsv``, ``.tsv.gz``), pyasn ``.dat`` (``.gz`` too), MaxMind ``.mmdb``; MaxMind's
``.tar.gz`` download is unpacked to the ``.mmdb`` it holds.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from middleware.attribution.prefix_table import PrefixTable, TableError

MAX_BYTES: Final = 1 << 30  # a full iptoasn combined table is ~30 MB gzipped, an mmdb ~10 MB
SHRINK_LIMIT: Final = 0.5  # a refresh with under half the ranges of the old table is refused
_READ: Final = 1 << 16


class FetchError(Exception):
    """The download failed or is no usable table; ``OUT`` was left as it was."""


@dataclass(frozen=True, slots=True)
class TableSummary:
    path: Path
    bytes: int
    ranges: int
    asns: int
    named: int  # AS numbers with a name
    seconds: float
    previous_ranges: int | None  # of the table replaced, when there was a readable one


def redact(url: str) -> str:
    """The URL without credentials or query (MaxMind puts the licence key there)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "", ""))


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{redact(url) or url[:80]!r} is not an http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        # urllib sends no credentials from a URL: it would look up "user:pass@host" as a
        # host name, handing the password to the DNS resolver. Refused before any lookup.
        raise ValueError(
            f"{redact(url)!r}: credentials in the URL are not supported "
            "(use a URL that carries its key in the query, as MaxMind's does)"
        )
    return url


def _download(url: str, into: IO[bytes], *, timeout: float, max_bytes: int) -> int:
    request = urllib.request.Request(url, headers={"User-Agent": "edgeward-dpi-report"})  # noqa: S310 (scheme checked)
    shown = redact(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            size = 0
            while chunk := answer.read(_READ):
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{shown}: larger than --max-bytes {max_bytes:,}; not a table")
                into.write(chunk)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{shown}: the server answered {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise FetchError(f"{shown}: cannot download: {exc.reason}") from None
    except (OSError, ValueError) as exc:  # timeouts, resets, a malformed answer
        raise FetchError(f"{shown}: cannot download: {exc}") from None
    return size


def _unpack_mmdb(tmp: Path, shown: str) -> None:
    """MaxMind ships ``GeoLite2-ASN_<date>/GeoLite2-ASN.mmdb`` inside a ``.tar.gz``."""
    try:
        with tarfile.open(tmp, "r:*") as tar:
            members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".mmdb")]
            if len(members) != 1:
                raise FetchError(f"{shown}: the archive holds {len(members)} .mmdb files, not 1")
            source = tar.extractfile(members[0])
            if source is None:
                raise FetchError(f"{shown}: cannot unpack {members[0].name}")
            data = io.BytesIO()
            shutil.copyfileobj(source, data)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise FetchError(f"{shown}: not a readable archive: {exc}") from None
    tmp.write_bytes(data.getvalue())


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def fetch_table(
    url: str,
    out: Path,
    *,
    timeout: float = 60.0,
    max_bytes: int = MAX_BYTES,
    force: bool = False,
) -> TableSummary:
    """Download ``url`` to ``out`` if it is a usable table; ``FetchError`` otherwise."""
    shown = redact(url)
    started = time.monotonic()
    # Beside OUT (same file system: the final rename is atomic) and ending in OUT's name,
    # so the format is picked exactly as it will be when OUT is used.
    tmp = out.parent / f".fetch-{os.getpid()}-{secrets.token_hex(4)}.{out.name}"
    try:
        with tmp.open("xb") as fh:
            size = _download(url, fh, timeout=timeout, max_bytes=max_bytes)
        if out.name.lower().endswith(".mmdb") and _is_tar(tmp):
            _unpack_mmdb(tmp, shown)
        try:
            table = PrefixTable.load(tmp)
        except (TableError, OSError, ValueError) as exc:
            what = str(exc).replace(str(tmp), "the download")
            raise FetchError(f"{shown}: not a usable table: {what}") from None
        if len(table) == 0:
            raise FetchError(f"{shown}: the table holds no prefix")
        previous = _ranges_of(out)
        if previous and len(table) < previous * SHRINK_LIMIT and not force:
            raise FetchError(
                f"{shown}: {len(table):,} ranges, under half the {previous:,} of {out}; "
                "a partial file? (--force replaces it all the same)"
            )
        asns = table.asns()
        summary = TableSummary(
            path=out,
            bytes=size,
            ranges=len(table),
            asns=len(asns),
            named=sum(1 for a in asns if table.name(a)),
            seconds=time.monotonic() - started,
            previous_ranges=previous,
        )
        os.replace(tmp, out)
        return summary
    finally:
        tmp.unlink(missing_ok=True)


def _ranges_of(path: Path) -> int | None:
    if not path.is_file():
        return None
    try:
        return len(PrefixTable.load(path))
    except (TableError, OSError, ValueError):
        return None  # an unreadable old table is what a refresh is for
