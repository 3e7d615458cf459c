"""The printers file: one ``[[printer]]`` table per device, a few global settings.

::

    state_dir = "/var/lib/printer-sync"      # pins and push history (SQLite)

    [[printer]]
    name = "office"
    url = "https://192.0.2.10"
    username = ""                            # Epson's default administrator name is empty
    password_file = "/etc/printer-sync/office.pass"
    key = "/etc/letsencrypt/live/printer.example.org/privkey.pem"
    cert = "/etc/letsencrypt/live/printer.example.org/cert.pem"
    chain = "/etc/letsencrypt/live/printer.example.org/chain.pem"

Every mistake is reported as ``FILE: printer "office".KEY: what was expected``. The
password is read (from ``password_file`` or ``password_env``) when the file is loaded and
kept as a :class:`~edgeward.secrets.Secret`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from edgeward.config import (
    ConfigError,
    derived,
    load_file,
    metrics_address,
    positive_at_most,
    setting,
)
from edgeward.secrets import Secret, read_secret_env, read_secret_file

TlsMode = Literal["pin", "system", "insecure"]
DriverName = Literal["epson", "auto"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def _check_name(value: str) -> None:
    if not _NAME.match(value):
        raise ValueError(
            "expected 1-63 letters, digits, '.', '_' or '-' (it is used in metric labels)"
        )


def _check_url(value: str) -> None:
    parts = urlsplit(value)  # ValueError for an unclosed [IPv6 address
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"expected the printer's base URL, e.g. https://192.0.2.10, got {value!r}")
    try:
        port = parts.port  # ValueError for :abc or :99999
    except ValueError:
        raise ValueError(f"expected a port from 1 to 65535 in {value!r}") from None
    if port == 0:
        raise ValueError(f"expected a port from 1 to 65535 in {value!r}")
    if parts.query or parts.fragment:
        raise ValueError("expected a base URL without query or fragment")


HOUR = 3600.0
DAY = 86400.0


def _days(value: int) -> None:
    if not 0 <= value <= 365:
        raise ValueError("expected a number of days from 0 to 365")


def _attempts(value: int) -> None:
    if not 1 <= value <= 10:
        raise ValueError("expected 1 to 10 attempts")


@dataclass(frozen=True)
class PrinterConfig:
    name: str = setting(help="short name used in logs, metrics and history", check=_check_name)
    url: str = setting(help="the printer's base URL (https://IP or name)", check=_check_url)
    key: Path = setting(help="private key file (PEM), e.g. certbot's privkey.pem")
    cert: Path = setting(help="certificate file (PEM); a fullchain file is split into leaf+chain")
    driver: DriverName = setting("epson", help="printer driver; 'auto' asks the printer by SNMP")
    username: str = setting("", help="web UI administrator name (Epson's default is empty)")
    password_file: Path | None = setting(None, help="file whose first line is the password")
    password_env: str | None = setting(None, help="environment variable holding the password")
    chain: Path | None = setting(None, help="intermediate certificates (PEM), e.g. chain.pem")
    ca_certs: list[Path] = setting(
        default_factory=list, help="CA certificates to import into the printer's CA store"
    )
    renew_before_days: int = setting(20, help="push when fewer days are left", check=_days)
    tls: TlsMode = setting(
        "pin",
        help="how to trust the printer's TLS: 'pin' (trust on first use, then the pinned "
        "fingerprint), 'system' (CA store and hostname), 'insecure' (no check)",
    )
    reboot_timeout: float = setting(
        180.0, help="seconds to wait for the reboot", check=positive_at_most(DAY)
    )
    timeout: float = setting(
        20.0, help="seconds for one HTTP request, answer included", check=positive_at_most(HOUR)
    )
    push_timeout: float = setting(
        900.0,
        help="seconds one whole push may take, reboots included",
        check=positive_at_most(DAY),
    )
    domains: list[str] = setting(default_factory=list, help="domains of this certificate (hooks)")
    snmp_community: str = setting("public", help="SNMP v2c community for driver = 'auto'")
    # Resolved from password_file/password_env by load_config (never a TOML key).
    password: Secret | None = derived()

    def with_password(self, password: Secret | None) -> PrinterConfig:
        """A copy holding ``password`` (what :func:`load_config` does after reading it)."""
        return dataclasses.replace(self, password=password)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True)
class Config:
    printers: list[PrinterConfig] = setting(
        default_factory=list,
        key="printer",
        item_label="name",
        help="one [[printer]] table per device",
    )
    state_dir: Path | None = setting(
        None, help="folder for pins and push history (default: 'state' beside this file)"
    )
    database: Path | None = setting(None, help="SQLite file (default: STATE_DIR/printer-sync.db)")
    metrics_listen: str = setting(
        "127.0.0.1:9466",
        help="where 'watch' serves /metrics (HOST:PORT, or 'off')",
        check=metrics_address,
    )
    check_interval: float = setting(
        3600.0,
        help="seconds between two checks of every printer ('watch')",
        check=positive_at_most(30 * DAY),
    )
    retry_attempts: int = setting(3, help="tries for errors that waiting can fix", check=_attempts)
    retry_backoff: float = setting(
        2.0, help="seconds before the first retry; doubles each time", check=positive_at_most(HOUR)
    )
    file_settle: float = setting(
        5.0,
        help="seconds to wait for half-written certificate files to settle",
        check=positive_at_most(HOUR),
    )
    source: Path | None = derived()  # the printers file itself

    @property
    def db_path(self) -> Path:
        if self.database is not None:
            return self.database
        return (self.state_dir or Path("state")) / "printer-sync.db"

    def printer(self, name: str) -> PrinterConfig:
        for p in self.printers:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.printers) or "none"
        raise KeyError(f"no printer named {name!r} (configured: {known})")


def _where(printer: PrinterConfig) -> str:
    return f'printer "{printer.name}"'


def _password(p: PrinterConfig, source: str, where: str) -> Secret | None:
    if p.password_file is not None and p.password_env is not None:
        raise ConfigError(source, f"{where}.password_env", "set password_file or password_env")
    try:
        if p.password_file is not None:
            return read_secret_file(p.password_file)
        if p.password_env is not None:
            return read_secret_env(p.password_env)
    except ValueError as exc:
        key = "password_file" if p.password_file is not None else "password_env"
        raise ConfigError(source, f"{where}.{key}", str(exc)) from None
    return None


def load_config(path: str | Path) -> Config:
    """Read and check the printers file; errors name the file, the printer and the key."""
    p = Path(path)
    source = str(p)
    config = load_file(Config, p)
    printers: list[PrinterConfig] = []
    seen: set[str] = set()
    for printer in config.printers:
        where = _where(printer)
        if printer.name in seen:
            raise ConfigError(source, f"{where}.name", "another printer already has this name")
        seen.add(printer.name)
        printers.append(printer.with_password(_password(printer, source, where)))
    state_dir = config.state_dir or p.parent / "state"
    if state_dir.exists() and not state_dir.is_dir():
        raise ConfigError(source, "state_dir", f"{state_dir} exists and is not a folder")
    if config.database is not None and config.database.is_dir():
        raise ConfigError(source, "database", f"{config.database} is a folder, not a file")
    return dataclasses.replace(config, printers=printers, state_dir=state_dir, source=p)
