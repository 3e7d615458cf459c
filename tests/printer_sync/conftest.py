"""Fixtures for printer_sync: a CA with an intermediate, certificate files, the Epson
emulator on a free loopback port (real TLS, short reboots), and a printers file.

    def test_x(printer_env: PrinterEnv) -> None:
        cfg = printer_env.config()                      # printers.toml for one printer
        assert main(["push", "--all", "--config", str(cfg)]) == 0

``start_emulator(**kwargs)`` starts more emulators (other firmware, longer reboots);
``PASSWORD`` is what the emulator expects and what leak tests grep for; ``agents`` is one
real snmpd per printer kind (``tests/support/snmpd.py``), started once per module.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgeward.files import atomic_write
from edgeward.pki import Issued, KeyType, issue, make_ca
from printer_sync.emulator import Emulator, EmulatorThread
from tests.support.snmpd import AGENTS, snmpd

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


@pytest.fixture(scope="session")
def chain() -> Chain:
    root = make_ca("printer test root")
    return Chain(root, make_ca("printer test intermediate", issuer=root))


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
    from printer_sync.cli import main

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


@pytest.fixture
def start_emulator(tmp_path: Path) -> Iterator[Callable[..., Emulator]]:
    """Start emulators on free ports (each on its own loop thread); stopped after the test."""
    threads: list[EmulatorThread] = []

    def start(**kwargs: Any) -> Emulator:
        kwargs.setdefault("password", PASSWORD)
        kwargs.setdefault("reboot_seconds", REBOOT_SECONDS)
        state = tmp_path / f"emulator-{len(threads)}"
        emu = Emulator(state, **kwargs)
        thread = EmulatorThread([emu]).__enter__()
        threads.append(thread)
        return emu

    yield start
    for t in threads:
        t.__exit__(None, None, None)


@pytest.fixture
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    return start_emulator()


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


@pytest.fixture
def printer_env(tmp_path: Path, emulator: Emulator, chain: Chain) -> PrinterEnv:
    password_file = tmp_path / "office.pass"
    password_file.write_text(PASSWORD + "\n")
    files = write_leaf(tmp_path / "certs", chain)
    return PrinterEnv(tmp_path, emulator, chain, files, password_file)


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """One snmpd per printer kind, started once for the module."""
    with contextlib.ExitStack() as stack:
        ports = {
            kind: stack.enter_context(snmpd(tmp_path_factory.mktemp(kind), *spec))
            for kind, spec in AGENTS.items()
        }
        yield ports
