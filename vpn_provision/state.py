"""The state directory: settings, SQLite database, CA and server keys.

::

    settings.toml          what `init` was told (edit, then `render`)
    state.db     (0600)    devices, address counter, revocations, link nonces, audit
    ca/ca.pem              ECDSA P-384 CA: path length 0, name-constrained to the host
    ca/ca-key.pem (0600)
    ca/crl.pem             re-signed at every remove (valid as long as the CA)
    server/ikev2.pem, server/ikev2-key.pem (0600)   unless settings name a Let's Encrypt pair
    server/wg.key (0600)   the server's WireGuard private key
    links.keys   (0600)    the signed-URL key ring (``middleware.signed``) for `link`/`serve`

Devices' private keys, pre-shared keys, client keys and .p12 passwords live in the
database (mode 0600) and are read as :class:`~edgeward.secrets.Secret`. Addresses come
from a counter that only grows: a removed device's address is never handed out again.
Everything random comes from :mod:`secrets` or ``cryptography``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from edgeward import pki
from edgeward.cli import UsageError
from edgeward.files import atomic_write
from edgeward.logs import get_logger
from edgeward.secrets import Secret
from vpn_provision import keys
from vpn_provision.settings import Settings, load_settings, to_toml

log = get_logger("vpn_provision.state")

Platform = Literal["ios", "macos", "android", "linux", "windows"]
PLATFORMS: Final[tuple[Platform, ...]] = ("ios", "macos", "android", "linux", "windows")
Proto = Literal["wireguard", "ikev2"]
PROTOS: Final[tuple[Proto, ...]] = ("wireguard", "ikev2")

DEFAULT_STATE: Final = "/var/lib/vpn-provision"
STATE_ENV: Final = "VPN_PROVISION_STATE"
# RFC 4945 id-kp-ipsecIKE: accepted by strongSwan, iked and Apple as "for IKE".
IPSEC_IKE: Final = ObjectIdentifier("1.3.6.1.5.5.7.3.17")
FIRST_INDEX: Final = 2  # .1 / ::1 is the server
CLIENT_CERT_DAYS: Final = 5 * 365
SERVER_CERT_DAYS: Final = 825  # Apple's ceiling for certificates with serverAuth
_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    platform TEXT NOT NULL,
    protos TEXT NOT NULL,
    trusted_ssids TEXT NOT NULL,
    idx INTEGER NOT NULL UNIQUE,
    wg_private TEXT NOT NULL,
    wg_public TEXT NOT NULL,
    wg_psk TEXT NOT NULL,
    cert_pem TEXT NOT NULL,
    key_pem TEXT NOT NULL,
    serial TEXT NOT NULL UNIQUE,
    p12 BLOB NOT NULL,
    p12_password TEXT NOT NULL,
    uuids TEXT NOT NULL,
    created REAL NOT NULL,
    removed REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS devices_active_name ON devices(name) WHERE removed IS NULL;
"""


def check_device_name(name: str) -> None:
    if not _NAME.match(name):
        raise UsageError(
            f"device name {name!r}: expected 1-32 characters of a-z, 0-9 and '-', "
            "starting with a letter or digit (it names files and the IKE identity)"
        )


def state_dir(given: str | None) -> Path:
    """``--state DIR``, else ``$VPN_PROVISION_STATE``, else ``/var/lib/vpn-provision``."""
    return Path(given or os.environ.get(STATE_ENV) or DEFAULT_STATE)


