"""Printers for the tests: the password the Epson emulator expects (and leak tests grep
for), certificate chains and leaf files, printers files, a browser for the emulator's web
UI, plain TLS listeners that stand in for a printer's web server, and readers of what a
push left behind. The fixtures that start emulators and snmpd are in
``tests/printer_sync/conftest.py``."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import sqlite3
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from edgeward.files import atomic_write
from edgeward.pki import Issued, KeyType, fingerprint, issue, write_pair
from printer_sync.cli import main
from printer_sync.emulator import Emulator

PASSWORD = "emu-Pa55-7f3a9c1e"  # distinctive, so a leak is easy to grep


REBOOT_SECONDS = 0.3


@dataclass(frozen=True)
class Chain:
    root: Issued
    intermediate: Issued


@dataclass(frozen=True)
class LeafFiles:
    leaf: Issued
    key: Path
    cert: Path
    chain: Path

    @property
    def fingerprint(self) -> str:
        return self.leaf.fingerprint


def write_leaf(
    folder: Path,
    ca: Chain,
    *,
    key_type: KeyType = "rsa2048",
    not_before: dt.datetime | None = None,
    days: int = 90,
    chain_certs: list[Issued] | None = None,
) -> LeafFiles:
    """key.pem, cert.pem (leaf only) and chain.pem (intermediate) under ``folder``."""
    leaf = issue(
        ca.intermediate,
        ["printer.test", "127.0.0.1"],
        key_type=key_type,
        not_before=not_before,
        days=days,
    )
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "key.pem", leaf.key_pem(), mode=0o600)
    atomic_write(folder / "cert.pem", leaf.cert_pem())
    links = chain_certs if chain_certs is not None else [ca.intermediate]
    atomic_write(folder / "chain.pem", b"".join(c.cert_pem() for c in links))
    return LeafFiles(leaf, folder / "key.pem", folder / "cert.pem", folder / "chain.pem")


def exit_code(argv: list[str]) -> int:
    """``printer-sync ARGV``'s exit code, returned by the command or raised by argparse."""

    try:
        return main(argv)
    except SystemExit as exc:  # refused by argparse (an option's type, an unknown flag)
        return int(exc.code or 0)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(type(value))


def write_config(path: Path, printers: list[dict[str, Any]], **top: Any) -> Path:
    lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
    for p in printers:
        lines.append("\n[[printer]]")
        lines += [f"{k} = {_toml(v)}" for k, v in p.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class PrinterEnv:
    """One emulated printer, its certificate files and a printers file builder."""

    tmp: Path
    emulator: Emulator
    chain: Chain
    files: LeafFiles
    password_file: Path
    defaults: dict[str, Any] = field(default_factory=dict)

    def printer(self, **overrides: Any) -> dict[str, Any]:
        table: dict[str, Any] = {
            "name": "office",
            "url": self.emulator.url,
            "password_file": self.password_file,
            "key": self.files.key,
            "cert": self.files.cert,
            "chain": self.files.chain,
            "reboot_timeout": 10.0,
            "timeout": 5.0,
        }
        table.update(overrides)
        return {k: v for k, v in table.items() if v is not None}

    def config(self, printers: list[dict[str, Any]] | None = None, **top: Any) -> Path:
        settings = {
            "state_dir": self.tmp / "state",
            "retry_attempts": 2,
            "retry_backoff": 0.05,
            "file_settle": 1.0,
            **top,
        }
        return write_config(self.tmp / "printers.toml", printers or [self.printer()], **settings)


BASE = "PRESENTATION/ADVANCED/"


def web(base_url: str) -> httpx.Client:
    """A browser that accepts whatever the printer serves (pinning is push's business)."""
    return httpx.Client(base_url=base_url, verify=False, timeout=5)  # noqa: S501


def login(c: httpx.Client, password: str = PASSWORD) -> httpx.Response:
    form = {
        "INPUTT_USERNAME": "",
        "access": "https",
        "INPUTT_PASSWORD": password,
        "INPUTT_ACCSESSMETHOD": "0",
        "INPUTT_DUMMY": "",
    }
    return c.post(BASE + "PASSWORD/SET", data=form)


def served_fp(emu: Emulator) -> str:
    return fingerprint(emu.served_certificate())


def results(db: Path) -> list[str]:
    with sqlite3.connect(db) as c:
        return [r[0] for r in c.execute("SELECT result FROM pushes ORDER BY id")]


NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def issue_leaf(ca: Issued, days_left: float, name: str = "printer.test") -> Issued:
    end = NOW + dt.timedelta(days=days_left)
    return issue(ca, [name, "127.0.0.1"], not_before=end - dt.timedelta(days=90), not_after=end)


@contextlib.contextmanager
def tls_server(tmp: Path, served: Issued | None, *, sni: Issued | None = None) -> Iterator[int]:
    """A TLS listener on 127.0.0.1 serving ``served`` (``None``: accept and stay silent).

    With ``sni``, a client that sends SNI gets that certificate instead: what a shared
    reverse proxy does, and what a printer check must not be fooled by.
    """
    tmp.mkdir(parents=True, exist_ok=True)

    def context(issued: Issued, stem: str) -> ssl.SSLContext:
        write_pair(issued, tmp / f"{stem}.key", tmp / f"{stem}.pem")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(tmp / f"{stem}.pem", tmp / f"{stem}.key")
        return ctx

    ctx = context(served, "default") if served else None
    if ctx is not None and sni is not None:
        other = context(sni, "sni")

        def pick(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
            if name:
                sock.context = other

        ctx.sni_callback = pick  # type: ignore[assignment]
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            if ctx is None:
                held.append(conn)  # a printer that accepts and never answers
                continue
            with contextlib.suppress(OSError), ctx.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(2)
                tls.recv(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for c in held:
            c.close()


def status_config(tmp: Path, printers: list[dict[str, object]]) -> Path:
    return write_config(tmp / "printers.toml", printers, state_dir=tmp / "state")


def local_files(tmp: Path, name: str, issued: Issued) -> dict[str, str]:
    key, cert = tmp / name / "privkey.pem", tmp / name / "cert.pem"
    write_pair(issued, key, cert)
    return {"key": str(key), "cert": str(cert)}
