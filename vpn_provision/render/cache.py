"""A content-addressed cache of each device's client files.

A device's files (wg-quick config, its QR code, Apple profiles) depend only on the device
and a few server facts; drawing a QR code and writing two plists cost ~1.2 ms of CPU per
device, and writing them out more, so a render of 1,000 devices would take seconds. The
cache keys each device's files by a SHA-256 of **everything** they are made from, so a
hit returns exactly what a fresh render would: the render stays a pure function of the
state, only faster. The cache lives in the state directory (0700), beside the keys it is made from.

All entries live in one file, ``entries``, rewritten once at the end of a render that
changed it (:meth:`ClientCache.save`): a first render of 1,000 devices would otherwise
create 1,000 files, and creating a file costs up to 2 ms of kernel time here under load.
The file is written without an fsync and sealed with a SHA-256 of its content: what a
crash leaves of it (empty, truncated, garbage) is a miss for every device, redrawn by the
next render, never a wrong file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple

from edgeward.files import atomic_write

if TYPE_CHECKING:
    from vpn_provision.render.snapshot import Snapshot
    from vpn_provision.state import Device

# Bump when the rendering of client files changes, so old entries stop matching.
VERSION: Final = b"clients-3"
PACK: Final = "entries"


class Entry(NamedTuple):
    data: bytes
    mode: int


class ClientCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.used: set[str] = set()
        self._bodies: dict[str, bytes] | None = None  # key -> a device's files, framed
        self._dirty = False

    @staticmethod
    def server_digest(snap: Snapshot) -> bytes:
        """What every device's files share, hashed once per render."""
        s = snap.settings
        h = hashlib.sha256(VERSION)
        parts = (s.host, s.net4, s.net6, str(s.wg_port), snap.wg_private.reveal())
        for part in parts:
            h.update(len(part).to_bytes(4, "big") + part.encode())
        for blob in (snap.ca_pem, snap.server_cert_pem):
            h.update(len(blob).to_bytes(4, "big") + blob)
        return h.digest()

    @staticmethod
    def key(server: bytes, d: Device) -> str:
        # Keys, certificate and .p12 are made once at `add` and never change; the serial
        # and the PSK stand for them (a re-added name has a new serial and new keys).
        parts = (
            d.name, d.platform, ",".join(d.protos), "\n".join(d.trusted_ssids), str(d.index),
            format(d.serial, "x"), d.wg_psk.reveal(), repr(sorted(d.uuids.items())),
        )  # fmt: skip
        return hashlib.sha256(server + "\0".join(parts).encode()).hexdigest()

    def _all(self) -> dict[str, bytes]:
        if self._bodies is None:
            try:
                raw = (self.folder / PACK).read_bytes()
            except FileNotFoundError:
                raw = b""
            body = unseal(raw)
            records = None if body is None else parse(body)
            self._bodies = {k: e.data for k, e in records.items()} if records else {}
        return self._bodies

    def keys(self) -> set[str]:
        return set(self._all())

    def has(self, key: str) -> bool:
        return key in self._all()

    def get(self, key: str) -> dict[str, Entry] | None:
        body = self._all().get(key)
        entries = None if body is None else parse(body)
        if entries is not None:
            self.used.add(key)
        return entries

    def put(self, key: str, files: dict[str, Entry]) -> None:
        """Keep a device's files; written by :meth:`save`."""
        self._all()[key] = frame({name: (e.mode, e.data) for name, e in files.items()})
        self.used.add(key)
        self._dirty = True

    def save(self) -> None:
        """Write the entries if this render added any (one file, sealed, no fsync)."""
        if self._dirty:
            bodies = self._all()
            body = frame({key: (0, bodies[key]) for key in sorted(bodies)})
            atomic_write(self.folder / PACK, seal(body), mode=0o600, durable=False)
            self._dirty = False

    def prune(self) -> int:
        """Delete entries this render did not use (removed devices, old settings), and
        any other file in the folder (entries of older versions, one file each)."""
        if not self.folder.is_dir():
            return 0
        bodies = self._all()
        unused = [key for key in bodies if key not in self.used]
        for key in unused:
            del bodies[key]
        if unused:
            self._dirty = True
            self.save()
        gone = len(unused)
        for p in self.folder.iterdir():
            if p.is_file() and p.name != PACK and not p.name.startswith("."):
                p.unlink()
                gone += 1
        return gone


def frame(records: dict[str, tuple[int, bytes]]) -> bytes:
    """``name mode size\n`` then the bytes, for each record (what :func:`parse` reads)."""
    chunks = []
    for name, (mode, data) in records.items():
        chunks.append(f"{name} {mode:o} {len(data)}\n".encode("ascii") + data)
    return b"".join(chunks)


def seal(body: bytes) -> bytes:
    return hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body


def unseal(raw: bytes) -> bytes | None:
    """The body of a sealed entry; None when it does not match its digest."""
    digest, newline, body = raw.partition(b"\n")
    if not newline or digest != hashlib.sha256(body).hexdigest().encode("ascii"):
        return None
    return body


def parse(raw: bytes) -> dict[str, Entry] | None:
    """Entries of a cache file; None (a miss) for anything that is not one."""
    out: dict[str, Entry] = {}
    i = 0
    try:
        while i < len(raw):
            end = raw.index(b"\n", i)
            name, mode, size = raw[i:end].decode("ascii").split(" ")
            start, length = end + 1, int(size)
            if length < 0 or start + length > len(raw) or not name:
                return None
            out[name] = Entry(raw[start : start + length], int(mode, 8))
            i = start + length
    except (ValueError, UnicodeDecodeError):
        return None
    return out