@dataclass(frozen=True)
class Device:
    id: int
    name: str
    platform: Platform
    protos: tuple[Proto, ...]
    trusted_ssids: tuple[str, ...]
    index: int
    # Text, formatted once: renders write each address several times per device, and
    # ipaddress's __str__ was a third of a 1,000-device render.
    address4: str
    address6: str
    wg_private: Secret = field(repr=False)
    wg_psk: Secret = field(repr=False)
    wg_public: str
    identity: str  # the IKE identity (rfc822Name in the certificate): ``name@host``
    cert_pem: bytes
    key_pem: Secret = field(repr=False)
    serial: int
    p12: bytes = field(repr=False)
    p12_password: Secret = field(repr=False)
    uuids: dict[str, str]
    created: float
    removed: float | None

    @property
    def cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    def public(self) -> dict[str, object]:
        """What `list`/`show` print: no private key, PSK or password."""
        return {
            "name": self.name,
            "platform": self.platform,
            "protos": list(self.protos),
            "trusted_ssids": list(self.trusted_ssids),
            "address4": str(self.address4),
            "address6": str(self.address6),
            "wg_public_key": self.wg_public,
            "identity": self.identity,
            "cert_serial": format(self.serial, "x"),
            "created": _iso(self.created),
            "removed": _iso(self.removed) if self.removed is not None else None,
        }

    def secrets(self) -> dict[str, str]:
        """What `show --secrets` adds."""
        return {
            "wg_private_key": self.wg_private.reveal(),
            "wg_preshared_key": self.wg_psk.reveal(),
            "p12_password": self.p12_password.reveal(),
        }


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    """An opened state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        settings_file = root / "settings.toml"
        if not settings_file.exists():
            raise UsageError(
                f"{root}: not a vpn-provision state directory (no settings.toml); "
                "create one with 'vpn-provision init'"
            )
        self.settings: Settings = load_settings(settings_file)
        self.db = sqlite3.connect(root / "state.db", isolation_level=None)
        self.db.row_factory = sqlite3.Row
        # WAL: a commit is one append, not a journal dance (add stays well under 50 ms),
        # and `serve` reads while `add` writes.
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # files ------------------------------------------------------------------------
    @property
    def ca(self) -> pki.Issued:
        return pki.load_issued(
            (self.root / "ca" / "ca-key.pem").read_bytes(),
            (self.root / "ca" / "ca.pem").read_bytes(),
        )

    @property
    def ca_pem(self) -> bytes:
        return (self.root / "ca" / "ca.pem").read_bytes()

    @property
    def crl_pem(self) -> bytes:
        return (self.root / "ca" / "crl.pem").read_bytes()

    def server_cert_paths(self) -> tuple[Path, Path]:
        """(fullchain, key) of the IKEv2 server certificate."""
        s = self.settings
        if s.le_cert is not None and s.le_key is not None:
            return s.le_cert, s.le_key
        return self.root / "server" / "ikev2.pem", self.root / "server" / "ikev2-key.pem"

    @property
    def wg_server_private(self) -> Secret:
        return Secret((self.root / "server" / "wg.key").read_text(encoding="ascii").strip())

    @property
    def links_keys(self) -> Path:
        return self.root / "links.keys"

    # devices ----------------------------------------------------------------------
    def devices(self, *, include_removed: bool = False) -> list[Device]:
        where = "" if include_removed else "WHERE removed IS NULL"
        rows = self.db.execute(f"SELECT * FROM devices {where} ORDER BY id").fetchall()  # noqa: S608
        return [self._device(r) for r in rows]

    def device(self, name: str) -> Device:
        row = self.db.execute(
            "SELECT * FROM devices WHERE name = ? AND removed IS NULL", (name,)
        ).fetchone()
        if row is None:
            raise UsageError(f"no device named {name!r} (see 'vpn-provision list')")
        return self._device(row)

    def device_by_id(self, device_id: int) -> Device | None:
        row = self.db.execute(
            "SELECT * FROM devices WHERE id = ? AND removed IS NULL", (device_id,)
        ).fetchone()
        return None if row is None else self._device(row)

    def _device(self, r: sqlite3.Row) -> Device:
        idx = int(r["idx"])
        return Device(
            id=int(r["id"]),
            name=r["name"],
            platform=r["platform"],
            protos=tuple(r["protos"].split(",")),
            trusted_ssids=tuple(json.loads(r["trusted_ssids"])),
            index=idx,
            address4=str(self.settings.network4[idx]),
            address6=str(self.settings.network6[idx]),
            wg_private=Secret(r["wg_private"]),
            wg_psk=Secret(r["wg_psk"]),
            wg_public=r["wg_public"],
            identity=f"{r['name']}@{self.settings.host}",
            cert_pem=r["cert_pem"].encode("ascii"),
            key_pem=Secret(r["key_pem"]),
            serial=int(r["serial"], 16),
            p12=bytes(r["p12"]),
            p12_password=Secret(r["p12_password"]),
            uuids=json.loads(r["uuids"]),
            created=float(r["created"]),
            removed=None if r["removed"] is None else float(r["removed"]),
        )

    def _capacity(self) -> int:
        s = self.settings
        return min(s.network4.num_addresses - 2, s.network6.num_addresses - 2)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def add(
        self,
        name: str,
        platform: Platform,
        protos: Sequence[Proto] = PROTOS,
        trusted_ssids: Sequence[str] = (),
    ) -> Device:
        check_device_name(name)
        if platform not in PLATFORMS:
            raise UsageError(f"platform {platform!r}: expected one of {', '.join(PLATFORMS)}")
        if not protos or any(p not in PROTOS for p in protos):
            raise UsageError(f"protocols: expected wireguard and/or ikev2, got {','.join(protos)}")
        for ssid in trusted_ssids:
            if not ssid or len(ssid.encode()) > 32:
                raise UsageError(f"trusted SSID {ssid!r}: expected 1-32 bytes")
        ca = self.ca
        identity = f"{name}@{self.settings.host}"
        client = pki.issue(
            ca,
            [identity],
            key_type="ec384",
            days=CLIENT_CERT_DAYS,
            usages=(ExtendedKeyUsageOID.CLIENT_AUTH, IPSEC_IKE),
        )
        p12_password = keys.password()
        p12 = pkcs12.serialize_key_and_certificates(
            name.encode(),
            client.key,
            client.cert,
            [ca.cert],
            _p12_encryption(p12_password),
        )
        uuids = {k: str(uuid.uuid4()).upper() for k in _PROFILE_UUIDS}
        wg_private = keys.wg_private_key()
        with self._transaction():
            if self.db.execute(
                "SELECT 1 FROM devices WHERE name = ? AND removed IS NULL", (name,)
            ).fetchone():
                raise UsageError(f"a device named {name!r} exists; remove it first")
            row = self.db.execute("SELECT value FROM meta WHERE key = 'next_index'").fetchone()
            idx = int(row[0]) if row else FIRST_INDEX
            if idx - 1 > self._capacity():
                raise UsageError(
                    f"the address pools are exhausted ({self._capacity()} addresses, never "
                    "reused); widen net4/net6 in settings.toml"
                )
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('next_index', ?)", (str(idx + 1),))
            cur = self.db.execute(
                "INSERT INTO devices (name, platform, protos, trusted_ssids, idx, wg_private,"
                " wg_public, wg_psk, cert_pem, key_pem, serial, p12, p12_password, uuids,"
                " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    platform,
                    ",".join(p for p in PROTOS if p in protos),
                    json.dumps(list(trusted_ssids)),
                    idx,
                    wg_private.reveal(),
                    keys.wg_public_key(wg_private),
                    keys.wg_preshared_key().reveal(),
                    client.cert_pem().decode("ascii"),
                    client.key_pem().decode("ascii"),
                    format(client.cert.serial_number, "x"),
                    p12,
                    p12_password.reveal(),
                    json.dumps(uuids),
                    time.time(),
                ),
            )
            device_id = cur.lastrowid
        log.info("added device %s", name, extra={"device": name})
        device = self.device_by_id(int(device_id or 0))
        assert device is not None
        return device

    def remove(self, name: str) -> Device:
        device = self.device(name)
        with self._transaction():
            self.db.execute("UPDATE devices SET removed = ? WHERE id = ?", (time.time(), device.id))
        self.write_crl()
        log.info("removed device %s; its certificate is on the CRL", name, extra={"device": name})
        return device

    def revoked(self) -> list[tuple[int, dt.datetime]]:
        rows = self.db.execute(
            "SELECT serial, removed FROM devices WHERE removed IS NOT NULL ORDER BY id"
        ).fetchall()
        return [
            (int(r["serial"], 16), dt.datetime.fromtimestamp(int(r["removed"]), dt.UTC))
            for r in rows
        ]

    def write_crl(self) -> None:
        # Valid as long as the CA: the CRL is installed on the servers by `render`, never
        # fetched, so a short nextUpdate would only mean that one quiet year without a
        # `remove` locks every device out (strongSwan's revocation = strict).
        ca = self.ca
        days = max(1, (ca.cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).days)
        crl = pki.revocation_list(ca, self.revoked(), days=days)
        atomic_write(self.root / "ca" / "crl.pem", crl.public_bytes(serialization.Encoding.PEM))


# The profile identifiers a device keeps for life (uuid4, fixed at `add`), so a re-rendered
# profile replaces the installed one instead of adding a second VPN.
_PROFILE_UUIDS: Final = (
    "wg_profile",
    "wg_payload",
    "ike_profile",
    "ike_payload",
    "ike_pkcs12",
    "ike_root",
)


def _p12_encryption(password: Secret) -> serialization.KeySerializationEncryption:
    # iOS and macOS import PKCS#12 files protected with SHA1/3DES reliably across versions;
    # OpenSSL 3 opens them without the legacy provider.
    return (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        # The password is 144 random bits: key stretching adds nothing against guessing,
        # and each 1000 rounds cost milliseconds on every `add`.
        .kdf_rounds(1000)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())  # noqa: S303 (the MAC of the file format, for Apple)
        .build(password.reveal().encode())
    )


def init(root: Path, settings: Settings) -> State:
    """Create a state directory; refuses an existing one (credentials are made once)."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(
            f"{root} exists and is not empty: refusing to make new credentials over it "
            "(every device would have to be provisioned again)"
        )
    if settings.le_cert is not None:
        for p in (settings.le_cert, settings.le_key):
            if p is None or not p.is_file():
                raise UsageError(f"{p}: Let's Encrypt file not found")
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(root, 0o700)
    (root / "settings.toml").write_text(to_toml(settings), encoding="utf-8")
    ca = pki.make_ca(
        f"{settings.host} VPN CA",
        key_type="ec384",
        days=10 * 365,
        path_length=0,
        permitted=[settings.host, f"@{settings.host}"],
    )
    pki.write_pair(ca, root / "ca" / "ca-key.pem", root / "ca" / "ca.pem")
    if settings.le_cert is None:
        server = pki.issue(
            ca,
            [settings.host],
            key_type="ec384",
            days=SERVER_CERT_DAYS,
            usages=(ExtendedKeyUsageOID.SERVER_AUTH, IPSEC_IKE),
        )
        pki.write_pair(server, root / "server" / "ikev2-key.pem", root / "server" / "ikev2.pem")
    atomic_write(
        root / "server" / "wg.key", (keys.wg_private_key().reveal() + "\n").encode(), mode=0o600
    )
    from middleware.signed import new_key_line  # here: other commands need no web stack

    atomic_write(root / "links.keys", (new_key_line("k1") + "\n").encode(), mode=0o600)
    db_path = root / "state.db"
    db_path.touch(mode=0o600)
    os.chmod(db_path, 0o600)
    state = State(root)
    state.write_crl()
    log.info("initialised %s for %s", root, settings.host)
    return state
