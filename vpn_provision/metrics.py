"""The VPN tool's metrics (``edgeward_vpn_*``), declared once.

- ``edgeward_vpn_devices`` — active devices (read from the state at scrape time);
- ``edgeward_vpn_links_issued_total`` — links made by ``vpn-provision link`` (counted in
  the database, since the command runs in its own process);
- ``edgeward_vpn_downloads_total{result}`` — answers of the link server: ``ok``, ``used``
  (second use → 404), ``unknown``, ``gone`` (device removed → 404), ``expired`` (410),
  ``forged`` (403), ``corrupted`` (400).

Counts only: no device name, address or key is ever a label.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from edgeward.onetime import RESULTS

DOWNLOADS = Counter(
    "edgeward_vpn_downloads_total",
    "Answers of the one-time link server, by result.",
    ["result"],
)
for _result in RESULTS:
    DOWNLOADS.labels(_result)


class StateCollector(Collector):
    """Devices and links issued, read from the state database when scraped."""

    def __init__(self, devices: Callable[[], int], links: Callable[[], int]) -> None:
        self.devices = devices
        self.links = links

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily("edgeward_vpn_devices", "Active devices.", value=self.devices())
        yield CounterMetricFamily(
            "edgeward_vpn_links_issued", "One-time links issued.", value=self.links()
        )


_registered: list[StateCollector] = []


def register_state(devices: Callable[[], int], links: Callable[[], int]) -> None:
    """(Re)point the state collector at a state directory (one per process)."""
    for old in _registered:
        REGISTRY.unregister(old)
    _registered.clear()
    collector = StateCollector(devices, links)
    REGISTRY.register(collector)
    _registered.append(collector)
