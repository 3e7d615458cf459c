"""A content-addressed cache of each device's client files.

A device's files (wg-quick config, its QR code, Apple profiles) depend only on the device
and a few server facts; drawing a QR code and writing two plists cost ~15 ms of CPU per
device in pure Python, so a render of 1,000 devices would take ~15 s. The cache keys each
device's files by a SHA-256 of **everything** they are made from, so a hit returns
exactly what a fresh render would: the render stays a pure function of the state, only
faster. The cache lives in the state directory (0700), beside the keys it is made from.

Entries are written without an fsync (a first render writes 1,000 of them) and carry a
SHA-256 of their content: what a crash leaves of an entry (empty, truncated, garbage) is
a miss, redrawn by the next render, never a wrong file.
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


class Entry(NamedTuple):
    data: bytes
    mode: int


class ClientCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.used: set[str] = set()

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

    def has(self, key: str) -> bool:
        return (self.folder / key).is_file()

    def get(self, key: str) -> dict[str, Entry] | None:
        path = self.folder / key
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        body = unseal(raw)
        entries = None if body is None else parse(body)
        if entries is not None:
            self.used.add(key)
        return entries

    def put(self, key: str, files: dict[str, Entry]) -> None:
        chunks = []
        for name, e in files.items():
            chunks.append(f"{name} {e.mode:o} {len(e.data)}\n".encode("ascii") + e.data)
        atomic_write(self.folder / key, seal(b"".join(chunks)), mode=0o600, durable=False)
        self.used.add(key)

    def prune(self) -> int:
        """Delete entries this render did not use (removed devices, old settings)."""
        if not self.folder.is_dir():
            return 0
        gone = 0
        for p in self.folder.iterdir():
            if p.is_file() and p.name not in self.used and not p.name.startswith("."):
                p.unlink()
                gone += 1
        return gone


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
