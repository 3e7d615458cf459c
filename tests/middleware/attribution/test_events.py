"""The event both sensors hand to the attributor: its fields in the order the sensors pass
them, immutable and slotted, and what the attributor writes of it is what dpi-report reads."""

from __future__ import annotations

import dataclasses
import json

import pytest

from middleware.attribution.attributor import Attributor
from middleware.attribution.events import CorruptionEvent
from middleware.attribution.prefix_table import ASNInfo
from middleware.report.inputs import event_of

EVENT = CorruptionEvent(1795750515.5, "edge", "dpi_signature", "203.0.113.7", "2f80012f", 5)


def test_fields_in_the_order_the_sensors_pass_them() -> None:
    names = [f.name for f in dataclasses.fields(CorruptionEvent)]
    assert names == ["time", "source", "kind", "client", "evidence_hex", "offset", "detail"]
    assert EVENT.detail == ""  # where it was found is optional


def test_an_event_is_a_frozen_value() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        EVENT.client = "198.51.100.1"  # type: ignore[misc]
    assert not hasattr(EVENT, "__dict__")  # slots: one small object per corrupted request
    assert dataclasses.replace(EVENT) == EVENT and hash(EVENT) == hash(dataclasses.replace(EVENT))
    assert dataclasses.replace(EVENT, source="asgi") != EVENT


@pytest.mark.parametrize(
    ("event", "info", "asn"),
    [
        (EVENT, ASNInfo(9506, "SINGTEL-FIBRE", "116.14.0.0/15"), 9506),
        (dataclasses.replace(EVENT, source="asgi", detail="query"), None, None),
        (dataclasses.replace(EVENT, kind="control_bytes", offset=0), None, None),
    ],
)
def test_what_the_attributor_writes_dpi_report_reads_back(
    event: CorruptionEvent, info: ASNInfo | None, asn: int | None
) -> None:
    line = json.dumps(Attributor._row(event, info))
    read = event_of(json.loads(line))
    assert read is not None
    got = (read.time, read.origin, read.kind, read.client, read.evidence_hex, read.offset, read.asn)
    e = event
    assert got == (e.time, e.source, e.kind, e.client, e.evidence_hex, e.offset, asn)
