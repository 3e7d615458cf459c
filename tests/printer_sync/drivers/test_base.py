"""The driver contract: what every registered driver must provide."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import httpx
import pytest

from printer_sync.config import PrinterConfig
from printer_sync.drivers.base import Driver, DriverStatus
from printer_sync.drivers.registry import DRIVERS, get_driver
from printer_sync.validate import Limits

STEPS = ("login", "status", "upload_chain", "import_ca", "use_ca_signed")


def test_the_contract_names_every_step_push_drives() -> None:
    assert Driver.__abstractmethods__ == frozenset(STEPS)
    for step in STEPS:
        assert inspect.iscoroutinefunction(getattr(Driver, step)), step


@pytest.mark.parametrize("missing", STEPS)
def test_a_driver_missing_a_step_cannot_be_built(missing: str) -> None:
    async def step(self: Driver) -> None:
        return None

    partial = type("Partial", (Driver,), {s: step for s in STEPS if s != missing})
    printer = PrinterConfig(name="p", url="https://127.0.0.1:1", key=Path("k"), cert=Path("c"))
    with pytest.raises(TypeError, match=missing):
        partial(printer, httpx.AsyncClient())


@pytest.mark.parametrize("name", sorted(DRIVERS))
def test_every_registered_driver_fulfils_the_contract(name: str) -> None:
    cls = get_driver(name)
    assert issubclass(cls, Driver) and not inspect.isabstract(cls)
    assert cls.name == name  # the config's ``driver`` key names it
    assert isinstance(cls.limits, Limits) and cls.limits.slots >= 1


def test_status_is_a_frozen_value_with_an_empty_ca_store_by_default() -> None:
    st = DriverStatus(uses_ca_signed=False, has_ca_signed=True)
    assert st.ca_fingerprints == frozenset()
    with pytest.raises(dataclasses.FrozenInstanceError):
        st.uses_ca_signed = True  # type: ignore[misc]
