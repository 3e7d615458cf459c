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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from edgeward.pki import make_ca
from printer_sync.emulator import Emulator, EmulatorThread
from tests.support.printers import PASSWORD, REBOOT_SECONDS, Chain, PrinterEnv, write_leaf
from tests.support.snmpd import AGENTS, snmpd


@pytest.fixture(scope="session")
def chain() -> Chain:
    root = make_ca("printer test root")
    return Chain(root, make_ca("printer test intermediate", issuer=root))


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
